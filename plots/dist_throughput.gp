# dist_throughput.gp — the distributed suite's figures. Data: one block per series, columns
#   x  median  q1  q3
# figure = 'busbw'          bus bandwidth (GB/s, nccl-tests' definition) vs message size, one
#                           panel per collective; a line with markers per transport (colour) and
#                           run (dash type), the bare MPI_Allreduce beside quintet's all-reduce,
#                           error bars q1-q3. Per series a thin line without markers: the suite's
#                           latency-bandwidth fit time = alpha + beta S drawn as busbw
#                           (series_fit = 1), its alpha and 1/beta written in the panel.
# figure = 'loss_vs_bytes'  training loss vs the cumulative bytes one rank sent, one line per
#                           compression scheme (colour and marker) and run (dash type).
# Needs plots/common.gp first (quintet plot's scripts include it).

set logscale x 2
set xtics noenhanced ('1 B' 1, '16 B' 16, '256 B' 256, '4 KiB' 4096, '64 KiB' 65536, '1 MiB' 1048576, \
    '16 MiB' 16777216, '256 MiB' 268435456, '4 GiB' 4294967296., '64 GiB' 68719476736.)
set mxtics 4
@set_log_y
if (figure eq 'busbw') {
    set xlabel 'message size (bytes; nccl-tests size, log scale)' noenhanced
    set ylabel 'busbw (GB/s, median, log scale)' noenhanced
    data_part = "for [i=panel_first[p]:panel_fit[p]-1] datafile index (i-1) using 1:2:3:4 with yerrorlines" . \
        " lc series_color[i] dt series_dash[i] pt point_of(series_point[i]) ps 1.0 notitle"
    fit_part = "for [i=panel_fit[p]:panel_last[p]] datafile index (i-1) using 1:2 with lines" . \
        " lc series_color[i] dt series_dash[i] lw 1 notitle"
    @panels_begin
    do for [p=1:n_panels] {
        eval panel_at(p)
        unset label
        do for [i=panel_fit[p]:panel_last[p]] {
            eval sprintf("set label %d series_title[%d] at graph 0.98, graph %g right front noenhanced font ',9' tc lt %d", \
                i - panel_fit[p] + 1, i, 0.06 + 0.07 * (panel_last[p] - i), series_color[i])
        }
        # (an empty `for` in plot still evaluates its expressions: the fits only where there are some)
        eval 'plot ' . data_part . (panel_fit[p] <= panel_last[p] ? ', ' . fit_part : '')
    }
    unset label
    @key_panel
    set key title 'path transport [parameters]; error bars: q1-q3 of repetitions' noenhanced
    plot for [i=1:n_series] NaN with linespoints lc series_color[i] dt series_dash[i] pt point_of(series_point[i]) \
             title (series_fit[i] ? '' : key_title(i)), \
         NaN with lines lc rgb 'black' lw 1 title 'thin line: alpha-beta fit time = alpha + beta S (values in each panel)'
    unset multiplot
} else {
    set xlabel 'bytes sent by one rank (cumulative, log scale)' noenhanced
    set ylabel 'training loss (median over seeds, log scale)' noenhanced
    set key title 'compression scheme [parameters]' noenhanced
    plot for [i=1:n_series] datafile index (i-1) using 1:2 with linespoints \
         lc series_color[i] dt series_dash[i] pt point_of(series_point[i]) ps 1.1 title series_title[i]
}
