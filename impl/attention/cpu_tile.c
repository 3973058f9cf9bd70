/* cpu_tile.c — the flash-attention tile of the cpu backend (contract: cpu_tile.h).
 *
 * SIMD through GCC/Clang vector extensions: qt_vf is QT_ATTN_VL floats (16 with
 * AVX-512, 8 with AVX/AVX2, 4 otherwise), so one code path serves every x86 level
 * (and other ISAs). The compiler turns `acc += s * b` into a broadcast FMA once
 * floating-point contraction is allowed for this file (GCC disables it under
 * -std=c11; the pragma below re-enables it here only).
 *
 * The micro-kernel (tile_mk) keeps an MR × NV block of accumulators in registers
 * (6 × 4 zmm = 24 of 32 with AVX-512) and, per step of the reduction, loads NV
 * query-lane vectors and broadcasts MR scalars: MR·NV FMAs per NV + MR loads. It
 * serves both products:
 *   scores  St[j][·] = Σ_d K[j][d] · Qt[d][·]   (broadcast K along rows j, reduce over d)
 *   output  Ot[d][·] += Σ_j V[j][d] · Pt[j][·]  (broadcast V along columns d, reduce over j)
 * exp2 is a Cephes-style polynomial (max relative error ~2 ulp; with AVX-512 degree 5 on x - floor(x), 1.8e-7) that returns exactly
 * 0 below 2^-126 (so -inf scores vanish without NaN).
 * Run: make test (tests/attention compares every path with the ref oracle). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#pragma GCC target("prefer-vector-width=512") /* -march=znver* tunes auto-vectorisation to 128 bits */
#endif

#include "cpu_tile.h"

#include <math.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

typedef float qt_vf __attribute__((vector_size(QT_ATTN_VL * sizeof(float))));
typedef int32_t qt_vi __attribute__((vector_size(QT_ATTN_VL * sizeof(float))));

#define BR QT_ATTN_BR
#define BC QT_ATTN_BC
#define VL QT_ATTN_VL
#define NV QT_ATTN_NV
#define MR QT_ATTN_MR
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Floats between the tile's arrays (Qt, Ot, St): D·BR floats apart they would sit a multiple
 * of 4 KiB apart, and the score stores would falsely alias the query loads that follow. */
#define TILE_PAD 80

/* Initial running max: finite, below any real score, above -inf. */
#define NEG_BIG (-1e30f)

/* Unaligned vector load / store. */
ALWAYS_INLINE qt_vf vload(const float *p) { qt_vf v; memcpy(&v, p, sizeof v); return v; }
ALWAYS_INLINE void vstore(float *p, qt_vf v) { memcpy(p, &v, sizeof v); }
/* Broadcast. */
ALWAYS_INLINE qt_vf vset1(float s) { return (qt_vf){0} + s; }
/* Lane-wise max and min: one instruction with AVX-512 (the mask-and-blend form costs a compare
 * and a blend, 5 cycles of latency, in the row-max chain); masks elsewhere. */
#if QT_ATTN_VL == 16 && defined(__AVX512F__)
ALWAYS_INLINE qt_vf vmax(qt_vf a, qt_vf b) { return (qt_vf)_mm512_max_ps((__m512)a, (__m512)b); }
ALWAYS_INLINE qt_vf vmin(qt_vf a, qt_vf b) { return (qt_vf)_mm512_min_ps((__m512)a, (__m512)b); }
#else
ALWAYS_INLINE qt_vf vmax(qt_vf a, qt_vf b) { qt_vi m = a > b; return (qt_vf)(((qt_vi)a & m) | ((qt_vi)b & ~m)); }
ALWAYS_INLINE qt_vf vmin(qt_vf a, qt_vf b) { qt_vi m = a < b; return (qt_vf)(((qt_vi)a & m) | ((qt_vi)b & ~m)); }
#endif

/* 2^x lane-wise: round to nearest n, 2^f on [-1/2, 1/2] by Cephes exp2f's polynomial,
 * scale by 2^n through the exponent bits; 0 for x < -126 (including -inf). */
