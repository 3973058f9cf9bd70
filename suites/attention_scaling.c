/* attention_scaling.c — how dense, sliding-window, LSH and dynamic attention scale
 * with sequence length on every backend of impl/attention (quintet/attention.h).
 *
 * Cases: name = variant (dense | window | lsh | dynamic), variant = backend (every
 * backend of the registry with attention ops; skipped, with the reason, when it cannot run
 * here or qt_attn_supports says no). Inputs are drawn on the host and copied to the
 * backend's device; peak_bytes is that device's peak. Parameters B, H, T, D,
 * causal, data, then the variant's own: window w_left, w_right, dilation; LSH
 * n_hashes, bucket_size, chunk; dynamic w_left, w_right, dilation, n_hashes,
 * bucket_size. n_buckets = T / bucket_size rounded down to even (at least 2), i.e.
 * Reformer's fixed bucket size, so the attention work per query stays constant as T
 * grows while hashing costs T·D·n_buckets/2 (quadratic in T: it dominates beyond
 * T ≈ 16k); a parameter n_buckets instead of bucket_size fixes the bucket count
 * (linear hashing, growing buckets; paper profile), and bucket_factor=sqrt hashes
 * with two rotations of about sqrt(n_buckets) columns each (trax's factorised
 * buckets: hashing ~T^1.5; nightly and paper).
 * Inputs: data=clustered (default) draws M = T/64 centres c_m ~ N(0, I_D) and puts
 * position t in a random cluster m(t): q_t = γ(c_m + ½ε), k_t = γ(c_m + ½ε'),
 * γ² = 5/√D, so same-cluster scores are about 5 and the probability mass sits on
 * keys scattered over the sequence (what LSH should find and a window cannot);
 * data=gaussian draws N(0, 1) everywhere (diffuse attention). V ~ N(0, 1).
 *
 * Metrics: time_s, gflops and frac_sgemm (the runner, from the useful FLOPs of
 * qt_attn_useful_flops: 4·B·H·T²·D dense, halved causal; 4·B·H·T·W·D window);
 * peak_bytes, rel_error and mass_recall per case (after(): accuracy on about 64
 * sampled query rows per head against exact dense attention in double); and in
 * finish(): scaling_exponent (slope of log time_s on log T, at least 3 lengths) per
 * name, backend and parameters other than T, speedup_vs_ref (ref time / backend time,
 * same case) and speedup_vs_dense (dense time / variant time, same backend, B, H, T,
 * D, causal, data). Derived records are cases named after the metric, variant = the
 * backend, params = attention=<variant> plus the case's parameters (scaling: minus T).
 * Profiles: quick T = 256…4096 (D 64; ref up to 2048 for dense, 512 otherwise),
 * nightly T = 256…16384 (D 64, 128; causal dense and window), paper up to 65536
 * for the linear variants with window, n_hashes and bucket-size sweeps.
 * Device backends (cuda), nightly and paper: besides the grids above, a sweep that fills the
 * GPU: B = 1, H = 8, D = 64, T = 4096…131072 for window (causal, W = 1024), LSH and dynamic
 * (plain and factorised hashing), dense up to 16384, and in bf16 (parameter dtype=bf16: inputs
 * rounded to bf16 on the host, the oracle sees the rounded values) dense up to 32768 and the
 * causal window. These cases are timed by the backend's timer (CUDA events, manual time),
 * declare the bytes of Q, K, V and O too, and compare with this run's GPU ceilings:
 * frac_gpu_sgemm (f32: cuBLAS SGEMM) or frac_gemm_bf16 (bf16: cuBLAS bf16 GEMM), and
 * frac_copy (device copy bandwidth). Their accuracy is measured on head (0, 0) (hashed
 * variants up to T = 16384: the oracle hashes serially beyond that).
 * Run: quintet run attention_scaling [--profile quick|nightly|paper] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/attention.h"
#include "quintet/rng.h"
#include "quintet/tensor.h"
#include "analysis/stats.h"
#include "run/suite.h"

static const char *const metrics[] = {
    "time_s|s|seconds per forward of (B, H, T, D)",
    "gflops|GFLOP/s|useful FLOPs per second (qt_attn_useful_flops: 4·B·H·T²·D dense, halved causal; 4·B·H·T·W·D window)",
    "frac_sgemm|ratio|gflops over this run's all-thread OpenBLAS SGEMM rate",
    "frac_gpu_sgemm|ratio|device backends, f32: gflops over this run's cuBLAS SGEMM rate (calibration gpu_sgemm)",
    "frac_gemm_bf16|ratio|device backends, bf16: gflops over this run's cuBLAS bf16 GEMM rate (calibration gpu_sgemm math=bf16)",
    "gbps|GB/s|device backends: bytes of Q, K, V read and O written per second",
    "frac_copy|ratio|device backends: gbps over this run's device copy bandwidth (calibration gpu_copy)",
    "peak_bytes|bytes|peak tracked memory during the timed repetitions: Q, K, V, O and working memory",
    "rel_error|ratio|relative Frobenius error of the output against exact dense attention in double (sampled rows)",
    "mass_recall|fraction|dense softmax probability mass inside the variant's key set (sampled rows)",
    "scaling_exponent|ratio|least-squares slope of log time_s on log T (per variant, backend, other parameters)",
    "speedup_vs_ref|ratio|ref time_s over this backend's time_s for the same case",
    "speedup_vs_dense|ratio|dense time_s over this variant's time_s (same backend, B, H, T, D, causal, data)",
    NULL,
};

/* State of one timed case. */
typedef struct {
    qt_attn_config_t cfg;
    qt_backend_t *be;
    qt_tensor_t q, k, v, o;    /* on the host (filled, and where accuracy is computed) */
    qt_tensor_t dq, dk, dv, dout; /* copies on be's device when it is not the host */
    qt_tensor_t hq, hk, hv, ho;   /* dtype != f32: host copies in that type (inputs, output read back) */
    qt_dtype_t dtype;             /* of the tensors the forward sees */
    int timer;                    /* timed by the backend's timer (manual time) */
    const qt_tensor_t *uq, *uk, *uv; /* what the forward reads: host or device copies */
    qt_tensor_t *uo;
    int64_t T;
} case_state_t;

