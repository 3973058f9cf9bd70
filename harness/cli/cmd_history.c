/* cmd_history.c — `quintet history`: one metric of the selected cases over every stored run,
 * one line per (case, run) with the run's start time, commit (+dirty), host, profile, the
 * number of samples, median and quartiles, the change against the case's previous run in the
 * list with compare's 95% interval of that ratio and verdict (gate.h: the hierarchical bootstrap
 * interval against --threshold, confirmed by the exact test), so a regression shows at the run it
 * entered; then the series as a whole: PELT change points over the log run medians
 * (analysis/changepoint.h) with the level ratio of each step, and a slow creep that no single step
 * shows, each named by the run and commit where it began. The noise sigma of the series is
 * estimated robustly from it, or with --baseline-runs N from the spread of the case's first N
 * runs listed. Output through the row model (output/rows.h: table, csv, json).
 * Cases are chosen by --suite/--case/--variant (exact), --params k=v[,k=v] (every pair among
 * the case's parameters) and --filter (POSIX ERE over suite/case/variant/params, as in `run`);
 * runs by --host and --profile; --last N keeps each case's N most recent runs (each is still
 * judged against the run before it, and change points use the whole series). Exit status: 0 ok,
 * 2 bad usage or nothing matches (the message lists what the database holds), 3 database error.
 * Run `quintet history --help`; tested by tests/harness/test_report.c and test_gate.c. */
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "analysis/changepoint.h"
#include "analysis/gate.h"
#include "analysis/stats.h"
#include "output/output.h"
#include "output/rows.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
    {"metric", "NAME", "the metric (default time_s)"},
    {"suite", "NAME", "only this suite"},
    {"case", "NAME", "only cases of this name"},
    {"variant", "NAME", "only this variant (backend)"},
    {"params", "K=V,...", "only cases having every one of these parameters"},
    {"filter", "REGEX", "only cases whose suite/case/variant/params match (POSIX ERE)"},
    {"host", "H", "only runs on this host"},
    {"profile", "P", "only runs of this profile"},
    {"last", "N", "only each case's N most recent runs"},
    {"threshold", "FRAC", "the gate's minimum effect |new/prev - 1| (default 0.05 = 5%)"},
    {"alpha", "A", "the gate's significance level (default 0.05; intervals at 1 - A)"},
    {"baseline-runs", "N", "noise of the change points from the case's first N runs listed (default: robust, from the series)"},
    {"format", "F", "table | csv | json (default table)"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

enum { EXIT_USAGE = 2, EXIT_DB = 3 };

/* One (case, run) line. */
typedef struct {
    char *suite, *name, *variant, *params, *unit, *started, *commit, *host, *profile;
    int64_t run_id, case_id;
    int n, dirty, first; /* first: no earlier run of this case in the list */
    int shown;           /* among the case's --last N runs */
    double median, q1, q3;
    qt_compare_result_t r;
    char step[64];       /* a change point starts here: "+12.0% regression"; or "creep +31% begins" */
} hrow_t;

/* The selection in C (what SQL does not filter) and the rows kept. */
typedef struct {
    const char *params;
    regex_t *re;
    long long last; /* --last N, 0 for all */
    long long baseline_runs; /* --baseline-runs N, 0: robust noise from the series */
    hrow_t *row;
    size_t n, cap;
    int failed;
} hist_t;

/* strdup of s, "" for NULL; sets *failed on allocation failure. */
static char *dup_text(const char *s, int *failed)
{
    char *d = strdup(s ? s : "");
    if (!d) *failed = 1;
    return d;
}

/* 1 when every k=v of want is one of the case's comma-separated parameters. */
static int has_params(const char *have, const char *want)
{
    while (want && *want) {
        size_t len = strcspn(want, ",");
        const char *p = have;
        int found = 0;
        while (p && *p && !found) {
            size_t l = strcspn(p, ",");
            found = l == len && !strncmp(p, want, len);
            p += l + (p[l] == ',');
        }
        if (len && !found) return 0;
        want += len + (want[len] == ',');
    }
    return 1;
}

/* 1 when the case passes --filter (the regex over suite/case/variant/params). */
static int filter_match(regex_t *re, const qt_stat_row_t *s)
{
    if (!re) return 1;
    size_t len = strlen(s->suite) + strlen(s->name) + strlen(s->variant ? s->variant : "") +
                 strlen(s->params ? s->params : "") + 4;
    char *key = malloc(len);
    if (!key) return 0;
    snprintf(key, len, "%s/%s/%s/%s", s->suite, s->name, s->variant ? s->variant : "", s->params ? s->params : "");
    int m = regexec(re, key, 0, NULL, 0) == 0;
    free(key);
    return m;
}

/* foreach_history callback: keep the rows that pass --params and --filter. */
static int keep_row(void *arg, const qt_history_row_t *h)
{
    hist_t *hs = arg;
    const qt_stat_row_t *s = &h->stat;
    if (!has_params(s->params ? s->params : "", hs->params) || !filter_match(hs->re, s)) return 0;
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? 2 * hs->cap : 64;
        hrow_t *r = realloc(hs->row, cap * sizeof *r);
        if (!r) return hs->failed = 1;
        hs->row = r;
        hs->cap = cap;
    }
    hrow_t *r = &hs->row[hs->n++];
    memset(r, 0, sizeof *r);
    int *f = &hs->failed;
    r->suite = dup_text(s->suite, f);
    r->name = dup_text(s->name, f);
    r->variant = dup_text(s->variant, f);
    r->params = dup_text(s->params, f);
    r->unit = dup_text(s->unit, f);
    r->started = dup_text(h->started_at, f);
    r->commit = dup_text(h->git_commit, f);
    r->host = dup_text(h->host, f);
    r->profile = dup_text(h->profile, f);
    r->run_id = s->run_id;
    r->case_id = s->case_id;
    r->n = s->n;
    r->dirty = h->git_dirty;
    r->median = s->median;
    r->q1 = s->q1;
    r->q3 = s->q3;
    return hs->failed;
}

