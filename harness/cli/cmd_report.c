/* cmd_report.c — `quintet report [RUN] --format md|html|tex`: a run's report regenerated from
 * the database alone: provenance (commit, host, CPU, GPU, library versions, command line,
 * environment) and counter availability, the calibration ceilings, then per suite a table of
 * its headline metrics (every metric `show` shows: not the counters and bookkeeping) with
 * median, quartiles, iqr% = (q3 - q1) / median, the Tukey-fence outliers among the repetitions
 * and a bimodality flag (stats.h), derived metrics (scaling_exponent,
 * crossover_sparsity, ...) included, and the cases that did not finish. The summary gives the
 * run's stored warnings and the measurement-validity ones (analysis/validity.h: a bandwidth above
 * this run's measured ceiling). With --baseline RUN
 * each row also gets the baseline's median, the change and the verdict of compare's gate
 * (gate.h); with --figures DIR the .png/.svg/.pdf files of DIR (report_figs.h). The dialects
 * are report_fmt.h's. --out FILE is written whole or not at all, and only as a regular file
 * (output/outfile.h: a symbolic link, FIFO or device there is refused).
 * Exit status: 0 ok, 2 bad usage or unknown run, 3 database or output error.
 * Run `quintet report --help`; tested by tests/harness/test_report.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/outfile.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "analysis/compare.h"
#include "analysis/gate.h"
#include "analysis/validity.h"
#include "output/report_figs.h"
#include "output/report_fmt.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
    {"format", "F", "md | html | tex (default md)"},
    {"out", "FILE", "write the report to FILE (default standard output)"},
    {"baseline", "RUN", "add each row's change against RUN and the regression gate's verdict"},
    {"threshold", "FRAC", "with --baseline: the gate's minimum effect (default 0.05 = 5%)"},
    {"alpha", "A", "with --baseline: the gate's significance level (default 0.05)"},
    {"figures", "DIR", "include the .png/.svg/.pdf files of DIR"},
    {"suite", "NAME", "only this suite (and the calibration ceilings)"},
    {"changes-only", NULL, "with --baseline: the summary and only the rows that changed (for CI step summaries)"},
    {"fragment", NULL, "html/tex: no preamble, to include in another document"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

enum { EXIT_USAGE = 2, EXIT_DB = 3 };

/* One table row: a (case, metric) of the run, and its baseline verdict. */
typedef struct {
    char *suite, *name, *variant, *params, *metric, *unit;
    int64_t case_id;
    int n;
    double median, q1, q3;
    int outliers, bimodal; /* Tukey-fence outliers, bimodality flag of the repetitions */
    qt_compare_result_t r; /* with --baseline */
} rrow_t;

/* A key/value pair (provenance, or a case that did not finish: key "suite", value the line). */
typedef struct {
    char *key, *value;
} kv_t;

/* Everything the report shows, read before any output is written. */
typedef struct {
    int64_t run, base;
    qt_compare_opts_t gate; /* the regression gate's test (--threshold, --alpha) */
    const char *suite; /* --suite */
    int changes_only;  /* --changes-only: only rows the gate calls regression, improvement or changed */
    rrow_t *row;
    size_t n_rows, cap_rows;
    kv_t *prov, *cnt, *bad, *valid;
    size_t n_prov, n_cnt, n_bad, n_valid, cap_prov, cap_cnt, cap_bad, cap_valid;
    char *base_line; /* the baseline run's description */
    int failed;
} report_t;

/* Append a copy of key/value to a kv list; sets r->failed on allocation failure. */
static void kv_add(report_t *r, kv_t **list, size_t *n, size_t *cap, const char *key, const char *value)
{
    if (*n == *cap) {
        kv_t *l = realloc(*list, (*cap = *cap ? 2 * *cap : 32) * sizeof *l);
        if (!l) { r->failed = 1; return; }
        *list = l;
    }
    kv_t *e = &(*list)[(*n)++];
    e->key = strdup(key ? key : "");
    e->value = strdup(value ? value : "");
    if (!e->key || !e->value) r->failed = 1;
}

