/* attn_tc.cuh — device helpers shared by the tensor-core attention kernels of attn_flash.cu
 * (mma.sync, v3…v10) and attn_wgmma.cu (wgmma, v11/v12): the per-residue geometry, cp.async
 * staging, bf16/f16 packing, exp2, and the mask and online-softmax step on a 16-row score tile
 * held in mma's accumulator layout (thread lane holds rows lane/4 and lane/4 + 8, columns
 * 8·nb + 2·(lane%4) + {0, 1}: mma.sync m16n8's C fragment and, per warp, wgmma's m64nN one).
 * Included by those .cu files only; validated with them (cuda-attn-bench, test_attention_cuda). */
#ifndef QUINTET_ATTN_TC_CUH
#define QUINTET_ATTN_TC_CUH
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include "attn_cuda.h"

#define QT_LOG2E 1.4426950408889634f

/* The per-launch geometry of a (bh, residue) pair. */
struct attn_geo {
    int Tl;     /* positions of this residue class: c, c+dil, … < T */
    int c;      /* residue */
    int wl, wr; /* window extents in local units (wr = 0 when causal) */
};

__device__ __forceinline__ attn_geo attn_geo_of(const qt_cuda_attn_args_t &a, int c)
{
    attn_geo g;
    g.c = c;
    g.Tl = (a.T - c + a.dil - 1) / a.dil;
    g.wl = a.w_left;
    g.wr = a.causal ? 0 : a.w_right;
    return g;
}

