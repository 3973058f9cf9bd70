/* cpu_amx.c — DENSE attention of the cpu backend on Intel AMX tiles, with fp32-grade accuracy
 * (issue 18's one-thread target): bf16x6 split products.
 *
 * Every fp32 operand x is split into three bf16, hi = rne(x), mid = rne(x - hi), lo = rne(x - hi - mid)
 * (x = hi + mid + lo exactly for normal x), and a·b is taken as hh + hm + mh + hl + lh + mm (ml, lm, ll,
 * below 2^-24 relative, dropped). TDPBF16PS multiplies bf16 pairs exactly and accumulates in fp32
 * (DAZ/FTZ), so each product is an fp32 dot product six times as long. The six products run as six
 * passes over the same tiles (parts stored once each, the pairing chosen by the pass; per 32-wide step
 * the five small passes, then hi·hi over the whole reduction, so the accumulator takes the small terms
 * while it is small), so the kernel stays a plain bf16 tile GEMM:
 *   scores  Sᵀ (keys × queries) = Σ_pass K_part (keys × d, row-major) · Q_part (d pairs × queries, VNNI)
 *   output  Oᵀ (d × queries)   += Σ_pass V_partᵀ (d × keys)          · P_part (key pairs × queries, VNNI)
 * Both land in the narrow tile's query-minor layout (cpu_tile.h, 32 queries): St (64 keys × 32) and
 * Ot (D × 32), so the window driver (cpu_window.c), its causal and padding masks, the online softmax
 * (qt_attn_tile_softmax_max/_exp/_end, softmax_block's pieces) and the store are the FMA kernel's own.
 * K and V are split and laid out once per call (all heads, O(B·H·T·D) bf16 ×6, parallel), Q once per
 * query tile, P once per key block (VCVTNE2PS2BF16 on real tiles). Tiles: C 0-3 (2 × 2 of 16 × 16 fp32),
 * A 4-5, B 6-7; per 64-key block 192 TDPBF16PS each for QKᵀ and PV at D = 128. MXCSR has FTZ/DAZ while
 * the kernel runs.
 * Schedule (qt_attn_amx_step): the H200 host's Xeon ran the vector work (softmax, P split, Ot·alpha + C:
 * ~1.8 cycles per score) after the tile products, not beside them (the whole kernel cost more than its
 * parts timed one after the other), and
 * AVX-512 instructions placed between TDPBF16PS ran beside them (16 FMAs per TDPBF16PS for free; at
 * about one vector instruction per cycle). So each driver step runs one tile's score products with the
 * previous tile's softmax and P split cut into units between its passes, then that tile's output
 * products with its Ot updates between theirs (32 rows behind; two C buffers), and the previous St stays
 * readable while the same tile is scored again (two St buffers, swapped).
 * Accuracy (H200 host, against the ref oracle on the same inputs): rel. Frobenius error 0.46-0.96× the
 * FMA kernel's, T 256-4096. Speed (amx_ab, one process; two calls): one thread 0.95-1.31× the FMA
 * kernel from T = 1024 (D = 128: 1.15-1.31× from T = 2048), PyTorch SDPA's time over its time 1.21-1.65
 * there (same calls; one noisy row 0.98); 16 threads 0.28-1.27× the FMA kernel, mostly below 1
 * (NOTES_cpu.md "Session 8"). Session 10 runs one thread head by head (a head's split parts stay in L2),
 * which brought T = 256-512 over the FMA kernel at D = 128 (1.05-1.23×); auto takes it on one thread
 * as amx_mode says.
 *
 * Handles all of DENSE: causal, the key-padding mask, shared_qk (cpu.c passes the normalised keys;
 * DENSE has no self-masking rule), any D (padded with zeros to a multiple of 32). Needs an AVX-512
 * build (the narrow tile of 32 queries); everything else (no AMX, QT_ATTN_AMX=0, other variants)
 * runs the FMA kernel.
 * Dispatch: CPUID (AMX-TILE, AMX-BF16, AVX512-BF16, AVX512F) and Linux arch_prctl(ARCH_REQ_XCOMP_PERM,
 * XFEATURE_XTILEDATA) once per process; the tile configuration is loaded in each OpenMP thread that
 * runs tiles and released after. QT_ATTN_AMX = 0 (FMA kernel), 1 (AMX; an error where the CPU has
 * none), emu (the same kernel over plain-C tiles with TDPBF16PS's SDM pseudo-code semantics: what
 * the tests check on CPUs without AMX; the real instruction rounds inside a pair or row differently,
 * a few ulp: tests compare the two with a tolerance), auto (default: AMX where it beat the FMA kernel on
 * the H200 host's Xeon, by thread count, T and D: see amx_mode).
 * The kernel is written once against four tile operations (load, zero, dot product, store); this
 * file includes itself twice to compile it over the intrinsics (function target attributes, so the
 * default build needs no AMX flags) and over the emulation.
 * Run: make test (tests/attention: the emulated kernel against ref on every run, the real one where
 * the CPU has AMX). */