/* c[0] + c[1]·f + … + c[n-1]·f^(n-1) by Horner's rule (n constant after inlining: FMAs on broadcasts). */
ALWAYS_INLINE qt_vf vpoly(qt_vf f, const float *c, const int n)
{
    qt_vf p = vset1(c[n - 1]);
    for (int i = n - 2; i >= 0; i--) p = p * f + c[i];
    return p;
}
#if QT_ATTN_VL == 16 && defined(__AVX512F__)
/* AVX-512: f = x - floor(x) in [0, 1) by one vreduceps, 2^f by a degree-5 polynomial (Chebyshev nodes
 * on [0, 1]: 1.8e-7 relative in float with FMAs; the tolerance is 2e-5), and 2^floor(x) applied by
 * vscalefps itself (it scales by 2^floor of its second operand) under a zeroing mask (x >= -126, which
 * also turns -inf, whose f is NaN, into 0). x <= 0 here (scores minus their running max). 8 vector
 * operations; session 8's form (round by the 1.5·2^23 shifter, f in [-1/2, 1/2], a clamp) took 11. */
ALWAYS_INLINE qt_vf vexp2(qt_vf x)
{
    __mmask16 keep = _mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(-126.0f), _CMP_GE_OQ);
    qt_vf f = (qt_vf)_mm512_reduce_ps((__m512)x, 0x09); /* 0 fraction bits kept, round down, no #PE */
    static const float c[6] = {9.999998808e-1f, 6.931545138e-1f, 2.401418239e-1f, 5.586033687e-2f, 8.949590847e-3f,
                               1.893754001e-3f};
    qt_vf p = vpoly(f, c, 6);
    return (qt_vf)_mm512_maskz_scalef_ps(keep, (__m512)p, (__m512)x);
}
#else
ALWAYS_INLINE qt_vf vexp2(qt_vf x)
{
    qt_vi keep = x >= -126.0f;
    x = vmax(vmin(x, vset1(127.0f)), vset1(-126.0f));
    const float shifter = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    qt_vf t = x + shifter;
    qt_vf f = x - (t - shifter);
    qt_vi e = (((qt_vi)t - 0x4B400000) + 127) << 23;
    static const float c[7] = {1.0f, 6.931472028550421e-1f, 2.402264791363012e-1f, 5.550332471162809e-2f,
                               9.618437357674640e-3f, 1.339887440266574e-3f, 1.535336188319500e-4f};
    qt_vf p = vpoly(f, c, 7);
    return (qt_vf)((qt_vi)(p * (qt_vf)e) & keep);
}
#endif

/* acc[r][v] = Σ_l a[r·sa + l·sl] · b[l·BR + v·VL ..] for r < mr (mr constant after inlining). */
ALWAYS_INLINE void tile_mk(const int mr, int64_t len, const float *a, int64_t sa, int64_t sl, const float *b,
                           qt_vf acc[MR][NV])
{
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = vset1(0.0f);
    for (int64_t l = 0; l < len; l++) {
        const float *bl = b + l * BR, *al = a + l * sl;
        qt_vf bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = vload(bl + v * VL);
        for (int r = 0; r < mr; r++) {
            float s = al[r * sa];
            for (int v = 0; v < NV; v++) acc[r][v] += s * bv[v];
        }
    }
}

/* Scratch floats of one tile. */
size_t qt_attn_tile_floats(int64_t D) { return (size_t)(2 * D + BC + 2) * BR + 16 + 2 * TILE_PAD; }

/* Carve the tile's arrays out of scratch. */
void qt_attn_tile_init(qt_attn_tile_t *t, int64_t D, float *scratch)
{
    t->D = D;
    t->nq = 0;
    t->aux = NULL;
    t->qt = scratch;
    t->ot = t->qt + D * BR + TILE_PAD;
    t->st = t->ot + D * BR + TILE_PAD;
    t->m = t->st + BC * BR;
    t->l = t->m + BR;
}

/* Pack queries transposed and pre-scaled into log2 units (d outer: contiguous
 * stores of BR lanes, gathered loads through 32-bit row offsets). */
#if QT_ATTN_VL == 16 && defined(__AVX512F__)
#define TR16 1
/* In-register 16 × 16 transpose: lane j of r[i] becomes lane i of r[j] (unpack, unpack, two
 * 128-bit shuffles: 64 shuffles per 256 floats, where element-wise copies cost ~3 µops each). */
