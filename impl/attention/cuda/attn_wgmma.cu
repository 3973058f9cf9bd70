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
 * tests/attention/test_attention_cuda.c (QT_CUDA_ATTN_KERNEL=11). */
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

/* D head size; BC keys per tile; ST shared-memory stages; MINB blocks per multiprocessor. */
template <int D, int BC, int ST, int MINB, bool F16>
__global__ __launch_bounds__(256, MINB) void attn_wgmma_kernel(qt_cuda_attn_args_t a)
{
#ifdef QT_ATTN_SM90A
    constexpr int BR = 128, NT = 256;
    constexpr int CH = D / 8;  /* 16-byte chunks per row */
    constexpr int NB = BC / 8; /* n-blocks of S */
    constexpr int ND = D / 8;  /* n-blocks of O */
    constexpr uint32_t QB = BR * D * 2, KB = BC * D * 2;
    extern __shared__ __align__(16) uint8_t smw[];
    uint32_t raw = smem_u32(smw), sQ = (raw + 1023u) & ~1023u; /* swizzle atoms: 1024-byte aligned */
    uint32_t sK = sQ + QB, sV = sK + ST * KB;
    float *Mb = (float *)(smw + (sV + ST * KB - raw)); /* [ST][BC] key bias when masked */

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
    int tid = threadIdx.x, wg = tid >> 7, wq = (tid >> 5) & 3, lane = tid & 31, gq = lane >> 2, tq = lane & 3;
    int i0 = qt * BR, ilast = min(i0 + BR, g.Tl) - 1;
    int lo = max(0, i0 - g.wl), hi = min(g.Tl - 1, ilast + g.wr);
    int jt0 = lo / BC, jt1 = hi / BC, n = jt1 - jt0 + 1;

    for (int e = tid; e < BR * CH; e += NT) {
        int r = e / CH, ch = e % CH, ii = i0 + r;
        bool in = ii < g.Tl;
        cp_async16(sQ + sw_off<BR>(r, ch), Q + (size_t)(c + a.dil * (in ? ii : 0)) * D + ch * 8, in);
    }
    auto load_kv = [&](int jt, int st) {
        int j0 = jt * BC;
#pragma unroll 4
        for (int e = tid; e < BC * CH; e += NT) {
            int r = e / CH, ch = e % CH, jj = j0 + r;
            bool in = jj < g.Tl;
            size_t off = (size_t)(c + a.dil * (in ? jj : 0)) * D + ch * 8;
            uint32_t so = st * KB + sw_off<BC>(r, ch);
            cp_async16(sK + so, K + off, in);
            cp_async16(sV + so, V + off, in);
        }
        if (mrow)
            for (int r = tid; r < BC; r += NT) {
                int jj = j0 + r;
                Mb[st * BC + r] = (jj < g.Tl && mrow[c + a.dil * jj] != 0.f) ? 0.f : -INFINITY;
            }
    };
#pragma unroll
    for (int s = 0; s < ST - 1; s++) {
        if (s < n) load_kv(jt0 + s, s);
        cp_async_commit(); /* one group per stage, empty or not: the wait counts stay uniform */
    }

    float o[ND][4];
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
#pragma unroll
    for (int nd = 0; nd < ND; nd++) o[nd][0] = o[nd][1] = o[nd][2] = o[nd][3] = 0.f;
    int r0 = i0 + wg * 64 + wq * 16 + gq, r1 = r0 + 8;
    int wr0 = i0 + wg * 64, wr1 = min(wr0 + 64, g.Tl) - 1; /* this warpgroup's rows */
    const float sl2 = a.scale * QT_LOG2E;
    const uint32_t qw = sQ + wg * 64 * 128;

    for (int it = 0; it < n; it++) {
        cp_async_wait<ST - 2>(); /* tile it (and Q) landed, for this thread's copies */
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads(); /* … for every thread's; and every warpgroup is done with tile it - 1 */
        {
            int nx = it + ST - 1;
            if (nx < n) load_kv(jt0 + nx, nx % ST);
            cp_async_commit();
        }
        int st = it % ST, j0 = (jt0 + it) * BC;
        if (wr0 < g.Tl && j0 + BC - 1 >= wr0 - g.wl && j0 <= wr1 + g.wr) {
            /* S = Q Kᵀ: D/16 k-slices; slice kk is 32 bytes into panel kk/4's rows */
            float s[NB][4];
            float(&sf)[NB * 4] = reinterpret_cast<float(&)[NB * 4]>(s);
            const uint32_t kst = sK + st * KB;
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint64_t da = wg_desc(qw + (kk >> 2) * BR * 128 + (kk & 3) * 32, 16, 1024);
                uint64_t db = wg_desc(kst + (kk >> 2) * BC * 128 + (kk & 3) * 32, 16, 1024);
                wgmma_op<BC, F16>::ss(sf, da, db, kk > 0);
            }
            wgmma_commit();
            wgmma_wait<0>();
            wgmma_pin(sf);
            bool need = mrow || j0 + BC > g.Tl || j0 - ilast < -g.wl || j0 + BC - 1 - i0 > g.wr;
            if (need) attn_mask16<NB>(s, r0, r1, j0, tq, g, mrow ? Mb + st * BC : nullptr);
            uint32_t pk[NB][2];
            attn_softmax16<NB, ND, F16, true>(s, m, l, o, pk, sl2);
            /* O += P V: BC/16 k-slices of 16 keys (2048 bytes of each panel); N = D spans D/64
             * panels BC·128 bytes apart (leading byte offset), 8-key groups 1024 apart (stride) */
            float(&of)[ND * 4] = reinterpret_cast<float(&)[ND * 4]>(o);
            const uint32_t vst = sV + st * KB;
            wgmma_pin(of);
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < BC / 16; kk++) {
                const uint32_t pa[4] = {pk[2 * kk][0], pk[2 * kk][1], pk[2 * kk + 1][0], pk[2 * kk + 1][1]};
                wgmma_op<D, F16>::rs(of, pa, wg_desc(vst + kk * 2048, BC * 128, 1024));
            }
            wgmma_commit();
            wgmma_wait<0>();
            wgmma_pin(of);
        }
    }
    attn_store16<ND, F16>(o, l, r0, r1, tq, g, a.dil, O);
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
    return (version == 11 || version == 12) && (dtype == QT_CUDA_ATTN_BF16 || dtype == QT_CUDA_ATTN_F16) &&
           (D == 64 || D == 128) && wgmma_device_ok();
}