/* Release a case's tensors. */
static void attn_teardown(void *state)
{
    case_state_t *s = state;
    if (!s) return;
    qt_tensor_free(&s->q);
    qt_tensor_free(&s->k);
    qt_tensor_free(&s->v);
    qt_tensor_free(&s->o);
    qt_tensor_free(&s->dq);
    qt_tensor_free(&s->dk);
    qt_tensor_free(&s->dv);
    qt_tensor_free(&s->dout);
    qt_tensor_free(&s->hq);
    qt_tensor_free(&s->hk);
    qt_tensor_free(&s->hv);
    qt_tensor_free(&s->ho);
    qt_backend_free(s->be);
    free(s);
}

/* The attention configuration a case's parameters describe. */
static qt_status_t config_of(const qt_case_t *c, qt_attn_config_t *cfg)
{
    qt_attn_variant_t v;
    QT_TRY(qt_attn_variant_parse(c->name, &v));
    qt_attn_config_init(cfg, v);
    const qt_params_t *p = &c->params;
    int64_t T = qt_params_int(p, "T", 1024);
    cfg->causal = (int)qt_params_int(p, "causal", 0);
    cfg->w_left = (int)qt_params_int(p, "w_left", cfg->w_left);
    cfg->w_right = (int)qt_params_int(p, "w_right", cfg->w_right);
    cfg->dilation = (int)qt_params_int(p, "dilation", 1);
    cfg->n_hashes = (int)qt_params_int(p, "n_hashes", cfg->n_hashes);
    cfg->chunk = (int)qt_params_int(p, "chunk", cfg->chunk);
    int64_t bs = qt_params_int(p, "bucket_size", 64), nb = qt_params_int(p, "n_buckets", bs > 0 ? T / bs : 0);
    cfg->n_buckets = (int)(nb < 2 ? 2 : nb & ~(int64_t)1);
    const char *bf = qt_params_str(p, "bucket_factor", "0");
    if (!strcmp(bf, "sqrt")) /* largest even f <= sqrt(n_buckets) dividing it into an even quotient */
        for (int f = 2; f * f <= cfg->n_buckets; f += 2) {
            if (cfg->n_buckets % f == 0 && (cfg->n_buckets / f) % 2 == 0) cfg->bucket_factor = f;
        }
    else
        cfg->bucket_factor = atoi(bf);
    cfg->seed = 0x5EED0000u + (uint64_t)T;
    return QT_OK;
}

