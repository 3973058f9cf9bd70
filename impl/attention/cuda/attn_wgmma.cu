/* attn_wgmma.cu — CUDA dense and sliding-window attention forward on Hopper's warpgroup MMA
 * (wgmma.mma_async, sm_90a), the numbered versions after attn_flash.cu's v1…v10:
 *
 *   v11 wgmma  two consumer warpgroups of 64 query rows each (BR 128, 256 threads); K/V tiles
 *              of BC keys staged in shared memory by cp.async (16-byte, zero-filled past the
 *              end, double-buffered), written in wgmma's 128-byte-swizzled layout (64-column
 *              panels of 128-byte rows, 16-byte chunk c of row r at c ^ (r % 8)); S = Q·Kᵀ by
 *              SS-wgmma (Q and K both K-major in shared memory), f32 online softmax in
 *              registers (attn_tc.cuh), O += P·V by RS-wgmma (P re-packed from the S
 *              accumulators as A fragments, V read MN-major through the transpose bit); D 128
 *              and D 64 with 128-key tiles.
 *   v12 wgmma  v11 with 64-key tiles three stages deep (prefetch two tiles ahead; fewer
 *              registers: D 64 runs two blocks per multiprocessor).
 *   v13 wgmma  FlashAttention-3's intra-warpgroup overlap: step it issues S of tile it+1, then
 *              O += P·V of tile it, waits for S only and runs the softmax of tile it+1 while P·V
 *              is still on the tensor cores (P in two register buffers in turn); three stages.
 *              D 128: 128-key tiles; D 64: 64-key tiles, two blocks per multiprocessor.
 *   v14        v13 with the other tile length (D 128: 64 keys; D 64: 128 keys).
 *   v15        v13 with one warpgroup per block (64 query rows), two blocks per multiprocessor
 *              (D 128: 64-key tiles; D 64: 128-key tiles).
 *   v16, v17   warp-specialised: a producer warp loads (cp.async, four stages, "full"/"empty"
 *              mbarriers), the two consumer warpgroups run v13's step with no block barrier in the
 *              loop; v17 adds ping-pong (the warpgroups take turns issuing their MMAs, named
 *              barriers). 64-key tiles.
 *   v18, v19   v16, v17 with a producer warpgroup that gives registers to the consumers
 *              (setmaxnreg 40 / 232) and 128-key tiles (D 128: three stages; D 64: four).
 *
 * Same key sets, residue classes of the dilation, mask handling and tile visiting as
 * attn_flash.cu (its comment; attn_cuda.h); each warpgroup skips the key tiles that miss all of
 * its 64 rows' windows. Memory ordering: cp.async writes are generic-proxy writes that wgmma reads
 * through the async proxy, so each thread fences (fence.proxy.async) after its copies land and
 * before the block barrier.
 *
 * Build: mk/build.mk compiles this file (and cuda-attn-bench) for sm_90a only
 * (-gencode=arch=compute_90a,code=sm_90a -DQT_ATTN_SM90A); without QT_ATTN_SM90A (another
 * NVCC_GENCODE given) the kernels are left out and v11/v12 report themselves unsupported. They
 * also need a compute-capability 9.0 device at run time. Validated against the double CPU
 * reference by tests/attention/cuda_attn_bench.cu (every version before timing) and
 * tests/attention/test_attention_cuda.c (QT_CUDA_ATTN_KERNEL=11 … 19). */
#include <cuda_runtime.h>
#include <stdint.h>

#include "attn_cuda.h"
#include "attn_tc.cuh"
#ifdef QT_ATTN_SM90A
#include "wgmma.cuh"
#endif

/* shared-memory matrix descriptor, 128-byte swizzle (PTX ISA "matrix descriptor"): start
 * address, leading and stride byte offsets in 16-byte units */
__device__ __forceinline__ uint64_t wg_desc(uint32_t addr, uint32_t lbo, uint32_t sbo)
{
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32) |
           (1ull << 62);
}