/* foreach_provenance callback. */
static int load_prov(void *arg, const char *key, const char *value)
{
    report_t *r = arg;
    kv_add(r, &r->prov, &r->n_prov, &r->cap_prov, key, value);
    return r->failed;
}

/* foreach_counter callback: key the event, value "" when available, else the reason. */
static int load_counter(void *arg, const char *event, int available, const char *reason)
{
    report_t *r = arg;
    kv_add(r, &r->cnt, &r->n_cnt, &r->cap_cnt, event, available ? "" : reason ? reason : "unavailable");
    return r->failed;
}

/* foreach_case callback: the cases that did not finish ok. */
static int load_bad_case(void *arg, const qt_case_row_t *c)
{
    report_t *r = arg;
    if (!strcmp(c->status, "ok") || (r->suite && strcmp(c->suite, r->suite) && strcmp(c->suite, "calibration")))
        return 0;
    char line[1024];
    snprintf(line, sizeof line, "%s%s%s %s: %s%s%s", c->name, c->variant && *c->variant ? "/" : "",
             c->variant ? c->variant : "", c->params ? c->params : "", c->status, c->message ? ": " : "",
             c->message ? c->message : "");
    kv_add(r, &r->bad, &r->n_bad, &r->cap_bad, c->suite, line);
    return r->failed;
}

/* foreach_stat callback: keep the headline metrics. */
static int load_stat(void *arg, const qt_stat_row_t *s)
{
    report_t *r = arg;
    if (qt_metric_is_bookkeeping(s->metric)) return 0;
    if (r->suite && strcmp(s->suite, r->suite) && strcmp(s->suite, "calibration")) return 0;
    if (r->n_rows == r->cap_rows) {
        rrow_t *n = realloc(r->row, (r->cap_rows = r->cap_rows ? 2 * r->cap_rows : 64) * sizeof *n);
        if (!n) return r->failed = 1;
        r->row = n;
    }
    rrow_t *w = &r->row[r->n_rows++];
    memset(w, 0, sizeof *w);
    const char *src[] = {s->suite, s->name, s->variant, s->params, s->metric, s->unit};
    char **dst[] = {&w->suite, &w->name, &w->variant, &w->params, &w->metric, &w->unit};
    for (int i = 0; i < 6; i++)
        if (!(*dst[i] = strdup(src[i] ? src[i] : ""))) r->failed = 1;
    w->case_id = s->case_id;
    w->n = s->n;
    w->median = s->median;
    w->q1 = s->q1;
    w->q3 = s->q3;
    return r->failed;
}

/* The value of provenance key (NULL when absent). */
static const char *prov(const report_t *r, const char *key)
{
    for (size_t i = 0; i < r->n_prov; i++)
        if (!strcmp(r->prov[i].key, key)) return r->prov[i].value;
    return NULL;
}

/* A validity warning (analysis/validity.h), kept for the summary. */
static int load_validity(void *arg, const char *text)
{
    report_t *r = arg;
    kv_add(r, &r->valid, &r->n_valid, &r->cap_valid, "validity", text);
    return r->failed;
}

/* Each row's outliers and shape (the raw repetitions). */
static qt_status_t shapes(qt_store_t *s, report_t *r)
{
    for (size_t i = 0; i < r->n_rows; i++)
        QT_TRY(qt_gate_case_shape(s, r->row[i].case_id, r->row[i].metric, &r->row[i].outliers, &r->row[i].bimodal));
    return QT_OK;
}

/* Each row against the baseline run's case of the same key, with compare's gate. */
static qt_status_t judge(qt_store_t *s, report_t *r)
{
    const qt_compare_opts_t *o = &r->gate;
    int64_t last_case = -1, base_case = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
        rrow_t *w = &r->row[i];
        if (w->case_id != last_case)
            QT_TRY(qt_store_find_case(s, r->base, w->suite, w->name, w->variant, w->params, &base_case));
        last_case = w->case_id;
        if (base_case) QT_TRY(qt_gate_cases(s, base_case, w->case_id, w->metric, o, &w->r));
        if (!base_case || w->r.n_base == 0) {
            memset(&w->r, 0, sizeof w->r);
            w->r.verdict = QT_VERDICT_ADDED;
            w->r.median_base = w->r.ratio = w->r.p = NAN;
        }
    }
    return QT_OK;
}

