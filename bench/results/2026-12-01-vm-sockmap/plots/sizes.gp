set terminal pngcairo size 1000,1000 font 'sans,9'
set output "/work/main/bench/results/2026-12-01-vm-sockmap/sizes.png"
set datafile missing '?'
set style fill solid 0.8 border -1
set grid ytics lc rgb '#dddddd'
set key off
set multiplot layout 3,1 title "Size sweep: throughput, proxy CPU-s/GB, machine CPU-s/GB vs size ceiling (median, bars min–max; dashed: the path's default)" font 'sans,11'
set key outside right top font 'sans,8'
set logscale x 2
set title "iperf3-P1"
set ylabel "Gbit/s"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [170.66666666666666:384.0]
set xtics ('256' 256)
plot "/work/main/bench/results/2026-12-01-vm-sockmap/plots/sizes-throughput-iperf3-P1-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 20.032552764115575 with lines dt 2 lc rgb '#2ca02c' notitle
set title "iperf3-P1"
set ylabel "proxy CPU-s/GB"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [170.66666666666666:384.0]
set xtics ('256' 256)
plot "/work/main/bench/results/2026-12-01-vm-sockmap/plots/sizes-cpu-iperf3-P1-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 0.20989851722526157 with lines dt 2 lc rgb '#2ca02c' notitle
set title "iperf3-P1"
set ylabel "machine CPU-s/GB"
set xlabel 'size ceiling, KiB'
set yrange [0:*]
set xrange [170.66666666666666:384.0]
set xtics ('256' 256)
plot "/work/main/bench/results/2026-12-01-vm-sockmap/plots/sizes-machine_cpu-iperf3-P1-proxy-splice.dat" using 1:2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", 0.616581605808692 with lines dt 2 lc rgb '#2ca02c' notitle
unset multiplot
