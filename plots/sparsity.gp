# sparsity.gp — speedup of each sparse path of Y = A W over dense OpenBLAS at the same shape vs
# the activation sparsity (fraction of zeros in A): one panel per shape M,K,N; in a panel one line
# per path (colour AND marker), structure (filled markers: the first structure, open: the
# second) and run (dash type). Data: one block per series, columns
#   sparsity  median  q1  q3   (speedup_vs_dense = dense time / path time)
# Above the dashed line at 1 the sparse path beats dense: where a line crosses it is the
# path's crossover sparsity. The x axis counts "nines" (-log10(1 - sparsity)) so that 0.9,
# 0.99 and 0.999 are as far apart as 0 and 0.9.
# Needs plots/common.gp first (quintet plot's scripts include it).

# x range: from 0 to half a "nine" beyond the sparsest point measured (at most 0.9999).
stats datafile using 1 nooutput
x_max = STATS_max < 0.9999 ? 1 - (1 - STATS_max) / sqrt(10) : 0.9999
set xrange [0:x_max]
set nonlinear x via -log10(1 - x) inverse 1 - 10**(-x)
set xtics ('0' 0, '0.5' 0.5, '0.9' 0.9, '0.95' 0.95, '0.99' 0.99, '0.999' 0.999, '0.9999' 0.9999)
set xlabel 'activation sparsity (axis: -log10(1 - sparsity))' noenhanced
@set_log_y
set ylabel 'speedup over dense (median, log)' noenhanced
set mxtics 1

@panels_begin
do for [p=1:n_panels] {
    eval panel_at(p)
    plot for [i=panel_first[p]:panel_last[p]] datafile index (i-1) using 1:2 with linespoints \
             lc series_color[i] dt series_dash[i] pt point_of(series_point[i]) ps 1.2 notitle, \
         1 with lines lc rgb 'black' dt 2 lw 1.5 notitle
}
unset nonlinear x
@key_panel
set key title 'path [structure]' noenhanced
plot for [i=1:n_series] NaN with linespoints lc series_color[i] dt series_dash[i] pt point_of(series_point[i]) \
         ps 1.2 title key_title(i), \
     NaN with lines lc rgb 'black' dt 2 lw 1.5 title 'crossover: as fast as dense'
unset multiplot