/* byte offset of 16-byte chunk ch (of D/8) of row r in an R-row tile stored as 64-column panels */
template <int R> __device__ __forceinline__ uint32_t sw_off(int r, int ch)
{
    return (uint32_t)((ch >> 3) * R * 128 + r * 128 + (((ch & 7) ^ (r & 7)) << 4));
}

/* dynamic shared memory of a block (wg_block's layout): alignment slack, Q, ST stages of K and V,
 * the key bias, the ST "full" and ST "empty" mbarriers of the warp-specialised kernel */
static constexpr size_t wg_smem(int D, int BC, int ST, int NWG)
{
    return 1024 + (size_t)(64 * NWG + 2 * ST * BC) * D * 2 + (size_t)ST * BC * sizeof(float) + 2 * ST * 8;
}

#ifdef QT_ATTN_SM90A
/* One block's share of the work and its shared-memory tiles: 64·NWG query rows (NWG warpgroups
 * of 64), key tiles t = 0 … n-1 (tile jt0 + t of BC keys), ST stages of K and V. D head size. */
template <int D, int BC, int ST, int NWG, bool F16> struct wg_block {
    static constexpr int BR = 64 * NWG, NT = 128 * NWG;
    static constexpr int CH = D / 8;  /* 16-byte chunks per row */
    static constexpr int NB = BC / 8; /* n-blocks of S */
    static constexpr int ND = D / 8;  /* n-blocks of O */
    static constexpr uint32_t QB = BR * D * 2, KB = BC * D * 2;

    uint32_t sQ, sK, sV; /* shared addresses, sQ 1024-byte aligned (swizzle atoms) */
    float *Mb;           /* [ST][BC] key bias (0 / -inf) when masked */
    attn_geo g;
    const uint16_t *Q, *K, *V;
    uint16_t *O;
    const float *mrow;
    int dil, tid, wg, tq, r0, r1, i0, ilast, jt0, n, wr0, wr1;

    /* false: this block has no query tile */
    __device__ bool init(const qt_cuda_attn_args_t &a, uint8_t *smw)
    {
        uint32_t raw = smem_u32(smw);
        sQ = (raw + 1023u) & ~1023u;
        sK = sQ + QB;
        sV = sK + ST * KB;
        Mb = (float *)(smw + (sV + ST * KB - raw));
        g = attn_geo_of(a, blockIdx.z);
        int ntiles = (g.Tl + BR - 1) / BR;
        int qt = a.causal ? (int)gridDim.x - 1 - (int)blockIdx.x : (int)blockIdx.x;
        if (qt >= ntiles) return false;
        int bh = blockIdx.y, b = bh / a.H;
        size_t head = (size_t)bh * a.T * D;
        Q = (const uint16_t *)a.q + head, K = (const uint16_t *)a.k + head, V = (const uint16_t *)a.v + head;
        O = (uint16_t *)a.o + head;
        mrow = a.mask ? a.mask + (size_t)b * a.T : nullptr;
        dil = a.dil;
        tid = threadIdx.x, wg = tid >> 7, tq = tid & 3;
        i0 = qt * BR, ilast = min(i0 + BR, g.Tl) - 1;
        int lo = max(0, i0 - g.wl), hi = min(g.Tl - 1, ilast + g.wr);
        jt0 = lo / BC, n = hi / BC - jt0 + 1;
        r0 = i0 + wg * 64 + ((tid >> 5) & 3) * 16 + ((tid & 31) >> 2), r1 = r0 + 8;
        wr0 = i0 + wg * 64, wr1 = min(wr0 + 64, g.Tl) - 1; /* this warpgroup's rows */
        return true;
    }
    /* Q by NL threads, this one the ld-th (the block's NT threads unless a producer warp loads) */
    template <int NL = NT> __device__ void load_q(int ld)
    {
        for (int e = ld; e < BR * CH; e += NL) {
            int r = e / CH, ch = e % CH, ii = i0 + r;
            bool in = ii < g.Tl;
            cp_async16(sQ + sw_off<BR>(r, ch), Q + (size_t)(g.c + dil * (in ? ii : 0)) * D + ch * 8, in);
        }
    }
    /* key tile t into stage st (no commit), by NL threads as load_q */
    template <int NL = NT> __device__ void load_kv(int t, int st, int ld)
    {
        int j0 = (jt0 + t) * BC;
#pragma unroll 4
        for (int e = ld; e < BC * CH; e += NL) {
            int r = e / CH, ch = e % CH, jj = j0 + r;
            bool in = jj < g.Tl;
            size_t off = (size_t)(g.c + dil * (in ? jj : 0)) * D + ch * 8;
            uint32_t so = st * KB + sw_off<BC>(r, ch);
            cp_async16(sK + so, K + off, in);
            cp_async16(sV + so, V + off, in);
        }
        if (mrow)
            for (int r = ld; r < BC; r += NL) {
                int jj = j0 + r;
                Mb[st * BC + r] = (jj < g.Tl && mrow[g.c + dil * jj] != 0.f) ? 0.f : -INFINITY;
            }
    }
    /* this thread's copies landed (all but the newest W groups), visible to wgmma once every
     * thread has passed the barrier that follows */
    template <int W> __device__ void landed()
    {
        cp_async_wait<W>();
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
    }
    /* the warpgroup's rows meet tile t's keys (uniform over the warpgroup) */
    __device__ bool active(int t) const
    {
        int j0 = (jt0 + t) * BC;
        return t >= 0 && t < n && wr0 < g.Tl && j0 + BC - 1 >= wr0 - g.wl && j0 <= wr1 + g.wr;
    }
    /* issue S = Q Kᵀ for tile t (D/16 k-slices; slice kk is 32 bytes into panel kk/4's rows), committed */
    __device__ void issue_s(float (&s)[NB][4], int t)
    {
        float(&sf)[NB * 4] = reinterpret_cast<float(&)[NB * 4]>(s);
        const uint32_t qw = sQ + wg * 64 * 128, kst = sK + (t % ST) * KB;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint64_t da = wg_desc(qw + (kk >> 2) * BR * 128 + (kk & 3) * 32, 16, 1024);
            uint64_t db = wg_desc(kst + (kk >> 2) * BC * 128 + (kk & 3) * 32, 16, 1024);
            wgmma_op<BC, F16>::ss(sf, da, db, kk > 0);
        }
        wgmma_commit();
    }
    /* the finished S of tile t: keys outside the key set → -inf */
    __device__ void mask(float (&s)[NB][4], int t) const
    {
        int j0 = (jt0 + t) * BC;
        bool need = mrow || j0 + BC > g.Tl || j0 - ilast < -g.wl || j0 + BC - 1 - i0 > g.wr;
        if (need) attn_mask16<NB>(s, r0, r1, j0, tq, g, mrow ? Mb + (t % ST) * BC : nullptr);
    }
    /* issue O += P V for tile t (BC/16 k-slices of 16 keys, 2048 bytes of each panel; N = D spans
     * D/64 panels BC·128 bytes apart: leading byte offset; 8-key groups 1024 apart: stride), committed.
     * FENCE false: right after issue_s (its fence covers o and pk; touching o here would serialize) */
    template <bool FENCE = true> __device__ void issue_pv(float (&o)[ND][4], const uint32_t (&pk)[NB][2], int t)
    {
        float(&of)[ND * 4] = reinterpret_cast<float(&)[ND * 4]>(o);
        const uint32_t vst = sV + (t % ST) * KB;
        if (FENCE) {
            wgmma_pin(of);
            wgmma_fence();
        }
#pragma unroll
        for (int kk = 0; kk < BC / 16; kk++) {
            const uint32_t pa[4] = {pk[2 * kk][0], pk[2 * kk][1], pk[2 * kk + 1][0], pk[2 * kk + 1][1]};
            wgmma_op<D, F16>::rs(of, pa, wg_desc(vst + kk * 2048, BC * 128, 1024));
        }
        wgmma_commit();
    }
};
template <int R> __device__ __forceinline__ void wg_pin2(float (&x)[R][4])
{
    wgmma_pin(reinterpret_cast<float(&)[R * 4]>(x));
}
template <int R> __device__ __forceinline__ void wg_pin_p(uint32_t (&x)[R][2])
{
#pragma unroll
    for (int i = 0; i < R; i++) asm volatile("" : "+r"(x[i][0]), "+r"(x[i][1])::"memory");
}

