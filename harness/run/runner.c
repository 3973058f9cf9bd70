/* runner.c — executes suites into the store (see runner.h for the contract).
 *
 * Per timed case: setup → Google Benchmark repetitions of iterate() with the
 * counters read around each repetition's loop → after() → teardown → one
 * transaction. Per experiment: run_seed() for each seed → one transaction.
 * The recording context qt_rec (suite.h) collects raw samples and series of the
 * current case, the medians of the current suite's finished cases (for
 * finish()) and the calibration ceilings.
 *
 * Invocations (`run --invocations K`, invocations.c): this process is invocation k when
 * QT_INVOCATION=k is set; its samples carry k, and from k = 2 on each suite's cases run in an
 * order shuffled with (seed, k) (Kalibera & Jones 2013: randomise what an invocation cannot
 * control). Test hook QT_INJECT_SLOWDOWN=REGEX:FRACTION: cases whose suite/case/variant/params
 * match REGEX spin FRACTION x the iteration's own time inside the timed region (manual-time cases
 * report FRACTION more and spin as long, so their CPU time grows too), and the run's provenance
 * records inject_slowdown, so an injected run can
 * never pass as a real one (tests/harness/test_gate.c). */
#include "run/runner.h"

#include <math.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quintet/backend.h"

#include <omp.h>

#include "run/gbench.h"
#include "run/launch.h"
#include "run/hwcounters.h"
#include "run/provenance.h"
#include "run/warnings.h"
#ifdef QT_HAVE_CUDA
#include "run/cuda_probe.h"
#endif
#include "quintet/tensor.h"
#include "analysis/stats.h"
#include "store/store.h"

/* ---- profile defaults ---- */
static const int default_reps[QT_PROFILE_COUNT] = {3, 5, 20};
/* Invocations (processes) a run makes when --invocations is not given: the nightly profile's K and
 * its repetitions above come from `quintet calibrate-gate` (README, "Regression gating"). A child
 * process (QT_INVOCATION set: one invocation of `run --invocations` or one round of `ab`) is always
 * a single invocation. */
static const int default_invocations[QT_PROFILE_COUNT] = {1, 4, 1};
static const double default_min_time[QT_PROFILE_COUNT] = {0.02, 0.1, 0.5};

/* ---- growable arrays ---- */
typedef struct {
    char metric[72], unit[24];
    int repetition;
    double value;
    int invocation;
} sample_t;

typedef struct {
    char series[48];
    int64_t seed, step;
    double value;
} point_t;

typedef struct {
    char name[48], variant[24], metric[72], unit[24];
    qt_params_t params;
    double median;
    int n;
} result_t;

#define DEFINE_VEC(T, vec)                                                  \
    typedef struct { T *v; int n, cap; } vec;                               \
    /* Append one zeroed element; NULL when out of memory. */               \
    static T *vec##_push(vec *a)                                            \
    {                                                                       \
        if (a->n == a->cap) {                                               \
            int cap = a->cap ? 2 * a->cap : 64;                             \
            T *nv = realloc(a->v, (size_t)cap * sizeof *nv);                \
            if (!nv) return NULL;                                           \
            a->v = nv;                                                      \
            a->cap = cap;                                                   \
        }                                                                   \
        T *e = &a->v[a->n++];                                               \
        memset(e, 0, sizeof *e);                                            \
        return e;                                                           \
    }
DEFINE_VEC(sample_t, sample_vec)
DEFINE_VEC(point_t, point_vec)
DEFINE_VEC(result_t, result_vec)

struct qt_rec {
    qt_store_t *store;
    int invocation;         /* QT_INVOCATION, 0 when unset */
    double inject;          /* QT_INJECT_SLOWDOWN fraction of the current case, 0 when none */
    int64_t run_id;
    uint64_t seed;
    int threads;
    const qt_suite_t *suite;
    const qt_case_t *cur;   /* NULL outside a case (finish) */
    int64_t cur_seed;
    sample_vec samples;
    point_vec points;
    result_vec results;     /* medians of the current suite's finished cases */
    int oom;                /* a recording was lost for lack of memory */
    double work_flops, work_bytes;
    char flops_metric[32], bytes_metric[32];
    char bytes_ceiling[32], bytes_frac[32]; /* qt_rec_set_bytes_ceiling */
    char flops_ceiling[32], flops_frac[32]; /* qt_rec_set_flops_ceiling */
    struct {
        char name[48];
        double value;
    } ceil[16];
    int n_ceil;
    qt_warnings_t warn;     /* warnings.h: stored with the run at its end */
    int n_ok, n_failed, n_skipped, n_interrupted;
    char skip_reason[200];  /* the first skip's reason */
};

static volatile sig_atomic_t interrupted;

/* First SIGINT/SIGTERM: stop after the current iteration. Second: leave at once
 * (the store marks the run interrupted the next time it is opened). */
static void on_signal(int sig)
{
    (void)sig;
    if (interrupted) _exit(QT_RUN_INTERRUPTED);
    interrupted = 1;
}

/* Seconds since the epoch, as a double. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Monotonic seconds. */
static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the recording API of suite.h ---- */