/* Read everything: provenance, counters, rows, unfinished cases, the baseline's verdicts. */
static qt_status_t load(qt_store_t *s, report_t *r)
{
    QT_TRY(qt_store_foreach_provenance(s, r->run, load_prov, r));
    QT_TRY(qt_store_foreach_counter(s, r->run, load_counter, r));
    QT_TRY(qt_store_foreach_stat(s, r->run, load_stat, r));
    QT_TRY(qt_store_foreach_case(s, r->run, load_bad_case, r));
    QT_TRY(shapes(s, r));
    QT_TRY(qt_validity_bandwidth(s, r->run, load_validity, r, NULL));
    if (r->failed) return qt_fail(QT_ERR_NOMEM, "out of memory reading run %lld", (long long)r->run);
    if (r->base > 0) {
        report_t b;
        memset(&b, 0, sizeof b);
        qt_status_t st = qt_store_foreach_provenance(s, r->base, load_prov, &b);
        char line[512];
        const char *commit = prov(&b, "git_commit"), *dirty = prov(&b, "git_dirty");
        snprintf(line, sizeof line, "run %lld (commit %.12s%s, profile %s, host %s, started %s)", (long long)r->base,
                 commit && *commit ? commit : "?", dirty && !strcmp(dirty, "1") ? "+dirty" : "",
                 prov(&b, "profile") ? prov(&b, "profile") : "?", prov(&b, "host") ? prov(&b, "host") : "?",
                 prov(&b, "started_at") ? prov(&b, "started_at") : "?");
        for (size_t i = 0; i < b.n_prov; i++) { free(b.prov[i].key); free(b.prov[i].value); }
        free(b.prov);
        QT_TRY(st);
        if (!(r->base_line = strdup(line))) return qt_fail(QT_ERR_NOMEM, "out of memory");
        QT_TRY(judge(s, r));
    }
    return QT_OK;
}

/* Free a kv list. */
static void kv_free(kv_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].key);
        free(l[i].value);
    }
    free(l);
}

/* Free everything loaded. */
static void report_free(report_t *r)
{
    for (size_t i = 0; i < r->n_rows; i++) {
        rrow_t *w = &r->row[i];
        char *p[] = {w->suite, w->name, w->variant, w->params, w->metric, w->unit};
        for (int k = 0; k < 6; k++) free(p[k]);
    }
    free(r->row);
    kv_free(r->prov, r->n_prov);
    kv_free(r->cnt, r->n_cnt);
    kv_free(r->bad, r->n_bad);
    kv_free(r->valid, r->n_valid);
    free(r->base_line);
}