/* Clustered inputs (see the file comment): rows of q and k around shared centres. */
static void fill_clustered(case_state_t *s, uint64_t seed)
{
    int64_t B = s->q.shape[0], H = s->q.shape[1], T = s->q.shape[2], D = s->q.shape[3];
    int64_t M = T / 64 > 2 ? T / 64 : 2;
    float gamma = (float)sqrt(5.0 / sqrt((double)D));
    float *q = s->q.data, *k = s->k.data;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t t = 0; t < T; t++) {
            uint64_t m = qt_rng_u32(seed, 10, (uint64_t)(bh * T + t)) % (uint64_t)M;
            for (int64_t d = 0; d < D; d++) {
                float c = (float)qt_rng_normal(seed, 11 + (uint64_t)bh, m * (uint64_t)D + (uint64_t)d);
                int64_t e = (bh * T + t) * D + d;
                q[e] = gamma * (c + 0.5f * q[e]);
                k[e] = gamma * (c + 0.5f * k[e]);
            }
        }
}

static qt_status_t attn_iterate(void *state, double *seconds);

/* dst = src (f32) rounded to dt; src then holds the rounded values (what the oracle sees). */
static qt_status_t round_to(qt_tensor_t *src, qt_dtype_t dt, qt_tensor_t *dst)
{
    QT_TRY(qt_tensor_init(dst, dt, 4, src->shape));
    float *x = src->data;
    uint16_t *y = dst->data;
    int64_t n = qt_tensor_numel(src);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        y[i] = dt == QT_BF16 ? qt_f32_to_bf16(x[i]) : qt_f32_to_f16(x[i]);
        x[i] = dt == QT_BF16 ? qt_bf16_to_f32(y[i]) : qt_f16_to_f32(y[i]);
    }
    return QT_OK;
}

/* Operands where the backend runs: the host tensors themselves, or copies on its device (in
 * the case's dtype). */
static qt_status_t place(case_state_t *s)
{
    s->uq = &s->q; s->uk = &s->k; s->uv = &s->v; s->uo = &s->o;
    if (qt_device_is_host(s->be->device)) return QT_OK;
    const qt_tensor_t *src[3] = {&s->q, &s->k, &s->v};
    if (s->dtype != QT_F32) {
        QT_TRY(round_to(&s->q, s->dtype, &s->hq));
        QT_TRY(round_to(&s->k, s->dtype, &s->hk));
        QT_TRY(round_to(&s->v, s->dtype, &s->hv));
        src[0] = &s->hq, src[1] = &s->hk, src[2] = &s->hv;
    }
    QT_TRY(qt_tensor_to_device(s->be, src[0], &s->dq));
    QT_TRY(qt_tensor_to_device(s->be, src[1], &s->dk));
    QT_TRY(qt_tensor_to_device(s->be, src[2], &s->dv));
    QT_TRY(qt_tensor_alloc(&s->dout, s->be, s->dtype, 4, s->o.shape));
    s->uq = &s->dq; s->uk = &s->dk; s->uv = &s->dv; s->uo = &s->dout;
    return QT_OK;
}

