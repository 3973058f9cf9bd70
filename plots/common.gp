# common.gp — settings every quintet figure shares. `quintet plot` writes each figure's script
# as: its variables, then this file, then plots/<suite>.gp. To use the templates by hand:
#   gnuplot -e "datafile='x.dat'; outfile='x.png'; figure='time'" plots/common.gp plots/attention_scaling.gp
# Variables (all optional here; quintet plot sets them):
#   datafile, outfile   input data and output image
#   terminal            gnuplot terminal with options, e.g. "pngcairo size 1200,750"
#   figure              which figure of the suite's template to draw
#   plot_title          title above the plot
#   n_series            number of series (data blocks, or runs for bar figures)
#   series_title[i], series_color[i], series_point[i], series_dash[i]   per series i = 1..n_series:
#                       key text, colour (variant), point type (other parameters), dash type (run)

if (!exists("terminal")) terminal = "pngcairo size 1200,750 font 'sans,11' noenhanced"
if (!exists("datafile")) datafile = 'data.dat'
if (!exists("outfile")) outfile = 'figure.png'
if (!exists("figure")) figure = ''
if (!exists("plot_title")) plot_title = datafile
if (!exists("n_series")) { stats datafile nooutput; n_series = STATS_blocks }
# Without per-series arrays: series i is titled "series i", colour i, solid line.
if (!exists("series_title")) { array series_title[n_series]; do for [i=1:n_series] { series_title[i] = sprintf('series %d', i) } }
if (!exists("series_color")) { array series_color[n_series]; do for [i=1:n_series] { series_color[i] = i } }
if (!exists("series_point")) { array series_point[n_series]; do for [i=1:n_series] { series_point[i] = i } }
if (!exists("series_dash")) { array series_dash[n_series]; do for [i=1:n_series] { series_dash[i] = 1 } }

eval sprintf("set terminal %s", terminal)
set output outfile
set title plot_title noenhanced
set datafile missing 'NaN'

# Ten distinguishable colours (matplotlib's tab10) for series_color 1..10, then they repeat.
set linetype 1 lc rgb '#1f77b4' lw 2 pt 7
set linetype 2 lc rgb '#ff7f0e' lw 2 pt 5
set linetype 3 lc rgb '#2ca02c' lw 2 pt 9
set linetype 4 lc rgb '#d62728' lw 2 pt 11
set linetype 5 lc rgb '#9467bd' lw 2 pt 13
set linetype 6 lc rgb '#8c564b' lw 2 pt 15
set linetype 7 lc rgb '#e377c2' lw 2 pt 1
set linetype 8 lc rgb '#7f7f7f' lw 2 pt 2
set linetype 9 lc rgb '#bcbd22' lw 2 pt 3
set linetype 10 lc rgb '#17becf' lw 2 pt 4
set linetype cycle 10
# Point types for series_point 1..: filled circle, square, triangle, ... then open ones.
point_of(k) = word("7 5 9 11 13 15 6 4 8 10 12 14", (k - 1) % 12 + 1) + 0

# The key sits outside the plot area, right of it, so it never covers data.
set key outside right top vertical Left reverse noenhanced samplen 3 spacing 1.1 width 1
set grid xtics ytics mxtics mytics lc rgb '#e0e0e0' lw 1, lc rgb '#f0f0f0' lw 1
set border 3
set tics nomirror out
