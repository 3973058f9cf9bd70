/* cpu_window.c — the cpu attention backend's dense and (dilated) sliding-window driver
 * (contract: cpu_tile.h): the query tiles of each head, the key blocks each tile's window
 * reaches, the masks of the blocks that straddle an edge. Compiled twice: on its own, over
 * the tile of cpu_tile.h (WINDOW, and DYNAMIC's window part in cpu_lsh.c), and inside
 * cpu_dense.c with QT_ATTN_NARROW, over the narrow tile (DENSE): every function here is then
 * renamed by cpu_tile.h. Run: make test (tests/attention). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "cpu_tile.h"

#define BR QT_ATTN_BR
#define BC QT_ATTN_BC
/* The AMX kernel (cpu_amx.c) replaces the tile's products in the narrow instance (DENSE) only. */
#ifdef QT_ATTN_NARROW
#define AMX(c) ((c)->amx)
#else
#define AMX(c) ((const qt_attn_amx_t *)NULL)
#define qt_attn_amx_load_q(x, t) ((void)0)
#define qt_attn_amx_thread_begin(x, tiles, ng) 0
#define qt_attn_amx_thread_end(x, tiles, ng) ((void)0)
#define qt_attn_amx_step(x, ts, bh, kts, nks, tp, ktp, nkp) ((void)(tp), (void)(ktp), (void)(nkp))
#endif

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

/* Masks of a scored tile (first query a0) with key block kt (nk keys): a block that straddles an edge
 * (key kt + j is visible to queries kt + j - wr .. kt + j + wl), the padded keys. */
static void mask_block(const window_geom_t *g, const float *mrow, qt_attn_tile_t *tile, int64_t a0, int64_t kt, int nk)
{
    int64_t a1 = a0 + tile->nq;
    if (!(kt >= a1 - 1 - g->wl && kt + nk - 1 <= a0 + g->wr)) qt_attn_tile_mask_band(tile, nk, kt - g->wr - a0, kt + g->wl - a0);
    if (mrow)
        for (int j = 0; j < nk; j++)
            if (mrow[(kt + j) * g->dil] == 0.0f)
                for (int a = 0; a < BR; a++) tile->st[(int64_t)j * BR + a] = -INFINITY;
}

/* Up to ng consecutive query tiles of a window/dense problem (see cpu_tile.h): each key block
 * of the span's reach is scored against every tile whose window reaches it, so that it is
 * read from memory once for the ng tiles. On AMX tiles (qt_attn_amx_step) a tile's softmax and
 * output run one step late, inside the next tile's (or the next block's) score products, so that
 * the vector work runs while the tile unit works. */
int64_t qt_attn_cpu_window_tile(const qt_attn_cpu_call_t *c, int dense, int64_t bh, int64_t rho, int64_t t0, int nq,
                                qt_attn_tile_t *tiles, int ng)
{
    int64_t T = c->d.T, D = c->d.D;
    window_geom_t g = window_geom(c->cfg, dense, T);
    int64_t ld = g.dil * D, n = sub_len(T, g.dil, rho), t1 = t0 + nq;
    const float *qh = c->q + bh * T * D + rho * D, *kh = c->k + bh * T * D + rho * D, *vh = c->v + bh * T * D + rho * D;
    const float *mrow = c->mask ? c->mask + (bh / c->d.H) * T + rho : NULL;
    ng = (int)((nq + BR - 1) / BR) < ng ? (int)((nq + BR - 1) / BR) : ng;
    for (int i = 0; i < ng; i++) {
        int64_t a0 = t0 + (int64_t)i * BR;
        qt_attn_tile_load_q(&tiles[i], qh + a0 * ld, ld, NULL, (int)(t1 - a0 < BR ? t1 - a0 : BR));
        qt_attn_tile_reset(&tiles[i]);
        if (AMX(c)) qt_attn_amx_load_q(AMX(c), &tiles[i]);
    }
    int64_t lo = t0 - g.wl > 0 ? t0 - g.wl : 0, hi = t1 + g.wr < n ? t1 + g.wr : n, pairs = 0;
    qt_attn_tile_t *pt = NULL; /* AMX: scored and masked, its softmax and output not yet run */
    int64_t pkt = 0;
    int pnk = 0;
    for (int64_t kt = lo; kt < hi; kt += BC) {
        int nk = (int)(hi - kt < BC ? hi - kt : BC);
        for (int i = 0; i < ng; i++) {
            qt_attn_tile_t *tile = &tiles[i];
            int64_t a0 = t0 + (int64_t)i * BR, a1 = a0 + tile->nq;
            if (kt + nk - 1 < a0 - g.wl || kt > a1 - 1 + g.wr) continue; /* outside this tile's windows */
            if (AMX(c)) qt_attn_amx_step(AMX(c), tile, bh, kt, nk, pt, pkt, pnk);
            else qt_attn_tile_scores(tile, kh + kt * ld, ld, nk);
            pairs += (int64_t)nk * BR;
            mask_block(&g, mrow, tile, a0, kt, nk);
            if (AMX(c)) pt = tile, pkt = kt, pnk = nk;
            else qt_attn_tile_update(tile, vh + kt * ld, ld, nk, NULL);
        }
    }
    if (pt) qt_attn_amx_step(AMX(c), NULL, bh, 0, 0, pt, pkt, pnk);
    return pairs;
}

