/* lr_convergence.c — the adaptive-learning-rate suite (issue 4): every optimizer of
 * impl/optim on every test problem of testing/optim_problems.h, and the bandwidth of
 * one optimizer step over large parameter vectors, on every backend of the registry with
 * optimizer ops that supports the case (variant = the backend; a backend not available on
 * this machine, e.g. cuda without a GPU, is recorded as skipped with the reason).
 *
 * Experiments `converge` (f64 parameters; params optimizer, problem, lr,
 * steps, target): one run per seed (quick 3, nightly 5, paper 20) from the problem's
 * start; every `eval` steps the reported loss (noise-free / full-data, see
 * optim_problems.h) is evaluated and recorded as the series `loss`. Metrics per seed:
 *   steps_to_target   first evaluated step with loss ≤ target (censored at `steps` when
 *                     never reached: see `reached`)
 *   time_to_target_s  wall time of gradients + optimizer steps up to that point (the loss
 *                     evaluations are not counted; censored like steps_to_target)
 *   reached           1 when the target was reached
 *   final_loss        loss after `steps` steps (recorded only when the run did not diverge)
 *   diverged          1 when the loss became non-finite or exceeded 1e4 × its start value
 *                     (the run stops there)
 * Learning rates: each optimizer's default-profile lr per problem was picked once from the
 * paper profile's sweep grid (best median steps_to_target on 3 seeds), other
 * hyperparameters are torch's defaults. The paper profile adds `lr_sweep` cases (5 seeds
 * each) over the grid 1e-4 … 3e-1 and finish() derives, per backend, optimizer and problem,
 * `best_lr`, `best_steps_to_target` and `best_final_loss` (the tuned result, as AlgoPerf's
 * and DeepOBS's tuning protocols report) as derived cases named `lr_sweep_best`.
 *
 * The problems' gradients are computed on the host; on a device backend every step copies
 * the parameters and gradient over and the parameters back (qt_optim_step_host), and that
 * copying is part of time_to_target_s.
 *
 * Timed cases `step_10m` (params optimizer, dtype, n): one optimizer step (torch defaults)
 * over one tensor of n = 10M parameters with a fixed gradient, every optimizer; `step_large`
 * (sgd, adam, adamw in f32 at n = 1M and 16M): the same for the fused device kernels;
 * `step_llc` (nightly and paper, host backends, every optimizer, f32): the same at n = the smallest multiple of
 * 2^20 whose parameters + gradient (8 bytes per element) cover twice the last-level cache
 * (qt_suite_llc_bytes: sysfs; 32 MiB → n = 8·2^20; a 120 MiB LLC → 30·2^20): at 10M (80 MB of
 * parameters + gradient, SGD's whole footprint) a host whose LLC exceeds the footprint times
 * a cache-resident step (issue 18: a ≥ 122 MB LLC, 16 threads), which is not the memory-bound
 * step the case family is meant to compare; suites/peers/torch_cpu.py derives the same n;
 * `step_100m` (device backends only): every optimizer in f32 over n = 100M parameters, as one
 * tensor and as `tensors` = 64 (the multi-tensor step). The
 * parameters, gradient and state live on the backend's device (drawn there: tensor fills run
 * on the device backend's own Philox kernel). Declared work: the bytes of
 * qt_optim_work (each stream of parameter, gradient and state read or written counted once,
 * as STREAM counts), so the runner records gbps and, on a host backend, frac_stream = gbps /
 * this run's stream_triad_gbps; on a device backend the step is timed with the backend's
 * timer (CUDA events, manual time) and frac_copy = gbps / this run's gpu_copy_gbps (the
 * calibration's device-to-device copy, read + write bytes). FLOPs as qt_optim_work
 * estimates them. The ref oracle runs the experiments only (its timed cases would be f64
 * over 10M parameters through temporaries: not a benchmark of anything).
 * Run: quintet run lr_convergence [--profile quick|nightly|paper]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quintet/optim.h"
#include "testing/optim_problems.h"
#include "quintet/rng.h"
#include "quintet/tensor.h"
#include "run/suite.h"

static const char *const lrc_metrics[] = {
    "steps_to_target|steps|converge/lr_sweep: first evaluated step with loss <= target (censored at steps)",
    "time_to_target_s|s|converge/lr_sweep: gradient + optimizer time to the target (censored at the run's time)",
    "reached|bool|converge/lr_sweep: 1 when the target was reached",
    "final_loss|loss|converge/lr_sweep: reported loss after all steps (runs that did not diverge)",
    "diverged|bool|converge/lr_sweep: 1 when the loss went non-finite or above 1e4 x its start",
    "best_lr|lr|lr_sweep_best (paper): lr with the best median steps_to_target per optimizer and problem",
    "best_steps_to_target|steps|lr_sweep_best (paper): median steps_to_target at best_lr",
    "best_final_loss|loss|lr_sweep_best (paper): median final_loss at best_lr",
    "time_s|s|step_10m, step_large: one optimizer step over n parameters",
    "gbps|GB/s|step_10m, step_large: bytes read + written (qt_optim_work) per second",
    "frac_stream|ratio|step_10m, step_large on a host backend: gbps / stream_triad_gbps of this run",
    "frac_copy|ratio|step_10m, step_large on a device backend: gbps / gpu_copy_gbps (device copy) of this run",
    NULL,
};

/* ------------------------------------------------------------ problems */

