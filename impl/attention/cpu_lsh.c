/* cpu_lsh.c — the cpu backend's LSH (Reformer) and dynamic attention, built on the
 * flash tile of cpu_tile.h and the LSH plan's sort (internal.h), with its own vectorised
 * hasher that follows attention.h's exact f32 rule, so its buckets equal the oracle's. Parallel over b·h (whole heads per thread,
 * dynamic schedule) when there are at least as many heads as threads, otherwise over
 * the query tiles of one head at a time (hashing of that head stays serial). Memory
 * O(T·D) per head in flight (its accumulators) plus O(BR·(D + BC)) per thread.
 *
 * LSH, per round r: query chunk c (positions sq[r][c·L ..]) is one or more query
 * tiles; its keys are the sorted key ranks of chunks c-1 and c, gathered into
 * contiguous blocks. Invalid pairs (causal, padding, self when shared_qk) get score
 * -inf; valid pairs get weight 1/count(i,j) (the duplicate-count correction, applied
 * to the probabilities: the same as subtracting log count from the score). Each
 * round's normalised output and log-sum-exp are merged into the head's accumulator
 * with log-sum-exp weights. The self rule is applied after the rounds, which is
 * equivalent by associativity: if query i found no other valid key in n_self > 0
 * rounds, those rounds each contribute (v_i, s_ii - log n_self), i.e. one term
 * (v_i, s_ii).
 *
 * DYNAMIC: the window pass leaves each query's unnormalised state (m, l, O); then for
 * every round and bucket the bucket's queries (tiles) meet the bucket's keys (blocks),
 * skipping pairs inside the window or already matched in an earlier round, so each
 * key of window ∪ buckets counts once; finally O/l.
 * Run: make test (tests/attention), quintet run attention_scaling. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512") /* the mask loops over query lanes: full-width vectors */
#endif

#include <math.h>
#include <omp.h>
#include <string.h>

#include "cpu_tile.h"

#define BR QT_ATTN_BR
#define BC QT_ATTN_BC

/* State of the head being processed: its plan and per-position accumulators, shared
 * by the threads that work on its tiles. */
typedef struct {
    qt_attn_lsh_plan_t plan;
    float *acc_o, *acc_l, *acc_m; /* T × D, T, T: output / lse or sum / running max */
    int *nself;                   /* T: LSH rounds in which a query found no other valid key */
    int64_t *tiles;               /* n_buckets + 1: DYNAMIC first tile of each bucket (one round) */
    qt_attn_cpu_grid_t grid;      /* DYNAMIC window tiles */
    int64_t bh;
    const float *qh, *kh, *vh, *mrow;
} head_t;

/* One thread's scratch. */
typedef struct {
    float *scratch;           /* tile */
    float *kg, *vg;           /* BC × D gathered keys and values */
    float *w;                 /* BC × BR duplicate-count weights */
    float *otmp, *lse;        /* BR × D, BR: one tile's round output */
    int *qpos, *kpos;         /* BR, BC positions */
    int *qmeta;               /* QT_ATTN_MAX_HASHES × BR: chunk or bucket ids of the tile's queries */
    qt_attn_tile_t tile;
} scratch_t;

/* Release a head state (safe on a zeroed one). */
static void head_free(head_t *h)
{
    qt_attn_lsh_plan_free(&h->plan);
    qt_attn_cpu_grid_free(&h->grid);
    qt_free(h->acc_o); qt_free(h->acc_l); qt_free(h->acc_m); qt_free(h->nself); qt_free(h->tiles);
    memset(h, 0, sizeof *h);
}

