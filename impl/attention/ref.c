/* ref.c — the attention oracle ("ref" backend) and the accuracy helper.
 *
 * Naive and single-threaded on purpose: for every query row it marks the key set
 * S(i) of the variant in a flag row of length T (ref_keyset, the one place that
 * spells out each pattern, see attention.h), computes the scores of those keys in
 * double and the softmax-weighted sum of V in double, and rounds once to float.
 * LSH follows the Reformer description literally: per round r the set A_r(i)
 * (chunk window, causal, padding, self only when alone), the duplicate counts
 * count(i,j) over rounds, per-round outputs o_r and log-sum-exps lse_r from the
 * corrected scores s_ij - log count(i,j), combined with weights exp(lse_r - LSE).
 * qt_attn_accuracy (rel_error, mass_recall against exact dense) lives here because
 * it is the same naive computation. Memory: O(T) per row plus the LSH plan.
 * Run: make test (tests/attention/test_attention.c). */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "quintet/counters.h"

/* State of one (b, h) head while the oracle walks its rows. */
typedef struct {
    const qt_attn_config_t *cfg;
    qt_attn_dims_t d;
    const float *q, *k, *v; /* rows of this head; k is kn when shared_qk */
    const float *mask_row;  /* mask of batch b or NULL */
    float *kn;              /* unit-normalised queries (shared_qk) */
    qt_attn_lsh_plan_t plan;
    int have_plan;
    long long flops, pairs;
} ref_head_t;

/* The oracle's hasher: for each row and column the f32 FMA chain over d in order, then the
 * first maximum of [p ; -p] (attention.h), written as plainly as possible. */
static void ref_hash_rows(const qt_attn_lsh_plan_t *p, const float *x, const float *rotT, int half, int scale,
                          int *bucket)
{
    for (int64_t t = 0; t < p->T; t++) {
        const float *row = x + t * p->D;
        float best = -INFINITY;
        int arg = 0;
        for (int side = 0; side < 2; side++)
            for (int b = 0; b < half; b++) {
                float proj = 0.0f;
                for (int64_t d = 0; d < p->D; d++) proj = fmaf(row[d], rotT[(int64_t)b * p->D + d], proj);
                float val = side ? -proj : proj;
                if (val > best) {
                    best = val;
                    arg = side * half + b;
                }
            }
        bucket[t] += scale * arg;
    }
}

/* Allocate per-call state (normalised keys, LSH plan). */
static qt_status_t ref_head_init(ref_head_t *hd, const qt_attn_config_t *cfg, const qt_tensor_t *q)
{
    memset(hd, 0, sizeof *hd);
    hd->cfg = cfg;
    qt_attn_dims_of(q, &hd->d);
    if (cfg->shared_qk) {
        hd->kn = qt_alloc((size_t)(hd->d.T * hd->d.D) * sizeof(float));
        if (!hd->kn) return qt_fail(QT_ERR_NOMEM, "ref attention: normalised keys");
    }
    if (cfg->variant == QT_ATTN_LSH || cfg->variant == QT_ATTN_DYNAMIC) {
        qt_status_t s = qt_attn_lsh_plan_init(&hd->plan, cfg, hd->d.T, hd->d.D);
        if (s != QT_OK) { qt_free(hd->kn); return s; }
        hd->have_plan = 1;
    }
    return QT_OK;
}

/* Release per-call state. */
static void ref_head_free(ref_head_t *hd)
{
    if (hd->have_plan) qt_attn_lsh_plan_free(&hd->plan);
    qt_free(hd->kn);
}

/* Point the state at head (b, h): keys, mask row, hashing. */
static void ref_head_begin(ref_head_t *hd, const qt_tensor_t *q, const qt_tensor_t *k, const qt_tensor_t *v,
                           const qt_tensor_t *mask, int64_t b, int64_t h)
{
    int64_t off = (b * hd->d.H + h) * hd->d.T * hd->d.D;
    hd->q = (const float *)q->data + off;
    hd->v = (const float *)v->data + off;
    if (hd->cfg->shared_qk) {
        qt_attn_normalize_rows(hd->q, hd->kn, hd->d.T, hd->d.D);
        hd->k = hd->kn;
    } else {
        hd->k = (const float *)k->data + off;
    }
    hd->mask_row = mask ? (const float *)mask->data + b * hd->d.T : NULL;
    if (hd->have_plan) hd->flops += qt_attn_lsh_plan_build(&hd->plan, hd->cfg, h, hd->q, hd->cfg->shared_qk ? NULL : hd->k,
                                                       ref_hash_rows);
}

