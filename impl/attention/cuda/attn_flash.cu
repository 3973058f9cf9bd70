/* attn_flash.cu — CUDA dense and sliding-window attention forward, numbered versions side by
 * side (llm.c's habit), each validated against a double-precision CPU reference by
 * tests/attention/cuda_attn_bench.cu before it is timed:
 *
 *   v1 naive   one thread per query row, online softmax over the row's key range, f32.
 *   v2 tiled   f32 SIMT: 64 queries × 64 keys per step, Q/K/V/S tiles in shared memory, each
 *              thread a 4×4 block of S and a 4×(D/16) block of O, exact expf (≤ 1e-5 rel).
 *   v3 mma     bf16/f16 tensor cores, FlashAttention-2 layout: a warp owns 16 query rows
 *              (Q fragments in registers via ldmatrix), S = QKᵀ and O += PV by
 *              mma.sync.m16n8k16 with f32 accumulators, P re-packed from the S accumulators
 *              in registers, online softmax with exp2 and per-thread partial row sums; K/V
 *              tiles of 64 keys double-buffered with cp.async (16-byte, zero-filled past the
 *              end), rows padded by 16 bytes (conflict-free ldmatrix); 4 warps.
 *   v4 mma     v3 with 8 warps (128 query rows share each K/V tile).
 *   v5 mma     each warp owns 32 query rows (two m16 tiles) and uses every K/V fragment it
 *              loads twice (half the shared-memory traffic per mma); 4 warps, BR 128; 64-key
 *              tiles for D 64, 32-key tiles for D 128 (registers); the softmax scale folded into
 *              one FFMA per score and ex2.approx.ftz.
 *   v6 mma     D 64: v5 with 8 warps (BR 256); D 128: v3 with v5's fast softmax.
 *   v7 mma     longer key tiles: D 64: v5 with 128-key tiles (half the barriers and softmax
 *              bookkeeping per key); D 128: v5 with 64-key tiles, made to fit the registers by
 *              reading the Q fragments from shared memory at each k-slice instead of keeping
 *              them (+25% ldmatrix traffic, for half the tiles).
 *   v8 mma     8 warps of 32 rows (BR 256: each K/V tile feeds twice the queries): D 64 with
 *              128-key tiles, D 128 with 32-key tiles.
 *   v9 mma     2 warps of 32 rows (BR 64): windows waste less on the tiles their edges cut (a
 *              W-key causal window computes W + BR keys per query), more blocks per SM; 64-key
 *              tiles (D 128: Q fragments from shared memory, as v7).
 *   v10 mma    D 64: v5, D 128: v7, each warp skipping the key tiles that miss all of its 32
 *              rows' windows (a W-key causal window then computes about W + 32 keys per query
 *              instead of W + 128; dense: nothing to skip).
 *   v11…v19    Hopper wgmma (sm_90a): attn_wgmma.cu; qt_cuda_attn_forward hands them over.
 *
 * Key sets (quintet/attention.h): dense, or the window {i + m·dil : -w_left <= m <= w_right},
 * with causal (w_right := 0) and an optional key-padding mask (B, T); a query with no valid key
 * outputs zeros. Dilation is handled by residue classes (attn_cuda.h): grid z = residue c, so a
 * block's queries and keys are positions c + dil·x and the window is contiguous in x. A block
 * visits only the key tiles its queries' windows intersect; tiles wholly inside every window
 * (and inside the sequence, no mask) skip the per-element checks. Causal grids start with
 * the heaviest query tiles.
 *
 * Build: part of libquintet (mk/build.mk compiles every impl/<module>/cuda/ .cu file with nvcc when CUDA links);
 * standalone: make cuda-attn-bench, or nvcc -O3 -gencode=arch=compute_90a,code=sm_90a -DQT_ATTN_SM90A
 * impl/attention/cuda/attn_*.cu tests/attention/cuda_attn_bench.cu -lcublas. Never build with
 * --use_fast_math (the LSH hashing in attn_lsh.cu must be exact). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "attn_cuda.h"
#include "attn_tc.cuh"
#include "tile_softmax.cuh"

/* ---------------------------------------------------------------- v1: naive */