/* A number cell ("-" for NaN). */
static const char *num(char *buf, size_t cap, const char *fmt, double v)
{
    if (!isfinite(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, fmt, v);
    return buf;
}

/* Provenance: one table of every field, the env.* variables that were not set in one row. */
static void write_provenance(qt_doc_t *d, const report_t *r)
{
    static const char *const head[] = {"field", "value"};
    char unset[2048] = "";
    qt_doc_heading(d, 1, "Provenance");
    qt_doc_table_begin(d, 2, "lp", head);
    for (size_t i = 0; i < r->n_prov; i++) {
        const kv_t *e = &r->prov[i];
        if (!strncmp(e->key, "env.", 4) && !strcmp(e->value, "unset")) {
            size_t used = strlen(unset);
            snprintf(unset + used, sizeof unset - used, "%s%s", used ? ", " : "", e->key + 4);
            continue;
        }
        const char *cells[] = {e->key, *e->value ? e->value : "(not given)"};
        qt_doc_table_row(d, cells);
    }
    if (*unset) {
        const char *cells[] = {"env (unset)", unset};
        qt_doc_table_row(d, cells);
    }
    qt_doc_table_end(d);
    /* counters: the available ones in one line, the others grouped by reason */
    char text[4096] = "Counters available: ";
    size_t used = strlen(text);
    int any = 0;
    for (size_t i = 0; i < r->n_cnt; i++)
        if (!*r->cnt[i].value) used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0, "%s%s",
                                                        any++ ? ", " : "", r->cnt[i].key);
    if (!any) used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0, "none");
    for (size_t i = 0; i < r->n_cnt && used < sizeof text; i++) {
        if (!*r->cnt[i].value || (i > 0 && !strcmp(r->cnt[i - 1].value, r->cnt[i].value))) continue;
        used += (size_t)snprintf(text + used, sizeof text - used, ". Unavailable (%s): ", r->cnt[i].value);
        for (size_t j = i, k = 0; j < r->n_cnt && used < sizeof text; j++)
            if (!strcmp(r->cnt[j].value, r->cnt[i].value))
                used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", k++ ? ", " : "", r->cnt[j].key);
    }
    if (used < sizeof text - 1) strcat(text, ".");
    if (r->n_cnt) qt_doc_para(d, text);
}

/* The table of rows [a, b) (one suite), with the baseline columns when there is one. */
/* 1 for a row --changes-only keeps. */
static int is_change(const rrow_t *w)
{
    return w->r.verdict == QT_VERDICT_REGRESSION || w->r.verdict == QT_VERDICT_IMPROVEMENT ||
           w->r.verdict == QT_VERDICT_CHANGED;
}

static void write_rows(qt_doc_t *d, const report_t *r, size_t a, size_t b)
{
    static const char *const head[] = {"case", "variant", "params", "metric", "unit", "n", "median", "q1", "q3",
                                       "iqr %", "out", "shape", "base median", "change", "95% interval", "verdict"};
    int cols = r->base > 0 ? 16 : 12;
    qt_doc_table_begin(d, cols, "lllllrrrrrrlrrll", head);
    for (size_t i = a; i < b; i++) {
        const rrow_t *w = &r->row[i];
        if (r->changes_only && !is_change(w)) continue;
        char n[16], med[32], q1[32], q3[32], iqr[32], base[32], change[32], ci[48], out[16];
        snprintf(n, sizeof n, "%d", w->n);
        snprintf(out, sizeof out, "%d", w->outliers);
        double spread = w->median != 0 ? (w->q3 - w->q1) / fabs(w->median) * 100 : NAN;
        const char *cells[] = {w->name, w->variant, w->params, w->metric, w->unit, n,
                               num(med, sizeof med, "%.5g", w->median), num(q1, sizeof q1, "%.5g", w->q1),
                               num(q3, sizeof q3, "%.5g", w->q3), num(iqr, sizeof iqr, "%.2f", spread), out,
                               w->bimodal ? "bimodal" : "", num(base, sizeof base, "%.5g", w->r.median_base),
                               num(change, sizeof change, "%+.1f%%", (w->r.ratio - 1) * 100),
                               qt_compare_interval_text(&w->r, ci, sizeof ci), qt_verdict_name(w->r.verdict)};
        qt_doc_table_row(d, cells);
    }
    qt_doc_table_end(d);
}

/* The cases of suite that did not finish. */
static void write_bad_cases(qt_doc_t *d, const report_t *r, const char *suite)
{
    static const char *const head[] = {"case not run to completion"};
    int any = 0;
    for (size_t i = 0; i < r->n_bad; i++) {
        if (strcmp(r->bad[i].key, suite)) continue;
        if (!any++) qt_doc_table_begin(d, 1, "p", head);
        const char *cells[] = {r->bad[i].value};
        qt_doc_table_row(d, cells);
    }
    if (any) qt_doc_table_end(d);
}

