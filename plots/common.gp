# common.gp — settings every quintet figure shares. `quintet plot` writes each figure's script
# as: its variables, then this file, then plots/<suite>.gp. To use the templates by hand:
#   gnuplot -e "datafile='x.dat'; outfile='x.png'; figure='time'" plots/common.gp plots/attention_scaling.gp
# Variables (all optional here; quintet plot sets them):
#   datafile, outfile   input data and output image
#   terminal            gnuplot terminal with options but its size, e.g. "pngcairo font 'sans,11'"
#   canvas_w, canvas_h, canvas_unit   size of the plot without its key ('in' for pdf, '' pixels)
#   key_line, char_w    height of a key row and width of a character, in canvas units
#   figure              which figure of the suite's template to draw
#   plot_title          title above the plot
#   n_series            number of series (data blocks, or runs for bar figures)
#   series_title[i], series_color[i], series_point[i], series_dash[i]   per series i = 1..n_series:
#                       key text, colour (variant), point type (other parameters), dash type (run)
#   series_panel[i], series_fit[i], series_no_key[i]   panel (1-based; 0 = 1), 1 for a fitted
#                       curve (thin line, no markers), 1 to leave it out of the key (duplicate title)
#   n_panels, panel_title[p]   figures with panels (multiplot; see panels_begin below)
#
# The key goes below the plot, in as many columns as fit the width; the canvas grows by the
# key's rows (key_h), so the plot keeps its size whatever the number of series or runs.
# Log axes: major tics at powers of ten labelled 10^n (log_format), minor tics unlabelled;
# powers-of-two axes (T, bytes) keep their own labels.

if (!exists("terminal")) terminal = "pngcairo font 'sans,11' noenhanced"
if (!exists("canvas_w")) { canvas_w = 1200; canvas_h = 750; canvas_unit = ''; key_line = 19; char_w = 7.2 }
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
if (!exists("series_panel")) { array series_panel[n_series]; do for [i=1:n_series] { series_panel[i] = 1 } }
if (!exists("series_fit")) { array series_fit[n_series]; do for [i=1:n_series] { series_fit[i] = 0 } }
if (!exists("series_no_key")) { array series_no_key[n_series]; do for [i=1:n_series] { series_no_key[i] = 0 } }
if (!exists("n_panels")) { n_panels = 1; array panel_title[1] = [''] }
do for [i=1:n_series] { if (series_panel[i] < 1) { series_panel[i] = 1 } }

# Key geometry: columns as wide as the longest entry (plus the sample), rows for the entries
# listed, one more for the key title; the canvas grows by key_h below the plot.
key_len = 10
key_n = 0
do for [i=1:n_series] { if (!series_no_key[i]) { key_n = key_n + 1; key_len = strlen(series_title[i]) > key_len ? strlen(series_title[i]) : key_len } }
key_cols = floor(canvas_w / (char_w * (key_len + 9)))
key_cols = key_cols < 1 ? 1 : (key_cols > key_n ? (key_n > 0 ? key_n : 1) : key_cols)
key_rows = ceil(1.0 * key_n / key_cols)
if (!exists("key_extra")) key_extra = 0   # templates add entries of their own (e.g. a reference line)
key_h = (key_rows + key_extra + 2.5) * key_line
canvas_total = canvas_h + key_h
key_frac = key_h / canvas_total      # the key's share of the canvas height (panels use it)

eval sprintf("set terminal %s size %g%s,%g%s", terminal, canvas_w, canvas_unit, canvas_total, canvas_unit)
set termoption enhanced   # for the 10^n tic labels only: every text below says noenhanced
set output outfile
set title plot_title noenhanced
set datafile missing 'NaN'
set xtics noenhanced
set ytics noenhanced
log_format = '10^{%L}'
# Log value axis y (or x): decades labelled 10^n, minor tics between them unlabelled.
set_log_y = "set logscale y 10; set format y log_format; set ytics enhanced; set mytics 10"
set_log_x = "set logscale x 10; set format x log_format; set xtics enhanced; set mxtics 10"

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

# The key sits below the plot area, so it never covers data nor narrows the plot.
eval sprintf("set key below center horizontal Left reverse noenhanced samplen 3 spacing 1.0 width 1 maxcols %d", key_cols)

# Figures with panels: panels_begin, then per panel p `eval panel_at(p)` and a plot without
# key entries, then key_panel: an empty plot in the key's strip whose key lists every series
# once (plot for [i=1:n_series] NaN with the series' style, title key_title(i)).
# A panel's series are adjacent (quintet plot orders them so): panel p draws
# series panel_first[p] .. panel_last[p].
array panel_first[n_panels]
array panel_last[n_panels]
do for [p=1:n_panels] { panel_first[p] = n_series + 1; panel_last[p] = 0 }
do for [i=1:n_series] { p = series_panel[i]; if (p <= n_panels) { panel_first[p] = i < panel_first[p] ? i : panel_first[p]; panel_last[p] = i } }
# ... the fitted curves among them last: panel_fit[p] is the first fit (panel_last[p] + 1: none).
array panel_fit[n_panels]
do for [p=1:n_panels] { panel_fit[p] = panel_last[p] + 1 }
do for [i=n_series:1:-1] { p = series_panel[i]; if (p <= n_panels && series_fit[i]) { panel_fit[p] = i } }
panel_cols = n_panels <= 3 ? n_panels : (n_panels == 4 ? 2 : 3)
panel_rows = ceil(1.0 * n_panels / panel_cols)
panel_top = 0.95   # below the figure's title
panel_w = 1.0 / panel_cols
panel_h = (panel_top - key_frac) / panel_rows
panel_at(p) = sprintf("set origin %g,%g; set size %g,%g; set title panel_title[%d] noenhanced", \
    ((p - 1) % panel_cols) * panel_w, key_frac + (panel_rows - 1 - floor((p - 1) / panel_cols)) * panel_h, \
    panel_w, panel_h, p)
panels_begin = "set multiplot title plot_title noenhanced; unset key; set bmargin; set tmargin 2"
key_panel = "set origin 0,0; set size 1,key_frac; unset title; unset border; unset tics; unset xlabel; unset ylabel; unset grid; unset logscale; set xrange [0:1]; set yrange [0:1]; set tmargin 0; set bmargin 0; set lmargin 0; set rmargin 0; set key at screen 0.5, screen key_frac - 0.2 * key_line / canvas_total center top horizontal"
key_title(i) = series_no_key[i] ? '' : series_title[i]
set grid xtics ytics mxtics mytics lc rgb '#e0e0e0' lw 1, lc rgb '#f0f0f0' lw 1
set border 3
set tics nomirror out
