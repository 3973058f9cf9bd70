/* gbjson.c — Google Benchmark JSON out of and into the store, with jansson (contract: gbjson.h).
 * Test: tests/harness/test_gbjson.c, through a real Google Benchmark binary (`make test`). */
#include "output/gbjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef QT_HAVE_JANSSON
#include <jansson.h>
#endif

#define NO_JANSSON "Google Benchmark JSON needs jansson, and this quintet was built without it: install " \
                   "libjansson-dev (ci/install.sh does) and rebuild"

/* 1 when path's first non-blank byte is '{'. */
int qt_gbjson_sniff(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t') {
    }
    fclose(f);
    return c == '{';
}

#ifndef QT_HAVE_JANSSON

/* Library version: none. */
const char *qt_gbjson_library(void) { return "none: built without jansson (libjansson-dev)"; }

/* Without jansson: a clear error. */
qt_status_t qt_gbjson_write(qt_store_t *s, int64_t run_id, FILE *f)
{
    (void)s, (void)run_id, (void)f;
    return qt_fail(QT_ERR_UNSUPPORTED, NO_JANSSON);
}

/* Without jansson: a clear error. */
qt_status_t qt_gbjson_import(qt_store_t *s, const char *path, const qt_gbjson_import_opts_t *o, int64_t *run_id,
                             int *present, int *n_cases)
{
    (void)s, (void)path, (void)o, (void)run_id, (void)present, (void)n_cases;
    return qt_fail(QT_ERR_UNSUPPORTED, NO_JANSSON);
}

#else

/* Library version. */
const char *qt_gbjson_library(void) { return JANSSON_VERSION; }

/* ---- out --------------------------------------------------------------------------------- */

typedef struct {
    json_t *context;
    const char *host, *started, *cores, *mhz;
} ctx_t;

/* One provenance field → context "quintet.<key>" (the GB keys are filled from some of them). */
static int put_prov(void *arg, const char *key, const char *value)
{
    ctx_t *c = arg;
    char k[128];
    snprintf(k, sizeof k, "quintet.%s", key);
    json_object_set_new(c->context, k, value ? json_string(value) : json_null());
    json_t *v = json_object_get(c->context, k);
    const char *t = json_string_value(v);
    if (!t) return 0;
    if (!strcmp(key, "host")) c->host = t;
    else if (!strcmp(key, "started_at")) c->started = t;
    else if (!strcmp(key, "cores")) c->cores = t;
    else if (!strcmp(key, "cpu_mhz")) c->mhz = t;
    return 0;
}

/* The case being written: its samples as metric → array of values by repetition. */
typedef struct {
    json_t *by_metric; /* metric → [v0, v1, ...] (null where missing) */
    json_t *units;     /* metric → unit, over the case's suite */
    int reps;
} case_samples_t;

/* Collect one sample. */
static int put_sample(void *arg, const qt_sample_t *x)
{
    case_samples_t *cs = arg;
    json_t *a = json_object_get(cs->by_metric, x->metric);
    if (!a) {
        a = json_array();
        json_object_set_new(cs->by_metric, x->metric, a);
    }
    if (x->unit && *x->unit && !json_object_get(cs->units, x->metric))
        json_object_set_new(cs->units, x->metric, json_string(x->unit));
    while ((int)json_array_size(a) < x->repetition) json_array_append_new(a, json_null());
    json_array_append_new(a, isfinite(x->value) ? json_real(x->value) : json_null());
    if (x->repetition + 1 > cs->reps) cs->reps = x->repetition + 1;
    return 0;
}

/* Value of metric at repetition r, or NAN. */
static double sample_at(const case_samples_t *cs, const char *metric, int r)
{
    json_t *v = json_array_get(json_object_get(cs->by_metric, metric), (size_t)r);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

typedef struct {
    qt_store_t *s;
    json_t *benchmarks, *stats; /* stats: case_id text → {metric: {median, mean, stddev}} */
    json_t *units;              /* suite → {metric → unit} (context "quintet.units") */
    qt_status_t err;
} write_t;

/* Collect one statistics row for the aggregates. */
static int put_stat(void *arg, const qt_stat_row_t *row)
{
    write_t *w = arg;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)row->case_id);
    json_t *c = json_object_get(w->stats, id);
    if (!c) {
        c = json_object();
        json_object_set_new(w->stats, id, c);
    }
    json_object_set_new(c, row->metric,
                        json_pack("{s:f,s:f,s:f,s:i}", "median", isfinite(row->median) ? row->median : 0.0, "mean",
                                  isfinite(row->mean) ? row->mean : 0.0, "stddev",
                                  isfinite(row->stddev) ? row->stddev : 0.0, "n", row->n));
    return 0;
}