/* Allocate a head state. */
static qt_status_t head_init(head_t *h, const qt_attn_cpu_call_t *c)
{
    memset(h, 0, sizeof *h);
    int64_t T = c->d.T, D = c->d.D;
    qt_status_t s = qt_attn_lsh_plan_init(&h->plan, c->cfg, T, D);
    if (s == QT_OK && c->cfg->variant == QT_ATTN_DYNAMIC) s = qt_attn_cpu_grid_init(&h->grid, c, 0, QT_ATTN_BR);
    if (s != QT_OK) { head_free(h); return s; }
    h->acc_o = qt_alloc((size_t)(T * D) * sizeof(float));
    h->acc_l = qt_alloc((size_t)T * sizeof(float));
    h->acc_m = qt_alloc((size_t)T * sizeof(float));
    h->nself = qt_alloc((size_t)T * sizeof(int));
    h->tiles = qt_alloc((size_t)(c->cfg->n_buckets + 1) * sizeof(int64_t));
    if (!h->acc_o || !h->acc_l || !h->acc_m || !h->nself || !h->tiles) {
        head_free(h);
        return qt_fail(QT_ERR_NOMEM, "attention head buffers (T=%lld, D=%lld)", (long long)T, (long long)D);
    }
    return QT_OK;
}

/* Release a thread's scratch. */
static void scratch_free(scratch_t *b)
{
    void *all[] = {b->scratch, b->kg, b->vg, b->w, b->otmp, b->lse, b->qpos, b->kpos, b->qmeta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) qt_free(all[i]);
    memset(b, 0, sizeof *b);
}

/* Allocate a thread's scratch. */
static qt_status_t scratch_init(scratch_t *b, const qt_attn_cpu_call_t *c)
{
    memset(b, 0, sizeof *b);
    int64_t D = c->d.D;
    size_t f = sizeof(float);
    b->scratch = qt_alloc(qt_attn_tile_floats(D) * f);
    b->kg = qt_alloc((size_t)(BC * D) * f);
    b->vg = qt_alloc((size_t)(BC * D) * f);
    b->w = qt_alloc((size_t)(BC * BR) * f);
    b->otmp = qt_alloc((size_t)(BR * D) * f);
    b->lse = qt_alloc((size_t)BR * f);
    b->qpos = qt_alloc((size_t)BR * sizeof(int));
    b->kpos = qt_alloc((size_t)BC * sizeof(int));
    b->qmeta = qt_alloc((size_t)(QT_ATTN_MAX_HASHES * BR) * sizeof(int));
    if (!b->scratch || !b->kg || !b->vg || !b->w || !b->otmp || !b->lse || !b->qpos || !b->kpos || !b->qmeta) {
        scratch_free(b);
        return qt_fail(QT_ERR_NOMEM, "attention tile scratch (D=%lld)", (long long)D);
    }
    qt_attn_tile_init(&b->tile, D, b->scratch);
    return QT_OK;
}

/* Gather nk rows (positions kpos) of the head's K and V into kg, vg. */
static void gather_kv(scratch_t *b, const head_t *h, int nk, int64_t D)
{
    for (int j = 0; j < nk; j++) {
        memcpy(b->kg + j * D, h->kh + (int64_t)b->kpos[j] * D, (size_t)D * sizeof(float));
        memcpy(b->vg + j * D, h->vh + (int64_t)b->kpos[j] * D, (size_t)D * sizeof(float));
    }
}

/* Merge a normalised output row o with log-sum-exp lse into position p's accumulator. */
static void lse_merge(head_t *h, int64_t p, const float *o, float lse, int64_t D)
{
    float old = h->acc_l[p];
    float big = old > lse ? old : lse;
    float wo = old == -INFINITY ? 0.0f : expf(old - big), wn = expf(lse - big);
    float z = wo + wn, s_old = wo / z, s_new = wn / z;
    float *acc = h->acc_o + p * D;
    for (int64_t d = 0; d < D; d++) acc[d] = acc[d] * s_old + o[d] * s_new;
    h->acc_l[p] = big + logf(z);
}

/* Mask and weight one LSH block: rows j < nk of St, lanes a < BR (lanes >= nq are
 * padding). Simple loops over the lanes so that each one vectorises. */
