/* verify_optim.c — `quintet verify optim`: every backend of the registry with optimizer ops
 * (quintet/optim.h, qt_backend_ops(be, QT_TECH_OPTIM)) against the ref oracle (f64), in
 * every dtype the backend supports (device backends: the parameters are copied back to the
 * host after every step, through qt_optim_step_host, and compared there), for
 * every optimizer with its main option combinations (qt_verify_optsets, which
 * tests/optim/test_optim.c uses too) over many steps with a warm-up + cosine schedule:
 * two parameter tensors (one small of odd size, one above QT_OPTIM_OMP_MIN so the OpenMP
 * path runs), parameters with mean 0, fresh gradients with mean 0.3 every step (variance 1), all rounded to float
 * so both precisions see the same inputs; the final parameters are compared.
 * Driver and output: harness/cli/cmd_verify.c. Run: build/quintet verify optim. */
#include <stdio.h>
#include <string.h>

#include "quintet/rng.h"
#include "verify/verify.h"

/* f64: the cpu backend does the same per-element operations in the same order as the
 * oracle, so it is bitwise equal on one machine (LAMB sums its norms in chunks: ~1e-14);
 * 1e-10 of the parameters' scale leaves room for another compiler's contractions (FMA)
 * over hundreds of steps while still catching any wrong formula (errors ~lr = 1e-2). */
static const qt_tol_t tol_f64 = {"optim-f64", 1e-10, 0.0, 0.0,
                                 "same operation order as the oracle: bitwise here, rounding elsewhere"};
/* f32: every step rounds the update to float (u = 6e-8): tests/optim sees ~5e-7 of the
 * parameters' scale after 25 steps, centered RMSprop's v - mean² cancellation up to 5e-6;
 * the error grows about linearly with the steps (seen here: <= 1.3e-6 after 100 steps,
 * <= 3.2e-6 after 300), so 1e-4 covers 100 - 300 steps with a margin of 30 or more. */
static const qt_tol_t tol_f32 = {"optim-f32", 1e-4, 0.0, 0.0,
                                 "float rounding of every step, accumulated: <= 1.3e-6 seen at 100 steps, 3.2e-6 at 300"};
static const qt_tol_t *const tols[] = {&tol_f64, &tol_f32, NULL};

const qt_verify_optset_t qt_verify_optsets[] = {
    {QT_OPTIM_SGD, {"lr", "0.01", NULL}},
    {QT_OPTIM_SGD, {"lr", "0.01", "momentum", "0.9", "nesterov", "true", "weight_decay", "0.01", NULL}},
    {QT_OPTIM_SGD, {"lr", "0.01", "momentum", "0.9", "dampening", "0.1", "maximize", "true", NULL}},
    {QT_OPTIM_ADAM, {"lr", "0.01", NULL}},
    {QT_OPTIM_ADAM, {"lr", "0.01", "amsgrad", "true", "weight_decay", "0.1", NULL}},
    {QT_OPTIM_ADAMW, {"lr", "0.01", "amsgrad", "true", NULL}},
    {QT_OPTIM_RADAM, {"lr", "0.01", NULL}},
    {QT_OPTIM_RADAM, {"lr", "0.01", "weight_decay", "0.1", "decoupled_weight_decay", "true", NULL}},
    {QT_OPTIM_RMSPROP, {"lr", "0.01", NULL}},
    {QT_OPTIM_RMSPROP, {"lr", "0.01", "centered", "true", "momentum", "0.9", "weight_decay", "0.01", NULL}},
    {QT_OPTIM_ADAGRAD, {"lr", "0.1", "lr_decay", "0.01", "initial_accumulator_value", "0.5", NULL}},
    {QT_OPTIM_ADABELIEF, {"lr", "0.01", NULL}},
    {QT_OPTIM_ADABELIEF, {"lr", "0.01", "rectify", "false", "amsgrad", "true", "weight_decay", "0.1", NULL}},
    {QT_OPTIM_ADABELIEF, {"lr", "0.01", "weight_decouple", "false", "weight_decay", "0.1", NULL}},
    {QT_OPTIM_LAMB, {"lr", "0.01", NULL}},
    {QT_OPTIM_LAMB, {"lr", "0.01", "trust_clip", "true", "weight_decay", "0", "always_adapt", "false", NULL}},
    {QT_OPTIM_ADALR, {"lr", "0.01", NULL}},
};
const int qt_verify_n_optsets = (int)(sizeof qt_verify_optsets / sizeof qt_verify_optsets[0]);

