/* cpu_lsh.c — the cpu backend's LSH (Reformer) and dynamic attention, built on the
 * flash tile of cpu_tile.h and the LSH plan shared with the oracle (internal.h), so
 * both backends hash and sort identically. Parallel over b·h (one head per thread at
 * a time, dynamic schedule); per-thread memory O(T·D) (the head's accumulators).
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
 * key of window ∪ buckets counts once; finally O/l. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("prefer-vector-width=512") /* the mask loops over query lanes: full-width vectors */
#endif

#include <math.h>
#include <string.h>

#include "cpu_tile.h"

#define BR QT_ATTN_BR
#define BC QT_ATTN_BC

/* Per-thread buffers of the LSH and dynamic drivers. */
typedef struct {
    qt_attn_lsh_plan_t plan;
    float *scratch;           /* tile */
    float *kg, *vg;           /* BC × D gathered keys and values */
    float *w;                 /* BC × BR duplicate-count weights */
    float *acc_o, *acc_l, *acc_m; /* T × D and T each: per-position accumulators */
    float *otmp, *lse;        /* BR × D, BR: one tile's round output */
    int *qpos, *kpos, *nself; /* BR, BC, T */
    int *qmeta;               /* QT_ATTN_MAX_HASHES × BR: chunk or bucket ids of the tile's queries */
    qt_attn_tile_t tile;
} lsh_bufs_t;

/* Release per-thread buffers. */
static void lsh_bufs_free(lsh_bufs_t *b)
{
    qt_attn_lsh_plan_free(&b->plan);
    void *all[] = {b->scratch, b->kg, b->vg, b->w, b->acc_o, b->acc_l, b->acc_m, b->otmp, b->lse,
                   b->qpos, b->kpos, b->nself, b->qmeta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) qt_free(all[i]);
    memset(b, 0, sizeof *b);
}

/* Allocate per-thread buffers. */
static qt_status_t lsh_bufs_init(lsh_bufs_t *b, const qt_attn_cpu_call_t *c)
{
    memset(b, 0, sizeof *b);
    int64_t T = c->d.T, D = c->d.D;
    QT_TRY(qt_attn_lsh_plan_init(&b->plan, c->cfg, T, D));
    size_t f = sizeof(float);
    b->scratch = qt_alloc(qt_attn_tile_floats(D) * f);
    b->kg = qt_alloc((size_t)(BC * D) * f);
    b->vg = qt_alloc((size_t)(BC * D) * f);
    b->w = qt_alloc((size_t)(BC * BR) * f);
    b->acc_o = qt_alloc((size_t)(T * D) * f);
    b->acc_l = qt_alloc((size_t)T * f);
    b->acc_m = qt_alloc((size_t)T * f);
    b->otmp = qt_alloc((size_t)(BR * D) * f);
    b->lse = qt_alloc((size_t)BR * f);
    b->qpos = qt_alloc((size_t)BR * sizeof(int));
    b->kpos = qt_alloc((size_t)BC * sizeof(int));
    b->nself = qt_alloc((size_t)T * sizeof(int));
    b->qmeta = qt_alloc((size_t)(QT_ATTN_MAX_HASHES * BR) * sizeof(int));
    if (!b->scratch || !b->kg || !b->vg || !b->w || !b->acc_o || !b->acc_l || !b->acc_m || !b->otmp || !b->lse ||
        !b->qpos || !b->kpos || !b->nself || !b->qmeta) {
        lsh_bufs_free(b);
        return qt_fail(QT_ERR_NOMEM, "LSH attention buffers (T=%lld, D=%lld)", (long long)T, (long long)D);
    }
    qt_attn_tile_init(&b->tile, D, b->scratch);
    return QT_OK;
}

/* Gather nk rows (positions kpos) of K and V of one head into kg, vg. */
static void gather_kv(lsh_bufs_t *b, const float *kh, const float *vh, int nk, int64_t D)
{
    for (int j = 0; j < nk; j++) {
        memcpy(b->kg + j * D, kh + (int64_t)b->kpos[j] * D, (size_t)D * sizeof(float));
        memcpy(b->vg + j * D, vh + (int64_t)b->kpos[j] * D, (size_t)D * sizeof(float));
    }
}

/* Merge a normalised output row o with log-sum-exp lse into position p's accumulator. */
static void lse_merge(lsh_bufs_t *b, int64_t p, const float *o, float lse, int64_t D)
{
    float old = b->acc_l[p];
    float big = old > lse ? old : lse;
    float wo = old == -INFINITY ? 0.0f : expf(old - big), wn = expf(lse - big);
    float z = wo + wn, s_old = wo / z, s_new = wn / z;
    float *acc = b->acc_o + p * D;
    for (int64_t d = 0; d < D; d++) acc[d] = acc[d] * s_old + o[d] * s_new;
    b->acc_l[p] = big + logf(z);
}

/* Mask and weight one LSH block: rows j < nk of St, lanes a < BR (lanes >= nq are
 * padding). Simple loops over the lanes so that each one vectorises. */