static void lsh_mask_block(scratch_t *b, const head_t *h, const qt_attn_config_t *cfg, int nk)
{
    const qt_attn_lsh_plan_t *p = &h->plan;
    int R = p->n_hashes;
    const int *qpos = b->qpos;
    for (int j = 0; j < nk; j++) {
        int jj = b->kpos[j];
        float *row = b->tile.st + (int64_t)j * BR, *wrow = b->w + (int64_t)j * BR;
        float cnt[BR]; /* rounds in which key jj is in lane a's chunk window (>= 1 for real lanes) */
        for (int a = 0; a < BR; a++) cnt[a] = 0.0f;
        for (int r = 0; r < R; r++) {
            int kc = p->ck[(int64_t)r * p->T + jj];
            const int *qc = b->qmeta + r * BR;
            for (int a = 0; a < BR; a++) cnt[a] += (unsigned)(qc[a] - kc) <= 1u ? 1.0f : 0.0f;
        }
        for (int a = 0; a < BR; a++) wrow[a] = 1.0f / (cnt[a] > 1.0f ? cnt[a] : 1.0f);
        if (h->mrow && h->mrow[jj] == 0.0f)
            for (int a = 0; a < BR; a++) row[a] = -INFINITY;
        if (cfg->causal)
            for (int a = 0; a < BR; a++) row[a] = qpos[a] >= jj ? row[a] : -INFINITY;
        if (cfg->shared_qk)
            for (int a = 0; a < BR; a++) row[a] = qpos[a] != jj ? row[a] : -INFINITY;
    }
}

/* Tiles of one LSH round: chunk c owns tiles c·per_chunk .. (c+1)·per_chunk - 1. */
static int64_t lsh_tiles_per_chunk(const head_t *h)
{
    int64_t L = h->plan.chunk < h->plan.T ? h->plan.chunk : h->plan.T;
    return (L + BR - 1) / BR;
}

/* LSH, round r, tile it: queries of one chunk against keys of that chunk and the one
 * before; the round's output row and lse merge into the head's accumulators. */
static int64_t lsh_tile(head_t *h, scratch_t *b, const qt_attn_cpu_call_t *c, int64_t r, int64_t it)
{
    const qt_attn_lsh_plan_t *p = &h->plan;
    int64_t T = c->d.T, D = c->d.D, L = p->chunk, per = lsh_tiles_per_chunk(h), pairs = 0;
    int64_t c0 = it / per * L, a0 = c0 + it % per * BR, qhi = c0 + L < T ? c0 + L : T, klo = c0 - L > 0 ? c0 - L : 0;
    if (a0 >= qhi) return 0;
    const int *sq = p->sq + r * T, *sk = p->sk + r * T;
    qt_attn_tile_t *tile = &b->tile;
    int nq = (int)(qhi - a0 < BR ? qhi - a0 : BR);
    for (int a = 0; a < BR; a++) b->qpos[a] = a < nq ? sq[a0 + a] : sq[a0];
    for (int rr = 0; rr < p->n_hashes; rr++)
        for (int a = 0; a < BR; a++) b->qmeta[rr * BR + a] = p->cq[(int64_t)rr * T + b->qpos[a]];
    qt_attn_tile_load_q(tile, h->qh, D, b->qpos, nq);
    qt_attn_tile_reset(tile);
    for (int64_t k0 = klo; k0 < qhi; k0 += BC) {
        int nk = (int)(qhi - k0 < BC ? qhi - k0 : BC);
        memcpy(b->kpos, sk + k0, (size_t)nk * sizeof(int));
        gather_kv(b, h, nk, D);
        qt_attn_tile_scores(tile, b->kg, D, nk);
        lsh_mask_block(b, h, c->cfg, nk);
        qt_attn_tile_update(tile, b->vg, D, nk, b->w);
        pairs += (int64_t)nk * BR;
    }
    qt_attn_tile_store(tile, b->otmp, D, NULL, b->lse);
    for (int a = 0; a < nq; a++) {
        int ii = b->qpos[a];
        if (b->lse[a] == -INFINITY) h->nself[ii]++; /* nothing valid this round */
        else lse_merge(h, ii, b->otmp + (int64_t)a * D, b->lse[a], D);
    }
    return pairs;
}