/* Config of option set k. */
qt_status_t qt_verify_optset_config(int k, qt_optim_config_t *c)
{
    QT_CHECK_ARG(k >= 0 && k < qt_verify_n_optsets && c, "option set %d outside 0..%d", k, qt_verify_n_optsets - 1);
    const qt_verify_optset_t *o = &qt_verify_optsets[k];
    QT_TRY(qt_optim_config_default(o->kind, c));
    for (int i = 0; o->kv[i]; i += 2) QT_TRY(qt_optim_config_set(c, o->kv[i], o->kv[i + 1]));
    return QT_OK;
}

/* Uniform draws with mean `mean` and variance 1, U(mean − √3, mean + √3), as float (so f32
 * and f64 runs see identical inputs), stored as dt: values off..off+n of the stream, all four
 * 32-bit words of each Philox block used (gradients for hundreds of steps over ~10⁵
 * parameters cost milliseconds). off must be a multiple of 4. */
static void fill_float_exact(void *out, qt_dtype_t dt, size_t n, uint64_t seed, uint64_t stream, uint64_t off,
                             double mean)
{
    const double r3 = 1.7320508075688772;
    const float lo = (float)(mean - r3), w = (float)(2.0 * r3);
    for (size_t i = 0; i < n; i += 4) {
        uint32_t b[4];
        qt_rng_block(seed, stream, (off + i) / 4, b);
        for (size_t j = 0; j < 4 && i + j < n; j++) {
            float x = lo + w * qt_rng_word_uniform_f32(b[j]);
            if (dt == QT_F64) ((double *)out)[i + j] = x;
            else ((float *)out)[i + j] = x;
        }
    }
}

/* A trajectory on random inputs (verify.h). */
qt_status_t qt_verify_optim_run(const qt_optim_config_t *c, const qt_schedule_t *s, qt_backend_t *be,
                                qt_dtype_t dt, int steps, uint64_t seed, int n_tensors, const size_t *sizes,
                                double *const *out)
{
    QT_CHECK_ARG(n_tensors > 0 && n_tensors <= 64 && sizes && out, "1..64 tensors with sizes and outputs");
    qt_optim_t o;
    QT_TRY(qt_optim_init(&o, be, c, s, dt, n_tensors, sizes));
    void *p[64] = {0}, *g[64] = {0};
    size_t es = qt_dtype_size(dt);
    qt_status_t st = QT_OK;
    for (int i = 0; i < n_tensors; i++) {
        p[i] = qt_alloc(sizes[i] * es);
        g[i] = qt_alloc(sizes[i] * es);
        if (!p[i] || !g[i]) st = qt_fail(QT_ERR_NOMEM, "optim trajectory: cannot allocate %zu elements", sizes[i]);
        else fill_float_exact(p[i], dt, sizes[i], seed, 100 + (uint64_t)i, 0, 0.0);
    }
    for (int t = 0; t < steps && st == QT_OK; t++) {
        for (int i = 0; i < n_tensors; i++)
            fill_float_exact(g[i], dt, sizes[i], seed, 200 + (uint64_t)i, (uint64_t)t * ((sizes[i] + 3) & ~(size_t)3), 0.3);
        st = qt_optim_step_host(&o, p, (const void *const *)g);
    }
    for (int i = 0; i < n_tensors; i++) {
        for (size_t j = 0; st == QT_OK && j < sizes[i]; j++)
            out[i][j] = dt == QT_F64 ? ((double *)p[i])[j] : ((float *)p[i])[j];
        qt_free(p[i]);
        qt_free(g[i]);
    }
    qt_optim_free(&o);
    return st;
}

