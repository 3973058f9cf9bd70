/* cmd_show.c — `quintet show [RUN] [--format table|csv|json]`: one row per case
 * and metric of a run (default: the latest) with suite, case, variant,
 * parameters, metric, unit, repetitions, median and spread (quartiles and the
 * interquartile range relative to the median), the Tukey-fence outliers among the repetitions
 * and a bimodality flag (stats.h). The table and JSON forms also give the measurement-validity
 * warnings (analysis/validity.h: a bandwidth above this run's measured ceiling). The table form starts with the
 * run's provenance, its stored warnings and counter availability. By default the
 * per-iteration counters (papi.*, sde.*, rusage.*) and bookkeeping metrics are left
 * out; --all shows them. JSON values are typed (numbers as numbers, null for none);
 * --samples adds each row's raw repetitions. `--format gbench-json` writes Google
 * Benchmark's JSON instead (output/gbjson.h). An iqr% of a zero median reads "–";
 * steps_to_target and time_to_target_s are empty when at most half the seeds reached
 * the target (their median would be a censored value).
 * Exit status: 0, 2 bad usage (unknown run, suite or metric: the ones that exist are
 * listed; a missing database file), 3 database error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "analysis/compare.h"
#include "analysis/stats.h"
#include "analysis/validity.h"
#include "output/gbjson.h"
#include "output/output.h"
#include "output/rows.h"
#include "output/summary.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
    {"format", "F", "table | csv | json | gbench-json (default table)"},
    {"suite", "NAME", "only this suite"},
    {"metric", "NAME", "only this metric"},
    {"all", NULL, "include counters (papi.*, sde.*, rusage.*) and bookkeeping metrics"},
    {"samples", NULL, "json/csv: add each row's raw repetitions (\"samples\": [...])"},
    {"summary", NULL, "one screen: warnings, ceilings, headline ratios per suite and their targets, slowest cases, failures"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

enum { FMT_TABLE = QT_FMT_TABLE, FMT_CSV = QT_FMT_CSV, FMT_JSON = QT_FMT_JSON };

/* The result rows: one row model for the three formats (output/rows.h). */
static const qt_col_t cols[] = {
    {"run_id", QT_CELL_INT, 0, NULL, QT_IN_CSV},
    {"suite", QT_CELL_TEXT, 18, NULL, QT_IN_ALL},
    {"case", QT_CELL_TEXT, 16, NULL, QT_IN_ALL},
    {"variant", QT_CELL_TEXT, 7, NULL, QT_IN_ALL},
    {"params", QT_CELL_TEXT, 34, NULL, QT_IN_ALL},
    {"metric", QT_CELL_TEXT, 22, NULL, QT_IN_ALL},
    {"unit", QT_CELL_TEXT, 9, NULL, QT_IN_ALL},
    {"n", QT_CELL_INT, 3, NULL, QT_IN_ALL},
    {"median", QT_CELL_NUM, 12, ".5g", QT_IN_ALL},
    {"mean", QT_CELL_NUM, 0, NULL, QT_IN_CSV | QT_IN_JSON},
    {"stddev", QT_CELL_NUM, 0, NULL, QT_IN_CSV | QT_IN_JSON},
    {"min", QT_CELL_NUM, 0, NULL, QT_IN_CSV | QT_IN_JSON},
    {"max", QT_CELL_NUM, 0, NULL, QT_IN_CSV | QT_IN_JSON},
    {"q1", QT_CELL_NUM, 12, ".5g", QT_IN_ALL},
    {"q3", QT_CELL_NUM, 12, ".5g", QT_IN_ALL},
    {"iqr%", QT_CELL_NUM, 7, ".2f", QT_IN_TABLE},
    {"outliers", QT_CELL_INT, 3, NULL, QT_IN_ALL},
    {"shape", QT_CELL_TEXT, 7, NULL, QT_IN_ALL},
    {"status", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
    {"samples", QT_CELL_NUMS, 0, NULL, QT_IN_CSV | QT_IN_JSON},
};
#define N_COLS ((int)(sizeof cols / sizeof cols[0]))

typedef struct {
    int format, all, samples;
    const char *suite, *metric;
    qt_rows_t out;
    qt_store_t *store;
    int64_t reached_case;  /* the case whose `reached` median was last seen */
    double reached_mean;   /* its mean (fraction of seeds that reached the target) */
    double *vals;          /* --samples: the row's raw values */
    int n_vals, cap_vals;
    const char *want_metric;
} show_t;

/* --samples: collect the raw values of the wanted metric. */
static int collect_sample(void *arg, const qt_sample_t *x)
{
    show_t *sh = arg;
    if (strcmp(x->metric, sh->want_metric)) return 0;
    if (sh->n_vals == sh->cap_vals) {
        int cap = sh->cap_vals ? 2 * sh->cap_vals : 16;
        double *v = realloc(sh->vals, (size_t)cap * sizeof *v);
        if (!v) return 1;
        sh->vals = v;
        sh->cap_vals = cap;
    }
    sh->vals[sh->n_vals++] = x->value;
    return 0;
}

/* 1 for metrics censored at the budget when the target was not reached (lr_convergence). */
static int censored_metric(const char *metric)
{
    return !strcmp(metric, "steps_to_target") || !strcmp(metric, "time_to_target_s");
}

/* One row. */
static int show_row(void *arg, const qt_stat_row_t *row)
{
    show_t *sh = arg;
    if (!strcmp(row->metric, "reached")) {
        sh->reached_case = row->case_id;
        sh->reached_mean = row->mean;
    }
    if (sh->suite && strcmp(sh->suite, row->suite)) return 0;
    if (sh->metric && strcmp(sh->metric, row->metric)) return 0;
    if (!sh->all && !sh->metric && qt_metric_is_bookkeeping(row->metric)) return 0;
    double spread = row->median != 0 ? (row->q3 - row->q1) / fabs(row->median) * 100.0 : NAN;
    qt_stat_row_t r = *row;
    if (censored_metric(row->metric) && sh->reached_case == row->case_id && !(sh->reached_mean > 0.5))
        r.median = r.mean = r.stddev = r.min = r.max = r.q1 = r.q3 = spread = NAN;
    row = &r;
    sh->n_vals = 0;
    sh->want_metric = row->metric;
    if (qt_store_foreach_sample(sh->store, row->case_id, collect_sample, sh) != QT_OK) return 1;
    int outliers = qt_tukey_outliers(sh->vals, (size_t)sh->n_vals), bimodal = qt_bimodal(sh->vals, (size_t)sh->n_vals, NULL);
    const qt_cell_t cells[N_COLS] = {
        {.i = row->run_id},    {.text = row->suite},   {.text = row->name},  {.text = row->variant},
        {.text = row->params}, {.text = row->metric},  {.text = row->unit},  {.i = row->n},
        {.num = row->median},  {.num = row->mean},     {.num = row->stddev}, {.num = row->min},
        {.num = row->max},     {.num = row->q1},       {.num = row->q3},     {.num = spread},
        {.i = outliers},       {.text = bimodal ? "bimodal" : ""},           {.text = row->status},
        {.nums = sh->vals, .n_nums = sh->n_vals},
    };
    qt_rows_add(&sh->out, cells);
    return 0;
}

typedef struct {
    int format, n;
} prov_t;

/* Table form: the cases that did not finish ok, with their reason. */
static int show_not_ok(void *arg, const qt_case_row_t *row)
{
    int *n = arg;
    if (!strcmp(row->status, "ok")) return 0;
    if ((*n)++ == 0) printf("\ncases not run to completion:\n");
    printf("  %-18s %-16s %-7s %-34s %-8s %s\n", row->suite, row->name, row->variant, row->params, row->status,
           row->message ? row->message : "");
    return 0;
}

/* One provenance field; an empty one says "(not given)". Warnings come in their own list. */
static int show_prov(void *arg, const char *key, const char *value)
{
    prov_t *p = arg;
    static const char *const numeric[] = {"run_id", "seed", "repetitions", "git_dirty", "cores", "threads",
                                          "cpu_mhz", "pid"};
    if (p->format == FMT_TABLE && !strncmp(key, "warning.", 8)) return 0;
    if (p->format == FMT_TABLE) printf("  %-26s %s\n", key, value && *value ? value : "(not given)");
    else {
        printf("%s\n    ", p->n ? "," : "");
        qt_out_json_str(key);
        printf(": ");
        int num = 0;
        for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) num |= !strcmp(key, numeric[i]);
        if (!value || !*value) printf("null");
        else if (num) fputs(value, stdout);
        else qt_out_json_str(value);
    }
    p->n++;
    return 0;
}