static void lsh_mask_block(lsh_bufs_t *b, const qt_attn_cpu_call_t *c, const float *mrow, int nk)
{
    const qt_attn_lsh_plan_t *p = &b->plan;
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
        if (mrow && mrow[jj] == 0.0f)
            for (int a = 0; a < BR; a++) row[a] = -INFINITY;
        if (c->cfg->causal)
            for (int a = 0; a < BR; a++) row[a] = qpos[a] >= jj ? row[a] : -INFINITY;
        if (c->cfg->shared_qk)
            for (int a = 0; a < BR; a++) row[a] = qpos[a] != jj ? row[a] : -INFINITY;
    }
}

/* LSH for one head bh (plan already built). Returns pairs computed. */
static int64_t lsh_head(lsh_bufs_t *b, const qt_attn_cpu_call_t *c, int64_t bh)
{
    const qt_attn_lsh_plan_t *p = &b->plan;
    int64_t T = c->d.T, D = c->d.D, L = p->chunk, pairs = 0;
    const float *qh = c->q + bh * T * D, *kh = c->k + bh * T * D, *vh = c->v + bh * T * D;
    const float *mrow = c->mask ? c->mask + (bh / c->d.H) * T : NULL;
    qt_attn_tile_t *tile = &b->tile;
    for (int64_t t = 0; t < T; t++) { b->acc_l[t] = -INFINITY; b->nself[t] = 0; }
    memset(b->acc_o, 0, (size_t)(T * D) * sizeof(float));
    for (int r = 0; r < p->n_hashes; r++) {
        const int *sq = p->sq + (int64_t)r * T, *sk = p->sk + (int64_t)r * T;
        for (int64_t c0 = 0; c0 < T; c0 += L) {
            int64_t qhi = c0 + L < T ? c0 + L : T, klo = c0 - L > 0 ? c0 - L : 0;
            for (int64_t a0 = c0; a0 < qhi; a0 += BR) {
                int nq = (int)(qhi - a0 < BR ? qhi - a0 : BR);
                for (int a = 0; a < BR; a++) b->qpos[a] = a < nq ? sq[a0 + a] : sq[a0];
                for (int rr = 0; rr < p->n_hashes; rr++)
                    for (int a = 0; a < BR; a++) b->qmeta[rr * BR + a] = p->cq[(int64_t)rr * T + b->qpos[a]];
                qt_attn_tile_load_q(tile, qh, D, b->qpos, nq);
                qt_attn_tile_reset(tile);
                for (int64_t k0 = klo; k0 < qhi; k0 += BC) {
                    int nk = (int)(qhi - k0 < BC ? qhi - k0 : BC);
                    memcpy(b->kpos, sk + k0, (size_t)nk * sizeof(int));
                    gather_kv(b, kh, vh, nk, D);
                    qt_attn_tile_scores(tile, b->kg, D, nk);
                    lsh_mask_block(b, c, mrow, nk);
                    qt_attn_tile_update(tile, b->vg, D, nk, b->w);
                    pairs += (int64_t)nk * BR;
                }
                qt_attn_tile_store(tile, b->otmp, D, NULL, b->lse);
                for (int a = 0; a < nq; a++) {
                    int ii = b->qpos[a];
                    if (b->lse[a] == -INFINITY) b->nself[ii]++; /* nothing valid this round */
                    else lse_merge(b, ii, b->otmp + (int64_t)a * D, b->lse[a], D);
                }
            }
        }
    }
    float *o = c->o + bh * T * D;
    float inv_sqrt_d = (float)(1.0 / sqrt((double)D));
    for (int64_t i = 0; i < T; i++) {
        if (c->cfg->shared_qk && b->nself[i] > 0 && (!mrow || mrow[i] != 0.0f)) {
            float s = 0; /* self score q_i·k_i/√D, k_i = q_i/|q_i| */
            for (int64_t d = 0; d < D; d++) s += qh[i * D + d] * kh[i * D + d];
            lse_merge(b, i, vh + i * D, s * inv_sqrt_d, D);
        }
        if (b->acc_l[i] == -INFINITY) memset(o + i * D, 0, (size_t)D * sizeof(float));
        else memcpy(o + i * D, b->acc_o + i * D, (size_t)D * sizeof(float));
    }
    return pairs;
}

/* Mask one DYNAMIC block of round r: drop invalid pairs, window pairs, and pairs that
 * already met in an earlier round (qmeta holds the tile's query buckets per round).
 * Returns 1 when any pair is left. */