#ifndef AMX_INSTANCE

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall */
#endif
#define QT_ATTN_NARROW 1
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_tile.h"

#if defined(__x86_64__) && defined(__AVX512F__) && QT_ATTN_BR == 32 && QT_ATTN_BC == 64
#define AMX_BUILT 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#define AMX_BUILT 0
#endif

/* One call's split keys and values. */
struct qt_attn_amx {
    int emu;
    int64_t T, D, Dp, Tp, nblk; /* Dp: D rounded up to 32; Tp = nblk·64 */
    uint16_t *kp; /* [bh][part][Tp][Dp] bf16: key rows (tile A of the scores) */
    uint16_t *vp; /* [bh][block][part][Dp][64] bf16: value columns per key block (tile A of the output) */
    unsigned char *aux; /* per OpenMP thread, QT_ATTN_GROUP tiles' scratch of aux_bytes(Dp) */
};

#if AMX_BUILT

#define BR QT_ATTN_BR
#define BC QT_ATTN_BC
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define TGT_HW __attribute__((target("amx-tile,amx-bf16")))

typedef float vf16 __attribute__((vector_size(64)));
typedef uint32_t vu16 __attribute__((vector_size(64)));
typedef uint16_t vh16 __attribute__((vector_size(32)));

ALWAYS_INLINE vf16 vld(const float *p) { vf16 v; memcpy(&v, p, sizeof v); return v; }
ALWAYS_INLINE void vst(void *p, vu16 v) { memcpy(p, &v, sizeof v); }

/* The three bf16 parts of 16 floats, as fp32 bit patterns (low halves zero): round to nearest even
 * on the bits (the same in both instances, so the emulated kernel checks the real one's splits). */
ALWAYS_INLINE void split3(vf16 x, vu16 h[3])
{
    for (int p = 0; p < 3; p++) {
        vu16 b = (vu16)x;
        h[p] = (b + 0x7FFFu + ((b >> 16) & 1u)) & 0xFFFF0000u;
        x -= (vf16)h[p];
    }
}

/* VNNI parts of a query-minor array (rows of 32 floats): dword [p][i][a] holds part p of rows 2i
 * (low half) and 2i + 1 (high half) at lane a, i < npairs; rows >= nvalid count as zero. Part p
 * starts at dst + p·pstride (dwords); a B tile is 16 pairs × 16 lanes, row stride 128 bytes. */
static void split_pairs(const float *src, int64_t nvalid, int64_t npairs, uint32_t *dst, int64_t pstride)
{
    for (int64_t i = 0; i < npairs; i++)
        for (int g = 0; g < 2; g++) {
            vf16 x0 = 2 * i < nvalid ? vld(src + 2 * i * BR + g * 16) : (vf16){0};
            vf16 x1 = 2 * i + 1 < nvalid ? vld(src + (2 * i + 1) * BR + g * 16) : (vf16){0};
            vu16 h0[3], h1[3];
            split3(x0, h0);
            split3(x1, h1);
            for (int p = 0; p < 3; p++) vst(dst + p * pstride + i * BR + g * 16, h1[p] | (h0[p] >> 16));
        }
}

/* split_pairs of one pair (rows src and src + BR, nvalid of them) with VCVTNE2PS2BF16 (round to nearest
 * even, as split3; DAZ/FTZ, which the kernel's MXCSR sets anyway) and a word permutation: 7 instructions
 * per part of 32 floats where split3 and the packing take 21. For the real tiles' P (AVX512-BF16 is
 * part of the AMX check). */