/* The entry header shared by repetitions, aggregates and errors. */
static json_t *entry(const char *name, const char *run_name, const char *run_type, int reps, int rep_index)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}", "name", name, "run_name", run_name, "run_type", run_type,
                     "repetitions", reps, "repetition_index", rep_index, "threads", 1);
}

/* 1 for the metrics that are the entry's own fields rather than user counters. */
static int own_field(const char *metric)
{
    return !strcmp(metric, "time_s") || !strcmp(metric, "cpu_time_s") || !strcmp(metric, "iterations");
}

/* The aggregates of a case from its statistics rows (mean, median, stddev, cv). */
static void put_aggregates(write_t *w, const char *name, json_t *stats, int reps)
{
    static const char *const aggs[] = {"mean", "median", "stddev", "cv"};
    for (int a = 0; a < 4; a++) {
        char nm[1300];
        snprintf(nm, sizeof nm, "%s_%s", name, aggs[a]);
        json_t *e = entry(nm, name, "aggregate", reps, 0);
        json_object_set_new(e, "aggregate_name", json_string(aggs[a]));
        json_object_set_new(e, "aggregate_unit", json_string(a == 3 ? "percentage" : "time"));
        const char *key;
        json_t *st;
        double time_v[2] = {0, 0};
        json_object_foreach(stats, key, st) {
            double mean = json_number_value(json_object_get(st, "mean"));
            double v = a == 0 ? mean : a == 1 ? json_number_value(json_object_get(st, "median"))
                                              : json_number_value(json_object_get(st, "stddev"));
            if (a == 3) v = mean != 0 ? v / mean : 0;
            if (!strcmp(key, "time_s")) time_v[0] = v;
            else if (!strcmp(key, "cpu_time_s")) time_v[1] = v;
            else if (!own_field(key)) json_object_set_new(e, key, json_real(v));
        }
        double scale = a == 3 ? 1.0 : 1e9;
        json_object_set_new(e, "iterations", json_integer(reps));
        json_object_set_new(e, "real_time", json_real(time_v[0] * scale));
        json_object_set_new(e, "cpu_time", json_real(time_v[1] * scale));
        json_object_set_new(e, "time_unit", json_string("ns"));
        json_array_append_new(w->benchmarks, e);
    }
}

/* One case → its entries. */
static int put_case(void *arg, const qt_case_row_t *row)
{
    write_t *w = arg;
    char name[1200];
    snprintf(name, sizeof name, "%s/%s/%s/%s", row->suite, row->name, row->variant, row->params);
    if (strcmp(row->status, "ok")) {
        json_t *e = entry(name, name, "iteration", 0, 0);
        json_object_set_new(e, "iterations", json_integer(0));
        json_object_set_new(e, "real_time", json_real(0));
        json_object_set_new(e, "cpu_time", json_real(0));
        json_object_set_new(e, "time_unit", json_string("ns"));
        json_object_set_new(e, "error_occurred", json_true());
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: %s", row->status, row->message ? row->message : "");
        json_object_set_new(e, "error_message", json_string(msg));
        json_array_append_new(w->benchmarks, e);
        return 0;
    }
    json_t *su = json_object_get(w->units, row->suite);
    if (!su) {
        su = json_object();
        json_object_set_new(w->units, row->suite, su);
    }
    case_samples_t cs = {json_object(), su, 0};
    if (qt_store_foreach_sample(w->s, row->case_id, put_sample, &cs) != QT_OK) {
        w->err = QT_ERR_IO;
        json_decref(cs.by_metric);
        return 1;
    }
    int timed = json_object_get(cs.by_metric, "time_s") != NULL;
    for (int r = 0; r < cs.reps; r++) {
        json_t *e = entry(name, name, "iteration", cs.reps, r);
        double it = sample_at(&cs, "iterations", r);
        double real = timed ? sample_at(&cs, "time_s", r) : NAN, cpu = sample_at(&cs, "cpu_time_s", r);
        json_object_set_new(e, "iterations", json_integer(isfinite(it) ? (json_int_t)it : 1));
        json_object_set_new(e, "real_time", json_real(isfinite(real) ? real * 1e9 : 0));
        json_object_set_new(e, "cpu_time", json_real(isfinite(cpu) ? cpu * 1e9 : 0));
        json_object_set_new(e, "time_unit", json_string("ns"));
        const char *key;
        json_t *vals;
        json_object_foreach(cs.by_metric, key, vals) {
            json_t *v = json_array_get(vals, (size_t)r);
            if (!own_field(key) && json_is_number(v)) json_object_set(e, key, v);
        }
        json_array_append_new(w->benchmarks, e);
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)row->case_id);
    if (cs.reps >= 2) put_aggregates(w, name, json_object_get(w->stats, id), cs.reps);
    json_decref(cs.by_metric);
    return 0;
}