__device__ __forceinline__ uint32_t smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* 16 bytes global → shared, zero-filled when !in */
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool in)
{
    int n = in ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <bool F16> __device__ __forceinline__ uint32_t pack2(float x, float y)
{
    if (F16) {
        __half2 h = __floats2half2_rn(x, y);
        return *reinterpret_cast<uint32_t *>(&h);
    } else {
        __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
        return *reinterpret_cast<uint32_t *>(&h);
    }
}

/* 2^x: exact exp2f (v3, v4) or the MUFU instruction with flush-to-zero (v5 on; its ≤ 2 ulp error
 * is far below bf16's rounding of P). */
template <bool FAST> __device__ __forceinline__ float exp2_(float x)
{
    if (FAST) {
        float y;
        asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
        return y;
    }
    return exp2f(x);
}

/* Scores outside the key set → -inf, for the thread's rows r0, r1 (local positions) and the key
 * tile starting at j0 (bias Mb: 0 / -inf per key when there is a padding mask). */
template <int NB>
__device__ __forceinline__ void attn_mask16(float (&s)[NB][4], int r0, int r1, int j0, int tq, const attn_geo &g,
                                            const float *Mb)
{
#pragma unroll
    for (int nb = 0; nb < NB; nb++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int jl = nb * 8 + 2 * tq + (e & 1), jj = j0 + jl;
            int diff = jj - ((e >> 1) ? r1 : r0);
            bool ok = jj < g.Tl && diff >= -g.wl && diff <= g.wr;
            if (Mb) ok = ok && Mb[jl] == 0.f;
            if (!ok) s[nb][e] = -INFINITY;
        }
}

/* Online softmax of one 16-row score tile (raw scores; sl2 = scale·log2 e; FAST: scale folded into
 * the exponent's FFMA and ex2.approx, else s already scaled to the log2 domain): updates the row
 * maxima m and partial sums l (this thread's columns only; reduced over the quad at the end), packs
 * P as the next MMA's A fragments pk, and returns in al the factors the output rows must be
 * rescaled by (attn_rescale16) before P·V is added. */
template <int NB, bool F16, bool FAST>
__device__ __forceinline__ void attn_softmax16_p(float (&s)[NB][4], float (&m)[2], float (&l)[2], uint32_t (&pk)[NB][2],
                                                 float sl2, float (&al)[2])
{
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int nb = 0; nb < NB; nb++) {
        mx0 = fmaxf(mx0, fmaxf(s[nb][0], s[nb][1]));
        mx1 = fmaxf(mx1, fmaxf(s[nb][2], s[nb][3]));
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    float mn0 = fmaxf(m[0], mx0), mn1 = fmaxf(m[1], mx1);
    float mu0 = mn0 == -INFINITY ? 0.f : mn0, mu1 = mn1 == -INFINITY ? 0.f : mn1;
    float ps0 = 0.f, ps1 = 0.f;
    if (FAST) {
        float ms0 = mu0 * sl2, ms1 = mu1 * sl2;
        al[0] = exp2_<true>(fmaf(m[0], sl2, -ms0));
        al[1] = exp2_<true>(fmaf(m[1], sl2, -ms1));
#pragma unroll
        for (int nb = 0; nb < NB; nb++) {
            float p0 = exp2_<true>(fmaf(s[nb][0], sl2, -ms0)), p1 = exp2_<true>(fmaf(s[nb][1], sl2, -ms0));
            float p2 = exp2_<true>(fmaf(s[nb][2], sl2, -ms1)), p3 = exp2_<true>(fmaf(s[nb][3], sl2, -ms1));
            ps0 += p0 + p1;
            ps1 += p2 + p3;
            pk[nb][0] = pack2<F16>(p0, p1);
            pk[nb][1] = pack2<F16>(p2, p3);
        }
    } else {
        al[0] = exp2f(m[0] - mu0);
        al[1] = exp2f(m[1] - mu1);
#pragma unroll
        for (int nb = 0; nb < NB; nb++) {
            float p0 = exp2f(s[nb][0] - mu0), p1 = exp2f(s[nb][1] - mu0);
            float p2 = exp2f(s[nb][2] - mu1), p3 = exp2f(s[nb][3] - mu1);
            ps0 += p0 + p1;
            ps1 += p2 + p3;
            pk[nb][0] = pack2<F16>(p0, p1);
            pk[nb][1] = pack2<F16>(p2, p3);
        }
    }
    m[0] = mn0;
    m[1] = mn1;
    l[0] = l[0] * al[0] + ps0;
    l[1] = l[1] * al[1] + ps1;
}

template <int ND> __device__ __forceinline__ void attn_rescale16(float (&o)[ND][4], const float (&al)[2])
{
#pragma unroll
    for (int nd = 0; nd < ND; nd++) {
        o[nd][0] *= al[0];
        o[nd][1] *= al[0];
        o[nd][2] *= al[1];
        o[nd][3] *= al[1];
    }
}

/* attn_softmax16_p, then the rescale of the output accumulator o (ND n-blocks of 8) */
template <int NB, int ND, bool F16, bool FAST>
__device__ __forceinline__ void attn_softmax16(float (&s)[NB][4], float (&m)[2], float (&l)[2], float (&o)[ND][4],
                                               uint32_t (&pk)[NB][2], float sl2)
{
    float al[2];
    attn_softmax16_p<NB, F16, FAST>(s, m, l, pk, sl2, al);
    attn_rescale16<ND>(o, al);
}

/* Epilogue of one 16-row tile: O rows r0, r1 (local) = o / l (l reduced over the quad; a row with
 * no key: zeros), written as bf16/f16 pairs to O (the head's base). */
template <int ND, bool F16>
__device__ __forceinline__ void attn_store16(const float (&o)[ND][4], const float (&l)[2], int r0, int r1, int tq,
                                             const attn_geo &g, int dil, uint16_t *O)
{
    constexpr int D = ND * 8;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        float lh = l[h];
        lh += __shfl_xor_sync(0xffffffffu, lh, 1);
        lh += __shfl_xor_sync(0xffffffffu, lh, 2);
        float inv = lh > 0.f ? 1.f / lh : 0.f;
        int r = h ? r1 : r0;
        if (r < g.Tl) {
            uint16_t *orow = O + (size_t)(g.c + dil * r) * D;
#pragma unroll
            for (int nd = 0; nd < ND; nd++)
                *reinterpret_cast<uint32_t *>(orow + nd * 8 + 2 * tq) = pack2<F16>(o[nd][2 * h] * inv, o[nd][2 * h + 1] * inv);
        }
    }
}
#endif