__attribute__((target("avx512bf16,avx512bw"))) static void split_pair_cvt(const float *src, int64_t nvalid,
                                                                            uint32_t *dst, int64_t pstride)
{
    static const uint16_t perm[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                      8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    __m512i ix = _mm512_loadu_si512(perm), hm = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int g = 0; g < 2; g++) {
        __m512 x0 = nvalid > 0 ? _mm512_loadu_ps(src + g * 16) : _mm512_setzero_ps();
        __m512 x1 = nvalid > 1 ? _mm512_loadu_ps(src + BR + g * 16) : _mm512_setzero_ps();
        for (int p = 0; p < 3; p++) {
            __m512i v = _mm512_permutexvar_epi16(ix, (__m512i)_mm512_cvtne2ps_pbh(x1, x0));
            _mm512_storeu_si512(dst + p * pstride + g * 16, v);
            if (p < 2) {
                x0 = _mm512_sub_ps(x0, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
                x1 = _mm512_sub_ps(x1, _mm512_castsi512_ps(_mm512_and_si512(v, hm)));
            }
        }
    }
}

/* 16 floats' three parts as bf16 at dst + p·pstride. */
ALWAYS_INLINE void split_store16(vf16 x, uint16_t *dst, int64_t pstride)
{
    vu16 h[3];
    split3(x, h);
    for (int p = 0; p < 3; p++) {
        vh16 n = __builtin_convertvector(h[p] >> 16, vh16);
        memcpy(dst + p * pstride, &n, sizeof n);
    }
}

/* The six passes (part of the A operand, part of the B operand): the five small ones first, then
 * hi·hi, so that the accumulator takes the small terms while it is small (each term of the last
 * pass then costs one fp32 rounding, as in the FMA kernel). Each small pass shares its A or its B
 * parts with the one before (lh, mh, mm, hm, hl: 12 tile loads per 20 TDPBF16PS; session 7's order
 * lh, mm, mh, hl, hm shared only A parts, 16 loads): H200 host, one thread, amx_cyc's whole kernel
 * 1.01-1.10x, amx_ab 0.98-1.09x but for two noisy cases (0.78x, 0.92x; NOTES_cpu.md "Session 8"). */
static const int PA[6] = {2, 1, 1, 0, 0, 0}, PB[6] = {0, 0, 1, 1, 2, 0};

/* A tile's per-query-tile scratch: the other St buffer's address (64 bytes), Q parts [3][Dp/2][32],
 * P parts [3][32][32] (dwords), C [2][32][32] floats, a second St [BC][32] floats (qt_attn_amx_step scores
 * a tile into it while the previous block's St of the same tile is still being read). */
static size_t aux_bytes(int64_t Dp) { return (size_t)(16 + 3 * (Dp / 2) * BR + 3 * 32 * BR + 2 * 32 * BR + BC * BR) * 4; }
static float **aux_alt(const qt_attn_tile_t *t) { return t->aux; }
static uint32_t *aux_q(const qt_attn_tile_t *t) { return (uint32_t *)t->aux + 16; }
static uint32_t *aux_p(const qt_attn_tile_t *t, int64_t Dp) { return aux_q(t) + 3 * (Dp / 2) * BR; }
static float *aux_c(const qt_attn_tile_t *t, int64_t Dp) { return (float *)(aux_p(t, Dp) + 3 * 32 * BR); }
static float *aux_st(const qt_attn_tile_t *t, int64_t Dp) { return aux_c(t, Dp) + 2 * 32 * BR; }

/* Ot rows d0 + r0 .. d0 + r1 - 1 (< D) = Ot·alpha + C (C: 32 rows from d0). */
static void combine(qt_attn_tile_t *t, int64_t d0, int r0, int r1, const float *c, const float *alpha)
{
    vf16 al0 = vld(alpha), al1 = vld(alpha + 16);
    for (int64_t d = d0 + r0; d < d0 + (r1 < 32 ? r1 : 32) && d < t->D; d++) {
        float *o = t->ot + d * BR;
        const float *cr = c + (d - d0) * BR;
        vf16 o0 = vld(o) * al0 + vld(cr), o1 = vld(o + 16) * al1 + vld(cr + 16);
        memcpy(o, &o0, sizeof o0);
        memcpy(o + 16, &o1, sizeof o1);
    }
}

/* The vector work of a scored tile's key block (masked St to P parts), cut into units that
 * qt_attn_amx_step runs between the tile products of the next tile's scores: two of the row max (32 rows
 * each), then per pair of key rows its probabilities and their split (the last also moves m and l). */
typedef struct {
    qt_attn_tile_t *t;
    int64_t Dp;
    int nk, unit, units, cvt; /* cvt: P split with split_pair_cvt */
    float mx[BR], sum[BR], alpha[BR];
} xwork_t;

static void xw_init(xwork_t *w, qt_attn_tile_t *t, int64_t Dp, int nk, int cvt)
{
    w->cvt = cvt;
    w->t = t;
    w->Dp = Dp;
    w->nk = nk;
    w->unit = 0;
    w->units = 2 + (nk + 31) / 32 * 16;
    memcpy(w->mx, t->m, sizeof w->mx);
    memset(w->sum, 0, sizeof w->sum);
}

static void xw_unit(xwork_t *w)
{
    int u = w->unit++, nk = w->nk;
    if (u < 2) {
        if (u * 32 < nk) qt_attn_tile_softmax_max(w->t, u * 32, nk < u * 32 + 32 ? nk : u * 32 + 32, w->mx);
        return;
    }
    int j = 2 * (u - 2);
    if (j < nk) qt_attn_tile_softmax_exp(w->t, j, nk < j + 2 ? nk : j + 2, w->mx, w->sum);
    if (w->cvt) split_pair_cvt(w->t->st + j * BR, nk - j, aux_p(w->t, w->Dp) + j / 2 * BR, 32 * BR);
    else split_pairs(w->t->st + j * BR, nk - j, 1, aux_p(w->t, w->Dp) + j / 2 * BR, 32 * BR);
    if (w->unit == w->units) qt_attn_tile_softmax_end(w->t, w->mx, w->sum, w->alpha);
}

/* Units until the share of pass `done` of `total` is reached. */
static void xw_run(xwork_t *w, int done, int total)
{
    int target = (int)(((int64_t)w->units * done + total - 1) / total);
    while (w->unit < target && w->unit < w->units) xw_unit(w);
}

/* ---- emulated tiles: TDPBF16PS as the SDM's pseudo-code defines it ---- */
typedef struct {
    unsigned char r[16][64];
} emu_tile_t;

static void emu_load(emu_tile_t *t, const void *base, int64_t stride)
{
    for (int i = 0; i < 16; i++) memcpy(t->r[i], (const char *)base + i * stride, 64);
}
static void emu_store(const emu_tile_t *t, void *base, int64_t stride)
{
    for (int i = 0; i < 16; i++) memcpy((char *)base + i * stride, t->r[i], 64);
}
static void emu_zero(emu_tile_t *t) { memset(t->r, 0, sizeof t->r); }
/* bf16 element i of a row as a float, denormals as zero (DAZ). */
static float emu_bf16(const unsigned char *row, int i)
{
    uint16_t h;
    memcpy(&h, row + 2 * i, 2);
    uint32_t u = (uint32_t)h << 16;
    if ((u & 0x7F800000u) == 0) u &= 0x80000000u;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* Flush a denormal result to zero (FTZ). */
static float emu_ftz(float x) { return fabsf(x) < FLT_MIN ? copysignf(0.0f, x) : x; }
/* c[m][n] += a[m][2k]·b[k][2n], then += a[m][2k+1]·b[k][2n+1], k ascending: two fp32 roundings per
 * pair (the bf16 products are exact in fp32). */
static void emu_dp(emu_tile_t *c, const emu_tile_t *a, const emu_tile_t *b)
{
    for (int m = 0; m < 16; m++) {
        float acc[16];
        memcpy(acc, c->r[m], sizeof acc);
        for (int k = 0; k < 16; k++) {
            float a0 = emu_bf16(a->r[m], 2 * k), a1 = emu_bf16(a->r[m], 2 * k + 1);
            for (int n = 0; n < 16; n++) {
                float p0 = a0 * emu_bf16(b->r[k], 2 * n), p1 = a1 * emu_bf16(b->r[k], 2 * n + 1);
                acc[n] = emu_ftz(acc[n] + p0);
                acc[n] = emu_ftz(acc[n] + p1);
            }
        }
        memcpy(c->r[m], acc, sizeof acc);
    }
}

/* ---- the kernel, once over each tile implementation ---- */
#define AMX_INSTANCE 1 /* emulated */
#define SFX(name) name##_emu
#define TGT
#define TILES emu_tile_t E[8]
#define TL(i, p, s) emu_load(&E[i], (p), (s))
#define TS(i, p, s) emu_store(&E[i], (p), (s))
#define TZ(i) emu_zero(&E[i])
#define TD(c, a, b) emu_dp(&E[c], &E[a], &E[b])
#include "cpu_amx.c"
#undef AMX_INSTANCE
#undef SFX
#undef TGT
#undef TILES
#undef TL
#undef TS
#undef TZ
#undef TD

#define AMX_INSTANCE 2 /* the intrinsics */
#define SFX(name) name##_hw
#define TGT TGT_HW
#define TILES (void)0
/* GCC's tile loads and stores are asm statements that name no memory: compiler barriers keep the
 * stores of the operands before the loads, and the reads of the results after the stores. */
#define TL(i, p, s) do { __asm__ volatile("" ::: "memory"); _tile_loadd(i, (p), (s)); } while (0)
#define TS(i, p, s) do { _tile_stored(i, (p), (s)); __asm__ volatile("" ::: "memory"); } while (0)
#define TZ(i) _tile_zero(i)
#define TD(c, a, b) _tile_dpbf16ps(c, a, b)
#include "cpu_amx.c"

/* Palette 1, tiles 0-7 of 16 rows × 64 bytes. A static object: GCC's _tile_loadconfig tells the
 * compiler it reads 8 bytes, so the stores that build a local configuration could be dropped. */
static const struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) tile_cfg = {.palette = 1,
                                           .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
                                           .rows = {16, 16, 16, 16, 16, 16, 16, 16}};
static TGT_HW void hw_config(void) { _tile_loadconfig(&tile_cfg); }
static TGT_HW void hw_release(void) { _tile_release(); }

/* 1 when the CPU has AMX-TILE, AMX-BF16, AVX512-BF16 and AVX512F and Linux grants the tile state. */
static int probe_amx(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(d & (1u << 22)) || !(d & (1u << 24)) || !(b & (1u << 16))) return 0;
    __cpuid_count(7, 1, a, b, c, d);
    if (!(a & (1u << 5))) return 0;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
}

