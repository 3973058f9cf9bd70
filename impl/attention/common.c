/* common.c — the attention module's shared parts: configuration defaults and names,
 * argument validation, dispatch through a backend instance (qt_attn_supports,
 * qt_attn_forward), the useful-FLOP convention, and the LSH plan's bookkeeping (Gaussian
 * rotations from Philox, stable counting sort by (bucket, position)). The hashing itself
 * (argmax([xR; -xR]) with the f32 FMA chain attention.h defines) is each backend's own:
 * ref's plain loop in ref.c, cpu's vectorised one in cpu_lsh.c; tests/attention compares
 * their buckets. Contracts: quintet/attention.h and internal.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu_tile.h"
#include "internal.h"
#include "quintet/rng.h"

static const char *variant_names[QT_ATTN_VARIANT_COUNT] = {"dense", "window", "lsh", "dynamic"};

/* Defaults documented in attention.h. */
void qt_attn_config_init(qt_attn_config_t *cfg, qt_attn_variant_t variant)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->variant = variant;
    cfg->w_left = 64;
    cfg->w_right = 64;
    cfg->dilation = 1;
    cfg->n_buckets = 8;
    cfg->n_hashes = 4;
    cfg->chunk = 64;
    cfg->seed = 1;
}

/* Variant name. */
const char *qt_attn_variant_name(qt_attn_variant_t v)
{
    return (unsigned)v < QT_ATTN_VARIANT_COUNT ? variant_names[v] : "?";
}

/* Parse a variant name. */
qt_status_t qt_attn_variant_parse(const char *s, qt_attn_variant_t *out)
{
    QT_CHECK_ARG(s && out, "variant name and output must not be NULL");
    for (int v = 0; v < QT_ATTN_VARIANT_COUNT; v++)
        if (!strcmp(s, variant_names[v])) { *out = (qt_attn_variant_t)v; return QT_OK; }
    return qt_fail(QT_ERR_ARG, "unknown attention variant '%s' (dense, window, lsh, dynamic)", s);
}

/* Check that t is a contiguous tensor of element type dt and the given shape. */
static qt_status_t check_shape(const qt_tensor_t *t, const char *what, qt_dtype_t dt, int rank, const int64_t *shape)
{
    QT_TRY(qt_tensor_check(t, what, dt, rank));
    for (int i = 0; i < rank; i++)
        if (t->shape[i] != shape[i])
            return qt_fail(QT_ERR_SHAPE, "%s dimension %d is %lld, expected %lld (shape of q)", what, i,
                           (long long)t->shape[i], (long long)shape[i]);
    return QT_OK;
}