ALWAYS_INLINE void tr16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = (__m512)_mm512_unpacklo_pd((__m512d)t[4 * i], (__m512d)t[4 * i + 2]);
        r[4 * i + 1] = (__m512)_mm512_unpackhi_pd((__m512d)t[4 * i], (__m512d)t[4 * i + 2]);
        r[4 * i + 2] = (__m512)_mm512_unpacklo_pd((__m512d)t[4 * i + 1], (__m512d)t[4 * i + 3]);
        r[4 * i + 3] = (__m512)_mm512_unpackhi_pd((__m512d)t[4 * i + 1], (__m512d)t[4 * i + 3]);
    }
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) {
            t[8 * i + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + 4 + k], 0x88);
            t[8 * i + 4 + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + 4 + k], 0xdd);
        }
    for (int k = 0; k < 8; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
    }
}
#endif

/* dst[d·BR + a] = scale · row_a[d] for d < D, a < BR, row a = src + (idx ? idx[a] : a)·ld (zero for
 * a >= n): the query tile's packing, and cpu_amx.c's transposition of value rows. */
void qt_attn_tile_transpose(float *dst, const float *src, int64_t ld, const int *idx, int n, int64_t D, float scale)
{
    int32_t off[BR];
    for (int a = 0; a < BR; a++) off[a] = a < n ? (int32_t)((idx ? idx[a] : a) * ld) : 0;
#ifdef TR16
    if (D % 16 == 0) { /* 16 × 16 blocks transposed in registers */
        for (int a0 = 0; a0 < BR; a0 += 16)
            for (int64_t d0 = 0; d0 < D; d0 += 16) {
                __m512 r[16];
                for (int i = 0; i < 16; i++)
                    r[i] = a0 + i < n ? _mm512_mul_ps(_mm512_loadu_ps(src + off[a0 + i] + d0), _mm512_set1_ps(scale))
                                      : _mm512_setzero_ps();
                tr16(r);
                for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + (d0 + i) * BR + a0, r[i]);
            }
        return;
    }
#endif
    for (int64_t d = 0; d < D; d++) {
        float *row = dst + d * BR;
        for (int a = 0; a < BR; a++) row[a] = src[off[a] + d] * scale;
        for (int a = n; a < BR; a++) row[a] = 0.0f;
    }
}

void qt_attn_tile_load_q(qt_attn_tile_t *t, const float *q, int64_t ld, const int *idx, int nq)
{
    t->nq = nq;
    qt_attn_tile_transpose(t->qt, q, ld, idx, nq, t->D, (float)(1.4426950408889634 / sqrt((double)t->D)));
}

/* Band mask: lanes outside [lo + j, hi + j] of row j to -inf, rows wholly inside skipped. */
void qt_attn_tile_mask_band(qt_attn_tile_t *t, int nk, int64_t lo, int64_t hi)
{
    qt_vi lane;
    for (int i = 0; i < VL; i++) lane[i] = i;
    const qt_vi ninf = (qt_vi)vset1(-INFINITY);
    for (int j = 0; j < nk; j++) {
        int64_t a_lo = lo + j, a_hi = hi + j;
        if (a_lo <= 0 && a_hi >= BR - 1) continue;
        int32_t l32 = (int32_t)(a_lo < -1 ? -1 : a_lo > BR ? BR : a_lo);
        int32_t h32 = (int32_t)(a_hi < -1 ? -1 : a_hi > BR ? BR : a_hi);
        for (int w = 0; w < NV; w++) {
            qt_vi a = lane + w * VL, out = (a < l32) | (a > h32);
            float *row = t->st + (int64_t)j * BR + w * VL;
            vstore(row, (qt_vf)(((qt_vi)vload(row) & ~out) | (ninf & out)));
        }
    }
}

/* Empty online-softmax state. */
void qt_attn_tile_reset(qt_attn_tile_t *t)
{
    for (int a = 0; a < BR; a++) { t->m[a] = NEG_BIG; t->l[a] = 0.0f; }
    memset(t->ot, 0, (size_t)(t->D * BR) * sizeof(float));
}

/* St rows j .. j+rows-1 from key rows k + j·ldk. */
ALWAYS_INLINE void scores_rows(qt_attn_tile_t *t, const float *k, int64_t ldk, int j, const int rows)
{
    qt_vf acc[MR][NV];
    tile_mk(rows, t->D, k + j * ldk, ldk, 1, t->qt, acc);
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < NV; v++) vstore(t->st + (j + r) * BR + v * VL, acc[r][v]);
}