/* Mark S(i) in flags[0..T) and return its size. round selects one LSH round;
 * round < 0 gives the union over rounds (for mass_recall). Dense/window/dynamic
 * ignore round. This function is the definition of every pattern. */
static int64_t ref_keyset(const ref_head_t *hd, const qt_attn_config_t *cfg, int64_t i, int round, unsigned char *flags)
{
    const qt_attn_lsh_plan_t *p = &hd->plan;
    int64_t T = hd->d.T, n = 0;
    if (cfg->variant == QT_ATTN_LSH && round < 0) {
        memset(flags, 0, (size_t)T);
        unsigned char *one = flags + T; /* caller gives 2T bytes for the union */
        for (int r = 0; r < cfg->n_hashes; r++) {
            ref_keyset(hd, cfg, i, r, one);
            for (int64_t j = 0; j < T; j++) flags[j] |= one[j];
        }
        for (int64_t j = 0; j < T; j++) n += flags[j];
        return n;
    }
    for (int64_t j = 0; j < T; j++) {
        int in = qt_attn_key_valid(cfg, hd->mask_row, i, j);
        switch (cfg->variant) {
        case QT_ATTN_DENSE: break;
        case QT_ATTN_WINDOW: in = in && qt_attn_in_window(cfg, i, j); break;
        case QT_ATTN_DYNAMIC:
            in = in && (qt_attn_in_window(cfg, i, j) || qt_attn_dyn_first_round(p, i, j) < cfg->n_hashes);
            break;
        case QT_ATTN_LSH: {
            int64_t dc = p->cq[round * T + i] - p->ck[round * T + j];
            in = in && (dc == 0 || dc == 1) && !(cfg->shared_qk && j == i);
            break;
        }
        default: in = 0;
        }
        flags[j] = (unsigned char)in;
        n += in;
    }
    if (cfg->variant == QT_ATTN_LSH && cfg->shared_qk && n == 0 && qt_attn_key_valid(cfg, hd->mask_row, i, i)) {
        flags[i] = 1; /* attend to itself only when nothing else is available */
        n = 1;
    }
    return n;
}

/* Score of (i, j) in double. */
static double ref_score(const ref_head_t *hd, int64_t i, int64_t j)
{
    const float *qi = hd->q + i * hd->d.D, *kj = hd->k + j * hd->d.D;
    double s = 0;
    for (int64_t d = 0; d < hd->d.D; d++) s += (double)qi[d] * kj[d];
    return s / sqrt((double)hd->d.D);
}

/* Softmax over the flagged keys with per-key log-weight corrections (corr may be
 * NULL): writes o[0..D) and returns the log-sum-exp (-inf and o = 0 for an empty set). */
static double ref_softmax_row(ref_head_t *hd, int64_t i, const unsigned char *flags, const double *corr, double *s,
                              double *o)
{
    int64_t T = hd->d.T, D = hd->d.D;
    double m = -INFINITY;
    for (int64_t j = 0; j < T; j++)
        if (flags[j]) {
            s[j] = ref_score(hd, i, j) - (corr ? corr[j] : 0.0);
            if (s[j] > m) m = s[j];
            hd->pairs++;
        }
    for (int64_t d = 0; d < D; d++) o[d] = 0;
    if (m == -INFINITY) return -INFINITY;
    double z = 0;
    for (int64_t j = 0; j < T; j++)
        if (flags[j]) {
            double w = exp(s[j] - m);
            z += w;
            for (int64_t d = 0; d < D; d++) o[d] += w * hd->v[j * D + d];
        }
    for (int64_t d = 0; d < D; d++) o[d] /= z;
    return m + log(z);
}

