/* compress.c — gradient compression for data-parallel training (dist.h states each scheme
 * exactly): top-k with error feedback and optional DGC momentum correction, random-k (shared
 * seed, values only), QSGD s-level and int8 stochastic quantisation (unbiased), PowerSGD rank r
 * with error feedback and warm start. Every exchange leaves in grad the mean over the ranks of
 * the decompressed gradients, identical on every rank (sums in rank order), and counts the
 * bytes of the message this rank hands over (qt_compress_bytes; QT_CTR_BYTES_SENT counts them
 * in the collectives that carry them). A NULL backend or a world of one skips the network
 * but still applies, and reports, the compression. Tests: tests/dist/test_dist.c. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quintet/rng.h"

static const char *const kind_names[QT_COMPRESS_COUNT] = {"none", "topk", "randomk", "qsgd", "int8", "powersgd"};

const char *qt_compress_name(qt_compress_kind_t k) { return (k >= 0 && k < QT_COMPRESS_COUNT) ? kind_names[k] : "?"; }

qt_status_t qt_compress_parse(const char *s, qt_compress_kind_t *out)
{
    QT_CHECK_ARG(s && out, "compression name and output must not be NULL");
    for (int k = 0; k < QT_COMPRESS_COUNT; k++)
        if (!strcmp(s, kind_names[k])) {
            *out = (qt_compress_kind_t)k;
            return QT_OK;
        }
    return qt_fail(QT_ERR_ARG, "unknown compression '%s' (none, topk, randomk, qsgd, int8, powersgd)", s);
}

struct qt_compressor {
    qt_compress_config_t cfg;
    int n_t;
    int *rows, *cols;
    size_t *off, n;
    float *u, *v;   /* topk/randomk: momentum and accumulated residual; powersgd: v is E */
    float **Q;      /* powersgd: per matrix, cols × r (warm start) */
    void *buf;      /* send / receive scratch */
    size_t buf_bytes;
    int64_t step;
    double sent, logical;
};

/* ---- building blocks ---- */

/* Ascending index order. */
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The k-th largest of m[0..n) (1-based k), by quickselect (Lomuto, middle pivot); m is permuted. */
static float kth_largest(float *m, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        size_t p = lo + (hi - lo) / 2;
        float pv = m[p];
        m[p] = m[hi];
        m[hi] = pv;
        size_t st = lo;
        for (size_t i = lo; i < hi; i++)
            if (m[i] > pv) {
                float t = m[i]; m[i] = m[st]; m[st] = t;
                st++;
            }
        m[hi] = m[st];
        m[st] = pv;
        if (st == want) return pv;
        if (st < want) lo = st + 1;
        else hi = st - 1;
    }
    return m[lo];
}

qt_status_t qt_compress_topk_select(const float *v, size_t n, size_t k, uint32_t *idx)
{
    QT_CHECK_ARG(v && idx, "topk: NULL argument");
    QT_CHECK_ARG(k >= 1 && k <= n && n <= 0xffffffffu, "topk: k = %zu must be in 1..n = %zu", k, n);
    float *m = malloc(n * sizeof *m);
    if (!m) return qt_fail(QT_ERR_NOMEM, "topk scratch");
    for (size_t i = 0; i < n; i++) m[i] = fabsf(v[i]);
    float thr = kth_largest(m, n, k);
    free(m);
    /* Everything above the threshold, then ties at it by ascending index until k. */
    size_t got = 0;
    for (size_t i = 0; i < n; i++)
        if (fabsf(v[i]) > thr) idx[got++] = (uint32_t)i;
    for (size_t i = 0; i < n && got < k; i++)
        if (fabsf(v[i]) == thr) idx[got++] = (uint32_t)i;
    qsort(idx, k, sizeof *idx, cmp_u32);
    return QT_OK;
}