typedef struct {
    qt_problem_kind_t kind;
    int dim;
    double noise;      /* < 0: the problem's default */
    int steps[QT_PROFILE_COUNT];
    int eval;          /* evaluate the loss every `eval` steps */
    double target;     /* NAN: the problem's own (logreg: the teacher's loss) */
} lrc_problem_t;

static const lrc_problem_t lrc_problems[] = {
    {QT_PROB_QUADRATIC_DEEP, 100, 1.0, {1000, 2000, 3000}, 10, 1.0},
    {QT_PROB_ROSENBROCK, 2, 0.0, {3000, 5000, 10000}, 10, 1e-3},
    {QT_PROB_ROSENBROCK_NOISY, 2, 1.0, {2000, 4000, 6000}, 10, 0.05},
    {QT_PROB_LOGREG, 21, 0.0, {1000, 2000, 4000}, 10, NAN},
    {QT_PROB_MLP, 0, 0.0, {1000, 2000, 4000}, 10, 0.1},
};
#define LRC_NPROB ((int)(sizeof lrc_problems / sizeof lrc_problems[0]))

/* Default-profile learning rate per optimizer (rows, qt_optim_kind_t order) and problem
 * (columns, lrc_problems order). */
static const double lrc_lr[QT_OPTIM_COUNT][LRC_NPROB] = {
    /* quad   rosen  noisy  logreg mlp */
    {1e-2, 1e-3, 3e-3, 3e-1, 3e-1}, /* sgd */
    {3e-2, 3e-1, 3e-1, 1e-1, 3e-2}, /* adam */
    {1e-1, 1e-1, 3e-1, 1e-1, 3e-2}, /* adamw */
    {3e-2, 3e-3, 3e-3, 3e-1, 1e-1}, /* radam */
    {3e-2, 3e-3, 1e-2, 1e-1, 3e-2}, /* rmsprop */
    {3e-1, 3e-1, 3e-1, 3e-1, 3e-1}, /* adagrad */
    {3e-2, 3e-3, 3e-3, 3e-1, 1e-1}, /* adabelief */
    {1e-1, 1e-2, 3e-2, 1e-1, 1e-2}, /* lamb */
    {3e-2, 3e-1, 3e-1, 1e-1, 3e-2}, /* adalr */
};

static const double lrc_sweep[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1};
#define LRC_NSWEEP ((int)(sizeof lrc_sweep / sizeof lrc_sweep[0]))

