# attention_scaling.gp — attention cost vs sequence length T, one line per attention variant,
# backend and shape (and per run: dash type). Data: one block per series, columns
#   T  median  q1  q3   (of time_s, or of frac_sgemm; over the case's repetitions)
# figure = 'time'        time_s vs T, log-log, the band between q1 and q3 of the repetitions
#                        around each line; each key entry carries the fitted scaling exponent
#                        ("slope": least-squares slope of log time on log T, 2 = quadratic)
#                        with its 95% confidence interval (Student t on the fit's residuals)
# figure = 'frac_sgemm'  achieved GFLOP/s as a fraction of the run's all-thread SGEMM ceiling
# Needs plots/common.gp first (quintet plot's scripts include it).

set logscale x 2
set format x '%g'
@set_log_y
set xlabel 'sequence length T (tokens, log scale)' noenhanced
if (figure eq 'frac_sgemm') {
    set ylabel 'frac_sgemm = useful GFLOP/s / SGEMM all-thread GFLOP/s (log scale)' noenhanced
    set key title 'variant backend [parameters]; band: q1-q3 of repetitions' noenhanced
} else {
    set ylabel 'time per call (s, median of repetitions, log scale)' noenhanced
    set key title 'variant backend [parameters] (slope: time ~ T^slope, 95% interval); band: q1-q3 of repetitions' noenhanced
}
set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05
set style fill transparent solid 0.15 noborder

plot for [i=1:n_series] datafile index (i-1) using 1:3:4 with filledcurves lc series_color[i] notitle, \
     for [i=1:n_series] datafile index (i-1) using 1:2 with linespoints \
     lc series_color[i] dt series_dash[i] pt point_of(series_point[i]) ps 1.1 title series_title[i]