/* mbarriers (PTX ISA "mbarrier") and named barriers, for the warp-specialised kernel */
__device__ __forceinline__ void mbar_init(uint32_t bar, int count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, int parity)
{
    asm volatile("{\n.reg .pred P1;\nLAB_WAIT:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 P1, [%0], %1;\n"
                 "@P1 bra DONE;\nbra LAB_WAIT;\nDONE:\n}\n" ::"r"(bar),
                 "r"(parity)
                 : "memory");
}
__device__ __forceinline__ void named_sync(int id, int n) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }
__device__ __forceinline__ void named_arrive(int id, int n) { asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }
#endif

/* v11, v12: per key tile, S = QKᵀ, wait, softmax, O += PV, wait; ST stages, prefetch ST-1 ahead.
 * BC keys per tile; MINB blocks per multiprocessor. */
template <int D, int BC, int ST, int MINB, bool F16>
__global__ __launch_bounds__(256, MINB) void attn_wgmma_kernel(qt_cuda_attn_args_t a)
{
#ifdef QT_ATTN_SM90A
    using W = wg_block<D, BC, ST, 2, F16>;
    extern __shared__ __align__(16) uint8_t smw[];
    W w;
    if (!w.init(a, smw)) return;
    w.load_q(w.tid);
#pragma unroll
    for (int s = 0; s < ST - 1; s++) {
        if (s < w.n) w.load_kv(s, s, w.tid);
        cp_async_commit(); /* one group per stage, empty or not: the wait counts stay uniform */
    }
    float o[W::ND][4], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
#pragma unroll
    for (int nd = 0; nd < W::ND; nd++) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.f;
    const float sl2 = a.scale * QT_LOG2E;
    for (int it = 0; it < w.n; it++) {
        w.template landed<ST - 2>(); /* tile it (and Q); every warpgroup is done with tile it - 1 */
        if (it + ST - 1 < w.n) w.load_kv(it + ST - 1, (it + ST - 1) % ST, w.tid);
        cp_async_commit();
        if (w.active(it)) {
            float s[W::NB][4];
            w.issue_s(s, it);
            wgmma_wait<0>();
            wg_pin2(s);
            w.mask(s, it);
            uint32_t pk[W::NB][2];
            attn_softmax16<W::NB, W::ND, F16, true>(s, m, l, o, pk, sl2);
            w.issue_pv(o, pk, it);
            wgmma_wait<0>();
            wg_pin2(o);
        }
    }
    attn_store16<W::ND, F16>(o, l, w.r0, w.r1, w.tq, w.g, a.dil, w.O);
#endif
}

