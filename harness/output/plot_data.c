/* plot_data.c — figure data for `quintet plot` (contract in plot_data.h).
 *
 * Every figure is built the same way: the suite's statistics rows of each run are read with
 * qt_store_foreach_stat (prepared statements in store.c), the rows a figure draws are grouped
 * into series keyed by (run, main, rest) — main decides the colour (variant/backend, path,
 * optimizer), rest the point type (the other parameters but the x one) and the run the dash
 * type — and each series' points are sorted by x and written as one gnuplot data block. A key
 * text names main, the parameters of rest that differ between series of the same main, and,
 * with several runs, the run's host and id, so two platforms land on one plot.
 * Learning curves come from the series table (qt_store_foreach_point): per step the median and
 * quartiles across seeds (stats.h, type-7 quantiles). Run by `quintet plot`; tested by
 * tests/harness/test_plot.c. */
#include "output/plot_data.h"
#include "output/outfile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/params.h"
#include "analysis/stats.h"
#include "quintet/dist.h"

/* ---- statistics rows of one suite ------------------------------------------------------ */

typedef struct {
    int run; /* index into the runs being drawn */
    int64_t case_id;
    char *name, *variant, *params, *metric;
    double median, q1, q3;
    int n;              /* samples (repetitions or seeds) */
    double mean, stddev; /* of the samples */
} row_t;

typedef struct {
    row_t *v;
    int n, cap, run, oom;
    const char *suite;
} rows_t;

/* strdup that tolerates NULL (gives ""). */
static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

/* The growing array v (*cap elements, n used) with room for one more: v itself, or v moved by
 * realloc; NULL when out of memory (v is then still valid and unchanged). */
static void *grow(void *v, int *cap, int n, size_t elem)
{
    if (n < *cap) return v;
    int c = *cap ? 2 * *cap : 64;
    void *p = realloc(v, elem * (size_t)c);
    if (p) *cap = c;
    return p;
}

/* foreach_stat callback: keep the rows of the wanted suite whose case finished ok. */
static int rows_add(void *arg, const qt_stat_row_t *r)
{
    rows_t *rs = arg;
    if (strcmp(r->suite, rs->suite) || strcmp(r->status, "ok")) return 0;
    row_t *v = grow(rs->v, &rs->cap, rs->n, sizeof *v);
    if (!v) return rs->oom = 1;
    rs->v = v;
    row_t *x = &rs->v[rs->n];
    *x = (row_t){rs->run, r->case_id, dup_str(r->name), dup_str(r->variant), dup_str(r->params), dup_str(r->metric),
                 r->median, r->q1, r->q3, r->n, r->mean, r->stddev};
    rs->n++;
    if (!x->name || !x->variant || !x->params || !x->metric) return rs->oom = 1;
    return 0;
}

/* Free the rows. */
static void rows_free(rows_t *rs)
{
    for (int i = 0; i < rs->n; i++) {
        free(rs->v[i].name);
        free(rs->v[i].variant);
        free(rs->v[i].params);
        free(rs->v[i].metric);
    }
    free(rs->v);
    *rs = (rows_t){0};
}

/* Load the statistics rows of `suite` for every run. */
static qt_status_t rows_load(qt_store_t *s, const char *suite, const qt_plot_run_t *runs, int n_runs, rows_t *rs)
{
    *rs = (rows_t){.suite = suite};
    for (int i = 0; i < n_runs; i++) {
        rs->run = i;
        qt_status_t st = qt_store_foreach_stat(s, runs[i].id, rows_add, rs);
        if (st == QT_OK && rs->oom) st = qt_fail(QT_ERR_NOMEM, "plot: reading run %lld", (long long)runs[i].id);
        if (st != QT_OK) {
            rows_free(rs);
            return st;
        }
    }
    return QT_OK;
}

/* ---- parameters ------------------------------------------------------------------------ */

/* Value of key in canonical params text into buf ("" when absent or unparsable). */
static const char *param_get(const char *params, const char *key, char *buf, size_t cap)
{
    qt_params_t p;
    buf[0] = '\0';
    if (qt_params_parse(params, &p) == QT_OK) snprintf(buf, cap, "%s", qt_params_str(&p, key, ""));
    return buf;
}

/* Canonical params text without the keys in drop (NULL-terminated) into buf. */
static const char *param_drop(const char *params, const char *const *drop, char *buf, size_t cap)
{
    qt_params_t p, q = {0};
    buf[0] = '\0';
    if (qt_params_parse(params, &p) != QT_OK) return buf;
    for (int i = 0; i < p.n; i++) {
        int keep = 1;
        for (int k = 0; drop[k]; k++)
            if (!strcmp(p.kv[i].key, drop[k])) keep = 0;
        if (keep) qt_params_set_str(&q, p.kv[i].key, p.kv[i].val);
    }
    qt_params_format(&q, buf, cap);
    return buf;
}

/* Copy text into a gnuplot-safe label: printable ASCII only, no quotes or backslashes. */
static void safe_copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; *src && n + 1 < cap; src++) {
        unsigned char c = (unsigned char)*src;
        dst[n++] = (c >= 32 && c < 127 && c != '\'' && c != '"' && c != '\\' && c != '`' && c != '@' && c != '$') ? (char)c
                                                                                                                      : '_';
    }
    dst[n] = '\0';
}

/* ---- series ---------------------------------------------------------------------------- */

typedef struct {
    double x, y, lo, hi;
} point_t;

typedef struct {
    int run;
    char *main, *rest; /* colour key and point key (canonical params text) */
    point_t *p;
    int n, cap;
    double slope; /* fitted log-log slope, NaN when not fitted */
    int color, point;
    char *panel;     /* panel key ("" in a figure without panels) */
    int panel_idx;   /* 1-based, by first appearance */
    int fit;         /* a fitted curve, not measurements */
    double slope_ci; /* half-width of the slope's 95% interval, NaN when unknown */
    char note[96];   /* appended to the key text ("" for none) */
} series_t;

typedef struct {
    series_t *v;
    int n, cap;
} sset_t;

/* Free one series' strings and points. */
static void series_free(series_t *x)
{
    free(x->main);
    free(x->rest);
    free(x->panel);
    free(x->p);
}

/* Free a series set. */
static void sset_free(sset_t *ss)
{
    for (int i = 0; i < ss->n; i++) series_free(&ss->v[i]);
    free(ss->v);
    *ss = (sset_t){0};
}

/* The series (panel, run, main, rest), created when new; NULL when out of memory. */
static series_t *sset_get_in(sset_t *ss, const char *panel, int run, const char *main, const char *rest)
{
    for (int i = 0; i < ss->n; i++)
        if (ss->v[i].run == run && !strcmp(ss->v[i].main, main) && !strcmp(ss->v[i].rest, rest) &&
            !strcmp(ss->v[i].panel, panel))
            return &ss->v[i];
    series_t *v = grow(ss->v, &ss->cap, ss->n, sizeof *v);
    if (!v) return NULL;
    ss->v = v;
    series_t *x = &ss->v[ss->n++];
    *x = (series_t){.run = run, .main = strdup(main), .rest = strdup(rest), .slope = NAN, .panel = strdup(panel),
                    .slope_ci = NAN};
    return x->main && x->rest && x->panel ? x : NULL;
}

/* The series (run, main, rest) of a figure without panels. */
static series_t *sset_get(sset_t *ss, int run, const char *main, const char *rest)
{
    return sset_get_in(ss, "", run, main, rest);
}

/* Append a point; 0 when out of memory. */
static int series_add(series_t *x, point_t pt)
{
    point_t *p = grow(x->p, &x->cap, x->n, sizeof *p);
    if (!p) return 0;
    x->p = p;
    x->p[x->n++] = pt;
    return 1;
}

/* qsort order of points: by x. */
static int point_cmp(const void *a, const void *b)
{
    double x = ((const point_t *)a)->x, y = ((const point_t *)b)->x;
    return (x > y) - (x < y);
}

/* qsort order of series: by panel (a panel's series adjacent), colour, point type, then run. */
static int series_cmp(const void *a, const void *b)
{
    const series_t *x = a, *y = b;
    if (x->panel_idx != y->panel_idx) return x->panel_idx - y->panel_idx;
    if (x->fit != y->fit) return x->fit - y->fit; /* a panel's fits after its measurements */
    if (x->color != y->color) return x->color - y->color;
    if (x->point != y->point) return x->point - y->point;
    return x->run - y->run;
}