/* One counter availability row. */
static int show_counter(void *arg, const char *event, int available, const char *reason)
{
    prov_t *p = arg;
    if (p->format == FMT_TABLE) printf("  %-30s %s%s\n", event, available ? "available" : "unavailable: ", available ? "" : reason);
    else {
        printf("%s\n    {\"event\": ", p->n ? "," : "");
        qt_out_json_str(event);
        printf(", \"available\": %s, \"reason\": ", available ? "true" : "false");
        if (available) printf("null");
        else qt_out_json_str(reason);
        printf("}");
    }
    p->n++;
    return 0;
}

/* A validity warning (analysis/validity.h): table "  ! text" under the warnings, JSON a string. */
static int show_validity(void *arg, const char *text)
{
    prov_t *p = arg;
    if (p->format == FMT_TABLE) printf("%s  ! %s\n", p->n++ ? "" : "measurement validity:\n", text);
    else {
        printf("%s\n    ", p->n++ ? "," : "");
        qt_out_json_str(text);
    }
    return 0;
}

/* The run's stored warnings (provenance keys warning.*), as their own list. */
static int show_warning(void *arg, const char *key, const char *value)
{
    int *n = arg;
    if (strncmp(key, "warning.", 8)) return 0;
    if ((*n)++ == 0) printf("warnings:\n");
    printf("  ! %s\n", value ? value : "");
    return 0;
}