static int cpu_amx(void)
{
    static int avail = -1; /* probed once per process (a race probes twice, to the same answer) */
    int a = __atomic_load_n(&avail, __ATOMIC_ACQUIRE);
    if (a < 0) {
        a = probe_amx();
        __atomic_store_n(&avail, a, __ATOMIC_RELEASE);
    }
    return a;
}
#endif /* AMX_BUILT */

/* QT_ATTN_AMX: *mode = 0 (FMA kernel), 1 (AMX), 2 (emulated tiles). auto (unset) takes the AMX kernel
 * where it beat the FMA kernel on the H200 host's Xeon, one thread (session 10's qk_ab: one process,
 * interleaved, best of 7, B = 1, H = 4, three runs; NOTES_cpu.md "Session 10"): non-causal from T = 256 at
 * D >= 128 (T = 256: 1.05-1.13x, 512: 1.14-1.23x) and from T = 512 at D = 64 (1.01-1.08x; T = 256:
 * 0.86-0.94x); causal, where its short rows leave the tile unit idle, from T = 512 at D >= 128
 * (1.03-1.10x; T = 256: 0.84-0.89x) and from T = 1024 at D = 64 (0.95-1.03x; T = 512: 0.90-0.94x). On more
 * threads the FMA kernel (16 threads, sessions 8 and 10: AMX 0.27-0.81x at T <= 2048, 0.72-1.19x at
 * 4096-8192, 0.90-1.27x at 16384, no class above 1 in every call but T = 16384 D = 128 non-causal,
 * 1.01-1.27x). */