/* Next repetition index of a metric in the current case. */
static int next_repetition(const qt_rec_t *r, const char *metric)
{
    int k = 0;
    for (int i = 0; i < r->samples.n; i++)
        if (!strcmp(r->samples.v[i].metric, metric)) k++;
    return k;
}

void qt_rec_metric(qt_rec_t *r, const char *metric, const char *unit, double value)
{
    sample_t *s = sample_vec_push(&r->samples);
    if (!s) { r->oom = 1; return; }
    snprintf(s->metric, sizeof s->metric, "%s", metric);
    snprintf(s->unit, sizeof s->unit, "%s", unit ? unit : "");
    s->repetition = next_repetition(r, s->metric) - 1; /* it already counts itself */
    s->value = value;
    s->invocation = r->invocation;
}

void qt_rec_series(qt_rec_t *r, const char *series, int64_t step, double value)
{
    point_t *p = point_vec_push(&r->points);
    if (!p) { r->oom = 1; return; }
    snprintf(p->series, sizeof p->series, "%s", series);
    p->seed = r->cur_seed;
    p->step = step;
    p->value = value;
}

void qt_rec_set_work(qt_rec_t *r, double flops, double bytes)
{
    r->work_flops = flops;
    r->work_bytes = bytes;
}

void qt_rec_set_rate_names(qt_rec_t *r, const char *flops_metric, const char *bytes_metric)
{
    snprintf(r->flops_metric, sizeof r->flops_metric, "%s", flops_metric ? flops_metric : "gflops");
    snprintf(r->bytes_metric, sizeof r->bytes_metric, "%s", bytes_metric ? bytes_metric : "gbps");
}

void qt_rec_set_bytes_ceiling(qt_rec_t *r, const char *ceiling, const char *frac_metric)
{
    snprintf(r->bytes_ceiling, sizeof r->bytes_ceiling, "%s", ceiling ? ceiling : "stream_triad_gbps");
    snprintf(r->bytes_frac, sizeof r->bytes_frac, "%s", frac_metric ? frac_metric : "frac_stream");
}

void qt_rec_set_flops_ceiling(qt_rec_t *r, const char *ceiling, const char *frac_metric)
{
    snprintf(r->flops_ceiling, sizeof r->flops_ceiling, "%s", ceiling ? ceiling : "sgemm_gflops_all");
    snprintf(r->flops_frac, sizeof r->flops_frac, "%s", frac_metric ? frac_metric : "frac_sgemm");
}

double qt_rec_ceiling(qt_rec_t *r, const char *name)
{
    for (int i = 0; i < r->n_ceil; i++)
        if (!strcmp(r->ceil[i].name, name)) return r->ceil[i].value;
    return NAN;
}

void qt_rec_set_ceiling(qt_rec_t *r, const char *name, double value)
{
    int i = 0;
    while (i < r->n_ceil && strcmp(r->ceil[i].name, name)) i++;
    if (i == r->n_ceil) {
        if (r->n_ceil == (int)(sizeof r->ceil / sizeof r->ceil[0])) return;
        r->n_ceil++;
        snprintf(r->ceil[i].name, sizeof r->ceil[i].name, "%s", name);
    }
    r->ceil[i].value = value;
}

uint64_t qt_rec_seed(qt_rec_t *r) { return r->seed; }
int qt_rec_threads(qt_rec_t *r) { return r->threads; }