/* Allocate and fill the inputs; declare the useful FLOPs. */
static qt_status_t attn_setup(const qt_case_t *c, qt_rec_t *r, void **state)
{
    case_state_t *s = calloc(1, sizeof *s);
    if (!s) return qt_fail(QT_ERR_NOMEM, "attention case state");
    qt_status_t st = config_of(c, &s->cfg);
    s->timer = c->manual_time;
    if (st == QT_OK) st = qt_dtype_parse(qt_params_str(&c->params, "dtype", "f32"), &s->dtype);
    char why[256];
    if (st == QT_OK && qt_backend_init(&s->be, c->variant, NULL) != QT_OK)
        st = qt_fail(QT_ERR_UNSUPPORTED, "%s", qt_last_error());
    if (st == QT_OK && s->dtype != QT_F32 && qt_device_is_host(s->be->device))
        st = qt_fail(QT_ERR_UNSUPPORTED, "dtype %s: host backends attend in f32 only", qt_dtype_name(s->dtype));
    if (st == QT_OK && !qt_attn_supports(s->be, &s->cfg, NULL, NULL, NULL, NULL, NULL, why, sizeof why))
        st = qt_fail(QT_ERR_UNSUPPORTED, "%s", why);
    const qt_params_t *p = &c->params;
    int64_t shape[4] = {qt_params_int(p, "B", 1), qt_params_int(p, "H", 4), qt_params_int(p, "T", 1024),
                        qt_params_int(p, "D", 64)};
    s->T = shape[2];
    if (st == QT_OK) st = qt_tensor_init(&s->q, QT_F32, 4, shape);
    if (st == QT_OK) st = qt_tensor_init(&s->k, QT_F32, 4, shape);
    if (st == QT_OK) st = qt_tensor_init(&s->v, QT_F32, 4, shape);
    if (st == QT_OK) st = qt_tensor_init(&s->o, QT_F32, 4, shape);
    if (st != QT_OK) { attn_teardown(s); return st; }
    uint64_t seed = qt_rec_seed(r);
    qt_tensor_fill_normal(&s->q, seed, 1, 0, 1);
    qt_tensor_fill_normal(&s->k, seed, 2, 0, 1);
    qt_tensor_fill_normal(&s->v, seed, 3, 0, 1);
    if (!strcmp(qt_params_str(p, "data", "clustered"), "clustered")) fill_clustered(s, seed);
    st = qt_attn_validate(&s->cfg, &s->q, &s->k, &s->v, NULL, &s->o);
    if (st == QT_OK) st = place(s);
    if (st != QT_OK) { attn_teardown(s); return st; }
    /* one untimed forward (not for the slow oracle): faults the output pages in and lets
     * thread pools left spinning by earlier cases (OpenBLAS) go to sleep */
    if (strcmp(qt_backend_name(s->be), QT_BACKEND_ORACLE)) st = attn_iterate(s, NULL);
    if (st != QT_OK) { attn_teardown(s); return st; }
    double flops = qt_attn_useful_flops(&s->cfg, shape[0], shape[1], shape[2], shape[3]);
    if (qt_device_is_host(s->be->device)) {
        qt_rec_set_work(r, flops, 0);
    } else { /* GPU: against this run's GPU ceilings; bytes: Q, K, V read and O written once */
        int f32 = s->dtype == QT_F32;
        qt_rec_set_flops_ceiling(r, f32 ? "gpu_sgemm_gflops" : "gpu_gemm_bf16_gflops",
                                 f32 ? "frac_gpu_sgemm" : "frac_gemm_bf16");
        qt_rec_set_bytes_ceiling(r, "gpu_copy_gbps", "frac_copy");
        qt_rec_set_work(r, flops, 4.0 * (double)qt_tensor_numel(&s->q) * (double)qt_dtype_size(s->dtype));
    }
    *state = s;
    return QT_OK;
}

/* One forward (device backends with manual time: timed by the backend's timer, CUDA events). */
static qt_status_t attn_iterate(void *state, double *seconds)
{
    case_state_t *s = state;
    if (s->timer && seconds) {
        QT_TRY(qt_backend_timer_start(s->be));
        QT_TRY(qt_attn_forward(s->be, &s->cfg, s->uq, s->uk, s->uv, NULL, s->uo));
        return qt_backend_timer_stop(s->be, seconds);
    }
    QT_TRY(qt_attn_forward(s->be, &s->cfg, s->uq, s->uk, s->uv, NULL, s->uo));
    return qt_backend_synchronize(s->be);
}

