/* cpu_tile.h — private to impl/attention: the flash-attention tile the cpu backend
 * is built from (cpu_tile.c). A tile holds up to QT_ATTN_BR queries with their
 * online-softmax state; key blocks of up to QT_ATTN_BC rows stream through it:
 *
 *   qt_attn_tile_load_q   pack queries transposed, pre-scaled by log2(e)/sqrt(D)
 *   qt_attn_tile_reset    m = -big, l = 0, O = 0          (or qt_attn_tile_state_load)
 *   per key block:
 *     qt_attn_tile_scores  St[j][a] = q_a·k_j (log2 units), j < nk
 *     (caller masks: St[j][a] = -INFINITY, or subtracts a log2 weight)
 *     qt_attn_tile_update  m' = max(m, max_j St), P = w·2^(St - m'), l = l·2^(m-m') + ΣP,
 *                          O = O·2^(m-m') + Pᵀ V
 *   qt_attn_tile_store    o_a = O_a / l_a (zeros when l_a = 0), optional natural lse
 *                          (or qt_attn_tile_state_save for later continuation)
 *
 * Layout: everything is stored query-minor ("transposed": St is BC × BR, O is D × BR)
 * so that queries sit in SIMD lanes: the row max, the exponentials and the rescaling
 * are plain vertical vector operations, and both products (QKᵀ and PV) are the same
 * register-blocked micro-kernel that broadcasts one K or V element against BR query
 * lanes. Memory per tile: (2·D + BC)·BR floats, independent of T. */
#ifndef QUINTET_ATTENTION_CPU_TILE_H
#define QUINTET_ATTENTION_CPU_TILE_H

#include <stddef.h>
#include <stdint.h>

/* VL floats per vector; MR broadcast rows × NV query vectors of accumulators per
 * micro-kernel (MR·NV + NV + 1 vector registers: 32 with AVX-512, 16 below).
 * The narrow instance (QT_ATTN_NARROW, defined by cpu_dense.c before it includes cpu_tile.c
 * and cpu_window.c): with AVX-512, tiles of 32 queries and a 12 × 2 micro-kernel, so that a
 * tile's Qt, Ot and St ((2·D + BC)·BR floats: 40 KiB at D = 128, 24 KiB at D = 64, against
 * 80 and 48 KiB with 64 queries) fit a 48 KiB L1 while the keys stream (the H200 host's Xeon
 * ran D = 128 at D = 64's FLOP rate where the extra length should have raised it), and causal
 * tiles follow the diagonal in finer steps (twice the tiles also feeds 16 threads at T = 256).
 * 2-core Zen 4 VM (32 KiB L1), dense, 1 thread, thread CPU time of the two drivers
 * interleaved, T 256…4096, D 64/128: non-causal 0.99-1.02x, causal 1.00-1.14x (T <= 512 most).
 * DENSE runs it; windows and LSH keep the 64-query tile (a tile also pays for the window's
 * width, and LSH chunks are 64 queries). Every function of cpu_tile.c and cpu_window.c gets a
 * _narrow name in it. */
#if defined(QT_ATTN_NARROW) && defined(__AVX512F__)
#define QT_ATTN_VL 16
#ifndef QT_ATTN_NARROW_MR
#define QT_ATTN_NARROW_MR 12
#endif
#define QT_ATTN_MR QT_ATTN_NARROW_MR
#define QT_ATTN_NV 2
#elif defined(__AVX512F__)
#define QT_ATTN_VL 16
#define QT_ATTN_MR 6 /* 6 × 4 beat 8 × 3 by ~20% on LSH (64-query chunks fill one tile), same on dense */
#define QT_ATTN_NV 4
#elif defined(__AVX__)
#define QT_ATTN_VL 8
#define QT_ATTN_MR 4
#define QT_ATTN_NV 3
#else
#define QT_ATTN_VL 4
#define QT_ATTN_MR 4
#define QT_ATTN_NV 3
#endif
#define QT_ATTN_BR (QT_ATTN_NV * QT_ATTN_VL)  /* queries per tile (64 with AVX-512) */
#define QT_ATTN_BC 64                         /* keys per block */
#ifndef QT_ATTN_GROUP
#define QT_ATTN_GROUP 4 /* most query tiles that share each key block (cpu_window.c group_tiles) */
#endif