/* St = K Qtᵀ for nk key rows: MR-row blocks, then 8-row, 4-row blocks, then single rows. */
void qt_attn_tile_scores(qt_attn_tile_t *t, const float *k, int64_t ldk, int nk)
{
    int j = 0;
    for (; j + MR <= nk; j += MR) scores_rows(t, k, ldk, j, MR);
    if (MR > 8)
        for (; j + 8 <= nk; j += 8) scores_rows(t, k, ldk, j, MR > 8 ? 8 : 1);
    if (MR > 4)
        for (; j + 4 <= nk; j += 4) scores_rows(t, k, ldk, j, MR > 4 ? 4 : 1);
    for (; j < nk; j++) scores_rows(t, k, ldk, j, 1);
}

/* Ot rows d .. d+rows-1 = Ot·alpha + (V columns d..)ᵀ P. */
ALWAYS_INLINE void output_rows(qt_attn_tile_t *t, const float *v, int64_t ldv, int nk, int64_t d, const int rows,
                               const qt_vf alpha[NV])
{
    qt_vf acc[MR][NV];
    tile_mk(rows, nk, v + d, 1, ldv, t->st, acc);
    for (int r = 0; r < rows; r++)
        for (int w = 0; w < NV; w++) {
            float *o = t->ot + (d + r) * BR + w * VL;
            vstore(o, vload(o) * alpha[w] + acc[r][w]);
        }
}

/* Online softmax over the block (probabilities weighted by w8 when given): St becomes P, m and l
 * move on, alpha = 2^(m - m') per query vector. */
ALWAYS_INLINE void softmax_block(qt_attn_tile_t *t, int nk, const float *w8, qt_vf alpha[NV])
{
    for (int w = 0; w < NV; w++) {
        qt_vf mo = vload(t->m + w * VL), mx[4] = {mo, mo, mo, mo};
        int j = 0;
        for (; j + 4 <= nk; j += 4) /* four independent max chains */
            for (int u = 0; u < 4; u++) mx[u] = vmax(mx[u], vload(t->st + (j + u) * BR + w * VL));
        for (; j < nk; j++) mx[0] = vmax(mx[0], vload(t->st + j * BR + w * VL));
        qt_vf mn = vmax(vmax(mx[0], mx[1]), vmax(mx[2], mx[3]));
        qt_vf sum = vset1(0.0f);
        for (j = 0; j < nk; j++) {
            qt_vf p = vexp2(vload(t->st + j * BR + w * VL) - mn);
            if (w8) p *= vload(w8 + j * BR + w * VL);
            vstore(t->st + j * BR + w * VL, p);
            sum += p;
        }
        alpha[w] = vexp2(mo - mn);
        vstore(t->m + w * VL, mn);
        vstore(t->l + w * VL, vload(t->l + w * VL) * alpha[w] + sum);
    }
}

/* The online softmax in pieces (cpu_amx.c spreads them between tile products): running max of St rows
 * j0 .. j1-1 into mx; P = 2^(St - mn) over rows j0 .. j1-1 (St becomes P), row sums added to sum; the
 * state's move (alpha = 2^(m - mn), m = mn, l = l·alpha + sum). Called in row order from mx = m, they give
 * softmax_block's results (w8 = NULL) bit for bit. */
void qt_attn_tile_softmax_max(const qt_attn_tile_t *t, int j0, int j1, float *mx)
{
    for (int w = 0; w < NV; w++) {
        qt_vf m = vload(mx + w * VL);
        for (int j = j0; j < j1; j++) m = vmax(m, vload(t->st + j * BR + w * VL));
        vstore(mx + w * VL, m);
    }
}

void qt_attn_tile_softmax_exp(qt_attn_tile_t *t, int j0, int j1, const float *mn, float *sum)
{
    for (int w = 0; w < NV; w++) {
        qt_vf m = vload(mn + w * VL), s = vload(sum + w * VL);
        for (int j = j0; j < j1; j++) {
            qt_vf p = vexp2(vload(t->st + j * BR + w * VL) - m);
            vstore(t->st + j * BR + w * VL, p);
            s += p;
        }
        vstore(sum + w * VL, s);
    }
}