/* Memory high-water mark of the repetitions, then accuracy against exact dense. */
static qt_status_t attn_after(void *state, const qt_case_t *c, qt_rec_t *r)
{
    (void)c;
    case_state_t *s = state;
    qt_rec_metric(r, "peak_bytes", "bytes", (double)qt_device_mem_peak(s->be->device));
    int device = s->uo != &s->o, hashed = s->cfg.variant == QT_ATTN_LSH || s->cfg.variant == QT_ATTN_DYNAMIC;
    if (device && hashed && s->T > 16384) {
        qt_rec_note(r, "accuracy not measured: the oracle's serial hashing at T = %lld", (long long)s->T);
        return QT_OK;
    }
    if (device && s->dtype == QT_F32) {
        QT_TRY(qt_tensor_copy(s->be, &s->o, s->uo));
        QT_TRY(qt_backend_synchronize(s->be));
    } else if (device) {
        QT_TRY(qt_tensor_to_host(s->be, s->uo, &s->ho));
        float *o = s->o.data;
        const uint16_t *h = s->ho.data;
        for (int64_t i = 0; i < qt_tensor_numel(&s->o); i++)
            o[i] = s->dtype == QT_BF16 ? qt_bf16_to_f32(h[i]) : qt_f16_to_f32(h[i]);
    }
    qt_attn_accuracy_t acc;
    int stride = s->T / 64 > 1 ? (int)(s->T / 64) : 1;
    if (device) { /* head (0, 0) only: views of its rows (rotations depend on the head index: 0 here too) */
        int64_t one[4] = {1, 1, s->T, s->q.shape[3]};
        qt_tensor_t v4[4];
        QT_TRY(qt_tensor_wrap(&v4[0], s->q.data, QT_F32, 4, one));
        QT_TRY(qt_tensor_wrap(&v4[1], s->k.data, QT_F32, 4, one));
        QT_TRY(qt_tensor_wrap(&v4[2], s->v.data, QT_F32, 4, one));
        QT_TRY(qt_tensor_wrap(&v4[3], s->o.data, QT_F32, 4, one));
        QT_TRY(qt_attn_accuracy(&s->cfg, &v4[0], &v4[1], &v4[2], NULL, &v4[3], stride, &acc));
    } else {
        QT_TRY(qt_attn_accuracy(&s->cfg, &s->q, &s->k, &s->v, NULL, &s->o, stride, &acc));
    }
    qt_rec_metric(r, "rel_error", "ratio", acc.rel_error);
    qt_rec_metric(r, "mass_recall", "fraction", acc.mass_recall);
    return QT_OK;
}

/* Shape shared by the cases of one grid point. */
typedef struct {
    int64_t B, H, D;
    int causal;
    const char *data;
} shape_t;

/* Append one case of variant `name` on backend `be` at length T; extra parameters as
 * "key=value" strings, NULL-terminated. */
static qt_status_t add_case(qt_case_list_t *out, const char *name, const char *be, const shape_t *sh, int64_t T,
                            int max_reps, const char *const *extra)
{
    qt_case_t *c = qt_case_list_add(out);
    if (!c) return qt_fail(QT_ERR_NOMEM, "attention case list");
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->variant, sizeof c->variant, "%s", be);
    qt_params_t *p = &c->params;
    QT_TRY(qt_params_set_int(p, "B", sh->B));
    QT_TRY(qt_params_set_int(p, "H", sh->H));
    QT_TRY(qt_params_set_int(p, "T", T));
    QT_TRY(qt_params_set_int(p, "D", sh->D));
    QT_TRY(qt_params_set_int(p, "causal", sh->causal));
    QT_TRY(qt_params_set_str(p, "data", sh->data));
    for (int i = 0; extra && extra[i]; i++) {
        char key[QT_PARAM_KEY];
        const char *eq = strchr(extra[i], '=');
        size_t n = eq ? (size_t)(eq - extra[i]) : 0;
        if (!eq || n >= sizeof key) return qt_fail(QT_ERR_INTERNAL, "bad case parameter '%s'", extra[i]);
        memcpy(key, extra[i], n);
        key[n] = '\0';
        QT_TRY(qt_params_set_str(p, key, eq + 1));
    }
    c->max_repetitions = max_reps;
    c->min_time = max_reps ? 0.0 : 0.05; /* fast backends: 50 ms per repetition steadies the median */
    for (int b = 0; b < qt_backend_count(); b++) /* device backends: timed by their timer (CUDA events) */
        if (!strcmp(qt_backend_iface_get(b)->name, be)) c->manual_time = qt_backend_iface_get(b)->device_kind != QT_DEVICE_HOST;
    c->setup = attn_setup;
    c->iterate = attn_iterate;
    c->after = attn_after;
    c->teardown = attn_teardown;
    return QT_OK;
}

/* One variant over a range of T (doubling) on every registered backend; the ref
 * oracle only up to ref_max_T (with at most two repetitions: it is slow). */