/* Tile grid of one head's window or dense problem. */
qt_status_t qt_attn_cpu_grid_init(qt_attn_cpu_grid_t *g, const qt_attn_cpu_call_t *c, int dense, int64_t span)
{
    int64_t T = c->d.T;
    g->T = T;
    g->span = span;
    g->dil = window_geom(c->cfg, dense, T).dil;
    g->nres = g->dil < T ? g->dil : T;
    g->off = qt_alloc((size_t)(g->nres + 1) * sizeof(int64_t));
    if (!g->off) return qt_fail(QT_ERR_NOMEM, "attention tile index");
    g->off[0] = 0;
    for (int64_t r = 0; r < g->nres; r++) g->off[r + 1] = g->off[r] + (sub_len(T, g->dil, r) + span - 1) / span;
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
    *t0 = (it - g->off[lo]) * g->span;
    *nq = (int)(n - *t0 < g->span ? n - *t0 : g->span);
}

/* Query tiles per work item: dense heads whose keys and values (2·T·D floats) pass
 * QT_ATTN_GROUP_BYTES are read once per QT_ATTN_GROUP tiles (fewer when the items would not
 * give every thread four); 1 otherwise (the head stays in L2 between tiles). H200 host's Xeon,
 * B=1 H=4 T=4096, one process, best of 3 (stage tool attn_ab, the branch's second device call):
 * 4 tiles against 1, 1 thread 1.08x (D=64) and 1.18x (D=128), 16 threads 1.16x (D=128); the
 * first call (a slower clock) had 1.42x and 1.11x, and 8 tiles no better than 4. */
#ifndef QT_ATTN_GROUP_BYTES
#define QT_ATTN_GROUP_BYTES (1 << 20)
#endif
static int group_tiles(const qt_attn_cpu_call_t *c, int dense)
{
    int64_t T = c->d.T, BH = c->d.B * c->d.H, tiles = (T + BR - 1) / BR;
    if (!dense || 2 * T * c->d.D * (int64_t)sizeof(float) <= QT_ATTN_GROUP_BYTES) return 1;
    int ng = QT_ATTN_GROUP;
    while (ng > 1 && BH * ((tiles + ng - 1) / ng) < 4 * (int64_t)c->threads) ng /= 2;
    return ng;
}

/* Dense and window: parallel over (b·h, residue class, span of ng query tiles). */
qt_status_t qt_attn_cpu_window(const qt_attn_cpu_call_t *c, int dense, long long *pairs_out)
{
    int64_t T = c->d.T, D = c->d.D, BH = c->d.B * c->d.H;
    int ng = group_tiles(c, dense);
    qt_attn_cpu_grid_t g;
    QT_TRY(qt_attn_cpu_grid_init(&g, c, dense, (int64_t)ng * BR));
    int64_t items = BH * g.n_tiles;
    long long pairs = 0;
    int failed = 0;
    size_t nf = qt_attn_tile_floats(D);
#pragma omp parallel reduction(+ : pairs) num_threads(c->threads)
    {
        float *scratch = qt_alloc(nf * ng * sizeof(float));
        if (!scratch) {
#pragma omp atomic write
            failed = 1;
        }
        qt_attn_tile_t tiles[QT_ATTN_GROUP];
        for (int i = 0; scratch && i < ng; i++) qt_attn_tile_init(&tiles[i], D, scratch + i * nf);
        int amx_ok = !AMX(c) || (scratch && qt_attn_amx_thread_begin(AMX(c), tiles, ng) == 0);
        if (!amx_ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            if (!scratch || !amx_ok) continue;
            int64_t bh = it / g.n_tiles, rho, t0;
            int nq;
            qt_attn_cpu_grid_tile(&g, g.n_tiles - 1 - it % g.n_tiles, &rho, &t0, &nq); /* heavy spans first */
            pairs += qt_attn_cpu_window_tile(c, dense, bh, rho, t0, nq, tiles, ng);
            for (int i = 0; i * BR < nq; i++)
                qt_attn_tile_store(&tiles[i], c->o + bh * T * D + (rho + (t0 + (int64_t)i * BR) * g.dil) * D, g.dil * D,
                                   NULL, NULL);
        }
        if (AMX(c) && scratch && amx_ok) qt_attn_amx_thread_end(AMX(c), tiles, ng);
        qt_free(scratch);
    }
    qt_attn_cpu_grid_free(&g);
    *pairs_out += pairs;
    return failed ? qt_fail(QT_ERR_NOMEM, "attention tile scratch") : QT_OK;
}