typedef struct {
    int64_t steps_to_target;
    double time_to_target_s, final_loss, start_loss;
    int reached, diverged;
} lrc_result_t;

/* Seconds on the monotonic clock. */
static double lrc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Run optimizer `kind` (torch defaults, given lr) on backend instance be on problem pp for
 * `steps` steps with seed `seed`; the loss series goes to r when r is not NULL. */
static qt_status_t lrc_run(qt_backend_t *be, qt_optim_kind_t kind, const lrc_problem_t *pp, double lr, int steps,
                           uint64_t seed, qt_rec_t *r, lrc_result_t *res)
{
    memset(res, 0, sizeof *res);
    qt_problem_t prob;
    QT_TRY(qt_problem_init(&prob, pp->kind, pp->dim, pp->noise, seed));
    qt_optim_config_t cfg;
    qt_optim_config_default(kind, &cfg);
    cfg.lr = lr;
    size_t n = (size_t)prob.dim;
    qt_optim_t opt;
    qt_status_t st = qt_optim_init(&opt, be, &cfg, NULL, QT_F64, 1, &n);
    double *x = qt_alloc(n * sizeof *x), *g = qt_alloc(n * sizeof *g);
    if (st == QT_OK && (!x || !g)) st = qt_fail(QT_ERR_NOMEM, "lr_convergence: out of memory");
    if (st != QT_OK) goto out;
    double target = isnan(pp->target) ? prob.target : pp->target, loss, t_steps = 0;
    qt_problem_x0(&prob, x);
    if ((st = qt_problem_loss(&prob, x, &loss)) != QT_OK) goto out;
    res->start_loss = loss;
    res->steps_to_target = steps;
    if (r) qt_rec_series(r, "loss", 0, loss);
    for (int t = 0; t < steps; t++) {
        double t0 = lrc_now();
        if ((st = qt_problem_grad(&prob, x, t, g, NULL)) != QT_OK) goto out;
        void *pv[1] = {x};
        const void *gv[1] = {g};
        if ((st = qt_optim_step_host(&opt, pv, gv)) != QT_OK) goto out;
        t_steps += lrc_now() - t0;
        if ((t + 1) % pp->eval != 0 && t + 1 != steps) continue;
        if ((st = qt_problem_loss(&prob, x, &loss)) != QT_OK) goto out;
        if (!isfinite(loss) || loss > 1e4 * fmax(res->start_loss, 1e-12)) {
            res->diverged = 1;
            break;
        }
        if (r) qt_rec_series(r, "loss", t + 1, loss);
        if (!res->reached && loss <= target) {
            res->reached = 1;
            res->steps_to_target = t + 1;
            res->time_to_target_s = t_steps;
        }
    }
    if (!res->reached) res->time_to_target_s = t_steps;
    res->final_loss = loss;
out:
    qt_free(x);
    qt_free(g);
    qt_optim_free(&opt);
    qt_problem_free(&prob);
    return st;
}

/* The problem entry named in the case's params. */
static const lrc_problem_t *lrc_problem_of(const qt_case_t *c)
{
    qt_problem_kind_t k;
    if (qt_problem_kind_parse(qt_params_str(&c->params, "problem", ""), &k) != QT_OK) return NULL;
    for (int i = 0; i < LRC_NPROB; i++)
        if (lrc_problems[i].kind == k) return &lrc_problems[i];
    return NULL;
}

