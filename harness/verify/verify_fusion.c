/* verify_fusion.c — `quintet verify fusion`: every fusion backend of the registry
 * (quintet/fusion.h) against the ref oracle (f64) for every strategy, with shared and separate
 * cross-attention weights and input normalisation on and off: the logits, the loss and the
 * gradient of every parameter of one forward + backward, on perturbed initial parameters and
 * N(0,1) inputs (qt_verify_fusion_run), shapes with modalities of different lengths and widths,
 * batch 1 and an odd batch. Device backends (cuda: impl/fusion/cuda/fusion.cu) run the same
 * cases on their device with --backend cuda (the same f32 tolerance). Driver and output:
 * harness/cli/cmd_verify.c.
 * Run: build/quintet verify fusion [--backend cuda]. */
#include <stdio.h>
#include <string.h>

#include "quintet/rng.h"
#include "verify/verify.h"

/* f32 kernels (sgemm, f32 LayerNorm statistics, erff/expf) against f64 loops through at most
 * ~12 layers of width <= 48: the gradients differ from the oracle's by ~1e-6 of their
 * array's largest value (tests/fusion prints the measured max_rel); LayerNorm's 1/σ can
 * amplify rounding where a row's variance is small, hence 1e-4 of the scale. */
const qt_tol_t qt_verify_tol_fusion = {"fusion-f32", 1e-4, 1e-4, 0.0,
                                       "f32 vs f64 forward+backward, <=12 layers; ~1e-6 of scale seen"};
static const qt_tol_t *const tols[] = {&qt_verify_tol_fusion, NULL};

/* A host array of n doubles as a tensor of dtype dt on be's device (rank 1..3 shape). */
static qt_status_t to_device(qt_backend_t *be, qt_dtype_t dt, const double *src, int ndim, const int64_t *shape,
                             qt_tensor_t *dev)
{
    qt_tensor_t h = {0};
    QT_TRY(qt_tensor_init(&h, dt, ndim, shape));
    int64_t n = qt_tensor_numel(&h);
    for (int64_t i = 0; i < n; i++) {
        if (dt == QT_F64) ((double *)h.data)[i] = src[i];
        else ((float *)h.data)[i] = (float)src[i];
    }
    qt_status_t s = qt_tensor_to_device(be, &h, dev);
    qt_tensor_free(&h);
    return s;
}

/* A device tensor's values as doubles on the host. */
static qt_status_t to_doubles(qt_backend_t *be, const qt_tensor_t *t, double *out)
{
    qt_tensor_t h = {0};
    QT_TRY(qt_tensor_to_host(be, t, &h));
    int64_t n = qt_tensor_numel(&h);
    for (int64_t i = 0; i < n; i++) out[i] = h.dtype == QT_F64 ? ((double *)h.data)[i] : ((float *)h.data)[i];
    qt_tensor_free(&h);
    return QT_OK;
}

