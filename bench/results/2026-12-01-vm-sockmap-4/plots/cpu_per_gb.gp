set terminal pngcairo size 1440,700 font 'sans,9'
set output "/work/main/bench/results/2026-12-01-vm-sockmap-4/cpu_per_gb.png"
set datafile missing '?'
set style fill solid 0.8 border -1
set grid ytics lc rgb '#dddddd'
set key off
set multiplot layout 2,3 title "Proxy CPU seconds per GB moved one way (median; dark = system, light = user; bars: min–max of total)" font 'sans,11'
set title "iperf3-P1"
set ylabel 'CPU-s/GB'
set yrange [0:*]
set boxwidth 0.7
set xtics rotate by -25 nomirror
plot "/work/main/bench/results/2026-12-01-vm-sockmap-4/plots/cpu-iperf3-P1.dat" using 0:2:6:xtic(1) with boxes lc rgb variable fs transparent solid 0.35, '' using 0:5:6 with boxes lc rgb variable fs solid 0.9, '' using 0:2:3:4 with yerrorbars lc rgb 'black' pt -1
set title "pp-1k-1c"
set ylabel 'CPU-s/GB'
set yrange [0:*]
set boxwidth 0.7
set xtics rotate by -25 nomirror
plot "/work/main/bench/results/2026-12-01-vm-sockmap-4/plots/cpu-pp-1k-1c.dat" using 0:2:6:xtic(1) with boxes lc rgb variable fs transparent solid 0.35, '' using 0:5:6 with boxes lc rgb variable fs solid 0.9, '' using 0:2:3:4 with yerrorbars lc rgb 'black' pt -1
set title "pp-1k-64c"
set ylabel 'CPU-s/GB'
set yrange [0:*]
set boxwidth 0.7
set xtics rotate by -25 nomirror
plot "/work/main/bench/results/2026-12-01-vm-sockmap-4/plots/cpu-pp-1k-64c.dat" using 0:2:6:xtic(1) with boxes lc rgb variable fs transparent solid 0.35, '' using 0:5:6 with boxes lc rgb variable fs solid 0.9, '' using 0:2:3:4 with yerrorbars lc rgb 'black' pt -1
set title "curl-256m"
set ylabel 'CPU-s/GB'
set yrange [0:*]
set boxwidth 0.7
set xtics rotate by -25 nomirror
plot "/work/main/bench/results/2026-12-01-vm-sockmap-4/plots/cpu-curl-256m.dat" using 0:2:6:xtic(1) with boxes lc rgb variable fs transparent solid 0.35, '' using 0:5:6 with boxes lc rgb variable fs solid 0.9, '' using 0:2:3:4 with yerrorbars lc rgb 'black' pt -1
unset multiplot