__global__ void attn_v1_kernel(qt_cuda_attn_args_t a)
{
    int c = blockIdx.z;
    attn_geo g = attn_geo_of(a, c);
    int ii = blockIdx.x * blockDim.x + threadIdx.x;
    if (ii >= g.Tl) return;
    int bh = blockIdx.y, b = bh / a.H, D = a.D;
    size_t head = (size_t)bh * a.T * D;
    const float *Q = (const float *)a.q + head, *K = (const float *)a.k + head, *V = (const float *)a.v + head;
    float *O = (float *)a.o + head;
    int pi = c + a.dil * ii;
    float q[128], acc[128];
    for (int d = 0; d < D; d++) { q[d] = Q[(size_t)pi * D + d]; acc[d] = 0.f; }
    float m = -INFINITY, l = 0.f;
    int lo = max(0, ii - g.wl), hi = min(g.Tl - 1, ii + g.wr);
    for (int jj = lo; jj <= hi; jj++) {
        int pj = c + a.dil * jj;
        if (a.mask && a.mask[(size_t)b * a.T + pj] == 0.f) continue;
        float s = 0.f;
        for (int d = 0; d < D; d++) s += q[d] * K[(size_t)pj * D + d];
        s *= a.scale;
        float mn = fmaxf(m, s), al = expf(m - mn), p = expf(s - mn);
        l = l * al + p;
        for (int d = 0; d < D; d++) acc[d] = acc[d] * al + p * V[(size_t)pj * D + d];
        m = mn;
    }
    float inv = l > 0.f ? 1.f / l : 0.f;
    for (int d = 0; d < D; d++) O[(size_t)pi * D + d] = acc[d] * inv;
}

/* ---------------------------------------------------------------- v2: tiled f32 SIMT */

#define V2_BR 64
#define V2_BC 64

template <int D>
__global__ __launch_bounds__(256) void attn_v2_kernel(qt_cuda_attn_args_t a)
{
    constexpr int DP = D + 1; /* padded row: conflict-free column walks */
    constexpr int DC = D / 16;
    extern __shared__ float sm2[];
    float *Qs = sm2;                 /* [BR][DP] */
    float *Ks = Qs + V2_BR * DP;     /* [BC][DP] */
    float *Vs = Ks + V2_BC * DP;     /* [BC][DP] */
    float *Ss = Vs + V2_BC * DP;     /* [BR][BC+1] */
    float *Ms = Ss + V2_BR * (V2_BC + 1), *Ls = Ms + V2_BR, *As = Ls + V2_BR;
    int c = blockIdx.z;
    attn_geo g = attn_geo_of(a, c);
    int ntiles = (g.Tl + V2_BR - 1) / V2_BR;
    int qt = a.causal ? (int)gridDim.x - 1 - (int)blockIdx.x : (int)blockIdx.x;
    if (qt >= ntiles) return;
    int bh = blockIdx.y, b = bh / a.H;
    size_t head = (size_t)bh * a.T * D;
    const float *Q = (const float *)a.q + head, *K = (const float *)a.k + head, *V = (const float *)a.v + head;
    float *O = (float *)a.o + head;
    const float *mrow = a.mask ? a.mask + (size_t)b * a.T : nullptr;
    int tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;
    int i0 = qt * V2_BR, ilast = min(i0 + V2_BR, g.Tl) - 1;

    for (int e = tid; e < V2_BR * D; e += 256) {
        int r = e / D, d = e % D, ii = i0 + r;
        Qs[r * DP + d] = ii < g.Tl ? Q[(size_t)(c + a.dil * ii) * D + d] : 0.f;
    }
    if (tid < V2_BR) { Ms[tid] = -INFINITY; Ls[tid] = 0.f; }
    float o[4][DC];
#pragma unroll
    for (int r = 0; r < 4; r++)
#pragma unroll
        for (int dc = 0; dc < DC; dc++) o[r][dc] = 0.f;

    int lo = max(0, i0 - g.wl), hi = min(g.Tl - 1, ilast + g.wr);
    for (int j0 = (lo / V2_BC) * V2_BC; j0 <= hi; j0 += V2_BC) {
        __syncthreads(); /* previous tile's readers are done */
        for (int e = tid; e < V2_BC * D; e += 256) {
            int r = e / D, d = e % D, jj = j0 + r;
            bool in = jj < g.Tl;
            size_t off = (size_t)(c + a.dil * (in ? jj : 0)) * D + d;
            Ks[r * DP + d] = in ? K[off] : 0.f;
            Vs[r * DP + d] = in ? V[off] : 0.f;
        }
        __syncthreads();
        /* S = Q Kᵀ · scale for rows ty·4+r, columns tx + 16·cc */
        float s[4][4];
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int cc = 0; cc < 4; cc++) s[r][cc] = 0.f;
#pragma unroll 8
        for (int d = 0; d < D; d++) {
            float qv[4], kv[4];
#pragma unroll
            for (int r = 0; r < 4; r++) qv[r] = Qs[(ty * 4 + r) * DP + d];
#pragma unroll
            for (int cc = 0; cc < 4; cc++) kv[cc] = Ks[(tx + 16 * cc) * DP + d];
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int cc = 0; cc < 4; cc++) s[r][cc] = fmaf(qv[r], kv[cc], s[r][cc]);
        }
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int cc = 0; cc < 4; cc++) {
                int ii = i0 + ty * 4 + r, jj = j0 + tx + 16 * cc;
                int diff = jj - ii;
                bool ok = jj < g.Tl && diff >= -g.wl && diff <= g.wr &&
                          (!mrow || mrow[c + a.dil * jj] != 0.f);
                Ss[(ty * 4 + r) * (V2_BC + 1) + tx + 16 * cc] = ok ? s[r][cc] * a.scale : -INFINITY;
            }
        __syncthreads();
        qt_attn_tile_softmax_pv<V2_BC, DC, DP>(Ss, Ms, Ls, As, Vs, o, tid, tx, ty);
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int ii = i0 + ty * 4 + r;
        if (ii >= g.Tl) continue;
        float l = Ls[ty * 4 + r], inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
        for (int dc = 0; dc < DC; dc++) O[(size_t)(c + a.dil * ii) * D + tx + 16 * dc] = o[r][dc] * inv;
    }
}