/* Write. */
qt_status_t qt_gbjson_write(qt_store_t *s, int64_t run_id, FILE *f)
{
    QT_CHECK_ARG(s && f, "store and file must not be NULL");
    ctx_t c = {json_object(), NULL, NULL, NULL, NULL};
    json_t *root = json_object();
    write_t w = {s, json_array(), json_object(), json_object(), QT_OK};
    json_object_set_new(root, "context", c.context);
    json_object_set_new(root, "benchmarks", w.benchmarks);
    qt_status_t r = qt_store_foreach_provenance(s, run_id, put_prov, &c);
    if (r == QT_OK) {
        json_object_set_new(c.context, "date", json_string(c.started ? c.started : ""));
        json_object_set_new(c.context, "host_name", json_string(c.host ? c.host : ""));
        json_object_set_new(c.context, "executable", json_string("quintet"));
        json_object_set_new(c.context, "num_cpus", json_integer(c.cores ? atoi(c.cores) : 0));
        json_object_set_new(c.context, "mhz_per_cpu", json_integer(c.mhz ? (json_int_t)atof(c.mhz) : 0));
        json_object_set_new(c.context, "cpu_scaling_enabled", json_false());
        json_object_set_new(c.context, "caches", json_array());
        json_object_set_new(c.context, "load_avg", json_array());
        json_object_set_new(c.context, "library_build_type", json_string("release"));
        r = qt_store_foreach_stat(s, run_id, put_stat, &w);
    }
    if (r == QT_OK) r = qt_store_foreach_case(s, run_id, put_case, &w);
    json_object_set_new(c.context, "quintet.units", w.units);
    if (r == QT_OK && w.err != QT_OK) r = w.err;
    if (r == QT_OK && (json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) != 0 || fputc('\n', f) == EOF))
        r = qt_fail(QT_ERR_IO, "writing the JSON failed");
    json_decref(root);
    json_decref(w.stats);
    return r;
}

/* ---- in ---------------------------------------------------------------------------------- */

/* Seconds per time_unit. */
static double unit_seconds(const char *u)
{
    if (!u || !strcmp(u, "ns")) return 1e-9;
    if (!strcmp(u, "us")) return 1e-6;
    if (!strcmp(u, "ms")) return 1e-3;
    return 1.0;
}

/* GB's own keys of a benchmark entry (everything else is a user counter). */
static int gb_key(const char *k)
{
    static const char *const keys[] = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
                                       "repetitions", "repetition_index", "threads", "iterations", "real_time",
                                       "cpu_time", "time_unit", "aggregate_name", "aggregate_unit",
                                       "error_occurred", "error_message", "label", "big_o", "rms", "complexity"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(k, keys[i])) return 1;
    return 0;
}

/* Split a foreign benchmark name "family/part/..." into case name and canonical params. */
static void split_foreign(const char *run_name, char *name, size_t name_size, char *params, size_t params_size)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", run_name);
    char *save = NULL, *tok = strtok_r(buf, "/", &save);
    snprintf(name, name_size, "%.47s", tok ? tok : "benchmark");
    params[0] = '\0';
    int arg = 0;
    for (tok = strtok_r(NULL, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        static const char *const drop[] = {"repeats:", "min_time:", "iterations:", "min_warmup_time:"};
        int skip = !strcmp(tok, "manual_time") || !strcmp(tok, "real_time") || !strcmp(tok, "process_time");
        for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) skip |= !strncmp(tok, drop[i], strlen(drop[i]));
        if (skip) continue;
        char kv[160];
        char *colon = strchr(tok, ':');
        if (colon) {
            *colon = '\0';
            snprintf(kv, sizeof kv, "%.23s=%.47s", tok, colon + 1);
        } else {
            snprintf(kv, sizeof kv, "arg%d=%.47s", arg++, tok);
        }
        for (char *p = kv; *p; p++)
            if (*p == ',') *p = ';';
        size_t len = strlen(params);
        snprintf(params + len, params_size - len, "%s%s", len ? "," : "", kv);
    }
}