/* The main (which = 0), rest (1) or panel (2) text of series i. */
static const char *series_key(const sset_t *ss, int i, int which)
{
    return which == 0 ? ss->v[i].main : which == 1 ? ss->v[i].rest : ss->v[i].panel;
}

/* Index (1-based) of text among the distinct main (which = 0), rest (1) or panel (2) texts of
 * the series before `upto`, or a new index after them. */
static int distinct_index(const sset_t *ss, int upto, int which)
{
    const char *text = series_key(ss, upto, which);
    int k = 0;
    for (int i = 0; i < upto; i++) {
        const char *t = series_key(ss, i, which);
        int first = 1;
        for (int j = 0; j < i; j++)
            if (!strcmp(series_key(ss, j, which), t)) first = 0;
        if (!first) continue;
        k++;
        if (!strcmp(t, text)) return k;
    }
    return k + 1;
}

/* Sort points by x, assign colours and point types, order the series for the key. */
static void sset_finish(sset_t *ss)
{
    for (int i = 0; i < ss->n; i++) {
        qsort(ss->v[i].p, (size_t)ss->v[i].n, sizeof(point_t), point_cmp);
        ss->v[i].color = distinct_index(ss, i, 0);
        ss->v[i].point = distinct_index(ss, i, 1);
        ss->v[i].panel_idx = distinct_index(ss, i, 2);
    }
    qsort(ss->v, (size_t)ss->n, sizeof(series_t), series_cmp);
}

/* Key text of series i: main, the parameters of rest that differ between series of the same main,
 * the fitted slope when there is one, and the run's host and id when several runs are drawn. */
static void series_title(const sset_t *ss, int i, const qt_plot_run_t *runs, int n_runs, char *out, size_t cap)
{
    const series_t *x = &ss->v[i];
    char text[512];
    size_t n = (size_t)snprintf(text, sizeof text, "%s", x->fit ? "fit:" : x->main); /* a fit: its note */
    qt_params_t p;
    if (!x->fit && qt_params_parse(x->rest, &p) == QT_OK) {
        for (int k = 0; k < p.n; k++) {
            int varies = 0;
            char other[QT_PARAM_VAL];
            for (int j = 0; j < ss->n && !varies; j++)
                if (!strcmp(ss->v[j].main, x->main) &&
                    strcmp(param_get(ss->v[j].rest, p.kv[k].key, other, sizeof other), p.kv[k].val))
                    varies = 1;
            if (varies && n < sizeof text)
                n += (size_t)snprintf(text + n, sizeof text - n, " %s=%s", p.kv[k].key, p.kv[k].val);
        }
    }
    if (isfinite(x->slope) && isfinite(x->slope_ci) && n < sizeof text)
        n += (size_t)snprintf(text + n, sizeof text - n, " (slope %.2f +- %.2f)", x->slope, x->slope_ci);
    else if (isfinite(x->slope) && n < sizeof text)
        n += (size_t)snprintf(text + n, sizeof text - n, " (slope %.2f)", x->slope);
    if (x->note[0] && n < sizeof text) n += (size_t)snprintf(text + n, sizeof text - n, " %s", x->note);
    if (n_runs > 1 && !x->fit && n < sizeof text) /* a fit's colour and dash say its run */
        snprintf(text + n, sizeof text - n, " - %s #%lld", runs[x->run].host, (long long)runs[x->run].id);
    safe_copy(out, cap, text);
}

/* ---- writing --------------------------------------------------------------------------- */

/* Open dir/stem.dat for writing (output/outfile.h: a regular file, whole or not at all). */
static qt_status_t dat_open(const char *dir, const char *stem, qt_outfile_t *o)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.dat", dir, stem);
    return qt_outfile_open(o, path);
}

/* How a line figure tells series apart beyond the default (colour = main, marker = rest). */
typedef struct {
    int marker_by_main; /* the marker follows main too (filled for the first rest, open for the next) */
} emit_opt_t;

/* Series' panels into the figure: one per distinct panel key (titled by it, commas as spaces),
 * none when every key is empty. */
static void fig_panels(const sset_t *ss, qt_plot_fig_t *fig)
{
    for (int i = 0; i < ss->n; i++) {
        int p = ss->v[i].panel_idx;
        if (!*ss->v[i].panel || p > QT_PLOT_PANELS) continue;
        if (p > fig->n_panels) fig->n_panels = p;
        safe_copy(fig->panel_title[p - 1], sizeof fig->panel_title[p - 1], ss->v[i].panel);
        for (char *c = fig->panel_title[p - 1]; *c; c++)
            if (*c == ',') *c = ' ';
    }
}

/* Write the series as data blocks, build the figure description and call fn. Returns QT_OK
 * without a figure when the set is empty; *stop when fn asked to stop. */
static qt_status_t emit_lines(sset_t *ss, const char *suite, const char *figure, const char *qualifier,
                              const char *title, const char *columns, const qt_plot_run_t *runs, int n_runs,
                              const char *dir, qt_plot_fig_fn fn, void *arg, int *n_figs, int *stop);

/* emit_lines with options. */
static qt_status_t emit_lines_opt(sset_t *ss, const emit_opt_t *opt, const char *suite, const char *figure,
                                  const char *qualifier, const char *title, const char *columns,
                                  const qt_plot_run_t *runs, int n_runs, const char *dir, qt_plot_fig_fn fn, void *arg,
                                  int *n_figs, int *stop)
{
    if (ss->n == 0) return QT_OK;
    sset_finish(ss);
    qt_plot_fig_t fig = {.suite = suite, .n_series = ss->n};
    char q[64];
    safe_copy(q, sizeof q, qualifier ? qualifier : "");
    for (char *c = q; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.') *c = '_';
    snprintf(fig.stem, sizeof fig.stem, "%s-%s%s%s", suite, figure, *q ? "-" : "", q);
    snprintf(fig.figure, sizeof fig.figure, "%s", figure);
    char t[256];
    if (n_runs == 1) snprintf(t, sizeof t, "%s - %s, run %lld", title, runs[0].host, (long long)runs[0].id);
    else snprintf(t, sizeof t, "%s - %d runs", title, n_runs);
    safe_copy(fig.title, sizeof fig.title, t);
    fig.series = calloc((size_t)ss->n, sizeof *fig.series);
    if (!fig.series) return qt_fail(QT_ERR_NOMEM, "plot: %s", fig.stem);
    qt_outfile_t of;
    qt_status_t st = dat_open(dir, fig.stem, &of);
    FILE *f = of.f;
    if (st != QT_OK) {
        free(fig.series);
        return st;
    }
    fprintf(f, "# %s.dat - written by quintet plot from the results database\n# %s\n", fig.stem, fig.title);
    fprintf(f, "# columns: %s\n# one block per series (gnuplot: index i), blocks separated by two blank lines\n",
            columns);
    int one_main = 1; /* a single variant: colours tell the runs apart instead */
    for (int i = 0; i < ss->n; i++) one_main &= ss->v[i].color == 1;
    fig_panels(ss, &fig);
    for (int i = 0; i < ss->n; i++) {
        qt_plot_series_t *o = &fig.series[i];
        series_title(ss, i, runs, n_runs, o->title, sizeof o->title);
        o->color = one_main ? ss->v[i].run + 1 : ss->v[i].color;
        o->point = opt->marker_by_main ? (ss->v[i].color - 1) % 6 + 1 + 6 * ((ss->v[i].point - 1) % 2) : ss->v[i].point;
        o->dash = ss->v[i].run + 1;
        o->panel = ss->v[i].panel_idx;
        o->fit = ss->v[i].fit;
        for (int j = 0; j < i; j++) o->no_key |= !strcmp(fig.series[j].title, o->title);
        fprintf(f, "%s# series %d: %s%s%s\n", i ? "\n\n" : "", i, o->title, *ss->v[i].panel ? " | panel: " : "",
                ss->v[i].panel);
        for (int k = 0; k < ss->v[i].n; k++) {
            const point_t *p = &ss->v[i].p[k];
            fprintf(f, "%.9g %.9g %.9g %.9g\n", p->x, p->y, p->lo, p->hi);
        }
    }
    st = qt_outfile_commit(&of);
    if (st == QT_OK) {
        (*n_figs)++;
        *stop = fn(arg, &fig);
    }
    free(fig.series);
    return st;
}

/* emit_lines_opt with the default options. */
static qt_status_t emit_lines(sset_t *ss, const char *suite, const char *figure, const char *qualifier,
                              const char *title, const char *columns, const qt_plot_run_t *runs, int n_runs,
                              const char *dir, qt_plot_fig_fn fn, void *arg, int *n_figs, int *stop)
{
    return emit_lines_opt(ss, &(emit_opt_t){0}, suite, figure, qualifier, title, columns, runs, n_runs, dir, fn, arg,
                          n_figs, stop);
}

/* Which rows a line figure draws and how they fall into series (collect_xy_opt). */
typedef struct {
    const char *metric, *xkey;     /* y metric, x parameter (numeric) */
    const char *const *names;      /* case names (NULL-terminated; NULL = any) */
    int by_variant;                /* main = the variant (else "name variant") */
    const char *const *main_keys;  /* parameters named in main instead of the variant (NULL: none) */
    const char *const *panel_keys; /* parameters whose values choose the panel (NULL: one plot) */
    int fit;                       /* log-log slope per series with its 95% interval */
} xy_opt_t;

/* "k=v,k=v" of the keys (NULL-terminated) present in params, into buf. */
static const char *param_pick(const char *params, const char *const *keys, char *buf, size_t cap)
{
    char v[QT_PARAM_VAL];
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; keys && keys[k] && n < cap; k++)
        if (*param_get(params, keys[k], v, sizeof v))
            n += (size_t)snprintf(buf + n, cap - n, "%s%s=%s", n ? "," : "", keys[k], v);
    return buf;
}

