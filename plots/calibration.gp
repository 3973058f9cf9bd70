# calibration.gp — the machine ceilings of each run as grouped bars: one group per ceiling
# (STREAM triad GB/s, SGEMM one thread and all threads GFLOP/s, MPI and GPU ones where
# measured), one bar per run (colour), with the value printed on the bar and the q1-q3 spread
# of the repetitions as an error bar. Data: one row per ceiling, columns
#   label  then  median q1 q3  for each run   (NaN: that run did not measure it)
# The value axis is logarithmic: GPU GFLOP/s and laptop GB/s fit on one plot.
# Needs plots/common.gp first (quintet plot's scripts include it).

set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.95 relative
set logscale y
set format y '%g'
set ylabel 'ceiling (unit under each group; median of repetitions, log scale)'
set xtics nomirror scale 0
set bmargin 5   # room for the two-line group labels
set grid noxtics nomxtics ytics mytics
set key title 'run' noenhanced
# y range: from the decade below the smallest value to a little above the largest (room for
# the printed values); bars on a log axis start at the bottom, so the bottom is a round decade.
y_lo = 1e300
y_hi = -1e300
do for [j=1:n_series] {
    stats datafile using (column(3*j-1)) nooutput
    y_lo = STATS_min < y_lo ? STATS_min : y_lo
    y_hi = STATS_max > y_hi ? STATS_max : y_hi
}
y_bottom = 10**floor(log10(y_lo))
set yrange [y_bottom : 10**(log10(y_hi) + 0.12 * (log10(y_hi) - log10(y_bottom)) + 0.05)]

# Centre of bar j (1-based) in group row r (0-based): histogram clusters sit at r, each bar
# 1/(n_series + gap) wide.
bar_x(r, j) = r + (j - 1 - (n_series - 1) / 2.0) / (n_series + 1.0)

# Printed values: three significant digits, whole numbers from 1000 up.
value_text(v) = v >= 1000 ? sprintf('%.0f', v) : sprintf('%.3g', v)

plot for [j=1:n_series] datafile using (column(3*j-1)):(column(3*j)):(column(3*j+1)):xtic(1) \
         lc series_color[j] title series_title[j], \
     for [j=1:n_series] datafile using (bar_x($0, j)):(column(3*j-1)):(value_text(column(3*j-1))) \
         with labels offset 0, 0.8 font ',9' notitle