/* 1 when rows a and b are the same case. */
static int same_case(const hrow_t *a, const hrow_t *b)
{
    return !strcmp(a->suite, b->suite) && !strcmp(a->name, b->name) && !strcmp(a->variant, b->variant) &&
           !strcmp(a->params, b->params);
}

/* Mark the rows --last keeps: each case's last N (rows come grouped by case, oldest first). */
static void mark_shown(hist_t *hs)
{
    for (size_t a = 0, b; a < hs->n; a = b) {
        for (b = a + 1; b < hs->n && same_case(&hs->row[a], &hs->row[b]);) b++;
        size_t from = hs->last > 0 && (size_t)hs->last < b - a ? b - (size_t)hs->last : a;
        for (size_t i = a; i < b; i++) hs->row[i].shown = i >= from;
    }
}

/* Judge every row against the row before it of the same case (rows come grouped by case). */
static qt_status_t judge(qt_store_t *s, hist_t *hs, const char *metric, const qt_compare_opts_t *o)
{
    for (size_t i = 0; i < hs->n; i++) {
        hrow_t *r = &hs->row[i];
        r->first = i == 0 || !same_case(&hs->row[i - 1], r);
        if (!r->shown) continue;
        if (r->first) {
            r->r.ratio = r->r.p = NAN;
            r->r.verdict = QT_VERDICT_ADDED;
        } else {
            QT_TRY(qt_gate_cases(s, hs->row[i - 1].case_id, r->case_id, metric, o, &r->r));
        }
    }
    return QT_OK;
}

/* Change points of each case's whole series (rows come grouped by case, oldest first): the
 * step text of the rows where a level begins, and the creep. */
static qt_status_t find_steps(hist_t *hs, const char *metric, const qt_compare_opts_t *o)
{
    double *m = malloc((hs->n + 1) * sizeof *m);
    if (!m) return qt_fail(QT_ERR_NOMEM, "out of memory");
    qt_status_t st = QT_OK;
    int dir = qt_metric_direction(metric);
    for (size_t a = 0, b; a < hs->n && st == QT_OK; a = b) {
        for (b = a + 1; b < hs->n && same_case(&hs->row[a], &hs->row[b]);) b++;
        for (size_t i = a; i < b; i++) m[i - a] = hs->row[i].median;
        double sigma = NAN;
        if (hs->baseline_runs >= 2 && (size_t)hs->baseline_runs <= b - a) {
            double y[1000];
            size_t k = (size_t)hs->baseline_runs < 1000 ? (size_t)hs->baseline_runs : 1000;
            for (size_t i = 0; i < k; i++) y[i] = m[i] > 0 ? log(m[i]) : NAN;
            qt_summary_t sum;
            qt_summarize(y, k, &sum);
            sigma = sum.stddev;
        }
        qt_cp_result_t cp;
        st = qt_cp_analyze(m, b - a, dir, o->threshold, sigma, &cp);
        for (size_t k = 0; st == QT_OK && k < cp.n_steps; k++)
            snprintf(hs->row[a + cp.step[k].at].step, sizeof hs->row[0].step, "%+.1f%% %s",
                     (cp.step[k].ratio - 1) * 100, qt_verdict_name((qt_verdict_t)cp.step[k].verdict));
        if (st == QT_OK && cp.creep) {
            hrow_t *r = &hs->row[a + cp.creep_from];
            size_t len = strlen(r->step);
            snprintf(r->step + len, sizeof r->step - len, "%screep %+.1f%% begins", len ? ", " : "",
                     (cp.creep_ratio - 1) * 100);
        }
    }
    free(m);
    return st;
}