/* Validate a configuration and the input tensors (everything but out). */
qt_status_t qt_attn_validate_inputs(const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                                    const qt_tensor_t *v, const qt_tensor_t *mask)
{
    QT_CHECK_ARG(cfg != NULL, "attention config must not be NULL");
    QT_CHECK_ARG((unsigned)cfg->variant < QT_ATTN_VARIANT_COUNT, "unknown attention variant %d", (int)cfg->variant);
    QT_CHECK_ARG(q != NULL, "q must not be NULL");
    qt_dtype_t dt = q->dtype; /* q, k, v and out share one type: f32, or bf16/f16 where a backend has them */
    QT_CHECK_ARG(dt == QT_F32 || dt == QT_BF16 || dt == QT_F16, "q has dtype %s; attention takes f32, bf16 or f16",
                 qt_dtype_name(dt));
    QT_TRY(qt_tensor_check(q, "q", dt, 4));
    static const char *const dim_names[4] = {"B", "H", "T", "D"};
    for (int i = 0; i < 4; i++)
        QT_CHECK_ARG(q->shape[i] > 0, "q dimension %d (%s) is %lld, must be > 0", i, dim_names[i],
                     (long long)q->shape[i]);
    QT_CHECK_ARG(q->shape[2] * q->shape[3] <= INT32_MAX, "one head (T·D = %lld·%lld) exceeds 2^31 elements",
                 (long long)q->shape[2], (long long)q->shape[3]);
    if (!cfg->shared_qk || k) QT_TRY(check_shape(k, "k", dt, 4, q->shape));
    QT_TRY(check_shape(v, "v", dt, 4, q->shape));
    if (mask) {
        int64_t ms[2] = {q->shape[0], q->shape[2]};
        QT_TRY(check_shape(mask, "mask", QT_F32, 2, ms));
    }
    if (cfg->variant == QT_ATTN_WINDOW || cfg->variant == QT_ATTN_DYNAMIC) {
        QT_CHECK_ARG(cfg->w_left > 0, "window w_left %d must be > 0", cfg->w_left);
        QT_CHECK_ARG(cfg->w_right >= 0, "window w_right %d must be >= 0", cfg->w_right);
        QT_CHECK_ARG(cfg->dilation > 0, "window dilation %d must be > 0", cfg->dilation);
    }
    if (cfg->variant == QT_ATTN_LSH || cfg->variant == QT_ATTN_DYNAMIC) {
        QT_CHECK_ARG(cfg->n_buckets >= 2 && cfg->n_buckets % 2 == 0, "n_buckets %d must be even and >= 2",
                     cfg->n_buckets);
        QT_CHECK_ARG(cfg->n_hashes >= 1 && cfg->n_hashes <= QT_ATTN_MAX_HASHES, "n_hashes %d outside 1..%d",
                     cfg->n_hashes, QT_ATTN_MAX_HASHES);
        int f = cfg->bucket_factor;
        QT_CHECK_ARG(f == 0 || (f >= 2 && f % 2 == 0 && cfg->n_buckets % f == 0 && (cfg->n_buckets / f) % 2 == 0),
                     "bucket_factor %d must be 0, or even with n_buckets/%d (n_buckets %d) even", f, f,
                     cfg->n_buckets);
    }
    if (cfg->variant == QT_ATTN_LSH) QT_CHECK_ARG(cfg->chunk > 0, "LSH chunk length %d must be > 0", cfg->chunk);
    return QT_OK;
}

/* Validate a whole call: inputs, then the output's shape and that it aliases no input. */
qt_status_t qt_attn_validate(const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                             const qt_tensor_t *v, const qt_tensor_t *mask, const qt_tensor_t *out)
{
    QT_TRY(qt_attn_validate_inputs(cfg, q, k, v, mask));
    QT_TRY(check_shape(out, "out", q->dtype, 4, q->shape));
    QT_CHECK_ARG(out->data != q->data && (!k || out->data != k->data) && out->data != v->data,
                 "out must not alias q, k or v");
    return QT_OK;
}

/* Whether be runs cfg on these operands (see attention.h). */
int qt_attn_supports(const qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                     const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask, const qt_tensor_t *out,
                     char *why, size_t why_size)
{
    char dummy[8];
    if (!why) { why = dummy; why_size = sizeof dummy; }
    if (!be || !cfg) { snprintf(why, why_size, "no backend or config"); return 0; }
    const qt_attn_ops_t *ops = qt_backend_ops(be, QT_TECH_ATTENTION);
    if (!ops) { snprintf(why, why_size, "backend %s has no attention ops", qt_backend_name(be)); return 0; }
    qt_dtype_t dt = q ? q->dtype : QT_F32;
    if (!ops->supports(be, cfg, dt)) {
        snprintf(why, why_size, "backend %s does not implement %s attention in %s with these options",
                 qt_backend_name(be), qt_attn_variant_name(cfg->variant), qt_dtype_name(dt));
        return 0;
    }
    const qt_tensor_t *ts[5] = {q, k, v, mask, out};
    static const char *const names[5] = {"q", "k", "v", "mask", "out"};
    return qt_tensors_on_backend(be, ts, names, 5, why, why_size);
}

