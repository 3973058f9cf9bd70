/* cmd_compare.c — `quintet compare BASE NEW`: the regression gate.
 *
 * Matches the cases of two runs by (suite, case, variant, params) and decides, for each
 * selected metric, with the test of compare.h: two-sided Mann-Whitney U on the raw
 * repetitions (p < --alpha) AND |median_new / median_base - 1| > --threshold AND, with
 * --baseline-runs N >= 2, an effect larger than the case's between-run noise: the range of its
 * medians over the N most recent completed runs with id <= BASE and BASE's profile, relative to
 * their median (qt_compare_noise). Cases in one run only are `added` / `removed`.
 * Prints a table (or csv / json) and a summary line; exit status 0 no regression, 1 at least
 * one regression, 2 bad usage or unknown run, 3 database (or other runtime) error.
 * Run `quintet compare --help`; tested by tests/harness/test_compare.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "output/output.h"
#include "analysis/compare.h"
#include "analysis/gate.h"
#include "analysis/stats.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
    {"metric", "NAME", "metric to compare (default time_s); 'all': every metric but counters and bookkeeping"},
    {"threshold", "FRAC", "minimum effect |new/base - 1| for a regression (default 0.05 = 5%)"},
    {"alpha", "A", "significance level of the Mann-Whitney U test (default 0.05)"},
    {"baseline-runs", "N", "N >= 2: the effect must also exceed the between-run noise of the N most\n"
                           "                             recent completed runs up to BASE with its profile (default 0: off)"},
    {"format", "F", "table | csv | json (default table)"},
    {"suite", "NAME", "only this suite"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

enum { FMT_TABLE, FMT_CSV, FMT_JSON };
enum { EXIT_REGRESSION = 1, EXIT_USAGE = 2, EXIT_DB = 3 };

/* The raw samples of one metric of one case. */
typedef struct {
    char *metric, *unit;
    double *v;
    size_t n, cap;
} msamples_t;

/* One case of a run with its selected metrics. */
typedef struct {
    char *key; /* suite \x1f name \x1f variant \x1f params */
    char *suite, *name, *variant, *params, *status, *message;
    int64_t id;
    msamples_t *m;
    size_t nm, cm;
} ccase_t;

/* The cases of one run. */
typedef struct {
    int64_t run_id;
    char *uuid, *status, *profile, *commit, *started;
    int dirty;
    ccase_t *c;
    size_t n, cap;
    int failed; /* allocation failure while loading */
} crun_t;

/* One output row: a (case, metric) pair. */
typedef struct {
    const ccase_t *b, *n;             /* NULL on the side where the case is missing */
    const msamples_t *mb, *mn;        /* NULL where the metric is missing */
    const char *metric, *unit;
    char *key;                        /* case key \x1f metric, for the baseline lookup */
    double *hist;                     /* medians of the baseline runs */
    size_t nhist;
    qt_compare_result_t r;
} crow_t;

typedef struct {
    const char *metric, *suite; /* metric NULL = all */
} select_t;