/* v13, v14 (FlashAttention-3's intra-warpgroup overlap): step it issues S of tile it+1 and then
 * O += P·V of tile it (P from the previous step), waits for S only, and computes the softmax of
 * tile it+1 while the tensor cores still run P·V; the output is rescaled once P·V has landed.
 * Three stages (tiles it-1 … it+1 in use; tile it+2 prefetched into it-1's stage). */
template <int D, int BC, int NWG, int MINB, bool F16>
__global__ __launch_bounds__(128 * NWG, MINB) void attn_wgmma_pipe_kernel(qt_cuda_attn_args_t a)
{
#ifdef QT_ATTN_SM90A
    using W = wg_block<D, BC, 3, NWG, F16>;
    extern __shared__ __align__(16) uint8_t smw[];
    W w;
    if (!w.init(a, smw)) return;
    w.load_q(w.tid);
    w.load_kv(0, 0, w.tid);
    cp_async_commit();
    float o[W::ND][4], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
#pragma unroll
    for (int nd = 0; nd < W::ND; nd++) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.f;
    /* P of tile it in pa (it odd) or pb (it even): two buffers in turn, so that the softmax never
     * writes the registers an in-flight P·V reads (one buffer and a copy makes ptxas serialize) */
    uint32_t pa[W::NB][2], pb[W::NB][2];
    const float sl2 = a.scale * QT_LOG2E;
    auto step = [&](int it, uint32_t(&pk)[W::NB][2], uint32_t(&pn)[W::NB][2]) {
        w.template landed<0>(); /* tile it+1 (and Q); every warpgroup is done with tile it-1 */
        if (it + 2 < w.n) w.load_kv(it + 2, (it + 2) % 3, w.tid);
        cp_async_commit();
        bool hs = w.active(it + 1), hp = w.active(it);
        float s[W::NB][4];
        /* the softmax of tile it+1 (S landed) into pn, then the rescale once P·V of tile it landed */
        auto softmax_next = [&]() {
            wg_pin2(s);
            w.mask(s, it + 1);
            float al[2];
            attn_softmax16_p<W::NB, F16, true>(s, m, l, pn, sl2, al);
            wgmma_wait<0>();
            wg_pin2(o);
            attn_rescale16<W::ND>(o, al);
        };
        /* each branch issues and retires its own wgmma groups (one spanning two branches makes
         * ptxas serialize them) */
        if (hs && hp) {
            wg_pin2(o); /* the last rescale and pk's packing stay before issue_s's fence */
            wg_pin_p(pk);
            w.issue_s(s, it + 1);
            w.template issue_pv<false>(o, pk, it);
            wgmma_wait<1>();
            softmax_next();
        } else if (hs) {
            w.issue_s(s, it + 1);
            wgmma_wait<0>();
            softmax_next();
        } else if (hp) {
            w.issue_pv(o, pk, it);
            wgmma_wait<0>();
            wg_pin2(o);
        }
    };
    for (int it = -1; it < w.n; it += 2) {
        step(it, pa, pb);
        if (it + 1 < w.n) step(it + 1, pb, pa);
    }
    attn_store16<W::ND, F16>(o, l, w.r0, w.r1, w.tq, w.g, a.dil, w.O);
#endif
}