qt_status_t qt_compress_quantize(const float *v, size_t n, int levels, uint64_t seed, uint64_t stream, int8_t *q,
                                 float *scale)
{
    QT_CHECK_ARG(v && q && scale, "quantize: NULL argument");
    QT_CHECK_ARG(levels >= 0 && levels <= 127, "quantize: levels %d must be in 0..127 (0: int8)", levels);
    double norm = 0;
    if (levels > 0) {
        for (size_t i = 0; i < n; i++) norm += (double)v[i] * v[i];
        norm = sqrt(norm) / levels; /* qsgd: one level = ‖v‖/s */
    } else {
        for (size_t i = 0; i < n; i++) norm = fmax(norm, fabs((double)v[i]));
        norm /= 127.0; /* int8: one level = max|v|/127 */
    }
    *scale = (float)norm;
    if (norm == 0 || !isfinite(norm)) {
        memset(q, 0, n);
        return QT_OK;
    }
    double inv = 1.0 / (double)*scale;
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)v[i]) * inv;
        double l = floor(a);
        if (qt_rng_uniform_f64(seed, stream, i) < a - l) l += 1;
        if (l > 127) l = 127;
        q[i] = (int8_t)(v[i] < 0 ? -l : l);
    }
    return QT_OK;
}

/* ---- the compressor ---- */

qt_status_t qt_compress_init(qt_compressor_t **out, const qt_compress_config_t *cfg, int n_tensors, const int *rows,
                             const int *cols)
{
    QT_CHECK_ARG(out && cfg && rows && cols && n_tensors > 0, "compress_init: NULL argument or no tensors");
    *out = NULL;
    QT_CHECK_ARG(cfg->kind >= 0 && cfg->kind < QT_COMPRESS_COUNT, "unknown compression kind %d", (int)cfg->kind);
    if (cfg->kind == QT_COMPRESS_TOPK || cfg->kind == QT_COMPRESS_RANDOMK)
        QT_CHECK_ARG(cfg->ratio > 0 && cfg->ratio <= 1, "%s: ratio %g must be in (0, 1]", qt_compress_name(cfg->kind),
                     cfg->ratio);
    if (cfg->kind == QT_COMPRESS_TOPK)
        QT_CHECK_ARG(cfg->momentum >= 0 && cfg->momentum < 1, "topk: momentum %g must be in [0, 1)", cfg->momentum);
    if (cfg->kind == QT_COMPRESS_QSGD)
        QT_CHECK_ARG(cfg->levels >= 1 && cfg->levels <= 127, "qsgd: levels %d must be in 1..127", cfg->levels);
    if (cfg->kind == QT_COMPRESS_POWERSGD) QT_CHECK_ARG(cfg->rank >= 1, "powersgd: rank %d must be >= 1", cfg->rank);
    qt_compressor_t *c = calloc(1, sizeof *c);
    if (!c) return qt_fail(QT_ERR_NOMEM, "compressor");
    c->cfg = *cfg;
    c->n_t = n_tensors;
    c->rows = malloc(sizeof(int) * (size_t)n_tensors);
    c->cols = malloc(sizeof(int) * (size_t)n_tensors);
    c->off = malloc(sizeof(size_t) * (size_t)(n_tensors + 1));
    c->Q = calloc((size_t)n_tensors, sizeof *c->Q);
    qt_status_t s = (c->rows && c->cols && c->off && c->Q) ? QT_OK : qt_fail(QT_ERR_NOMEM, "compressor");
    c->off[0] = 0;
    for (int t = 0; s == QT_OK && t < n_tensors; t++) {
        if (rows[t] < 1 || cols[t] < 1) s = qt_fail(QT_ERR_ARG, "tensor %d: %d x %d", t, rows[t], cols[t]);
        c->rows[t] = rows[t];
        c->cols[t] = cols[t];
        c->off[t + 1] = c->off[t] + (size_t)rows[t] * (size_t)cols[t];
    }
    c->n = s == QT_OK ? c->off[n_tensors] : 0;
    if (s == QT_OK && cfg->kind != QT_COMPRESS_NONE && cfg->kind != QT_COMPRESS_QSGD && cfg->kind != QT_COMPRESS_INT8) {
        c->v = calloc(c->n, sizeof(float));
        c->u = calloc(c->n, sizeof(float));
        if (!c->v || !c->u) s = qt_fail(QT_ERR_NOMEM, "compressor state");
    }
    for (int t = 0; s == QT_OK && cfg->kind == QT_COMPRESS_POWERSGD && t < n_tensors; t++) {
        if (rows[t] < 2 || cols[t] < 2) continue;
        int r = cfg->rank < rows[t] ? cfg->rank : rows[t];
        if (r > cols[t]) r = cols[t];
        c->Q[t] = malloc(sizeof(float) * (size_t)cols[t] * (size_t)r);
        if (!c->Q[t]) { s = qt_fail(QT_ERR_NOMEM, "powersgd Q"); break; }
        /* Q from the shared seed: identical on every rank, as the algorithm requires. */
        qt_rng_fill_normal_f32(c->Q[t], (size_t)cols[t] * (size_t)r, cfg->seed, 0x5053u + (uint64_t)t, 0, 0.0f, 1.0f);
    }
    if (s != QT_OK) {
        qt_compress_free(c);
        return s;
    }
    *out = c;
    return QT_OK;
}

