# calibration.gp — the machine ceilings of each run as grouped bars, one panel per unit:
# bandwidth (GB/s: STREAM triad, MPI 4 MiB ping-pong, GPU copy), compute (GFLOP/s: SGEMM one
# thread and all threads, GPU SGEMM) and latency (µs: MPI 8-byte half round trip), where measured.
# One bar per run (colour) with its median printed on it; the error bar spans q1-q3 of the
# repetitions. Data: one block per panel, in it one row per ceiling, columns
#   label  then  median q1 q3  for each run   (NaN: that run did not measure it)
# A panel's value axis starts at 0, or is logarithmic when its values span more than 20x (a GPU
# beside a CPU).
# Needs plots/common.gp first (quintet plot's scripts include it).

set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.95 relative
set xtics nomirror scale 0 noenhanced
set grid noxtics nomxtics ytics mytics
set ylabel 'median of repetitions; error bar: q1-q3' noenhanced

# Centre of bar j (1-based) in group row r (0-based): histogram clusters sit at r, each bar
# 1/(n_series + gap) wide.
bar_x(r, j) = r + (j - 1 - (n_series - 1) / 2.0) / (n_series + 1.0)
# Printed values: three significant digits, whole numbers from 1000 up.
value_text(v) = v >= 1000 ? sprintf('%.0f', v) : sprintf('%.3g', v)

@panels_begin
set bmargin 4   # room for the two-line group labels
do for [p=1:n_panels] {
    eval panel_at(p)
    set autoscale y
    unset logscale y
    y_lo = 1e300
    y_hi = -1e300
    do for [j=1:n_series] {
        stats datafile index (p-1) using (column(3*j+1)) nooutput
        y_hi = STATS_max > y_hi ? STATS_max : y_hi
        stats datafile index (p-1) using (column(3*j)) nooutput
        y_lo = STATS_min < y_lo ? STATS_min : y_lo
    }
    if (y_hi > 20 * y_lo) {
        @set_log_y
        y_bottom = 10**floor(log10(y_lo))
        set yrange [y_bottom : 10**(log10(y_hi) + 0.12 * (log10(y_hi) - log10(y_bottom)) + 0.05)]
    } else {
        unset logscale y
        set format y '%g'
        set ytics noenhanced
        set mytics
        set yrange [0 : 1.15 * y_hi]
    }
    plot for [j=1:n_series] datafile index (p-1) using (column(3*j-1)):(column(3*j)):(column(3*j+1)):xtic(1) \
             lc series_color[j] notitle, \
         for [j=1:n_series] datafile index (p-1) using (bar_x($0, j)):(column(3*j-1)):(value_text(column(3*j-1))) \
             with labels offset 0, 0.8 font ',9' noenhanced notitle
}
@key_panel
set key title 'run (bars: median; error bars: q1-q3 of repetitions)' noenhanced
set style fill solid 0.85 border -1
plot for [j=1:n_series] NaN with boxes lc series_color[j] title key_title(j)
unset multiplot