template <int D, int BC, int ST, int MINB>
static int launch_wgmma(const qt_cuda_attn_args_t *a, cudaStream_t st)
{
    constexpr int BR = 128;
    int Tl = (a->T + a->dil - 1) / a->dil;
    dim3 grid((Tl + BR - 1) / BR, a->B * a->H, a->dil);
    size_t smem = 1024 + (size_t)(BR + 2 * ST * BC) * D * 2 + (size_t)ST * BC * sizeof(float);
    auto kern = a->dtype == QT_CUDA_ATTN_F16 ? attn_wgmma_kernel<D, BC, ST, MINB, true>
                                             : attn_wgmma_kernel<D, BC, ST, MINB, false>;
    cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
    kern<<<grid, 256, smem, st>>>(*a);
    return (int)cudaGetLastError();
}

extern "C" int qt_cuda_attn_wgmma_forward(int version, const qt_cuda_attn_args_t *a, void *stream)
{
    if (!a || !qt_cuda_attn_wgmma_supports(version, a->dtype, a->D)) return -1;
    cudaStream_t st = (cudaStream_t)stream;
    if (version == 11) return a->D == 64 ? launch_wgmma<64, 128, 2, 1>(a, st) : launch_wgmma<128, 128, 2, 1>(a, st);
    return a->D == 64 ? launch_wgmma<64, 64, 3, 2>(a, st) : launch_wgmma<128, 64, 3, 1>(a, st);
}
