/* plot_data.h — the data behind `quintet plot`: reads one suite's results of one or more runs
 * from the store and writes each figure's whitespace-separated gnuplot data file
 * DIR/<stem>.dat, then describes the figure (series titles and styles) to a callback that
 * writes the gnuplot script and renders it (harness/cli/cmd_plot.c).
 *
 * Contract of a .dat file: comment lines start with '#' and say what the columns are; one block
 * per series (gnuplot `index i`, blocks separated by two blank lines) for line figures, or one
 * table with a row per bar group for bar figures (calibration). Values are medians over the
 * case's repetitions (or seeds) with quartiles q1/q3 from case_stats; NaN marks a missing value.
 * Figures per suite (see plots/<suite>.gp):
 *   calibration        ceilings: STREAM triad, SGEMM 1 thread / all threads, MPI and GPU ones
 *                      where present; one bar per run, one panel per unit (GB/s, GFLOP/s, us):
 *                      one table (data block) per panel
 *   attention_scaling, lr_convergence, sparsity, when the runs include a peer's (variants torch-*,
 *                      suites/peers/torch_cpu.py): peer_ratio (template plots/peer_ratio.gp), peer
 *                      time / quintet time per case as grouped bars, a panel per thread count, a
 *                      bar per peer path; runs paired by thread count (sparsity: against auto)
 *   attention_scaling  time: time_s vs T per variant/backend/shape with the fitted exponent
 *                      (least-squares slope of log time on log T, as the suite fits it, with its
 *                      95% confidence interval) and the q1-q3 band;
 *                      frac_sgemm: frac_sgemm vs T
 *   lr_convergence     loss-<problem>: the `loss` series, median and quartiles across seeds per step
 *   sparsity           speedup: speedup_vs_dense vs sparsity, one panel per shape M,K,N, colour
 *                      and marker per path, open markers for the second structure
 *   dist_throughput    busbw: busbw_gbps vs bytes, one panel per collective, a series per
 *                      transport (and the bare MPI_Allreduce) with the suite's alpha-beta fit as a
 *                      thin line; loss_vs_bytes: the compress cases' loss vs cumulative bytes sent
 * Tests: tests/harness/test_plot.c (`make test`). */
#ifndef QUINTET_PLOT_DATA_H
#define QUINTET_PLOT_DATA_H

#include <stdint.h>

#include "quintet/status.h"
#include "store/store.h"

#define QT_PLOT_LABEL 160

/* A run to draw: its id and its host (the label that tells platforms apart). */
typedef struct {
    int64_t id;
    char host[128]; /* platform label: "host (N cores, GPU)" */
    int threads;    /* the run's thread count (peer_ratio pairs runs by it); 0 when not recorded */
} qt_plot_run_t;

/* One series of a figure as the gnuplot script needs it. */
typedef struct {
    char title[QT_PLOT_LABEL]; /* key text: printable ASCII without quotes */
    int color;                 /* 1-based: same value = same variant (colour) */
    int point;                 /* 1-based: same value = same remaining parameters (point type) */
    int dash;                  /* 1-based: the run's index (dash type) */
    int panel;                 /* 1-based panel of a figure with panels (0 = the first) */
    int fit;                   /* 1: a fitted curve (thin line, no markers); 0: measured points */
    int no_key;                /* 1: left out of the key (an entry with the same title is there) */
} qt_plot_series_t;

#define QT_PLOT_PANELS 8

/* A figure whose data file has been written. */
typedef struct {
    const char *suite;     /* template plots/<suite>.gp */
    char stem[128];        /* file stem "<suite>-<figure>[-<qualifier>]" */
    char figure[32];       /* value of the template's `figure` variable */
    char title[256];       /* plot title */
    int n_series;
    qt_plot_series_t *series;
    int n_panels;                            /* 0 or 1: one plot; more: one panel each */
    char panel_title[QT_PLOT_PANELS][64];    /* title of panel p (0-based), printable ASCII */
} qt_plot_fig_t;

/* Called once per figure after DIR/<stem>.dat is written; returns non-zero to stop. */
typedef int (*qt_plot_fig_fn)(void *arg, const qt_plot_fig_t *fig);

/* 1 when quintet has figures for this suite. */
int qt_plot_suite_known(const char *suite);
/* The i-th suite with figures (0, 1, ...), NULL past the last. */
const char *qt_plot_suite_at(int i);
/* The suites with figures, comma-separated (for messages). */
const char *qt_plot_suite_names(void);
/* Platform label of a run into run->host: host ("?" when not recorded), cores and GPU name, and
 * run->threads; run->id must be set. */
qt_status_t qt_plot_run_host(qt_store_t *s, qt_plot_run_t *run);
/* *has = 1 when the run stored at least one statistic of the suite. */
qt_status_t qt_plot_run_has_suite(qt_store_t *s, int64_t run_id, const char *suite, int *has);
/* Write every figure of the suite for the runs into dir, calling fn after each; *n_figs counts
 * them. Fails with QT_ERR_ARG when the runs hold nothing this suite can draw, QT_ERR_IO when a
 * file cannot be written. */
qt_status_t qt_plot_data_write(qt_store_t *s, const char *suite, const qt_plot_run_t *runs, int n_runs,
                               const char *dir, qt_plot_fig_fn fn, void *arg, int *n_figs);

#endif