void qt_compress_free(qt_compressor_t *c)
{
    if (!c) return;
    for (int t = 0; c->Q && t < c->n_t; t++) free(c->Q[t]);
    free(c->Q);
    free(c->rows);
    free(c->cols);
    free(c->off);
    free(c->u);
    free(c->v);
    free(c->buf);
    free(c);
}

void qt_compress_bytes(const qt_compressor_t *c, double *sent, double *logical)
{
    if (sent) *sent = c ? c->sent : 0;
    if (logical) *logical = c ? c->logical : 0;
}

const float *qt_compress_residual(const qt_compressor_t *c) { return c ? c->v : NULL; }

/* Scratch of at least bytes. */
static qt_status_t scratch(qt_compressor_t *c, size_t bytes)
{
    if (c->buf_bytes >= bytes) return QT_OK;
    void *p = realloc(c->buf, bytes);
    if (!p) return qt_fail(QT_ERR_NOMEM, "compression buffer of %zu bytes", bytes);
    c->buf = p;
    c->buf_bytes = bytes;
    return QT_OK;
}

static int world_of(const qt_backend_t *be) { return be ? be->world : 1; }

/* Mean over the ranks of n floats in place (no network for a world of one). */
static qt_status_t mean_f32(qt_compressor_t *c, qt_backend_t *be, float *x, size_t n)
{
    c->sent += 4.0 * (double)n;
    if (world_of(be) <= 1) return QT_OK;
    QT_TRY(qt_dist_allreduce_raw(be, x, x, n, QT_DIST_F32, QT_DIST_SUM));
    float inv = 1.0f / (float)be->world;
    for (size_t i = 0; i < n; i++) x[i] *= inv;
    return QT_OK;
}

/* Gather `bytes` from every rank into c->buf (rank r at r·bytes); this rank's data must already
 * be at c->buf + world·bytes (the send area). */
static qt_status_t gather_bytes(qt_compressor_t *c, qt_backend_t *be, size_t bytes)
{
    int w = world_of(be);
    unsigned char *b = c->buf;
    c->sent += (double)bytes;
    if (w <= 1) {
        memcpy(b, b + bytes, bytes);
        return QT_OK;
    }
    return qt_dist_allgather_raw(be, b + (size_t)w * bytes, b, bytes, QT_DIST_U8);
}

/* k distinct indices of 0..n-1 from Philox(seed, stream): partial Fisher–Yates. */
static qt_status_t random_indices(size_t n, size_t k, uint64_t seed, uint64_t stream, uint32_t *idx)
{
    uint32_t *a = malloc(n * sizeof *a);
    if (!a) return qt_fail(QT_ERR_NOMEM, "randomk scratch");
    for (size_t i = 0; i < n; i++) a[i] = (uint32_t)i;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)(qt_rng_uniform_f64(seed, stream, i) * (double)(n - i));
        if (j >= n) j = n - 1;
        uint32_t t = a[i]; a[i] = a[j]; a[j] = t;
    }
    memcpy(idx, a, k * sizeof *idx);
    free(a);
    qsort(idx, k, sizeof *idx, cmp_u32);
    return QT_OK;
}

/* The density of this step: the target, or DGC's warm-up schedule (dist.h). */
static double density(const qt_compressor_t *c)
{
    int W = c->cfg.warmup_steps;
    if (W <= 0 || c->step >= W) return c->cfg.ratio;
    double d = pow(0.25, 1.0 + floor(4.0 * (double)c->step / W));
    return d > c->cfg.ratio ? d : c->cfg.ratio;
}

/* ⌈d·n⌉ clamped to 1..n. */
static size_t count_of(double d, size_t n)
{
    size_t k = (size_t)ceil(d * (double)n);
    return k < 1 ? 1 : k > n ? n : k;
}

