# peer_ratio.gp — quintet against a peer library (PyTorch, suites/peers/torch_cpu.py) per case:
# grouped bars of peer time / quintet time (> 1: quintet is faster), one panel per thread count,
# one group per case, one bar per peer path; the error bar spans the ratio of the quartiles (peer
# q1 / quintet q3 to peer q3 / quintet q1); the dashed line is parity (1). Written for the
# attention_scaling, lr_convergence and sparsity suites by harness/output/plot_data.c
# (fig_peer_ratio). The value axis starts at 0, or is logarithmic when the ratios span more than
# 20x. Data: one block per panel, in it one row per case, columns
#   label  then  ratio lo hi  for each bar   (NaN: not measured)
# Needs plots/common.gp first (quintet plot's scripts include it).

set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.95 relative
set xtics nomirror scale 0 noenhanced rotate by -25 left font ',9'
set grid noxtics nomxtics ytics mytics
set ylabel 'peer time / quintet time (median; > 1: quintet faster)' noenhanced
set format y '%g'
set ytics noenhanced

@panels_begin
set bmargin 5   # room for the slanted case labels
do for [p=1:n_panels] {
    eval panel_at(p)
    y_lo = 1e300
    y_hi = -1e300
    do for [j=1:n_series] {
        stats datafile index (p-1) using (column(3*j-1)) nooutput
        y_hi = STATS_max > y_hi ? STATS_max : y_hi
        y_lo = STATS_min < y_lo ? STATS_min : y_lo
    }
    if (y_hi > 20 * y_lo) {   # ratios over decades (a slow peer path beside a fast one): log axis
        @set_log_y
        set yrange [10**floor(log10(y_lo < 1 ? y_lo : 1)) : 10**ceil(log10(y_hi))]
    } else {
        unset logscale y
        set yrange [0 : 1.15 * (y_hi > 1 ? y_hi : 1)]
    }
    set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb '#666666' front
    plot for [j=1:n_series] datafile index (p-1) using (column(3*j-1)):(column(3*j)):(column(3*j+1)):xtic(1) \
             lc series_color[j] notitle
    unset arrow 1
}
@key_panel
set key title 'peer path / quintet (bars: ratio of medians; error bars: from the quartiles; dashed: parity)' noenhanced
set style fill solid 0.85 border -1
plot for [j=1:n_series] NaN with boxes lc series_color[j] title key_title(j)
unset multiplot