void qt_rec_note(qt_rec_t *r, const char *fmt, ...)
{
    (void)r;
    va_list ap;
    va_start(ap, fmt);
    fputs("        ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void qt_rec_foreach_result(qt_rec_t *r, const char *metric, int (*fn)(void *arg, const qt_result_t *res),
                           void *arg)
{
    for (int i = 0; i < r->results.n; i++) {
        const result_t *e = &r->results.v[i];
        if (metric && strcmp(metric, e->metric)) continue;
        qt_result_t res = {e->name, e->variant, &e->params, e->metric, e->unit, e->median, e->n};
        if (fn(arg, &res)) return;
    }
}

qt_status_t qt_rec_derived(qt_rec_t *r, const char *name, const char *variant, const qt_params_t *params,
                           const char *metric, const char *unit, double value)
{
    char ptext[1024] = "";
    if (params) qt_params_format(params, ptext, sizeof ptext);
    qt_sample_t s = {metric, unit, 0, value, r->invocation};
    double t = now_s();
    qt_case_record_t rec = {r->suite->name, name, variant, ptext, "ok", NULL, t, t, &s, 1, NULL, 0};
    return qt_store_case(r->store, r->run_id, &rec);
}

/* ---- per-case execution ---- */

typedef struct {
    const qt_case_t *c;
    void *state;
    qt_hwc_t *hwc;
    double inject; /* QT_INJECT_SLOWDOWN fraction for this case (0: none) */
    char error[256];
} bench_arg_t;

/* The function Google Benchmark times: iterate() in its loop, counters around it. */
static void bench_fn(void *st, void *arg)
{
    bench_arg_t *b = arg;
    double delta[QT_HWC_MAX];
    qt_hwc_start(b->hwc);
    while (qt_gb_keep_running(st)) {
        if (interrupted) {
            qt_gb_skip_with_error(st, "interrupted");
            break;
        }
        double sec = -1.0, t0 = b->inject > 0 ? mono_s() : 0;
        qt_status_t s = b->c->iterate(b->state, &sec);
        if (s != QT_OK) {
            snprintf(b->error, sizeof b->error, "%s", qt_last_error());
            qt_gb_skip_with_error(st, b->error);
            break;
        }
        if (b->inject > 0) { /* the test hook: lengthen the timed region by the fraction */
            /* a manual-time case reports that much more and spins as long, so that its CPU time
             * (cpu_time_s, which the gate also judges) grows too; others spin in the timed region */
            double spin = b->c->manual_time && sec > 0 ? sec * b->inject : (mono_s() - t0) * b->inject;
            if (b->c->manual_time) sec *= 1 + b->inject;
            for (double until = mono_s() + spin; mono_s() < until;)
                ;
        }
        if (b->c->manual_time) qt_gb_set_iteration_time(st, sec > 0 ? sec : 1e-12);
    }
    qt_hwc_stop(b->hwc, delta);
    for (int i = 0; i < b->hwc->n; i++)
        if (b->hwc->ev[i].available && !isnan(delta[i])) qt_gb_set_counter(st, b->hwc->ev[i].metric, delta[i]);
}

typedef struct {
    qt_rec_t *r;
    int failed;
    char error[256];
} rep_ctx_t;

/* Receives each repetition from Google Benchmark: time, counters and rates. */
static void on_repetition(void *arg, const qt_gb_rep_t *rep)
{
    rep_ctx_t *ctx = arg;
    qt_rec_t *r = ctx->r;
    if (rep->error) {
        ctx->failed = 1;
        snprintf(ctx->error, sizeof ctx->error, "%s", rep->error_message ? rep->error_message : "error");
        return;
    }
    qt_rec_metric(r, "time_s", "s", rep->real_time_s);
    qt_rec_metric(r, "cpu_time_s", "s", rep->cpu_time_s);
    qt_rec_metric(r, "iterations", "count", (double)rep->iterations);
    for (int i = 0; i < rep->n_counters; i++)
        qt_rec_metric(r, rep->counter_names[i], "per_iteration", rep->counter_values[i]);
    if (r->work_flops > 0 && rep->real_time_s > 0) {
        double gflops = r->work_flops / rep->real_time_s / 1e9;
        qt_rec_metric(r, r->flops_metric, "GFLOP/s", gflops);
        double ceil = qt_rec_ceiling(r, r->flops_ceiling);
        if (ceil > 0) qt_rec_metric(r, r->flops_frac, "ratio", gflops / ceil);
    }
    if (r->work_bytes > 0 && rep->real_time_s > 0) {
        double gbps = r->work_bytes / rep->real_time_s / 1e9;
        qt_rec_metric(r, r->bytes_metric, "GB/s", gbps);
        double ceil = qt_rec_ceiling(r, r->bytes_ceiling);
        if (ceil > 0) qt_rec_metric(r, r->bytes_frac, "ratio", gbps / ceil);
    }
}

/* Run a timed case; returns QT_OK, or the failure with its message in err. */
static qt_status_t run_timed(qt_rec_t *r, const qt_case_t *c, const qt_run_opts_t *o, qt_hwc_t *hwc, char *err,
                             size_t err_size, int *skipped)
{
    void *state = NULL;
    double t0 = mono_s();
    qt_status_t s = c->setup ? c->setup(c, r, &state) : QT_OK;
    double setup_s = mono_s() - t0;
    if (s != QT_OK) {
        snprintf(err, err_size, "%s", qt_last_error());
        *skipped = s == QT_ERR_UNSUPPORTED;
        return s;
    }
    int reps = o->repetitions > 0 ? o->repetitions : default_reps[o->profile];
    if (c->max_repetitions > 0 && reps > c->max_repetitions) reps = c->max_repetitions;
    qt_gb_opts_t go = {reps, c->min_time > 0 ? c->min_time : default_min_time[o->profile], c->manual_time};
    bench_arg_t b = {c, state, hwc, r->inject, ""};
    rep_ctx_t ctx = {r, 0, ""};
    char name[160];
    snprintf(name, sizeof name, "%s/%s/%s", r->suite->name, c->name, c->variant);
    qt_rec_metric(r, "setup_s", "s", setup_s);
    qt_mem_peak_reset();
    for (int d = 0; d < QT_MAX_CUDA_DEVICES; d++) qt_device_mem_peak_reset(qt_device_cuda(d));
    int got = qt_gb_run_one(name, bench_fn, &b, &go, on_repetition, &ctx);
    if (ctx.failed || got == 0) {
        snprintf(err, err_size, "%s", ctx.failed ? ctx.error : "Google Benchmark delivered no repetition");
        s = QT_ERR_INTERNAL;
    } else if (c->after) {
        s = c->after(state, c, r);
        if (s != QT_OK) snprintf(err, err_size, "after: %s", qt_last_error());
    }
    if (c->teardown) c->teardown(state);
    return s;
}

/* Run an experiment once per seed; wall time per seed recorded as wall_s. */
static qt_status_t run_experiment(qt_rec_t *r, const qt_case_t *c, char *err, size_t err_size, int *skipped)
{
    int n = c->n_seeds > 0 ? c->n_seeds : 1;
    for (int i = 0; i < n && !interrupted; i++) {
        r->cur_seed = (int64_t)(r->seed + (uint64_t)i);
        double t0 = mono_s();
        qt_status_t s = c->run_seed(c, r, r->seed + (uint64_t)i);
        if (s != QT_OK) {
            snprintf(err, err_size, "seed %llu: %s", (unsigned long long)(r->seed + (uint64_t)i), qt_last_error());
            *skipped = s == QT_ERR_UNSUPPORTED;
            return s;
        }
        qt_rec_metric(r, "wall_s", "s", mono_s() - t0);
    }
    if (interrupted) {
        snprintf(err, err_size, "interrupted");
        return QT_ERR_STATE;
    }
    return QT_OK;
}

/* Summaries of the current case's metrics into r->results (for finish()). */
static void remember_results(qt_rec_t *r, const qt_case_t *c)
{
    double *vals = malloc(sizeof(double) * (size_t)(r->samples.n ? r->samples.n : 1));
    if (!vals) return;
    for (int i = 0; i < r->samples.n; i++) {
        const sample_t *s = &r->samples.v[i];
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (!strcmp(r->samples.v[j].metric, s->metric)) first = 0;
        if (!first) continue;
        size_t n = 0;
        for (int j = i; j < r->samples.n; j++)
            if (!strcmp(r->samples.v[j].metric, s->metric)) vals[n++] = r->samples.v[j].value;
        qt_summary_t sum;
        qt_summarize(vals, n, &sum);
        result_t *e = result_vec_push(&r->results);
        if (!e) break;
        snprintf(e->name, sizeof e->name, "%s", c->name);
        snprintf(e->variant, sizeof e->variant, "%s", c->variant);
        e->params = c->params;
        snprintf(e->metric, sizeof e->metric, "%s", s->metric);
        snprintf(e->unit, sizeof e->unit, "%s", s->unit);
        e->median = sum.median;
        e->n = sum.n;
        char label[200], ptext[120];
        qt_params_format(&c->params, ptext, sizeof ptext);
        snprintf(label, sizeof label, "%s/%s/%s/%s", r->suite->name, c->name, c->variant, ptext);
        qt_warn_case(&r->warn, label, s->metric, sum.n, sum.median, sum.mean, sum.stddev);
    }
    free(vals);
}

/* Store the current case in one transaction. */
static qt_status_t store_case(qt_rec_t *r, const qt_case_t *c, const char *ptext, const char *status,
                              const char *message, double t0, double t1)
{
    qt_sample_t *ss = calloc((size_t)(r->samples.n ? r->samples.n : 1), sizeof *ss);
    qt_point_t *pp = calloc((size_t)(r->points.n ? r->points.n : 1), sizeof *pp);
    if (!ss || !pp) {
        free(ss);
        free(pp);
        return qt_fail(QT_ERR_NOMEM, "case records");
    }
    for (int i = 0; i < r->samples.n; i++)
        ss[i] = (qt_sample_t){r->samples.v[i].metric, r->samples.v[i].unit, r->samples.v[i].repetition,
                              r->samples.v[i].value, r->samples.v[i].invocation};
    for (int i = 0; i < r->points.n; i++)
        pp[i] = (qt_point_t){r->points.v[i].series, r->points.v[i].seed, r->points.v[i].step, r->points.v[i].value};
    qt_case_record_t rec = {r->suite->name, c->name, c->variant, ptext, status, message, t0, t1,
                            ss, r->samples.n, pp, r->points.n};
    qt_status_t s = qt_store_case(r->store, r->run_id, &rec);
    free(ss);
    free(pp);
    return s;
}

/* ---- selection ---- */

typedef struct {
    const qt_suite_t *suite;
    qt_case_list_t cases;
    int *selected;
    double *estimate; /* seconds the case took in the last run of the database that had it; NaN unknown */
} plan_t;

/* 1 when suite was named on the command line. */
static int named(const qt_run_opts_t *o, const qt_suite_t *suite)
{
    for (int i = 0; i < o->n_suites; i++)
        if (!strcmp(o->suites[i], suite->name)) return 1;
    return 0;
}

/* 1 when case c of suite passes the filter and backend options. Calibration always
 * runs in full (its ceilings feed every suite) unless it was named explicitly. */
static int case_selected(const qt_suite_t *suite, const qt_case_t *c, const qt_run_opts_t *o, regex_t *re)
{
    if (suite == qt_suites[0] && !named(o, suite)) return 1;
    if (o->backend && strcmp(o->backend, c->variant)) return 0;
    if (!re) return 1;
    char key[1200], ptext[1024];
    qt_params_format(&c->params, ptext, sizeof ptext);
    snprintf(key, sizeof key, "%s/%s/%s/%s", suite->name, c->name, c->variant, ptext);
    return regexec(re, key, 0, NULL, 0) == 0;
}

/* Record run-level provenance and counter availability. */
static qt_status_t record_provenance(qt_rec_t *r, const qt_provenance_t *p, const qt_hwc_t *h)
{
    for (int i = 0; i < p->n; i++) QT_TRY(qt_store_run_set(r->store, r->run_id, p->kv[i].key, p->kv[i].value));
    char buf[32];
    snprintf(buf, sizeof buf, "%d", r->threads);
    QT_TRY(qt_store_run_set(r->store, r->run_id, "omp_threads", buf));
    for (int i = 0; i < h->n; i++)
        QT_TRY(qt_store_run_counter(r->store, r->run_id, h->ev[i].name, h->ev[i].available,
                                    h->ev[i].available ? NULL : h->ev[i].reason));
    return QT_OK;
}

/* A random version-4 style UUID from /dev/urandom (time and pid as fallback). */
void qt_runner_uuid(char out[37])
{
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    if (got != sizeof b) {
        uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(mono_s() * 1e9);
        for (int i = 0; i < 16; i++) { x = x * 6364136223846793005ull + 1442695040888963407ull; b[i] = (unsigned char)(x >> 56); }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Build the plan: calibration, then the requested suites, their cases selected. */
static int build_plan(const qt_run_opts_t *o, regex_t *re, plan_t *plan, int *n_plan, int *total, int *asked)
{
    const qt_suite_t *chosen[32];
    int n = 0;
    /* calibration: always, its ceilings feed every suite; except on several MPI ranks, where
     * it would run once per rank on shared cores (and its ping-pong would nest mpirun): there
     * it runs only when named. */
    int world = 1;
    (void)qt_launch_rank(&world);
    if (world == 1 || named(o, qt_suites[0])) chosen[n++] = qt_suites[0];
    if (o->n_suites == 0) {
        for (int i = 1; qt_suites[i] && n < 32; i++) chosen[n++] = qt_suites[i];
    } else {
        for (int i = 0; i < o->n_suites; i++) {
            const qt_suite_t *s = qt_suite_find(o->suites[i]);
            if (!s) {
                fprintf(stderr, "quintet run: unknown suite '%s' (see `quintet list`)\n", o->suites[i]);
                return QT_RUN_BAD_INPUT;
            }
            int dup = 0;
            for (int j = 0; j < n; j++) dup |= chosen[j] == s;
            if (!dup && n < 32) chosen[n++] = s;
        }
    }
    *total = *asked = 0;
    for (int i = 0; i < n; i++) {
        plan[i].suite = chosen[i];
        memset(&plan[i].cases, 0, sizeof plan[i].cases);
        if (chosen[i]->cases(o->profile, &plan[i].cases) != QT_OK) {
            fprintf(stderr, "quintet run: suite %s could not list its cases: %s\n", chosen[i]->name, qt_last_error());
            *n_plan = i + 1;
            return QT_RUN_BAD_INPUT;
        }
        plan[i].selected = calloc((size_t)plan[i].cases.n + 1, sizeof(int));
        plan[i].estimate = calloc((size_t)plan[i].cases.n + 1, sizeof(double));
        if (!plan[i].selected || !plan[i].estimate) {
            fprintf(stderr, "quintet run: out of memory\n");
            *n_plan = i + 1;
            return QT_RUN_STORE_ERROR;
        }
        int implicit = chosen[i] == qt_suites[0] && !named(o, chosen[i]); /* calibration, always run */
        for (int k = 0; k < plan[i].cases.n; k++) {
            plan[i].selected[k] = case_selected(chosen[i], &plan[i].cases.items[k], o, re);
            plan[i].estimate[k] = NAN;
            *total += plan[i].selected[k];
            if (!implicit) *asked += plan[i].selected[k];
        }
    }
    *n_plan = n;
    return QT_RUN_OK;
}

/* QT_INJECT_SLOWDOWN=REGEX:FRACTION (the last ':' splits): compile REGEX into re and read the
 * fraction, in (0, 10]. QT_ERR_ARG with a message on a malformed value. */
qt_status_t qt_runner_inject_parse(const char *text, regex_t *re, double *fraction)
{
    QT_CHECK_ARG(text && re && fraction, "inject: bad arguments");
    const char *colon = strrchr(text, ':');
    char *end = NULL;
    double f = colon ? strtod(colon + 1, &end) : NAN;
    if (!colon || colon == text || !end || *end || end == colon + 1 || !(f > 0 && f <= 10))
        return qt_fail(QT_ERR_ARG, "QT_INJECT_SLOWDOWN='%s': expected REGEX:FRACTION with FRACTION in (0, 10], e.g. "
                                   "calibration/stream_triad:0.10", text);
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%.*s", (int)(colon - text), text);
    int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[200];
        regerror(rc, re, msg, sizeof msg);
        return qt_fail(QT_ERR_ARG, "QT_INJECT_SLOWDOWN: bad regex '%s': %s", pattern, msg);
    }
    *fraction = f;
    return QT_OK;
}

/* Each selected case's duration in the most recent other run of the database that had it
 * (case_wall_s of a timed case; wall_s × seeds of an experiment). */
static void estimate_plan(qt_store_t *store, int64_t run_id, plan_t *plan, int n_plan)
{
    for (int i = 0; i < n_plan; i++)
        for (int k = 0; k < plan[i].cases.n; k++) {
            const qt_case_t *c = &plan[i].cases.items[k];
            if (!plan[i].selected[k]) continue;
            char ptext[1024];
            qt_params_format(&c->params, ptext, sizeof ptext);
            double m = NAN;
            int found = 0;
            qt_store_last_median(store, run_id, plan[i].suite->name, c->name, c->variant, ptext,
                                 c->experiment ? "wall_s" : "case_wall_s", &m, &found);
            if (found) plan[i].estimate[k] = c->experiment ? m * (c->n_seeds > 0 ? c->n_seeds : 1) : m;
        }
}

/* Seconds left after case (i, k) starts: the known estimates of the cases from (i, k) on, the unknown
 * ones at the mean time per case so far (measured cases only); NaN when nothing is known yet. */
static double time_left(const plan_t *plan, int n_plan, int i0, int k0, double elapsed, int done)
{
    double known = 0, known_done = 0;
    int unknown = 0, n_known_done = 0;
    for (int i = 0; i < n_plan; i++)
        for (int k = 0; k < plan[i].cases.n; k++) {
            if (!plan[i].selected[k]) continue;
            int ahead = i > i0 || (i == i0 && k >= k0);
            double e = plan[i].estimate[k];
            if (ahead) {
                if (isnan(e)) unknown++;
                else known += e;
            } else if (!isnan(e)) {
                known_done += e;
                n_known_done++;
            }
        }
    /* scale the estimates by how this run compares with the last one on the cases both ran */
    double scale = n_known_done > 0 && known_done > 0 && n_known_done == done ? elapsed / known_done : 1.0;
    if (unknown && done == 0) return NAN;
    double per_case = done > 0 ? elapsed / done : 0;
    return known * scale + unknown * per_case;
}

/* Run one case end to end and store it; updates the failure count. */
static void run_case(qt_rec_t *r, const qt_case_t *c, const qt_run_opts_t *o, qt_hwc_t *hwc, int k, int total,
                     double left, double elapsed, int *failures, int *store_failed, regex_t *inject_re, double inject)
{
    char ptext[1024];
    qt_params_format(&c->params, ptext, sizeof ptext);
    r->inject = 0;
    if (inject_re) {
        char key[1200];
        snprintf(key, sizeof key, "%s/%s/%s/%s", r->suite->name, c->name, c->variant, ptext);
        if (regexec(inject_re, key, 0, NULL, 0) == 0) r->inject = inject;
    }
    fprintf(stderr, "[%3d/%d] %s %s/%s %s", k, total, r->suite->name, c->name, c->variant, ptext);
    if (k > 1 && !isnan(left)) fprintf(stderr, "  (elapsed %.0f s, ~%.0f s left)", elapsed, left);
    else if (k > 1) fprintf(stderr, "  (elapsed %.0f s)", elapsed);
    fputc('\n', stderr);
    r->cur = c;
    r->samples.n = r->points.n = 0;
    r->oom = 0;
    r->cur_seed = (int64_t)r->seed;
    r->work_flops = r->work_bytes = 0;
    qt_rec_set_rate_names(r, NULL, NULL);
    qt_rec_set_bytes_ceiling(r, NULL, NULL);
    qt_rec_set_flops_ceiling(r, NULL, NULL);
    char err[512] = "";
    int skipped = 0;
    double t0 = now_s(), m0 = mono_s();
    qt_status_t s = c->experiment ? run_experiment(r, c, err, sizeof err, &skipped)
                                  : run_timed(r, c, o, hwc, err, sizeof err, &skipped);
    if (s == QT_OK && r->oom) {
        s = QT_ERR_NOMEM;
        snprintf(err, sizeof err, "out of memory while recording");
    }
    if (!c->experiment) qt_rec_metric(r, "case_wall_s", "s", mono_s() - m0);
    const char *status = s == QT_OK ? "ok" : skipped ? "skipped" : "failed";
    if (s != QT_OK && interrupted) snprintf(err, sizeof err, "interrupted (Ctrl-C or SIGTERM) before it finished");
    if (s != QT_OK) fprintf(stderr, "        %s: %s\n", interrupted ? "interrupted" : status, err);
    if (s != QT_OK && !skipped && !interrupted) (*failures)++;
    if (s == QT_OK) r->n_ok++;
    else if (interrupted) r->n_interrupted++;
    else if (skipped) {
        if (r->n_skipped++ == 0) snprintf(r->skip_reason, sizeof r->skip_reason, "%s", err);
    } else r->n_failed++;
    if (s == QT_OK) remember_results(r, c);
    /* an interrupted case is stored as failed with its reason, so show lists it among the cases not run to completion */
    if (store_case(r, c, ptext, status, s == QT_OK ? NULL : err, t0, now_s()) != QT_OK) {
        fprintf(stderr, "quintet run: could not store case: %s\n", qt_last_error());
        *store_failed = 1;
    }
    r->cur = NULL;
}

/* qt_store_foreach_case callback: count the run's stored cases. */
static int count_case(void *arg, const qt_case_row_t *row)
{
    (void)row;
    ++*(int *)arg;
    return 0;
}

/* A permutation of 0..n-1 in order[] shuffled (Fisher-Yates) with a splitmix64 stream of key. */
static void shuffle_order(int *order, int n, uint64_t key)
{
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        uint64_t z = (key += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        int j = (int)(z % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* The whole run. */
int qt_runner_run(const qt_run_opts_t *o)
{
    if (o->invocations == 0) { /* the profile's default */
        const char *child = getenv("QT_INVOCATION");
        qt_run_opts_t d = *o;
        d.invocations = child && *child ? 1 : default_invocations[o->profile];
        if (d.invocations > 1) return qt_runner_invocations(&d);
    }
    if (o->invocations > 1) return qt_runner_invocations(o);
    regex_t re, inject_re;
    int have_re = 0, have_inject = 0;
    double inject = 0;
    const char *inject_text = getenv("QT_INJECT_SLOWDOWN");
    if (inject_text && *inject_text) {
        if (qt_runner_inject_parse(inject_text, &inject_re, &inject) != QT_OK) {
            fprintf(stderr, "quintet run: %s\n", qt_last_error());
            return QT_RUN_BAD_INPUT;
        }
        have_inject = 1;
        fprintf(stderr, "quintet run: TEST HOOK QT_INJECT_SLOWDOWN=%s: matching cases are made slower on purpose\n",
                inject_text);
    }
    const char *inv_text = getenv("QT_INVOCATION");
    int invocation = inv_text ? atoi(inv_text) : 0;
    if (o->filter) {
        int rc = regcomp(&re, o->filter, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &re, msg, sizeof msg);
            fprintf(stderr, "quintet run: bad --filter regex '%s': %s\n", o->filter, msg);
            return QT_RUN_BAD_INPUT;
        }
        have_re = 1;
    }
    plan_t plan[32];
    int n_plan = 0, total = 0, asked = 0;
    int rc = build_plan(o, have_re ? &re : NULL, plan, &n_plan, &total, &asked);
    if (rc == QT_RUN_OK && (total == 0 || ((o->filter || o->backend) && asked == 0))) {
        fprintf(stderr, "quintet run: no case matches the filter/backend given (%s%s%s%s%s); `quintet list --brief` "
                        "lists the cases as suite/case/variant/params\n",
                o->filter ? "--filter " : "", o->filter ? o->filter : "", o->filter && o->backend ? ", " : "",
                o->backend ? "--backend " : "", o->backend ? o->backend : "");
        rc = QT_RUN_BAD_INPUT;
    }
    qt_store_t *store = NULL;
    /* Several MPI ranks (launch.h): every rank runs every case (collectives need them all), rank 0
     * alone writes the database; the others record into an in-memory store and stay quiet on
     * stderr unless QT_DIST_VERBOSE is set. */
    int world = 1, rank = qt_launch_rank(&world);
    const char *db_path = rank > 0 ? ":memory:" : o->db_path;
    if (rank > 0 && !getenv("QT_DIST_VERBOSE") && !freopen("/dev/null", "w", stderr)) rc = QT_RUN_STORE_ERROR;
    if (rc == QT_RUN_OK && qt_store_open(db_path, 1, 1, &store) != QT_OK) {
        fprintf(stderr, "quintet run: %s\n", qt_last_error());
        rc = QT_RUN_STORE_ERROR;
    }
    if (rc != QT_RUN_OK) {
        for (int i = 0; i < n_plan; i++) { qt_case_list_free(&plan[i].cases); free(plan[i].selected); free(plan[i].estimate); }
        if (have_re) regfree(&re);
        if (have_inject) regfree(&inject_re);
        return rc;
    }

    qt_provenance_t prov;
    qt_provenance_collect(&prov);
    qt_hwc_t hwc;
    qt_hwc_init(&hwc, o->counters);
    char uuid[37];
    qt_runner_uuid(uuid);
    char suites_text[512] = "";
    for (int i = 0; i < n_plan; i++)
        snprintf(suites_text + strlen(suites_text), sizeof suites_text - strlen(suites_text), "%s%s", i ? "," : "",
                 plan[i].suite->name);
    qt_run_info_t info = {0};
    info.uuid = uuid;
    info.command_line = o->command_line;
    info.profile = qt_profile_name(o->profile);
    info.seed = o->seed;
    info.repetitions = o->repetitions > 0 ? o->repetitions : default_reps[o->profile];
    info.filter = o->filter;
    info.backend = o->backend;
    info.suites = suites_text;
    info.threads = omp_get_max_threads();
    info.pid = (int)getpid();
    info.started_at = now_s();
    qt_provenance_fill_run(&prov, &info);

    qt_rec_t r;
    memset(&r, 0, sizeof r);
    r.store = store;
    r.invocation = invocation;
    r.seed = o->seed;
    r.threads = info.threads;
    int failures = 0, store_failed = 0;
    char load[64];
    qt_warn_load(&r.warn, "start", info.cores, load, sizeof load);
    qt_provenance_set(&prov, "load_avg.start", load);
    if (qt_store_run_begin(store, &info, &r.run_id) != QT_OK || record_provenance(&r, &prov, &hwc) != QT_OK ||
        (have_inject && qt_store_run_set(store, r.run_id, "inject_slowdown", inject_text) != QT_OK) ||
        (invocation > 0 && qt_store_run_set(store, r.run_id, "invocation", inv_text) != QT_OK)) {
        fprintf(stderr, "quintet run: %s\n", qt_last_error());
        store_failed = 1;
    }
    estimate_plan(store, r.run_id, plan, n_plan);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (!store_failed)
        fprintf(stderr, "quintet run %s: %d cases, profile %s, seed %llu, database %s\n", uuid, total,
                info.profile, (unsigned long long)o->seed, o->db_path);
    double run_t0 = mono_s();
    int k = 0, skipped_asked = 0;
    for (int i = 0; i < n_plan && !interrupted && !store_failed; i++) {
        r.suite = plan[i].suite;
        r.results.n = 0;
        int *order = malloc(((size_t)plan[i].cases.n + 1) * sizeof *order);
        if (!order) {
            fprintf(stderr, "quintet run: out of memory\n");
            store_failed = 1;
            break;
        }
        if (invocation >= 2) shuffle_order(order, plan[i].cases.n, o->seed * 1000003u + (uint64_t)invocation);
        else
            for (int j = 0; j < plan[i].cases.n; j++) order[j] = j; /* invocation 1 and plain runs: listed order */
        for (int jj = 0; jj < plan[i].cases.n && !interrupted && !store_failed; jj++) {
            int j = order[jj];
            if (plan[i].selected[j]) {
                double elapsed = mono_s() - run_t0;
                int skipped_before = r.n_skipped;
                double left = time_left(plan, n_plan, i, j, elapsed, k);
                run_case(&r, &plan[i].cases.items[j], o, &hwc, ++k, total, left, elapsed, &failures, &store_failed,
                         have_inject ? &inject_re : NULL, inject);
                if (plan[i].suite != qt_suites[0] || named(o, plan[i].suite)) skipped_asked += r.n_skipped - skipped_before;
            }
        }
        free(order);
        if (!interrupted && !store_failed && r.suite->finish && r.suite->finish(&r) != QT_OK) {
            fprintf(stderr, "quintet run: %s finish: %s\n", r.suite->name, qt_last_error());
            failures++;
        }
    }
    /* From here on the run's outcome is fixed: SIGINT/SIGTERM are blocked (a later one would otherwise
     * make the exit status disagree with the status stored and printed) and `stopped` is read once. */
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_sigs, NULL);
    const int stopped = interrupted;
    /* nothing of what was asked ran (every asked case skipped): not a success */
    int nothing_ran = !stopped && !store_failed && asked > 0 && skipped_asked >= asked;
    const char *status = stopped ? "interrupted" : (failures || store_failed || nothing_ran) ? "failed" : "completed";
    qt_warn_ceilings(&r.warn, qt_rec_ceiling(&r, "sgemm_gflops_all"), qt_rec_ceiling(&r, "sgemm_gflops_1t"), r.threads);
    if (!store_failed) {
        char other[1024];
        qt_warn_load(&r.warn, "end", info.cores, load, sizeof load);
        if (qt_store_run_set(store, r.run_id, "load_avg.end", load) != QT_OK ||
            qt_store_concurrent_runs(store, r.run_id, other, sizeof other) != QT_OK ||
            qt_store_run_set(store, r.run_id, "concurrent_runs", other) != QT_OK ||
            qt_warn_finish(&r.warn, store, r.run_id) != QT_OK) {
            fprintf(stderr, "quintet run: %s\n", qt_last_error());
            store_failed = 1;
        } else if (strcmp(other, "none")) {
            fprintf(stderr, "quintet run: note: other quintet runs wrote %s meanwhile: %s\n", o->db_path, other);
        }
#ifdef QT_HAVE_CUDA
        char why[128], state[256]; /* the GPU's clocks, power, temperature, throttle reasons at the end (NVML) */
        if (!store_failed && qt_cuda_device_count(why, sizeof why) > 0) {
            (void)qt_cuda_gpu_state(state, sizeof state);
            if (qt_store_run_set(store, r.run_id, "gpu_state.end", state) != QT_OK) store_failed = 1;
        }
#endif
    }
    if (r.run_id && qt_store_run_end(store, r.run_id, status) != QT_OK) {
        fprintf(stderr, "quintet run: %s\n", qt_last_error());
        store_failed = 1;
        status = "its end not stored (the next writer marks it interrupted)";
    }
    int n_stored = 0;
    if (r.run_id) qt_store_foreach_case(store, r.run_id, count_case, &n_stored);
    fprintf(stderr, "quintet run %s: %s, %d of %d cases: %d ok, %d failed, %d skipped, %d interrupted, %d not started; "
                    "%d stored (%.1f s)\n", uuid, status, k, total, r.n_ok, r.n_failed, r.n_skipped, r.n_interrupted,
            total - k, n_stored, mono_s() - run_t0);
    if (n_stored < k)
        fprintf(stderr, "quintet run: only %d of the %d cases that ran are stored in %s (the database could not be "
                        "written: see above)\n", n_stored, k, o->db_path);
    if (r.n_skipped) fprintf(stderr, "quintet run: skipped (first reason): %s\n", r.skip_reason);
    if (nothing_ran)
        fprintf(stderr, "quintet run: nothing of what was asked ran: all %d selected cases were skipped (exit 1)\n", asked);
    qt_store_close(store);
    qt_hwc_free(&hwc);
    for (int i = 0; i < n_plan; i++) { qt_case_list_free(&plan[i].cases); free(plan[i].selected); free(plan[i].estimate); }
    free(r.samples.v);
    free(r.points.v);
    free(r.results.v);
    if (have_re) regfree(&re);
    if (have_inject) regfree(&inject_re);
    if (stopped) return QT_RUN_INTERRUPTED;
    if (store_failed) return QT_RUN_STORE_ERROR;
    return failures || nothing_ran ? QT_RUN_CASES_FAILED : QT_RUN_OK;
}