typedef struct {
    int metrics;       /* 0: list suites; 1: metrics (of `suite` when not NULL) */
    const char *suite;
    int n;
    char last[4096];   /* " name name ... ": listed so far, to list each once */
} list_t;

/* Print each distinct suite (or metric of the suite) once, on stderr. */
static int list_names(void *arg, const qt_stat_row_t *row)
{
    list_t *l = arg;
    if (l->suite && strcmp(l->suite, row->suite)) return 0;
    const char *name = l->metrics ? row->metric : row->suite;
    char key[128];
    snprintf(key, sizeof key, " %s ", name);
    if (strstr(l->last, key)) return 0;
    size_t len = strlen(l->last);
    snprintf(l->last + len, sizeof l->last - len, "%s ", name);
    fprintf(stderr, "%s%s", l->n++ ? ", " : "  ", name);
    return 0;
}

typedef struct {
    const char *suite, *metric;
    int suite_seen, metric_seen;
} sel_t;

/* Note whether the selected suite and metric occur. */
static int see_selection(void *arg, const qt_stat_row_t *row)
{
    sel_t *x = arg;
    if (x->suite && strcmp(x->suite, row->suite)) return 0;
    x->suite_seen = 1;
    x->metric_seen |= !x->metric || !strcmp(x->metric, row->metric);
    return 0;
}

/* 0 when --suite and --metric select something in the run; else lists what it has and returns 2. */
static int check_selection(qt_store_t *s, int64_t run, const char *suite, const char *metric)
{
    sel_t x = {suite, metric, 0, 0};
    if (qt_store_foreach_stat(s, run, see_selection, &x) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        return 3;
    }
    if (x.suite_seen && x.metric_seen) return 0;
    int bad_suite = suite && !x.suite_seen;
    fprintf(stderr, "quintet show: run %lld has no %s '%s'; its %s:\n", (long long)run,
            bad_suite ? "suite" : "metric", bad_suite ? suite : metric,
            bad_suite ? "suites" : suite ? "metrics in that suite" : "metrics");
    list_t l = {!bad_suite, bad_suite ? NULL : suite, 0, " "};
    qt_store_foreach_stat(s, run, list_names, &l);
    fputc('\n', stderr);
    return 2;
}