/* One seed of a converge / lr_sweep case. */
static qt_status_t lrc_run_seed(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    qt_optim_kind_t kind;
    QT_TRY(qt_optim_kind_parse(qt_params_str(&c->params, "optimizer", ""), &kind));
    const lrc_problem_t *pp = lrc_problem_of(c);
    if (!pp) return qt_fail(QT_ERR_ARG, "lr_convergence: unknown problem '%s'", qt_params_str(&c->params, "problem", ""));
    lrc_result_t res;
    qt_backend_t *be;
    qt_status_t st = qt_backend_init(&be, c->variant, NULL);
    if (st != QT_OK) return st == QT_ERR_UNSUPPORTED ? st : qt_fail(QT_ERR_UNSUPPORTED, "%s", qt_last_error());
    st = lrc_run(be, kind, pp, qt_params_double(&c->params, "lr", 1e-3),
                             (int)qt_params_int(&c->params, "steps", 1000), seed, r, &res);
    qt_backend_free(be);
    QT_TRY(st);
    qt_rec_metric(r, "steps_to_target", "steps", (double)res.steps_to_target);
    qt_rec_metric(r, "time_to_target_s", "s", res.time_to_target_s);
    qt_rec_metric(r, "reached", "bool", res.reached);
    qt_rec_metric(r, "diverged", "bool", res.diverged);
    if (!res.diverged) qt_rec_metric(r, "final_loss", "loss", res.final_loss);
    return QT_OK;
}

/* ------------------------------------------------------ one large step */

#define LRC_MAX_TENSORS 256 /* parameter tensors of one step case (param "tensors") */

typedef struct {
    qt_backend_t *be;
    qt_optim_t opt;
    qt_tensor_t p, g; /* all parameters and gradients, one allocation each */
    int nt;           /* the step's tensors: views of p and g */
    qt_tensor_t pv[LRC_MAX_TENSORS], gv[LRC_MAX_TENSORS];
    qt_tensor_t *pp[LRC_MAX_TENSORS];
    const qt_tensor_t *gp[LRC_MAX_TENSORS];
    int timer; /* time with the backend's timer (manual time) */
} lrc_step_t;

/* Free everything. */
static void lrc_step_teardown(void *state)
{
    lrc_step_t *s = state;
    if (!s) return;
    qt_optim_free(&s->opt);
    qt_tensor_free(&s->p);
    qt_tensor_free(&s->g);
    qt_backend_free(s->be);
    free(s);
}

/* A tensor of n elements uniform in [-1, 1) from stream `stream` on be's device, drawn there
 * (tensor.h: host loops, or the device backend's fill op: the same values). */
static qt_status_t lrc_step_fill(qt_backend_t *be, qt_tensor_t *t, qt_dtype_t dt, int64_t n, uint64_t seed,
                                 uint64_t stream)
{
    QT_TRY(qt_tensor_alloc(t, be, dt, 1, &n));
    qt_status_t st = qt_tensor_fill_uniform(t, seed, stream, -1.0, 1.0);
    if (st != QT_OK) qt_tensor_free(t);
    return st;
}

/* Tensor i of `nt` views cutting t (1-D, n elements) into nt pieces of n/nt elements rounded
 * down to a multiple of 16 (16-byte aligned starts), the last piece taking the rest. */
static qt_tensor_t lrc_piece(const qt_tensor_t *t, int nt, int i)
{
    int64_t n = t->shape[0], len = n / nt / 16 * 16, off = len * i;
    qt_tensor_t v = *t;
    v.shape[0] = i == nt - 1 ? n - off : len;
    v.offset += (size_t)off * qt_dtype_size(t->dtype);
    v.data = (char *)t->data + (size_t)off * qt_dtype_size(t->dtype);
    v.owns_data = 0;
    return v;
}

