# sparsity.gp — speedup of each sparse path of Y = A W over dense OpenBLAS at the same shape vs
# the activation sparsity (fraction of zeros in A), one line per path (colour) and shape M,K,N,
# structure (point type), and per run (dash type). Data: one block per series, columns
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
set xtics ('0' 0, '0.5' 0.5, '0.8' 0.8, '0.9' 0.9, '0.95' 0.95, '0.99' 0.99, '0.995' 0.995, '0.999' 0.999, '0.9999' 0.9999)
set xlabel 'activation sparsity (fraction of zeros in A; axis spaced by -log10(1 - sparsity))'
set logscale y
set format y '%g'
set ylabel 'speedup over dense OpenBLAS (dense time / path time, median, log scale)'
set key title 'path [shape]' noenhanced
set mxtics 1

plot for [i=1:n_series] datafile index (i-1) using 1:2 with linespoints \
         lc series_color[i] dt series_dash[i] pt point_of(series_point[i]) ps 1.1 title series_title[i], \
     1 with lines lc rgb 'black' dt 2 lw 1.5 title 'crossover: as fast as dense'