/* Log-log slope and its 95% interval of every series with at least 3 positive points. */
static void fit_slopes(sset_t *ss)
{
    for (int i = 0; i < ss->n; i++) {
        series_t *sr = &ss->v[i];
        double *lx = malloc(sizeof(double) * (size_t)(sr->n + 1)), *ly = malloc(sizeof(double) * (size_t)(sr->n + 1));
        size_t m = 0;
        for (int k = 0; lx && ly && k < sr->n; k++)
            if (sr->p[k].x > 0 && sr->p[k].y > 0) {
                lx[m] = log(sr->p[k].x);
                ly[m++] = log(sr->p[k].y);
            }
        if (m >= 3) { /* as the suite: at least 3 lengths */
            sr->slope = qt_linfit(lx, ly, m, NULL);
            sr->slope_ci = qt_linfit_slope_ci95(lx, ly, m);
        }
        free(lx);
        free(ly);
    }
}

/* Series of one metric against the numeric parameter xkey over the rows that have it (opt).
 * main = "name variant", the variant alone (by_variant) or the main_keys' values; rest = params
 * without xkey, main_keys and panel_keys; panel = the panel_keys' values. */
static qt_status_t collect_xy_opt(const rows_t *rs, const xy_opt_t *o, sset_t *ss)
{
    const char *drop[16] = {o->xkey};
    int nd = 1;
    for (int k = 0; o->main_keys && o->main_keys[k] && nd < 14; k++) drop[nd++] = o->main_keys[k];
    for (int k = 0; o->panel_keys && o->panel_keys[k] && nd < 15; k++) drop[nd++] = o->panel_keys[k];
    for (int i = 0; i < rs->n; i++) {
        const row_t *r = &rs->v[i];
        if (strcmp(r->metric, o->metric)) continue;
        int named = !o->names;
        for (int k = 0; o->names && o->names[k]; k++)
            if (!strcmp(r->name, o->names[k])) named = 1;
        char xv[QT_PARAM_VAL], rest[1024], main[256], panel[256], picked[200];
        if (!named || !*param_get(r->params, o->xkey, xv, sizeof xv)) continue;
        char *end;
        double x = strtod(xv, &end);
        if (*end || !isfinite(x)) continue;
        if (o->main_keys) {
            param_pick(r->params, o->main_keys, picked, sizeof picked);
            for (char *c = picked; *c; c++)
                if (*c == ',') *c = ' ';
            snprintf(main, sizeof main, "%s %s", picked, r->variant);
        } else if (o->by_variant) {
            snprintf(main, sizeof main, "%s", r->variant);
        } else {
            snprintf(main, sizeof main, "%s %s", r->name, r->variant);
        }
        param_pick(r->params, o->panel_keys, panel, sizeof panel);
        series_t *sr = sset_get_in(ss, panel, r->run, main, param_drop(r->params, drop, rest, sizeof rest));
        if (!sr || !series_add(sr, (point_t){x, r->median, r->q1, r->q3})) return qt_fail(QT_ERR_NOMEM, "plot");
    }
    if (o->fit) fit_slopes(ss);
    return QT_OK;
}

/* Series of one metric against the numeric parameter xkey over the rows that have it; cases
 * named in names (NULL-terminated; NULL = any). main = "name variant" (or the variant alone
 * when by_variant), rest = params without xkey. fit: log-log slope per series. */
static qt_status_t collect_xy(const rows_t *rs, const char *metric, const char *xkey, const char *const *names,
                              int by_variant, int fit, sset_t *ss)
{
    xy_opt_t o = {.metric = metric, .xkey = xkey, .names = names, .by_variant = by_variant, .fit = fit};
    return collect_xy_opt(rs, &o, ss);
}

/* ---- suites ---------------------------------------------------------------------------- */

typedef struct {
    qt_store_t *s;
    const char *suite, *dir;
    const qt_plot_run_t *runs;
    int n_runs;
    qt_plot_fig_fn fn;
    void *arg;
    int *n_figs, stop;
} ctx_t;

/* A grouped-bar figure (calibration, fusion): fig with n_series bar series (titles set by
 * bars_series) and its data file opened with the common header. */
static qt_status_t bars_begin(ctx_t *c, const char *stem, const char *figure, const char *title, int n_series,
                              qt_plot_fig_t *fig, qt_outfile_t *of)
{
    *fig = (qt_plot_fig_t){.suite = c->suite, .n_series = n_series};
    snprintf(fig->stem, sizeof fig->stem, "%s", stem);
    snprintf(fig->figure, sizeof fig->figure, "%s", figure);
    safe_copy(fig->title, sizeof fig->title, title);
    fig->series = calloc((size_t)n_series, sizeof *fig->series);
    if (!fig->series) return qt_fail(QT_ERR_NOMEM, "plot: %s", stem);
    qt_status_t st = dat_open(c->dir, fig->stem, of);
    if (st != QT_OK) {
        free(fig->series);
        return st;
    }
    fprintf(of->f, "# %s.dat - written by quintet plot from the results database\n# %s\n", fig->stem, fig->title);
    return QT_OK;
}

/* Bar series j: its key title, colour j+1. */
static void bars_series(qt_plot_fig_t *fig, int j, const char *title)
{
    safe_copy(fig->series[j].title, sizeof fig->series[j].title, title);
    fig->series[j].color = fig->series[j].dash = j + 1;
    fig->series[j].point = 1;
}

/* Close the data file (output/outfile.h: whole or not at all) and hand the figure over. */
static qt_status_t bars_end(ctx_t *c, qt_plot_fig_t *fig, qt_outfile_t *of)
{
    qt_status_t st = qt_outfile_commit(of);
    if (st == QT_OK) {
        (*c->n_figs)++;
        c->stop = c->fn(c->arg, fig);
    }
    free(fig->series);
    return st;
}

/* A ceiling: the row of case `name` with `param` in its params (NULL = any) and `metric`,
 * drawn in the panel of its unit. */
typedef struct {
    const char *label, *name, *param, *metric;
    int unit; /* index into units */
} ceiling_t;

static const char *const units[] = {"bandwidth (GB/s)", "compute (GFLOP/s)", "latency (\u00b5s)"};
#define N_UNITS 3