/* One sample list under construction. */
typedef struct {
    qt_sample_t *v;
    char (*metric)[72];
    int n, cap;
} samples_t;

/* Append a sample (metric copied). */
static int samples_add(samples_t *a, const char *metric, const char *unit, int rep, double value)
{
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 32;
        qt_sample_t *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        a->v = v;
        char(*m)[72] = realloc(a->metric, (size_t)cap * sizeof *m);
        if (!m) return -1;
        a->metric = m;
        a->cap = cap;
    }
    snprintf(a->metric[a->n], sizeof a->metric[a->n], "%s", metric);
    a->v[a->n] = (qt_sample_t){NULL, unit, rep, value, 0};
    a->n++;
    return 0;
}

/* The samples of one entry (a repetition, or an aggregate standing in for one); user counters take
 * their unit from units (quintet's own export) or none. An entry with zero real and cpu time
 * (quintet's untimed cases) has no time_s, cpu_time_s or iterations. */
static int entry_samples(samples_t *a, json_t *e, int rep, json_t *units)
{
    double sec = unit_seconds(json_string_value(json_object_get(e, "time_unit")));
    json_t *it = json_object_get(e, "iterations");
    double real = json_number_value(json_object_get(e, "real_time")), cpu = json_number_value(json_object_get(e, "cpu_time"));
    int bad = 0;
    if (real != 0 || cpu != 0) {
        bad |= samples_add(a, "time_s", "s", rep, real * sec);
        bad |= samples_add(a, "cpu_time_s", "s", rep, cpu * sec);
        if (json_is_number(it)) bad |= samples_add(a, "iterations", "count", rep, json_number_value(it));
    }
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v) {
        const char *unit = json_string_value(json_object_get(units, key));
        if (!gb_key(key) && json_is_number(v)) bad |= samples_add(a, key, unit ? unit : "", rep, json_number_value(v));
    }
    return bad;
}

typedef struct {
    qt_store_t *s;
    int64_t run_id;
    const char *suite, *variant;
    int n_cases;
    json_t *units; /* context "quintet.units" (suite → {metric → unit}), or NULL */
} import_t;

/* Store one benchmark (all entries with this run_name) as a case. */
static qt_status_t import_case(import_t *im, json_t *benchmarks, const char *run_name)
{
    char suite[64], name[48], variant[24], params[1024];
    const char *p1 = strchr(run_name, '/'), *p2 = p1 ? strchr(p1 + 1, '/') : NULL;
    const char *p3 = p2 ? strchr(p2 + 1, '/') : NULL;
    if (p3 && (!p3[1] || strchr(p3 + 1, '='))) { /* quintet's own "suite/case/variant/params" */
        snprintf(suite, sizeof suite, "%.*s", (int)(p1 - run_name), run_name);
        snprintf(name, sizeof name, "%.*s", (int)(p2 - p1 - 1), p1 + 1);
        snprintf(variant, sizeof variant, "%.*s", (int)(p3 - p2 - 1), p2 + 1);
        snprintf(params, sizeof params, "%s", p3 + 1);
    } else {
        snprintf(suite, sizeof suite, "%s", im->suite);
        snprintf(variant, sizeof variant, "%s", im->variant);
        split_foreign(run_name, name, sizeof name, params, sizeof params);
    }
    samples_t a = {0};
    const char *error = NULL;
    int reps = 0, bad = 0;
    json_t *agg = NULL, *e;
    size_t i;
    json_array_foreach(benchmarks, i, e) {
        const char *rn = json_string_value(json_object_get(e, "run_name"));
        if (!rn) rn = json_string_value(json_object_get(e, "name"));
        if (!rn || strcmp(rn, run_name)) continue;
        if (json_is_true(json_object_get(e, "error_occurred"))) {
            error = json_string_value(json_object_get(e, "error_message"));
            if (!error) error = "error";
            continue;
        }
        const char *type = json_string_value(json_object_get(e, "run_type"));
        if (type && !strcmp(type, "aggregate")) {
            const char *an = json_string_value(json_object_get(e, "aggregate_name"));
            if (an && (!strcmp(an, "median") || (!agg && !strcmp(an, "mean")))) agg = e;
            continue;
        }
        bad |= entry_samples(&a, e, reps++, json_object_get(im->units, suite));
    }
    if (reps == 0 && agg && !error) bad |= entry_samples(&a, agg, 0, json_object_get(im->units, suite));
    qt_status_t r = bad ? qt_fail(QT_ERR_NOMEM, "import samples") : QT_OK;
    for (int k = 0; k < a.n; k++) a.v[k].metric = a.metric[k];
    if (r == QT_OK) {
        qt_case_record_t rec = {suite, name, variant, params, error ? "failed" : "ok", error, 0, 0,
                                a.v, error ? 0 : a.n, NULL, 0};
        r = qt_store_case(im->s, im->run_id, &rec);
        if (r == QT_OK) im->n_cases++;
    }
    free(a.v);
    free(a.metric);
    return r;
}