/* The top-k indices: over all entries, or per piece (layerwise); returns k. */
static qt_status_t select_topk(qt_compressor_t *c, double d, uint32_t *idx, size_t *k)
{
    if (!c->cfg.layerwise) {
        *k = count_of(d, c->n);
        return qt_compress_topk_select(c->v, c->n, *k, idx);
    }
    size_t got = 0;
    for (int t = 0; t < c->n_t; t++) {
        size_t nt = c->off[t + 1] - c->off[t], kt = count_of(d, nt);
        QT_TRY(qt_compress_topk_select(c->v + c->off[t], nt, kt, idx + got));
        for (size_t j = 0; j < kt; j++) idx[got + j] += (uint32_t)c->off[t];
        got += kt;
    }
    *k = got;
    return QT_OK;
}

/* topk / randomk with error feedback (and momentum correction for topk). */
static qt_status_t exchange_sparse(qt_compressor_t *c, qt_backend_t *be, float *g)
{
    size_t n = c->n, k = count_of(density(c), n);
    if (c->cfg.kind == QT_COMPRESS_TOPK && c->cfg.layerwise) { /* Σ_t ⌈d·n_t⌉ */
        k = 0;
        for (int t = 0; t < c->n_t; t++) k += count_of(density(c), c->off[t + 1] - c->off[t]);
    }
    float m = (float)c->cfg.momentum;
    for (size_t i = 0; i < n; i++) {
        c->u[i] = m * c->u[i] + g[i];
        c->v[i] += c->u[i];
    }
    int w = world_of(be);
    int topk = c->cfg.kind == QT_COMPRESS_TOPK;
    /* (index, value) — the index in 2 bytes when n ≤ 65536 — or the value only */
    size_t iw = n <= 65536 ? 2 : 4, pair = topk ? iw + 4 : 4;
    size_t idx_off = ((size_t)(w + 1) * k * pair + 7) & ~(size_t)7; /* 6-byte pairs: align the indices */
    QT_TRY(scratch(c, idx_off + k * sizeof(uint32_t)));
    uint32_t *idx = (uint32_t *)((unsigned char *)c->buf + idx_off);
    if (topk) QT_TRY(select_topk(c, density(c), idx, &k));
    else QT_TRY(random_indices(n, k, c->cfg.seed, 0x524bu + (uint64_t)c->step, idx));
    memset(g, 0, n * sizeof *g);
    if (topk) { /* a rank's message: k indices, then k values */
        unsigned char *mine = (unsigned char *)c->buf + (size_t)w * k * pair;
        for (size_t j = 0; j < k; j++) {
            uint16_t i16 = (uint16_t)idx[j];
            memcpy(mine + j * iw, iw == 2 ? (const void *)&i16 : (const void *)&idx[j], iw);
            memcpy(mine + k * iw + j * 4, &c->v[idx[j]], 4);
        }
        QT_TRY(gather_bytes(c, be, k * pair));
        for (int r = 0; r < w; r++) {
            const unsigned char *msg = (const unsigned char *)c->buf + (size_t)r * k * pair;
            for (size_t j = 0; j < k; j++) {
                uint32_t i = 0;
                uint16_t i16 = 0;
                float val;
                if (iw == 2) { memcpy(&i16, msg + j * 2, 2); i = i16; }
                else memcpy(&i, msg + j * 4, 4);
                memcpy(&val, msg + k * iw + j * 4, 4);
                g[i] += val;
            }
        }
        for (size_t i = 0; i < n; i++) g[i] /= (float)w;
    } else {
        float *vals = c->buf;
        for (size_t j = 0; j < k; j++) vals[j] = c->v[idx[j]];
        QT_TRY(mean_f32(c, be, vals, k));
        for (size_t j = 0; j < k; j++) g[idx[j]] = vals[j];
    }
    for (size_t j = 0; j < k; j++) c->u[idx[j]] = c->v[idx[j]] = 0;
    return QT_OK;
}