static const ceiling_t ceilings[] = {
    {"STREAM\\ntriad", "stream_triad", NULL, "stream_triad_gbps", 0},
    {"MPI 4 MiB\\nping-pong", "mpi_pingpong", NULL, "mpi_pingpong_gbps", 0},
    {"GPU\\ncopy", "gpu_copy", NULL, "gpu_copy_gbps", 0},
    {"SGEMM\\n1 thread", "sgemm", "threads=1", "sgemm_gflops", 1},
    {"SGEMM\\nall threads", "sgemm", "threads=all", "sgemm_gflops", 1},
    {"GPU SGEMM\\nFP32", "gpu_sgemm", "math=fp32", "gpu_sgemm_gflops", 1},
    {"GPU SGEMM\\nTF32", "gpu_sgemm", "math=tf32", "gpu_sgemm_gflops", 1},
    {"MPI 8 B\\nhalf round trip", "mpi_pingpong", NULL, "mpi_pingpong_us", 2},
};
#define N_CEILINGS ((int)(sizeof ceilings / sizeof ceilings[0]))

/* The row of ceiling c in run `run`, or NULL. */
static const row_t *ceiling_row(const rows_t *rs, const ceiling_t *c, int run)
{
    for (int i = 0; i < rs->n; i++) {
        const row_t *r = &rs->v[i];
        if (r->run != run || strcmp(r->name, c->name) || strcmp(r->metric, c->metric)) continue;
        if (c->param) {
            char pad[1100];
            snprintf(pad, sizeof pad, ",%s,", r->params);
            char want[64];
            snprintf(want, sizeof want, ",%s,", c->param);
            if (!strstr(pad, want)) continue;
        }
        return r;
    }
    return NULL;
}

/* calibration: one data block (panel) per unit any run measured, in it one row per ceiling,
 * columns median q1 q3 per run that measured at least one ceiling (a run of harness_loop alone
 * has none). */
static qt_status_t fig_calibration(ctx_t *c, const rows_t *rs)
{
    int used[64], n_used = 0;
    for (int j = 0; j < c->n_runs && j < 64; j++) {
        int any = 0;
        for (int k = 0; k < N_CEILINGS; k++) any |= ceiling_row(rs, &ceilings[k], j) != NULL;
        if (any) used[n_used++] = j;
        else if (c->n_runs > 1)
            fprintf(stderr, "quintet plot: note: run %lld (%s) measured no ceiling; left out of the calibration figure\n",
                    (long long)c->runs[j].id, c->runs[j].host);
    }
    if (!n_used) return QT_OK;
    qt_plot_fig_t fig;
    qt_outfile_t of;
    char t[256], h[QT_PLOT_LABEL];
    const qt_plot_run_t *r0 = &c->runs[used[0]];
    if (n_used == 1) snprintf(t, sizeof t, "Machine ceilings - %s, run %lld", r0->host, (long long)r0->id);
    else snprintf(t, sizeof t, "Machine ceilings - %d runs", n_used);
    qt_status_t st = bars_begin(c, "calibration-ceilings", "ceilings", t, n_used, &fig, &of);
    if (st != QT_OK) return st;
    FILE *f = of.f;
    fprintf(f, "# one block per unit (panel), one row per ceiling; columns: label, then median q1 q3 for each run"
               " (NaN: not measured; q1-q3: quartiles of the repetitions)\n# ceiling");
    for (int j = 0; j < n_used; j++) {
        snprintf(h, sizeof h, "%s #%lld", c->runs[used[j]].host, (long long)c->runs[used[j]].id);
        bars_series(&fig, j, h);
        fprintf(f, " | %s: median q1 q3", fig.series[j].title);
    }
    fprintf(f, "\n");
    for (int u = 0; u < N_UNITS; u++) {
        int rows = 0;
        for (int k = 0; k < N_CEILINGS; k++) {
            const row_t *r[64];
            int any = 0;
            for (int j = 0; j < n_used; j++) any |= (r[j] = ceiling_row(rs, &ceilings[k], used[j])) != NULL;
            if (!any || ceilings[k].unit != u) continue;
            if (!rows++) {
                snprintf(fig.panel_title[fig.n_panels], sizeof fig.panel_title[0], "%s", units[u]);
                fprintf(f, "%s# panel %d: %s\n", fig.n_panels ? "\n\n" : "", fig.n_panels + 1, units[u]);
                fig.n_panels++;
            }
            fprintf(f, "\"%s\"", ceilings[k].label);
            for (int j = 0; j < n_used; j++) {
                if (r[j]) fprintf(f, " %.9g %.9g %.9g", r[j]->median, r[j]->q1, r[j]->q3);
                else fprintf(f, " NaN NaN NaN");
            }
            fprintf(f, "\n");
        }
    }
    return bars_end(c, &fig, &of);
}

/* fusion_accuracy: test accuracy, mean over seeds with its 95% interval (Student t on the seeds),
 * one panel per task, one group per strategy, one bar per (run, backend); the main grid only (no
 * ablation: shared=0, normalize=1; the subset case left out). */
static qt_status_t fig_fusion(ctx_t *c, const rows_t *rs)
{
    static const char *const strategies[] = {"early", "late_avg", "late_learned", "gated", "cross", "hybrid"};
    static const char *const tasks[] = {"redundant", "unique", "synergy", "mixed"};
    enum { N_STRAT = 6, N_TASK = 4, MAX_SERIES = 16 };
    int s_run[MAX_SERIES], n_series = 0;
    const char *s_var[MAX_SERIES];
    char b1[64], b2[64], b3[64];
    /* the bars: distinct (run, backend) pairs with main-grid accuracy rows */
    for (int i = 0; i < rs->n; i++) {
        const row_t *r = &rs->v[i];
        if (strcmp(r->metric, "accuracy") || !strcmp(r->name, "subset") ||
            strcmp(param_get(r->params, "shared", b1, sizeof b1), "0") ||
            strcmp(param_get(r->params, "normalize", b2, sizeof b2), "1"))
            continue;
        int k = 0;
        while (k < n_series && (s_run[k] != r->run || strcmp(s_var[k], r->variant))) k++;
        if (k == n_series && n_series < MAX_SERIES) {
            s_run[n_series] = r->run;
            s_var[n_series++] = r->variant;
        }
    }
    if (!n_series) return QT_OK;
    qt_plot_fig_t fig;
    qt_outfile_t of;
    char h[QT_PLOT_LABEL];
    qt_status_t st = bars_begin(c, "fusion_accuracy-accuracy", "accuracy",
                                "Fusion strategies: test accuracy (mean over seeds, 95% interval), chance 0.5",
                                n_series, &fig, &of);
    if (st != QT_OK) return st;
    FILE *f = of.f;
    fprintf(f, "# one block per task (panel), one row per strategy; columns: label, then mean lo hi per bar"
               " (lo, hi: the 95%% interval of the mean over seeds, Student t; NaN: not run)\n# strategy");
    for (int j = 0; j < n_series; j++) {
        if (c->n_runs > 1) snprintf(h, sizeof h, "%s - %s #%lld", s_var[j], c->runs[s_run[j]].host,
                                    (long long)c->runs[s_run[j]].id);
        else snprintf(h, sizeof h, "%s", s_var[j]);
        bars_series(&fig, j, h);
        fprintf(f, " | %s: mean lo hi", fig.series[j].title);
    }
    fprintf(f, "\n");
    for (int t = 0; t < N_TASK && fig.n_panels < QT_PLOT_PANELS; t++) {
        int rows = 0;
        for (int k = 0; k < N_STRAT; k++) {
            const row_t *cell[MAX_SERIES] = {NULL};
            int any = 0;
            for (int i = 0; i < rs->n; i++) {
                const row_t *r = &rs->v[i];
                if (strcmp(r->metric, "accuracy") || strcmp(r->name, strategies[k]) ||
                    strcmp(param_get(r->params, "task", b1, sizeof b1), tasks[t]) ||
                    strcmp(param_get(r->params, "shared", b2, sizeof b2), "0") ||
                    strcmp(param_get(r->params, "normalize", b3, sizeof b3), "1"))
                    continue;
                for (int j = 0; j < n_series; j++)
                    if (s_run[j] == r->run && !strcmp(s_var[j], r->variant)) any = (cell[j] = r) != NULL;
            }
            if (!any) continue;
            if (!rows++) {
                snprintf(fig.panel_title[fig.n_panels], sizeof fig.panel_title[0], "task: %s", tasks[t]);
                fprintf(f, "%s# panel %d: %s\n", fig.n_panels ? "\n\n" : "", fig.n_panels + 1, tasks[t]);
                fig.n_panels++;
            }
            fprintf(f, "\"%s\"", strategies[k]);
            for (int j = 0; j < n_series; j++) {
                const row_t *r = cell[j];
                double hw = r && r->n > 1 ? qt_student_t975(r->n - 1) * r->stddev / sqrt((double)r->n) : 0.0;
                if (r) fprintf(f, " %.9g %.9g %.9g", r->mean, r->mean - hw, r->mean + hw);
                else fprintf(f, " NaN NaN NaN");
            }
            fprintf(f, "\n");
        }
    }
    return bars_end(c, &fig, &of);
}