/* LSH, final rows BR·it ..: the self rule, then the output (zeros for empty rows). */
static int64_t lsh_finish(head_t *h, scratch_t *b, const qt_attn_cpu_call_t *c, int64_t phase, int64_t it)
{
    (void)b; (void)phase;
    int64_t T = c->d.T, D = c->d.D;
    float *o = c->o + h->bh * T * D;
    float inv_sqrt_d = (float)(1.0 / sqrt((double)D));
    for (int64_t i = it * BR; i < T && i < (it + 1) * BR; i++) {
        if (c->cfg->shared_qk && h->nself[i] > 0 && (!h->mrow || h->mrow[i] != 0.0f)) {
            float s = 0; /* self score q_i·k_i/√D, k_i = q_i/|q_i| */
            for (int64_t d = 0; d < D; d++) s += h->qh[i * D + d] * h->kh[i * D + d];
            lse_merge(h, i, h->vh + i * D, s * inv_sqrt_d, D);
        }
        if (h->acc_l[i] == -INFINITY) memset(o + i * D, 0, (size_t)D * sizeof(float));
        else memcpy(o + i * D, h->acc_o + i * D, (size_t)D * sizeof(float));
    }
    return 0;
}

/* Mask one DYNAMIC block of round r: drop invalid pairs, window pairs, and pairs that
 * already met in an earlier round (qmeta holds the tile's query buckets per round).
 * Returns 1 when any pair is left. */
static int dyn_mask_block(scratch_t *b, const head_t *h, const qt_attn_config_t *cfg, int r, int nk)
{
    const qt_attn_lsh_plan_t *p = &h->plan;
    int wl = cfg->w_left * cfg->dilation, wr = (int)qt_attn_wright(cfg) * cfg->dilation;
    int dil = cfg->dilation, causal = cfg->causal, any = 0;
    const int *qpos = b->qpos;
    for (int j = 0; j < nk; j++) {
        int jj = b->kpos[j];
        float *row = b->tile.st + (int64_t)j * BR;
        int ok[BR];
        if (h->mrow && h->mrow[jj] == 0.0f) {
            for (int a = 0; a < BR; a++) row[a] = -INFINITY;
            continue;
        }
        /* window membership (as qt_attn_in_window), causality */
        for (int a = 0; a < BR; a++) {
            int diff = jj - qpos[a];
            ok[a] = (diff < -wl || diff > wr) & (!causal | (diff <= 0));
        }
        if (dil > 1)
            for (int a = 0; a < BR; a++) {
                int diff = jj - qpos[a];
                ok[a] |= (diff >= -wl && diff <= wr && diff % dil != 0) & (!causal | (diff <= 0));
            }
        for (int rr = 0; rr < r; rr++) {
            int kb = p->bk[(int64_t)rr * p->T + jj];
            const int *qb = b->qmeta + rr * BR;
            for (int a = 0; a < BR; a++) ok[a] &= qb[a] != kb;
        }
        for (int a = 0; a < BR; a++) {
            row[a] = ok[a] ? row[a] : -INFINITY;
            any |= ok[a];
        }
    }
    return any;
}

/* DYNAMIC window pass, tile it: the window part of each query's state. */
static int64_t dyn_window(head_t *h, scratch_t *b, const qt_attn_cpu_call_t *c, int64_t phase, int64_t it)
{
    (void)phase;
    int64_t rho, t0;
    int nq;
    qt_attn_cpu_grid_tile(&h->grid, it, &rho, &t0, &nq);
    int64_t pairs = qt_attn_cpu_window_tile(c, 0, h->bh, rho, t0, nq, &b->tile, 1);
    for (int a = 0; a < nq; a++) b->qpos[a] = (int)(rho + (t0 + a) * h->grid.dil);
    qt_attn_tile_state_save(&b->tile, h->acc_m, h->acc_l, h->acc_o, b->qpos);
    return pairs;
}