#ifdef QT_ATTN_NARROW
#define qt_attn_tile_floats qt_attn_tile_floats_narrow
#define qt_attn_tile_init qt_attn_tile_init_narrow
#define qt_attn_tile_load_q qt_attn_tile_load_q_narrow
#define qt_attn_tile_reset qt_attn_tile_reset_narrow
#define qt_attn_tile_scores qt_attn_tile_scores_narrow
#define qt_attn_tile_update qt_attn_tile_update_narrow
#define qt_attn_tile_softmax_end qt_attn_tile_softmax_end_narrow
#define qt_attn_tile_softmax_exp qt_attn_tile_softmax_exp_narrow
#define qt_attn_tile_softmax_max qt_attn_tile_softmax_max_narrow
#define qt_attn_tile_transpose qt_attn_tile_transpose_narrow
#define qt_attn_tile_mask_band qt_attn_tile_mask_band_narrow
#define qt_attn_tile_store qt_attn_tile_store_narrow
#define qt_attn_tile_state_save qt_attn_tile_state_save_narrow
#define qt_attn_tile_state_load qt_attn_tile_state_load_narrow
#define qt_attn_cpu_window_tile qt_attn_cpu_window_tile_narrow
#define qt_attn_cpu_grid_init qt_attn_cpu_grid_init_narrow
#define qt_attn_cpu_grid_free qt_attn_cpu_grid_free_narrow
#define qt_attn_cpu_grid_tile qt_attn_cpu_grid_tile_narrow
#define qt_attn_cpu_window qt_attn_cpu_window_narrow
#endif

typedef struct {
    int64_t D;
    int nq;   /* queries loaded (the rest of the BR lanes are zero padding) */
    float *qt; /* D × BR */
    float *ot; /* D × BR */
    float *st; /* BC × BR */
    float *m, *l; /* BR each */
    void *aux;    /* cpu_amx.c's per-tile scratch while its kernel runs, else unused */
} qt_attn_tile_t;

/* Floats of scratch one tile needs for head size D (carve it with qt_attn_tile_init). */
size_t qt_attn_tile_floats(int64_t D);
/* Lay the tile out in `scratch` (64-byte aligned, qt_attn_tile_floats(D) floats). */
void qt_attn_tile_init(qt_attn_tile_t *t, int64_t D, float *scratch);
/* Load nq <= BR query rows: row a is q + (idx ? idx[a] : a)·ld. */
void qt_attn_tile_load_q(qt_attn_tile_t *t, const float *q, int64_t ld, const int *idx, int nq);
/* Fresh online-softmax state. */
void qt_attn_tile_reset(qt_attn_tile_t *t);
/* St[j][a] = q_a·k_j (pre-scaled) for nk <= BC key rows k + j·ldk. */
void qt_attn_tile_scores(qt_attn_tile_t *t, const float *k, int64_t ldk, int nk);
/* Band mask of St's nk rows: row j keeps lanes lo + j <= a <= hi + j, the rest become -inf
 * (vector blends; element-wise stores of -inf before the vector loads of the update would also
 * defeat store forwarding). */
void qt_attn_tile_mask_band(qt_attn_tile_t *t, int nk, int64_t lo, int64_t hi);
/* Online-softmax update with the nk masked scores in St and value rows v + j·ldv.
 * w (NULL or BC × BR like St) multiplies each probability (LSH duplicate counts). */
void qt_attn_tile_update(qt_attn_tile_t *t, const float *v, int64_t ldv, int nk, const float *w);
/* The softmax half of qt_attn_tile_update (w8 = NULL; St becomes P, m and l move on) in pieces, for
 * callers that spread it over other work (cpu_amx.c): from mx = m, _max over all nk rows (mx becomes
 * the new max mn), _exp over all rows in order (sum from 0), _end (alpha: the factor Ot must be scaled by). */
void qt_attn_tile_softmax_max(const qt_attn_tile_t *t, int j0, int j1, float *mx);
void qt_attn_tile_softmax_exp(qt_attn_tile_t *t, int j0, int j1, const float *mn, float *sum);
void qt_attn_tile_softmax_end(qt_attn_tile_t *t, const float *mn, const float *sum, float *alpha);
/* dst[d·BR + a] = scale · row_a[d] (d < D, a < BR; zero for a >= n), row a = src + (idx ? idx[a] : a)·ld:
 * load_q's packing; cpu_amx.c transposes value rows with it. */
void qt_attn_tile_transpose(float *dst, const float *src, int64_t ld, const int *idx, int n, int64_t D, float scale);
/* Write normalised outputs to row o + (idx ? idx[a] : a)·ldo for a < nq; when lse is not
 * NULL also lse[a] = natural log of the softmax denominator (-inf when empty). */
void qt_attn_tile_store(const qt_attn_tile_t *t, float *o, int64_t ldo, const int *idx, float *lse);
/* Save / load the unnormalised state (m, l, O) of the loaded queries to per-position
 * arrays m[pos], l[pos], O[pos·D ..] with pos = idx ? idx[a] : a (load after load_q). */
void qt_attn_tile_state_save(const qt_attn_tile_t *t, float *m, float *l, float *o, const int *idx);
void qt_attn_tile_state_load(qt_attn_tile_t *t, const float *m, const float *l, const float *o, const int *idx);

/* ---- shared by the cpu backend's drivers (cpu.c: dense, window; cpu_lsh.c: lsh, dynamic) ---- */