/* qsgd / int8: all-gather of the int8 codes and the scale of every rank, decoded in rank order. */
static qt_status_t exchange_quant(qt_compressor_t *c, qt_backend_t *be, float *g)
{
    size_t n = c->n, bytes = n + 4;
    int w = world_of(be);
    QT_TRY(scratch(c, (size_t)(w + 1) * bytes));
    unsigned char *mine = (unsigned char *)c->buf + (size_t)w * bytes;
    float scale;
    int levels = c->cfg.kind == QT_COMPRESS_QSGD ? c->cfg.levels : 0;
    QT_TRY(qt_compress_quantize(g, n, levels, c->cfg.seed, (uint64_t)c->step * (uint64_t)w + (uint64_t)(be ? be->rank : 0),
                                (int8_t *)(mine + 4), &scale));
    memcpy(mine, &scale, 4);
    QT_TRY(gather_bytes(c, be, bytes));
    memset(g, 0, n * sizeof *g);
    for (int r = 0; r < w; r++) {
        const unsigned char *p = (const unsigned char *)c->buf + (size_t)r * bytes;
        float sc;
        memcpy(&sc, p, 4);
        const int8_t *q = (const int8_t *)(p + 4);
        for (size_t i = 0; i < n; i++) g[i] += sc * (float)q[i];
    }
    for (size_t i = 0; i < n; i++) g[i] /= (float)w;
    return QT_OK;
}

/* Modified Gram–Schmidt on the r columns of P (rows × r, row-major), each projection pass done
 * twice ("twice is enough", Giraud et al. 2005): in float a single pass loses orthogonality in
 * proportion to P's condition number, and PowerSGD's P = MQ from a random Q can be badly
 * conditioned (full-rank reconstruction then missed 1e-4 now and then). */
static void orthonormalize(float *P, int rows, int r)
{
    for (int j = 0; j < r; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < j; i++) {
                double d = 0;
                for (int a = 0; a < rows; a++) d += (double)P[a * r + i] * P[a * r + j];
                for (int a = 0; a < rows; a++) P[a * r + j] -= (float)d * P[a * r + i];
            }
        double nn = 0;
        for (int a = 0; a < rows; a++) nn += (double)P[a * r + j] * P[a * r + j];
        float inv = (float)(1.0 / (sqrt(nn) + 1e-12));
        for (int a = 0; a < rows; a++) P[a * r + j] *= inv;
    }
}

/* PowerSGD per matrix; vectors dense. */
static qt_status_t exchange_powersgd(qt_compressor_t *c, qt_backend_t *be, float *g)
{
    for (int t = 0; t < c->n_t; t++) {
        float *G = g + c->off[t], *E = c->v + c->off[t];
        int R = c->rows[t], C = c->cols[t];
        size_t n = (size_t)R * (size_t)C;
        if (!c->Q[t]) {
            QT_TRY(mean_f32(c, be, G, n));
            continue;
        }
        int r = c->cfg.rank < R ? c->cfg.rank : R;
        if (r > C) r = C;
        QT_TRY(scratch(c, sizeof(float) * (size_t)R * (size_t)r));
        float *P = c->buf, *Q = c->Q[t];
        for (size_t i = 0; i < n; i++) G[i] += E[i]; /* M = G + E, kept in G */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, r, C, 1.0f, G, C, Q, r, 0.0f, P, r);
        QT_TRY(mean_f32(c, be, P, (size_t)R * (size_t)r));
        orthonormalize(P, R, r);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, r, R, 1.0f, G, C, P, r, 0.0f, Q, r);
        QT_TRY(mean_f32(c, be, Q, (size_t)C * (size_t)r));
        /* M̂ = P Qᵀ from the rank-identical P and Q (bitwise equal on every rank); E = M − M̂. */
        float *Mhat = c->u + c->off[t];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, C, r, 1.0f, P, r, Q, r, 0.0f, Mhat, C);
        for (size_t i = 0; i < n; i++) {
            E[i] = G[i] - Mhat[i];
            G[i] = Mhat[i];
        }
    }
    return QT_OK;
}

qt_status_t qt_compress_exchange(qt_compressor_t *c, qt_backend_t *be, float *grad)
{
    QT_CHECK_ARG(c && grad, "compress_exchange: NULL argument");
    if (be && !qt_dist_ops_of(be)) return QT_ERR_UNSUPPORTED;
    qt_status_t s;
    switch (c->cfg.kind) {
    case QT_COMPRESS_TOPK:
    case QT_COMPRESS_RANDOMK: s = exchange_sparse(c, be, grad); break;
    case QT_COMPRESS_QSGD:
    case QT_COMPRESS_INT8: s = exchange_quant(c, be, grad); break;
    case QT_COMPRESS_POWERSGD: s = exchange_powersgd(c, be, grad); break;
    default: s = mean_f32(c, be, grad, c->n); break;
    }
    c->logical += 4.0 * (double)c->n;
    c->step++;
    return s;
}