/* One LSH row: per-round sets, duplicate counts, per-round softmax, lse combination. */
static void ref_lsh_row(ref_head_t *hd, int64_t i, unsigned char *flags, double *corr, double *s, double *orow,
                        double *o)
{
    const qt_attn_config_t *cfg = hd->cfg;
    int64_t T = hd->d.T, D = hd->d.D;
    int R = cfg->n_hashes;
    for (int r = 0; r < R; r++) ref_keyset(hd, cfg, i, r, flags + r * T);
    for (int64_t j = 0; j < T; j++) {
        int c = 0;
        for (int r = 0; r < R; r++) c += flags[r * T + j];
        corr[j] = c > 1 ? log((double)c) : 0.0;
    }
    double lse[QT_ATTN_MAX_HASHES], big = -INFINITY;
    for (int r = 0; r < R; r++) {
        lse[r] = ref_softmax_row(hd, i, flags + r * T, corr, s, orow + r * D);
        if (lse[r] > big) big = lse[r];
    }
    for (int64_t d = 0; d < D; d++) o[d] = 0;
    if (big == -INFINITY) return;
    double zsum = 0;
    for (int r = 0; r < R; r++) zsum += exp(lse[r] - big);
    double total = big + log(zsum);
    for (int r = 0; r < R; r++) {
        if (lse[r] == -INFINITY) continue;
        double w = exp(lse[r] - total);
        for (int64_t d = 0; d < D; d++) o[d] += w * orow[r * D + d];
    }
}

/* Row buffers of the oracle. */
typedef struct {
    unsigned char *flags; /* max(n_hashes, 2) × T */
    double *s, *corr, *orow, *o;
} ref_bufs_t;

/* Allocate row buffers. */
static qt_status_t ref_bufs_init(ref_bufs_t *b, const qt_attn_config_t *cfg, int64_t T, int64_t D)
{
    int R = cfg->n_hashes > 2 ? cfg->n_hashes : 2;
    b->flags = qt_alloc((size_t)R * (size_t)T);
    b->s = qt_alloc((size_t)T * sizeof(double));
    b->corr = qt_alloc((size_t)T * sizeof(double));
    b->orow = qt_alloc((size_t)R * (size_t)D * sizeof(double));
    b->o = qt_alloc((size_t)D * sizeof(double));
    if (b->flags && b->s && b->corr && b->orow && b->o) return QT_OK;
    qt_free(b->flags); qt_free(b->s); qt_free(b->corr); qt_free(b->orow); qt_free(b->o);
    return qt_fail(QT_ERR_NOMEM, "ref attention row buffers (T=%lld)", (long long)T);
}

/* Release row buffers. */
static void ref_bufs_free(ref_bufs_t *b)
{
    qt_free(b->flags); qt_free(b->s); qt_free(b->corr); qt_free(b->orow); qt_free(b->o);
}

/* Output row i of the current head into o (double). */
static void ref_row(ref_head_t *hd, int64_t i, ref_bufs_t *b)
{
    if (hd->cfg->variant == QT_ATTN_LSH) {
        ref_lsh_row(hd, i, b->flags, b->corr, b->s, b->orow, b->o);
    } else {
        ref_keyset(hd, hd->cfg, i, 0, b->flags);
        ref_softmax_row(hd, i, b->flags, NULL, b->s, b->o);
    }
}

/* The oracle's forward. */
static qt_status_t ref_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                               const qt_tensor_t *v, const qt_tensor_t *mask, qt_tensor_t *out)
{
    (void)be; /* arguments validated by qt_attn_forward */
    ref_head_t hd;
    ref_bufs_t bufs;
    QT_TRY(ref_head_init(&hd, cfg, q));
    qt_status_t s = ref_bufs_init(&bufs, cfg, hd.d.T, hd.d.D);
    if (s != QT_OK) { ref_head_free(&hd); return s; }
    int64_t T = hd.d.T, D = hd.d.D;
    for (int64_t b = 0; b < hd.d.B; b++)
        for (int64_t h = 0; h < hd.d.H; h++) {
            ref_head_begin(&hd, q, k, v, mask, b, h);
            float *o = (float *)out->data + (b * hd.d.H + h) * T * D;
            for (int64_t i = 0; i < T; i++) {
                ref_row(&hd, i, &bufs);
                for (int64_t d = 0; d < D; d++) o[i * D + d] = (float)bufs.o[d];
            }
        }
    int64_t n = hd.d.B * hd.d.H * T * D;
    qt_counter_add(QT_CTR_FLOPS, hd.flops + 4 * D * hd.pairs);
    qt_counter_add(QT_CTR_ATTN_PAIRS, hd.pairs);
    qt_counter_add(QT_CTR_BYTES_READ, (cfg->shared_qk ? 2 : 3) * n * (int64_t)sizeof(float));
    qt_counter_add(QT_CTR_BYTES_WRITTEN, n * (int64_t)sizeof(float));
    ref_bufs_free(&bufs);
    ref_head_free(&hd);
    return QT_OK;
}