/* DYNAMIC round r: first tile of every bucket (queries of a bucket with keys form
 * ceil(n/BR) tiles) into h->tiles; returns the number of tiles. */
static int64_t dyn_plan_round(head_t *h, int64_t r)
{
    const qt_attn_lsh_plan_t *p = &h->plan;
    const int *oq = p->oq + r * (p->n_buckets + 1), *ok = p->ok + r * (p->n_buckets + 1);
    h->tiles[0] = 0;
    for (int bk = 0; bk < p->n_buckets; bk++)
        h->tiles[bk + 1] = h->tiles[bk] + (ok[bk + 1] > ok[bk] ? (oq[bk + 1] - oq[bk] + BR - 1) / BR : 0);
    return h->tiles[p->n_buckets];
}

/* DYNAMIC round r, tile it: a bucket's queries meet the bucket's keys. */
static int64_t dyn_tile(head_t *h, scratch_t *b, const qt_attn_cpu_call_t *c, int64_t r, int64_t it)
{
    const qt_attn_lsh_plan_t *p = &h->plan;
    int64_t T = c->d.T, D = c->d.D, pairs = 0;
    int lo = 0, hi = p->n_buckets; /* bucket: tiles[lo] <= it < tiles[lo+1] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (h->tiles[mid] <= it) lo = mid; else hi = mid;
    }
    const int *sq = p->sq + r * T, *sk = p->sk + r * T;
    const int *oq = p->oq + r * (p->n_buckets + 1), *ok = p->ok + r * (p->n_buckets + 1);
    int64_t a0 = oq[lo] + (it - h->tiles[lo]) * BR;
    int nq = (int)(oq[lo + 1] - a0 < BR ? oq[lo + 1] - a0 : BR);
    qt_attn_tile_t *tile = &b->tile;
    for (int a = 0; a < BR; a++) b->qpos[a] = a < nq ? sq[a0 + a] : sq[a0];
    for (int rr = 0; rr < r; rr++)
        for (int a = 0; a < BR; a++) b->qmeta[rr * BR + a] = p->bq[(int64_t)rr * T + b->qpos[a]];
    qt_attn_tile_load_q(tile, h->qh, D, b->qpos, nq);
    qt_attn_tile_state_load(tile, h->acc_m, h->acc_l, h->acc_o, b->qpos);
    for (int64_t k0 = ok[lo]; k0 < ok[lo + 1]; k0 += BC) {
        int nk = (int)(ok[lo + 1] - k0 < BC ? ok[lo + 1] - k0 : BC);
        memcpy(b->kpos, sk + k0, (size_t)nk * sizeof(int));
        gather_kv(b, h, nk, D);
        qt_attn_tile_scores(tile, b->kg, D, nk);
        pairs += (int64_t)nk * BR;
        if (dyn_mask_block(b, h, c->cfg, (int)r, nk)) qt_attn_tile_update(tile, b->vg, D, nk, NULL);
    }
    qt_attn_tile_state_save(tile, h->acc_m, h->acc_l, h->acc_o, b->qpos);
    return pairs;
}

/* DYNAMIC final rows BR·it ..: O / l (zeros for empty rows). */
static int64_t dyn_finish(head_t *h, scratch_t *b, const qt_attn_cpu_call_t *c, int64_t phase, int64_t it)
{
    (void)b; (void)phase;
    int64_t T = c->d.T, D = c->d.D;
    float *o = c->o + h->bh * T * D;
    for (int64_t i = it * BR; i < T && i < (it + 1) * BR; i++) {
        float l = h->acc_l[i], inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int64_t d = 0; d < D; d++) o[i * D + d] = h->acc_o[i * D + d] * inv;
    }
    return 0;
}