static qt_status_t add_sweep(qt_case_list_t *out, const char *name, const shape_t *sh, int64_t t_lo, int64_t t_hi,
                             int64_t ref_max_T, const char *const *extra)
{
    for (int b = 0; b < qt_backend_count(); b++) {
        const qt_backend_iface_t *be = qt_backend_iface_get(b);
        if (!be->ops[QT_TECH_ATTENTION]) continue;
        int is_ref = !strcmp(be->name, QT_BACKEND_ORACLE);
        for (int64_t T = t_lo; T <= t_hi; T *= 2) {
            if (is_ref && T > ref_max_T) break;
            QT_TRY(add_case(out, name, be->name, sh, T, is_ref ? 2 : 0, extra));
        }
    }
    return QT_OK;
}

/* One variant over T = t_lo…t_hi (doubling) on every device backend (the GPU sweep). */
static qt_status_t add_device_sweep(qt_case_list_t *out, const char *name, const shape_t *sh, int64_t t_lo,
                                    int64_t t_hi, const char *const *extra)
{
    for (int b = 0; b < qt_backend_count(); b++) {
        const qt_backend_iface_t *be = qt_backend_iface_get(b);
        if (!be->ops[QT_TECH_ATTENTION] || be->device_kind == QT_DEVICE_HOST) continue;
        for (int64_t T = t_lo; T <= t_hi; T *= 2) QT_TRY(add_case(out, name, be->name, sh, T, 0, extra));
    }
    return QT_OK;
}

/* The GPU sweep (nightly, paper): B·H·T/64 >= 512 query tiles from T = 4096 on. */
static qt_status_t add_device_grid(qt_case_list_t *out)
{
    static const char *const win_c[] = {"w_left=1024", "w_right=0", "dilation=1", NULL};
    static const char *const win_c_bf16[] = {"w_left=1024", "w_right=0", "dilation=1", "dtype=bf16", NULL};
    static const char *const lsh[] = {"n_hashes=4", "bucket_size=64", "chunk=64", NULL};
    static const char *const lsh_fact[] = {"n_hashes=4", "bucket_size=64", "chunk=64", "bucket_factor=sqrt", NULL};
    static const char *const dyn[] = {"w_left=64", "w_right=64", "dilation=1", "n_hashes=2", "bucket_size=64", NULL};
    static const char *const dyn_fact[] = {"w_left=64",      "w_right=64",         "dilation=1", "n_hashes=2",
                                           "bucket_size=64", "bucket_factor=sqrt", NULL};
    static const char *const bf16[] = {"dtype=bf16", NULL};
    shape_t sh = {1, 8, 64, 0, "clustered"};
    QT_TRY(add_device_sweep(out, "lsh", &sh, 4096, 131072, lsh_fact));
    QT_TRY(add_device_sweep(out, "dynamic", &sh, 4096, 131072, dyn_fact));
    sh.causal = 1;
    QT_TRY(add_device_sweep(out, "window", &sh, 4096, 131072, win_c_bf16));
    QT_TRY(add_device_sweep(out, "window", &sh, 4096, 131072, win_c));
    sh.causal = 0;
    QT_TRY(add_device_sweep(out, "dense", &sh, 4096, 32768, bf16));
    QT_TRY(add_device_sweep(out, "lsh", &sh, 4096, 131072, lsh));
    QT_TRY(add_device_sweep(out, "dynamic", &sh, 4096, 131072, dyn));
    QT_TRY(add_device_sweep(out, "dense", &sh, 4096, 16384, NULL));
    return QT_OK;
}

