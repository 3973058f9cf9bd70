# lr_convergence.gp — training loss vs step on one problem, one curve per optimizer (colour)
# and per run (dash type): the median over seeds, with the band between the first and third
# quartiles across seeds. Data: one block per series, columns
#   step  median  q1  q3   (of the stored `loss` series)
# The loss axis is logarithmic: curves that reach 0 exactly stop where they do.
# Needs plots/common.gp first (quintet plot's scripts include it).

@set_log_y
set xlabel 'optimizer step' noenhanced
set ylabel 'loss (median over seeds, band: q1-q3; log scale)' noenhanced
set key title 'optimizer [parameters]' noenhanced
set style fill transparent solid 0.15 noborder

plot for [i=1:n_series] datafile index (i-1) using 1:3:4 with filledcurves lc series_color[i] notitle, \
     for [i=1:n_series] datafile index (i-1) using 1:2 with lines lc series_color[i] dt series_dash[i] lw 2 \
         title series_title[i]