/* v16, v17 (warp-specialised, FlashAttention-3's layout of roles): a producer warp (warp 8) loads
 * Q and the K/V tiles by cp.async into ST stages and publishes each on its "full" mbarrier
 * (copies landed, proxy fence, arrive); the two consumer warpgroups wait on it, run v13's step
 * (S of tile it+1 and P·V of tile it in flight while the softmax runs), and release tile it on its
 * "empty" mbarrier: no block-wide barrier in the loop. PP (v17): ping-pong, the warpgroups take
 * turns issuing their MMAs (named barriers 1 and 2), so one's softmax runs under the other's MMAs. */
template <int D, int BC, int ST, int NPROD, bool PP, bool F16>
__global__ __launch_bounds__(256 + NPROD, 1) void attn_wgmma_ws_kernel(qt_cuda_attn_args_t a)
{
#ifdef QT_ATTN_SM90A
    using W = wg_block<D, BC, ST, 2, F16>;
    extern __shared__ __align__(16) uint8_t smw[];
    W w;
    if (!w.init(a, smw)) return;
    const uint32_t full = smem_u32(w.Mb + ST * BC), empty = full + ST * 8; /* stage s: + 8·s */
    if (threadIdx.x == 0) {
        for (int s = 0; s < ST; s++) {
            mbar_init(full + 8 * s, NPROD); /* the producer's threads */
            mbar_init(empty + 8 * s, 256); /* the consumers' threads */
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (threadIdx.x >= 256) { /* producer */
        if (NPROD == 128) asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
        int ld = threadIdx.x - 256;
        w.template load_q<NPROD>(ld);
        for (int t = 0; t < w.n; t++) {
            int st = t % ST;
            if (t >= ST) mbar_wait(empty + 8 * st, ((t / ST) - 1) & 1); /* tile t - ST released */
            w.template load_kv<NPROD>(t, st, ld);
            cp_async_commit();
            if (t >= 1) { /* publish tile t - 1 (with Q: tile 0) */
                cp_async_wait<1>();
                asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
                mbar_arrive(full + 8 * ((t - 1) % ST));
            }
        }
        cp_async_wait<0>();
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        mbar_arrive(full + 8 * ((w.n - 1) % ST));
    } else { /* consumers */
    if (NPROD == 128) asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    float o[W::ND][4], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
#pragma unroll
    for (int nd = 0; nd < W::ND; nd++) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.f;
    uint32_t pa[W::NB][2], pb[W::NB][2]; /* P of tile it: as in the v13 kernel */
    const float sl2 = a.scale * QT_LOG2E;
    if (PP && w.wg == 1) named_arrive(1, 256); /* warpgroup 0 takes the first turn */
    auto step = [&](int it, uint32_t(&pk)[W::NB][2], uint32_t(&pn)[W::NB][2]) {
        if (it + 1 < w.n) mbar_wait(full + 8 * ((it + 1) % ST), ((it + 1) / ST) & 1); /* tile it+1 landed */
        bool hs = w.active(it + 1), hp = w.active(it);
        /* every step takes its turn and passes it on, active or not (the counts must match); the
         * last pass of warpgroup 1 has no taker and is left out */
        if (PP) named_sync(1 + w.wg, 256);
        auto turn_done = [&]() {
            if (PP && !(w.wg == 1 && it == w.n - 1)) named_arrive(2 - w.wg, 256);
        };
        float s[W::NB][4];
        auto softmax_next = [&]() {
            wg_pin2(s);
            w.mask(s, it + 1);
            float al[2];
            attn_softmax16_p<W::NB, F16, true>(s, m, l, pn, sl2, al);
            wgmma_wait<0>();
            wg_pin2(o);
            attn_rescale16<W::ND>(o, al);
        };
        if (hs && hp) {
            wg_pin2(o);
            wg_pin_p(pk);
            w.issue_s(s, it + 1);
            w.template issue_pv<false>(o, pk, it);
            turn_done();
            wgmma_wait<1>();
            softmax_next();
        } else if (hs) {
            w.issue_s(s, it + 1);
            turn_done();
            wgmma_wait<0>();
            softmax_next();
        } else if (hp) {
            w.issue_pv(o, pk, it);
            turn_done();
            wgmma_wait<0>();
            wg_pin2(o);
        } else {
            turn_done();
        }
        if (it >= 0) mbar_arrive(empty + 8 * (it % ST)); /* tile it: K read at it-1, V now */
    };
    for (int it = -1; it < w.n; it += 2) {
        step(it, pa, pb);
        if (it + 1 < w.n) step(it + 1, pb, pa);
    }
    attn_store16<W::ND, F16>(o, l, w.r0, w.r1, w.tq, w.g, a.dil, w.O);
    }
#endif
}

/* 1 when this build has the sm_90a kernels and device 0 is compute capability 9.0 */
static int wgmma_device_ok(void)
{
#ifdef QT_ATTN_SM90A
    static int ok = -1;
    if (ok < 0) {
        int dev = 0, major = 0, minor = 0;
        ok = cudaGetDevice(&dev) == cudaSuccess &&
             cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
             cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess && major == 9 &&
             minor == 0;
        if (!ok) cudaGetLastError(); /* clear a no-device error */
    }
    return ok;
#else
    return 0;
#endif
}

extern "C" int qt_cuda_attn_wgmma_supports(int version, int dtype, int D)
{
    return version >= 11 && version <= 19 && (dtype == QT_CUDA_ATTN_BF16 || dtype == QT_CUDA_ATTN_F16) &&
           (D == 64 || D == 128) && wgmma_device_ok();
}

template <typename KernelT>
static int launch_wg(KernelT kern, int nwg, size_t smem, const qt_cuda_attn_args_t *a, cudaStream_t st,
                     int extra_threads = 0)
{
    int Tl = (a->T + a->dil - 1) / a->dil, BR = 64 * nwg;
    dim3 grid((Tl + BR - 1) / BR, a->B * a->H, a->dil);
    cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
    kern<<<grid, 128 * nwg + extra_threads, smem, st>>>(*a);
    return (int)cudaGetLastError();
}
template <int D, int BC, int ST, int MINB>
static int launch_wgmma(const qt_cuda_attn_args_t *a, cudaStream_t st)
{
    size_t smem = wg_smem(D, BC, ST, 2);
    return a->dtype == QT_CUDA_ATTN_F16 ? launch_wg(attn_wgmma_kernel<D, BC, ST, MINB, true>, 2, smem, a, st)
                                        : launch_wg(attn_wgmma_kernel<D, BC, ST, MINB, false>, 2, smem, a, st);
}
template <int D, int BC, int NWG, int MINB>
static int launch_pipe(const qt_cuda_attn_args_t *a, cudaStream_t st)
{
    size_t smem = wg_smem(D, BC, 3, NWG);
    return a->dtype == QT_CUDA_ATTN_F16 ? launch_wg(attn_wgmma_pipe_kernel<D, BC, NWG, MINB, true>, NWG, smem, a, st)
                                        : launch_wg(attn_wgmma_pipe_kernel<D, BC, NWG, MINB, false>, NWG, smem, a, st);
}

template <int D, int BC, int ST, int NPROD, bool PP>
static int launch_ws(const qt_cuda_attn_args_t *a, cudaStream_t st)
{
    size_t smem = wg_smem(D, BC, ST, 2);
    return a->dtype == QT_CUDA_ATTN_F16
               ? launch_wg(attn_wgmma_ws_kernel<D, BC, ST, NPROD, PP, true>, 2, smem, a, st, NPROD)
               : launch_wg(attn_wgmma_ws_kernel<D, BC, ST, NPROD, PP, false>, 2, smem, a, st, NPROD);
}

extern "C" int qt_cuda_attn_wgmma_forward(int version, const qt_cuda_attn_args_t *a, void *stream)
{
    if (!a || !qt_cuda_attn_wgmma_supports(version, a->dtype, a->D)) return -1;
    cudaStream_t st = (cudaStream_t)stream;
    switch (version) {
    case 11: return a->D == 64 ? launch_wgmma<64, 128, 2, 1>(a, st) : launch_wgmma<128, 128, 2, 1>(a, st);
    case 12: return a->D == 64 ? launch_wgmma<64, 64, 3, 2>(a, st) : launch_wgmma<128, 64, 3, 1>(a, st);
    case 13: return a->D == 64 ? launch_pipe<64, 64, 2, 2>(a, st) : launch_pipe<128, 128, 2, 1>(a, st);
    case 14: return a->D == 64 ? launch_pipe<64, 128, 2, 1>(a, st) : launch_pipe<128, 64, 2, 1>(a, st);
    case 15: return a->D == 64 ? launch_pipe<64, 128, 1, 2>(a, st) : launch_pipe<128, 64, 1, 2>(a, st);
    case 16: return a->D == 64 ? launch_ws<64, 64, 4, 32, false>(a, st) : launch_ws<128, 64, 4, 32, false>(a, st);
    case 17: return a->D == 64 ? launch_ws<64, 64, 4, 32, true>(a, st) : launch_ws<128, 64, 4, 32, true>(a, st);
    case 18: return a->D == 64 ? launch_ws<64, 128, 4, 128, false>(a, st) : launch_ws<128, 128, 3, 128, false>(a, st);
    default: return a->D == 64 ? launch_ws<64, 128, 4, 128, true>(a, st) : launch_ws<128, 128, 3, 128, true>(a, st);
    }
}
