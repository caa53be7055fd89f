set terminal pngcairo size 960,370 font 'sans,9'
set output "/work/main/bench/results/2026-12-01-vm-sockmap-4/latency.png"
set datafile missing '?'
set style fill solid 0.8 border -1
set grid ytics lc rgb '#dddddd'
set key off
set multiplot layout 1,2 title "Round-trip latency percentiles, µs (median over reps; log scale): p50 / p99 / p99.9" font 'sans,11'
set key top left font 'sans,8'
set title "pp-1k-1c"
set ylabel 'µs'
set logscale y
set yrange [*:*]
set boxwidth 0.25
set xtics rotate by -25 nomirror
set xrange [-0.6:*]
plot "/work/main/bench/results/2026-12-01-vm-sockmap-4/plots/lat-pp-1k-1c.dat" using ($0-0.27):2:xtic(1) with boxes lc rgb '#4c72b0' title 'p50', '' using ($0):3 with boxes lc rgb '#dd8452' title 'p99', '' using ($0+0.27):4 with boxes lc rgb '#c44e52' title 'p99.9'
unset logscale y
set xrange [*:*]
set title "pp-1k-64c"
set ylabel 'µs'
set logscale y
set yrange [*:*]
set boxwidth 0.25
set xtics rotate by -25 nomirror
set xrange [-0.6:*]
plot "/work/main/bench/results/2026-12-01-vm-sockmap-4/plots/lat-pp-1k-64c.dat" using ($0-0.27):2:xtic(1) with boxes lc rgb '#4c72b0' title 'p50', '' using ($0):3 with boxes lc rgb '#dd8452' title 'p99', '' using ($0+0.27):4 with boxes lc rgb '#c44e52' title 'p99.9'
unset logscale y
set xrange [*:*]
unset multiplot