/* The grids of the three profiles. */
static qt_status_t attn_cases(qt_profile_t profile, qt_case_list_t *out)
{
    static const char *const win[] = {"w_left=128", "w_right=128", "dilation=1", NULL};
    static const char *const win_causal[] = {"w_left=256", "w_right=0", "dilation=2", NULL};
    static const char *const lsh[] = {"n_hashes=4", "bucket_size=64", "chunk=64", NULL};
    static const char *const dyn[] = {"w_left=64", "w_right=64", "dilation=1", "n_hashes=2", "bucket_size=64", NULL};
    static const char *const lsh_fact[] = {"n_hashes=4", "bucket_size=64", "chunk=64", "bucket_factor=sqrt", NULL};
    shape_t sh = {1, 4, 64, 0, "clustered"};
    if (profile == QT_PROFILE_QUICK) {
        QT_TRY(add_sweep(out, "dense", &sh, 256, 4096, 2048, NULL));
        QT_TRY(add_sweep(out, "window", &sh, 256, 4096, 512, win));
        QT_TRY(add_sweep(out, "lsh", &sh, 256, 4096, 512, lsh));
        QT_TRY(add_sweep(out, "dynamic", &sh, 256, 4096, 512, dyn));
        return QT_OK;
    }
    QT_TRY(add_device_grid(out));
    int64_t t_dense = profile == QT_PROFILE_PAPER ? 16384 : 16384, t_linear = profile == QT_PROFILE_PAPER ? 65536 : 16384;
    for (int64_t D = 64; D <= 128; D *= 2) {
        sh.D = D;
        sh.causal = 0;
        QT_TRY(add_sweep(out, "dense", &sh, 256, t_dense, 2048, NULL));
        QT_TRY(add_sweep(out, "window", &sh, 256, t_linear, 1024, win));
        QT_TRY(add_sweep(out, "lsh", &sh, 256, t_linear, 1024, lsh));
        QT_TRY(add_sweep(out, "lsh", &sh, 256, t_linear, 1024, lsh_fact));
        QT_TRY(add_sweep(out, "dynamic", &sh, 256, t_linear, 1024, dyn));
        sh.causal = 1;
        QT_TRY(add_sweep(out, "dense", &sh, 256, t_dense, 1024, NULL));
        QT_TRY(add_sweep(out, "window", &sh, 256, t_linear, 1024, win_causal));
    }
    if (profile == QT_PROFILE_PAPER) {
        static const char *const win64[] = {"w_left=32", "w_right=32", "dilation=1", NULL};
        static const char *const win512[] = {"w_left=256", "w_right=256", "dilation=1", NULL};
        static const char *const lsh_h[][4] = {{"n_hashes=1", "bucket_size=64", "chunk=64", NULL},
                                               {"n_hashes=2", "bucket_size=64", "chunk=64", NULL},
                                               {"n_hashes=8", "bucket_size=64", "chunk=64", NULL},
                                               {"n_hashes=4", "bucket_size=32", "chunk=32", NULL},
                                               {"n_hashes=4", "bucket_size=128", "chunk=128", NULL},
                                               {"n_hashes=4", "n_buckets=64", "chunk=64", NULL}};
        sh.D = 64;
        sh.causal = 0;
        QT_TRY(add_sweep(out, "window", &sh, 256, 65536, 1024, win64));
        QT_TRY(add_sweep(out, "window", &sh, 256, 65536, 1024, win512));
        for (size_t i = 0; i < sizeof lsh_h / sizeof lsh_h[0]; i++)
            QT_TRY(add_sweep(out, "lsh", &sh, 256, 65536, 1024, lsh_h[i]));
        sh.data = "gaussian";
        QT_TRY(add_sweep(out, "dense", &sh, 256, 4096, 1024, NULL));
        QT_TRY(add_sweep(out, "window", &sh, 256, 4096, 1024, win));
        QT_TRY(add_sweep(out, "lsh", &sh, 256, 4096, 1024, lsh));
        QT_TRY(add_sweep(out, "dynamic", &sh, 256, 4096, 1024, dyn));
        sh.data = "clustered";
        sh.H = 8;
        QT_TRY(add_sweep(out, "dense", &sh, 256, 8192, 1024, NULL));
        QT_TRY(add_sweep(out, "lsh", &sh, 256, 65536, 1024, lsh));
    }
    return QT_OK;
}

/* ---- finish(): derived metrics from this run's medians ---- */

typedef struct {
    char name[48], variant[24];
    qt_params_t params;
    double time;
} timing_t;

typedef struct {
    timing_t *v;
    int n, cap, oom;
} timings_t;

/* Collect one time_s median. */
static int collect_time(void *arg, const qt_result_t *res)
{
    timings_t *ts = arg;
    if (ts->n == ts->cap) {
        int cap = ts->cap ? 2 * ts->cap : 64;
        timing_t *v = realloc(ts->v, (size_t)cap * sizeof *v);
        if (!v) { ts->oom = 1; return 1; }
        ts->v = v;
        ts->cap = cap;
    }
    timing_t *t = &ts->v[ts->n++];
    snprintf(t->name, sizeof t->name, "%s", res->name);
    snprintf(t->variant, sizeof t->variant, "%s", res->variant);
    t->params = *res->params;
    t->time = res->median;
    return 0;
}