/* FNV-1a of a file's bytes, as a uuid-shaped text "gbjson-<16 hex>-<16 hex>". */
static void file_uuid(const char *text, size_t len, char out[64])
{
    uint64_t h1 = 1469598103934665603ull, h2 = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < len; i++) {
        h1 = (h1 ^ (unsigned char)text[i]) * 1099511628211ull;
        h2 = (h2 ^ (unsigned char)text[i]) * 0x100000001b3ull + 0x632be59bd9b4e019ull;
    }
    snprintf(out, 64, "gbjson-%016llx-%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

/* Context text of key k (numbers formatted, arrays/objects compact JSON); caller frees. */
static char *context_text(json_t *v)
{
    if (json_is_string(v)) return strdup(json_string_value(v));
    if (json_is_null(v)) return NULL;
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
}

/* Parse "YYYY-MM-DDTHH:MM:SS" (+ optional fraction and zone, read as UTC unless ±HH:MM) to unix time. */
static double parse_date(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t) return 0;
    const char *end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return 0;
    double frac = 0;
    if (*end == '.') frac = strtod(end, (char **)&end) ;
    double secs = (double)timegm(&tm) + frac;
    if ((*end == '+' || *end == '-') && strlen(end) >= 6) {
        int hh = atoi(end + 1), mm = atoi(end + 4);
        secs -= (*end == '+' ? 1 : -1) * (hh * 3600.0 + mm * 60.0);
    }
    return secs;
}

/* Import. */
qt_status_t qt_gbjson_import(qt_store_t *s, const char *path, const qt_gbjson_import_opts_t *o, int64_t *run_id,
                             int *present, int *n_cases)
{
    QT_CHECK_ARG(s && path && run_id && present && n_cases, "arguments must not be NULL");
    *run_id = 0;
    *present = 0;
    *n_cases = 0;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return qt_fail(QT_ERR_FORMAT, "%s: not JSON: %s (line %d)", path, jerr.text, jerr.line);
    json_t *ctx = json_object_get(root, "context"), *benchmarks = json_object_get(root, "benchmarks");
    if (!json_is_object(ctx) || !json_is_array(benchmarks)) {
        json_decref(root);
        return qt_fail(QT_ERR_FORMAT, "%s: not Google Benchmark JSON (needs an object with \"context\" and a "
                                      "\"benchmarks\" array, as --benchmark_out_format=json writes)", path);
    }
    char uuid[64];
    const char *qu = json_string_value(json_object_get(ctx, "quintet.uuid"));
    if (qu) snprintf(uuid, sizeof uuid, "%s", qu);
    else {
        char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        file_uuid(text ? text : path, text ? strlen(text) : strlen(path), uuid);
        free(text);
    }
    int64_t existing;
    if (qt_store_resolve_run(s, uuid, &existing) == QT_OK) {
        *present = 1;
        json_decref(root);
        return QT_OK;
    }
#define CTX(k) json_string_value(json_object_get(ctx, "quintet." k))
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "quintet import %s", path);
    const char *exe = json_string_value(json_object_get(ctx, "executable"));
    const char *cores = CTX("cores"), *mhz = CTX("cpu_mhz"), *dirty = CTX("git_dirty"), *seed = CTX("seed");
    qt_run_info_t info = {0};
    info.uuid = uuid;
    info.command_line = CTX("command_line") ? CTX("command_line") : cmd;
    info.profile = CTX("profile") ? CTX("profile") : "imported";
    info.seed = seed ? strtoull(seed, NULL, 10) : 0;
    info.repetitions = CTX("repetitions") ? atoi(CTX("repetitions")) : 0;
    info.suites = CTX("suites") ? CTX("suites") : (o && o->suite ? o->suite : "gbench");
    info.filter = CTX("filter");
    info.backend = CTX("backend");
    info.git_commit = CTX("git_commit") ? CTX("git_commit") : "none: imported Google Benchmark JSON";
    info.git_dirty = dirty ? atoi(dirty) : -1;
    info.host = CTX("host") ? CTX("host") : json_string_value(json_object_get(ctx, "host_name"));
    info.cpu_model = CTX("cpu_model");
    info.cores = cores ? atoi(cores) : (int)json_integer_value(json_object_get(ctx, "num_cpus"));
    info.threads = CTX("threads") ? atoi(CTX("threads")) : 1;
    info.cpu_mhz = mhz ? atof(mhz) : json_number_value(json_object_get(ctx, "mhz_per_cpu"));
    info.compiler = CTX("compiler");
    info.cflags = CTX("cflags");
    info.started_at = parse_date(CTX("started_at") ? CTX("started_at") : json_string_value(json_object_get(ctx, "date")));