typedef int64_t (*item_fn_t)(head_t *, scratch_t *, const qt_attn_cpu_call_t *, int64_t, int64_t);

/* Items 0..n-1 of one phase: shared among the team (team = 1: every thread of the
 * parallel region must call this) or all done by the calling thread. */
static int64_t run_items(int team, item_fn_t fn, head_t *h, scratch_t *b, const qt_attn_cpu_call_t *c, int64_t phase,
                         int64_t n)
{
    int64_t pairs = 0;
    if (team) {
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < n; it++) pairs += fn(h, b, c, phase, it);
    } else {
        for (int64_t it = 0; it < n; it++) pairs += fn(h, b, c, phase, it);
    }
    return pairs;
}

/* The cpu backend's hasher: QT_ATTN_HASH_ROWS rows at a time, transposed into p->proj so
 * the f32 FMA chain over d (attention.h: the same rounding order as the oracle's plain
 * loop) runs across rows in vector lanes; then the first maximum of [p ; -p]. */
static void cpu_hash_rows(const qt_attn_lsh_plan_t *p, const float *x, const float *rotT, int half, int scale,
                          int *bucket)
{
    enum { R = QT_ATTN_HASH_ROWS };
    const int64_t D = p->D;
    float *xt = p->proj; /* xt[d·R + r] = x[(t0 + r)·D + d] */
    for (int64_t t0 = 0; t0 < p->T; t0 += R) {
        int nr = (int)(p->T - t0 < R ? p->T - t0 : R);
        for (int r = 0; r < R; r++)
            for (int64_t d = 0; d < D; d++) xt[d * R + r] = r < nr ? x[(t0 + r) * D + d] : 0.0f;
        float best[R];
        int arg[R];
        for (int r = 0; r < R; r++) { best[r] = -INFINITY; arg[r] = 0; }
        for (int side = 0; side < 2; side++)
            for (int b = 0; b < half; b++) {
                const float *col = rotT + (int64_t)b * D;
                float acc[R];
                for (int r = 0; r < R; r++) acc[r] = 0.0f;
                for (int64_t d = 0; d < D; d++)
                    for (int r = 0; r < R; r++) acc[r] = fmaf(xt[d * R + r], col[d], acc[r]);
                for (int r = 0; r < R; r++) {
                    float val = side ? -acc[r] : acc[r];
                    arg[r] = val > best[r] ? side * half + b : arg[r];
                    best[r] = val > best[r] ? val : best[r];
                }
            }
        for (int r = 0; r < nr; r++) bucket[t0 + r] += scale * arg[r];
    }
}

/* Point the head state at head bh, hash it, reset the accumulators. Returns hashing flops. */
static long long head_begin(head_t *h, const qt_attn_cpu_call_t *c, int64_t bh)
{
    int64_t T = c->d.T, D = c->d.D, off = bh * T * D;
    h->bh = bh;
    h->qh = c->q + off;
    h->kh = c->k + off;
    h->vh = c->v + off;
    h->mrow = c->mask ? c->mask + (bh / c->d.H) * T : NULL;
    for (int64_t t = 0; t < T; t++) { h->acc_l[t] = -INFINITY; h->nself[t] = 0; }
    memset(h->acc_o, 0, (size_t)(T * D) * sizeof(float));
    return qt_attn_lsh_plan_build(&h->plan, c->cfg, bh % c->d.H, h->qh, c->cfg->shared_qk ? NULL : h->kh,
                                  cpu_hash_rows);
}