/* A distinct-value list for the "what exists" message. */
typedef struct {
    char text[1024];
    int n;
} names_t;

/* Add name to the list unless it is there already (the list is cut when full). */
static void names_add(names_t *l, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = l->text; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 2 : 0))
        if (strcspn(p, ",") == len && !strncmp(p, name, len)) return;
    size_t used = strlen(l->text);
    if (used + len + 8 < sizeof l->text) snprintf(l->text + used, sizeof l->text - used, "%s%s", used ? ", " : "", name);
    else if (!strstr(l->text, ", ...")) snprintf(l->text + used, sizeof l->text - used, ", ...");
    l->n++;
}

/* What the database holds around an empty selection. */
typedef struct {
    const qt_history_sel_t *sel;
    names_t suites, cases, variants, metrics, keys;
    int suite_ok, case_ok, variant_ok;
} exists_t;

/* foreach_key callback: collect the names a user could have meant. */
static int collect_key(void *arg, const char *suite, const char *name, const char *variant, const char *params,
                       const char *metric)
{
    exists_t *e = arg;
    const qt_history_sel_t *sel = e->sel;
    names_add(&e->suites, suite);
    if (sel->suite && strcmp(sel->suite, suite)) return 0;
    e->suite_ok = 1;
    names_add(&e->cases, name);
    if (sel->name && strcmp(sel->name, name)) return 0;
    e->case_ok = 1;
    names_add(&e->variants, variant && *variant ? variant : "''");
    if (sel->variant && strcmp(sel->variant, variant ? variant : "")) return 0;
    e->variant_ok = 1;
    names_add(&e->metrics, metric);
    if (strcmp(sel->metric, metric)) return 0;
    char key[512];
    snprintf(key, sizeof key, "%s/%s/%s/%s", suite, name, variant ? variant : "", params ? params : "");
    names_add(&e->keys, key);
    return 0;
}

/* Nothing matched: say which part of the selection is unknown and what exists. */
static int explain_empty(qt_store_t *s, const qt_history_sel_t *sel)
{
    exists_t e;
    memset(&e, 0, sizeof e);
    e.sel = sel;
    if (qt_store_foreach_key(s, collect_key, &e) != QT_OK) {
        fprintf(stderr, "quintet history: %s\n", qt_last_error());
        return EXIT_DB;
    }
    const char *p = "quintet history: ";
    if (!e.suites.n) fprintf(stderr, "%sthe database holds no results yet (run `quintet run` first)\n", p);
    else if (!e.suite_ok) fprintf(stderr, "%sunknown suite '%s'; suites stored: %s\n", p, sel->suite, e.suites.text);
    else if (!e.case_ok) fprintf(stderr, "%sunknown case '%s'; cases stored%s%s: %s\n", p, sel->name,
                                 sel->suite ? " in suite " : "", sel->suite ? sel->suite : "", e.cases.text);
    else if (!e.variant_ok) fprintf(stderr, "%sunknown variant '%s'; variants stored: %s\n", p, sel->variant,
                                    e.variants.text);
    else if (!e.keys.n) fprintf(stderr, "%sunknown metric '%s' for the selected cases; metrics stored: %s\n", p,
                                sel->metric, e.metrics.text);
    else fprintf(stderr, "%sno stored case with metric '%s' matches the --params/--filter/--host/--profile given; "
                         "cases with it: %s\n", p, sel->metric, e.keys.text);
    return EXIT_USAGE;
}