/* Instance, parameters and gradient on its device, one warm-up step, the declared work. */
static qt_status_t lrc_step_setup(const qt_case_t *c, qt_rec_t *r, void **state)
{
    qt_optim_kind_t kind;
    qt_dtype_t dt;
    QT_TRY(qt_optim_kind_parse(qt_params_str(&c->params, "optimizer", ""), &kind));
    QT_TRY(qt_dtype_parse(qt_params_str(&c->params, "dtype", "f32"), &dt));
    size_t n = (size_t)qt_params_int(&c->params, "n", 10000000);
    int nt = (int)qt_params_int(&c->params, "tensors", 1);
    if (nt < 1 || nt > LRC_MAX_TENSORS || (size_t)nt * 16 > n)
        return qt_fail(QT_ERR_ARG, "%s: tensors = %d (1 … %d, at least 16 elements each)", c->name, nt, LRC_MAX_TENSORS);
    lrc_step_t *s = calloc(1, sizeof *s);
    if (!s) return qt_fail(QT_ERR_NOMEM, "%s state", c->name);
    qt_optim_config_t cfg;
    qt_optim_config_default(kind, &cfg);
    char why[256];
    qt_status_t st = QT_OK;
    if ((st = qt_backend_init(&s->be, c->variant, NULL)) != QT_OK)
        st = st == QT_ERR_UNSUPPORTED ? st : qt_fail(QT_ERR_UNSUPPORTED, "%s", qt_last_error());
    else if (!qt_optim_supports(s->be, &cfg, dt, why, sizeof why)) st = qt_fail(QT_ERR_UNSUPPORTED, "%s", why);
    uint64_t seed = qt_rec_seed(r);
    if (st == QT_OK) st = lrc_step_fill(s->be, &s->p, dt, (int64_t)n, seed, 1);
    if (st == QT_OK) st = lrc_step_fill(s->be, &s->g, dt, (int64_t)n, seed, 2);
    size_t sizes[LRC_MAX_TENSORS];
    s->nt = nt;
    for (int i = 0; st == QT_OK && i < nt; i++) {
        s->pv[i] = lrc_piece(&s->p, nt, i);
        s->gv[i] = lrc_piece(&s->g, nt, i);
        s->pp[i] = &s->pv[i];
        s->gp[i] = &s->gv[i];
        sizes[i] = (size_t)s->pv[i].shape[0];
    }
    if (st == QT_OK) st = qt_optim_init(&s->opt, s->be, &cfg, NULL, dt, nt, sizes);
    if (st == QT_OK) st = qt_optim_step(&s->opt, s->pp, s->gp); /* state pages touched by the threads that use them */
    if (st == QT_OK) st = qt_backend_synchronize(s->be);
    if (st != QT_OK) {
        lrc_step_teardown(s);
        return st;
    }
    s->timer = c->manual_time;
    if (!qt_device_is_host(s->be->device)) qt_rec_set_bytes_ceiling(r, "gpu_copy_gbps", "frac_copy");
    double br, bw, fl;
    qt_optim_work(&cfg, dt, n, &br, &bw, &fl);
    qt_rec_set_work(r, fl, br + bw);
    *state = s;
    return QT_OK;
}

/* One optimizer step (device backends: timed by the backend's timer). */
static qt_status_t lrc_step_iterate(void *state, double *seconds)
{
    lrc_step_t *s = state;
    if (s->timer) QT_TRY(qt_backend_timer_start(s->be));
    QT_TRY(qt_optim_step(&s->opt, s->pp, s->gp));
    return s->timer ? qt_backend_timer_stop(s->be, seconds) : QT_OK;
}

/* Parameters must still be finite after all the steps (one value copied back). */
static qt_status_t lrc_step_after(void *state, const qt_case_t *c, qt_rec_t *r)
{
    (void)r;
    lrc_step_t *s = state;
    size_t es = qt_dtype_size(s->p.dtype);
    double v = 0;
    unsigned char buf[8];
    QT_TRY(qt_backend_copy(s->be, buf, qt_device_host(), (const unsigned char *)s->p.data + 12345 * es,
                           qt_tensor_device(&s->p), es));
    QT_TRY(qt_backend_synchronize(s->be));
    if (s->p.dtype == QT_F32) {
        float f;
        memcpy(&f, buf, sizeof f);
        v = f;
    } else memcpy(&v, buf, sizeof v);
    return isfinite(v) ? QT_OK : qt_fail(QT_ERR_INTERNAL, "%s: parameters became non-finite", c->name);
}