/* ---------------------------------------------------------------- v3/v4: mma.sync */

__device__ __forceinline__ void ldsm_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

template <bool F16>
__device__ __forceinline__ void mma16816(float *c, const uint32_t *a, uint32_t b0, uint32_t b1)
{
    if (F16)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* D: head size; NW warps; WM m16 tiles per warp (a warp owns 16·WM query rows and reuses each
 * K/V fragment WM times: WM = 2 halves shared-memory traffic per mma); BC keys per tile; F16:
 * f16 instead of bf16; FAST: scale folded into one FFMA per score and ex2.approx; QREG: Q
 * fragments kept in registers (else re-read from shared memory at each k-slice); SKIPW: a warp
 * skips the key tiles that miss all of its own rows' windows (exact: those pairs are all masked). */
template <int D, int NW, int WM, int BC, bool F16, bool FAST, bool QREG, bool SKIPW>
__global__ __launch_bounds__(NW * 32) void attn_mma_kernel(qt_cuda_attn_args_t a)
{
    constexpr int BR = 16 * NW * WM, NT = NW * 32;
    constexpr int DP = D + 8;           /* padded row (elements): 16 bytes more per row */
    constexpr int KD = D / 16;          /* k-slices of QKᵀ */
    constexpr int NB = BC / 8;          /* n-blocks of S */
    constexpr int ND = D / 8;           /* n-blocks of O */
    constexpr int CH = D / 8;           /* 16-byte chunks per row */
    extern __shared__ __align__(16) uint16_t sm3[];
    uint16_t *Qs = sm3;                       /* [BR][DP] */
    uint16_t *Ks = Qs + BR * DP;              /* [2][BC][DP] */
    uint16_t *Vs = Ks + 2 * BC * DP;          /* [2][BC][DP] */
    float *Mb = (float *)(Vs + 2 * BC * DP);  /* [2][BC] key bias (0 / -inf) when masked */

    int c = blockIdx.z;
    attn_geo g = attn_geo_of(a, c);
    int ntiles = (g.Tl + BR - 1) / BR;
    int qt = a.causal ? (int)gridDim.x - 1 - (int)blockIdx.x : (int)blockIdx.x;
    if (qt >= ntiles) return;
    int bh = blockIdx.y, b = bh / a.H;
    size_t head = (size_t)bh * a.T * D;
    const uint16_t *Q = (const uint16_t *)a.q + head, *K = (const uint16_t *)a.k + head,
                   *V = (const uint16_t *)a.v + head;
    uint16_t *O = (uint16_t *)a.o + head;
    const float *mrow = a.mask ? a.mask + (size_t)b * a.T : nullptr;
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, gq = lane >> 2, tq = lane & 3;
    int i0 = qt * BR, ilast = min(i0 + BR, g.Tl) - 1;
    int lo = max(0, i0 - g.wl), hi = min(g.Tl - 1, ilast + g.wr);
    int jt0 = lo / BC, jt1 = hi / BC, n = jt1 - jt0 + 1;

    /* Q tile */
    for (int e = tid; e < BR * CH; e += NT) {
        int r = e / CH, ch = e % CH, ii = i0 + r;
        bool in = ii < g.Tl;
        cp_async16(smem_u32(Qs + r * DP + ch * 8), Q + (size_t)(c + a.dil * (in ? ii : 0)) * D + ch * 8, in);
    }
    auto load_kv = [&](int jt, int st) {
        int j0 = jt * BC;
        for (int e = tid; e < BC * CH; e += NT) {
            int r = e / CH, ch = e % CH, jj = j0 + r;
            bool in = jj < g.Tl;
            size_t off = (size_t)(c + a.dil * (in ? jj : 0)) * D + ch * 8;
            cp_async16(smem_u32(Ks + (st * BC + r) * DP + ch * 8), K + off, in);
            cp_async16(smem_u32(Vs + (st * BC + r) * DP + ch * 8), V + off, in);
        }
        if (mrow)
            for (int r = tid; r < BC; r += NT) {
                int jj = j0 + r;
                Mb[st * BC + r] = (jj < g.Tl && mrow[c + a.dil * jj] != 0.f) ? 0.f : -INFINITY;
            }
    };
    load_kv(jt0, 0);
    cp_async_commit();

    uint32_t qf[WM][KD][4];
    float o[WM][ND][4];
    float m[WM][2], l[WM][2];
    int row[WM][2]; /* this thread's query rows (local), e >> 1 selects */
#pragma unroll
    for (int w = 0; w < WM; w++) {
#pragma unroll
        for (int nd = 0; nd < ND; nd++) o[w][nd][0] = o[w][nd][1] = o[w][nd][2] = o[w][nd][3] = 0.f;
        m[w][0] = m[w][1] = -INFINITY;
        l[w][0] = l[w][1] = 0.f;
        row[w][0] = i0 + (warp * WM + w) * 16 + gq;
        row[w][1] = row[w][0] + 8;
    }
    const float sl2 = a.scale * QT_LOG2E;

    for (int it = 0; it < n; it++) {
        int st = it & 1, j0 = (jt0 + it) * BC;
        if (it + 1 < n) {
            load_kv(jt0 + it + 1, st ^ 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (QREG && it == 0) {
#pragma unroll
            for (int w = 0; w < WM; w++)
#pragma unroll
                for (int kk = 0; kk < KD; kk++)
                    ldsm_x4(smem_u32(Qs + ((warp * WM + w) * 16 + (lane & 15)) * DP + kk * 16 + (lane >> 4) * 8),
                            qf[w][kk][0], qf[w][kk][1], qf[w][kk][2], qf[w][kk][3]);
        }
        int wr0 = i0 + warp * WM * 16, wr1 = min(wr0 + WM * 16, g.Tl) - 1; /* this warp's rows */
        if (!SKIPW || (wr0 < g.Tl && j0 + BC - 1 >= wr0 - g.wl && j0 <= wr1 + g.wr)) {
        /* S = Q Kᵀ */
        float s[WM][NB][4];
#pragma unroll
        for (int w = 0; w < WM; w++)
#pragma unroll
            for (int nb = 0; nb < NB; nb++) s[w][nb][0] = s[w][nb][1] = s[w][nb][2] = s[w][nb][3] = 0.f;
        const uint16_t *Kst = Ks + st * BC * DP;
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
            uint32_t qs[WM][4]; /* !QREG: this k-slice's Q fragments */
            if (!QREG)
#pragma unroll
                for (int w = 0; w < WM; w++)
                    ldsm_x4(smem_u32(Qs + ((warp * WM + w) * 16 + (lane & 15)) * DP + kk * 16 + (lane >> 4) * 8),
                            qs[w][0], qs[w][1], qs[w][2], qs[w][3]);
#pragma unroll
            for (int jp = 0; jp < NB / 2; jp++) {
                uint32_t b0, b1, b2, b3;
                ldsm_x4(smem_u32(Kst + (jp * 16 + (lane & 7) + ((lane >> 4) << 3)) * DP + kk * 16 +
                                 ((lane >> 3) & 1) * 8),
                        b0, b1, b2, b3);
#pragma unroll
                for (int w = 0; w < WM; w++) {
                    mma16816<F16>(s[w][2 * jp], QREG ? qf[w][kk] : qs[w], b0, b1);
                    mma16816<F16>(s[w][2 * jp + 1], QREG ? qf[w][kk] : qs[w], b2, b3);
                }
            }
        }
        /* mask; scale (log2 domain) unless FAST folds it into the exponent's FFMA */
        bool need = mrow || j0 + BC > g.Tl || j0 - ilast < -g.wl || j0 + BC - 1 - i0 > g.wr;
        if (!FAST) {
#pragma unroll
            for (int w = 0; w < WM; w++)
#pragma unroll
                for (int nb = 0; nb < NB; nb++)
#pragma unroll
                    for (int e = 0; e < 4; e++) s[w][nb][e] *= sl2;
        }
        if (need) {
#pragma unroll
            for (int w = 0; w < WM; w++) attn_mask16<NB>(s[w], row[w][0], row[w][1], j0, tq, g, mrow ? Mb + st * BC : nullptr);
        }
        /* online softmax on rows row[w][0] (e = 0, 1) and row[w][1] (e = 2, 3) */
        uint32_t pk[WM][NB][2];
#pragma unroll
        for (int w = 0; w < WM; w++) attn_softmax16<NB, ND, F16, FAST>(s[w], m[w], l[w], o[w], pk[w], sl2);
        /* O += P V */
        const uint16_t *Vst = Vs + st * BC * DP;
#pragma unroll
        for (int kk = 0; kk < BC / 16; kk++) {
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t b0, b1, b2, b3;
                ldsm_x4_t(smem_u32(Vst + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * DP + dp * 16 +
                                   (lane >> 4) * 8),
                          b0, b1, b2, b3);
#pragma unroll
                for (int w = 0; w < WM; w++) {
                    uint32_t pa[4] = {pk[w][2 * kk][0], pk[w][2 * kk][1], pk[w][2 * kk + 1][0], pk[w][2 * kk + 1][1]};
                    mma16816<F16>(o[w][2 * dp], pa, b0, b1);
                    mma16816<F16>(o[w][2 * dp + 1], pa, b2, b3);
                }
            }
        }
        } /* SKIPW */
        __syncthreads(); /* stage st is refilled by the next iteration's prefetch */
    }
#pragma unroll
    for (int w = 0; w < WM; w++) attn_store16<ND, F16>(o[w], l[w], row[w][0], row[w][1], tq, g, a.dil, O);
}

/* ---------------------------------------------------------------- launchers */

extern "C" int qt_cuda_attn_version_supports(int version, int dtype, int D)
{
    switch (version) {
    case 1: return dtype == QT_CUDA_ATTN_F32 && D >= 1 && D <= 128;
    case 2: return dtype == QT_CUDA_ATTN_F32 && (D == 16 || D == 32 || D == 64 || D == 128);
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
    case 10: return (dtype == QT_CUDA_ATTN_BF16 || dtype == QT_CUDA_ATTN_F16) && (D == 64 || D == 128);
    case 11:
    case 12:
    case 13:
    case 14:
    case 15:
    case 16:
    case 17:
    case 18:
    case 19: return qt_cuda_attn_wgmma_supports(version, dtype, D); /* attn_wgmma.cu: sm_90a */
    default: return 0;
    }
}

extern "C" int qt_cuda_attn_default_version(int dtype, int D)
{
    const char *env = getenv("QT_CUDA_ATTN_KERNEL"); /* tests and benchmarks: force a version */
    int want = env ? atoi(env) : 0;
    if (want && qt_cuda_attn_version_supports(want, dtype, D)) return want;
    static int told; /* a forced version that does not apply must not pass for a test of it */
    if (want && !told++)
        fprintf(stderr, "QT_CUDA_ATTN_KERNEL=%d does not run dtype %d, D %d here: the default version runs\n", want,
                dtype, D);
    if (dtype == QT_CUDA_ATTN_F32) return qt_cuda_attn_version_supports(2, dtype, D) ? 2 : D >= 1 && D <= 128 ? 1 : 0;
    /* measured on the H200 (NOTES.md, runs 4–7): run 7, bf16: D 128 dense T 16384 v11 402 vs v12 343
     * vs v10 335 TFLOP/s; D 64 causal window W 1024 v12 282 vs v10 242 vs v5 237 (v11 221). Where
     * the wgmma kernels are not built or the device is not cc 9.0: D 128 v10 (337 vs v7 321 vs v5
     * 289 in run 6), D 64 v5 (293; v7 277, v8 257). */
    int fast = D == 128 ? 11 : 12;
    if (qt_cuda_attn_version_supports(fast, dtype, D)) return fast;
    if (D == 128 && qt_cuda_attn_version_supports(10, dtype, D)) return 10;
    return qt_cuda_attn_version_supports(5, dtype, D) ? 5 : 0;
}

/* Launch one instantiation with its dynamic shared memory. */
template <typename KernelT>
static int launch(KernelT kern, dim3 grid, int threads, size_t smem, const qt_cuda_attn_args_t *a, cudaStream_t st)
{
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return (int)e;
    }
    kern<<<grid, threads, smem, st>>>(*a);
    return (int)cudaGetLastError();
}