/* The baseline paragraph: which run, the test, the verdict counts. */
static void write_baseline(qt_doc_t *d, const report_t *r)
{
    int count[QT_VERDICT_COUNT] = {0};
    for (size_t i = 0; i < r->n_rows; i++) count[r->row[i].r.verdict]++;
    char text[1024];
    size_t used = (size_t)snprintf(text, sizeof text,
                                   "Baseline: %s. Verdicts by the regression gate of quintet compare (the 95%% "
                                   "hierarchical bootstrap interval of the ratio of medians against the threshold, "
                                   "confirmed by the exact Mann-Whitney test): ",
                                   r->base_line);
    for (int v = 0, k = 0; v < QT_VERDICT_COUNT && used < sizeof text; v++)
        if (count[v]) used += (size_t)snprintf(text + used, sizeof text - used, "%s%d %s", k++ ? ", " : "", count[v],
                                               qt_verdict_name(v));
    if (used < sizeof text - 1) strcat(text, ".");
    qt_doc_para(d, text);
}

/* The summary that opens the report: the run's warnings, the gate's verdict and the largest changes
 * against the baseline (regressions first), then the contents. */
static void write_summary(qt_doc_t *d, const report_t *r)
{
    qt_doc_heading(d, 1, "Summary");
    char text[1200];
    int n_warn = 0;
    for (size_t i = 0; i < r->n_prov; i++)
        if (!strncmp(r->prov[i].key, "warning.", 8)) {
            snprintf(text, sizeof text, "Warning: %s", r->prov[i].value);
            qt_doc_para(d, text);
            n_warn++;
        }
    for (size_t i = 0; i < r->n_valid; i++) {
        snprintf(text, sizeof text, "Warning (measurement validity): %s", r->valid[i].value);
        qt_doc_para(d, text);
        n_warn++;
    }
    if (!n_warn) qt_doc_para(d, "No warnings were recorded with this run (load, thread scaling, ceilings, noise), and "
                                "no bandwidth exceeds its measured ceiling.");
    if (r->base > 0) {
        int reg = 0;
        for (size_t i = 0; i < r->n_rows; i++) reg += r->row[i].r.verdict == QT_VERDICT_REGRESSION;
        snprintf(text, sizeof text, "Gate verdict against the baseline: %s (%d regression%s).",
                 reg ? "FAIL" : "pass", reg, reg == 1 ? "" : "s");
        qt_doc_para(d, text);
        /* the 8 largest significant changes, regressions first */
        size_t pick[8];
        int n = 0;
        for (int pass = 0; pass < 2 && n < 8; pass++)
            for (int k = n; k < 8; k++) {
                size_t best = (size_t)-1;
                for (size_t i = 0; i < r->n_rows; i++) {
                    const rrow_t *w = &r->row[i];
                    if (!is_change(w) || (pass == 0) != (w->r.verdict == QT_VERDICT_REGRESSION)) continue;
                    int used = 0;
                    for (int j = 0; j < n; j++) used |= pick[j] == i;
                    if (!used && (best == (size_t)-1 || fabs(w->r.ratio - 1) > fabs(r->row[best].r.ratio - 1))) best = i;
                }
                if (best == (size_t)-1) break;
                pick[n++] = best;
            }
        if (n) {
            static const char *const head[] = {"suite", "case", "variant", "params", "metric", "change", "verdict"};
            qt_doc_table_begin(d, 7, "lllplrl", head);
            for (int j = 0; j < n; j++) {
                const rrow_t *w = &r->row[pick[j]];
                char change[32];
                const char *cells[] = {w->suite, w->name, w->variant, w->params, w->metric,
                                       num(change, sizeof change, "%+.1f%%", (w->r.ratio - 1) * 100),
                                       qt_verdict_name(w->r.verdict)};
                qt_doc_table_row(d, cells);
            }
            qt_doc_table_end(d);
        } else {
            qt_doc_para(d, "No significant change against the baseline.");
        }
    }
    size_t used = (size_t)snprintf(text, sizeof text, "Contents: provenance");
    for (size_t a = 0; a < r->n_rows && used < sizeof text; a++) {
        int seen = 0;
        for (size_t k = 0; k < a && !seen; k++) seen = !strcmp(r->row[k].suite, r->row[a].suite);
        if (!seen) used += (size_t)snprintf(text + used, sizeof text - used, ", %s", r->row[a].suite);
    }
    if (used < sizeof text - 12) strcat(text, ", figures.");
    qt_doc_para(d, text);
}