/* A peer's variants (suites/peers/: imported Google Benchmark JSON) start with this. */
#define PEER_PREFIX "torch-"

/* 1 for a peer's time row. */
static int is_peer_time(const row_t *r)
{
    return !strcmp(r->metric, "time_s") && !strncmp(r->variant, PEER_PREFIX, strlen(PEER_PREFIX));
}

/* The quintet row a peer row p is measured against: metric time_s, not a peer, case `name`
 * (NULL: p's), the same params, in a run with p's thread count; NULL when none. */
static const row_t *peer_base(ctx_t *c, const rows_t *rs, const row_t *p, const char *name)
{
    for (int i = 0; i < rs->n; i++) {
        const row_t *q = &rs->v[i];
        if (!strcmp(q->metric, "time_s") && strncmp(q->variant, PEER_PREFIX, strlen(PEER_PREFIX)) &&
            !strcmp(q->name, name ? name : p->name) && !strcmp(q->params, p->params) &&
            c->runs[q->run].threads == c->runs[p->run].threads && q->median > 0)
            return q;
    }
    return NULL;
}

/* Rounds, as suites/peers/peer_ratios.py pairs them: per thread count, the runs drawn that hold a
 * peer's time rows and those that hold quintet's, each kind in id order; the k-th of each kind
 * make round k (a kind with fewer runs repeats its last). round[i]: run i's index in its kind. */
static qt_status_t peer_rounds(ctx_t *c, const rows_t *rs, int **round_out)
{
    int *peer = calloc((size_t)c->n_runs, sizeof *peer), *round = calloc((size_t)c->n_runs, sizeof *round);
    if (!peer || !round) {
        free(peer);
        free(round);
        return qt_fail(QT_ERR_NOMEM, "peer_ratio rounds of %d runs", c->n_runs);
    }
    for (int i = 0; i < rs->n; i++)
        if (is_peer_time(&rs->v[i])) peer[rs->v[i].run] = 1;
    for (int i = 0; i < c->n_runs; i++)
        for (int j = 0; j < c->n_runs; j++)
            round[i] += peer[j] == peer[i] && c->runs[j].threads == c->runs[i].threads && c->runs[j].id < c->runs[i].id;
    free(peer);
    *round_out = round;
    return QT_OK;
}

/* One bar's value for the peer rows of variant pv against quintet's rows of variant qv (case
 * `name`, NULL: the peer row's) with params `params`, in runs of `threads` threads: per round
 * (peer_rounds) peer median / quintet median; *r their median, *lo and *hi their range, or with
 * one round the quartiles' (peer q1 / quintet q3, peer q3 / quintet q1). NaN when either side is
 * missing. slot: 2·n_runs row pointers, v: n_runs doubles of scratch. */
static void peer_bar(ctx_t *c, const rows_t *rs, const int *round, const char *pv, const char *qv, const char *name,
                     const char *params, int threads, const row_t **slot, double *v, double *r, double *lo, double *hi)
{
    const row_t **ps = slot, **qs = slot + c->n_runs;
    int np = 0, nq = 0;
    const char *qname = NULL;
    *r = *lo = *hi = NAN;
    for (int i = 0; i < 2 * c->n_runs; i++) slot[i] = NULL;
    for (int i = 0; i < rs->n; i++) {
        const row_t *x = &rs->v[i];
        if (!is_peer_time(x) || strcmp(x->variant, pv) || strcmp(x->params, params) || c->runs[x->run].threads != threads)
            continue;
        ps[round[x->run]] = x;
        np = round[x->run] + 1 > np ? round[x->run] + 1 : np;
        qname = name ? name : x->name;
    }
    for (int i = 0; qname && i < rs->n; i++) {
        const row_t *x = &rs->v[i];
        if (strcmp(x->metric, "time_s") || strcmp(x->variant, qv) || strcmp(x->name, qname) || strcmp(x->params, params) ||
            c->runs[x->run].threads != threads || !(x->median > 0))
            continue;
        qs[round[x->run]] = x;
        nq = round[x->run] + 1 > nq ? round[x->run] + 1 : nq;
    }
    if (!np || !nq) return;
    int n = np > nq ? np : nq, m = 0;
    const row_t *p1 = NULL, *q1 = NULL;
    for (int k = 0; k < n; k++) {
        const row_t *p = ps[k < np ? k : np - 1], *q = qs[k < nq ? k : nq - 1];
        if (p && q) v[m++] = p->median / q->median, p1 = p, q1 = q;
    }
    if (!m) return;
    *r = qt_quantile(v, (size_t)m, 0.5);
    if (m > 1) {
        *lo = qt_quantile(v, (size_t)m, 0.0);
        *hi = qt_quantile(v, (size_t)m, 1.0);
    } else {
        *lo = p1->q1 / q1->q3;
        *hi = p1->q3 / q1->q1;
    }
}

/* A bar of the peer_ratio figure for the case group `lab` (params without the keys in drop): peer_bar
 * of each distinct full params in the group (rows of several rounds count once), the lowest; NaN
 * when none has both sides. */
static void group_bar(ctx_t *c, const rows_t *rs, const int *round, const char *pv, const char *qv, const char *name,
                      const char *const *drop, const char *lab, int threads, const row_t **slot, double *v, double *r,
                      double *lo, double *hi)
{
    char lab2[256];
    *r = *lo = *hi = NAN;
    for (int k = 0; k < rs->n; k++) {
        const row_t *e = &rs->v[k];
        if (!is_peer_time(e) || c->runs[e->run].threads != threads || strcmp(e->variant, pv) ||
            strcmp(param_drop(e->params, drop, lab2, sizeof lab2), lab))
            continue;
        int again = 0; /* its params already taken, through an earlier round's row */
        for (int x = 0; x < k && !again; x++) {
            const row_t *y = &rs->v[x];
            again = is_peer_time(y) && c->runs[y->run].threads == threads && !strcmp(y->variant, pv) &&
                    !strcmp(y->params, e->params);
        }
        if (again) continue;
        double er, elo, ehi;
        peer_bar(c, rs, round, pv, qv, name, e->params, threads, slot, v, &er, &elo, &ehi);
        if (isfinite(er) && !(isfinite(*r) && er >= *r)) *r = er, *lo = elo, *hi = ehi;
    }
}

/* <suite>-peer_ratio (template plots/peer_ratio.gp): peer time / quintet time per case (> 1:
 * quintet faster), grouped bars: one panel per thread count, one group per case (its params
 * without the keys in drop), one bar per (peer path, quintet variant). Several rounds (peer and
 * quintet runs alternated, ci/h200-cpu-peers.sh QT_PEER_ROUNDS) are paired as peer_ratios.py does:
 * a bar is the median of the rounds' ratios, its error bar their range; one round's error bar comes
 * from the quartiles (peer q1 / quintet q3 to peer q3 / quintet q1). Where drop merges cases, the
 * group shows the lowest. name: the quintet case a peer row is set against (NULL: the same case;
 * sparsity: auto, the dispatcher). No peer rows: no figure. */