/* ---------------------------------------------------------------- cases */

/* 1 when backend iface implements optimizer kind k (torch defaults) in dt. */
static int lrc_backend_runs(const qt_backend_iface_t *f, qt_optim_kind_t k, qt_dtype_t dt)
{
    const qt_optim_ops_t *ops = f->ops[QT_TECH_OPTIM];
    qt_optim_config_t c;
    return ops && qt_optim_config_default(k, &c) == QT_OK && ops->supports(NULL, &c, dt);
}

/* Add one experiment case on every backend that runs optimizer k in f64. */
static qt_status_t lrc_add_experiment(qt_case_list_t *out, const char *name, qt_optim_kind_t k,
                                      const lrc_problem_t *pp, double lr, int steps, int seeds)
{
    for (int b = 0; b < qt_backend_count(); b++) {
        const qt_backend_iface_t *f = qt_backend_iface_get(b);
        if (!lrc_backend_runs(f, k, QT_F64)) continue;
        qt_case_t *c = qt_case_list_add(out);
        if (!c) return qt_fail(QT_ERR_NOMEM, "case list");
        snprintf(c->name, sizeof c->name, "%s", name);
        snprintf(c->variant, sizeof c->variant, "%s", f->name);
        QT_TRY(qt_params_set_str(&c->params, "optimizer", qt_optim_kind_name(k)));
        QT_TRY(qt_params_set_str(&c->params, "problem", qt_problem_kind_name(pp->kind)));
        QT_TRY(qt_params_set_double(&c->params, "lr", lr));
        QT_TRY(qt_params_set_int(&c->params, "steps", steps));
        c->experiment = 1;
        c->n_seeds = seeds;
        c->run_seed = lrc_run_seed;
    }
    return QT_OK;
}

/* Add one timed step case on every backend but the oracle that runs optimizer k in dt. */
enum { LRC_ALL, LRC_DEVICE_ONLY, LRC_HOST_ONLY }; /* the backends a step case is added for */

/* step_llc's n: parameters + gradient (8 bytes per f32 element, what every optimizer reads at
 * least) cover twice the last-level cache, in whole MiB-elements (2^20), at least 2^20. */
static int64_t lrc_llc_n(void)
{
    int64_t n = (int64_t)ceil(2.0 * qt_suite_llc_bytes() / 8.0 / 1048576.0) * 1048576;
    return n < 1048576 ? 1048576 : n;
}

static qt_status_t lrc_add_step(qt_case_list_t *out, qt_profile_t profile, const char *name, qt_optim_kind_t k,
                                qt_dtype_t dt, int64_t n, int tensors, int only)
{
    for (int b = 0; b < qt_backend_count(); b++) {
        const qt_backend_iface_t *f = qt_backend_iface_get(b);
        if (!strcmp(f->name, QT_BACKEND_ORACLE) || !lrc_backend_runs(f, k, dt)) continue;
        if (only == LRC_DEVICE_ONLY && f->device_kind == QT_DEVICE_HOST) continue;
        if (only == LRC_HOST_ONLY && f->device_kind != QT_DEVICE_HOST) continue;
        qt_case_t *c = qt_case_list_add(out);
        if (!c) return qt_fail(QT_ERR_NOMEM, "case list");
        snprintf(c->name, sizeof c->name, "%s", name);
        snprintf(c->variant, sizeof c->variant, "%s", f->name);
        QT_TRY(qt_params_set_str(&c->params, "optimizer", qt_optim_kind_name(k)));
        QT_TRY(qt_params_set_str(&c->params, "dtype", qt_dtype_name(dt)));
        QT_TRY(qt_params_set_int(&c->params, "n", n));
        if (tensors > 1) QT_TRY(qt_params_set_int(&c->params, "tensors", tensors));
        c->max_repetitions = profile == QT_PROFILE_PAPER ? 10 : 0;
        c->manual_time = f->device_kind != QT_DEVICE_HOST;
        c->setup = lrc_step_setup;
        c->iterate = lrc_step_iterate;
        c->after = lrc_step_after;
        c->teardown = lrc_step_teardown;
    }
    return QT_OK;
}