/* The whole document. */
/* What a figure of `quintet plot` shows, by its file name's stem (<suite>-<figure>), for its caption. */
static const char *fig_caption(const char *name)
{
    static const char *const captions[][2] = {
        {"calibration-ceilings", "Machine ceilings of the run: bars are medians, error bars q1-q3 of the repetitions."},
        {"attention_scaling-time", "Attention time vs sequence length T (log-log), q1-q3 band; the key gives each "
                                   "fitted scaling exponent with its 95% interval."},
        {"attention_scaling-frac_sgemm", "Attention rate as a fraction of this run's all-thread SGEMM ceiling."},
        {"attention_scaling-peer_ratio", "PyTorch time over quintet time per case (above 1: quintet faster)."},
        {"lr_convergence-loss", "Training loss over steps: median over seeds with the interquartile band (log y)."},
        {"lr_convergence-peer_ratio", "PyTorch time over quintet time per optimizer step (above 1: quintet faster)."},
        {"sparsity-speedup", "Speedup of each sparse matmul path over dense vs sparsity, one panel per shape; "
                             "the line at 1 is the crossover."},
        {"sparsity-peer_ratio", "PyTorch time over quintet time per sparse matmul case (above 1: quintet faster)."},
        {"dist_throughput-busbw", "Bus bandwidth vs message size per collective and transport, with the fitted "
                                  "alpha-beta model as a thin line."},
        {"dist_throughput-loss_vs_bytes", "Training loss vs cumulative bytes sent, per gradient compression scheme."},
        {"fusion_accuracy-accuracy", "Test accuracy per fusion strategy and task: mean over seeds with its 95% "
                                     "interval; dashed line: chance."},
    };
    for (size_t i = 0; i < sizeof captions / sizeof captions[0]; i++)
        if (!strncmp(name, captions[i][0], strlen(captions[i][0]))) return captions[i][1];
    return NULL;
}

/* The figures of `suite` (file names "<suite>-..."; suite NULL: those of no suite in the report),
 * each with its caption; with d NULL only counts them. Returns how many. */
static int write_figures(qt_doc_t *d, const report_t *r, const qt_figs_t *figs, const char *suite)
{
    int count = 0;
    for (size_t i = 0; figs && i < figs->n; i++) {
        const char *name = figs->f[i].name;
        int mine;
        if (suite) {
            size_t n = strlen(suite);
            mine = !strncmp(name, suite, n) && name[n] == '-';
        } else {
            mine = 1;
            for (size_t k = 0; k < r->n_rows && mine; k++) {
                size_t n = strlen(r->row[k].suite);
                mine = !(!strncmp(name, r->row[k].suite, n) && name[n] == '-');
            }
        }
        if (!mine) continue;
        count++;
        if (!d) continue;
        const char *what = fig_caption(name);
        char caption[512];
        snprintf(caption, sizeof caption, "%s%s%s", name, what ? ": " : "", what ? what : "");
        qt_doc_figure(d, figs->f[i].link, figs->f[i].file, caption);
    }
    return count;
}