template <int D, int NW, int WM, int BC, bool FAST, bool QREG = true, bool SKIPW = false>
static int launch_mma(const qt_cuda_attn_args_t *a, cudaStream_t st)
{
    constexpr int BR = 16 * NW * WM;
    int Tl = (a->T + a->dil - 1) / a->dil;
    dim3 grid((Tl + BR - 1) / BR, a->B * a->H, a->dil);
    size_t smem = (size_t)(BR + 4 * BC) * (D + 8) * 2 + 2 * BC * sizeof(float);
    if (a->dtype == QT_CUDA_ATTN_F16)
        return launch(attn_mma_kernel<D, NW, WM, BC, true, FAST, QREG, SKIPW>, grid, NW * 32, smem, a, st);
    return launch(attn_mma_kernel<D, NW, WM, BC, false, FAST, QREG, SKIPW>, grid, NW * 32, smem, a, st);
}

template <int D>
static int launch_v2(const qt_cuda_attn_args_t *a, cudaStream_t st)
{
    int Tl = (a->T + a->dil - 1) / a->dil;
    dim3 grid((Tl + V2_BR - 1) / V2_BR, a->B * a->H, a->dil);
    size_t smem = ((size_t)(V2_BR + 2 * V2_BC) * (D + 1) + V2_BR * (V2_BC + 1) + 3 * V2_BR) * sizeof(float);
    return launch(attn_v2_kernel<D>, grid, 256, smem, a, st);
}