/* The command. */
int qt_cmd_show(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        return 2;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet show [RUN] [options]",
                      "RUN: latest (default), latest~N, a run id, or a uuid prefix.\n"
                      "--format gbench-json writes Google Benchmark's JSON (context + per-repetition and\n"
                      "aggregate entries), which `quintet import` and Google Benchmark's tools read.\n"
                      "Exit status: 0 ok, 2 bad usage, unknown run, suite or metric (what exists is listed)\n"
                      "or no database file, 3 database error.", opts, N_OPTS);
        return 0;
    }
    if (a.n_pos > 1) {
        fprintf(stderr, "quintet show: one RUN at most (got %d)\n", a.n_pos);
        return 2;
    }
    show_t sh = {0};
    sh.all = qt_args_get(opts, N_OPTS, &a, "all") != NULL;
    sh.samples = qt_args_get(opts, N_OPTS, &a, "samples") != NULL;
    sh.suite = qt_args_get(opts, N_OPTS, &a, "suite");
    sh.metric = qt_args_get(opts, N_OPTS, &a, "metric");
    const char *f = qt_args_get(opts, N_OPTS, &a, "format");
    int gbench = f && !strcmp(f, "gbench-json");
    qt_fmt_t fmt = QT_FMT_TABLE;
    if (f && !gbench && qt_fmt_parse(f, &fmt) != QT_OK) {
        fprintf(stderr, "quintet show: %s (or gbench-json)\n", qt_last_error());
        return 2;
    }
    if (gbench && (sh.suite || sh.metric || sh.samples)) {
        fprintf(stderr, "quintet show: --format gbench-json writes the whole run (no --suite, --metric or --samples)\n");
        return 2;
    }
    sh.format = (int)fmt;
    qt_rows_init(&sh.out, fmt, cols, sh.samples ? N_COLS : N_COLS - 1);
    const char *db = qt_args_get(opts, N_OPTS, &a, "db");
    qt_store_t *s;
    int rc = qt_cli_open("show", db ? db : QT_DEFAULT_DB, 0, 0, &s);
    if (rc) return rc;
    sh.store = s;
    int64_t run;
    if ((rc = qt_cli_run("show", s, a.n_pos ? a.pos[0] : "latest", &run))) {
        qt_store_close(s);
        return rc;
    }
    if ((sh.suite || sh.metric) && (rc = check_selection(s, run, sh.suite, sh.metric))) {
        qt_store_close(s);
        return rc;
    }
    if (qt_args_get(opts, N_OPTS, &a, "summary")) {
        if (qt_summary_write(s, run, db ? db : QT_DEFAULT_DB, stdout) != QT_OK) {
            fprintf(stderr, "quintet show: %s\n", qt_last_error());
            rc = 3;
        }
        qt_store_close(s);
        return rc;
    }
    if (gbench) {
        if (qt_gbjson_write(s, run, stdout) != QT_OK) {
            fprintf(stderr, "quintet show: %s\n", qt_last_error());
            rc = 3;
        }
        qt_store_close(s);
        return rc;
    }
    prov_t p = {sh.format, 0};
    if (sh.format == FMT_TABLE) {
        printf("run %lld\n", (long long)run);
        qt_store_foreach_provenance(s, run, show_prov, &p);
        int nw = 0;
        qt_store_foreach_provenance(s, run, show_warning, &nw);
        prov_t v = {FMT_TABLE, 0};
        qt_validity_bandwidth(s, run, show_validity, &v, NULL);
        printf("counters:\n");
        qt_store_foreach_counter(s, run, show_counter, &p);
        printf("\n");
    } else if (sh.format == FMT_JSON) {
        printf("{\n  \"run_id\": %lld,\n  \"provenance\": {", (long long)run);
        qt_store_foreach_provenance(s, run, show_prov, &p);
        printf("\n  },\n  \"counters\": [");
        p.n = 0;
        qt_store_foreach_counter(s, run, show_counter, &p);
        printf("\n  ],\n  \"validity_warnings\": [");
        prov_t v = {FMT_JSON, 0};
        qt_validity_bandwidth(s, run, show_validity, &v, NULL);
        printf("\n  ],\n  \"results\": [");
    }
    if (qt_store_foreach_stat(s, run, show_row, &sh) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        rc = 3;
    }
    free(sh.vals);
    if (sh.format == FMT_JSON) printf("\n  ]\n}\n");
    else if (sh.format == FMT_TABLE && sh.out.rows == 0) printf("(no results match)\n");
    int not_ok = 0;
    if (sh.format == FMT_TABLE && qt_store_foreach_case(s, run, show_not_ok, &not_ok) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        rc = 3;
    }
    qt_store_close(s);
    return rc;
}
