# fusion_accuracy.gp — test accuracy of every fusion strategy, one panel per task: grouped bars
# (one group per strategy, one bar per backend and run), the bar the mean over seeds and the error
# bar its 95% interval (Student t on the seeds). The dashed line is chance (0.5): on the synergy
# task late fusion should sit on it and cross-attention far above. Data: one block per panel, in
# it one row per strategy, columns
#   label  then  mean lo hi  for each bar   (NaN: not run)
# Needs plots/common.gp first (quintet plot's scripts include it).

set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.95 relative
set xtics nomirror scale 0 noenhanced rotate by -25 left font ',10'
set grid noxtics nomxtics ytics mytics
set ylabel 'test accuracy (mean over seeds; error bar: 95% interval)' noenhanced
set format y '%g'
set ytics noenhanced

@panels_begin
set bmargin 4   # room for the slanted strategy names
do for [p=1:n_panels] {
    eval panel_at(p)
    set yrange [0.4 : 1.05]
    set arrow 1 from graph 0, first 0.5 to graph 1, first 0.5 nohead dt 2 lc rgb '#666666' front
    plot for [j=1:n_series] datafile index (p-1) using (column(3*j-1)):(column(3*j)):(column(3*j+1)):xtic(1) \
             lc series_color[j] notitle
    unset arrow 1
}
@key_panel
set key title 'backend (bars: mean over seeds; error bars: 95% interval; dashed: chance)' noenhanced
set style fill solid 0.85 border -1
plot for [j=1:n_series] NaN with boxes lc series_color[j] title key_title(j)
unset multiplot