/* Validate, check support and placement, dispatch. */
qt_status_t qt_attn_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                            const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask, qt_tensor_t *out)
{
    QT_CHECK_ARG(be != NULL && cfg != NULL, "backend and config must not be NULL");
    QT_TRY(qt_attn_validate(cfg, q, k, v, mask, out));
    char why[256];
    if (!qt_attn_supports(be, cfg, q, k, v, mask, out, why, sizeof why))
        return qt_fail(QT_ERR_UNSUPPORTED, "attention: %s", why);
    const qt_attn_ops_t *ops = qt_backend_ops(be, QT_TECH_ATTENTION);
    return ops->forward(be, cfg, q, k, v, mask, out);
}

/* Useful FLOPs: 4·D per nominal query-key pair (see attention.h). */
double qt_attn_useful_flops(const qt_attn_config_t *cfg, int64_t B, int64_t H, int64_t T, int64_t D)
{
    if (!cfg) return NAN;
    double t = (double)T, dense_keys = cfg->causal ? t / 2 : t, keys = dense_keys;
    double half = cfg->causal ? 0.5 : 1.0;
    switch (cfg->variant) {
    case QT_ATTN_DENSE: break;
    case QT_ATTN_WINDOW: keys = cfg->w_left + 1.0 + (double)qt_attn_wright(cfg); break;
    case QT_ATTN_LSH: keys = half * 2.0 * cfg->chunk * cfg->n_hashes; break;
    case QT_ATTN_DYNAMIC:
        keys = cfg->w_left + 1.0 + (double)qt_attn_wright(cfg) + half * cfg->n_hashes * t / cfg->n_buckets;
        break;
    default: return NAN;
    }
    if (keys > dense_keys) keys = dense_keys;
    return 4.0 * (double)B * (double)H * t * keys * (double)D;
}

/* Dimensions of q. */
void qt_attn_dims_of(const qt_tensor_t *q, qt_attn_dims_t *d)
{
    d->B = q->shape[0];
    d->H = q->shape[1];
    d->T = q->shape[2];
    d->D = q->shape[3];
}

/* Unit-normalise rows (double accumulation of the norm; zero rows stay zero). */
void qt_attn_normalize_rows(const float *q, float *out, int64_t n, int64_t D)
{
    for (int64_t r = 0; r < n; r++) {
        double s = 0;
        for (int64_t d = 0; d < D; d++) s += (double)q[r * D + d] * q[r * D + d];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int64_t d = 0; d < D; d++) out[r * D + d] = q[r * D + d] * inv;
    }
}

/* Allocate the plan's arrays. */
qt_status_t qt_attn_lsh_plan_init(qt_attn_lsh_plan_t *p, const qt_attn_config_t *cfg, int64_t T, int64_t D)
{
    memset(p, 0, sizeof *p);
    p->T = T;
    p->D = D;
    p->n_hashes = cfg->n_hashes;
    p->n_buckets = cfg->n_buckets;
    p->chunk = cfg->chunk > 0 ? cfg->chunk : 1;
    p->shared = cfg->shared_qk;
    p->factor = cfg->bucket_factor;
    size_t nt = (size_t)cfg->n_hashes * (size_t)T * sizeof(int);
    size_t no = (size_t)cfg->n_hashes * (size_t)(cfg->n_buckets + 1) * sizeof(int);
    int sides = p->shared ? 1 : 2;
    int *arrays[2][4] = {{NULL}};
    for (int s = 0; s < sides; s++) {
        for (int a = 0; a < 3; a++) arrays[s][a] = qt_alloc(nt);
        arrays[s][3] = qt_alloc(no);
    }
    p->rot = qt_alloc((size_t)D * (size_t)(cfg->n_buckets / 2) * sizeof(float));
    size_t proj = qt_attn_tile_floats(D) > (size_t)(QT_ATTN_HASH_ROWS * D) ? qt_attn_tile_floats(D)
                                                                          : (size_t)(QT_ATTN_HASH_ROWS * D);
    p->proj = qt_alloc(proj * sizeof(float));
    p->bq = arrays[0][0]; p->sq = arrays[0][1]; p->cq = arrays[0][2]; p->oq = arrays[0][3];
    int s = sides - 1;
    p->bk = arrays[s][0]; p->sk = arrays[s][1]; p->ck = arrays[s][2]; p->ok = arrays[s][3];
    for (int t = 0; t < sides; t++)
        for (int a = 0; a < 4; a++)
            if (!arrays[t][a]) { qt_attn_lsh_plan_free(p); return qt_fail(QT_ERR_NOMEM, "LSH plan for T=%lld", (long long)T); }
    if (!p->rot || !p->proj) { qt_attn_lsh_plan_free(p); return qt_fail(QT_ERR_NOMEM, "LSH rotation"); }
    return QT_OK;
}