/* The cases of a profile. */
static qt_status_t lrc_cases(qt_profile_t profile, qt_case_list_t *out)
{
    static const int seeds[QT_PROFILE_COUNT] = {3, 5, 20};
    for (int k = 0; k < QT_OPTIM_COUNT; k++)
        for (int p = 0; p < LRC_NPROB; p++)
            QT_TRY(lrc_add_experiment(out, "converge", (qt_optim_kind_t)k, &lrc_problems[p], lrc_lr[k][p],
                                      lrc_problems[p].steps[profile], seeds[profile]));
    if (profile == QT_PROFILE_PAPER)
        for (int k = 0; k < QT_OPTIM_COUNT; k++)
            for (int p = 0; p < LRC_NPROB; p++)
                for (int i = 0; i < LRC_NSWEEP; i++)
                    QT_TRY(lrc_add_experiment(out, "lr_sweep", (qt_optim_kind_t)k, &lrc_problems[p], lrc_sweep[i],
                                              lrc_problems[p].steps[QT_PROFILE_NIGHTLY], 5));
    for (int d = 0; d < (profile == QT_PROFILE_QUICK ? 1 : 2); d++)
        for (int k = 0; k < QT_OPTIM_COUNT; k++)
            QT_TRY(lrc_add_step(out, profile, "step_10m", (qt_optim_kind_t)k, d ? QT_F64 : QT_F32, 10000000, 1, LRC_ALL));
    for (int k = 0; profile != QT_PROFILE_QUICK && k < QT_OPTIM_COUNT; k++)
        QT_TRY(lrc_add_step(out, profile, "step_llc", (qt_optim_kind_t)k, QT_F32, lrc_llc_n(), 1, LRC_HOST_ONLY));
    static const qt_optim_kind_t fused[] = {QT_OPTIM_SGD, QT_OPTIM_ADAM, QT_OPTIM_ADAMW};
    static const int64_t large[] = {1 << 20, 1 << 24};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++) QT_TRY(lrc_add_step(out, profile, "step_large", fused[k], QT_F32, large[i], 1, LRC_ALL));
    /* Device backends: every optimizer at 100M f32 parameters in one tensor, and in 64 tensors
     * (a model's layers: the multi-tensor launch). */
    for (int k = 0; k < QT_OPTIM_COUNT; k++)
        for (int t = 0; t < 2; t++)
            QT_TRY(lrc_add_step(out, profile, "step_100m", (qt_optim_kind_t)k, QT_F32, 100000000, t ? 64 : 1, LRC_DEVICE_ONLY));
    return QT_OK;
}

/* ---------------------------------------------------------------- finish */

#define LRC_MAXB 8 /* backends of the registry tracked by finish() */

typedef struct {
    double best_steps[LRC_MAXB][QT_OPTIM_COUNT][LRC_NPROB], best_lr[LRC_MAXB][QT_OPTIM_COUNT][LRC_NPROB];
    double best_loss[LRC_MAXB][QT_OPTIM_COUNT][LRC_NPROB];
} lrc_best_t;

/* Indices of a result's backend (registry order), optimizer and problem; 0 when not a sweep case. */
static int lrc_indices(const qt_result_t *res, int *bi, int *k, int *p)
{
    if (strcmp(res->name, "lr_sweep") != 0) return 0;
    *bi = -1;
    for (int i = 0; i < qt_backend_count() && i < LRC_MAXB; i++)
        if (!strcmp(qt_backend_iface_get(i)->name, res->variant)) *bi = i;
    if (*bi < 0) return 0;
    qt_optim_kind_t kind;
    qt_problem_kind_t pk;
    if (qt_optim_kind_parse(qt_params_str(res->params, "optimizer", ""), &kind) != QT_OK) return 0;
    if (qt_problem_kind_parse(qt_params_str(res->params, "problem", ""), &pk) != QT_OK) return 0;
    for (int i = 0; i < LRC_NPROB; i++)
        if (lrc_problems[i].kind == pk) {
            *k = (int)kind;
            *p = i;
            return 1;
        }
    return 0;
}