static qt_status_t amx_mode(const qt_attn_cpu_call_t *c, int *mode)
{
    const char *e = getenv("QT_ATTN_AMX");
    *mode = 0;
    if (!e || !*e || !strcmp(e, "auto")) {
#if AMX_BUILT
        int64_t T = c->d.T, D = c->d.D;
        int64_t from = c->cfg->causal ? (D >= 128 ? 512 : 1024) : (D >= 128 ? 256 : 512);
        if (c->threads == 1 && D >= 64 && T >= from && cpu_amx()) *mode = 1;
#else
        (void)c;
#endif
        return QT_OK;
    }
    if (!strcmp(e, "0")) return QT_OK;
    if (strcmp(e, "1") && strcmp(e, "emu")) return qt_fail(QT_ERR_ARG, "QT_ATTN_AMX=%s: expected 0, 1, emu or auto", e);
#if AMX_BUILT
    if (!strcmp(e, "emu")) {
        *mode = 2;
        return QT_OK;
    }
    if (cpu_amx()) {
        *mode = 1;
        return QT_OK;
    }
    return qt_fail(QT_ERR_UNSUPPORTED, "QT_ATTN_AMX=1: this CPU (or kernel) offers no AMX-TILE/AMX-BF16/AVX512-BF16");
#else
    return qt_fail(QT_ERR_UNSUPPORTED, "QT_ATTN_AMX=%s: the AMX kernel is not built (it needs an x86-64 AVX-512 build)", e);
#endif
}

#if AMX_BUILT
/* Split and lay out key block blk of head bh (keys blk·64 ..; rows past T and columns past D zero);
 * tmp: D × 32 floats. */
static void prep_block(const struct qt_attn_amx *x, const qt_attn_cpu_call_t *c, int64_t bh, int64_t blk, float *tmp)
{
    int64_t T = x->T, D = x->D, Dp = x->Dp, k0 = blk * BC;
    uint16_t *kb = x->kp + bh * 3 * x->Tp * Dp;
    for (int64_t j = k0; j < k0 + BC; j++) {
        const float *row = c->k + (bh * T + j) * D;
        for (int64_t d0 = 0; d0 < Dp; d0 += 16) {
            vf16 v = {0};
            if (j < T && d0 + 16 <= D) v = vld(row + d0);
            else
                for (int64_t d = d0; j < T && d < D && d < d0 + 16; d++) v[d - d0] = row[d];
            split_store16(v, kb + j * Dp + d0, x->Tp * Dp);
        }
    }
    uint16_t *vb = x->vp + (bh * x->nblk + blk) * 3 * Dp * BC;
    for (int64_t h = 0; h < 2; h++) {
        int64_t a0 = k0 + h * 32, n = T - a0 < 32 ? T - a0 : 32;
        if (n > 0) qt_attn_tile_transpose(tmp, c->v + (bh * T + a0) * D, D, NULL, (int)n, D, 1.0f);
        for (int64_t d = 0; d < Dp; d++)
            for (int g = 0; g < 2; g++)
                split_store16(n > 0 && d < D ? vld(tmp + d * BR + g * 16) : (vf16){0}, vb + d * BC + h * 32 + g * 16,
                              Dp * BC);
    }
}
#endif