/* One head, LSH or DYNAMIC, by the team (team = 1) or by this thread alone. */
static int64_t run_head(int team, head_t *h, scratch_t *b, const qt_attn_cpu_call_t *c, int64_t bh, long long *flops)
{
    int64_t pairs = 0, rows = (c->d.T + BR - 1) / BR;
    if (team) {
#pragma omp single
        *flops += head_begin(h, c, bh);
    } else {
        *flops += head_begin(h, c, bh);
    }
    if (c->cfg->variant == QT_ATTN_LSH) {
        int64_t n = (c->d.T + h->plan.chunk - 1) / h->plan.chunk * lsh_tiles_per_chunk(h);
        for (int64_t r = 0; r < h->plan.n_hashes; r++) pairs += run_items(team, lsh_tile, h, b, c, r, n);
        pairs += run_items(team, lsh_finish, h, b, c, 0, rows);
        return pairs;
    }
    pairs += run_items(team, dyn_window, h, b, c, 0, h->grid.n_tiles);
    for (int64_t r = 0; r < h->plan.n_hashes; r++) {
        /* the tile index of round r: one thread writes it once the previous phase is
         * done (barrier), all read it after the single's implicit barrier */
        int64_t n = 0;
        if (team) {
#pragma omp barrier
#pragma omp single
            h->tiles[h->plan.n_buckets] = dyn_plan_round(h, r);
            n = h->tiles[h->plan.n_buckets];
        } else {
            n = dyn_plan_round(h, r);
        }
        pairs += run_items(team, dyn_tile, h, b, c, r, n);
    }
    pairs += run_items(team, dyn_finish, h, b, c, 0, rows);
    return pairs;
}

/* LSH or DYNAMIC over every head: with at least as many heads as threads each thread
 * takes whole heads (its own plan and accumulators); otherwise the threads share one
 * head at a time and split its query tiles. */
static qt_status_t cpu_heads(const qt_attn_cpu_call_t *c, long long *flops_out, long long *pairs_out)
{
    int64_t BH = c->d.B * c->d.H;
    int team = BH < c->threads;
    long long flops = 0, pairs = 0;
    int failed = 0;
    head_t shared;
    if (team) QT_TRY(head_init(&shared, c));
#pragma omp parallel reduction(+ : flops, pairs) num_threads(c->threads)
    {
        scratch_t b;
        head_t own;
        int ok = scratch_init(&b, c) == QT_OK;
        if (ok && !team) {
            ok = head_init(&own, c) == QT_OK;
            if (!ok) scratch_free(&b);
        }
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
        if (team) {
#pragma omp barrier
            /* every thread reads `failed` after the barrier: all take the same path */
            int bad;
#pragma omp atomic read
            bad = failed;
            for (int64_t bh = 0; bh < BH && !bad; bh++) pairs += run_head(1, &shared, &b, c, bh, &flops);
        } else {
#pragma omp for schedule(dynamic, 1)
            for (int64_t bh = 0; bh < BH; bh++)
                if (ok) pairs += run_head(0, &own, &b, c, bh, &flops);
            if (ok) head_free(&own);
        }
        if (ok) scratch_free(&b);
    }
    if (team) head_free(&shared);
    *flops_out += flops;
    *pairs_out += pairs;
    return failed ? qt_fail(QT_ERR_NOMEM, "attention buffers for T=%lld", (long long)c->d.T) : QT_OK;
}

/* LSH driver. */
qt_status_t qt_attn_cpu_lsh(const qt_attn_cpu_call_t *c, long long *flops, long long *pairs)
{
    return cpu_heads(c, flops, pairs);
}

/* DYNAMIC driver. */
qt_status_t qt_attn_cpu_dynamic(const qt_attn_cpu_call_t *c, long long *flops, long long *pairs)
{
    return cpu_heads(c, flops, pairs);
}

/* The buckets this backend's hasher gives (qt_attn_lsh_buckets). */
qt_status_t qt_attn_cpu_lsh_buckets(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                                  qt_tensor_t *buckets)
{
    (void)be;
    return qt_attn_lsh_buckets_host(cfg, x, buckets, cpu_hash_rows);
}
