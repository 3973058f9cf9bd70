/* cpu.c — the "cpu" attention backend: dispatch, dense and (dilated) sliding-window
 * attention. Algorithm: FlashAttention-style tiling with online softmax
 * (cpu_tile.h): a tile of QT_ATTN_BR queries streams the key blocks its pattern can
 * reach ([t0 - w_left, t1 - 1 + w_right]; all keys for dense, up to the diagonal when
 * causal), masking only the blocks that straddle a window edge, the diagonal or a
 * padded key. Memory is O(threads · (D + BC) · BR) floats beyond the tensors
 * (plus B·H·T·D for the normalised keys when shared_qk): O(T·D), never O(T²).
 * A dilated window splits into `dilation` independent contiguous windows, one per
 * residue class of positions mod dilation (strided row views; no copies).
 * Parallelism: OpenMP over (b·h, residue class, query tile), dynamic schedule, heavy
 * (late, causal) tiles first. LSH and dynamic live in cpu_lsh.c.
 * Run: make test; the attention_scaling suite times it. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "cpu_tile.h"
#include "quintet/counters.h"

#define BR QT_ATTN_BR
#define BC QT_ATTN_BC

/* Window geometry of one call in subsequence coordinates. */
typedef struct {
    int64_t dil, wl, wr;
} window_geom_t;

/* Dense is a window that covers everything. */
static window_geom_t window_geom(const qt_attn_config_t *cfg, int dense, int64_t T)
{
    window_geom_t g;
    g.dil = dense ? 1 : cfg->dilation;
    g.wl = dense ? T : cfg->w_left;
    g.wr = dense ? (cfg->causal ? 0 : T) : qt_attn_wright(cfg);
    return g;
}

/* Length of residue class rho's subsequence. */
static int64_t sub_len(int64_t T, int64_t dil, int64_t rho) { return (T - rho + dil - 1) / dil; }

/* One query tile of a window/dense problem (see cpu_tile.h). */
int64_t qt_attn_cpu_window_tile(const qt_attn_cpu_call_t *c, int dense, int64_t bh, int64_t rho, int64_t t0, int nq,
                                qt_attn_tile_t *tile)
{
    int64_t T = c->d.T, D = c->d.D;
    window_geom_t g = window_geom(c->cfg, dense, T);
    int64_t ld = g.dil * D, n = sub_len(T, g.dil, rho), t1 = t0 + nq;
    const float *qh = c->q + bh * T * D + rho * D, *kh = c->k + bh * T * D + rho * D, *vh = c->v + bh * T * D + rho * D;
    const float *mrow = c->mask ? c->mask + (bh / c->d.H) * T + rho : NULL;
    qt_attn_tile_load_q(tile, qh + t0 * ld, ld, NULL, nq);
    qt_attn_tile_reset(tile);
    int64_t lo = t0 - g.wl > 0 ? t0 - g.wl : 0, hi = t1 + g.wr < n ? t1 + g.wr : n, pairs = 0;
    for (int64_t kt = lo; kt < hi; kt += BC) {
        int nk = (int)(hi - kt < BC ? hi - kt : BC);
        qt_attn_tile_scores(tile, kh + kt * ld, ld, nk);
        pairs += (int64_t)nk * BR;
        if (!(kt >= t1 - 1 - g.wl && kt + nk - 1 <= t0 + g.wr)) {
            /* block straddles an edge: key tj is visible to queries tj - wr .. tj + wl */
            for (int j = 0; j < nk; j++) {
                int64_t tj = kt + j, a_lo = tj - g.wr - t0, a_hi = tj + g.wl - t0;
                float *row = tile->st + (int64_t)j * BR;
                for (int64_t a = 0; a < BR && a < a_lo; a++) row[a] = -INFINITY;
                for (int64_t a = a_hi + 1 > 0 ? a_hi + 1 : 0; a < BR; a++) row[a] = -INFINITY;
            }
        }
        if (mrow)
            for (int j = 0; j < nk; j++)
                if (mrow[(kt + j) * g.dil] == 0.0f)
                    for (int a = 0; a < BR; a++) tile->st[(int64_t)j * BR + a] = -INFINITY;
        qt_attn_tile_update(tile, vh + kt * ld, ld, nk, NULL);
    }
    return pairs;
}

/* Tile grid of one head's window or dense problem. */
qt_status_t qt_attn_cpu_grid_init(qt_attn_cpu_grid_t *g, const qt_attn_cpu_call_t *c, int dense)
{
    int64_t T = c->d.T;
    g->T = T;
    g->dil = window_geom(c->cfg, dense, T).dil;
    g->nres = g->dil < T ? g->dil : T;
    g->off = qt_alloc((size_t)(g->nres + 1) * sizeof(int64_t));
    if (!g->off) return qt_fail(QT_ERR_NOMEM, "attention tile index");
    g->off[0] = 0;
    for (int64_t r = 0; r < g->nres; r++) g->off[r + 1] = g->off[r] + (sub_len(T, g->dil, r) + BR - 1) / BR;
    g->n_tiles = g->off[g->nres];
    return QT_OK;
}

/* Release a grid. */
void qt_attn_cpu_grid_free(qt_attn_cpu_grid_t *g)
{
    qt_free(g->off);
    g->off = NULL;
}