/* Keep the lr with the fewest median steps to target. */
static int lrc_pick_best(void *arg, const qt_result_t *res)
{
    lrc_best_t *b = arg;
    int bi, k, p;
    if (!lrc_indices(res, &bi, &k, &p)) return 0;
    double lr = qt_params_double(res->params, "lr", NAN);
    if (res->median < b->best_steps[bi][k][p] || (res->median == b->best_steps[bi][k][p] && lr < b->best_lr[bi][k][p])) {
        b->best_steps[bi][k][p] = res->median;
        b->best_lr[bi][k][p] = lr;
    }
    return 0;
}

/* The median final loss at the best lr. */
static int lrc_pick_loss(void *arg, const qt_result_t *res)
{
    lrc_best_t *b = arg;
    int bi, k, p;
    if (!lrc_indices(res, &bi, &k, &p)) return 0;
    if (qt_params_double(res->params, "lr", NAN) == b->best_lr[bi][k][p]) b->best_loss[bi][k][p] = res->median;
    return 0;
}

/* Paper profile: best-tuned result per backend, optimizer and problem from the lr sweep. */
static qt_status_t lrc_finish(qt_rec_t *r)
{
    lrc_best_t *b = calloc(1, sizeof *b);
    if (!b) return qt_fail(QT_ERR_NOMEM, "lr_convergence finish");
    for (int bi = 0; bi < LRC_MAXB; bi++)
        for (int k = 0; k < QT_OPTIM_COUNT; k++)
            for (int p = 0; p < LRC_NPROB; p++) b->best_steps[bi][k][p] = INFINITY, b->best_lr[bi][k][p] = NAN,
                                              b->best_loss[bi][k][p] = NAN;
    qt_rec_foreach_result(r, "steps_to_target", lrc_pick_best, b);
    qt_rec_foreach_result(r, "final_loss", lrc_pick_loss, b);
    qt_status_t st = QT_OK;
    for (int bi = 0; bi < LRC_MAXB && bi < qt_backend_count(); bi++)
        for (int k = 0; k < QT_OPTIM_COUNT && st == QT_OK; k++)
        for (int p = 0; p < LRC_NPROB && st == QT_OK; p++) {
            if (!isfinite(b->best_steps[bi][k][p])) continue;
            const char *be = qt_backend_iface_get(bi)->name;
            qt_params_t prm = {0};
            qt_params_set_str(&prm, "optimizer", qt_optim_kind_name((qt_optim_kind_t)k));
            qt_params_set_str(&prm, "problem", qt_problem_kind_name(lrc_problems[p].kind));
            st = qt_rec_derived(r, "lr_sweep_best", be, &prm, "best_lr", "lr", b->best_lr[bi][k][p]);
            if (st == QT_OK)
                st = qt_rec_derived(r, "lr_sweep_best", be, &prm, "best_steps_to_target", "steps",
                                    b->best_steps[bi][k][p]);
            if (st == QT_OK && isfinite(b->best_loss[bi][k][p]))
                st = qt_rec_derived(r, "lr_sweep_best", be, &prm, "best_final_loss", "loss", b->best_loss[bi][k][p]);
        }
    free(b);
    return st;
}

const qt_suite_t qt_suite_lr_convergence = {
    "lr_convergence",
    "optimizers (torch.optim semantics) x problems x backends: steps/time to target, loss curves; large-step bandwidth",
    lrc_metrics,
    lrc_cases,
    lrc_finish,
};