/* Free the plan. */
void qt_attn_lsh_plan_free(qt_attn_lsh_plan_t *p)
{
    int shared = p->bk == p->bq;
    qt_free(p->bq); qt_free(p->sq); qt_free(p->cq); qt_free(p->oq);
    if (!shared) { qt_free(p->bk); qt_free(p->sk); qt_free(p->ck); qt_free(p->ok); }
    qt_free(p->rot);
    qt_free(p->proj);
    memset(p, 0, sizeof *p);
}

/* Buckets of the T rows of x for this round's rotations (one, or two when factorised:
 * bucket = h1 + f·h2) by the backend's hasher, then the stable counting sort. */
static void hash_and_sort(qt_attn_lsh_plan_t *p, qt_attn_hash_fn hash, const float *x, int *bucket, int *sorted,
                          int *chunk, int *offs)
{
    for (int64_t t = 0; t < p->T; t++) bucket[t] = 0;
    if (p->factor) {
        hash(p, x, p->rot, p->factor / 2, 1, bucket);
        hash(p, x, p->rot + p->D * (p->factor / 2), p->n_buckets / p->factor / 2, p->factor, bucket);
    } else {
        hash(p, x, p->rot, p->n_buckets / 2, 1, bucket);
    }
    for (int b = 0; b <= p->n_buckets; b++) offs[b] = 0;
    for (int64_t t = 0; t < p->T; t++) offs[bucket[t] + 1]++;
    for (int b = 0; b < p->n_buckets; b++) offs[b + 1] += offs[b];
    /* place positions in increasing order (stable within each bucket); offs[b] advances
     * to the start of bucket b+1, then shifts back */
    for (int64_t t = 0; t < p->T; t++) sorted[offs[bucket[t]]++] = (int)t;
    for (int b = p->n_buckets; b > 0; b--) offs[b] = offs[b - 1];
    offs[0] = 0;
    for (int64_t k = 0; k < p->T; k++) chunk[sorted[k]] = (int)(k / p->chunk);
}

/* Round r's rotation(s) of head `head`, transposed (see internal.h). */
int qt_attn_lsh_rotation(const qt_attn_config_t *cfg, int64_t head, int r, int64_t D, float *rot)
{
    int f = cfg->bucket_factor;
    int cols = f ? f / 2 + cfg->n_buckets / f / 2 : cfg->n_buckets / 2, cols1 = f ? f / 2 : cols;
    uint64_t stream = (uint64_t)head * 4096u + (uint64_t)r;
    for (int64_t e = 0; e < D * cols1; e++) rot[e] = (float)qt_rng_normal(cfg->seed, stream, (uint64_t)e);
    for (int64_t e = D * cols1; e < D * cols; e++)
        rot[e] = (float)qt_rng_normal(cfg->seed, stream + 2048u, (uint64_t)(e - D * cols1));
    return cols;
}