#if AMX_BUILT
/* A call's workspace (split K and V, the threads' tile scratch) up to WS_KEEP bytes is kept for the next
 * call (one block per process, taken and given back atomically, so concurrent calls each get their own):
 * fresh pages cost more than the kernel at small T on 16 threads. */
#define WS_KEEP ((size_t)32 << 20)
static void *ws_cache;
static void *ws_take(size_t n)
{
    size_t *w = __atomic_exchange_n(&ws_cache, NULL, __ATOMIC_ACQ_REL);
    if (w && w[0] >= n) return w;
    qt_free(w);
    w = qt_alloc(n + 64);
    if (w) w[0] = n;
    return w;
}
static void ws_give(void *w)
{
    if (((size_t *)w)[0] > WS_KEEP) qt_free(w);
    else qt_free(__atomic_exchange_n(&ws_cache, w, __ATOMIC_ACQ_REL));
}
#endif

qt_status_t qt_attn_cpu_dense_amx(const qt_attn_cpu_call_t *c, long long *pairs, int *done)
{
    int mode;
    *done = 0;
    QT_TRY(amx_mode(c, &mode));
    if (!mode) return QT_OK;
#if AMX_BUILT
    int64_t T = c->d.T, D = c->d.D, BH = c->d.B * c->d.H;
    struct qt_attn_amx x = {.emu = mode == 2, .T = T, .D = D, .Dp = (D + 31) / 32 * 32, .nblk = (T + BC - 1) / BC};
    x.Tp = x.nblk * BC;
    /* One thread: head by head, so that a head's parts (6 bytes per element of K and V) are still in L2
     * when its kernel reads them, and the next head splits into the same, cache-hot buffer. (H200 host,
     * B = 1 H = 4 T = 256 D = 128: splitting all heads first took 0.11-0.14 ms of a 0.9 ms call, bound by
     * memory traffic: the split's arithmetic done by VCVTNEPS2BF16 did not shorten it. Head by head, one
     * process, interleaved with the all-heads-first order, two clean runs: 1.04-1.06x at T = 256 D = 128,
     * 1.03-1.06x at T = 512 D = 128, 0.98-1.03x at T = 4096; NOTES_cpu.md "Session 10".) More threads: all
     * heads at once, split in parallel. */
    const int64_t nh = c->threads == 1 ? 1 : BH;
    size_t n = (size_t)(nh * 3 * x.Tp * x.Dp), na = aux_bytes(x.Dp) * QT_ATTN_GROUP;
    unsigned char *ws = ws_take(2 * n * sizeof(uint16_t) + na * (size_t)c->threads + 128);
    if (!ws) return qt_fail(QT_ERR_NOMEM, "AMX attention: split keys and values (%zu bf16 ×2)", n);
    x.kp = (uint16_t *)(ws + 64);
    x.vp = x.kp + n;
    x.aux = (unsigned char *)(((uintptr_t)(x.vp + n) + 63) & ~(uintptr_t)63);
    qt_status_t s = QT_OK;
    *done = 1;
    for (int64_t h0 = 0; h0 < BH && s == QT_OK; h0 += nh) {
        qt_attn_cpu_call_t c2 = *c; /* heads h0 … h0 + nh − 1 */
        if (nh < BH) {
            c2.q += h0 * T * D, c2.k += h0 * T * D, c2.v += h0 * T * D, c2.o += h0 * T * D;
            c2.mask = c->mask ? c->mask + h0 / c->d.H * T : NULL;
            c2.d.B = c2.d.H = 1;
        }
        int failed = 0;
#pragma omp parallel num_threads(c->threads)
        {
            float *tmp = qt_alloc((size_t)(D * BR) * sizeof(float));
            if (!tmp) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(static)
            for (int64_t it = 0; it < nh * x.nblk; it++)
                if (tmp) prep_block(&x, &c2, it / x.nblk, it % x.nblk, tmp);
            qt_free(tmp);
        }
        if (failed) {
            s = qt_fail(QT_ERR_NOMEM, "AMX attention: value transposition scratch");
        } else {
            c2.amx = &x;
            s = qt_attn_cpu_window_narrow(&c2, 1, pairs);
        }
    }
    ws_give(ws);
    return s;
#else
    (void)c;
    (void)pairs;
    return qt_fail(QT_ERR_UNSUPPORTED, "AMX attention not built");
#endif
}

#if AMX_BUILT
/* The thread's MXCSR while it runs the kernel with FTZ and DAZ set: the splits of tiny probabilities
 * (and their residuals) would otherwise take microcode assists on denormals, and TDPBF16PS reads
 * denormal parts as zero anyway (DAZ), so the tiles see the same operands. */