/* The oracle implements every variant, in f32. */
static int ref_supports(const qt_backend_t *be, const qt_attn_config_t *cfg, qt_dtype_t dt)
{
    (void)be;
    return cfg && (unsigned)cfg->variant < QT_ATTN_VARIANT_COUNT && dt == QT_F32;
}

/* The ops table the ref backend lists (impl/backends/host/host.c). */
qt_status_t qt_attn_ref_lsh_buckets(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                                    qt_tensor_t *buckets);
const qt_attn_ops_t qt_attn_ops_ref = {
    .supports = ref_supports,
    .forward = ref_forward,
    .lsh_buckets = qt_attn_ref_lsh_buckets,
};

/* rel_error and mass_recall against exact dense attention on sampled rows. */
qt_status_t qt_attn_accuracy(const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                             const qt_tensor_t *v, const qt_tensor_t *mask, const qt_tensor_t *out, int row_stride,
                             qt_attn_accuracy_t *acc)
{
    QT_CHECK_ARG(acc != NULL, "accuracy output must not be NULL");
    QT_CHECK_ARG(row_stride >= 1, "row_stride %d must be >= 1", row_stride);
    QT_TRY(out ? qt_attn_validate(cfg, q, k, v, mask, out) : qt_attn_validate_inputs(cfg, q, k, v, mask));
    QT_CHECK_ARG(q->dtype == QT_F32, "accuracy: tensors must be f32 (got %s; convert first)", qt_dtype_name(q->dtype));
    ref_head_t hd;
    ref_bufs_t bufs;
    QT_TRY(ref_head_init(&hd, cfg, q));
    qt_status_t s = ref_bufs_init(&bufs, cfg, hd.d.T, hd.d.D);
    if (s != QT_OK) { ref_head_free(&hd); return s; }
    qt_attn_config_t dense = *cfg;
    dense.variant = QT_ATTN_DENSE;
    int64_t T = hd.d.T, D = hd.d.D, rows = 0, recalled = 0;
    double err2 = 0, ref2 = 0, recall = 0;
    unsigned char *dflags = qt_alloc((size_t)T);
    if (!dflags) { ref_bufs_free(&bufs); ref_head_free(&hd); return qt_fail(QT_ERR_NOMEM, "accuracy flags"); }
    for (int64_t b = 0; b < hd.d.B; b++)
        for (int64_t h = 0; h < hd.d.H; h++) {
            ref_head_begin(&hd, q, k, v, mask, b, h);
            const float *o = out ? (const float *)out->data + (b * hd.d.H + h) * T * D : NULL;
            for (int64_t i = 0; i < T; i += row_stride) {
                rows++;
                /* exact dense row: scores into s, output into o_dense (bufs.orow) */
                ref_keyset(&hd, &dense, i, 0, dflags);
                double lse = ref_softmax_row(&hd, i, dflags, NULL, bufs.s, bufs.orow);
                if (o)
                    for (int64_t d = 0; d < D; d++) {
                        double e = o[i * D + d] - bufs.orow[d];
                        err2 += e * e;
                        ref2 += bufs.orow[d] * bufs.orow[d];
                    }
                if (lse == -INFINITY) continue; /* no valid key: no mass to recall */
                ref_keyset(&hd, cfg, i, -1, bufs.flags);
                double m = 0;
                for (int64_t j = 0; j < T; j++)
                    if (bufs.flags[j] && dflags[j]) m += exp(bufs.s[j] - lse);
                recall += m;
                recalled++;
            }
        }
    acc->rows = rows;
    acc->rel_error = !out ? NAN : ref2 > 0 ? sqrt(err2 / ref2) : sqrt(err2);
    acc->mass_recall = recalled ? recall / (double)recalled : NAN;
    qt_free(dflags);
    ref_bufs_free(&bufs);
    ref_head_free(&hd);
    return QT_OK;
}

/* The buckets this backend's hasher gives (qt_attn_lsh_buckets). */
qt_status_t qt_attn_ref_lsh_buckets(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                                  qt_tensor_t *buckets)
{
    (void)be;
    return qt_attn_lsh_buckets_host(cfg, x, buckets, ref_hash_rows);
}