static int dyn_mask_block(lsh_bufs_t *b, const qt_attn_cpu_call_t *c, const float *mrow, int r, int nk)
{
    const qt_attn_config_t *cfg = c->cfg;
    const qt_attn_lsh_plan_t *p = &b->plan;
    int wl = cfg->w_left * cfg->dilation, wr = (int)qt_attn_wright(cfg) * cfg->dilation;
    int dil = cfg->dilation, causal = cfg->causal, any = 0;
    const int *qpos = b->qpos;
    for (int j = 0; j < nk; j++) {
        int jj = b->kpos[j];
        float *row = b->tile.st + (int64_t)j * BR;
        int ok[BR];
        if (mrow && mrow[jj] == 0.0f) {
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

/* DYNAMIC for one head bh (plan already built). Returns pairs computed. */
static int64_t dyn_head(lsh_bufs_t *b, const qt_attn_cpu_call_t *c, int64_t bh)
{
    const qt_attn_lsh_plan_t *p = &b->plan;
    int64_t T = c->d.T, D = c->d.D, pairs = 0;
    const float *qh = c->q + bh * T * D, *kh = c->k + bh * T * D, *vh = c->v + bh * T * D;
    const float *mrow = c->mask ? c->mask + (bh / c->d.H) * T : NULL;
    qt_attn_tile_t *tile = &b->tile;
    pairs += qt_attn_cpu_window_state(c, bh, tile, b->acc_m, b->acc_l, b->acc_o, b->qpos);
    for (int r = 0; r < p->n_hashes; r++) {
        const int *sq = p->sq + (int64_t)r * T, *sk = p->sk + (int64_t)r * T;
        const int *oq = p->oq + (int64_t)r * (p->n_buckets + 1), *ok = p->ok + (int64_t)r * (p->n_buckets + 1);
        for (int bk = 0; bk < p->n_buckets; bk++) {
            if (ok[bk + 1] == ok[bk]) continue;
            for (int64_t a0 = oq[bk]; a0 < oq[bk + 1]; a0 += BR) {
                int nq = (int)(oq[bk + 1] - a0 < BR ? oq[bk + 1] - a0 : BR);
                for (int a = 0; a < BR; a++) b->qpos[a] = a < nq ? sq[a0 + a] : sq[a0];
                for (int rr = 0; rr < r; rr++)
                    for (int a = 0; a < BR; a++) b->qmeta[rr * BR + a] = p->bq[(int64_t)rr * T + b->qpos[a]];
                qt_attn_tile_load_q(tile, qh, D, b->qpos, nq);
                qt_attn_tile_state_load(tile, b->acc_m, b->acc_l, b->acc_o, b->qpos);
                for (int64_t k0 = ok[bk]; k0 < ok[bk + 1]; k0 += BC) {
                    int nk = (int)(ok[bk + 1] - k0 < BC ? ok[bk + 1] - k0 : BC);
                    memcpy(b->kpos, sk + k0, (size_t)nk * sizeof(int));
                    gather_kv(b, kh, vh, nk, D);
                    qt_attn_tile_scores(tile, b->kg, D, nk);
                    pairs += (int64_t)nk * BR;
                    if (dyn_mask_block(b, c, mrow, r, nk)) qt_attn_tile_update(tile, b->vg, D, nk, NULL);
                }
                qt_attn_tile_state_save(tile, b->acc_m, b->acc_l, b->acc_o, b->qpos);
            }
        }
    }
    float *o = c->o + bh * T * D;
    for (int64_t i = 0; i < T; i++) {
        float l = b->acc_l[i], inv = l > 0.0f ? 1.0f / l : 0.0f;
        for (int64_t d = 0; d < D; d++) o[i * D + d] = b->acc_o[i * D + d] * inv;
    }
    return pairs;
}

/* Run head_fn over every head in parallel, each thread with its own buffers and plan. */
static qt_status_t cpu_heads(const qt_attn_cpu_call_t *c, int64_t (*head_fn)(lsh_bufs_t *, const qt_attn_cpu_call_t *, int64_t),
                             long long *flops_out, long long *pairs_out)
{
    int64_t BH = c->d.B * c->d.H;
    long long flops = 0, pairs = 0;
    int failed = 0;
#pragma omp parallel reduction(+ : flops, pairs)
    {
        lsh_bufs_t b;
        int ok = lsh_bufs_init(&b, c) == QT_OK;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t bh = 0; bh < BH; bh++) {
            if (!ok) continue;
            int64_t h = bh % c->d.H, off = bh * c->d.T * c->d.D;
            flops += qt_attn_lsh_plan_build(&b.plan, c->cfg, h, c->q + off, c->cfg->shared_qk ? NULL : c->k + off);
            pairs += head_fn(&b, c, bh);
        }
        if (ok) lsh_bufs_free(&b);
    }
    *flops_out += flops;
    *pairs_out += pairs;
    return failed ? qt_fail(QT_ERR_NOMEM, "attention buffers for T=%lld", (long long)c->d.T) : QT_OK;
}

/* LSH driver. */
qt_status_t qt_attn_cpu_lsh(const qt_attn_cpu_call_t *c, long long *flops, long long *pairs)
{
    return cpu_heads(c, lsh_head, flops, pairs);
}

/* DYNAMIC driver. */
qt_status_t qt_attn_cpu_dynamic(const qt_attn_cpu_call_t *c, long long *flops, long long *pairs)
{
    return cpu_heads(c, dyn_head, flops, pairs);
}