static qt_status_t fig_peer_ratio(ctx_t *c, const rows_t *rs, const char *name, const char *const *drop,
                                  const char *title)
{
    enum { MAX_BARS = 12 };
    char bar[MAX_BARS][80], pvar[MAX_BARS][64], qvar[MAX_BARS][64], lab[256], lab2[256], b[80];
    int n_bars = 0, panel_threads[QT_PLOT_PANELS], n_panels = 0;
    for (int i = 0; i < rs->n; i++) { /* the bars and panels */
        const row_t *p = &rs->v[i], *q;
        if (!is_peer_time(p) || !(q = peer_base(c, rs, p, name))) continue;
        snprintf(b, sizeof b, "%s / %s%s%s", p->variant, q->variant, name ? " " : "", name ? name : "");
        int k = 0, t = c->runs[p->run].threads, m = 0;
        while (k < n_bars && strcmp(bar[k], b)) k++;
        if (k == n_bars && n_bars < MAX_BARS) {
            snprintf(pvar[n_bars], sizeof pvar[0], "%s", p->variant);
            snprintf(qvar[n_bars], sizeof qvar[0], "%s", q->variant);
            snprintf(bar[n_bars++], sizeof bar[0], "%s", b);
        }
        while (m < n_panels && panel_threads[m] != t) m++;
        if (m == n_panels && n_panels < QT_PLOT_PANELS) panel_threads[n_panels++] = t;
    }
    if (!n_bars) return QT_OK;
    int *round = NULL;
    QT_TRY(peer_rounds(c, rs, &round));
    const row_t **slot = calloc(2 * (size_t)c->n_runs, sizeof *slot);
    double *vals = calloc((size_t)c->n_runs, sizeof *vals);
    qt_plot_fig_t fig;
    qt_outfile_t of;
    char stem[128];
    snprintf(stem, sizeof stem, "%s-peer_ratio", c->suite);
    qt_status_t st = !slot || !vals ? qt_fail(QT_ERR_NOMEM, "peer_ratio scratch")
                                    : bars_begin(c, stem, "peer_ratio", title, n_bars, &fig, &of);
    if (st != QT_OK) goto out;
    FILE *f = of.f;
    fig.suite = "peer_ratio";
    fprintf(f, "# one block per thread count (panel), one row per case; columns: label, then ratio lo hi per bar"
               " (ratio: peer median / quintet median time, the median over rounds where peer and quintet runs"
               " alternated; lo, hi: the rounds' range, with one round from the quartiles; NaN: not measured)\n# case");
    for (int j = 0; j < n_bars; j++) {
        bars_series(&fig, j, bar[j]);
        fprintf(f, " | %s: ratio lo hi", fig.series[j].title);
    }
    fprintf(f, "\n");
    for (int m = 0; m < n_panels; m++) {
        snprintf(fig.panel_title[m], sizeof fig.panel_title[0], "%d thread%s", panel_threads[m],
                 panel_threads[m] == 1 ? "" : "s");
        fprintf(f, "%s# panel %d: %s\n", m ? "\n\n" : "", m + 1, fig.panel_title[m]);
        fig.n_panels++;
        for (int i = 0; i < rs->n; i++) { /* a group per case, at its first peer row of the panel */
            const row_t *p = &rs->v[i];
            if (!is_peer_time(p) || c->runs[p->run].threads != panel_threads[m] || !peer_base(c, rs, p, name)) continue;
            param_drop(p->params, drop, lab, sizeof lab);
            int seen = 0;
            for (int k = 0; k < i && !seen; k++) {
                const row_t *e = &rs->v[k];
                seen = is_peer_time(e) && c->runs[e->run].threads == panel_threads[m] && peer_base(c, rs, e, name) &&
                       !strcmp(param_drop(e->params, drop, lab2, sizeof lab2), lab);
            }
            if (seen) continue;
            safe_copy(lab2, sizeof lab2, lab);
            fprintf(f, "\"%s\"", *lab2 ? lab2 : "-");
            for (int j = 0; j < n_bars; j++) {
                double r, lo, hi;
                group_bar(c, rs, round, pvar[j], qvar[j], name, drop, lab, panel_threads[m], slot, vals, &r, &lo, &hi);
                fprintf(f, " %.9g %.9g %.9g", r, lo, hi);
            }
            fprintf(f, "\n");
        }
    }
    st = bars_end(c, &fig, &of);
out:
    free(round);
    free(slot);
    free(vals);
    return st;
}

static const char *const attention_cases[] = {"dense", "window", "lsh", "dynamic", NULL};

/* attention_scaling: time_s vs T with fitted exponents, and frac_sgemm vs T. */
static qt_status_t fig_attention(ctx_t *c, const rows_t *rs)
{
    sset_t ss = {0};
    qt_status_t st = collect_xy(rs, "time_s", "T", attention_cases, 0, 1, &ss);
    if (st == QT_OK)
        st = emit_lines(&ss, c->suite, "time", NULL, "Attention time vs sequence length", "T time_s(median) q1 q3",
                        c->runs, c->n_runs, c->dir, c->fn, c->arg, c->n_figs, &c->stop);
    sset_free(&ss);
    if (st != QT_OK || c->stop) return st;
    st = collect_xy(rs, "frac_sgemm", "T", attention_cases, 0, 0, &ss);
    if (st == QT_OK)
        st = emit_lines(&ss, c->suite, "frac_sgemm", NULL, "Attention rate as a fraction of the SGEMM ceiling",
                        "T frac_sgemm(median) q1 q3", c->runs, c->n_runs, c->dir, c->fn, c->arg, c->n_figs, &c->stop);
    sset_free(&ss);
    static const char *const drop[] = {"B", "H", "data", NULL};
    if (st == QT_OK && !c->stop)
        st = fig_peer_ratio(c, rs, NULL, drop, "Attention: peer time / quintet time (> 1: quintet faster)");
    return st;
}

/* sparsity: speedup_vs_dense vs sp, a panel per shape M,K,N, colour and marker per path (open
 * markers: the second structure). */
static qt_status_t fig_sparsity(ctx_t *c, const rows_t *rs)
{
    static const char *const names[] = {"speedup_vs_dense", NULL}, *const path[] = {"path", NULL},
                             *const shape[] = {"M", "K", "N", NULL};
    sset_t ss = {0};
    xy_opt_t o = {.metric = "speedup_vs_dense", .xkey = "sp", .names = names, .main_keys = path, .panel_keys = shape};
    qt_status_t st = collect_xy_opt(rs, &o, &ss);
    if (st == QT_OK)
        st = emit_lines_opt(&ss, &(emit_opt_t){.marker_by_main = 1}, c->suite, "speedup", NULL,
                            "Sparse Y = A W: speedup over dense OpenBLAS, one panel per shape",
                            "sparsity speedup_vs_dense(median) q1 q3", c->runs, c->n_runs, c->dir, c->fn, c->arg,
                            c->n_figs, &c->stop);
    sset_free(&ss);
    static const char *const drop[] = {"N", "structure", NULL};
    if (st == QT_OK && !c->stop)
        st = fig_peer_ratio(c, rs, "auto", drop, "Sparse Y = A W: peer time / quintet auto time (> 1: quintet faster)");
    return st;
}

typedef struct {
    double step, value;
} sv_t;

typedef struct {
    sv_t *v;
    int n, cap, oom;
    const char *series; /* the series kept */
} svs_t;

/* foreach_point callback: keep the points of the wanted series. */
static int loss_add(void *arg, const qt_point_t *p)
{
    svs_t *a = arg;
    if (strcmp(p->series, a->series)) return 0;
    sv_t *v = grow(a->v, &a->cap, a->n, sizeof *v);
    if (!v) return a->oom = 1;
    a->v = v;
    a->v[a->n++] = (sv_t){(double)p->step, p->value};
    return 0;
}

/* qsort order of (step, value) pairs: by step. */
static int sv_cmp(const void *a, const void *b)
{
    double x = ((const sv_t *)a)->step, y = ((const sv_t *)b)->step;
    return (x > y) - (x < y);
}

/* Add the per-step median and quartiles across seeds of a case's stored series `name` (e.g.
 * `loss`) to the series. */
