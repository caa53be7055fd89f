set terminal pngcairo size 1440,760 font 'sans,9'
set output "/work/main/bench/results/2026-11-28b-vm/workers.png"
set datafile missing '?'
set style fill solid 0.8 border -1
set grid ytics lc rgb '#dddddd'
set key off
set multiplot layout 2,2 title "Throughput (top) and proxy CPU-s/GB (bottom) vs workers/nbthread" font 'sans,11'
set key outside right top font 'sans,8'
set title "iperf3-P4"
set ylabel "Gbit/s"
set xlabel 'workers'
set yrange [0:*]
set xrange [0.7:2.3]
set xtics 1
plot "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-iperf3-P4-proxy-rw.dat" using ($1+-0.120):2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-iperf3-P4-proxy-splice.dat" using ($1+-0.080):2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-iperf3-P4-proxy-auto.dat" using ($1+-0.040):2:3:4 with yerrorlines lc rgb '#9467bd' lw 2 pt 7 title "proxy-auto", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-iperf3-P4-haproxy.dat" using ($1+0.000):2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-iperf3-P4-haproxy-splice.dat" using ($1+0.040):2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-iperf3-P4-proxy-rw-busy.dat" using ($1+0.080):2:3:4 with yerrorlines lc rgb '#17becf' lw 2 pt 7 title "proxy-rw-busy", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-iperf3-P4-haproxy-busy.dat" using ($1+0.120):2:3:4 with yerrorlines lc rgb '#8c564b' lw 2 pt 7 title "haproxy-busy", 26.433484431987935 with lines dt 2 lc rgb '#888888' title 'direct'
set title "pp-1k-64c"
set ylabel "msg/s"
set xlabel 'workers'
set yrange [0:*]
set xrange [0.7:2.3]
set xtics 1
plot "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-pp-1k-64c-proxy-rw.dat" using ($1+-0.120):2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-pp-1k-64c-proxy-splice.dat" using ($1+-0.080):2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-pp-1k-64c-proxy-auto.dat" using ($1+-0.040):2:3:4 with yerrorlines lc rgb '#9467bd' lw 2 pt 7 title "proxy-auto", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-pp-1k-64c-haproxy.dat" using ($1+0.000):2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-pp-1k-64c-haproxy-splice.dat" using ($1+0.040):2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-pp-1k-64c-proxy-rw-busy.dat" using ($1+0.080):2:3:4 with yerrorlines lc rgb '#17becf' lw 2 pt 7 title "proxy-rw-busy", "/work/main/bench/results/2026-11-28b-vm/plots/workers-throughput-pp-1k-64c-haproxy-busy.dat" using ($1+0.120):2:3:4 with yerrorlines lc rgb '#8c564b' lw 2 pt 7 title "haproxy-busy", 156219.75 with lines dt 2 lc rgb '#888888' title 'direct'
set title "iperf3-P4"
set ylabel "CPU-s/GB"
set xlabel 'workers'
set yrange [0:*]
set xrange [0.7:2.3]
set xtics 1
plot "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-iperf3-P4-proxy-rw.dat" using ($1+-0.120):2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-iperf3-P4-proxy-splice.dat" using ($1+-0.080):2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-iperf3-P4-proxy-auto.dat" using ($1+-0.040):2:3:4 with yerrorlines lc rgb '#9467bd' lw 2 pt 7 title "proxy-auto", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-iperf3-P4-haproxy.dat" using ($1+0.000):2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-iperf3-P4-haproxy-splice.dat" using ($1+0.040):2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-iperf3-P4-proxy-rw-busy.dat" using ($1+0.080):2:3:4 with yerrorlines lc rgb '#17becf' lw 2 pt 7 title "proxy-rw-busy", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-iperf3-P4-haproxy-busy.dat" using ($1+0.120):2:3:4 with yerrorlines lc rgb '#8c564b' lw 2 pt 7 title "haproxy-busy"
set title "pp-1k-64c"
set ylabel "CPU-s/GB"
set xlabel 'workers'
set yrange [0:*]
set xrange [0.7:2.3]
set xtics 1
plot "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-pp-1k-64c-proxy-rw.dat" using ($1+-0.120):2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "proxy-rw", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-pp-1k-64c-proxy-splice.dat" using ($1+-0.080):2:3:4 with yerrorlines lc rgb '#2ca02c' lw 2 pt 7 title "proxy-splice", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-pp-1k-64c-proxy-auto.dat" using ($1+-0.040):2:3:4 with yerrorlines lc rgb '#9467bd' lw 2 pt 7 title "proxy-auto", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-pp-1k-64c-haproxy.dat" using ($1+0.000):2:3:4 with yerrorlines lc rgb '#ff7f0e' lw 2 pt 7 title "haproxy", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-pp-1k-64c-haproxy-splice.dat" using ($1+0.040):2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "haproxy-splice", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-pp-1k-64c-proxy-rw-busy.dat" using ($1+0.080):2:3:4 with yerrorlines lc rgb '#17becf' lw 2 pt 7 title "proxy-rw-busy", "/work/main/bench/results/2026-11-28b-vm/plots/workers-cpu-pp-1k-64c-haproxy-busy.dat" using ($1+0.120):2:3:4 with yerrorlines lc rgb '#8c564b' lw 2 pt 7 title "haproxy-busy"
unset multiplot