/* Forward + backward at parameters p (doubles, already f32-rounded); outputs may be NULL. */
static qt_status_t run_at(qt_backend_t *be, const qt_fusion_config_t *cfg, int64_t B, uint64_t seed, const double *p,
                          double *logits, double *loss, double *grads)
{
    qt_dtype_t dt;
    QT_TRY(qt_fusion_dtype(be, &dt));
    int64_t np = qt_fusion_n_params(cfg), ws = qt_fusion_work_size(cfg, B), ls[2] = {B, cfg->classes};
    qt_tensor_t par = {0}, g = {0}, w = {0}, lg = {0}, y = {0}, yh = {0}, x[QT_FUSION_MAX_MOD];
    memset(x, 0, sizeof x);
    const qt_tensor_t *xp[QT_FUSION_MAX_MOD];
    qt_status_t s = to_device(be, dt, p, 1, &np, &par);
    for (int m = 0; m < cfg->n_mod && s == QT_OK; m++) {
        int64_t shape[3] = {B, cfg->len[m], cfg->feat[m]}, n = B * cfg->len[m] * cfg->feat[m];
        double *v = qt_alloc((size_t)n * sizeof *v);
        if (!v) s = qt_fail(QT_ERR_NOMEM, "verify fusion inputs");
        for (int64_t i = 0; v && i < n; i++) v[i] = (float)qt_rng_normal(seed, 10 + (uint64_t)m, (uint64_t)i);
        if (s == QT_OK) s = to_device(be, dt, v, 3, shape, &x[m]);
        qt_free(v);
        xp[m] = &x[m];
    }
    if (s == QT_OK) s = qt_tensor_init(&yh, QT_I32, 1, &B);
    for (int64_t i = 0; s == QT_OK && i < B; i++) ((int32_t *)yh.data)[i] = (int32_t)(qt_rng_u32(seed, 20, (uint64_t)i) % (uint32_t)cfg->classes);
    if (s == QT_OK) s = qt_tensor_to_device(be, &yh, &y);
    if (s == QT_OK) s = qt_tensor_alloc(&g, be, dt, 1, &np);
    if (s == QT_OK) s = qt_tensor_alloc(&w, be, dt, 1, &ws);
    if (s == QT_OK) s = qt_tensor_alloc(&lg, be, dt, 2, ls);
    double l = 0;
    if (s == QT_OK) s = qt_fusion_backward(be, cfg, &par, xp, &y, &g, &w, &lg, &l, NULL);
    if (s == QT_OK) s = qt_backend_synchronize(be);
    if (s == QT_OK && logits) s = to_doubles(be, &lg, logits);
    if (s == QT_OK && grads) s = to_doubles(be, &g, grads);
    if (loss) *loss = l;
    qt_tensor_free(&par); qt_tensor_free(&g); qt_tensor_free(&w); qt_tensor_free(&lg);
    qt_tensor_free(&y); qt_tensor_free(&yh);
    for (int m = 0; m < QT_FUSION_MAX_MOD; m++) qt_tensor_free(&x[m]);
    return s;
}

qt_status_t qt_verify_fusion_run(qt_backend_t *be, const qt_fusion_config_t *cfg, int64_t B, uint64_t seed,
                                 double *logits, double *loss, double *grads, double *params_out)
{
    qt_dtype_t dt;
    QT_TRY(qt_fusion_dtype(be, &dt));
    int64_t np = qt_fusion_n_params(cfg);
    QT_CHECK_ARG(np > 0 && B >= 1, "verify fusion: bad config or batch");
    qt_tensor_t par = {0};
    double *p = qt_alloc((size_t)np * sizeof *p);
    qt_status_t s = p ? qt_tensor_alloc(&par, be, dt, 1, &np) : qt_fail(QT_ERR_NOMEM, "verify fusion params");
    if (s == QT_OK) s = qt_fusion_init_params(be, cfg, &par, seed);
    if (s == QT_OK) s = to_doubles(be, &par, p);
    for (int64_t i = 0; s == QT_OK && i < np; i++) p[i] = (float)(p[i] + 0.05 * qt_rng_normal(seed, 30, (uint64_t)i));
    if (s == QT_OK) s = run_at(be, cfg, B, seed, p, logits, loss, grads);
    if (s == QT_OK && params_out) memcpy(params_out, p, (size_t)np * sizeof *p);
    qt_tensor_free(&par);
    qt_free(p);
    return s;
}

qt_status_t qt_verify_fusion_loss(qt_backend_t *be, const qt_fusion_config_t *cfg, int64_t B, uint64_t seed,
                                  const double *params, double *loss)
{
    return run_at(be, cfg, B, seed, params, NULL, loss, NULL);
}