static qt_status_t loss_points(qt_store_t *s, int64_t case_id, const char *name, series_t *sr)
{
    svs_t a = {.series = name};
    qt_status_t st = qt_store_foreach_point(s, case_id, loss_add, &a);
    if (st == QT_OK && a.oom) st = qt_fail(QT_ERR_NOMEM, "plot: loss curve");
    double *v = st == QT_OK ? malloc(sizeof(double) * (size_t)(a.n + 1)) : NULL;
    if (st == QT_OK && !v) st = qt_fail(QT_ERR_NOMEM, "plot: loss curve");
    if (st == QT_OK) qsort(a.v, (size_t)a.n, sizeof(sv_t), sv_cmp);
    for (int i = 0; st == QT_OK && i < a.n;) {
        int j = i;
        size_t m = 0;
        for (; j < a.n && a.v[j].step == a.v[i].step; j++) v[m++] = a.v[j].value;
        point_t pt = {a.v[i].step, qt_quantile(v, m, 0.5), qt_quantile(v, m, 0.25), qt_quantile(v, m, 0.75)};
        if (!series_add(sr, pt)) st = qt_fail(QT_ERR_NOMEM, "plot: loss curve");
        i = j;
    }
    free(v);
    free(a.v);
    return st;
}

/* lr_convergence: per problem, the loss curves of every optimizer (case `converge`); main is
 * "optimizer lr=X" since each optimizer runs at its own tuned learning rate. */
static qt_status_t fig_lr(ctx_t *c, const rows_t *rs)
{
    static const char *const drop[] = {"optimizer", "problem", "lr", NULL};
    qt_status_t st = QT_OK;
    char done[64][QT_PARAM_VAL];
    int n_done = 0;
    for (int i = 0; st == QT_OK && !c->stop && i < rs->n; i++) {
        char problem[QT_PARAM_VAL];
        if (strcmp(rs->v[i].name, "converge") || !*param_get(rs->v[i].params, "problem", problem, sizeof problem))
            continue;
        int seen = 0;
        for (int k = 0; k < n_done; k++) seen |= !strcmp(done[k], problem);
        if (seen || n_done == 64) continue;
        snprintf(done[n_done++], QT_PARAM_VAL, "%s", problem);
        sset_t ss = {0};
        int64_t last_case = -1;
        for (int j = i; st == QT_OK && j < rs->n; j++) {
            const row_t *r = &rs->v[j];
            char pv[QT_PARAM_VAL], opt[QT_PARAM_VAL], rest[1024];
            if (r->case_id == last_case || strcmp(r->name, "converge") ||
                strcmp(param_get(r->params, "problem", pv, sizeof pv), problem))
                continue;
            last_case = r->case_id; /* rows of one case are adjacent: one per metric */
            char lr[QT_PARAM_VAL], main[2 * QT_PARAM_VAL + 8];
            param_get(r->params, "optimizer", opt, sizeof opt);
            snprintf(main, sizeof main, *param_get(r->params, "lr", lr, sizeof lr) ? "%s lr=%s" : "%s", opt, lr);
            series_t *sr = sset_get(&ss, r->run, main, param_drop(r->params, drop, rest, sizeof rest));
            st = sr ? loss_points(c->s, r->case_id, "loss", sr) : qt_fail(QT_ERR_NOMEM, "plot");
        }
        for (int k = 0; k < ss.n; k++) /* cases without a loss curve draw nothing */
            if (ss.v[k].n == 0) {
                series_free(&ss.v[k]);
                ss.v[k--] = ss.v[--ss.n];
            }
        char title[128];
        snprintf(title, sizeof title, "Training loss on %s (median and interquartile band over seeds)", problem);
        if (st == QT_OK)
            st = emit_lines(&ss, c->suite, "loss", problem, title, "step loss(median over seeds) q1 q3", c->runs,
                            c->n_runs, c->dir, c->fn, c->arg, c->n_figs, &c->stop);
        sset_free(&ss);
    }
    static const char *const dtype[] = {"dtype", NULL};
    if (st == QT_OK && !c->stop)
        st = fig_peer_ratio(c, rs, NULL, dtype, "Optimizer step: peer time / quintet time (> 1: quintet faster)");
    return st;
}

/* The collective of a dist_throughput case name coll_<name>[_bare]; QT_COLL_COUNT when none. */
static qt_coll_t dist_coll(const char *name)
{
    for (int k = 0; k < QT_COLL_COUNT; k++) {
        const char *cn = qt_coll_name((qt_coll_t)k);
        size_t len = strlen(cn);
        if (!strncmp(name, "coll_", 5) && !strncmp(name + 5, cn, len) && (!name[5 + len] || !strcmp(name + 5 + len, "_bare")))
            return (qt_coll_t)k;
    }
    return QT_COLL_COUNT;
}

/* The suite's alpha-beta fit of a series: the alpha_beta rows of its run, collective (coll=,
 * with _bare) and transport, as the thin line busbw(S) = factor S / (alpha + beta S) at four
 * points per doubling over the series' sizes; no line where the fit's time is not positive. */
static qt_status_t dist_fit(const rows_t *rs, sset_t *ss, int i, const char *coll, const char *transport, qt_coll_t k)
{
    double alpha = NAN, bw = NAN;
    char v[QT_PARAM_VAL], ranks[QT_PARAM_VAL];
    param_get(ss->v[i].rest, "ranks", ranks, sizeof ranks);
    for (int j = 0; j < rs->n; j++) {
        const row_t *r = &rs->v[j];
        if (r->run != ss->v[i].run || strcmp(r->name, "alpha_beta") ||
            strcmp(param_get(r->params, "coll", v, sizeof v), coll) ||
            strcmp(param_get(r->params, "transport", v, sizeof v), transport))
            continue;
        if (!strcmp(r->metric, "alpha_us")) alpha = r->median * 1e-6;
        if (!strcmp(r->metric, "beta_gbps")) bw = r->median * 1e9;
    }
    if (!isfinite(alpha) || !(bw > 0) || ss->v[i].n == 0) return QT_OK;
    double factor = qt_dist_busbw_factor(k, atoi(ranks)), x0 = ss->v[i].p[0].x, x1 = ss->v[i].p[ss->v[i].n - 1].x;
    for (int j = 0; j < ss->v[i].n; j++) {
        x0 = fmin(x0, ss->v[i].p[j].x);
        x1 = fmax(x1, ss->v[i].p[j].x);
    }
    char rest[1100];
    snprintf(rest, sizeof rest, "%s%sfit=alpha-beta", ss->v[i].rest, *ss->v[i].rest ? "," : "");
    char panel[64], main[128];
    snprintf(panel, sizeof panel, "%s", ss->v[i].panel);
    snprintf(main, sizeof main, "%s", ss->v[i].main);
    int run = ss->v[i].run;
    series_t *f = sset_get_in(ss, panel, run, main, rest); /* may move ss->v */
    if (!f) return qt_fail(QT_ERR_NOMEM, "plot");
    f->fit = 1;
    if (fabs(alpha) < 1e-3) snprintf(f->note, sizeof f->note, "alpha %.3g us, 1/beta %.3g GB/s", alpha * 1e6, bw / 1e9);
    else snprintf(f->note, sizeof f->note, "alpha %.3g ms, 1/beta %.3g GB/s", alpha * 1e3, bw / 1e9);
    for (double x = x0; x0 > 0 && x <= x1 * 1.0001; x *= pow(2, 0.25)) {
        double t = alpha + x / bw;
        double y = factor * x / t / 1e9;
        if (t > 0 && !series_add(f, (point_t){x, y, y, y})) return qt_fail(QT_ERR_NOMEM, "plot");
    }
    return QT_OK;
}

/* dist_throughput busbw: busbw_gbps vs bytes, a panel per collective, a series per transport
 * (quintet's path and, for all-reduce, the bare MPI_Allreduce) and run, each with its fit. */