static _Thread_local unsigned saved_csr;

int qt_attn_amx_thread_begin(const qt_attn_amx_t *x, qt_attn_tile_t *tiles, int ng)
{
    size_t nb = aux_bytes(x->Dp);
    if (ng > QT_ATTN_GROUP) return -1;
    for (int i = 0; i < ng; i++) {
        tiles[i].aux = x->aux + nb * (size_t)(omp_get_thread_num() * QT_ATTN_GROUP + i);
        *aux_alt(&tiles[i]) = aux_st(&tiles[i], x->Dp);
    }
    saved_csr = _mm_getcsr();
    _mm_setcsr(saved_csr | 0x8040); /* FTZ | DAZ */
    if (!x->emu) hw_config();
    return 0;
}

void qt_attn_amx_thread_end(const qt_attn_amx_t *x, qt_attn_tile_t *tiles, int ng)
{
    _mm_setcsr(saved_csr);
    if (!x->emu) hw_release();
    for (int i = 0; i < ng; i++) tiles[i].aux = NULL;
}

void qt_attn_amx_load_q(const qt_attn_amx_t *x, qt_attn_tile_t *t)
{
    split_pairs(t->qt, x->D, x->Dp / 2, aux_q(t), x->Dp / 2 * BR);
}

void qt_attn_amx_step(const qt_attn_amx_t *x, qt_attn_tile_t *ts, int64_t bh, int64_t kts, int nks, qt_attn_tile_t *tp,
                      int64_t ktp, int nkp)
{
    if (x->emu) step_emu(x, ts, bh, kts, nks, tp, ktp, nkp);
    else step_hw(x, ts, bh, kts, nks, tp, ktp, nkp);
}
#else
int qt_attn_amx_thread_begin(const qt_attn_amx_t *x, qt_attn_tile_t *tiles, int ng) { (void)x, (void)tiles, (void)ng; return -1; }
void qt_attn_amx_thread_end(const qt_attn_amx_t *x, qt_attn_tile_t *tiles, int ng) { (void)x, (void)tiles, (void)ng; }
void qt_attn_amx_load_q(const qt_attn_amx_t *x, qt_attn_tile_t *t) { (void)x, (void)t; }
void qt_attn_amx_step(const qt_attn_amx_t *x, qt_attn_tile_t *ts, int64_t bh, int64_t kts, int nks, qt_attn_tile_t *tp,
                      int64_t ktp, int nkp)
{
    (void)x, (void)ts, (void)bh, (void)kts, (void)nks, (void)tp, (void)ktp, (void)nkp;
}
#endif

#else /* AMX_INSTANCE: the kernel over the tile operations TL, TS, TZ, TD (tiles: C 0-3, A 4-5, B 6-7) */

/* One step of passes s0 .. s1 - 1 into C 0-3: A tiles (rows a0, a0 + 16 rows·lda elements on, part p
 * at + p·ap) against B tiles (16 pairs × 16 queries at b0 and b0 + 16, part p at + p·bp). Loads are
 * interleaved with the dot products so that each waits only for the tile it needs; HOOK runs after each
 * pass (qt_attn_amx_step's vector work). */
#define PASSES(s0, s1, a0, lda, ap, b0, bp, HOOK)                                                           \
    for (int s = s0; s < s1; s++) {                                                                        \
        const uint16_t *a_ = (a0) + PA[s] * (ap);                                                          \
        const uint32_t *b_ = (b0) + PB[s] * (bp);                                                          \
        int new_a = s == s0 || PA[s] != PA[s - 1], new_b = s == s0 || PB[s] != PB[s - 1];                  \
        if (new_a) TL(4, a_, (lda) * 2);                                                                   \
        if (new_b) TL(6, b_, BR * 4);                                                                      \
        TD(0, 4, 6);                                                                                       \
        if (new_b) TL(7, b_ + 16, BR * 4);                                                                 \
        TD(1, 4, 7);                                                                                       \
        if (new_a) TL(5, a_ + 16 * (lda), (lda) * 2);                                                      \
        TD(2, 5, 6);                                                                                       \
        TD(3, 5, 7);                                                                                       \
        HOOK;                                                                                              \
    }

/* St (64 keys × 32 queries) of key block kt into st: per half of 32 keys, C = 2 × 2 tiles of 16 keys × 16
 * queries, per 32 columns of d the five small passes, then per 32 columns hi·hi (A: 16 key rows × 32 d,
 * B: 16 d pairs × 16 queries): each step's parts are re-read while they are in L1. w (or NULL): vector
 * work spread over the passes. */