#include "internal.h"

/* One validated call: whole tensors; k points at the unit-normalised queries when shared_qk. */
typedef struct {
    const qt_attn_config_t *cfg;
    qt_attn_dims_t d;
    const float *q, *k, *v, *mask;
    float *o;
    int threads; /* the backend instance's thread count */
    const struct qt_attn_amx *amx; /* DENSE on the AMX kernel (cpu_amx.c) when not NULL */
} qt_attn_cpu_call_t;

/* ---- cpu_amx.c: DENSE with bf16x6 split products on AMX tiles (narrow tile only) ---- */
typedef struct qt_attn_amx qt_attn_amx_t;
/* DENSE through the AMX kernel when QT_ATTN_AMX and the CPU allow it (*done = 1), else *done = 0
 * and nothing is run (the caller runs the FMA kernel). */
qt_status_t qt_attn_cpu_dense_amx(const qt_attn_cpu_call_t *c, long long *pairs, int *done);
/* Per OpenMP thread, around its tiles' use: per-tile scratch (tiles[i].aux) and the tile
 * configuration; begin returns 0 on success. */
int qt_attn_amx_thread_begin(const qt_attn_amx_t *x, qt_attn_tile_t *tiles, int ng);
void qt_attn_amx_thread_end(const qt_attn_amx_t *x, qt_attn_tile_t *tiles, int ng);
/* The window driver's tile steps on AMX: split the loaded queries (load_q); step: tile ts's scores for key
 * block kts (a multiple of BC, nks keys; ts NULL: none) into ts's St, with the softmax and P split of tile
 * tp's block ktp (nkp keys, scored and masked by the previous step; tp NULL: none) between its tile
 * products, then tp's output products with its Ot = Ot·alpha + Vᵀ P between theirs. */
void qt_attn_amx_load_q(const qt_attn_amx_t *x, qt_attn_tile_t *t);
void qt_attn_amx_step(const qt_attn_amx_t *x, qt_attn_tile_t *ts, int64_t bh, int64_t kts, int nks, qt_attn_tile_t *tp,
                      int64_t ktp, int nkp);

/* Dense (dense = 1) or dilated-window attention for the nq queries at positions
 * rho + (t0 + a)·dilation, a < nq <= ng·BR, of head bh (= b·H + h): queries of one residue
 * class mod dilation form a contiguous window problem over the strided subsequence. Tile i of
 * tiles[0 .. ng-1] takes queries a = i·BR .. i·BR + BR - 1; each key block is streamed once
 * for all of them. Leaves the online-softmax states in the tiles; returns the query-key scores
 * computed (tile lanes). */
int64_t qt_attn_cpu_window_tile(const qt_attn_cpu_call_t *c, int dense, int64_t bh, int64_t rho, int64_t t0, int nq,
                                qt_attn_tile_t *tiles, int ng);
/* The query spans of one head's window (dense = 0) or dense problem: residue class r
 * owns spans off[r] .. off[r+1]-1 of `span` consecutive subsequence positions. */
typedef struct {
    int64_t T, dil, nres, n_tiles, span;
    int64_t *off;
} qt_attn_cpu_grid_t;
/* Dense (dense = 1) or window attention of the whole call: OpenMP over (b·h, residue class,
 * query tile), heavy tiles first; adds the query-key scores computed to *pairs
 * (cpu_window.c). qt_attn_cpu_window_narrow: the same over the narrow tile (cpu_dense.c). */
qt_status_t qt_attn_cpu_window(const qt_attn_cpu_call_t *c, int dense, long long *pairs);
#ifndef QT_ATTN_NARROW
qt_status_t qt_attn_cpu_window_narrow(const qt_attn_cpu_call_t *c, int dense, long long *pairs);
#endif
/* qt_attn_lsh_buckets of the cpu backend (cpu_lsh.c). */
qt_status_t qt_attn_cpu_lsh_buckets(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                                    qt_tensor_t *buckets);
qt_status_t qt_attn_cpu_grid_init(qt_attn_cpu_grid_t *g, const qt_attn_cpu_call_t *c, int dense, int64_t span);
void qt_attn_cpu_grid_free(qt_attn_cpu_grid_t *g);
/* Span it of the grid: residue class, first subsequence position, queries (<= span). */
void qt_attn_cpu_grid_tile(const qt_attn_cpu_grid_t *g, int64_t it, int64_t *rho, int64_t *t0, int *nq);
/* LSH and DYNAMIC drivers: parallel over b·h when there are at least as many heads as
 * threads, otherwise over the query tiles of one head at a time; add their work to
 * *flops and *pairs. */
qt_status_t qt_attn_cpu_lsh(const qt_attn_cpu_call_t *c, long long *flops, long long *pairs);
qt_status_t qt_attn_cpu_dynamic(const qt_attn_cpu_call_t *c, long long *flops, long long *pairs);

#endif