extern "C" int qt_cuda_attn_forward(int version, const qt_cuda_attn_args_t *a, void *stream)
{
    if (!a || !qt_cuda_attn_version_supports(version, a->dtype, a->D) || a->dil < 1 || a->B * a->H > 65535 ||
        a->dil > 65535)
        return -1;
    if (version >= 11) return qt_cuda_attn_wgmma_forward(version, a, stream);
    cudaStream_t st = (cudaStream_t)stream;
    if (version == 1) {
        int Tl = (a->T + a->dil - 1) / a->dil;
        dim3 grid((Tl + 127) / 128, a->B * a->H, a->dil);
        attn_v1_kernel<<<grid, 128, 0, st>>>(*a);
        return (int)cudaGetLastError();
    }
    if (version == 2) {
        switch (a->D) {
        case 16: return launch_v2<16>(a, st);
        case 32: return launch_v2<32>(a, st);
        case 64: return launch_v2<64>(a, st);
        default: return launch_v2<128>(a, st);
        }
    }
    switch (version) {
    case 3: return a->D == 64 ? launch_mma<64, 4, 1, 64, false>(a, st) : launch_mma<128, 4, 1, 64, false>(a, st);
    case 4: return a->D == 64 ? launch_mma<64, 8, 1, 64, false>(a, st) : launch_mma<128, 8, 1, 64, false>(a, st);
    case 5: return a->D == 64 ? launch_mma<64, 4, 2, 64, true>(a, st) : launch_mma<128, 4, 2, 32, true>(a, st);
    case 6: return a->D == 64 ? launch_mma<64, 8, 2, 64, true>(a, st) : launch_mma<128, 4, 1, 64, true>(a, st);
    case 7:
        return a->D == 64 ? launch_mma<64, 4, 2, 128, true>(a, st) : launch_mma<128, 4, 2, 64, true, false>(a, st);
    case 8:
        return a->D == 64 ? launch_mma<64, 8, 2, 128, true>(a, st) : launch_mma<128, 8, 2, 32, true>(a, st);
    case 9:
        return a->D == 64 ? launch_mma<64, 2, 2, 64, true>(a, st) : launch_mma<128, 2, 2, 64, true, false>(a, st);
    default:
        return a->D == 64 ? launch_mma<64, 4, 2, 64, true, true, true>(a, st)
                          : launch_mma<128, 4, 2, 64, true, false, true>(a, st);
    }
}