static void write_report(qt_doc_t *d, const report_t *r, const qt_figs_t *figs, const char *fig_dir)
{
    const char *profile = prov(r, "profile"), *commit = prov(r, "git_commit"), *host = prov(r, "host"),
               *started = prov(r, "started_at"), *status = prov(r, "status");
    char intro[512];
    snprintf(intro, sizeof intro, "Profile %s, commit %.12s, host %s, started %s, status %s.", profile ? profile : "?",
             commit && *commit ? commit : "?", host ? host : "?", started ? started : "?", status ? status : "?");
    qt_doc_para(d, intro);
    write_summary(d, r);
    if (r->changes_only) {
        for (size_t a = 0, b; a < r->n_rows; a = b) { /* only the suites with a change, only the changed rows */
            for (b = a + 1; b < r->n_rows && !strcmp(r->row[b].suite, r->row[a].suite);) b++;
            int any = 0;
            for (size_t k = a; k < b; k++) any |= is_change(&r->row[k]);
            if (!any) continue;
            qt_doc_heading(d, 1, r->row[a].suite);
            write_rows(d, r, a, b);
        }
        return;
    }
    write_provenance(d, r);
    if (r->base > 0) write_baseline(d, r);
    for (int pass = 0; pass < 2; pass++) { /* calibration first, then the other suites in stored order */
        for (size_t a = 0, b; a < r->n_rows; a = b) {
            for (b = a + 1; b < r->n_rows && !strcmp(r->row[b].suite, r->row[a].suite);) b++;
            int calib = !strcmp(r->row[a].suite, "calibration");
            if (calib != (pass == 0)) continue;
            int seen = 0; /* a suite split in two blocks gets one heading */
            for (size_t k = 0; k < a && !seen; k++) seen = !strcmp(r->row[k].suite, r->row[a].suite);
            if (!seen) qt_doc_heading(d, 1, calib ? "Calibration ceilings" : r->row[a].suite);
            write_rows(d, r, a, b);
            int more = 0; /* unfinished cases after the suite's last block */
            for (size_t k = b; k < r->n_rows && !more; k++) more = !strcmp(r->row[k].suite, r->row[a].suite);
            if (!more) {
                write_bad_cases(d, r, r->row[a].suite);
                write_figures(d, r, figs, r->row[a].suite); /* the suite's figures beside its table */
            }
        }
    }
    for (size_t i = 0; i < r->n_bad; i++) { /* suites with no results at all */
        int listed = 0;
        for (size_t k = 0; k < r->n_rows && !listed; k++) listed = !strcmp(r->row[k].suite, r->bad[i].key);
        for (size_t k = 0; k < i && !listed; k++) listed = !strcmp(r->bad[k].key, r->bad[i].key);
        if (listed) continue;
        qt_doc_heading(d, 1, r->bad[i].key);
        write_bad_cases(d, r, r->bad[i].key);
    }
    if (figs && (!figs->n || write_figures(NULL, r, figs, NULL))) { /* figures of no suite in the report */
        qt_doc_heading(d, 1, figs->n ? "Other figures" : "Figures");
        if (!figs->n) {
            char text[600];
            snprintf(text, sizeof text, "No .png, .svg or .pdf files in %s.", fig_dir);
            qt_doc_para(d, text);
        }
        write_figures(d, r, figs, NULL);
    }
}

/* 1 when paths a and b name the same existing file. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Write the document to out (output/outfile.h: a regular file, whole or not at all) or stdout;
 * returns an exit code. */
static int emit(const report_t *r, qt_doc_dialect_t dialect, int fragment, const char *out, const qt_figs_t *figs,
                const char *fig_dir)
{
    qt_outfile_t of;
    FILE *f = stdout;
    if (out) {
        if (qt_outfile_open(&of, out) != QT_OK) {
            fprintf(stderr, "quintet report: %s\n", qt_last_error());
            return EXIT_DB;
        }
        f = of.f;
    }
    qt_doc_t d;
    char title[200];
    const char *uuid = prov(r, "uuid");
    snprintf(title, sizeof title, "quintet report: run %lld (%.8s)", (long long)r->run, uuid ? uuid : "?");
    qt_doc_begin(&d, f, dialect, fragment, title);
    write_report(&d, r, figs, fig_dir);
    qt_doc_end(&d);
    if (out) {
        if (qt_outfile_commit(&of) != QT_OK) {
            fprintf(stderr, "quintet report: %s\n", qt_last_error());
            return EXIT_DB;
        }
        return 0;
    }
    return ferror(f) || fflush(f) != 0 ? EXIT_DB : 0;
}