/* 1 when a and b agree on every key in keys. */
static int same_keys(const qt_params_t *a, const qt_params_t *b, const char *const *keys)
{
    for (int i = 0; keys[i]; i++)
        if (strcmp(qt_params_str(a, keys[i], ""), qt_params_str(b, keys[i], ""))) return 0;
    return 1;
}

/* Parameters of a derived record: attention=<variant name>, then a's parameters
 * (without T when drop_T). Derived records are cases named after their metric with
 * the backend as variant, so they never collide with the timed cases. */
static qt_params_t derived_params(const timing_t *a, int drop_T)
{
    qt_params_t p = {0};
    qt_params_set_str(&p, "attention", a->name);
    for (int i = 0; i < a->params.n; i++)
        if (!drop_T || strcmp(a->params.kv[i].key, "T")) qt_params_set_str(&p, a->params.kv[i].key, a->params.kv[i].val);
    return p;
}

/* Store one derived metric of timing a. */
static qt_status_t derive(qt_rec_t *r, const timing_t *a, int drop_T, const char *metric, double value)
{
    qt_params_t p = derived_params(a, drop_T);
    return qt_rec_derived(r, metric, a->variant, &p, metric, "ratio", value);
}

/* scaling_exponent per (name, backend, parameters but T); speedup_vs_ref; speedup_vs_dense. */
static qt_status_t attn_finish(qt_rec_t *r)
{
    timings_t ts = {0};
    qt_rec_foreach_result(r, "time_s", collect_time, &ts);
    if (ts.oom) { free(ts.v); return qt_fail(QT_ERR_NOMEM, "attention finish"); }
    static const char *const shape_keys[] = {"B", "H", "T", "D", "causal", "data", "dtype", NULL};
    char *done = calloc((size_t)(ts.n ? ts.n : 1), 1);
    double *x = malloc(sizeof(double) * (size_t)(ts.n ? ts.n : 1)), *y = malloc(sizeof(double) * (size_t)(ts.n ? ts.n : 1));
    qt_status_t st = done && x && y ? QT_OK : qt_fail(QT_ERR_NOMEM, "attention finish");
    for (int i = 0; st == QT_OK && i < ts.n; i++) {
        const timing_t *a = &ts.v[i];
        if (!done[i]) {
            size_t n = 0;
            for (int j = i; j < ts.n; j++) {
                const timing_t *b = &ts.v[j];
                if (done[j] || strcmp(a->name, b->name) || strcmp(a->variant, b->variant) ||
                    !qt_params_equal_except(&a->params, &b->params, "T") || !(b->time > 0))
                    continue;
                done[j] = 1;
                x[n] = log((double)qt_params_int(&b->params, "T", 1));
                y[n] = log(b->time);
                n++;
            }
            if (n >= 3) {
                double slope = qt_linfit(x, y, n, NULL);
                if (isfinite(slope)) st = derive(r, a, 1, "scaling_exponent", slope);
            }
        }
        for (int j = 0; st == QT_OK && j < ts.n; j++) {
            const timing_t *b = &ts.v[j];
            if (!(a->time > 0) || !(b->time > 0) || j == i) continue;
            if (!strcmp(b->variant, QT_BACKEND_ORACLE) && strcmp(a->variant, QT_BACKEND_ORACLE) && !strcmp(a->name, b->name) &&
                qt_params_equal_except(&a->params, &b->params, NULL))
                st = derive(r, a, 0, "speedup_vs_ref", b->time / a->time);
            if (st == QT_OK && !strcmp(b->name, "dense") && strcmp(a->name, "dense") && !strcmp(a->variant, b->variant) &&
                same_keys(&a->params, &b->params, shape_keys))
                st = derive(r, a, 0, "speedup_vs_dense", b->time / a->time);
        }
    }
    free(done);
    free(x);
    free(y);
    free(ts.v);
    return st;
}

const qt_suite_t qt_suite_attention_scaling = {
    .name = "attention_scaling",
    .description = "dense, sliding-window, LSH and dynamic attention vs sequence length: time, FLOP rate, memory, "
                   "error and recall vs dense, scaling exponents",
    .metrics = metrics,
    .cases = attn_cases,
    .finish = attn_finish,
};