/* strdup that keeps NULL as NULL. */
static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Text for a possibly NULL string. */
static const char *str_or(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

/* Is this metric selected? */
static int selected(const select_t *sel, const char *metric)
{
    return sel->metric ? !strcmp(sel->metric, metric) : !qt_metric_is_bookkeeping(metric);
}

/* "a\x1fb\x1fc\x1fd" (and optionally "\x1fe"), malloc'd. */
static char *join_key(const char *a, const char *b, const char *c, const char *d, const char *e)
{
    size_t len = strlen(a) + strlen(b) + strlen(c) + strlen(d) + (e ? strlen(e) + 1 : 0) + 4;
    char *k = malloc(len);
    if (k) snprintf(k, len, "%s\x1f%s\x1f%s\x1f%s%s%s", a, b, c, d, e ? "\x1f" : "", e ? e : "");
    return k;
}

/* foreach_case callback: keep the case (load_run applies the suite filter). */
static int load_case(void *arg, const qt_case_row_t *row)
{
    crun_t *run = arg;
    if (run->n == run->cap) {
        size_t cap = run->cap ? 2 * run->cap : 64;
        ccase_t *c = realloc(run->c, cap * sizeof *c);
        if (!c) return run->failed = 1;
        run->c = c;
        run->cap = cap;
    }
    ccase_t *c = &run->c[run->n];
    memset(c, 0, sizeof *c);
    c->id = row->case_id;
    c->suite = strdup(row->suite);
    c->name = strdup(row->name);
    c->variant = strdup(str_or(row->variant, ""));
    c->params = strdup(str_or(row->params, ""));
    c->status = strdup(str_or(row->status, "?"));
    c->message = dup_or_null(row->message);
    c->key = join_key(row->suite, row->name, c->variant ? c->variant : "", c->params ? c->params : "", NULL);
    run->n++;
    if (!c->suite || !c->name || !c->variant || !c->params || !c->status || !c->key) return run->failed = 1;
    return 0;
}

typedef struct {
    ccase_t *c;
    const select_t *sel;
    int failed;
} sample_ctx_t;

/* foreach_sample callback: append the value to its metric (samples come ordered by metric). */
static int load_sample(void *arg, const qt_sample_t *x)
{
    sample_ctx_t *ctx = arg;
    ccase_t *c = ctx->c;
    if (!selected(ctx->sel, x->metric)) return 0;
    if (c->nm == 0 || strcmp(c->m[c->nm - 1].metric, x->metric)) {
        if (c->nm == c->cm) {
            size_t cap = c->cm ? 2 * c->cm : 8;
            msamples_t *m = realloc(c->m, cap * sizeof *m);
            if (!m) return ctx->failed = 1;
            c->m = m;
            c->cm = cap;
        }
        msamples_t *m = &c->m[c->nm++];
        memset(m, 0, sizeof *m);
        m->metric = strdup(x->metric);
        m->unit = strdup(str_or(x->unit, ""));
        if (!m->metric || !m->unit) return ctx->failed = 1;
    }
    msamples_t *m = &c->m[c->nm - 1];
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        double *v = realloc(m->v, cap * sizeof *v);
        if (!v) return ctx->failed = 1;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = x->value;
    return 0;
}

/* foreach_provenance callback: keep the fields of the run header. */
static int load_prov(void *arg, const char *key, const char *value)
{
    crun_t *run = arg;
    char **slot = !strcmp(key, "uuid")         ? &run->uuid
                  : !strcmp(key, "status")     ? &run->status
                  : !strcmp(key, "profile")    ? &run->profile
                  : !strcmp(key, "git_commit") ? &run->commit
                  : !strcmp(key, "started_at") ? &run->started
                                               : NULL;
    if (slot && value && !*slot && !(*slot = strdup(value))) return run->failed = 1;
    if (!strcmp(key, "git_dirty")) run->dirty = value ? atoi(value) : -1;
    return !strcmp(key, "ended_at"); /* the fixed columns end here */
}

/* Free one case's metrics and strings. */
static void free_case(ccase_t *c)
{
    for (size_t j = 0; j < c->nm; j++) {
        free(c->m[j].metric);
        free(c->m[j].unit);
        free(c->m[j].v);
    }
    free(c->m);
    free(c->key);
    free(c->suite);
    free(c->name);
    free(c->variant);
    free(c->params);
    free(c->status);
    free(c->message);
}

/* Free a run. */
static void free_run(crun_t *run)
{
    for (size_t i = 0; i < run->n; i++) free_case(&run->c[i]);
    free(run->c);
    free(run->uuid);
    free(run->status);
    free(run->profile);
    free(run->commit);
    free(run->started);
    memset(run, 0, sizeof *run);
}

/* Header fields of run id (status, profile, ...). */
static qt_status_t load_run_info(qt_store_t *s, int64_t id, crun_t *run)
{
    memset(run, 0, sizeof *run);
    run->run_id = id;
    run->dirty = -1;
    qt_status_t st = qt_store_foreach_provenance(s, id, load_prov, run);
    if (st == QT_OK && run->failed) st = qt_fail(QT_ERR_NOMEM, "out of memory reading run %lld", (long long)id);
    return st;
}

/* Load run id: header, cases of the selected suite, samples of the selected metrics. */
static qt_status_t load_run(qt_store_t *s, int64_t id, const select_t *sel, crun_t *run)
{
    QT_TRY(load_run_info(s, id, run));
    QT_TRY(qt_store_foreach_case(s, id, load_case, run));
    if (run->failed) return qt_fail(QT_ERR_NOMEM, "out of memory reading run %lld", (long long)id);
    size_t keep = 0;
    for (size_t i = 0; i < run->n; i++) { /* drop other suites (free their strings) */
        if (sel->suite && strcmp(run->c[i].suite, sel->suite)) {
            free_case(&run->c[i]);
            continue;
        }
        run->c[keep++] = run->c[i];
    }
    run->n = keep;
    for (size_t i = 0; i < run->n; i++) {
        sample_ctx_t ctx = {&run->c[i], sel, 0};
        QT_TRY(qt_store_foreach_sample(s, run->c[i].id, load_sample, &ctx));
        if (ctx.failed) return qt_fail(QT_ERR_NOMEM, "out of memory reading run %lld", (long long)id);
    }
    return QT_OK;
}

/* Comparator of case pointers by key. */
static int cmp_case_ptr(const void *a, const void *b)
{
    return strcmp((*(const ccase_t *const *)a)->key, (*(const ccase_t *const *)b)->key);
}

/* Comparator of row pointers by key. */
static int cmp_row_ptr(const void *a, const void *b)
{
    return strcmp((*(const crow_t *const *)a)->key, (*(const crow_t *const *)b)->key);
}

/* The case with this key in the sorted index, or NULL. */
static ccase_t *find_case(ccase_t **idx, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(idx[mid]->key, key);
        if (c == 0) return idx[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* The metric of a case, or NULL. */
static const msamples_t *find_metric(const ccase_t *c, const char *metric)
{
    for (size_t i = 0; c && i < c->nm; i++)
        if (!strcmp(c->m[i].metric, metric)) return &c->m[i];
    return NULL;
}

typedef struct {
    crow_t *r;
    size_t n, cap;
} rows_t;

/* Append a row; NULL on allocation failure. */
static crow_t *add_row(rows_t *rows, const ccase_t *b, const ccase_t *n, const msamples_t *mb, const msamples_t *mn)
{
    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? 2 * rows->cap : 64;
        crow_t *r = realloc(rows->r, cap * sizeof *r);
        if (!r) return NULL;
        rows->r = r;
        rows->cap = cap;
    }
    crow_t *r = &rows->r[rows->n];
    memset(r, 0, sizeof *r);
    const ccase_t *c = b ? b : n;
    const msamples_t *m = mb ? mb : mn;
    r->b = b;
    r->n = n;
    r->mb = mb;
    r->mn = mn;
    r->metric = m->metric;
    r->unit = m->unit;
    r->key = join_key(c->suite, c->name, c->variant, c->params, m->metric);
    if (!r->key) return NULL;
    rows->n++;
    return r;
}

/* Rows in base order: matched cases metric by metric (base's metrics, then new-only ones),
 * removed cases; then added cases in new's order. */
static qt_status_t build_rows(const crun_t *base, const crun_t *new_, rows_t *rows)
{
    ccase_t **idx = malloc((new_->n + 1) * sizeof *idx);
    char *used = calloc(new_->n + 1, 1);
    if (!idx || !used) {
        free(idx);
        free(used);
        return qt_fail(QT_ERR_NOMEM, "out of memory matching cases");
    }
    for (size_t i = 0; i < new_->n; i++) idx[i] = &new_->c[i];
    qsort(idx, new_->n, sizeof *idx, cmp_case_ptr);
    qt_status_t st = QT_OK;
    for (size_t i = 0; i < base->n && st == QT_OK; i++) {
        const ccase_t *b = &base->c[i];
        ccase_t *n = find_case(idx, new_->n, b->key);
        if (n) used[n - new_->c] = 1;
        for (size_t j = 0; j < b->nm && st == QT_OK; j++)
            if (!add_row(rows, b, n, &b->m[j], find_metric(n, b->m[j].metric)))
                st = qt_fail(QT_ERR_NOMEM, "out of memory");
        for (size_t j = 0; n && j < n->nm && st == QT_OK; j++)
            if (!find_metric(b, n->m[j].metric) && !add_row(rows, b, n, NULL, &n->m[j]))
                st = qt_fail(QT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < new_->n && st == QT_OK; i++)
        for (size_t j = 0; !used[i] && j < new_->c[i].nm && st == QT_OK; j++)
            if (!add_row(rows, NULL, &new_->c[i], NULL, &new_->c[i].m[j])) st = qt_fail(QT_ERR_NOMEM, "out of memory");
    free(idx);
    free(used);
    return st;
}

typedef struct {
    crow_t **idx;
    size_t n;
    const select_t *sel;
    int failed;
} hist_ctx_t;

/* foreach_stat callback over a baseline run: add the median to the matching row's history. */
static int add_hist(void *arg, const qt_stat_row_t *st)
{
    hist_ctx_t *h = arg;
    if (!selected(h->sel, st->metric) || st->n < 1 || isnan(st->median)) return 0;
    char *key = join_key(st->suite, st->name, str_or(st->variant, ""), str_or(st->params, ""), st->metric);
    if (!key) return h->failed = 1;
    size_t lo = 0, hi = h->n;
    crow_t *row = NULL;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(h->idx[mid]->key, key);
        if (c == 0) { row = h->idx[mid]; break; }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    free(key);
    if (row) {
        double *v = realloc(row->hist, (row->nhist + 1) * sizeof *v);
        if (!v) return h->failed = 1;
        row->hist = v;
        row->hist[row->nhist++] = st->median;
    }
    return 0;
}

/* The baseline: the `want` most recent completed runs with id <= base and base's profile; their
 * ids go to ids[] (*n_ids), each one's medians to the rows' histories. */
static qt_status_t load_baseline(qt_store_t *s, const crun_t *base, int want, const select_t *sel, rows_t *rows,
                                 int64_t *ids, int *n_ids)
{
    *n_ids = 0;
    crow_t **idx = malloc((rows->n + 1) * sizeof *idx);
    if (!idx) return qt_fail(QT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rows->n; i++) idx[i] = &rows->r[i];
    qsort(idx, rows->n, sizeof *idx, cmp_row_ptr);
    hist_ctx_t h = {idx, rows->n, sel, 0};
    qt_status_t st = QT_OK;
    for (int64_t id = base->run_id; id >= 1 && *n_ids < want && st == QT_OK; id--) {
        crun_t info;
        st = load_run_info(s, id, &info);
        if (st == QT_ERR_ARG) { /* no run with this id (deleted) */
            st = QT_OK;
            free_run(&info);
            continue;
        }
        int same = st == QT_OK && info.status && !strcmp(info.status, "completed") &&
                   !strcmp(str_or(info.profile, ""), str_or(base->profile, ""));
        free_run(&info);
        if (!same) continue;
        st = qt_store_foreach_stat(s, id, add_hist, &h);
        if (st == QT_OK && h.failed) st = qt_fail(QT_ERR_NOMEM, "out of memory");
        if (st == QT_OK) ids[(*n_ids)++] = id;
    }
    free(idx);
    return st;
}

/* Decide every row. */
static qt_status_t decide_rows(rows_t *rows, const qt_compare_opts_t *o)
{
    for (size_t i = 0; i < rows->n; i++) {
        crow_t *r = &rows->r[i];
        double noise = r->nhist >= 2 ? qt_compare_noise(r->hist, r->nhist) : NAN;
        const msamples_t *mb = r->mb, *mn = r->mn;
        QT_TRY(qt_compare_decide(mb ? mb->v : NULL, mb ? mb->n : 0, mn ? mn->v : NULL, mn ? mn->n : 0,
                                 qt_metric_direction(r->metric), o, noise, &r->r));
        const ccase_t *failed = r->b && strcmp(r->b->status, "ok") ? r->b : r->n && strcmp(r->n->status, "ok") ? r->n : NULL;
        if (!r->b || !r->n || !mb || !mn) {
            if (failed) { /* present in both runs, but one side did not finish: say why */
                r->r.verdict = QT_VERDICT_INSUFFICIENT;
                snprintf(r->r.note, sizeof r->r.note, "%s case %s%s%s", failed == r->b ? "base" : "new", failed->status,
                         failed->message ? ": " : "", failed->message ? failed->message : "");
            } else {
                r->r.verdict = mb ? QT_VERDICT_REMOVED : QT_VERDICT_ADDED;
                snprintf(r->r.note, sizeof r->r.note, "%s", r->b && r->n ? (mb ? "metric not in new run" : "metric not in base run")
                                                            : mb ? "case not in new run" : "case not in base run");
            }
        }
    }
    return QT_OK;
}

/* Number as text for the table ("-" for NaN). */
static const char *fmt_num(char *buf, size_t cap, const char *fmt, double v)
{
    if (isnan(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, fmt, v);
    return buf;
}

/* The case of a row (whichever side has it). */
static const ccase_t *row_case(const crow_t *r)
{
    return r->b ? r->b : r->n;
}

#define TABLE_COLS 13
#define CELL 256 /* bytes per table cell (longer text is cut) */

/* The table's text cells of row r (r NULL: the header), into cells[TABLE_COLS][CELL]. */
static void table_cells(const crow_t *r, int with_noise, char cells[TABLE_COLS][CELL])
{
    static const char *head[TABLE_COLS] = {"suite", "case", "variant", "params", "metric", "n", "base",
                                           "new", "ratio", "p", "noise", "verdict", "note"};
    if (!r) {
        for (int i = 0; i < TABLE_COLS; i++) snprintf(cells[i], CELL, "%s", head[i]);
        return;
    }
    const ccase_t *c = row_case(r);
    snprintf(cells[0], CELL, "%s", c->suite);
    snprintf(cells[1], CELL, "%s", c->name);
    snprintf(cells[2], CELL, "%s", c->variant);
    snprintf(cells[3], CELL, "%s", c->params);
    snprintf(cells[4], CELL, "%s", r->metric);
    snprintf(cells[5], CELL, "%d/%d", r->r.n_base, r->r.n_new);
    fmt_num(cells[6], CELL, "%.5g", r->r.median_base);
    fmt_num(cells[7], CELL, "%.5g", r->r.median_new);
    fmt_num(cells[8], CELL, "%.4f", r->r.ratio);
    fmt_num(cells[9], CELL, "%.3g", r->r.p);
    if (with_noise) fmt_num(cells[10], CELL, "%.1f%%", r->r.noise * 100);
    else cells[10][0] = '\0';
    snprintf(cells[11], CELL, "%s", qt_verdict_name(r->r.verdict));
    snprintf(cells[12], CELL, "%s", r->r.note);
}

/* Aligned table: widths from the widest cell of each column. */
static void print_table(const rows_t *rows, int with_noise)
{
    static const int right[TABLE_COLS] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0};
    char cells[TABLE_COLS][CELL];
    int w[TABLE_COLS] = {0};
    for (size_t i = 0; i <= rows->n; i++) {
        table_cells(i ? &rows->r[i - 1] : NULL, with_noise, cells);
        for (int k = 0; k < TABLE_COLS; k++) {
            int len = (int)strlen(cells[k]);
            if (len > w[k]) w[k] = len;
        }
    }
    for (size_t i = 0; i <= rows->n; i++) {
        table_cells(i ? &rows->r[i - 1] : NULL, with_noise, cells);
        char line[TABLE_COLS * (CELL + 2) + 1];
        size_t len = 0;
        for (int k = 0; k < TABLE_COLS; k++) {
            if (k == 10 && !with_noise) continue;
            int pad = k == TABLE_COLS - 1 ? 0 : right[k] ? w[k] : -w[k]; /* the note is last, unpadded */
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%*s", len ? "  " : "", pad, cells[k]);
            if (len >= sizeof line) len = sizeof line - 1;
        }
        while (len > 0 && line[len - 1] == ' ') len--; /* no trailing blanks when the note is empty */
        printf("%.*s\n", (int)len, line);
    }
}

/* CSV: one line per row. */
static void print_csv(const rows_t *rows)
{
    printf("suite,case,variant,params,metric,unit,n_base,n_new,median_base,median_new,ratio,u,p,noise,verdict,note\n");
    for (size_t i = 0; i < rows->n; i++) {
        const crow_t *r = &rows->r[i];
        const ccase_t *c = row_case(r);
        const char *text[] = {c->suite, c->name, c->variant, c->params, r->metric, r->unit};
        for (int k = 0; k < 6; k++) { qt_out_csv_field(text[k]); putchar(','); }
        printf("%d,%d,", r->r.n_base, r->r.n_new);
        double num[] = {r->r.median_base, r->r.median_new, r->r.ratio, r->r.u, r->r.p, r->r.noise};
        for (int k = 0; k < 6; k++) {
            if (!isnan(num[k])) printf("%.9g", num[k]);
            putchar(',');
        }
        qt_out_csv_field(qt_verdict_name(r->r.verdict));
        putchar(',');
        qt_out_csv_field(r->r.note);
        putchar('\n');
    }
}

/* JSON description of a run. */
static void json_run(const crun_t *run)
{
    printf("{\"run_id\": %lld, \"uuid\": ", (long long)run->run_id);
    qt_out_json_str(run->uuid);
    printf(", \"status\": ");
    qt_out_json_str(run->status);
    printf(", \"profile\": ");
    qt_out_json_str(run->profile);
    printf(", \"git_commit\": ");
    qt_out_json_str(run->commit);
    printf(", \"started_at\": ");
    qt_out_json_str(run->started);
    printf("}");
}

/* JSON: runs, the test, the rows and the summary. */
static void print_json(const crun_t *base, const crun_t *new_, const rows_t *rows, const qt_compare_opts_t *o,
                       int baseline_runs, const int64_t *ids, int n_ids, const int *count)
{
    printf("{\n  \"base\": ");
    json_run(base);
    printf(",\n  \"new\": ");
    json_run(new_);
    printf(",\n  \"test\": {\"rank_test\": \"mann-whitney-u two-sided\", \"alpha\": %.9g, \"threshold\": %.9g,"
           " \"baseline_runs\": %d, \"baseline_run_ids\": [",
           o->alpha, o->threshold, baseline_runs);
    for (int i = 0; i < n_ids; i++) printf("%s%lld", i ? ", " : "", (long long)ids[i]);
    printf("]},\n  \"results\": [");
    for (size_t i = 0; i < rows->n; i++) {
        const crow_t *r = &rows->r[i];
        const ccase_t *c = row_case(r);
        printf("%s\n    {", i ? "," : "");
        const char *keys[] = {"suite", "case", "variant", "params", "metric", "unit"};
        const char *vals[] = {c->suite, c->name, c->variant, c->params, r->metric, r->unit};
        for (int k = 0; k < 6; k++) { printf("\"%s\": ", keys[k]); qt_out_json_str(vals[k]); printf(", "); }
        printf("\"n_base\": %d, \"n_new\": %d", r->r.n_base, r->r.n_new);
        const char *nk[] = {"median_base", "median_new", "ratio", "u", "p", "noise"};
        double nv[] = {r->r.median_base, r->r.median_new, r->r.ratio, r->r.u, r->r.p, r->r.noise};
        for (int k = 0; k < 6; k++) { printf(", \"%s\": ", nk[k]); qt_out_json_num(nv[k]); }
        printf(", \"verdict\": ");
        qt_out_json_str(qt_verdict_name(r->r.verdict));
        printf(", \"note\": ");
        qt_out_json_str(r->r.note);
        printf("}");
    }
    printf("\n  ],\n  \"summary\": {");
    for (int v = 0; v < QT_VERDICT_COUNT; v++) printf("%s\"%s\": %d", v ? ", " : "", qt_verdict_name(v), count[v]);
    printf("},\n  \"regression\": %s\n}\n", count[QT_VERDICT_REGRESSION] ? "true" : "false");
}

/* "N regressions, N improvements, ..." */
static void print_summary(FILE *f, const int *count)
{
    static const char *plural[QT_VERDICT_COUNT] = {"regressions", "improvements", "unchanged", "changed",
                                                   "added",       "removed",      "insufficient"};
    for (int v = 0; v < QT_VERDICT_COUNT; v++)
        fprintf(f, "%s%d %s", v ? ", " : "", count[v], count[v] == 1 && v < 2 ? qt_verdict_name(v) : plural[v]);
    fputc('\n', f);
}

/* One line describing a run for the table header. */
static void print_run_line(const char *label, const crun_t *run)
{
    printf("%s run %lld (%.8s, profile %s, commit %.12s%s, %s, %s)\n", label, (long long)run->run_id,
           str_or(run->uuid, "?"), str_or(run->profile, "?"), str_or(run->commit, "?"), run->dirty == 1 ? "+dirty" : "",
           str_or(run->started, "?"), str_or(run->status, "?"));
}

/* Parse the options into o, *baseline_runs, *format; returns an exit code or -1 to go on. */
static int parse_opts(const qt_args_t *a, qt_compare_opts_t *o, int *baseline_runs, int *format)
{
    const char *t = qt_args_get(opts, N_OPTS, a, "threshold"), *al = qt_args_get(opts, N_OPTS, a, "alpha"),
               *br = qt_args_get(opts, N_OPTS, a, "baseline-runs"), *f = qt_args_get(opts, N_OPTS, a, "format");
    if (qt_gate_parse(t, al, o) != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    long long n = 0;
    if (br && qt_args_int("--baseline-runs", br, 0, 1000, &n) != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    *baseline_runs = (int)n;
    *format = FMT_TABLE;
    if (f) {
        if (!strcmp(f, "table")) *format = FMT_TABLE;
        else if (!strcmp(f, "csv")) *format = FMT_CSV;
        else if (!strcmp(f, "json")) *format = FMT_JSON;
        else {
            fprintf(stderr, "quintet compare: unknown format '%s' (expected table, csv or json)\n", f);
            return EXIT_USAGE;
        }
    }
    return -1;
}

/* Exit code for a store failure: an unknown run is bad usage, anything else a database error. */
static int store_exit(qt_status_t st)
{
    fprintf(stderr, "quintet compare: %s\n", qt_last_error());
    return st == QT_ERR_ARG ? EXIT_USAGE : EXIT_DB;
}

/* The command. */
int qt_cmd_compare(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet compare BASE NEW [options]",
                      "BASE, NEW: latest, latest~N, a run id, or a uuid prefix. A (case, metric) regresses when the\n"
                      "two-sided Mann-Whitney U test on the repetitions gives p < alpha AND |median_new/median_base - 1|\n"
                      "> threshold AND (with --baseline-runs N >= 2) the change exceeds the case's between-run noise:\n"
                      "(max - min) / median of its medians over the N most recent completed runs up to BASE with BASE's\n"
                      "profile, in the direction where the metric gets worse (time: higher; rates: lower).\n"
                      "Exit status: 0 no regression, 1 a regression, 2 bad usage or unknown run, 3 database error.",
                      opts, N_OPTS);
        return 0;
    }
    if (a.n_pos != 2) {
        fprintf(stderr, "quintet compare: expected two runs, BASE and NEW (got %d); see quintet compare --help\n",
                a.n_pos);
        return EXIT_USAGE;
    }
    qt_compare_opts_t o = {0.05, 0.05};
    int baseline_runs, format;
    int rc = parse_opts(&a, &o, &baseline_runs, &format);
    if (rc >= 0) return rc;
    const char *metric = qt_args_get(opts, N_OPTS, &a, "metric");
    if (!metric) metric = "time_s";
    if (!*metric) {
        fprintf(stderr, "quintet compare: --metric needs a metric name or 'all'\n");
        return EXIT_USAGE;
    }
    select_t sel = {strcmp(metric, "all") ? metric : NULL, qt_args_get(opts, N_OPTS, &a, "suite")};
    const char *db = qt_args_get(opts, N_OPTS, &a, "db");
    qt_store_t *s;
    qt_status_t st = qt_store_open(db ? db : QT_DEFAULT_DB, 0, 0, &s);
    if (st != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        return EXIT_DB;
    }
    int64_t id_base, id_new, ids[1000];
    int n_ids = 0;
    crun_t base = {0}, new_ = {0};
    rows_t rows = {0};
    if ((st = qt_store_resolve_run(s, a.pos[0], &id_base)) != QT_OK ||
        (st = qt_store_resolve_run(s, a.pos[1], &id_new)) != QT_OK) {
        rc = store_exit(st);
        goto done;
    }
    if ((st = load_run(s, id_base, &sel, &base)) != QT_OK || (st = load_run(s, id_new, &sel, &new_)) != QT_OK ||
        (st = build_rows(&base, &new_, &rows)) != QT_OK ||
        (baseline_runs >= 2 && (st = load_baseline(s, &base, baseline_runs, &sel, &rows, ids, &n_ids)) != QT_OK) ||
        (st = decide_rows(&rows, &o)) != QT_OK) {
        fprintf(stderr, "quintet compare: %s\n", qt_last_error());
        rc = EXIT_DB;
        goto done;
    }
    if (id_base == id_new) fprintf(stderr, "quintet compare: warning: BASE and NEW are the same run (%lld)\n", (long long)id_base);
    if (strcmp(str_or(base.profile, ""), str_or(new_.profile, "")))
        fprintf(stderr, "quintet compare: warning: profiles differ (base %s, new %s)\n", str_or(base.profile, "?"),
                str_or(new_.profile, "?"));
    if (baseline_runs >= 2 && n_ids < 2)
        fprintf(stderr, "quintet compare: warning: --baseline-runs %d: only %d completed %s run%s up to run %lld; "
                        "no noise figure\n", baseline_runs, n_ids, str_or(base.profile, "?"), n_ids == 1 ? "" : "s",
                (long long)id_base);
    int count[QT_VERDICT_COUNT] = {0}, floor_rows = 0;
    for (size_t i = 0; i < rows.n; i++) {
        count[rows.r[i].r.verdict]++;
        floor_rows += rows.r[i].r.p_floor;
    }
    if (format == FMT_TABLE) {
        print_run_line("base", &base);
        print_run_line("new ", &new_);
        printf("test: two-sided Mann-Whitney U on the repetitions, p < %g, and |new/base - 1| > %g%%", o.alpha,
               o.threshold * 100);
        if (baseline_runs >= 2) {
            printf(", and > between-run noise over %d run%s (", n_ids, n_ids == 1 ? "" : "s");
            for (int i = 0; i < n_ids; i++) printf("%s%lld", i ? " " : "", (long long)ids[i]);
            printf(")");
        }
        printf("\nmetric: %s%s%s\n\n", metric, sel.suite ? ", suite " : "", sel.suite ? sel.suite : "");
        if (rows.n) print_table(&rows, baseline_runs >= 2);
        else printf("(no results match)\n");
        printf("\n");
        print_summary(stdout, count);
    } else if (format == FMT_CSV) {
        print_csv(&rows);
        print_summary(stderr, count);
    } else {
        print_json(&base, &new_, &rows, &o, baseline_runs, ids, n_ids, count);
    }
    if (floor_rows)
        fprintf(stderr, "quintet compare: warning: %d row%s had too few repetitions to ever reach p < %g "
                        "(the smallest two-sided p for n against m repetitions is 2/C(n+m, n): 0.1 for 3 against 3,"
                        " 0.029 for 4 against 4)\n",
                floor_rows, floor_rows == 1 ? "" : "s", o.alpha);
    rc = count[QT_VERDICT_REGRESSION] ? EXIT_REGRESSION : 0;
done:
    for (size_t i = 0; i < rows.n; i++) {
        free(rows.r[i].key);
        free(rows.r[i].hist);
    }
    free(rows.r);
    free_run(&base);
    free_run(&new_);
    qt_store_close(s);
    return rc;
}