#undef CTX
    import_t im = {s, 0, o && o->suite ? o->suite : "gbench", o && o->variant ? o->variant : "peer", 0,
                   json_object_get(ctx, "quintet.units")};
    qt_status_t r = qt_store_run_begin(s, &info, &im.run_id);
    const char *key;
    json_t *v;
    static const char *const fixed[] = {"run_id", "uuid", "status", "command_line", "profile", "seed",
                                        "repetitions", "filter", "backend", "suites", "git_commit", "git_dirty",
                                        "host", "cpu_model", "cores", "threads", "cpu_mhz", "compiler", "cflags",
                                        "pid", "started_at", "ended_at"};
    json_object_foreach(ctx, key, v) {
        if (r != QT_OK) break;
        char k[160];
        int skip = 0;
        static const char *const gb_context[] = {"date", "host_name", "executable", "num_cpus", "mhz_per_cpu",
                                                 "cpu_scaling_enabled", "caches", "load_avg", "library_build_type"};
        int derived = 0; /* GB's keys of quintet's own export are derived from its provenance */
        for (size_t i = 0; qu && i < sizeof gb_context / sizeof gb_context[0]; i++) derived |= !strcmp(key, gb_context[i]);
        if (derived || !strcmp(key, "quintet.units")) continue;
        if (!strncmp(key, "quintet.", 8)) {
            for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) skip |= !strcmp(key + 8, fixed[i]);
            snprintf(k, sizeof k, "%s", key + 8);
        } else {
            snprintf(k, sizeof k, "context.%s", key);
        }
        if (skip) continue;
        char *text = context_text(v);
        r = qt_store_run_set(s, im.run_id, k, text);
        free(text);
    }
    if (r == QT_OK) r = qt_store_run_set(s, im.run_id, "imported_from", path);
    if (r == QT_OK && exe && !qu) r = qt_store_run_set(s, im.run_id, "gbench.executable", exe);
    /* one case per distinct run_name, in order of first appearance */
    json_t *seen = json_object();
    size_t i;
    json_array_foreach(benchmarks, i, v) {
        if (r != QT_OK) break;
        const char *rn = json_string_value(json_object_get(v, "run_name"));
        if (!rn) rn = json_string_value(json_object_get(v, "name"));
        if (!rn || json_object_get(seen, rn)) continue;
        json_object_set_new(seen, rn, json_true());
        r = import_case(&im, benchmarks, rn);
    }
    json_decref(seen);
    json_decref(root);
    if (im.run_id) {
        const char *status = r == QT_OK ? "completed" : "failed";
        qt_status_t e = qt_store_run_end(s, im.run_id, status);
        if (r == QT_OK) r = e;
    }
    *run_id = im.run_id;
    *n_cases = im.n_cases;
    return r;
}

#endif