static qt_status_t fig_dist_busbw(ctx_t *c, const rows_t *rs)
{
    static const char *const drop[] = {"bytes", "coll_id", "bare", "transport", NULL};
    sset_t ss = {0};
    qt_status_t st = QT_OK;
    for (int i = 0; st == QT_OK && i < rs->n; i++) {
        const row_t *r = &rs->v[i];
        qt_coll_t k = dist_coll(r->name);
        char xv[QT_PARAM_VAL], tr[QT_PARAM_VAL], main[128], rest[1024];
        if (k == QT_COLL_COUNT || strcmp(r->metric, "busbw_gbps") || !isfinite(r->median)) continue;
        double x = atof(param_get(r->params, "bytes", xv, sizeof xv));
        snprintf(main, sizeof main, "%s %s", strstr(r->name, "_bare") ? "bare MPI_Allreduce" : "quintet",
                 param_get(r->params, "transport", tr, sizeof tr));
        series_t *sr = sset_get_in(&ss, qt_coll_name(k), r->run, main, param_drop(r->params, drop, rest, sizeof rest));
        if (!sr || !series_add(sr, (point_t){x, r->median, r->q1, r->q3})) st = qt_fail(QT_ERR_NOMEM, "plot");
    }
    for (int i = 0, n = ss.n; st == QT_OK && i < n; i++) { /* the fits join the set after the data */
        qsort(ss.v[i].p, (size_t)ss.v[i].n, sizeof(point_t), point_cmp);
        char coll[64], tr[QT_PARAM_VAL];
        int bare = !strncmp(ss.v[i].main, "bare", 4);
        snprintf(coll, sizeof coll, "%s%s", ss.v[i].panel, bare ? "_bare" : "");
        snprintf(tr, sizeof tr, "%s", strchr(ss.v[i].main, ' ') ? strrchr(ss.v[i].main, ' ') + 1 : "");
        char name[80];
        snprintf(name, sizeof name, "coll_%s", coll);
        st = dist_fit(rs, &ss, i, coll, tr, dist_coll(name));
    }
    if (st == QT_OK)
        st = emit_lines(&ss, c->suite, "busbw", NULL, "MPI collectives: bus bandwidth vs message size, with the alpha-beta fit",
                        "bytes busbw_gbps(median) q1 q3 (fit series: the fitted busbw, q1 = q3 = it)", c->runs, c->n_runs,
                        c->dir, c->fn, c->arg, c->n_figs, &c->stop);
    sset_free(&ss);
    return st;
}

/* dist_throughput loss_vs_bytes: per compression scheme (colour and marker) and run, the loss
 * against the cumulative bytes this rank sent (median over seeds at each size). */
static qt_status_t fig_dist_loss(ctx_t *c, const rows_t *rs)
{
    static const char *const drop_main[] = {"ranks", "transport", "steps", NULL}, *const keep[] = {"ranks", "transport", NULL};
    sset_t ss = {0};
    qt_status_t st = QT_OK;
    int64_t last_case = -1;
    for (int i = 0; st == QT_OK && i < rs->n; i++) {
        const row_t *r = &rs->v[i];
        if (strcmp(r->name, "compress") || r->case_id == last_case) continue;
        last_case = r->case_id; /* rows of one case are adjacent: one per metric */
        char main[1024], rest[256];
        param_drop(r->params, drop_main, main, sizeof main);
        series_t *sr = sset_get(&ss, r->run, main, param_pick(r->params, keep, rest, sizeof rest));
        st = sr ? loss_points(c->s, r->case_id, "loss_vs_bytes", sr) : qt_fail(QT_ERR_NOMEM, "plot");
    }
    for (int k = 0; k < ss.n; k++) /* cases without the series draw nothing */
        if (ss.v[k].n == 0) {
            series_free(&ss.v[k]);
            ss.v[k--] = ss.v[--ss.n];
        }
    if (st == QT_OK)
        st = emit_lines_opt(&ss, &(emit_opt_t){.marker_by_main = 1}, c->suite, "loss_vs_bytes", NULL,
                            "Gradient compression: training loss vs bytes sent (equal steps per scheme)",
                            "bytes_sent(cumulative, this rank) loss(median over seeds) q1 q3", c->runs, c->n_runs,
                            c->dir, c->fn, c->arg, c->n_figs, &c->stop);
    sset_free(&ss);
    return st;
}

/* dist_throughput: busbw vs message size with the fits, then loss vs bytes sent. */
static qt_status_t fig_dist(ctx_t *c, const rows_t *rs)
{
    qt_status_t st = fig_dist_busbw(c, rs);
    return st != QT_OK || c->stop ? st : fig_dist_loss(c, rs);
}

static const struct {
    const char *suite;
    qt_status_t (*fig)(ctx_t *c, const rows_t *rs);
} suites[] = {
    {"calibration", fig_calibration},
    {"attention_scaling", fig_attention},
    {"lr_convergence", fig_lr},
    {"sparsity", fig_sparsity},
    {"dist_throughput", fig_dist},
    {"fusion_accuracy", fig_fusion},
};
#define N_SUITES ((int)(sizeof suites / sizeof suites[0]))

/* 1 when quintet has figures for this suite. */
int qt_plot_suite_known(const char *suite)
{
    for (int i = 0; i < N_SUITES; i++)
        if (!strcmp(suites[i].suite, suite)) return 1;
    return 0;
}

/* The i-th suite with figures, NULL past the last. */
const char *qt_plot_suite_at(int i)
{
    return i >= 0 && i < N_SUITES ? suites[i].suite : NULL;
}

/* Comma-separated suite names (built once from the table). */
const char *qt_plot_suite_names(void)
{
    static char names[256];
    if (!names[0])
        for (int i = 0; i < N_SUITES; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", suites[i].suite);
    return names;
}

/* The provenance fields a platform label is made of. */
typedef struct {
    char host[64], cores[16], gpu[64];
    int threads;
} platform_t;

/* foreach_provenance callback: keep host, cores and gpu. */
static int platform_field(void *arg, const char *key, const char *value)
{
    platform_t *p = arg;
    if (!value || !*value) return 0;
    if (!strcmp(key, "host")) safe_copy(p->host, sizeof p->host, value);
    else if (!strcmp(key, "cores")) safe_copy(p->cores, sizeof p->cores, value);
    else if (!strcmp(key, "gpu") && strncmp(value, "none", 4)) safe_copy(p->gpu, sizeof p->gpu, value);
    else if (!strcmp(key, "threads")) p->threads = atoi(value);
    return 0;
}

/* A run's platform label: "host (N cores, GPU)", the GPU name without its details in
 * parentheses, so that two machines with the same host name still tell apart. */
qt_status_t qt_plot_run_host(qt_store_t *s, qt_plot_run_t *run)
{
    platform_t p = {"?", "", "", 0};
    QT_TRY(qt_store_foreach_provenance(s, run->id, platform_field, &p));
    run->threads = p.threads;
    char *paren = strstr(p.gpu, " (");
    if (paren) *paren = '\0';
    snprintf(run->host, sizeof run->host, "%s", p.host);
    if (p.cores[0] || p.gpu[0])
        snprintf(run->host + strlen(run->host), sizeof run->host - strlen(run->host), " (%s%s%s%s)", p.cores,
                 p.cores[0] ? " cores" : "", p.cores[0] && p.gpu[0] ? ", " : "", p.gpu);
    return QT_OK;
}

/* foreach_stat callback: stop at the first row of the suite. */
static int suite_seen(void *arg, const qt_stat_row_t *r)
{
    const char **want = arg;
    if (strcmp(r->suite, want[0])) return 0;
    want[1] = "";
    return 1;
}

/* Whether the run has statistics of the suite. */
qt_status_t qt_plot_run_has_suite(qt_store_t *s, int64_t run_id, const char *suite, int *has)
{
    const char *want[2] = {suite, NULL};
    QT_TRY(qt_store_foreach_stat(s, run_id, suite_seen, want));
    *has = want[1] != NULL;
    return QT_OK;
}

/* Every figure of the suite. */
qt_status_t qt_plot_data_write(qt_store_t *s, const char *suite, const qt_plot_run_t *runs, int n_runs,
                               const char *dir, qt_plot_fig_fn fn, void *arg, int *n_figs)
{
    QT_CHECK_ARG(s && suite && runs && n_runs > 0 && n_runs <= 64 && dir && fn && n_figs,
                 "plot: bad arguments (1 to 64 runs)");
    int which = -1;
    for (int i = 0; i < N_SUITES; i++)
        if (!strcmp(suites[i].suite, suite)) which = i;
    QT_CHECK_ARG(which >= 0, "no figures for suite '%s' (figures exist for: %s)", suite, qt_plot_suite_names());
    rows_t rs;
    QT_TRY(rows_load(s, suite, runs, n_runs, &rs));
    int before = *n_figs;
    ctx_t c = {s, suite, dir, runs, n_runs, fn, arg, n_figs, 0};
    qt_status_t st = suites[which].fig(&c, &rs);
    rows_free(&rs);
    if (st == QT_OK && *n_figs == before)
        st = qt_fail(QT_ERR_ARG, "suite '%s': the run(s) hold no results it can draw", suite);
    return st;
}