void qt_attn_tile_softmax_end(qt_attn_tile_t *t, const float *mn, const float *sum, float *alpha)
{
    for (int w = 0; w < NV; w++) {
        qt_vf m = vload(mn + w * VL), a = vexp2(vload(t->m + w * VL) - m);
        vstore(alpha + w * VL, a);
        vstore(t->m + w * VL, m);
        vstore(t->l + w * VL, vload(t->l + w * VL) * a + vload(sum + w * VL));
    }
}

/* Online softmax over the block, then Ot = Ot·alpha + Vᵀ P. */
void qt_attn_tile_update(qt_attn_tile_t *t, const float *v, int64_t ldv, int nk, const float *w8)
{
    qt_vf alpha[NV];
    softmax_block(t, nk, w8, alpha);
    int64_t d = 0;
    for (; d + MR <= t->D; d += MR) output_rows(t, v, ldv, nk, d, MR, alpha);
    if (MR > 8)
        for (; d + 8 <= t->D; d += 8) output_rows(t, v, ldv, nk, d, MR > 8 ? 8 : 1, alpha);
    if (MR > 4)
        for (; d + 4 <= t->D; d += 4) output_rows(t, v, ldv, nk, d, MR > 4 ? 4 : 1, alpha);
    for (; d < t->D; d++) output_rows(t, v, ldv, nk, d, 1, alpha);
}

/* 1/l of a normalised row, 0 for a row that saw no key (l = 0). */
static inline float inv_sum(float l) { return l > 0.0f ? 1.0f / l : 0.0f; }

/* Normalised outputs (and natural lse). */
void qt_attn_tile_store(const qt_attn_tile_t *t, float *o, int64_t ldo, const int *idx, float *lse)
{
    int stored = 0;
#ifdef TR16
    if (t->D % 16 == 0) { /* 16 × 16 blocks transposed in registers */
        for (int a0 = 0; a0 < t->nq; a0 += 16) {
            float inv[16];
            for (int i = 0; i < 16; i++) inv[i] = inv_sum(t->l[a0 + i]);
            for (int64_t d0 = 0; d0 < t->D; d0 += 16) {
                __m512 r[16];
                for (int i = 0; i < 16; i++)
                    r[i] = _mm512_mul_ps(_mm512_loadu_ps(t->ot + (d0 + i) * BR + a0), _mm512_loadu_ps(inv));
                tr16(r);
                for (int i = 0; i < 16 && a0 + i < t->nq; i++)
                    _mm512_storeu_ps(o + (int64_t)(idx ? idx[a0 + i] : a0 + i) * ldo + d0, r[i]);
            }
        }
        stored = 1;
    }
#endif
    for (int a = 0; a < t->nq; a++) {
        float l = t->l[a];
        if (!stored) {
            float inv = inv_sum(l), *row = o + (int64_t)(idx ? idx[a] : a) * ldo;
            for (int64_t d = 0; d < t->D; d++) row[d] = t->ot[d * BR + a] * inv;
        }
        if (lse) lse[a] = l > 0.0f ? (float)(0.6931471805599453 * t->m[a] + log((double)l)) : -INFINITY;
    }
}

/* Save the unnormalised state per position. */
void qt_attn_tile_state_save(const qt_attn_tile_t *t, float *m, float *l, float *o, const int *idx)
{
    for (int a = 0; a < t->nq; a++) {
        int64_t p = idx ? idx[a] : a;
        m[p] = t->m[a];
        l[p] = t->l[a];
        for (int64_t d = 0; d < t->D; d++) o[p * t->D + d] = t->ot[d * BR + a];
    }
}

/* Load the unnormalised state per position (padding lanes get the empty state). */
void qt_attn_tile_state_load(qt_attn_tile_t *t, const float *m, const float *l, const float *o, const int *idx)
{
    qt_attn_tile_reset(t);
    for (int a = 0; a < t->nq; a++) {
        int64_t p = idx ? idx[a] : a;
        t->m[a] = m[p];
        t->l[a] = l[p];
        for (int64_t d = 0; d < t->D; d++) t->ot[d * BR + a] = o[p * t->D + d];
    }
}
