/* cmd_show.c — `quintet show [RUN] [--format table|csv|json]`: one row per case
 * and metric of a run (default: the latest) with suite, case, variant,
 * parameters, metric, unit, repetitions, median and spread (quartiles and the
 * interquartile range relative to the median). The table form starts with the
 * run's provenance and counter availability. By default the per-iteration
 * counters (papi.*, sde.*, rusage.*) and bookkeeping metrics are left out; --all
 * shows them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "analysis/compare.h"
#include "output/output.h"
#include "output/rows.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
    {"format", "F", "table | csv | json (default table)"},
    {"suite", "NAME", "only this suite"},
    {"metric", "NAME", "only this metric"},
    {"all", NULL, "include counters (papi.*, sde.*, rusage.*) and bookkeeping metrics"},
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
    {"status", QT_CELL_TEXT, 0, NULL, QT_IN_ALL},
};
#define N_COLS ((int)(sizeof cols / sizeof cols[0]))

typedef struct {
    int format, all;
    const char *suite, *metric;
    qt_rows_t out;
} show_t;

/* One row. */
static int show_row(void *arg, const qt_stat_row_t *row)
{
    show_t *sh = arg;
    if (sh->suite && strcmp(sh->suite, row->suite)) return 0;
    if (sh->metric && strcmp(sh->metric, row->metric)) return 0;
    if (!sh->all && !sh->metric && qt_metric_is_bookkeeping(row->metric)) return 0;
    double spread = row->median != 0 ? (row->q3 - row->q1) / fabs(row->median) * 100.0 : NAN;
    const qt_cell_t cells[N_COLS] = {
        {.i = row->run_id},    {.text = row->suite},   {.text = row->name},  {.text = row->variant},
        {.text = row->params}, {.text = row->metric},  {.text = row->unit},  {.i = row->n},
        {.num = row->median},  {.num = row->mean},     {.num = row->stddev}, {.num = row->min},
        {.num = row->max},     {.num = row->q1},       {.num = row->q3},     {.num = spread},
        {.text = row->status},
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

/* One provenance field; an empty one says "(not given)". */
static int show_prov(void *arg, const char *key, const char *value)
{
    prov_t *p = arg;
    if (!value || !*value) value = "(not given)";
    if (p->format == FMT_TABLE) printf("  %-26s %s\n", key, value);
    else { printf("%s\n    ", p->n ? "," : ""); qt_out_json_str(key); printf(": "); qt_out_json_str(value); }
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
                      "RUN: latest (default), latest~N, a run id, or a uuid prefix.", opts, N_OPTS);
        return 0;
    }
    if (a.n_pos > 1) {
        fprintf(stderr, "quintet show: one RUN at most (got %d)\n", a.n_pos);
        return 2;
    }
    show_t sh = {FMT_TABLE, qt_args_get(opts, N_OPTS, &a, "all") != NULL, qt_args_get(opts, N_OPTS, &a, "suite"),
                 qt_args_get(opts, N_OPTS, &a, "metric"), {0}};
    const char *f = qt_args_get(opts, N_OPTS, &a, "format");
    qt_fmt_t fmt = QT_FMT_TABLE;
    if (f && qt_fmt_parse(f, &fmt) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        return 2;
    }
    sh.format = (int)fmt;
    qt_rows_init(&sh.out, fmt, cols, N_COLS);
    const char *db = qt_args_get(opts, N_OPTS, &a, "db");
    qt_store_t *s;
    if (qt_store_open(db ? db : QT_DEFAULT_DB, 0, 0, &s) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        return 1;
    }
    int64_t run;
    int rc = 0;
    if (qt_store_resolve_run(s, a.n_pos ? a.pos[0] : "latest", &run) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        qt_store_close(s);
        return 1;
    }
    prov_t p = {sh.format, 0};
    if (sh.format == FMT_TABLE) {
        printf("run %lld\n", (long long)run);
        qt_store_foreach_provenance(s, run, show_prov, &p);
        printf("counters:\n");
        qt_store_foreach_counter(s, run, show_counter, &p);
        printf("\n");
    } else if (sh.format == FMT_JSON) {
        printf("{\n  \"run_id\": %lld,\n  \"provenance\": {", (long long)run);
        qt_store_foreach_provenance(s, run, show_prov, &p);
        printf("\n  },\n  \"counters\": [");
        p.n = 0;
        qt_store_foreach_counter(s, run, show_counter, &p);
        printf("\n  ],\n  \"results\": [");
    }
    if (qt_store_foreach_stat(s, run, show_row, &sh) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        rc = 1;
    }
    if (sh.format == FMT_JSON) printf("\n  ]\n}\n");
    else if (sh.format == FMT_TABLE && sh.out.rows == 0) printf("(no results match)\n");
    int not_ok = 0;
    if (sh.format == FMT_TABLE && qt_store_foreach_case(s, run, show_not_ok, &not_ok) != QT_OK) {
        fprintf(stderr, "quintet show: %s\n", qt_last_error());
        rc = 1;
    }
    qt_store_close(s);
    return rc;
}