/* Every strategy × (shared, normalize) for one shape and batch on every backend. */
static void verify_shape(qt_verify_t *v, qt_fusion_config_t base, int64_t B, qt_backend_t *const *bes, int n_bes)
{
    qt_backend_t *ref = qt_verify_oracle(v);
    uint64_t seed = qt_verify_seed(v) ^ (uint64_t)(B * 7919 + base.d);
    for (int st = 0; st < QT_FUSION_STRATEGY_COUNT; st++)
        for (int opt = 0; opt < 4; opt++) {
            qt_fusion_config_t c = base;
            c.strategy = (qt_fusion_strategy_t)st;
            c.shared_cross = opt & 1;
            c.normalize = opt >> 1;
            if (c.shared_cross && st != QT_FUSION_CROSS && st != QT_FUSION_HYBRID) continue;
            char params[160];
            int len = snprintf(params, sizeof params, "B=%lld d=%d M=%d L=", (long long)B, c.d, c.n_mod);
            for (int m = 0; m < c.n_mod && len > 0 && (size_t)len < sizeof params; m++)
                len += snprintf(params + len, sizeof params - (size_t)len, "%s%dx%d", m ? "," : "", c.len[m], c.feat[m]);
            if (len > 0 && (size_t)len < sizeof params)
                snprintf(params + len, sizeof params - (size_t)len, "%s%s", c.shared_cross ? " shared" : "",
                         c.normalize ? " norm" : "");
            int64_t np = qt_fusion_n_params(&c), nl = B * c.classes, n = np + nl + 1;
            double *r = qt_alloc((size_t)n * sizeof *r), *y = qt_alloc((size_t)n * sizeof *y);
            const char *name = qt_fusion_strategy_name(c.strategy);
            int have_ref = 0;
            for (int b = 0; b < n_bes; b++) {
                const char *bname = qt_backend_name(bes[b]);
                char why[256];
                qt_dtype_t dt;
                if (!r || !y) { qt_verify_error(v, name, bname, params, n, "cannot allocate"); continue; }
                if (qt_fusion_dtype(bes[b], &dt) != QT_OK || !qt_fusion_supports(bes[b], &c, dt, NULL, NULL, why, sizeof why)) {
                    qt_verify_skip(v, name, bname, params, why);
                    continue;
                }
                if (!have_ref && qt_verify_fusion_run(ref, &c, B, seed, r + 1, r, r + 1 + nl, NULL) != QT_OK) {
                    qt_verify_error(v, name, bname, params, n, qt_last_error());
                    continue;
                }
                have_ref = 1;
                if (qt_verify_fusion_run(bes[b], &c, B, seed, y + 1, y, y + 1 + nl, NULL) != QT_OK) {
                    qt_verify_error(v, name, bname, params, n, qt_last_error());
                    continue;
                }
                qt_cmp_t cmp;
                qt_cmp_init(&cmp);
                qt_cmp_add(&cmp, y, QT_F64, r, QT_F64, (size_t)(1 + nl), &qt_verify_tol_fusion, NULL); /* loss, logits */
                qt_cmp_add(&cmp, y + 1 + nl, QT_F64, r + 1 + nl, QT_F64, (size_t)np, &qt_verify_tol_fusion, NULL);
                qt_verify_case(v, name, bname, params, &cmp, &qt_verify_tol_fusion);
            }
            qt_free(r);
            qt_free(y);
        }
}

/* The shapes: three modalities of different lengths and widths (batch 1 and 5), two modalities;
 * full adds the tasks' shape at the suite's width. */
static void run(qt_verify_t *v)
{
    qt_backend_t *bes[64];
    int n = qt_verify_backends(v, bes, 64);
    if (!n) return;
    qt_fusion_config_t c3 = {3, {3, 1, 5}, {4, 7, 2}, 3, 8, 12, QT_FUSION_EARLY, 0, 0};
    qt_fusion_config_t c2 = {2, {2, 6}, {5, 3}, 2, 5, 7, QT_FUSION_EARLY, 0, 0};
    verify_shape(v, c3, 1, bes, n);
    verify_shape(v, c3, 5, bes, n);
    verify_shape(v, c2, 4, bes, n);
    if (qt_verify_size(v) == QT_VERIFY_FULL) {
        qt_fusion_config_t ct = {0};
        qt_fusion_task_shape(&ct);
        ct.d = 16;
        ct.d_ff = 32;
        verify_shape(v, ct, 16, bes, n);
    }
    qt_verify_backends_free(bes, n);
}

const qt_verify_technique_t qt_verify_fusion = {"fusion", QT_TECH_FUSION, tols, run};