/* Hash and sort every round of one (b, h). */
long long qt_attn_lsh_plan_build(qt_attn_lsh_plan_t *p, const qt_attn_config_t *cfg, int64_t head,
                                 const float *q, const float *k, qt_attn_hash_fn hash)
{
    /* columns of the rotation(s): n/2, or f/2 + (n/f)/2 when factorised */
    int cols = p->factor ? p->factor / 2 + p->n_buckets / p->factor / 2 : p->n_buckets / 2;
    long long flops = 0;
    for (int r = 0; r < p->n_hashes; r++) {
        /* rot holds Rᵀ: rot[b·D + d] = R[d][b] = normal #(b·D + d) of the round's stream;
         * a factorised second rotation comes from stream + 2048 (drawn point-wise: this
         * runs inside the backends' parallel regions) */
        qt_attn_lsh_rotation(cfg, head, r, p->D, p->rot);
        int64_t o = (int64_t)r * p->T, ob = (int64_t)r * (p->n_buckets + 1);
        hash_and_sort(p, hash, q, p->bq + o, p->sq + o, p->cq + o, p->oq + ob);
        flops += 2LL * p->T * p->D * cols;
        if (!p->shared) {
            hash_and_sort(p, hash, k, p->bk + o, p->sk + o, p->ck + o, p->ok + ob);
            flops += 2LL * p->T * p->D * cols;
        }
    }
    return flops;
}

/* Validate, then ask the backend for its buckets. */
qt_status_t qt_attn_lsh_buckets(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                                qt_tensor_t *buckets)
{
    QT_CHECK_ARG(be && cfg, "lsh_buckets: backend and config must not be NULL");
    qt_attn_config_t c = *cfg;
    c.variant = QT_ATTN_LSH;
    c.shared_qk = 1; /* only x is hashed */
    QT_TRY(qt_attn_validate_inputs(&c, x, NULL, x, NULL));
    QT_TRY(qt_tensor_check_on(x, "x", QT_F32, 4, be->device));
    QT_TRY(qt_tensor_check_on(buckets, "buckets", QT_I32, 4, be->device));
    int64_t want[4] = {x->shape[0], x->shape[1], cfg->n_hashes, x->shape[2]};
    for (int i = 0; i < 4; i++)
        if (buckets->shape[i] != want[i])
            return qt_fail(QT_ERR_SHAPE, "buckets dimension %d is %lld, expected %lld (B, H, n_hashes, T)", i,
                           (long long)buckets->shape[i], (long long)want[i]);
    const qt_attn_ops_t *ops = qt_backend_ops(be, QT_TECH_ATTENTION);
    if (!ops || !ops->lsh_buckets)
        return qt_fail(QT_ERR_UNSUPPORTED, "backend %s has no LSH hashing", qt_backend_name(be));
    return ops->lsh_buckets(be, &c, x, buckets);
}

/* Host backends: hash every head with the plan and the backend's hasher. */
qt_status_t qt_attn_lsh_buckets_host(const qt_attn_config_t *cfg, const qt_tensor_t *x, qt_tensor_t *buckets,
                                     qt_attn_hash_fn hash)
{
    qt_attn_dims_t d;
    qt_attn_dims_of(x, &d);
    qt_attn_lsh_plan_t plan;
    QT_TRY(qt_attn_lsh_plan_init(&plan, cfg, d.T, d.D));
    int32_t *out = buckets->data;
    for (int64_t bh = 0; bh < d.B * d.H; bh++) {
        (void)qt_attn_lsh_plan_build(&plan, cfg, bh % d.H, (const float *)x->data + bh * d.T * d.D, NULL, hash);
        for (int64_t e = 0; e < (int64_t)cfg->n_hashes * d.T; e++) out[bh * cfg->n_hashes * d.T + e] = plan.bq[e];
    }
    qt_attn_lsh_plan_free(&plan);
    return QT_OK;
}