/* 1 when the run has rows or unfinished cases of suite. */
static int has_suite(const report_t *r, const char *suite)
{
    for (size_t i = 0; i < r->n_rows; i++)
        if (!strcmp(r->row[i].suite, suite)) return 1;
    for (size_t i = 0; i < r->n_bad; i++)
        if (!strcmp(r->bad[i].key, suite)) return 1;
    return 0;
}

/* The command. */
int qt_cmd_report(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet report: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet report [RUN] [options]",
                      "A run's report from the database alone: provenance, calibration ceilings, per suite the\n"
                      "headline metrics (median, q1, q3, iqr%) and the cases that did not finish; --baseline adds\n"
                      "the change, its 95% interval and compare's verdict (interval beyond --threshold, exact test).\n"
                      "RUN: latest (default), latest~N, a run id, or a uuid prefix.\n"
                      "Exit status: 0 ok, 2 bad usage or unknown run, 3 database or output error.",
                      opts, N_OPTS);
        return 0;
    }
    if (a.n_pos > 1) {
        fprintf(stderr, "quintet report: one RUN at most (got %d)\n", a.n_pos);
        return EXIT_USAGE;
    }
    const char *fmt = qt_args_get(opts, N_OPTS, &a, "format"), *out = qt_args_get(opts, N_OPTS, &a, "out"),
               *base = qt_args_get(opts, N_OPTS, &a, "baseline"), *fig_dir = qt_args_get(opts, N_OPTS, &a, "figures"),
               *db = qt_args_get(opts, N_OPTS, &a, "db");
    qt_doc_dialect_t dialect;
    if (qt_doc_dialect(fmt ? fmt : "md", &dialect) != QT_OK) {
        fprintf(stderr, "quintet report: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    qt_compare_opts_t gate = QT_GATE_DEFAULTS;
    if (qt_gate_parse(qt_args_get(opts, N_OPTS, &a, "threshold"), qt_args_get(opts, N_OPTS, &a, "alpha"), &gate) !=
        QT_OK) {
        fprintf(stderr, "quintet report: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    if (!db) db = QT_DEFAULT_DB;
    if (out && (!*out || same_file(out, db))) {
        fprintf(stderr, "quintet report: --out %s: %s\n", out, *out ? "that is the database" : "needs a file name");
        return EXIT_USAGE;
    }
    qt_figs_t figs = {0};
    if (fig_dir && qt_figs_find(fig_dir, out, dialect, &figs) != QT_OK) {
        fprintf(stderr, "quintet report: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    report_t r;
    memset(&r, 0, sizeof r);
    r.gate = gate;
    r.suite = qt_args_get(opts, N_OPTS, &a, "suite");
    r.changes_only = qt_args_get(opts, N_OPTS, &a, "changes-only") != NULL;
    if (r.changes_only && !base) {
        fprintf(stderr, "quintet report: --changes-only needs --baseline RUN (the changes are against it)\n");
        qt_figs_free(&figs);
        return EXIT_USAGE;
    }
    qt_store_t *s = NULL;
    int rc = 0;
    qt_status_t st;
    if ((rc = qt_cli_open("report", db, 0, 0, &s)) || (rc = qt_cli_run("report", s, a.n_pos ? a.pos[0] : "latest", &r.run)) ||
        (base && (rc = qt_cli_run("report", s, base, &r.base)))) {
        /* the message is out */
    } else if ((st = load(s, &r)) != QT_OK) {
        rc = EXIT_DB;
        fprintf(stderr, "quintet report: %s\n", qt_last_error());
    }
    if (rc) {
        /* the message is out */
    } else if (r.suite && !has_suite(&r, r.suite)) {
        fprintf(stderr, "quintet report: run %lld has no results of suite '%s'\n", (long long)r.run, r.suite);
        rc = EXIT_USAGE;
    } else {
        rc = emit(&r, dialect, qt_args_get(opts, N_OPTS, &a, "fragment") != NULL, out, fig_dir ? &figs : NULL, fig_dir);
    }
    report_free(&r);
    qt_figs_free(&figs);
    qt_store_close(s);
    return rc;
}