static TGT void SFX(scores)(const struct qt_attn_amx *x, qt_attn_tile_t *t, float *st, int64_t bh, int64_t kt, int nk,
                            xwork_t *w)
{
    TILES;
    const int64_t Dp = x->Dp;
    const uint16_t *kb = x->kp + bh * 3 * x->Tp * Dp;
    const uint32_t *qx = aux_q(t);
    int np = 0, total = (nk + 31) / 32 * (int)(Dp / 32) * 6;
    for (int h = 0; h * 32 < nk; h++) {
        TZ(0);
        TZ(1);
        TZ(2);
        TZ(3);
        for (int64_t d0 = 0; d0 < Dp; d0 += 32) {
            PASSES(0, 5, kb + (kt + h * 32) * Dp + d0, Dp, x->Tp * Dp, qx + d0 / 2 * BR, Dp / 2 * BR,
                   if (w) xw_run(w, ++np, total))
        }
        for (int64_t d0 = 0; d0 < Dp; d0 += 32) {
            PASSES(5, 6, kb + (kt + h * 32) * Dp + d0, Dp, x->Tp * Dp, qx + d0 / 2 * BR, Dp / 2 * BR,
                   if (w) xw_run(w, ++np, total))
        }
        float *sh = st + h * 32 * BR;
        TS(0, sh, BR * 4);
        TS(1, sh + 16, BR * 4);
        TS(2, sh + 16 * BR, BR * 4);
        TS(3, sh + 16 * BR + 16, BR * 4);
    }
}

/* Ot = Ot·alpha + Vᵀ P over nkp (a multiple of 32) keys of block kt: per 32 rows of d, C = 2 × 2 tiles of
 * 16 d × 16 queries, per 32 keys the five small passes, then hi·hi (A: 16 d rows × 32 keys, B: 16 key
 * pairs × 16 queries). C goes to one of two buffers: the previous 32 rows' Ot·alpha + C runs a few rows
 * after each pass of the next 32 rows' products. */
static TGT void SFX(output)(const struct qt_attn_amx *x, qt_attn_tile_t *t, int64_t bh, int64_t kt, int nkp,
                            const float *alpha)
{
    TILES;
    const int64_t Dp = x->Dp;
    const uint16_t *vb = x->vp + (bh * x->nblk + kt / BC) * 3 * Dp * BC;
    const uint32_t *px = aux_p(t, Dp);
    float *cb = aux_c(t, Dp);
    int total = nkp / 32 * 6, rows = (32 + total - 1) / total;
    for (int64_t d0 = 0; d0 < Dp; d0 += 32) {
        float *cur = cb + (d0 / 32 % 2) * 32 * BR, *prev = cb + (1 - d0 / 32 % 2) * 32 * BR;
        int np = 0, r = 0;
        TZ(0);
        TZ(1);
        TZ(2);
        TZ(3);
        for (int k0 = 0; k0 < nkp; k0 += 32) {
            PASSES(0, 5, vb + d0 * BC + k0, BC, Dp * BC, px + k0 / 2 * BR, 32 * BR,
                   if (d0 > 0) { np++; combine(t, d0 - 32, r, np * rows, prev, alpha); r = np * rows; })
        }
        for (int k0 = 0; k0 < nkp; k0 += 32) {
            PASSES(5, 6, vb + d0 * BC + k0, BC, Dp * BC, px + k0 / 2 * BR, 32 * BR,
                   if (d0 > 0) { np++; combine(t, d0 - 32, r, np * rows, prev, alpha); r = np * rows; })
        }
        TS(0, cur, BR * 4);
        TS(1, cur + 16, BR * 4);
        TS(2, cur + 16 * BR, BR * 4);
        TS(3, cur + 16 * BR + 16, BR * 4);
    }
    combine(t, Dp - 32, 0, 32, cb + ((Dp / 32 - 1) % 2) * 32 * BR, alpha);
}

/* qt_attn_amx_step on this instance: tile ts's scores for block kts into its other St buffer, with tile
 * tp's vector work for block ktp (softmax, P split) between the passes, then tp's output products with
 * its Ot updates between the passes; ts's St buffers swap. */
static TGT void SFX(step)(const struct qt_attn_amx *x, qt_attn_tile_t *ts, int64_t bh, int64_t kts, int nks,
                          qt_attn_tile_t *tp, int64_t ktp, int nkp)
{
    xwork_t w;
    if (tp) xw_init(&w, tp, x->Dp, nkp, !x->emu);
    if (ts) {
        float *st = *aux_alt(ts);
        SFX(scores)(x, ts, st, bh, kts, nks, tp ? &w : NULL);
        *aux_alt(ts) = ts->st;
        ts->st = st;
    }
    if (tp) {
        xw_run(&w, 1, 1);
        SFX(output)(x, tp, bh, ktp, (nkp + 31) / 32 * 32, w.alpha);
    }
}

#undef PASSES
#endif /* AMX_INSTANCE */
