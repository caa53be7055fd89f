set terminal pngcairo size 1440,1000 font 'sans,9'
set output "bench/results/2026-12-01-vm/sizes.png"
set datafile missing '?'
set style fill solid 0.8 border -1
set grid ytics lc rgb '#dddddd'
set key off
set multiplot layout 3,2 title "Size sweep: throughput, proxy CPU-s/GB, machine CPU-s/GB vs size ceiling (median, bars min–max; dashed: the path's default)" font 'sans,11'
set key outside right top font 'sans,8'
set logscale x 2
set title "iperf3-P1"
set ylabel "Gbit/s"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [10.666666666666666:1536.0]
set xtics ('16' 16, '64' 64, '256' 256, '1024' 1024)
plot "bench/results/2026-12-01-vm/plots/sizes-throughput-iperf3-P1-proxy-rw.dat" using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", 24.678086889287343 with lines dt 2 lc rgb '#1f77b4' notitle, "bench/results/2026-12-01-vm/plots/sizes-throughput-iperf3-P1-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 21.223185240598852 with lines dt 2 lc rgb '#2ca02c' notitle, "bench/results/2026-12-01-vm/plots/sizes-throughput-iperf3-P1-haproxy.dat" using 1:2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", 14.443408867492451 with lines dt 2 lc rgb '#ff7f0e' notitle, "bench/results/2026-12-01-vm/plots/sizes-throughput-iperf3-P1-haproxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", 15.290478423744489 with lines dt 2 lc rgb '#d62728' notitle
set title "pp-1k-1c"
set ylabel "msg/s"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [10.666666666666666:1536.0]
set xtics ('16' 16, '64' 64, '256' 256, '1024' 1024)
plot "bench/results/2026-12-01-vm/plots/sizes-throughput-pp-1k-1c-proxy-rw.dat" using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", 14957.75 with lines dt 2 lc rgb '#1f77b4' notitle, "bench/results/2026-12-01-vm/plots/sizes-throughput-pp-1k-1c-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 14866.5 with lines dt 2 lc rgb '#2ca02c' notitle, "bench/results/2026-12-01-vm/plots/sizes-throughput-pp-1k-1c-haproxy.dat" using 1:2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", 14539.0 with lines dt 2 lc rgb '#ff7f0e' notitle, "bench/results/2026-12-01-vm/plots/sizes-throughput-pp-1k-1c-haproxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", 12484.5 with lines dt 2 lc rgb '#d62728' notitle
set title "iperf3-P1"
set ylabel "proxy CPU-s/GB"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [10.666666666666666:1536.0]
set xtics ('16' 16, '64' 64, '256' 256, '1024' 1024)
plot "bench/results/2026-12-01-vm/plots/sizes-cpu-iperf3-P1-proxy-rw.dat" using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", 0.20135316430604713 with lines dt 2 lc rgb '#1f77b4' notitle, "bench/results/2026-12-01-vm/plots/sizes-cpu-iperf3-P1-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 0.19294691632936617 with lines dt 2 lc rgb '#2ca02c' notitle, "bench/results/2026-12-01-vm/plots/sizes-cpu-iperf3-P1-haproxy.dat" using 1:2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", 0.5256648367786352 with lines dt 2 lc rgb '#ff7f0e' notitle, "bench/results/2026-12-01-vm/plots/sizes-cpu-iperf3-P1-haproxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", 0.45125717310006874 with lines dt 2 lc rgb '#d62728' notitle
set title "pp-1k-1c"
set ylabel "proxy CPU-s/GB"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [10.666666666666666:1536.0]
set xtics ('16' 16, '64' 64, '256' 256, '1024' 1024)
plot "bench/results/2026-12-01-vm/plots/sizes-cpu-pp-1k-1c-proxy-rw.dat" using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", 28.948367328391637 with lines dt 2 lc rgb '#1f77b4' notitle, "bench/results/2026-12-01-vm/plots/sizes-cpu-pp-1k-1c-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 30.4401501081634 with lines dt 2 lc rgb '#2ca02c' notitle, "bench/results/2026-12-01-vm/plots/sizes-cpu-pp-1k-1c-haproxy.dat" using 1:2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", 32.576711775225256 with lines dt 2 lc rgb '#ff7f0e' notitle, "bench/results/2026-12-01-vm/plots/sizes-cpu-pp-1k-1c-haproxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", 39.110997637069964 with lines dt 2 lc rgb '#d62728' notitle
set title "iperf3-P1"
set ylabel "machine CPU-s/GB"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [10.666666666666666:1536.0]
set xtics ('16' 16, '64' 64, '256' 256, '1024' 1024)
plot "bench/results/2026-12-01-vm/plots/sizes-machine_cpu-iperf3-P1-proxy-rw.dat" using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", 0.5226141690041336 with lines dt 2 lc rgb '#1f77b4' notitle, "bench/results/2026-12-01-vm/plots/sizes-machine_cpu-iperf3-P1-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 0.6114262397789725 with lines dt 2 lc rgb '#2ca02c' notitle, "bench/results/2026-12-01-vm/plots/sizes-machine_cpu-iperf3-P1-haproxy.dat" using 1:2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", 0.7633858776148332 with lines dt 2 lc rgb '#ff7f0e' notitle, "bench/results/2026-12-01-vm/plots/sizes-machine_cpu-iperf3-P1-haproxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", 0.7167643005287139 with lines dt 2 lc rgb '#d62728' notitle
set title "pp-1k-1c"
set ylabel "machine CPU-s/GB"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [10.666666666666666:1536.0]
set xtics ('16' 16, '64' 64, '256' 256, '1024' 1024)
plot "bench/results/2026-12-01-vm/plots/sizes-machine_cpu-pp-1k-1c-proxy-rw.dat" using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", 42.510991641998956 with lines dt 2 lc rgb '#1f77b4' notitle, "bench/results/2026-12-01-vm/plots/sizes-machine_cpu-pp-1k-1c-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 44.216507076737315 with lines dt 2 lc rgb '#2ca02c' notitle, "bench/results/2026-12-01-vm/plots/sizes-machine_cpu-pp-1k-1c-haproxy.dat" using 1:2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", 47.17528091854238 with lines dt 2 lc rgb '#ff7f0e' notitle, "bench/results/2026-12-01-vm/plots/sizes-machine_cpu-pp-1k-1c-haproxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", 52.6042918218591 with lines dt 2 lc rgb '#d62728' notitle
unset multiplot