/* "lr=0.01 amsgrad=true … steps=100 n=1000+69857" text of option set k. */
static void describe(char *buf, size_t size, int k, int steps, const size_t *sizes)
{
    size_t len = 0;
    for (int i = 0; qt_verify_optsets[k].kv[i] && len < size; i += 2)
        len += (size_t)snprintf(buf + len, size - len, "%s=%s ", qt_verify_optsets[k].kv[i], qt_verify_optsets[k].kv[i + 1]);
    if (len < size) snprintf(buf + len, size - len, "steps=%d n=%zu+%zu", steps, sizes[0], sizes[1]);
}

/* Every option set: the oracle's trajectory, then every backend × dtype against it. */
static void run(qt_verify_t *v)
{
    qt_backend_t *bes[64], *oracle = qt_verify_oracle(v);
    int n_bes = qt_verify_backends(v, bes, 64);
    if (!n_bes) return;
    int full = qt_verify_size(v) == QT_VERIFY_FULL, steps = full ? 300 : 100;
    const size_t sizes[2] = {1001, full ? 262147 : QT_OPTIM_OMP_MIN + 4321};
    const qt_schedule_t sched = {QT_SCHED_WARMUP_COSINE, 1, 1.0, 10, 0.2, steps / 2, 1e-4};
    double *r[2] = {qt_alloc(sizes[0] * 8), qt_alloc(sizes[1] * 8)}, *y[2] = {qt_alloc(sizes[0] * 8), qt_alloc(sizes[1] * 8)};
    for (int k = 0; k < qt_verify_n_optsets; k++) {
        qt_optim_config_t c;
        char params[200], variant[48];
        describe(params, sizeof params, k, steps, sizes);
        uint64_t seed = qt_verify_seed(v) + (uint64_t)k;
        int have_ref = 0;
        qt_status_t st = r[0] && r[1] && y[0] && y[1] ? qt_verify_optset_config(k, &c)
                                                       : qt_fail(QT_ERR_NOMEM, "cannot allocate the outputs");
        for (int b = 0; b < n_bes; b++)
            for (int dt = QT_F32; dt <= QT_F64; dt++) {
                const qt_tol_t *tol = dt == QT_F64 ? &tol_f64 : &tol_f32;
                int64_t n = (int64_t)(sizes[0] + sizes[1]);
                snprintf(variant, sizeof variant, "%s/%s", qt_optim_kind_name(qt_verify_optsets[k].kind),
                         qt_dtype_name((qt_dtype_t)dt));
                const char *bname = qt_backend_name(bes[b]);
                char reason[256];
                if (st != QT_OK) {
                    qt_verify_error(v, variant, bname, params, n, qt_last_error());
                    continue;
                }
                if (!qt_optim_supports(bes[b], &c, (qt_dtype_t)dt, reason, sizeof reason)) {
                    qt_verify_skip(v, variant, bname, params, reason);
                    continue;
                }
                if (!have_ref) {
                    st = qt_verify_optim_run(&c, &sched, oracle, QT_F64, steps, seed, 2, sizes, r);
                    if (st != QT_OK) {
                        qt_verify_error(v, variant, bname, params, n, qt_last_error());
                        continue;
                    }
                    have_ref = 1;
                }
                if (qt_verify_optim_run(&c, &sched, bes[b], (qt_dtype_t)dt, steps, seed, 2, sizes, y) != QT_OK) {
                    qt_verify_error(v, variant, bname, params, n, qt_last_error());
                    continue;
                }
                qt_cmp_t cmp;
                qt_cmp_init(&cmp);
                for (int i = 0; i < 2; i++) qt_cmp_add(&cmp, y[i], QT_F64, r[i], QT_F64, sizes[i], tol, NULL);
                qt_verify_case(v, variant, bname, params, &cmp, tol);
            }
    }
    for (int i = 0; i < 2; i++) {
        qt_free(r[i]);
        qt_free(y[i]);
    }
    qt_verify_backends_free(bes, n_bes);
}

const qt_verify_technique_t qt_verify_optim = {"optim", QT_TECH_OPTIM, tols, run};