/* Residue class, first subsequence position and size of tile it. */
void qt_attn_cpu_grid_tile(const qt_attn_cpu_grid_t *g, int64_t it, int64_t *rho, int64_t *t0, int *nq)
{
    int64_t lo = 0, hi = g->nres; /* off[lo] <= it < off[lo+1] */
    while (hi - lo > 1) {
        int64_t mid = (lo + hi) / 2;
        if (g->off[mid] <= it) lo = mid; else hi = mid;
    }
    int64_t n = sub_len(g->T, g->dil, lo);
    *rho = lo;
    *t0 = (it - g->off[lo]) * BR;
    *nq = (int)(n - *t0 < BR ? n - *t0 : BR);
}

/* Dense and window: parallel over (b·h, residue class, query tile). */
static qt_status_t cpu_window(const qt_attn_cpu_call_t *c, int dense, long long *pairs_out)
{
    int64_t T = c->d.T, D = c->d.D, BH = c->d.B * c->d.H;
    qt_attn_cpu_grid_t g;
    QT_TRY(qt_attn_cpu_grid_init(&g, c, dense));
    int64_t items = BH * g.n_tiles;
    long long pairs = 0;
    int failed = 0;
    size_t nf = qt_attn_tile_floats(D);
#pragma omp parallel reduction(+ : pairs) num_threads(c->threads)
    {
        float *scratch = qt_alloc(nf * sizeof(float));
        if (!scratch) {
#pragma omp atomic write
            failed = 1;
        }
        qt_attn_tile_t tile;
        if (scratch) qt_attn_tile_init(&tile, D, scratch);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            if (!scratch) continue;
            int64_t bh = it / g.n_tiles, rho, t0;
            int nq;
            qt_attn_cpu_grid_tile(&g, g.n_tiles - 1 - it % g.n_tiles, &rho, &t0, &nq); /* heavy tiles first */
            pairs += qt_attn_cpu_window_tile(c, dense, bh, rho, t0, nq, &tile);
            qt_attn_tile_store(&tile, c->o + bh * T * D + (rho + t0 * g.dil) * D, g.dil * D, NULL, NULL);
        }
        qt_free(scratch);
    }
    qt_attn_cpu_grid_free(&g);
    *pairs_out += pairs;
    return failed ? qt_fail(QT_ERR_NOMEM, "attention tile scratch") : QT_OK;
}

/* The cpu backend's forward (arguments validated by qt_attn_forward): normalise keys if shared,
 * run the variant, count. */
static qt_status_t cpu_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                               const qt_tensor_t *v, const qt_tensor_t *mask, qt_tensor_t *out)
{
    qt_attn_cpu_call_t c = {.cfg = cfg, .q = q->data, .v = v->data, .o = out->data, .threads = be->threads};
    qt_attn_dims_of(q, &c.d);
    int64_t T = c.d.T, D = c.d.D, BH = c.d.B * c.d.H;
    c.mask = mask ? mask->data : NULL;
    float *kn = NULL;
    if (cfg->shared_qk) {
        kn = qt_alloc((size_t)(BH * T * D) * sizeof(float));
        if (!kn) return qt_fail(QT_ERR_NOMEM, "normalised keys (%lld floats)", (long long)(BH * T * D));
#pragma omp parallel for schedule(static) num_threads(c.threads)
        for (int64_t bh = 0; bh < BH; bh++) qt_attn_normalize_rows(c.q + bh * T * D, kn + bh * T * D, T, D);
        c.k = kn;
    } else {
        c.k = k->data;
    }
    long long flops = 0, pairs = 0;
    qt_status_t s;
    switch (cfg->variant) {
    case QT_ATTN_DENSE: s = cpu_window(&c, 1, &pairs); break;
    case QT_ATTN_WINDOW: s = cpu_window(&c, 0, &pairs); break;
    case QT_ATTN_LSH: s = qt_attn_cpu_lsh(&c, &flops, &pairs); break;
    case QT_ATTN_DYNAMIC: s = qt_attn_cpu_dynamic(&c, &flops, &pairs); break;
    default: s = qt_fail(QT_ERR_ARG, "unknown attention variant %d", (int)cfg->variant);
    }
    qt_free(kn);
    int64_t n = BH * T * D;
    qt_counter_add(QT_CTR_FLOPS, flops + 4LL * D * pairs);
    qt_counter_add(QT_CTR_ATTN_PAIRS, pairs);
    qt_counter_add(QT_CTR_BYTES_READ, (cfg->shared_qk ? 2 : 3) * n * (int64_t)sizeof(float));
    qt_counter_add(QT_CTR_BYTES_WRITTEN, n * (int64_t)sizeof(float));
    return s;
}

/* Every variant is implemented, in f32. */
static int cpu_supports(const qt_backend_t *be, const qt_attn_config_t *cfg, qt_dtype_t dt)
{
    (void)be;
    return cfg && (unsigned)cfg->variant < QT_ATTN_VARIANT_COUNT && dt == QT_F32;
}

/* The ops table the cpu backend lists (impl/backends/host/host.c): tiled online-softmax
 * attention, OpenMP over heads and query tiles, SIMD micro-kernels. */
const qt_attn_ops_t qt_attn_ops_cpu = {
    .supports = cpu_supports,
    .forward = cpu_forward,
    .lsh_buckets = qt_attn_cpu_lsh_buckets,
};