/* Columns: table-only text forms next to the csv/json values. */
enum {
    H_SUITE, H_CASE, H_VARIANT, H_PARAMS, H_METRIC, H_UNIT, H_RUN, H_STARTED, H_COMMITT, H_COMMIT, H_DIRTY,
    H_HOST, H_PROFILE, H_N, H_MEDIAN, H_Q1, H_Q3, H_CHANGE, H_RATIO, H_CI, H_LO, H_HI, H_P, H_VERDICT, H_STEP,
    H_NOTE, H_COUNT
};
#define MACHINE (QT_IN_CSV | QT_IN_JSON)
static const qt_col_t hcols[H_COUNT] = {
    [H_SUITE] = {"suite", QT_CELL_TEXT, 0, NULL, MACHINE},
    [H_CASE] = {"case", QT_CELL_TEXT, 0, NULL, MACHINE},
    [H_VARIANT] = {"variant", QT_CELL_TEXT, 0, NULL, MACHINE},
    [H_PARAMS] = {"params", QT_CELL_TEXT, 0, NULL, MACHINE},
    [H_METRIC] = {"metric", QT_CELL_TEXT, 0, NULL, MACHINE},
    [H_UNIT] = {"unit", QT_CELL_TEXT, 0, NULL, MACHINE},
    [H_RUN] = {"run_id", QT_CELL_INT, 6, NULL, QT_IN_ALL},
    [H_STARTED] = {"started_at", QT_CELL_TEXT, 24, NULL, QT_IN_ALL},
    [H_COMMITT] = {"commit", QT_CELL_TEXT, 18, NULL, QT_IN_TABLE},
    [H_COMMIT] = {"git_commit", QT_CELL_TEXT, 0, NULL, MACHINE},
    [H_DIRTY] = {"git_dirty", QT_CELL_INT, 0, NULL, MACHINE},
    [H_HOST] = {"host", QT_CELL_TEXT, 12, NULL, QT_IN_ALL},
    [H_PROFILE] = {"profile", QT_CELL_TEXT, 8, NULL, QT_IN_ALL},
    [H_N] = {"n", QT_CELL_INT, 4, NULL, QT_IN_ALL},
    [H_MEDIAN] = {"median", QT_CELL_NUM, 12, ".5g", QT_IN_ALL},
    [H_Q1] = {"q1", QT_CELL_NUM, 12, ".5g", QT_IN_ALL},
    [H_Q3] = {"q3", QT_CELL_NUM, 12, ".5g", QT_IN_ALL},
    [H_CHANGE] = {"change", QT_CELL_TEXT, 8, NULL, QT_IN_TABLE},
    [H_RATIO] = {"ratio_prev", QT_CELL_NUM, 0, NULL, MACHINE},
    [H_CI] = {"ci95", QT_CELL_TEXT, 17, NULL, QT_IN_TABLE},
    [H_LO] = {"ci_lo", QT_CELL_NUM, 0, NULL, MACHINE},
    [H_HI] = {"ci_hi", QT_CELL_NUM, 0, NULL, MACHINE},
    [H_P] = {"p_prev", QT_CELL_NUM, 0, NULL, MACHINE},
    [H_VERDICT] = {"verdict", QT_CELL_TEXT, 12, NULL, QT_IN_ALL},
    [H_STEP] = {"step", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    [H_NOTE] = {"note", QT_CELL_TEXT, 0, NULL, MACHINE},
};

typedef struct {
    char commit[40], change[32], ci[48];
} htext_t;

/* The cells of row r (texts point into t). */
static void history_cells(const hrow_t *r, const char *metric, htext_t *t, qt_cell_t *c)
{
    memset(c, 0, H_COUNT * sizeof *c);
    c[H_SUITE].text = r->suite;
    c[H_CASE].text = r->name;
    c[H_VARIANT].text = r->variant;
    c[H_PARAMS].text = r->params;
    c[H_METRIC].text = metric;
    c[H_UNIT].text = r->unit;
    c[H_RUN].i = r->run_id;
    c[H_STARTED].text = r->started;
    snprintf(t->commit, sizeof t->commit, "%.12s%s", *r->commit ? r->commit : "?", r->dirty == 1 ? "+dirty" : "");
    c[H_COMMITT].text = t->commit;
    c[H_COMMIT].text = r->commit;
    c[H_DIRTY].i = r->dirty;
    c[H_HOST].text = r->host;
    c[H_PROFILE].text = r->profile;
    c[H_N].i = r->n;
    c[H_MEDIAN].num = r->median;
    c[H_Q1].num = r->q1;
    c[H_Q3].num = r->q3;
    if (r->first || !isfinite(r->r.ratio)) snprintf(t->change, sizeof t->change, "-");
    else snprintf(t->change, sizeof t->change, "%+.1f%%", (r->r.ratio - 1) * 100);
    c[H_CHANGE].text = t->change;
    c[H_RATIO].num = r->first ? NAN : r->r.ratio;
    c[H_CI].text = r->first ? "-" : qt_compare_interval_text(&r->r, t->ci, sizeof t->ci);
    c[H_LO].num = r->first ? NAN : r->r.ci_lo;
    c[H_HI].num = r->first ? NAN : r->r.ci_hi;
    c[H_P].num = r->first ? NAN : r->r.p;
    c[H_VERDICT].text = r->first ? "-" : qt_verdict_name(r->r.verdict);
    c[H_STEP].text = r->step;
    c[H_NOTE].text = r->first ? "" : r->r.note;
}

/* The rows: in table form a title line and a table per case; csv and json one table. */
static void print_rows(const hist_t *hs, const char *metric, qt_fmt_t fmt)
{
    qt_rows_t out;
    htext_t t;
    qt_cell_t c[H_COUNT];
    if (fmt == QT_FMT_JSON) {
        printf("{\n  \"metric\": ");
        qt_out_json_str(metric);
        printf(",\n  \"rows\": [");
    }
    qt_rows_init(&out, fmt, hcols, H_COUNT);
    for (size_t i = 0; i < hs->n; i++) {
        const hrow_t *r = &hs->row[i];
        if (!r->shown) continue;
        if (fmt == QT_FMT_TABLE && (i == 0 || !hs->row[i - 1].shown || !same_case(&hs->row[i - 1], r))) {
            printf("%s%s %s%s%s%s%s: %s [%s]\n", i ? "\n" : "", r->suite, r->name, *r->variant ? "/" : "", r->variant,
                   *r->params ? " " : "", r->params, metric, r->unit);
            qt_rows_init(&out, fmt, hcols, H_COUNT); /* the header again for each case */
        }
        history_cells(r, metric, &t, c);
        qt_rows_add(&out, c);
    }
    if (fmt == QT_FMT_JSON) printf("\n  ]\n}\n");
}

/* Parse --format and --last; returns an exit code or -1 to go on. */
static int parse_opts(const qt_args_t *a, int *format, long long *last)
{
    const char *f = qt_args_get(opts, N_OPTS, a, "format"), *l = qt_args_get(opts, N_OPTS, a, "last");
    qt_fmt_t fmt = QT_FMT_TABLE;
    if (f && qt_fmt_parse(f, &fmt) != QT_OK) {
        fprintf(stderr, "quintet history: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    *format = (int)fmt;
    *last = 0;
    if (l && qt_args_int("--last", l, 1, 1000000000, last) != QT_OK) {
        fprintf(stderr, "quintet history: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    return -1;
}

/* Free the rows. */
static void free_rows(hist_t *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        hrow_t *r = &hs->row[i];
        char *s[] = {r->suite, r->name, r->variant, r->params, r->unit, r->started, r->commit, r->host, r->profile};
        for (int k = 0; k < 9; k++) free(s[k]);
    }
    free(hs->row);
}

/* After the table: each run where a regression entered, and the p-value floor warning. */
static void print_notes(const hist_t *hs, int format, double alpha)
{
    int floor = 0;
    for (size_t i = 0; i < hs->n; i++) {
        const hrow_t *r = &hs->row[i];
        if (!r->shown || r->first) continue;
        floor += r->r.p_floor && r->r.interval_verdict != QT_VERDICT_UNCHANGED;
        if (format == QT_FMT_TABLE && *r->step && (strstr(r->step, "regression") || strstr(r->step, "creep")))
            printf("change point at run %lld (commit %.12s%s, %s) in %s %s%s%s%s%s: %s\n", (long long)r->run_id,
                   *r->commit ? r->commit : "?", r->dirty == 1 ? "+dirty" : "", r->started, r->suite, r->name,
                   *r->variant ? "/" : "", r->variant, *r->params ? " " : "", r->params, r->step);
        if (format == QT_FMT_TABLE && r->r.verdict == QT_VERDICT_REGRESSION)
            printf("regression entered at run %lld (commit %.12s%s, %s) in %s %s%s%s%s%s: %+.1f%% against run %lld\n",
                   (long long)r->run_id, *r->commit ? r->commit : "?",
                   r->dirty == 1 ? "+dirty" : "", r->started, r->suite, r->name, *r->variant ? "/" : "", r->variant,
                   *r->params ? " " : "", r->params, (r->r.ratio - 1) * 100, (long long)hs->row[i - 1].run_id);
    }
    if (floor)
        fprintf(stderr, "quintet history: warning: %d row%s moved beyond the threshold but had too few repetitions "
                        "or invocations to reach p < %g (3 against 3 gives at best p = 0.1)\n",
                floor, floor == 1 ? "" : "s", alpha);
}

/* The command. */
int qt_cmd_history(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet history: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet history [options]",
                      "One metric of the selected cases over every stored run, oldest first: run, start time, commit,\n"
                      "host, profile, n, median, q1, q3, the change against the case's previous run listed with its\n"
                      "95% interval and compare's verdict; then change points of the whole series (PELT on the log\n"
                      "medians) and slow creeps, named by the run and commit where they began.\n"
                      "Exit status: 0 ok, 2 bad usage or nothing matches, 3 database error.",
                      opts, N_OPTS);
        return 0;
    }
    if (a.n_pos) {
        fprintf(stderr, "quintet history: unexpected argument '%s' (select cases with --suite, --case, --variant, "
                        "--params, --filter)\n", a.pos[0]);
        return EXIT_USAGE;
    }
    int format;
    long long last;
    int rc = parse_opts(&a, &format, &last);
    if (rc >= 0) return rc;
    const char *metric = qt_args_get(opts, N_OPTS, &a, "metric");
    qt_history_sel_t sel = {metric ? metric : "time_s", qt_args_get(opts, N_OPTS, &a, "suite"),
                            qt_args_get(opts, N_OPTS, &a, "case"), qt_args_get(opts, N_OPTS, &a, "variant"),
                            qt_args_get(opts, N_OPTS, &a, "host"), qt_args_get(opts, N_OPTS, &a, "profile")};
    if (!*sel.metric) {
        fprintf(stderr, "quintet history: --metric needs a metric name\n");
        return EXIT_USAGE;
    }
    regex_t re;
    const char *filter = qt_args_get(opts, N_OPTS, &a, "filter");
    if (filter) {
        int e = regcomp(&re, filter, REG_EXTENDED | REG_NOSUB);
        if (e) {
            char msg[200];
            regerror(e, &re, msg, sizeof msg);
            fprintf(stderr, "quintet history: bad --filter regex '%s': %s\n", filter, msg);
            return EXIT_USAGE;
        }
    }
    qt_compare_opts_t gate = QT_GATE_DEFAULTS;
    if (qt_gate_parse(qt_args_get(opts, N_OPTS, &a, "threshold"), qt_args_get(opts, N_OPTS, &a, "alpha"), &gate) != QT_OK) {
        fprintf(stderr, "quintet history: %s\n", qt_last_error());
        if (filter) regfree(&re);
        return EXIT_USAGE;
    }
    long long baseline_runs = 0;
    const char *br = qt_args_get(opts, N_OPTS, &a, "baseline-runs");
    if (br && qt_args_int("--baseline-runs", br, 2, 1000, &baseline_runs) != QT_OK) {
        fprintf(stderr, "quintet history: %s\n", qt_last_error());
        if (filter) regfree(&re);
        return EXIT_USAGE;
    }
    hist_t hs = {qt_args_get(opts, N_OPTS, &a, "params"), filter ? &re : NULL, last, baseline_runs, NULL, 0, 0, 0};
    const char *db = qt_args_get(opts, N_OPTS, &a, "db");
    qt_store_t *s = NULL;
    qt_status_t st = qt_store_open(db ? db : QT_DEFAULT_DB, 0, 0, &s);
    if (st == QT_OK) st = qt_store_foreach_history(s, &sel, keep_row, &hs);
    if (st == QT_OK && hs.failed) st = qt_fail(QT_ERR_NOMEM, "out of memory reading the history");
    if (st == QT_OK && hs.n) {
        mark_shown(&hs);
        st = judge(s, &hs, sel.metric, &gate);
        if (st == QT_OK) st = find_steps(&hs, sel.metric, &gate);
    }
    if (st != QT_OK) {
        fprintf(stderr, "quintet history: %s\n", qt_last_error());
        rc = EXIT_DB;
    } else if (!hs.n) {
        rc = explain_empty(s, &sel);
    } else {
        print_rows(&hs, sel.metric, (qt_fmt_t)format);
        print_notes(&hs, format, gate.alpha);
        rc = 0;
    }
    free_rows(&hs);
    if (filter) regfree(&re);
    qt_store_close(s);
    return rc;
}
