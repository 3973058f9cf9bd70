/* sparse.cu — the cuda backend's sparse ops (sparse.h: qt_sparse_ops_cuda), operands on the
 * instance's GPU, work queued on its stream.
 *
 * Activations (f32; counts of the nonzeros produced kept on the device and added to
 * QT_CTR_NONZEROS at synchronize, as GATHER's flops, skipped multiply-adds and nonzeros):
 *   relu, shifted_relu, dthresh eval   one elementwise kernel: y = x > b ? x − b : 0, or
 *                                      y = x > θ_c ? x : 0 (act_v1).
 *   dthresh training                   dthresh_v1: ONE kernel fuses the statistics with the
 *                                      activation: one thread per channel reads its column in
 *                                      row order (coalesced across the warp), sums |x| in double
 *                                      in the host's order and counts x ≤ θ_old, forms μ, κ
 *                                      (controller) and θ exactly as common.c does (double
 *                                      arithmetic through never-contracted _rn intrinsics), then
 *                                      writes the column's output with the new θ and counts its
 *                                      nonzeros. Bitwise the host's state and output. The first
 *                                      batch with a target (quantile warm start: a sort per
 *                                      column) runs the shared host code on a copy, once.
 *   topk                               topk_v1: one block per row; radix select (4 passes of
 *                                      8-bit histograms) of the k-th largest key under the
 *                                      top-k order (floats mapped to ordered integers, −0 as +0,
 *                                      NaN lowest), then one ordered pass keeps every larger
 *                                      entry and the lowest-indexed ties: the cpu's kept set.
 *   backward                           dx = y ≠ 0 ? dy : 0.
 * Matmul paths, f32 and bf16 (bf16 operands, f32 accumulation, bf16 output); kernel versions
 * side by side, QT_CUDA_SPARSE_KERNEL=1 … 11 (default QT_CUDA_SPARSE_DEFAULT = 9 on cc ≥ 9.0, 3 below),
 * all validated by the tests (versions 4-11 differ from 3 in GATHER only):
 *   DENSE    cuBLAS: Sgemm / GemmEx (CUBLAS_COMPUTE_32F); M = 1 in f32: Sgemv (the GEMV baseline).
 *   GATHER   the GEMV that skips zeros, for a few rows. v3 (gemv_v3, where N % 8 == 0 and W is
 *            16-byte aligned, else v2): ONE launch; a block (256 columns × a slice of K × a
 *            row) lists its slice's nonzeros in shared memory and deals them out evenly to its
 *            8 warps, each with 12 (bf16) / 6 (f32) rows of W in flight per lane; the slices'
 *            partial rows are summed by the last block of each column tile to finish (a
 *            counter per tile in the workspace head, self-resetting), in a fixed order.
 *            v2 (gemv_v2): no compaction pass: each
 *            block takes a slice of K of one row, keeps its nonzero entries in shared memory (in
 *            order) and reads only their rows of W, 8 output columns per thread from 16-byte
 *            loads; the partial rows of the K slices are summed by a warp per output in a fixed
 *            order (deterministic).
 *            v1: per-row nonzero lists (order-keeping compaction, one block per row), then gemv_v1: blocks own 8·128 output columns and a
 *            split of a row's nonzero list (split-K, so that a batch-1 product still fills the
 *            GPU), each thread accumulates 8 columns in f32 from 16-byte loads of the touched
 *            rows of W only; the splits' partial rows are summed in split order by a second kernel
 *            (deterministic).
 *            v5 (gemv_v5, M ≤ 4, K·es and N·es multiples of 16): no split of K across blocks:
 *            a block per (tile of LPR·8 bf16 / LPR·4 f32 columns, row) scans the whole row of A
 *            with 16-byte loads, each warp listing its 1/WARPS of it in its own shared-memory
 *            list and reading LPR × 16 contiguous bytes of each listed row of W (QT_CUDA_GEMV_LPR
 *            2, 4, 8); the warps summed in order through shared memory: no partial rows, fence,
 *            counter or second read. v6: v5 with K split over a cluster of QT_CUDA_GEMV_CS = 2
 *            or 4 blocks summed through distributed shared memory. v7 (gemv_v7, M ≤ 4, K % 8 == 0,
 *            N·es % 16 == 0): the rows of W fetched by the copy engine (one cp.async.bulk per
 *            listed row into shared-memory stages completing on mbarriers: bytes in flight
 *            bounded by shared memory, not registers), K split over a cluster of
 *            QT_CUDA_GEMV7="CS,LPR,BUF" blocks summed in the leader's shared memory, launched under
 *            Programmatic Dependent Launch (QT_CUDA_GEMV_PDL=0 turns it off; =1 puts v3 under it
 *            too). v8: v7 with the rows loaded through registers (16 per lane in flight). v9 (the
 *            default for one bf16 row on cc ≥ 9.0): v8 at one 512-thread block per SM, the grid
 *            sized to the 8-block clusters that fit at once (15 on the H200), every row of a
 *            slice in flight at once; the other blocks of a cluster push their column sums into
 *            the leader with st.async on its mbarrier instead of a second cluster barrier
 *            (QT_CUDA_GEMV_FIN=0: the barrier, as before). v10: v9 at two blocks per SM (the next
 *            call's blocks resident, waiting, while this one runs; 8 row loads per lane in a
 *            ring). v11: v9 with a list per warp (no block barrier before the W loads; tiles of 32
 *            chunks, the largest cluster whose clusters fit at once). QT_CUDA_GEMV_WLD=1/2: v9-v11
 *            load W's rows with ld.global.nc / plain loads (default .cg). QT_CUDA_GEMV_TRACE:
 *            v9-v11 stamp their phases and print them (a diagnostic). Measured: NOTES.md.
 *   COLSKIP  the compact GEMM: flags of the columns of A nonzero in some row (and the nonzero
 *            count), an order-keeping compaction of their indices, the kept count read back (the
 *            GEMM's size is needed on the host), gathers of A[:, kept] and W[kept, :], and one
 *            cuBLAS product on the compact operands. v2: flags over a 2-D grid (column tiles ×
 *            row chunks: v1's one thread per column leaves most of the GPU idle on a tall A),
 *            gathers by rows (a block per row of A, a block per kept row of W, 16-byte copies)
 *            instead of v1's one element per thread with 64-bit divisions, and the kept count
 *            padded with zeros to a multiple of 8 (the unpadded path took 1.1 ms against dense's
 *            1.3 ms at M=K=N=8192, 90% columns off, on the H200; the suspect was cuBLAS's
 *            kernel for an odd leading dimension: impl/sparse/cuda/NOTES.md). v3 (run_colskip_v3):
 *            one memset, column flags from 16-byte loads (8 columns per thread), a one-block
 *            scan compaction (1024 threads; v1's walked K 256 at a time), the counts copied to
 *            pinned memory behind an event, ONE gather launch for A and W whose grid does not
 *            need the kept count (read on the device), queued before the host waits for the
 *            event: the GPU gathers while the host learns kc and queues cuBLAS behind it.
 *            Padding QT_CUDA_COLSKIP_PAD (default 8).
 *   CSR      A converted to CSR on the device (csr_count_v1: a warp per row counts; csr_scan_v1:
 *            one block scans the counts into row pointers; csr_fill_v1: a warp per row writes
 *            column indices and f32 values in order), then csr_spmm_v1: a block per (row, 2048
 *            columns), 8 columns per thread from 16-byte loads of W, sums in column order. The
 *            lists are sized for a dense A (8·M·K bytes of workspace) so that nothing is read
 *            back unless info is asked (then the nonzero count, ptr[M]).
 *   measure  colflags_v3 over the sampled rows (counting the kept columns itself when they fit
 *            one grid row, else compact_v3), one read-back. AUTO (common.c) reuses a device
 *            backend's estimate from the workspace, so the read-back is paid every 16 calls.
 * info (nnz, zero columns) and the FLOP counters of GATHER need a read-back: done only when the
 * caller passes info (the dispatcher does); COLSKIP reads its counts back anyway.
 * Tests: tests/sparse/test_sparse.c (device part skipped without a GPU, saying why);
 * build/quintet verify sparse --backend cuda; build/quintet run sparsity. */
#include <cooperative_groups.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/cuda/internal.h"
#include "../internal.h"
#include "quintet/counters.h"
#include "quintet/sparse.h"
#include "quintet/tensor.h"

#define TPB 256
#define QT_CUDA_SPARSE_DEFAULT 9       /* the matmul kernel version without QT_CUDA_SPARSE_KERNEL (cc ≥ 9.0; its \
                                        * GATHER: v9 for one bf16 row, else v3 under PDL: NOTES.md) */
#define QT_CUDA_SPARSE_DEFAULT_PRE90 3 /* … below cc 9.0 (no clusters or PDL) */
#define V5_LPR_BF16 4            /* gemv_v5's default lanes per row of W (×16 bytes) */
#define V5_LPR_F32 8
#define GV_COLS 8     /* output columns per thread in gemv_v1 */
#define GV_THREADS 128

/* ---------------------------------------------------------------- helpers ---- */

/* Element i of a f32 or bf16 array as float. */
static __device__ __forceinline__ float ld(const void *p, int bf16, size_t i)
{
    return bf16 ? __bfloat162float(((const __nv_bfloat16 *)p)[i]) : ((const float *)p)[i];
}

/* Add a block's count to the instance's device counter (one atomic per block). */
static __device__ __forceinline__ void count_block(unsigned long long *ctr, unsigned c)
{
    c = __reduce_add_sync(0xffffffffu, c);
    if ((threadIdx.x & 31) == 0 && c) atomicAdd(ctr, (unsigned long long)c);
}

/* Unpack one 16-byte chunk of A or W: EPC = 8 (bf16) or 4 (f32) floats. */
template <int BF>
static __device__ __forceinline__ void unpack16(uint4 r, float *v)
{
    if (BF) {
        const __nv_bfloat162 *h = (const __nv_bfloat162 *)&r;
#pragma unroll
        for (int q = 0; q < 4; q++) {
            float2 f = __bfloat1622float2(h[q]);
            v[2 * q] = f.x, v[2 * q + 1] = f.y;
        }
    } else {
        v[0] = __uint_as_float(r.x), v[1] = __uint_as_float(r.y), v[2] = __uint_as_float(r.z), v[3] = __uint_as_float(r.w);
    }
}

/* acc[0..8) += a·(8 bf16 values in raw), in element order. */
static __device__ __forceinline__ void fma8_bf16(float *acc, float a, uint4 raw)
{
    float f[8];
    unpack16<1>(raw, f);
#pragma unroll
    for (int e = 0; e < 8; e++) acc[e] = fmaf(a, f[e], acc[e]);
}

/* acc[0..8) += a·(u, v), in element order. */
static __device__ __forceinline__ void fma8_f32(float *acc, float a, float4 u, float4 v)
{
    acc[0] = fmaf(a, u.x, acc[0]), acc[1] = fmaf(a, u.y, acc[1]);
    acc[2] = fmaf(a, u.z, acc[2]), acc[3] = fmaf(a, u.w, acc[3]);
    acc[4] = fmaf(a, v.x, acc[4]), acc[5] = fmaf(a, v.y, acc[5]);
    acc[6] = fmaf(a, v.z, acc[6]), acc[7] = fmaf(a, v.w, acc[7]);
}

/* acc[0..8) += a·W[off … off+8) from 16-byte loads (off 16-byte aligned). */
static __device__ __forceinline__ void fma_row8(float *acc, float a, const void *W, int bf16, int64_t off)
{
    if (bf16) {
        fma8_bf16(acc, a, *(const uint4 *)((const __nv_bfloat16 *)W + off));
    } else {
        const float4 *w4 = (const float4 *)((const float *)W + off);
        fma8_f32(acc, a, w4[0], w4[1]);
    }
}

/* Grid dependency control (sm_90; no-ops in a grid launched without the programmatic attribute).
 * wait: every grid this one depends on has COMPLETED and its memory is visible (PTX
 * griddepcontrol.wait), so a producer kernel that wrote A just before is fully seen after it.
 * launch_dependents: the next grid, if launched with the programmatic attribute, may be
 * scheduled once every block of this grid has executed it or exited; it says nothing about this
 * grid's writes (the next grid's own wait covers those). */
static __device__ __forceinline__ void grid_dep_wait(void) { asm volatile("griddepcontrol.wait;" ::: "memory"); }
static __device__ __forceinline__ void grid_dep_launch(void) { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }

/* Diagnostics (QT_CUDA_GEMV_TRACE): the global nanosecond timer and this block's SM. */
static __device__ __forceinline__ unsigned long long gtimer(void)
{
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)::"memory");
    return t;
}
static __device__ __forceinline__ unsigned smid(void)
{
    unsigned r;
    asm("mov.u32 %0, %%smid;" : "=r"(r));
    return r;
}
#define TRACE_W 16 /* stamps per block in a traced call */

/* The queued kernels counted into the device counters: add them at synchronize. */
static void counted(qt_backend_t *be) { QT_CUDA_CTX(be)->nnz_pending = 1; }

/* The matmul kernel version (QT_CUDA_SPARSE_KERNEL 1 … 11, default QT_CUDA_SPARSE_DEFAULT on cc ≥
 * 9.0, else QT_CUDA_SPARSE_DEFAULT_PRE90; 4-11 differ from 3 in GATHER only, their H200 timings in
 * NOTES.md); *forced = 1 when the variable chose it. One getenv per call (the benchmark and the
 * tests change the variable between calls). */
static int sparse_version(const qt_cuda_ctx_t *cx, int *forced)
{
    const char *e = getenv("QT_CUDA_SPARSE_KERNEL");
    int v = e ? atoi(e) : 0;
    *forced = v >= 1 && v <= 11;
    if (*forced) return v;
    static int major[32]; /* compute capability major of device ordinal i, 0 until read */
    int *mj = &major[cx->ordinal & 31];
    if (!*mj && cudaDeviceGetAttribute(mj, cudaDevAttrComputeCapabilityMajor, cx->ordinal) != cudaSuccess) *mj = 1;
    return *mj >= 9 ? QT_CUDA_SPARSE_DEFAULT : QT_CUDA_SPARSE_DEFAULT_PRE90;
}

static qt_status_t cuda_measure(qt_backend_t *be, const qt_tensor_t *A, int64_t r, int64_t *nnz, int64_t *zero_cols);

/* ---------------------------------------------------------------- activations ---- */

/* act_v1: y = x > b ? x − b : 0 (theta NULL), or y = x > θ[i % cols] ? x : 0. */
static __global__ void act_v1(const float *x, float *y, size_t n, int64_t cols, float b, const float *theta,
                              unsigned long long *ctr)
{
    unsigned c = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float xi = x[i], v;
        if (theta) v = xi > theta[i % cols] ? xi : 0.0f;
        else v = xi > b ? __fsub_rn(xi, b) : 0.0f;
        y[i] = v;
        c += v != 0.0f;
    }
    count_block(ctr, c);
}

/* The parameters of one training step of the dynamic threshold. */
typedef struct {
    int64_t rows, cols;
    int first, use_target;
    double m, gain, target, scale;
} dt_args_t;

/* dthresh_v1: statistics, state update and output of one channel per thread (see the header). */
static __global__ void dthresh_v1(const float *x, float *y, dt_args_t a, float *mu, float *kappa, float *theta,
                                  unsigned long long *ctr)
{
    const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    unsigned nz = 0;
    if (c < a.cols) {
        const float th_old = theta[c];
        double sum = 0;
        int64_t below = 0;
#pragma unroll 8
        for (int64_t b = 0; b < a.rows; b++) {
            float v = x[b * a.cols + c];
            sum = __dadd_rn(sum, fabs((double)v));
            below += v <= th_old;
        }
        double av = __ddiv_rn(sum, (double)a.rows);
        double mv = a.first ? av : __dadd_rn(__dmul_rn(__dsub_rn(1.0, a.m), (double)mu[c]), __dmul_rn(a.m, av));
        float muf = (float)mv, k = kappa[c];
        mu[c] = muf;
        if (a.use_target) {
            double s = __ddiv_rn((double)below, (double)a.rows);
            double kk = __dadd_rn((double)k, __dmul_rn(a.gain, __dsub_rn(a.target, s)));
            k = (float)fmin(fmax(kk, 0.0), (double)QT_DTHRESH_KAPPA_MAX);
            kappa[c] = k;
        }
        const float th = __fmul_rn(k, muf);
        theta[c] = th;
        for (int64_t b = 0; b < a.rows; b++) {
            float v = x[b * a.cols + c];
            v = v > th ? v : 0.0f;
            y[b * a.cols + c] = v;
            nz += v != 0.0f;
        }
    }
    count_block(ctr, nz);
}

/* Top-k key: larger float ↔ larger key; −0 as +0; NaN lowest. */
static __device__ __forceinline__ uint32_t topk_key(float v)
{
    if (v != v) return 0u;
    if (v == 0.0f) v = 0.0f;
    uint32_t u = __float_as_uint(v);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* topk_v1: one block (TPB threads) per row. */
static __global__ void topk_v1(const float *x, float *y, int64_t cols, int k, unsigned long long *ctr)
{
    __shared__ unsigned hist[256];
    __shared__ uint32_t s_prefix;
    __shared__ int s_need;
    __shared__ unsigned warp_eq[TPB / 32];
    __shared__ unsigned s_base;
    const float *xr = x + blockIdx.x * cols;
    float *yr = y + blockIdx.x * cols;
    uint32_t prefix = 0, mask = 0;
    int need = k; /* rank still to find among keys matching the prefix */
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
        __syncthreads();
        for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
            uint32_t key = topk_key(xr[j]);
            if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int bin = 255;
            unsigned above = 0;
            while (bin > 0 && above + hist[bin] < (unsigned)need) above += hist[bin--];
            s_prefix = prefix | ((uint32_t)bin << shift);
            s_need = need - (int)above;
        }
        __syncthreads();
        prefix = s_prefix;
        need = s_need;
        mask |= 255u << shift;
        __syncthreads();
    }
    /* prefix = the k-th largest key; keep keys above it and the first `need` equal ones */
    if (threadIdx.x == 0) s_base = 0;
    __syncthreads();
    unsigned nz = 0;
    for (int64_t j0 = 0; j0 < cols; j0 += blockDim.x) {
        int64_t j = j0 + threadIdx.x;
        float v = j < cols ? xr[j] : 0.0f;
        uint32_t key = j < cols ? topk_key(v) : 0u;
        int eq = j < cols && key == prefix;
        unsigned bal = __ballot_sync(0xffffffffu, eq);
        if ((threadIdx.x & 31) == 0) warp_eq[threadIdx.x >> 5] = __popc(bal);
        __syncthreads();
        unsigned before = s_base;
        for (int w = 0; w < (int)(threadIdx.x >> 5); w++) before += warp_eq[w];
        before += __popc(bal & ((1u << (threadIdx.x & 31)) - 1u));
        if (j < cols) {
            float out = (key > prefix || (eq && before < (unsigned)need)) ? v : 0.0f;
            yr[j] = out;
            nz += out != 0.0f;
        }
        __syncthreads();
        if (threadIdx.x == 0)
            for (int w = 0; w < (int)(blockDim.x >> 5); w++) s_base += warp_eq[w];
        __syncthreads();
    }
    count_block(ctr, nz);
}

/* dx = y ≠ 0 ? dy : 0. */
static __global__ void act_bwd_v1(const float *y, const float *dy, float *dx, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dx[i] = y[i] != 0.0f ? dy[i] : 0.0f;
}

/* The first batch of a controller (quantile warm start): the shared host code on copies. */
static qt_status_t dthresh_host_step(qt_backend_t *be, qt_dthresh_t *d, const qt_tensor_t *x)
{
    qt_tensor_t hx = {}, hm = {}, hk = {}, ht = {};
    qt_status_t st = qt_tensor_to_host(be, x, &hx);
    if (st == QT_OK) st = qt_tensor_to_host(be, &d->mu, &hm);
    if (st == QT_OK) st = qt_tensor_to_host(be, &d->kappa, &hk);
    if (st == QT_OK) st = qt_tensor_to_host(be, &d->theta, &ht);
    if (st == QT_OK) {
        qt_dthresh_t h = *d; /* the same state, in host memory */
        h.mu = hm;
        h.kappa = hk;
        h.theta = ht;
        st = qt_sparse_dthresh_update(&h, (const float *)hx.data, x->shape[0], x->shape[1]);
        d->steps = h.steps;
    }
    if (st == QT_OK) st = qt_tensor_copy(be, &d->mu, &hm);
    if (st == QT_OK) st = qt_tensor_copy(be, &d->kappa, &hk);
    if (st == QT_OK) st = qt_tensor_copy(be, &d->theta, &ht);
    if (st == QT_OK) st = qt_backend_synchronize(be);
    qt_tensor_free(&hx);
    qt_tensor_free(&hm);
    qt_tensor_free(&hk);
    qt_tensor_free(&ht);
    return st;
}

/* Forward of every activation kind. */
static qt_status_t cuda_act_forward(qt_backend_t *be, const qt_act_t *act, const qt_tensor_t *xt, qt_tensor_t *yt)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    const float *x = (const float *)xt->data;
    float *y = (float *)yt->data;
    const int64_t rows = xt->shape[0], cols = xt->shape[1];
    const size_t n = (size_t)(rows * cols);
    switch (act->kind) {
    case QT_ACT_RELU:
    case QT_ACT_SHIFTED_RELU:
        act_v1<<<qt_cuda_blocks(be, n, TPB), TPB, 0, cx->stream>>>(x, y, n, cols,
                                                                  act->kind == QT_ACT_RELU ? 0.0f : act->shift, NULL,
                                                                  cx->d_nnz);
        break;
    case QT_ACT_DTHRESH: {
        qt_dthresh_t *d = act->dt;
        if (act->training && d->cfg.use_target && d->steps == 0) {
            QT_TRY(dthresh_host_step(be, d, xt)); /* reads x before act_v1 below writes y */
        } else if (act->training) {
            dt_args_t a = {rows, cols, d->steps == 0, d->cfg.use_target, (double)d->cfg.momentum, (double)d->cfg.gain,
                           (double)d->cfg.target, (double)d->cfg.scale};
            const int t = 64;
            dthresh_v1<<<(unsigned)((cols + t - 1) / t), t, 0, cx->stream>>>(
                x, y, a, (float *)d->mu.data, (float *)d->kappa.data, (float *)d->theta.data, cx->d_nnz);
            d->steps++;
            break;
        }
        act_v1<<<qt_cuda_blocks(be, n, TPB), TPB, 0, cx->stream>>>(x, y, n, cols, 0.0f, (const float *)d->theta.data,
                                                                  cx->d_nnz);
        break;
    }
    case QT_ACT_TOPK:
        if (rows > INT32_MAX) return qt_backend_fail(be, QT_ERR_SHAPE, "cuda top-k: more than 2^31 rows");
        topk_v1<<<(unsigned)rows, TPB, 0, cx->stream>>>(x, y, cols, act->k, cx->d_nnz);
        break;
    default: return qt_backend_fail(be, QT_ERR_ARG, "unknown activation kind %d", (int)act->kind);
    }
    counted(be);
    return qt_cuda_launched(be, "activation kernel launch");
}

/* dx = dy where y ≠ 0. */
static qt_status_t cuda_act_backward(qt_backend_t *be, const qt_tensor_t *yt, const qt_tensor_t *dyt, qt_tensor_t *dxt)
{
    const size_t n = (size_t)qt_tensor_numel(yt);
    act_bwd_v1<<<qt_cuda_blocks(be, n, TPB), TPB, 0, QT_CUDA_CTX(be)->stream>>>(
        (const float *)yt->data, (const float *)dyt->data, (float *)dxt->data, n);
    return qt_cuda_launched(be, "activation backward launch");
}

/* ---------------------------------------------------------------- matmul ---- */

/* Column flags over rows ⌊(2i+1)·M/(2r)⌋, i < r: flag[k] = 1 when column k is nonzero in one of
 * them; counts[0] += nonzeros, counts[1] += flagged columns. Threads over columns. */
static __global__ void colflags_v1(const void *A, int bf16, int64_t M, int64_t K, int64_t r, int *flag,
                                   unsigned long long *counts)
{
    unsigned nz = 0, kept = 0;
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < K; k += (int64_t)gridDim.x * blockDim.x) {
        unsigned f = 0;
        for (int64_t i = 0; i < r; i++) {
            int64_t row = (2 * i + 1) * M / (2 * r);
            unsigned z = ld(A, bf16, (size_t)(row * K + k)) != 0.0f;
            nz += z;
            f |= z;
        }
        if (flag) flag[k] = (int)f;
        kept += f;
    }
    unsigned a = __reduce_add_sync(0xffffffffu, nz), b = __reduce_add_sync(0xffffffffu, kept);
    if ((threadIdx.x & 31) == 0) {
        if (a) atomicAdd(&counts[0], (unsigned long long)a);
        if (b) atomicAdd(&counts[1], (unsigned long long)b);
    }
}

/* Order-keeping compaction of one list per block: out[blockIdx.x][..] = the j < n with
 * pred(j) (column flag set, or A[row, j] ≠ 0 with its value in val), cnt[blockIdx.x] = how many. */
static __global__ void compact_v1(const int *flag, const void *A, int bf16, int64_t n, int32_t *idx, float *val,
                                  int *cnt)
{
    __shared__ unsigned warp_c[TPB / 32];
    __shared__ unsigned s_base;
    const int64_t row = blockIdx.x;
    if (threadIdx.x == 0) s_base = 0;
    __syncthreads();
    for (int64_t j0 = 0; j0 < n; j0 += blockDim.x) {
        int64_t j = j0 + threadIdx.x;
        float v = 0.0f;
        int p = 0;
        if (j < n) {
            if (flag) p = flag[j] != 0;
            else v = ld(A, bf16, (size_t)(row * n + j)), p = v != 0.0f;
        }
        unsigned bal = __ballot_sync(0xffffffffu, p);
        if ((threadIdx.x & 31) == 0) warp_c[threadIdx.x >> 5] = __popc(bal);
        __syncthreads();
        unsigned pos = s_base;
        for (int w = 0; w < (int)(threadIdx.x >> 5); w++) pos += warp_c[w];
        pos += __popc(bal & ((1u << (threadIdx.x & 31)) - 1u));
        if (p) {
            idx[row * n + pos] = (int32_t)j;
            if (val) val[row * n + pos] = v;
        }
        __syncthreads();
        if (threadIdx.x == 0)
            for (int w = 0; w < (int)(blockDim.x >> 5); w++) s_base += warp_c[w];
        __syncthreads();
    }
    if (threadIdx.x == 0) cnt[row] = (int)s_base;
}

/* Gather A[:, kept] (M × kc) and W[kept, :] (kc × N), element size es (4 or 2 bytes). */
static __global__ void gather_v1(const char *A, const char *W, char *Ac, char *Wc, const int32_t *kept, const int *kc_p,
                                 int64_t M, int64_t K, int64_t N, int es)
{
    const int64_t kc = *kc_p, na = M * kc, nw = kc * N;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < na + nw; i += (int64_t)gridDim.x * blockDim.x) {
        const char *src;
        char *dst;
        if (i < na) {
            int64_t m = i / kc, j = i % kc;
            src = A + (m * K + kept[j]) * es, dst = Ac + i * es;
        } else {
            int64_t w = i - na, j = w / N, c = w % N;
            src = W + ((int64_t)kept[j] * N + c) * es, dst = Wc + w * es;
        }
        if (es == 4) *(uint32_t *)dst = *(const uint32_t *)src;
        else *(uint16_t *)dst = *(const uint16_t *)src;
    }
}

/* gemv_v1: block (x: 8·GV_THREADS-column tile, y: split s of S, z: row m) accumulates
 * Σ a_k·W[k, cols] over its split of row m's nonzero list into part[(s·M + m)·N + cols]. */
static __global__ void gemv_v1(const int32_t *idx, const float *val, const int *cnt, int64_t K, const void *W, int bf16,
                               int64_t N, int vec, int S, int64_t M, float *part)
{
    const int64_t m = blockIdx.z, s = blockIdx.y, c0 = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * GV_COLS;
    const int n = cnt[m];
    const int lo = (int)((int64_t)n * s / S), hi = (int)((int64_t)n * (s + 1) / S);
    const int32_t *ix = idx + m * K;
    const float *vx = val + m * K;
    float acc[GV_COLS];
#pragma unroll
    for (int q = 0; q < GV_COLS; q++) acc[q] = 0.0f;
    if (c0 < N) {
        if (vec && c0 + GV_COLS <= N) {
#pragma unroll 4
            for (int j = lo; j < hi; j++) {
                fma_row8(acc, vx[j], W, bf16, (int64_t)ix[j] * N + c0);
            }
        } else {
            for (int j = lo; j < hi; j++)
                for (int q = 0; q < GV_COLS && c0 + q < N; q++)
                    acc[q] = fmaf(vx[j], ld(W, bf16, (size_t)(ix[j] * N + c0 + q)), acc[q]);
        }
        float *out = part + (s * M + m) * N + c0;
        for (int q = 0; q < GV_COLS && c0 + q < N; q++) out[q] = acc[q];
    }
}

/* Y[m, c] = Σ_s part[s][m][c] in split order, stored as f32 or bf16. */
static __global__ void gemv_reduce_v1(const float *part, int S, size_t MN, void *Y, int bf16)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < MN; i += (size_t)gridDim.x * blockDim.x) {
        float v = 0.0f;
        for (int s = 0; s < S; s++) v += part[s * MN + i];
        if (bf16) ((__nv_bfloat16 *)Y)[i] = __float2bfloat16_rn(v);
        else ((float *)Y)[i] = v;
    }
}

/* ---- version 2 (the default; QT_CUDA_SPARSE_KERNEL=1 runs version 1) ---- */

/* colflags_v2: as v1, but a 2-D grid (column tiles × chunks of 64 sampled rows) so that a tall
 * A is read by the whole GPU; flag must be zeroed before (set to 1 by any chunk), counts[0] +=
 * nonzeros. */
static __global__ void colflags_v2(const void *A, int bf16, int64_t M, int64_t K, int64_t r, int *flag,
                                   unsigned long long *counts)
{
    const int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, i0 = (int64_t)blockIdx.y * 64,
                  i1 = i0 + 64 < r ? i0 + 64 : r;
    unsigned nz = 0, f = 0;
    if (k < K)
        for (int64_t i = i0; i < i1; i++) {
            unsigned z = ld(A, bf16, (size_t)(((2 * i + 1) * M / (2 * r)) * K + k)) != 0.0f;
            nz += z;
            f |= z;
        }
    if (f) flag[k] = 1;
    nz = __reduce_add_sync(0xffffffffu, nz);
    if ((threadIdx.x & 31) == 0 && nz) atomicAdd(&counts[0], (unsigned long long)nz);
}

/* gatherA_v2: row m of A[:, kept] per block (no divisions), zero columns kc … kp−1 (kp: kc
 * padded to a multiple of 8, so that cuBLAS keeps its aligned tensor-core kernels). */
static __global__ void gather_a_v2(const char *A, char *Ac, const int32_t *kept, int64_t kc, int64_t kp, int64_t K,
                                   int es)
{
    const int64_t m = blockIdx.x;
    for (int64_t j = threadIdx.x; j < kp; j += blockDim.x) {
        char *dst = Ac + (m * kp + j) * es;
        const char *src = A + (m * K + (j < kc ? kept[j] : 0)) * es;
        if (es == 4) *(uint32_t *)dst = j < kc ? *(const uint32_t *)src : 0u;
        else *(uint16_t *)dst = j < kc ? *(const uint16_t *)src : (uint16_t)0;
    }
}

/* gatherW_v2: row j of W[kept, :] per block (rows kc … kp−1 zero), 16-byte copies when rows
 * are 16-byte multiples. */
static __global__ void gather_w_v2(const char *W, char *Wc, const int32_t *kept, int64_t kc, int64_t rowbytes)
{
    const int64_t j = blockIdx.x;
    char *dst = Wc + j * rowbytes;
    const char *src = j < kc ? W + (int64_t)kept[j] * rowbytes : NULL;
    if (rowbytes % 16 == 0 && ((uintptr_t)W % 16) == 0 && ((uintptr_t)Wc % 16) == 0)
        for (int64_t i = threadIdx.x; i < rowbytes / 16; i += blockDim.x)
            ((uint4 *)dst)[i] = src ? ((const uint4 *)src)[i] : make_uint4(0, 0, 0, 0);
    else
        for (int64_t i = threadIdx.x; i < rowbytes; i += blockDim.x) dst[i] = src ? src[i] : 0;
}

/* gemv_reduce_v2: Y[i] = Σ_s part[s][i], a warp per output (lanes take s ≡ lane mod 32, then a
 * fixed butterfly): all of the GPU on the sum instead of one thread per output (v1). */
static __global__ void gemv_reduce_v2(const float *part, int S, size_t MN, void *Y, int bf16)
{
    const size_t i = (size_t)blockIdx.x * blockDim.y + threadIdx.y;
    if (i >= MN) return;
    float v = 0.0f;
    for (int sp = threadIdx.x; sp < S; sp += 32) v += part[sp * MN + i];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) {
        if (bf16) ((__nv_bfloat16 *)Y)[i] = __float2bfloat16_rn(v);
        else ((float *)Y)[i] = v;
    }
}

/* gemv_v2: the GEMV that skips zeros without a compaction pass: block (x: column tile, y: split
 * s of K, z: row m) reads its slice of row m of A 128 entries at a time, keeps the nonzero ones
 * (in order, in shared memory) and accumulates a_k·W[k, 8 columns] for those only, so only the
 * touched rows of W are read; partial rows as v1. Tile-0 blocks count nonzeros, flops and
 * skipped multiply-adds into the instance's device counters. */
static __global__ void gemv_v2(const void *A, int bf16, int64_t K, const void *W, int64_t N, int vec, int S, int64_t M,
                               float *part, unsigned long long *ctr)
{
    __shared__ int s_k[GV_THREADS];
    __shared__ float s_a[GV_THREADS];
    __shared__ unsigned s_warp[GV_THREADS / 32];
    const int64_t m = blockIdx.z, sp = blockIdx.y, c0 = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * GV_COLS;
    const int64_t k0 = K * sp / S, k1 = K * (sp + 1) / S;
    float acc[GV_COLS];
#pragma unroll
    for (int q = 0; q < GV_COLS; q++) acc[q] = 0.0f;
    unsigned long long nnz = 0;
    for (int64_t base = k0; base < k1; base += blockDim.x) {
        const int64_t k = base + threadIdx.x;
        const float a = k < k1 ? ld(A, bf16, (size_t)(m * K + k)) : 0.0f;
        const unsigned bal = __ballot_sync(0xffffffffu, a != 0.0f);
        if ((threadIdx.x & 31) == 0) s_warp[threadIdx.x >> 5] = __popc(bal);
        __syncthreads();
        unsigned pos = 0, n = 0;
        for (int w = 0; w < (int)(blockDim.x >> 5); w++) {
            if (w < (int)(threadIdx.x >> 5)) pos += s_warp[w];
            n += s_warp[w];
        }
        pos += __popc(bal & ((1u << (threadIdx.x & 31)) - 1u));
        if (a != 0.0f) s_k[pos] = (int)k, s_a[pos] = a;
        __syncthreads();
        nnz += n;
        if (c0 < N && vec && c0 + GV_COLS <= N) {
#pragma unroll 4
            for (unsigned j = 0; j < n; j++) {
                fma_row8(acc, s_a[j], W, bf16, (int64_t)s_k[j] * N + c0);
            }
        } else if (c0 < N) {
            for (unsigned j = 0; j < n; j++)
                for (int q = 0; q < GV_COLS && c0 + q < N; q++)
                    acc[q] = fmaf(s_a[j], ld(W, bf16, (size_t)(s_k[j] * N + c0 + q)), acc[q]);
        }
        __syncthreads();
    }
    if (c0 < N) {
        float *out = part + (sp * M + m) * N + c0;
        for (int q = 0; q < GV_COLS && c0 + q < N; q++) out[q] = acc[q];
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        atomicAdd(&ctr[0], nnz);
        atomicAdd(&ctr[1], 2ull * nnz * (unsigned long long)N);
        atomicAdd(&ctr[2], (unsigned long long)(k1 - k0 - (int64_t)nnz) * (unsigned long long)N);
    }
}

/* ---- version 3 (the default; QT_CUDA_SPARSE_KERNEL=1 or 2 runs the older ones) ---- */

#define WS_HDR 16384           /* bytes at the head of a workspace: gemv_v3's tile counters */
#define WS_CNT (WS_HDR / 4)
#define CF_ROWS 32             /* sampled rows per grid row of colflags_v3 */
#define FULL 0xffffffffu

/* Working memory of `bytes` behind the header of self-resetting counters (WS_HDR); a block
 * new to this call (fresh, or the workspace grown) gets its header zeroed first, so every user
 * of a workspace goes through here. Release with qt_sparse_ws_release(be, *owned, ...). */
static char *ws_get(qt_backend_t *be, qt_spmm_ws_t *ws, size_t bytes, void **owned, unsigned **cnt)
{
    void *prev = ws ? ws->buf : NULL;
    size_t prev_cap = ws ? ws->cap : 0;
    char *w = (char *)qt_sparse_ws_get(be, ws, bytes + WS_HDR, owned);
    if (!w) return NULL;
    if (*owned || ws->buf != prev || ws->cap != prev_cap) {
        cudaError_t e = cudaMemsetAsync(w, 0, WS_HDR, QT_CUDA_CTX(be)->stream);
        if (e != cudaSuccess) {
            qt_cuda_fail(be, e, "cudaMemsetAsync");
            qt_sparse_ws_release(be, *owned, bytes + WS_HDR);
            *owned = NULL;
            return NULL;
        }
    }
    if (cnt) *cnt = (unsigned *)w;
    return w + WS_HDR;
}

/* Bit q set when element q of 8 consecutive ones (16-byte aligned) is nonzero (as x != 0: −0 is
 * zero, NaN is not). */
template <int BF>
static __device__ __forceinline__ unsigned nz_mask8(const void *p)
{
    unsigned m = 0;
    if (BF) {
        uint4 r = __ldg((const uint4 *)p);
        const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
        for (int q = 0; q < 4; q++)
            m |= ((w[q] & 0x7fffu) != 0) << (2 * q) | ((w[q] & 0x7fff0000u) != 0) << (2 * q + 1);
    } else {
        const uint4 *v = (const uint4 *)p;
        uint4 a = __ldg(v), b = __ldg(v + 1);
        const uint32_t w[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
        for (int q = 0; q < 8; q++) m |= ((w[q] & 0x7fffffffu) != 0) << q;
    }
    return m;
}

/* colflags_v3: column flags over the sampled rows ⌊(2i+1)·M/(2r)⌋ with 8 columns per thread
 * from 16-byte loads (K % 8 == 0, A 16-byte aligned) and CF_ROWS rows per grid row (v2: one
 * 2- or 4-byte load per thread and row). counts[0] += nonzeros; with one grid row (r ≤ CF_ROWS)
 * each thread has seen all of its columns, so counts[1] += the flagged columns and flag is
 * written only when want_flags; else flag[k] = 1 marks them (flag zeroed before). */
template <int BF>
static __global__ void colflags_v3(const void *A, int64_t M, int64_t K, int64_t r, int *flag,
                                   unsigned long long *counts, int want_flags)
{
    const int64_t k = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) * 8, i0 = (int64_t)blockIdx.y * CF_ROWS,
                  i1 = i0 + CF_ROWS < r ? i0 + CF_ROWS : r;
    const int es = BF ? 2 : 4;
    unsigned nz = 0, f = 0;
    if (k < K) {
#pragma unroll 8
        for (int64_t i = i0; i < i1; i++) {
            const int64_t row = r == M ? i : (2 * i + 1) * M / (2 * r);
            unsigned b = nz_mask8<BF>((const char *)A + (size_t)(row * K + k) * es);
            nz += __popc(b);
            f |= b;
        }
    }
    nz = __reduce_add_sync(FULL, nz);
    if (gridDim.y == 1) {
        unsigned kept = __reduce_add_sync(FULL, (unsigned)__popc(f));
        if ((threadIdx.x & 31) == 0 && kept) atomicAdd(&counts[1], (unsigned long long)kept);
    }
    if ((gridDim.y > 1 || want_flags) && f) {
#pragma unroll
        for (int q = 0; q < 8; q++)
            if (f >> q & 1u) flag[k + q] = 1;
    }
    if ((threadIdx.x & 31) == 0 && nz) atomicAdd(&counts[0], (unsigned long long)nz);
}

/* Exclusive prefix sum of each thread's count c over the block, in thread order (at most 1024
 * threads); *total = the sum of all. Every thread of the block must call it. */
static __device__ unsigned block_exclusive_scan(unsigned c, unsigned *total)
{
    __shared__ unsigned wsum[33];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    unsigned x = c; /* inclusive scan within the warp */
    for (int o = 1; o < 32; o <<= 1) {
        unsigned y = __shfl_up_sync(FULL, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) wsum[w] = x;
    __syncthreads();
    if (w == 0) {
        unsigned v = lane < (int)(blockDim.x >> 5) ? wsum[lane] : 0, s = v;
        for (int o = 1; o < 32; o <<= 1) {
            unsigned y = __shfl_up_sync(FULL, s, o);
            if (lane >= o) s += y;
        }
        wsum[lane] = s - v; /* exclusive over warps */
        if (lane == 31) wsum[32] = s;
    }
    __syncthreads();
    *total = wsum[32];
    return wsum[w] + x - c;
}

/* The same over the calling warp (all 32 lanes): exclusive prefix sum in lane order. */
static __device__ __forceinline__ unsigned warp_exclusive_scan(unsigned c, unsigned *total)
{
    const int lane = threadIdx.x & 31;
    unsigned x = c;
    for (int o = 1; o < 32; o <<= 1) {
        unsigned y = __shfl_up_sync(FULL, x, o);
        if (lane >= o) x += y;
    }
    *total = __shfl_sync(FULL, x, 31);
    return x - c;
}

/* compact_v3: the flagged columns' indices in order, one block of 1024 threads (each a run of
 * ⌈K/1024⌉ flags, a block-wide scan of the runs' counts): v1 walked K 256 flags at a time with
 * three barriers per step (~64 µs at K = 16384 on the H200). *n = how many. */
static __global__ void __launch_bounds__(1024) compact_v3(const int *flag, int64_t K, int32_t *idx, int *n)
{
    const int t = threadIdx.x;
    const int64_t per = (K + blockDim.x - 1) / blockDim.x, lo = t * per, hi = lo + per < K ? lo + per : K;
    unsigned c = 0, total;
    for (int64_t j = lo; j < hi; j++) c += flag[j] != 0;
    unsigned pos = block_exclusive_scan(c, &total);
    if (t == 0) *n = (int)total;
    for (int64_t j = lo; j < hi; j++)
        if (flag[j]) idx[pos++] = (int32_t)j;
}

/* The flags and counts of the sampled rows of A into flag/counts (zeroed before): colflags_v3
 * where A allows 16-byte loads, else colflags_v2; *direct = 1 when counts[1] already holds the
 * kept columns (no compaction needed to count them); want_flags: write flag[] in any case. */
static void launch_flags(qt_backend_t *be, const void *A, int bf16, int64_t M, int64_t K, int64_t r, int *flag,
                         unsigned long long *counts, int want_flags, int *direct)
{
    cudaStream_t s = QT_CUDA_CTX(be)->stream;
    if (K % 8 == 0 && (uintptr_t)A % 16 == 0) {
        dim3 grid((unsigned)((K / 8 + TPB - 1) / TPB), (unsigned)((r + CF_ROWS - 1) / CF_ROWS));
        if (bf16) colflags_v3<1><<<grid, TPB, 0, s>>>(A, M, K, r, flag, counts, want_flags);
        else colflags_v3<0><<<grid, TPB, 0, s>>>(A, M, K, r, flag, counts, want_flags);
        *direct = grid.y == 1;
    } else {
        colflags_v2<<<dim3((unsigned)((K + TPB - 1) / TPB), (unsigned)((r + 63) / 64)), TPB, 0, s>>>(A, bf16, M, K, r,
                                                                                                     flag, counts);
        *direct = 0;
    }
}

/* gather_v3: A[:, kept] (M × kp, columns kc … kp−1 zero) and W[kept, :] (kp × N, rows kc …
 * kp−1 zero) in ONE launch whose grid does not depend on kc: kc is read on the device (kp = kc
 * rounded up to `pad`), so the host can queue it before it knows kc. Blocks [0, nblk_a): items
 * (row m, 8 kept columns) over a grid-stride loop, 8 scattered loads and one 16-byte store (bf16)
 * or two (f32) each; the other blocks: rows of W, 16-byte copies where rows allow. */
template <int BF>
static __global__ void gather_v3(const char *A, const char *W, char *Ac, char *Wc, const int32_t *kept,
                                 const int *kc_p, int pad, int64_t M, int64_t K, int64_t N, int nblk_a, int vecw)
{
    const int64_t kc = *kc_p, kp = (kc + pad - 1) / pad * pad, G = kp / 8;
    if ((int)blockIdx.x < nblk_a) {
        for (int64_t it = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; it < M * G;
             it += (int64_t)nblk_a * blockDim.x) {
            const int64_t m = it / G, j = (it - m * G) * 8;
            if (BF) {
                const uint16_t *src = (const uint16_t *)A + m * K;
                uint32_t h[4];
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    uint32_t lo = j + 2 * q < kc ? src[kept[j + 2 * q]] : 0u,
                             hi = j + 2 * q + 1 < kc ? src[kept[j + 2 * q + 1]] : 0u;
                    h[q] = lo | hi << 16;
                }
                *(uint4 *)((uint16_t *)Ac + m * kp + j) = make_uint4(h[0], h[1], h[2], h[3]);
            } else {
                const float *src = (const float *)A + m * K;
                float v[8];
#pragma unroll
                for (int q = 0; q < 8; q++) v[q] = j + q < kc ? src[kept[j + q]] : 0.0f;
                float4 *d = (float4 *)((float *)Ac + m * kp + j);
                d[0] = make_float4(v[0], v[1], v[2], v[3]);
                d[1] = make_float4(v[4], v[5], v[6], v[7]);
            }
        }
    } else {
        const int es = BF ? 2 : 4;
        const int64_t rowbytes = N * es;
        for (int64_t j = blockIdx.x - nblk_a; j < kp; j += gridDim.x - nblk_a) {
            const char *src = j < kc ? W + (int64_t)kept[j] * rowbytes : NULL;
            char *dst = Wc + j * rowbytes;
            if (vecw)
                for (int64_t i = threadIdx.x; i < rowbytes / 16; i += blockDim.x)
                    ((uint4 *)dst)[i] = src ? ((const uint4 *)src)[i] : make_uint4(0, 0, 0, 0);
            else if (BF)
                for (int64_t i = threadIdx.x; i < N; i += blockDim.x)
                    ((uint16_t *)dst)[i] = src ? ((const uint16_t *)src)[i] : (uint16_t)0;
            else
                for (int64_t i = threadIdx.x; i < N; i += blockDim.x)
                    ((uint32_t *)dst)[i] = src ? ((const uint32_t *)src)[i] : 0u;
        }
    }
}

/* One pass of gemv_v3/v4 over row m of A: the block's WARPS·128 entries from `pass` (128 per
 * warp, 4 loads per lane in flight) of its slice [kb0, kb1); their nonzeros listed in order in
 * shared memory (ballots, then the warps' counts scanned: s_k offsets in the slice, s_a values);
 * then the list dealt out to the warps, B rows of W in flight per lane, into acc (8 columns from
 * c0). Returns the pass's nonzeros; the caller syncs before the next pass rewrites the list. */
template <int BF, int WARPS, int B>
static __device__ __forceinline__ int gemv_pass(const void *A, int64_t K, const void *W, int64_t N, int64_t m,
                                                int64_t kb0, int64_t kb1, int64_t pass, int64_t c0, bool live, int *s_k,
                                                float *s_a, int *s_cnt, float (&acc)[8])
{
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    const int64_t wb = pass + wid * 128;
    float a[4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
        const int64_t k = wb + r * 32 + lane;
        a[r] = k < kb1 ? (BF ? __bfloat162float(((const __nv_bfloat16 *)A)[m * K + k]) : ((const float *)A)[m * K + k])
                       : 0.0f;
    }
    unsigned bal[4];
    int cnt = 0;
#pragma unroll
    for (int r = 0; r < 4; r++) bal[r] = __ballot_sync(FULL, a[r] != 0.0f), cnt += __popc(bal[r]);
    if (lane == 0) s_cnt[wid] = cnt;
    __syncthreads();
    int off = 0, total = 0;
#pragma unroll
    for (int v = 0; v < WARPS; v++) off += v < wid ? s_cnt[v] : 0, total += s_cnt[v];
#pragma unroll
    for (int r = 0; r < 4; r++) {
        if (a[r] != 0.0f) {
            const int pos = off + __popc(bal[r] & ((1u << lane) - 1u));
            s_k[pos] = (int)(wb - kb0) + r * 32 + lane;
            s_a[pos] = a[r];
        }
        off += __popc(bal[r]);
    }
    __syncthreads();
    /* the block's list dealt out to its warps (warp w: entries w, w + WARPS, …), B at a time with
     * their loads issued before the FMAs: every warp gets ⌈total/WARPS⌉ or ⌊total/WARPS⌋ rows,
     * whatever the nonzeros of its own 128 entries */
    for (int j0 = wid; j0 < total; j0 += WARPS * B) {
        if (live) {
            if (BF) {
                uint4 w[B];
#pragma unroll
                for (int q = 0; q < B; q++)
                    if (j0 + WARPS * q < total)
                        w[q] = __ldg((const uint4 *)((const __nv_bfloat16 *)W + (kb0 + s_k[j0 + WARPS * q]) * N + c0));
#pragma unroll
                for (int q = 0; q < B; q++)
                    if (j0 + WARPS * q < total) fma8_bf16(acc, s_a[j0 + WARPS * q], w[q]);
            } else {
                float4 u[B], v[B];
#pragma unroll
                for (int q = 0; q < B; q++)
                    if (j0 + WARPS * q < total) {
                        const float4 *p = (const float4 *)((const float *)W + (kb0 + s_k[j0 + WARPS * q]) * N + c0);
                        u[q] = __ldg(p), v[q] = __ldg(p + 1);
                    }
#pragma unroll
                for (int q = 0; q < B; q++)
                    if (j0 + WARPS * q < total) fma8_f32(acc, s_a[j0 + WARPS * q], u[q], v[q]);
            }
        }
    }
    return total;
}

/* gemv_v3: the GEMV that skips zeros in ONE launch (v2: a GEMV and a reduction kernel). Block
 * (x: a tile of 256 columns, y: split s of S, z: row m), 8 warps; the block scans its slice s
 * of row m of A 1024 entries at a time (128 per warp, 4 loads per lane at once), lists the
 * nonzero ones in order in shared memory (ballots, the warps' counts scanned), and deals the
 * list out to its warps (warp w: entries w, w + 8, …, so every warp gets the same number of
 * rows ± 1), each taking 12 (bf16) or 6 (f32) entries at a time and issuing their row loads
 * of W (16 bytes per lane per bf16 row: 8 columns) before the FMAs. The 8 warps' rows are summed in warp order through shared
 * memory; with S > 1 the block writes its partial row, and the LAST block of the tile to
 * arrive (a counter per tile in the workspace head, reset by that block) sums the S partials
 * in a fixed order (warp w takes s ≡ w mod 8, then the warps in order): deterministic whatever
 * the arrival order. N % 8 == 0 and W 16-byte aligned (else v2). */
template <int BF>
static __global__ void __launch_bounds__(256, BF ? 3 : 2) gemv_v3(const void *A, int64_t K, const void *W, int64_t N, int S,
                                                      int64_t M, float *part, unsigned *tile_cnt, void *Y,
                                                      unsigned long long *ctr)
{
    __shared__ __align__(16) float red[8][256];
    __shared__ int s_k[1024]; /* the nonzeros of the block's current 1024 entries: offset in the slice, value */
    __shared__ float s_a[1024];
    __shared__ int s_cnt[8];
    __shared__ int s_last;
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    const int64_t m = blockIdx.z, s = blockIdx.y, c0 = (int64_t)blockIdx.x * 256 + lane * 8;
    const int64_t kb0 = K * s / S, kb1 = K * (s + 1) / S; /* the block's slice of K */
    const bool live = c0 < N;
    constexpr int B = BF ? 12 : 6; /* rows of W in flight per lane (48 registers of loads either way) */
    float acc[8];
#pragma unroll
    for (int q = 0; q < 8; q++) acc[q] = 0.0f;
    unsigned nnz = 0;
    grid_dep_launch(); /* under PDL (QT_CUDA_GEMV_PDL): the next grid may be scheduled now ... */
    grid_dep_wait();   /* ... and this one reads nothing before the grids before it completed */
    for (int64_t pass = kb0; pass < kb1; pass += 1024) {
        nnz += (unsigned)gemv_pass<BF, 8, B>(A, K, W, N, m, kb0, kb1, pass, c0, live, s_k, s_a, s_cnt, acc);
        __syncthreads(); /* the list is rewritten by the next pass */
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        atomicAdd(&ctr[0], (unsigned long long)nnz);
        atomicAdd(&ctr[1], 2ull * nnz * (unsigned long long)N);
        atomicAdd(&ctr[2], (unsigned long long)(kb1 - kb0 - (int64_t)nnz) * (unsigned long long)N);
    }
    float4 *r4 = (float4 *)&red[wid][lane * 8];
    r4[0] = make_float4(acc[0], acc[1], acc[2], acc[3]);
    r4[1] = make_float4(acc[4], acc[5], acc[6], acc[7]);
    __syncthreads();
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < 8; w++) sum += red[w][threadIdx.x];
    const int64_t col = (int64_t)blockIdx.x * 256 + threadIdx.x;
    if (S > 1) {
        if (col < N) part[(s * M + m) * N + col] = sum;
        __threadfence();
        __syncthreads();
        if (threadIdx.x == 0) s_last = atomicAdd(&tile_cnt[m * gridDim.x + blockIdx.x], 1u) == (unsigned)S - 1;
        __syncthreads();
        if (!s_last) return;
        __threadfence();
        float r[8];
#pragma unroll
        for (int q = 0; q < 8; q++) r[q] = 0.0f;
        if (live)
#pragma unroll 4
            for (int sp = wid; sp < S; sp += 8) {
                const float4 *p = (const float4 *)(part + ((int64_t)sp * M + m) * N + c0);
                float4 x = __ldcg(p), y = __ldcg(p + 1);
                r[0] += x.x, r[1] += x.y, r[2] += x.z, r[3] += x.w, r[4] += y.x, r[5] += y.y, r[6] += y.z, r[7] += y.w;
            }
        r4[0] = make_float4(r[0], r[1], r[2], r[3]);
        r4[1] = make_float4(r[4], r[5], r[6], r[7]);
        __syncthreads();
        sum = 0.0f;
#pragma unroll
        for (int w = 0; w < 8; w++) sum += red[w][threadIdx.x];
        if (threadIdx.x == 0) tile_cnt[m * gridDim.x + blockIdx.x] = 0;
    }
    if (col < N) {
        if (BF) ((__nv_bfloat16 *)Y)[m * N + col] = __float2bfloat16_rn(sum);
        else ((float *)Y)[m * N + col] = sum;
    }
}

/* gemv_v4: the GEMV that skips zeros as ONE launch of thread-block CLUSTERS (sm_90): block (x:
 * a tile of 256 columns, y: split s of 8 of K, z: row m) of 16 warps; the 8 splits of a tile
 * form a cluster. A block lists the nonzeros of its slice 2048 entries at a time (128 per warp)
 * and deals them to its 16 warps, each with 16 (bf16) / 8 (f32) rows of W in flight per lane;
 * the warps' rows are summed in warp order into the block's column sums, and the cluster sums
 * its 8 blocks' column sums through distributed shared memory in rank order (block r writes
 * columns 32r … 32r + 31 of the tile): no partial rows in global memory, no counters, no
 * last-block wait (v3's chain of a fence, an atomic and a second read). Deterministic. */
template <int BF>
static __global__ void __cluster_dims__(1, 8, 1) __launch_bounds__(512, 1)
    gemv_v4(const void *A, int64_t K, const void *W, int64_t N, int64_t M, void *Y, unsigned long long *ctr)
{
    namespace cg = cooperative_groups;
    __shared__ __align__(16) float red[16][256];
    __shared__ int s_k[2048];
    __shared__ float s_a[2048];
    __shared__ int s_cnt[16];
    __shared__ float colsum[256];
    cg::cluster_group cluster = cg::this_cluster();
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    const int64_t m = blockIdx.z, s = blockIdx.y, c0 = (int64_t)blockIdx.x * 256 + lane * 8;
    const int64_t kb0 = K * s / 8, kb1 = K * (s + 1) / 8;
    const bool live = c0 < N;
    constexpr int B = BF ? 16 : 8;
    float acc[8];
#pragma unroll
    for (int q = 0; q < 8; q++) acc[q] = 0.0f;
    unsigned nnz = 0;
    for (int64_t pass = kb0; pass < kb1; pass += 2048) {
        nnz += (unsigned)gemv_pass<BF, 16, B>(A, K, W, N, m, kb0, kb1, pass, c0, live, s_k, s_a, s_cnt, acc);
        __syncthreads();
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        atomicAdd(&ctr[0], (unsigned long long)nnz);
        atomicAdd(&ctr[1], 2ull * nnz * (unsigned long long)N);
        atomicAdd(&ctr[2], (unsigned long long)(kb1 - kb0 - (int64_t)nnz) * (unsigned long long)N);
    }
    float4 *r4 = (float4 *)&red[wid][lane * 8];
    r4[0] = make_float4(acc[0], acc[1], acc[2], acc[3]);
    r4[1] = make_float4(acc[4], acc[5], acc[6], acc[7]);
    __syncthreads();
    if (threadIdx.x < 256) {
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < 16; w++) sum += red[w][threadIdx.x];
        colsum[threadIdx.x] = sum;
    }
    cluster.sync(); /* every block's column sums written */
    const unsigned rank = cluster.block_rank();
    if (threadIdx.x < 32) {
        const int t = (int)rank * 32 + (int)threadIdx.x;
        const int64_t col = (int64_t)blockIdx.x * 256 + t;
        float sum = 0.0f;
#pragma unroll
        for (unsigned q = 0; q < 8; q++) sum += cluster.map_shared_rank(colsum, q)[t];
        if (col < N) {
            if (BF) ((__nv_bfloat16 *)Y)[m * N + col] = __float2bfloat16_rn(sum);
            else ((float *)Y)[m * N + col] = sum;
        }
    }
    cluster.sync(); /* the others' shared memory read before any block exits */
}

/* ---- version 5: the batch-1 GEMV without split-K (QT_CUDA_SPARSE_KERNEL=5, M ≤ 4) ---- */

#define V5_CAP 256 /* list entries per warp in shared memory */
#define V5_B 16    /* W load instructions in flight per lane */


/* The rows of a warp's list (entries k, a in sk/sa, cnt of them) into acc: lane (g, c) takes
 * rows g, g + RPI, … and chunk c of the block's TC columns (Wc: row 0 of that chunk), V5_B
 * 16-byte loads issued before the first FMA. */
template <int BF, int LPR>
static __device__ __forceinline__ void v5_rows(const int *sk, const float *sa, int cnt, const char *Wc, int64_t rowbytes,
                                               bool live, int g, float *acc)
{
    constexpr int EPC = BF ? 8 : 4, RPI = 32 / LPR;
    __syncwarp();
    for (int j0 = 0; j0 < cnt; j0 += RPI * V5_B) {
        uint4 w[V5_B];
#pragma unroll
        for (int q = 0; q < V5_B; q++) {
            const int j = j0 + q * RPI + g;
            if (live && j < cnt) w[q] = __ldg((const uint4 *)(Wc + (int64_t)sk[j] * rowbytes));
        }
#pragma unroll
        for (int q = 0; q < V5_B; q++) {
            const int j = j0 + q * RPI + g;
            if (live && j < cnt) {
                const float a = sa[j];
                float f[EPC];
                unpack16<BF>(w[q], f);
#pragma unroll
                for (int e = 0; e < EPC; e++) acc[e] = fmaf(a, f[e], acc[e]);
            }
        }
    }
    __syncwarp();
}

/* The same, not inlined: the rare consumption of a full list inside gemv_v5's scan (inlined
 * there, its loads and the scan's registers together spilled at the 128-register cap). */
template <int N>
struct v5_acc {
    float v[N];
};
template <int BF, int LPR>
static __device__ __noinline__ v5_acc<BF ? 8 : 4> v5_rows_call(const int *sk, const float *sa, int cnt, const char *Wc,
                                                               int64_t rowbytes, bool live, int g, v5_acc<BF ? 8 : 4> a)
{
    v5_rows<BF, LPR>(sk, sa, cnt, Wc, rowbytes, live, g, a.v);
    return a;
}

/* gemv_v5: the GEMV that skips zeros, ONE launch and NO split of K across blocks (v3: split-K,
 * partial rows in global memory, a fence, a tile counter and the last block's second read at
 * the end of the chain; v4: clusters, slower). Block (x: a tile of TC = LPR·EPC columns, z: row
 * m of A) of WARPS warps; warp w scans its 1/WARPS of row m with 16-byte loads of A (4 in
 * flight per lane), lists the nonzeros in order in its own shared-memory list (per-lane
 * popcounts and a warp scan; the list is consumed whenever the next 32 chunks would overflow
 * it) and reads for each listed k only W[k, the tile] — RPI = 32/LPR rows per load
 * instruction, LPR lanes × 16 bytes contiguous per row, V5_B loads in flight per lane. The row
 * groups of a warp are summed by a fixed butterfly, the warps in warp order through shared
 * memory: deterministic. Needs K·es and N·es multiples of 16 and 16-byte aligned A and W.
 * gemv_v6 is this kernel with CS > 1 (launched as clusters of CS blocks along y): block y = s
 * of the cluster takes the s-th of CS slices of K, and the CS blocks' column sums are added in
 * rank order through distributed shared memory (block r finishes columns r·TC/CS …): K split
 * over CS SMs without partial rows in global memory, so that full 128-byte row pieces (LPR 8
 * in bf16: 64 columns, 64 tiles at N = 4096) still occupy every SM. */
template <int BF, int LPR, int WARPS, int CS>
static __global__ void __launch_bounds__(WARPS * 32, 16 / WARPS)
    gemv_v5(const void *A, int64_t K, const void *W, int64_t N, void *Y, unsigned long long *ctr)
{
    constexpr int EPC = BF ? 8 : 4, ES = BF ? 2 : 4, TC = LPR * EPC;
    __shared__ int s_k[WARPS][V5_CAP];
    __shared__ float s_a[WARPS][V5_CAP];
    __shared__ float red[WARPS][TC];
    __shared__ float colsum[TC];
    __shared__ unsigned s_nnz[WARPS];
    __shared__ int64_t s_range; /* entries of the block's slice (for the skipped-work counter) */
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, g = lane / LPR, c = lane % LPR;
    const int64_t m = blockIdx.z, col = (int64_t)blockIdx.x * TC + c * EPC, rowbytes = N * ES;
    const bool live = col < N;
    const char *Wc = (const char *)W + col * ES;
    const int64_t nch = K / EPC, cb0 = nch * blockIdx.y / CS, cb1 = nch * (blockIdx.y + 1) / CS;
    const int64_t ch0 = cb0 + (cb1 - cb0) * wid / WARPS, ch1 = cb0 + (cb1 - cb0) * (wid + 1) / WARPS;
    const uint4 *Ar = (const uint4 *)((const char *)A + m * K * ES);
    if (threadIdx.x == 0) s_range = (cb1 - cb0) * EPC;
    int *sk = s_k[wid];
    float *sa = s_a[wid];
    float acc[EPC];
#pragma unroll
    for (int e = 0; e < EPC; e++) acc[e] = 0.0f;
    int cnt = 0;
    unsigned nnz = 0;
    for (int64_t base = ch0; base < ch1; base += 4 * 32) {
        uint4 av[4];
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int64_t ch = base + r * 32 + lane;
            av[r] = ch < ch1 ? __ldg(Ar + ch) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int r = 0; r < 4; r++) {
            float v[EPC];
            unpack16<BF>(av[r], v);
            int n = 0;
#pragma unroll
            for (int e = 0; e < EPC; e++) n += v[e] != 0.0f;
            int x = n; /* inclusive scan over the lanes */
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                const int y = __shfl_up_sync(FULL, x, o);
                if (lane >= o) x += y;
            }
            const int tot = __shfl_sync(FULL, x, 31);
            if (cnt + tot > V5_CAP) { /* consume the list first (warp-uniform) */
                v5_acc<EPC> t;
#pragma unroll
                for (int e = 0; e < EPC; e++) t.v[e] = acc[e];
                t = v5_rows_call<BF, LPR>(sk, sa, cnt, Wc, rowbytes, live, g, t);
#pragma unroll
                for (int e = 0; e < EPC; e++) acc[e] = t.v[e];
                cnt = 0;
            }
            int pos = cnt + x - n;
            const int k0 = (int)((base + r * 32 + lane) * EPC);
#pragma unroll
            for (int e = 0; e < EPC; e++)
                if (v[e] != 0.0f) sk[pos] = k0 + e, sa[pos] = v[e], pos++;
            cnt += tot;
            nnz += (unsigned)tot;
        }
    }
    v5_rows<BF, LPR>(sk, sa, cnt, Wc, rowbytes, live, g, acc);
#pragma unroll
    for (int o = LPR; o < 32; o <<= 1)
#pragma unroll
        for (int e = 0; e < EPC; e++) acc[e] += __shfl_xor_sync(FULL, acc[e], o);
    if (g == 0)
#pragma unroll
        for (int e = 0; e < EPC; e++) red[wid][c * EPC + e] = acc[e];
    if (lane == 0) s_nnz[wid] = nnz;
    __syncthreads();
    if (threadIdx.x < TC) {
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < WARPS; w++) sum += red[w][threadIdx.x];
        colsum[threadIdx.x] = sum;
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        unsigned long long t = 0;
        for (int w = 0; w < WARPS; w++) t += s_nnz[w];
        atomicAdd(&ctr[0], t);
        atomicAdd(&ctr[1], 2ull * t * (unsigned long long)N);
        atomicAdd(&ctr[2], ((unsigned long long)s_range - t) * (unsigned long long)N);
    }
    if constexpr (CS == 1) {
        __syncthreads();
        const int64_t j = (int64_t)blockIdx.x * TC + threadIdx.x;
        if (threadIdx.x < TC && j < N) {
            if (BF) ((__nv_bfloat16 *)Y)[m * N + j] = __float2bfloat16_rn(colsum[threadIdx.x]);
            else ((float *)Y)[m * N + j] = colsum[threadIdx.x];
        }
    } else {
        namespace cg = cooperative_groups;
        cg::cluster_group cluster = cg::this_cluster();
        cluster.sync(); /* every block's column sums written */
        const unsigned rank = cluster.block_rank();
        if (threadIdx.x < TC / CS) {
            const int t = (int)rank * (TC / CS) + (int)threadIdx.x;
            float sum = 0.0f;
#pragma unroll
            for (int q = 0; q < CS; q++) sum += cluster.map_shared_rank(colsum, q)[t];
            const int64_t j = (int64_t)blockIdx.x * TC + t;
            if (j < N) {
                if (BF) ((__nv_bfloat16 *)Y)[m * N + j] = __float2bfloat16_rn(sum);
                else ((float *)Y)[m * N + j] = sum;
            }
        }
        cluster.sync(); /* the others' shared memory read before any block exits */
    }
}

/* ---- version 7: W rows by bulk asynchronous copies into shared memory, K split over a
 * cluster, Programmatic Dependent Launch (QT_CUDA_SPARSE_KERNEL=7, M ≤ 4) ---- */

#define V7_THREADS 256 /* 8 warps */
#define V7_NST 4       /* shared-memory stages of W rows, each with its mbarrier */
#define V7_PASS (V7_THREADS * 8) /* entries of A listed per pass (8 per thread: one 16-byte bf16 load) */
#define V8_B 16                  /* gemv_v8: rows of W in flight per lane (16-byte loads) */

static __device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

static __device__ __forceinline__ void mbar_init(uint64_t *b, unsigned count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(b)), "r"(count) : "memory");
}
static __device__ __forceinline__ void mbar_expect_tx(uint64_t *b, unsigned bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(b)), "r"(bytes) : "memory");
}
static __device__ __forceinline__ void mbar_wait(uint64_t *b, unsigned parity)
{
    uint32_t done;
    do {
        asm volatile("{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\tselp.u32 %0, 1, 0, p;\n\t}"
                     : "=r"(done)
                     : "r"(smem_addr(b)), "r"(parity)
                     : "memory");
    } while (!done);
}
/* bytes (a multiple of 16, both addresses 16-byte aligned) from global src to this block's
 * shared dst, completion counted on mbarrier b. */
static __device__ __forceinline__ void bulk_g2s(void *dst, const void *src, unsigned bytes, uint64_t *b)
{
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                     smem_addr(dst)),
                 "l"(src), "r"(bytes), "r"(smem_addr(b))
                 : "memory");
}

/* The nonzeros of A[m, seg … se) (Am: row m; seg, se multiples of 8, A 16-byte aligned) listed
 * in order into s_k (column) and s_a (value), THREADS·8 entries a pass (8 per thread from one
 * bf16 or two f32 16-byte loads, L2 only: ld.global.cg), one block scan each; returns how many.
 * Every thread of the block calls it; it ends with a barrier. WARP = 1 (THREADS = 32): the
 * calling warp alone lists its own range (a warp scan, __syncwarp: no block barrier). */
template <int BF, int THREADS, int WARP = 0>
static __device__ __forceinline__ int list_nonzeros(const char *Am, int64_t seg, int64_t se, int *s_k, float *s_a)
{
    constexpr int ES = BF ? 2 : 4;
    static_assert(!WARP || THREADS == 32, "a warp's list: 32 threads");
    int cnt = 0;
    for (int64_t p = seg; p < se; p += THREADS * 8) {
        const int64_t k = p + (WARP ? threadIdx.x & 31 : threadIdx.x) * 8;
        float v[8];
        unsigned mask = 0;
        if (k < se) {
            unpack16<BF>(__ldcg((const uint4 *)(Am + k * ES)), v);
            if (!BF) unpack16<0>(__ldcg((const uint4 *)(Am + k * ES) + 1), v + 4);
#pragma unroll
            for (int e = 0; e < 8; e++) mask |= (unsigned)(v[e] != 0.0f) << e;
        }
        unsigned total;
        unsigned pos = (unsigned)cnt + (WARP ? warp_exclusive_scan((unsigned)__popc(mask), &total)
                                             : block_exclusive_scan((unsigned)__popc(mask), &total));
#pragma unroll
        for (int e = 0; e < 8; e++)
            if (mask >> e & 1u) s_k[pos] = (int)(k + e), s_a[pos] = v[e], pos++;
        cnt += (int)total;
        if (WARP) __syncwarp();
        else __syncthreads(); /* the list written; the scan's shared words free for the next pass */
    }
    return cnt;
}

/* acc += a·W[k, the lane's 16 bytes] for the listed rows g, g + G, … of (s_k, s_a, cnt) (Wt: those
 * bytes in row 0), L2 only (ld.global.cg; LD = 1: ld.global.nc, 2: a plain load — gemv_v9-v11
 * under QT_CUDA_GEMV_WLD: W is not written while a GEMV runs, and its rows are read after the
 * dependency wait, so every form sees the writes of the kernels before). RING = 0: rounds of B
 * loads in flight, then their FMAs (v8, v9: B = V8_B covers a slice's rows in one round); RING =
 * 1: B loads kept in flight
 * all along, each row's successor (B rows on) issued as soon as that row is consumed
 * (v10: half the registers, the rows of a slice in about two rounds' worth of loads without a
 * gap between them). */
template <int BF, int B = V8_B, int RING = 0, int LD = 0>
static __device__ __forceinline__ void rows_from_list(const int *s_k, const float *s_a, int cnt, int g, int G,
                                                      const char *Wt, unsigned rowbytes, float *acc)
{
    constexpr int EPC = BF ? 8 : 4;
    auto row = [&](int j) {
        const uint4 *p = (const uint4 *)(Wt + (size_t)(unsigned)s_k[j] * rowbytes);
        return LD == 1 ? __ldg(p) : LD == 2 ? *p : __ldcg(p);
    };
    auto fma16 = [&](uint4 w, float a) {
        float f[EPC];
        unpack16<BF>(w, f);
#pragma unroll
        for (int e = 0; e < EPC; e++) acc[e] = fmaf(a, f[e], acc[e]);
    };
    uint4 w[B];
    if constexpr (!RING) {
        for (int j0 = g; j0 < cnt; j0 += G * B) {
#pragma unroll
            for (int q = 0; q < B; q++)
                if (j0 + q * G < cnt) w[q] = row(j0 + q * G);
#pragma unroll
            for (int q = 0; q < B; q++)
                if (j0 + q * G < cnt) fma16(w[q], s_a[j0 + q * G]);
        }
    } else {
#pragma unroll
        for (int q = 0; q < B; q++)
            if (g + q * G < cnt) w[q] = row(g + q * G);
        for (int j0 = g; j0 < cnt; j0 += G * B)
#pragma unroll
            for (int q = 0; q < B; q++) {
                const int j = j0 + q * G;
                if (j < cnt) {
                    fma16(w[q], s_a[j]);
                    if (j + G * B < cnt) w[q] = row(j + G * B);
                }
            }
    }
}

/* v[0] + v[st] + … + v[(n − 1)·st] in a fixed order: four running sums (of terms q ≡ 0, 1, 2, 3
 * mod 4) added pairwise at the end, so that the loads are not one dependent chain. */
static __device__ __forceinline__ float strided_sum(const float *v, int n, int st)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int q = 0;
    for (; q + 4 <= n; q += 4) s0 += v[q * st], s1 += v[(q + 1) * st], s2 += v[(q + 2) * st], s3 += v[(q + 3) * st];
    if (q < n) s0 += v[q * st];
    if (q + 1 < n) s1 += v[(q + 1) * st];
    if (q + 2 < n) s2 += v[(q + 2) * st];
    return (s0 + s1) + (s2 + s3);
}

/* A cluster GEMV block's end (v7-v9): the counters (block x = 0: nonzeros, flops, skipped
 * multiply-adds of its slice of `range` entries); its row groups' sums red[G][TCc] added per
 * column in group order, stored into the leader's slot[rank][TCc] (distributed shared memory;
 * the caller arrived, relaxed, on the cluster barrier at its start, so every block has started
 * when the wait returns), ONE cluster barrier (release / acquire), then the leader adds the CS
 * ranks in rank order and writes Y[m, col0 …); the other blocks return at once. red is this
 * block's shared memory, written before a block barrier by the caller. ts (thread 0 of a traced
 * gemv_v9, else NULL): the leader's %globaltimer after the barrier and after its writes. fbar
 * (gemv_v9 under QT_CUDA_GEMV_FIN): instead of the second cluster barrier, the other blocks push
 * their sums into the leader with st.async, completing on the leader's mbarrier fbar (armed at
 * the kernel's start for (CS − 1)·TCc·4 bytes, before the cluster arrive), and exit; the leader
 * waits on it (acquire, cluster scope). */
template <int BF>
static __device__ __forceinline__ void cluster_finish(const float *red, int G, int TCc, float *slot, void *Y, int64_t m,
                                                      int64_t N, int64_t col0, unsigned long long *ctr, unsigned nnz,
                                                      int64_t range, unsigned long long *ts = NULL, uint64_t *fbar = NULL)
{
    namespace cg = cooperative_groups;
    cg::cluster_group cluster = cg::this_cluster();
    const int CS = (int)gridDim.y;
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        atomicAdd(&ctr[0], (unsigned long long)nnz);
        atomicAdd(&ctr[1], 2ull * nnz * (unsigned long long)N);
        atomicAdd(&ctr[2], (unsigned long long)(range - (int64_t)nnz) * (unsigned long long)N);
    }
    const unsigned rank = cluster.block_rank();
    asm volatile("barrier.cluster.wait.aligned;" ::: "memory");
    if (fbar) { /* the sums pushed into the leader by st.async, counted on its mbarrier: no second cluster barrier */
        uint32_t rslot, rbar;
        asm("mapa.shared::cluster.u32 %0, %1, 0;" : "=r"(rslot) : "r"(smem_addr(slot)));
        asm("mapa.shared::cluster.u32 %0, %1, 0;" : "=r"(rbar) : "r"(smem_addr(fbar)));
        for (int t = threadIdx.x; t < TCc; t += blockDim.x) {
            const float sum = strided_sum(red + t, G, TCc);
            if (rank == 0) slot[t] = sum;
            else
                asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.b32 [%0], %1, [%2];" ::"r"(
                                 rslot + (rank * TCc + t) * 4u),
                             "r"(__float_as_uint(sum)), "r"(rbar)
                             : "memory");
        }
        if (rank != 0) return;
        __syncthreads(); /* the leader's own sums */
        uint32_t done;
        do
            asm volatile("{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%1], 0;\n\t"
                         "selp.u32 %0, 1, 0, p;\n\t}"
                         : "=r"(done)
                         : "r"(smem_addr(fbar))
                         : "memory");
        while (!done);
    } else {
        float *lead = cluster.map_shared_rank(slot, 0);
        for (int t = threadIdx.x; t < TCc; t += blockDim.x) lead[rank * TCc + t] = strided_sum(red + t, G, TCc);
        asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory");
        if (rank != 0) return; /* nothing reads this block's shared memory */
        asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
    }
    if (ts) ts[5] = gtimer();
    for (int t = threadIdx.x; t < TCc && col0 + t < N; t += blockDim.x) {
        const float sum = strided_sum(slot + t, CS, TCc);
        if (BF) ((__nv_bfloat16 *)Y)[m * N + col0 + t] = __float2bfloat16_rn(sum);
        else ((float *)Y)[m * N + col0 + t] = sum;
    }
    if (ts) ts[6] = gtimer();
}

/* gemv_v7: the GEMV that skips zeros, ONE launch of clusters, W rows fetched by the copy engine.
 * Block (x: a tile of TC = LPR·EPC columns, i.e. RB = 16·LPR bytes of each row of W; y: slice
 * s of CS of K, the cluster's rank; z: row m) of 256 threads:
 *  1. before the dependency wait (overlapping the previous grid's tail under PDL): mbarriers
 *     initialised, the block's slice of A prefetched into L2 (a bulk prefetch: a hint that
 *     returns no data, so nothing stale can be read through it; A's values are read after the
 *     wait, from L2 (ld.global.cg)), and the next grid allowed to launch;
 *  2. the slice listed (8 entries per thread per pass, a block scan keeps them in order) in
 *     shared memory, up to `lcap` entries at a time (a segment);
 *  3. warp 0 issues one cp.async.bulk per listed row (RB bytes of W[k, tile]) into V7_NST
 *     stages of `srows` rows, each completing on its mbarrier: every row of a segment is in
 *     flight at once when the stages hold them (bytes in flight bounded by shared memory, not
 *     registers); a stage is refilled once its rows are consumed;
 *  4. the 8 warps take the stage's rows in groups (LPR lanes × 16 bytes per row), FMAs into
 *     registers; the row groups summed in a fixed order through shared memory;
 *  5. each block's column sums stored into the cluster leader's shared memory (distributed
 *     shared memory), one cluster barrier (arrive.release / wait.acquire), the leader adds the
 *     CS slices in rank order and writes Y: no partial rows in global memory, no fence, no
 *     counter, no second kernel. Deterministic. The other blocks exit after their arrive.
 * Needs K % 8 == 0, N·es % 16 == 0, A and W 16-byte aligned (the launcher checks). */
template <int BF, int CS, int LPR, int BULK>
static __global__ void __launch_bounds__(V7_THREADS, 2)
    gemv_v7(const void *A, int64_t K, const void *W, int64_t N, void *Y, unsigned long long *ctr, int srows, int lcap)
{
    constexpr int EPC = BF ? 8 : 4, ES = BF ? 2 : 4, RB = 16 * LPR, TC = LPR * EPC, RPW = 32 / LPR,
                  G = (V7_THREADS / 32) * RPW;
    extern __shared__ __align__(128) char v7_smem[]; /* V7_NST·srows rows of RB bytes | s_k[lcap] | s_a[lcap] */
    __shared__ __align__(8) uint64_t s_bar[V7_NST];
    __shared__ __align__(16) float slot[CS][TC]; /* the leader's: the cluster's column sums by rank */
    char *rows = v7_smem;
    int *s_k = (int *)(v7_smem + (size_t)V7_NST * srows * RB);
    float *s_a = (float *)(s_k + lcap);
    const int tid = threadIdx.x, lane = tid & 31, wid = tid >> 5, g = wid * RPW + lane / LPR, c = lane % LPR;
    const int64_t m = blockIdx.z, s = blockIdx.y, col0 = (int64_t)blockIdx.x * TC;
    const int64_t n8 = K / 8, kb0 = 8 * (n8 * s / CS), kb1 = 8 * (n8 * (s + 1) / CS);
    const int64_t tb64 = (N - col0) * ES < RB ? (N - col0) * ES : RB; /* bytes of the tile in a row */
    const unsigned tb = (unsigned)tb64;
    const bool live = c * 16 < (int)tb;
    const char *Am = (const char *)A + (size_t)(m * K) * ES;
    const char *Wt = (const char *)W + col0 * ES;
    if (tid == 0) {
        for (int q = 0; q < V7_NST; q++) mbar_init(&s_bar[q], 1);
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
        if (kb1 > kb0)
            asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(Am + kb0 * ES),
                         "r"((unsigned)((kb1 - kb0) * ES))
                         : "memory");
    }
    grid_dep_launch();
    asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory"); /* waited on in cluster_finish */
    grid_dep_wait();
    __syncthreads();
    float acc[EPC];
#pragma unroll
    for (int e = 0; e < EPC; e++) acc[e] = 0.0f;
    unsigned nnz = 0, gj = 0; /* gj: chunks through the stages so far (stage gj % V7_NST, parity (gj / V7_NST) & 1) */
    for (int64_t seg = kb0; seg < kb1; seg += lcap) {
        const int64_t se = seg + lcap < kb1 ? seg + lcap : kb1;
        const int cnt = list_nonzeros<BF, V7_THREADS>(Am, seg, se, s_k, s_a);
        nnz += (unsigned)cnt;
        if constexpr (!BULK) { /* v8: row group g takes rows g, g + G, … through registers */
            if (live) rows_from_list<BF>(s_k, s_a, cnt, g, G, Wt + c * 16, (unsigned)(N * ES), acc);
            __syncthreads(); /* the list read by every warp before the next segment (or red) rewrites it */
            continue;
        }
        const int nch = (cnt + srows - 1) / srows;
        /* warp 0 queues chunk j (rows j·srows …) into stage (gj0 + j) % V7_NST */
        const unsigned gj0 = gj;
        auto issue = [&](int j) {
            const int r0 = j * srows, n = cnt - r0 < srows ? cnt - r0 : srows;
            const unsigned st = (gj0 + (unsigned)j) % V7_NST;
            if (lane == 0) mbar_expect_tx(&s_bar[st], (unsigned)n * tb);
            __syncwarp();
            char *dst = rows + (size_t)st * srows * RB;
            for (int i = lane; i < n; i += 32)
                bulk_g2s(dst + (size_t)i * RB, Wt + (size_t)s_k[r0 + i] * (size_t)N * ES, tb, &s_bar[st]);
        };
        if (wid == 0)
            for (int j = 0; j < nch && j < V7_NST; j++) issue(j);
        for (int j = 0; j < nch; j++, gj++) {
            const unsigned st = gj % V7_NST;
            const int r0 = j * srows, n = cnt - r0 < srows ? cnt - r0 : srows;
            mbar_wait(&s_bar[st], (gj / V7_NST) & 1u);
            if (live) {
                const char *src = rows + (size_t)st * srows * RB + c * 16;
#pragma unroll 4
                for (int i = g; i < n; i += G) {
                    const uint4 w = *(const uint4 *)(src + (size_t)i * RB);
                    const float a = s_a[r0 + i];
                    float f[EPC];
                    unpack16<BF>(w, f);
#pragma unroll
                    for (int e = 0; e < EPC; e++) acc[e] = fmaf(a, f[e], acc[e]);
                }
            }
            __syncthreads(); /* stage st consumed (and, at the last chunk, the list too) */
            if (wid == 0 && j + V7_NST < nch) issue(j + V7_NST);
        }
    }
    /* the row groups' sums red[g][TC] over the stage memory (all stages consumed above) */
    float *red = (float *)v7_smem;
#pragma unroll
    for (int e = 0; e < EPC; e++) red[g * TC + c * EPC + e] = acc[e];
    __syncthreads();
    cluster_finish<BF>(red, G, TC, &slot[0][0], Y, m, N, col0, ctr, nnz, kb1 - kb0);
}

/* ---- versions 9 and 10: v8 at one block per SM, every row of a block's slice in flight at once;
 * two blocks per SM, so that the next call's blocks wait resident ---- */

#define V9_THREADS 512
#define V9_PASS (V9_THREADS * 8) /* entries of A listed per pass */
#define V10_TCH 64               /* v10: at most this many 16-byte chunks a tile (its shared memory, two blocks an SM) */
#define V9_FIN 1 /* gemv_v9 flags: the finish through st.async and the leader's mbarrier (cluster_finish) */

/* gemv_v9: v8 (cluster split of K summed in the leader's shared memory, PDL, A prefetched into
 * L2, W rows through registers) sized so that a block's rows are ALL in flight at once: v8's
 * 256-thread blocks with 16 loads per lane took the ~205 rows of a slice in two rounds (at one
 * block per SM an 8-block cluster grid runs in two waves: cudaOccupancyMaxActiveClusters is 15
 * on the H200, 120 SMs). Here 512 threads with V8_B = 16 loads each, one block per SM, and the
 * grid sized to the clusters that fit at once: T column tiles of `tch` 16-byte chunks each (any
 * count, not a power of two: N·es/16 chunks over T tiles), thread t takes chunk t % tch of the
 * rows t / tch, t / tch + G, … (G = 512 / tch row groups). Block (x: tile, y: slice s of CS =
 * cluster rank, z: row m). Dynamic shared memory: the list (lcap entries) | the leader's column
 * sums by rank (CS × tch·EPC floats); the row-group sums reuse the list. Deterministic.
 * V = 10 (gemv_v10): the same at TWO blocks per SM (≤ 64 registers: 8 row loads per lane kept
 * in flight by rows_from_list's ring instead of 16 in one round) with the grid sized to HALF the
 * clusters that fit (one block per SM, 15 clusters on the H200), so that the next call's grid,
 * launched early under PDL, has its blocks resident while this one runs: they prefetch their A
 * slice into L2 and wait in griddepcontrol.wait; when this grid completes they read A from L2
 * and go (v9's next blocks could start only after its blocks exited: their start and A's DRAM
 * round trip sat between two calls). TR = 1 (QT_CUDA_GEMV_TRACE, a diagnostic): thread 0 of each
 * block stamps %globaltimer (and clock64) at its start, after the wait, the list, the rows, the
 * row-group sums, and (the leader) after the cluster barrier and the write, into trace[block]
 * (trace_report on the host). V = 11 (gemv_v11): tch = 32, so that lane c of warp g is chunk c of
 * row group g, and each warp lists its own 1/16 of the slice (list_nonzeros<WARP>: a warp scan, no
 * block barrier) in its 1/16 of the list memory and reads only those rows: the W loads start as
 * soon as the warp's own entries of A are in (rows not balanced across the warps). flags &
 * V9_FIN (the default; QT_CUDA_GEMV_FIN=0 clears it): cluster_finish through st.async into the
 * leader's mbarrier, armed here before the cluster arrive. LD: the W rows' load (rows_from_list;
 * QT_CUDA_GEMV_WLD = 0 (default) .cg, 1 .nc, 2 plain). */
template <int BF, int V, int TR, int LD>
static __global__ void __launch_bounds__(V9_THREADS, V == 10 ? 2 : 1)
    gemv_v9(const void *A, int64_t K, const void *W, int64_t N, void *Y, unsigned long long *ctr, int tch_arg, int lcap,
            unsigned long long *trace, int flags)
{
    constexpr int EPC = BF ? 8 : 4, ES = BF ? 2 : 4, WARPS = V9_THREADS / 32;
    extern __shared__ __align__(16) char v9_smem[];
    int *s_k = (int *)v9_smem;
    float *s_a = (float *)(s_k + lcap);
    float *slot = (float *)(v9_smem + (size_t)lcap * 8);
    const int tch = V == 11 ? 32 : tch_arg; /* v11: a lane a chunk, a warp a row group */
    const int CS = (int)gridDim.y, TCc = tch * EPC, G = V9_THREADS / tch;
    const int tid = threadIdx.x, c = tid % tch, g = tid / tch;
    const int64_t m = blockIdx.z, s = blockIdx.y, col0 = (int64_t)blockIdx.x * TCc;
    const int64_t n8 = K / 8, kb0 = 8 * (n8 * s / CS), kb1 = 8 * (n8 * (s + 1) / CS);
    const bool live = g < G && col0 + (int64_t)c * EPC < N;
    const char *Am = (const char *)A + (size_t)(m * K) * ES;
    const char *Wt = (const char *)W + (col0 + (int64_t)c * EPC) * ES;
    unsigned long long *ts = TR && tid == 0 ? trace + ((blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x) * TRACE_W : NULL;
    if (TR && ts) ts[0] = gtimer(), ts[5] = ts[6] = 0, ts[7] = smid();
    __shared__ __align__(8) uint64_t fbar; /* V9_FIN: the leader's mbarrier for the others' sums */
    if (tid == 0 && kb1 > kb0)
        asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(Am + kb0 * ES), "r"((unsigned)((kb1 - kb0) * ES))
                     : "memory");
    if ((flags & V9_FIN) && tid == 0 && blockIdx.y == 0) {
        mbar_init(&fbar, 1);
        mbar_expect_tx(&fbar, (unsigned)((CS - 1) * TCc * 4)); /* the one arrival; completes when the bytes land */
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    grid_dep_launch();
    asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory"); /* waited on in cluster_finish */
    grid_dep_wait();
    if (TR && ts) ts[1] = gtimer(), ts[8] = clock64();
    float acc[EPC];
#pragma unroll
    for (int e = 0; e < EPC; e++) acc[e] = 0.0f;
    unsigned nnz = 0;
    if constexpr (V == 11) { /* warp g lists its 1/WARPS of the slice in its lcap/WARPS entries and reads those rows */
        const int lw = lcap / WARPS;
        const int64_t nb8 = (kb1 - kb0) / 8, w0 = kb0 + 8 * (nb8 * g / WARPS), w1 = kb0 + 8 * (nb8 * (g + 1) / WARPS);
        for (int64_t seg = w0; seg < w1; seg += lw) {
            const int64_t se = seg + lw < w1 ? seg + lw : w1;
            const int cnt = list_nonzeros<BF, 32, 1>(Am, seg, se, s_k + g * lw, s_a + g * lw);
            if (TR && ts) ts[2] = gtimer(), ts[9] = clock64();
            nnz += (unsigned)cnt;
            if (live) rows_from_list<BF, V8_B, 0, LD>(s_k + g * lw, s_a + g * lw, cnt, 0, 1, Wt, (unsigned)(N * ES), acc);
            __syncwarp(); /* the warp's list read before it is rewritten */
        }
        __syncthreads(); /* every warp's list read: red below reuses the list's memory */
    } else {
        for (int64_t seg = kb0; seg < kb1; seg += lcap) {
            const int64_t se = seg + lcap < kb1 ? seg + lcap : kb1;
            const int cnt = list_nonzeros<BF, V9_THREADS>(Am, seg, se, s_k, s_a);
            if (TR && ts) ts[2] = gtimer(), ts[9] = clock64();
            nnz += (unsigned)cnt;
            if (live) rows_from_list<BF, V == 10 ? 8 : V8_B, V == 10, LD>(s_k, s_a, cnt, g, G, Wt, (unsigned)(N * ES), acc);
            __syncthreads(); /* the list read by every thread before it is rewritten */
        }
    }
    if (TR && ts) ts[3] = gtimer(), ts[10] = clock64();
    float *red = (float *)v9_smem; /* red[g][TCc] over the list (lcap·8 ≥ V9_THREADS·EPC·4 bytes + WARPS counts) */
    unsigned *wcnt = (unsigned *)(red + G * TCc); /* v11: the warps' nonzero counts */
    if (g < G)
#pragma unroll
        for (int e = 0; e < EPC; e++) red[g * TCc + c * EPC + e] = acc[e];
    if (V == 11 && (tid & 31) == 0) wcnt[g] = nnz;
    __syncthreads();
    if (V == 11 && tid == 0)
        for (int w = 1; w < WARPS; w++) nnz += wcnt[w];
    if (TR && ts) ts[4] = gtimer(), ts[11] = clock64(), ts[12] = nnz;
    cluster_finish<BF>(red, G, TCc, slot, Y, m, N, col0, ctr, nnz, kb1 - kb0, ts, (flags & V9_FIN) ? &fbar : NULL);
}

/* ---- CSR (QT_SPMM_CSR): A converted to CSR on the device, then a row-wise SpMM ---- */

/* csr_count_v1: ptr[m] = nonzeros of row m (one warp per row); device counters += nonzeros,
 * their flops (2·N each) and the skipped multiply-adds. */
static __global__ void csr_count_v1(const void *A, int bf16, int64_t M, int64_t K, int64_t N, int *ptr,
                                    unsigned long long *ctr)
{
    const int lane = threadIdx.x & 31;
    const int64_t row = blockIdx.x * (int64_t)(blockDim.x >> 5) + (threadIdx.x >> 5);
    unsigned n = 0;
    if (row < M)
        for (int64_t k = lane; k < K; k += 32) n += ld(A, bf16, (size_t)(row * K + k)) != 0.0f;
    n = __reduce_add_sync(FULL, n);
    if (row < M && lane == 0) ptr[row] = (int)n;
    if (lane == 0 && row < M) {
        atomicAdd(&ctr[0], (unsigned long long)n);
        atomicAdd(&ctr[1], 2ull * n * (unsigned long long)N);
        atomicAdd(&ctr[2], (unsigned long long)(K - (int64_t)n) * (unsigned long long)N);
    }
}

/* csr_scan_v1: ptr[0..M) (counts) → exclusive prefix sums in place, ptr[M] = the total; one
 * block of 1024 threads, each a run of ⌈M/1024⌉ counts (as compact_v3). */
static __global__ void __launch_bounds__(1024) csr_scan_v1(int *ptr, int64_t M)
{
    const int t = threadIdx.x;
    const int64_t per = (M + blockDim.x - 1) / blockDim.x, lo = t * per, hi = lo + per < M ? lo + per : M;
    unsigned c = 0, total;
    for (int64_t j = lo; j < hi; j++) c += (unsigned)ptr[j];
    unsigned run = block_exclusive_scan(c, &total); /* every thread has read its counts */
    if (t == 0) ptr[M] = (int)total;
    for (int64_t j = lo; j < hi; j++) {
        const unsigned n = (unsigned)ptr[j];
        ptr[j] = (int)run;
        run += n;
    }
}

/* csr_fill_v1: the column indices and values (f32) of row m at ptr[m] …, in column order (one
 * warp per row, ballots). */
static __global__ void csr_fill_v1(const void *A, int bf16, int64_t M, int64_t K, const int *ptr, int *col, float *val)
{
    const int lane = threadIdx.x & 31;
    const int64_t row = blockIdx.x * (int64_t)(blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= M) return;
    int base = ptr[row];
    for (int64_t k0 = 0; k0 < K; k0 += 32) {
        const int64_t k = k0 + lane;
        const float v = k < K ? ld(A, bf16, (size_t)(row * K + k)) : 0.0f;
        const unsigned bal = __ballot_sync(FULL, v != 0.0f);
        if (v != 0.0f) {
            const int pos = base + __popc(bal & ((1u << lane) - 1u));
            col[pos] = (int)k, val[pos] = v;
        }
        base += __popc(bal);
    }
}

/* csr_spmm_v1: Y[m, cols] = Σ_j val[j]·W[col[j], cols] over row m's entries (block: x = a tile
 * of 8·blockDim.x columns, y = rows m ≡ blockIdx.y mod gridDim.y), 8 columns per thread from
 * 16-byte loads of W when vec (N % 8 == 0, W aligned), else element loads; f32 sums in entry
 * (column) order, stored as f32 or bf16. */
static __global__ void csr_spmm_v1(const int *ptr, const int *col, const float *val, const void *W, int bf16, int64_t M,
                                   int64_t N, int vec, void *Y)
{
    const int64_t c0 = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (c0 >= N) return;
    for (int64_t m = blockIdx.y; m < M; m += gridDim.y) {
        const int lo = ptr[m], hi = ptr[m + 1];
        float acc[8];
#pragma unroll
        for (int q = 0; q < 8; q++) acc[q] = 0.0f;
        if (vec) {
#pragma unroll 4
            for (int j = lo; j < hi; j++) fma_row8(acc, val[j], W, bf16, (int64_t)col[j] * N + c0);
        } else {
            for (int j = lo; j < hi; j++)
                for (int q = 0; q < 8 && c0 + q < N; q++)
                    acc[q] = fmaf(val[j], ld(W, bf16, (size_t)((int64_t)col[j] * N + c0 + q)), acc[q]);
        }
        for (int q = 0; q < 8 && c0 + q < N; q++) {
            if (bf16) ((__nv_bfloat16 *)Y)[m * N + c0 + q] = __float2bfloat16_rn(acc[q]);
            else ((float *)Y)[m * N + c0 + q] = acc[q];
        }
    }
}

/* The zero-padding multiple of the compact GEMM's inner dimension (QT_CUDA_COLSKIP_PAD, a
 * multiple of 8, default 8). */
static int colskip_pad(void)
{
    const char *e = getenv("QT_CUDA_COLSKIP_PAD");
    int p = e ? atoi(e) : 8;
    return p >= 8 && p <= 1024 && p % 8 == 0 ? p : 8;
}

/* Pinned host memory of this thread for the counts a call reads back (NULL: none; then the
 * read-back is a plain synchronous copy). Lives as long as the process. */
static unsigned long long *pinned_counts(void)
{
    static __thread unsigned long long *p;
    static __thread int tried;
    if (!tried) {
        tried = 1;
        if (cudaMallocHost((void **)&p, 64) != cudaSuccess) {
            (void)cudaGetLastError();
            p = NULL;
        }
    }
    return p;
}

/* Y (M,N) = A (M,K)·W (K,N), row-major, through cuBLAS (column-major: Yᵀ = Wᵀ·Aᵀ). */
static qt_status_t blas_mm(qt_backend_t *be, int bf16, const void *A, const void *W, void *Y, int64_t M, int64_t K,
                           int64_t N, int64_t lda)
{
    cublasHandle_t h = QT_CUDA_CTX(be)->blas;
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t s;
    if (!bf16 && M == 1)
        s = cublasSgemv(h, CUBLAS_OP_N, (int)N, (int)K, &one, (const float *)W, (int)N, (const float *)A, 1, &zero,
                        (float *)Y, 1);
    else if (!bf16)
        s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)N, (int)M, (int)K, &one, (const float *)W, (int)N,
                        (const float *)A, (int)lda, &zero, (float *)Y, (int)N);
    else
        s = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, (int)N, (int)M, (int)K, &one, W, CUDA_R_16BF, (int)N, A,
                         CUDA_R_16BF, (int)lda, &zero, Y, CUDA_R_16BF, (int)N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s != CUBLAS_STATUS_SUCCESS)
        return qt_backend_fail(be, QT_ERR_INTERNAL, "cuBLAS %s (%lld×%lld·%lld×%lld): %s", bf16 ? "GemmEx" : "Sgemm",
                               (long long)M, (long long)K, (long long)K, (long long)N, cublasGetStatusString(s));
    return QT_OK;
}

/* Read back n counters from device memory (synchronizes the stream). */
static qt_status_t read_back(qt_backend_t *be, const void *dev, void *host, size_t bytes)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    cudaError_t e = cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, cx->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(cx->stream);
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, "reading counts back");
}

/* The shape of one call. */
typedef struct {
    const void *A, *W;
    void *Y;
    int64_t M, K, N;
    int bf16, es;
} mm_t;

/* The GATHER info of a call whose kernels count on the device: an exact pass over A. */
static qt_status_t gather_info(qt_backend_t *be, const mm_t *c, qt_spmm_info_t *info)
{
    int64_t nnz = 0, zc = 0;
    qt_tensor_t At = {};
    int64_t sh[2] = {c->M, c->K};
    QT_TRY(qt_tensor_wrap_on(&At, be->device, (void *)c->A, c->bf16 ? QT_BF16 : QT_F32, 2, sh));
    QT_TRY(cuda_measure(be, &At, c->M, &nnz, &zc));
    *info = (qt_spmm_info_t){QT_SPMM_GATHER, nnz, -1};
    return QT_OK;
}

#define V5_MAX_ROWS 4 /* gemv_v5 up to this many rows of A (a block scans a whole row) */

/* gemv_v5's lanes per row of W: QT_CUDA_GEMV_LPR (2, 4 or 8: 32, 64 or 128 contiguous bytes of a
 * row per block) or the dtype's default. */
static int gemv_lpr(int bf16)
{
    const char *e = getenv("QT_CUDA_GEMV_LPR");
    int l = e ? atoi(e) : 0;
    return l == 2 || l == 4 || l == 8 ? l : bf16 ? V5_LPR_BF16 : V5_LPR_F32;
}

/* gemv_v6's cluster size: QT_CUDA_GEMV_CS (2 or 4), default 2. */
static int gemv_cs(void)
{
    const char *e = getenv("QT_CUDA_GEMV_CS");
    int v = e ? atoi(e) : 2;
    return v == 2 || v == 4 ? v : 2;
}

/* Launch gemv_v5 (cs = 1: grid (column tiles, 1, M)) or gemv_v6 (cs = 2 or 4: grid (tiles, cs,
 * M) in clusters (1, cs, 1)); 16 warps per block when the blocks fit one per SM, else 8 (two
 * blocks per SM). */
static qt_status_t launch_gemv_v5(qt_backend_t *be, const mm_t *c, int cs)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    const int lpr = gemv_lpr(c->bf16), tc = lpr * (c->bf16 ? 8 : 4);
    const int64_t tiles = (c->N + tc - 1) / tc;
    if (tiles > INT32_MAX) return qt_backend_fail(be, QT_ERR_SHAPE, "gemv_v5: N = %lld too large", (long long)c->N);
    const int w16 = tiles * c->M * cs <= cx->sms;
    cudaLaunchAttribute attr;
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = 1, attr.val.clusterDim.y = (unsigned)cs, attr.val.clusterDim.z = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)tiles, (unsigned)cs, (unsigned)c->M);
    cfg.stream = cx->stream;
    cfg.attrs = cs > 1 ? &attr : NULL;
    cfg.numAttrs = cs > 1 ? 1 : 0;
    cudaError_t e = cudaSuccess;
#define V5_LAUNCH(BF, L, WP, CS)                                                                                       \
    (cfg.blockDim = dim3(WP * 32), e = cudaLaunchKernelEx(&cfg, gemv_v5<BF, L, WP, CS>, c->A, c->K, c->W, c->N, c->Y,   \
                                                          cx->d_nnz))
#define V5_CS(BF, L, WP)                                                                                               \
    do {                                                                                                               \
        if (cs == 1) V5_LAUNCH(BF, L, WP, 1);                                                                          \
        else if (cs == 2) V5_LAUNCH(BF, L, WP, 2);                                                                     \
        else V5_LAUNCH(BF, L, WP, 4);                                                                                  \
    } while (0)
#define V5_WARPS(BF, L)                                                                                                \
    do {                                                                                                               \
        if (w16) V5_CS(BF, L, 16);                                                                                     \
        else V5_CS(BF, L, 8);                                                                                          \
    } while (0)
#define V5_LPR(BF)                                                                                                     \
    do {                                                                                                               \
        if (lpr == 2) V5_WARPS(BF, 2);                                                                                 \
        else if (lpr == 4) V5_WARPS(BF, 4);                                                                            \
        else V5_WARPS(BF, 8);                                                                                          \
    } while (0)
    if (c->bf16) V5_LPR(1);
    else V5_LPR(0);
#undef V5_LPR
#undef V5_WARPS
#undef V5_CS
#undef V5_LAUNCH
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, cs > 1 ? "gemv_v6 launch" : "gemv_v5 launch");
}

/* Programmatic Dependent Launch for the GEMVs that wait on their grid dependency (v3, v7):
 * QT_CUDA_GEMV_PDL=0 or 1, else def (v7 and a v3 standing in for it: on; v3 asked for: off). */
static int gemv_pdl(int def)
{
    const char *e = getenv("QT_CUDA_GEMV_PDL");
    return e && (e[0] == '0' || e[0] == '1') ? e[0] == '1' : def;
}

/* gemv_v7's shape: QT_CUDA_GEMV7="CS,LPR,BUF" (cluster size 2, 4 or 8; lanes per row 8, 16 or
 * 32, i.e. 128, 256 or 512 bytes of each row of W per block; shared memory for W rows in KB,
 * 8 to 180: with the list (up to 32 KB) and the static part under the H200's 227 KB opt-in),
 * any of them left out or 0 for the default: CS 8, LPR 32 halved while the grid would have
 * fewer blocks than half the SMs, BUF V7_BUF_KB. */
#define V7_BUF_KB 80 /* with the list at CS 8: ~105 KB a block, two blocks an SM (see NOTES.md) */
typedef struct {
    int cs, lpr, buf_kb;
} v7_cfg_t;

static v7_cfg_t gemv7_cfg(const qt_cuda_ctx_t *cx, int64_t M, int64_t N, int es)
{
    v7_cfg_t g = {0, 0, 0};
    const char *e = getenv("QT_CUDA_GEMV7");
    if (e) sscanf(e, "%d,%d,%d", &g.cs, &g.lpr, &g.buf_kb);
    if (g.cs != 2 && g.cs != 4 && g.cs != 8) g.cs = 8;
    if (g.buf_kb < 8 || g.buf_kb > 180) g.buf_kb = V7_BUF_KB;
    if (g.lpr != 8 && g.lpr != 16 && g.lpr != 32) {
        g.lpr = 32;
        while (g.lpr > 8 && (N * es + 16 * g.lpr - 1) / (16 * g.lpr) * g.cs * M < cx->sms / 2) g.lpr /= 2;
    }
    return g;
}

/* Raise kernel fn's dynamic shared-memory limit on device `ordinal` to the opt-in maximum
 * less its static shared memory; its attributes into *fa when fa is not NULL. */
static cudaError_t raise_dynamic_smem(const void *fn, int ordinal, cudaFuncAttributes *fa)
{
    int optin = 0;
    cudaFuncAttributes own;
    if (!fa) fa = &own;
    cudaError_t e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, ordinal);
    if (e == cudaSuccess) e = cudaFuncGetAttributes(fa, fn);
    if (e == cudaSuccess) e = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, optin - (int)fa->sharedSizeBytes);
    return e;
}

/* Launch one instantiation of gemv_v7; its dynamic shared-memory limit raised once per device
 * (QT_CUDA_GEMV_VERBOSE: the grid, shared memory and cudaOccupancyMaxActiveClusters on stderr
 * when they change). */
template <int BF, int CS, int LPR, int BULK>
static cudaError_t v7_launch(cudaLaunchConfig_t *cfg, const mm_t *c, qt_cuda_ctx_t *cx, int srows, int lcap)
{
    static unsigned ready; /* devices (ordinal < 32) whose limit is raised */
    static size_t shown;
    const void *fn = (const void *)gemv_v7<BF, CS, LPR, BULK>;
    const unsigned bit = 1u << (cx->ordinal & 31);
    if (!(ready & bit)) {
        cudaError_t e = raise_dynamic_smem(fn, cx->ordinal, NULL);
        if (e != cudaSuccess) return e;
        ready |= bit;
    }
    if (shown != cfg->dynamicSmemBytes && getenv("QT_CUDA_GEMV_VERBOSE")) {
        int n = -1;
        cudaLaunchConfig_t oc = *cfg;
        oc.numAttrs = 0; /* the cluster attribute only */
        cudaLaunchAttribute ca;
        ca.id = cudaLaunchAttributeClusterDimension;
        ca.val.clusterDim.x = 1, ca.val.clusterDim.y = CS, ca.val.clusterDim.z = 1;
        oc.attrs = &ca, oc.numAttrs = 1;
        cudaError_t e = cudaOccupancyMaxActiveClusters(&n, fn, &oc);
        fprintf(stderr, "gemv_v%d<bf16 %d, CS %d, LPR %d>: grid %u×%u×%u, %zu B dynamic shared memory (%d rows × %d "
                        "stages), max active clusters %d%s\n",
                BULK ? 7 : 8, BF, CS, LPR, cfg->gridDim.x, cfg->gridDim.y, cfg->gridDim.z, cfg->dynamicSmemBytes, srows, V7_NST, n,
                e == cudaSuccess ? "" : cudaGetErrorString(e));
        (void)cudaGetLastError();
        shown = cfg->dynamicSmemBytes;
    }
    return cudaLaunchKernelEx(cfg, gemv_v7<BF, CS, LPR, BULK>, c->A, c->K, c->W, c->N, c->Y, cx->d_nnz, srows, lcap);
}

/* gemv_v7 on c (M ≤ V5_MAX_ROWS, K % 8 == 0, N·es % 16 == 0, A and W 16-byte aligned: the caller
 * checks): grid (column tiles, CS, M) in clusters (1, CS, 1), under PDL unless QT_CUDA_GEMV_PDL=0. */
static qt_status_t launch_gemv_v7(qt_backend_t *be, const mm_t *c, int bulk)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    const v7_cfg_t g = gemv7_cfg(cx, c->M, c->N, c->es);
    const int rb = 16 * g.lpr;
    const int64_t tiles = (c->N * c->es + rb - 1) / rb, slice = (c->K / 8 + g.cs - 1) / g.cs * 8;
    if (tiles > INT32_MAX) return qt_backend_fail(be, QT_ERR_SHAPE, "gemv_v7: N = %lld too large", (long long)c->N);
    /* the list: the whole slice when it fits 2 passes, else segments of 2 passes */
    const int lcap = (int)(slice <= V7_PASS ? V7_PASS : 2 * V7_PASS);
    int srows = (int)((size_t)g.buf_kb * 1024 / ((size_t)V7_NST * rb));
    const int red_rows = (V7_THREADS * (c->bf16 ? 8 : 4) * 4 + V7_NST * rb - 1) / (V7_NST * rb); /* row-group sums */
    if (srows < red_rows) srows = red_rows;
    if (!bulk) srows = 0; /* v8: no stages; the row-group sums go where the list was (≥ 16 KB) */
    cudaLaunchAttribute attr[2];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = 1, attr[0].val.clusterDim.y = (unsigned)g.cs, attr[0].val.clusterDim.z = 1;
    attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[1].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)tiles, (unsigned)g.cs, (unsigned)c->M);
    cfg.blockDim = dim3(V7_THREADS);
    cfg.dynamicSmemBytes = (size_t)V7_NST * srows * rb + (size_t)lcap * 8;
    cfg.stream = cx->stream;
    cfg.attrs = attr;
    cfg.numAttrs = gemv_pdl(1) ? 2 : 1;
    cudaError_t e = cudaErrorInvalidValue;
#define V7_L(BF, CS, BK)                                                                                               \
    (g.lpr == 8 ? v7_launch<BF, CS, 8, BK>(&cfg, c, cx, srows, lcap)                                                   \
     : g.lpr == 16 ? v7_launch<BF, CS, 16, BK>(&cfg, c, cx, srows, lcap)                                               \
                   : v7_launch<BF, CS, 32, BK>(&cfg, c, cx, srows, lcap))
#define V7_C(BF, BK) (g.cs == 2 ? V7_L(BF, 2, BK) : g.cs == 4 ? V7_L(BF, 4, BK) : V7_L(BF, 8, BK))
    e = c->bf16 ? (bulk ? V7_C(1, 1) : V7_C(1, 0)) : (bulk ? V7_C(0, 1) : V7_C(0, 0));
#undef V7_C
#undef V7_L
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, bulk ? "gemv_v7 launch" : "gemv_v8 launch");
}

/* QT_CUDA_GEMV_TRACE (a diagnostic, any value): gemv_v9 / v10 launched with stamps (TR = 1) into
 * TRACE_CALLS slots of a device buffer, one per call in turn; after the last slot's call the
 * stream is synchronised, the stamps read back and trace_report prints the phases of the calls
 * that ran back to back (averages over those calls; ns from the previous call's last write of Y,
 * %globaltimer) on stderr. The synchronisation every TRACE_CALLS calls is part of no timing of
 * record. */
#define TRACE_CALLS 64
#define TRACE_BLOCKS 512 /* blocks a traced call may have */
static void trace_report(const unsigned long long *h, const unsigned *nb, int ver, int bf16)
{
    enum { NF = 9 };
    static const char *const name[NF] = {"first block start", "last block start", "first wait released", "last wait released",
                                         "last list done",    "last rows done",   "last row sums done",  "last leader past the cluster barrier",
                                         "last Y write"};
    double sum[NF] = {0}, cyc[3] = {0}, nnz = 0;
    int used = 0;
    for (int j = 1; j < TRACE_CALLS; j++) {
        const unsigned long long *p = h + (size_t)(j - 1) * TRACE_BLOCKS * TRACE_W, *q = h + (size_t)j * TRACE_BLOCKS * TRACE_W;
        unsigned long long end = 0, v[NF];
        for (unsigned b = 0; b < nb[j - 1]; b++)
            if (p[b * TRACE_W + 6] > end) end = p[b * TRACE_W + 6];
        for (int f = 0; f < NF; f++) v[f] = f == 0 || f == 2 ? ~0ull : 0;
        double cy[3] = {0}, nz = 0;
        for (unsigned b = 0; b < nb[j]; b++) {
            const unsigned long long *t = q + b * TRACE_W;
            v[0] = t[0] < v[0] ? t[0] : v[0], v[1] = t[0] > v[1] ? t[0] : v[1];
            v[2] = t[1] < v[2] ? t[1] : v[2], v[3] = t[1] > v[3] ? t[1] : v[3];
            for (int f = 4; f < NF; f++) v[f] = t[f - 2] > v[f] ? t[f - 2] : v[f];
            cy[0] += (double)(t[9] - t[8]), cy[1] += (double)(t[10] - t[9]), cy[2] += (double)(t[11] - t[10]), nz += (double)t[12];
        }
        if (!end || v[2] < end || v[2] - end > 20000) continue; /* not queued behind the previous call */
        for (int f = 0; f < NF; f++) sum[f] += (double)(long long)(v[f] - end);
        for (int k = 0; k < 3; k++) cyc[k] += cy[k] / nb[j];
        nnz += nz / nb[j];
        used++;
    }
    fprintf(stderr, "gemv_v%d<bf16 %d> trace: %d of %d calls queued behind the previous one; ns after its last Y write:", ver,
            bf16, used, TRACE_CALLS - 1);
    for (int f = 0; used && f < NF; f++) fprintf(stderr, "%s %s %.0f", f ? "," : "", name[f], sum[f] / used);
    if (used)
        fprintf(stderr, "; a block's SM cycles: list %.0f, rows %.0f, row sums %.0f (%.1f nonzeros a slice)", cyc[0] / used,
                cyc[1] / used, cyc[2] / used, nnz / used);
    fprintf(stderr, "\n");
}

/* gemv_v9 (ver 9), v10 or v11 on c (the conditions of v7): CS = 8 blocks a cluster
 * (QT_CUDA_GEMV9="CS,T": 2, 4 or 8, and T column tiles; v11: CS 1-8, T ignored); T = the clusters
 * that fit at once (cudaOccupancyMaxActiveClusters, read once per device, dtype, cluster size
 * and version) over M, halved for v10 (two blocks an SM: this call's grid and the next one's);
 * at most 256 chunks a tile for v9, V10_TCH for v10 (the shared memory its occupancy was read
 * at; a wider N gets more tiles); v11: tiles of 32 chunks and the largest CS whose clusters all
 * fit at once (6 on the H200 at N·es = 8 KB: 16 tiles). */
static qt_status_t launch_gemv_v9(qt_backend_t *be, const mm_t *c, int ver)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    int cs = 0, T = 0;
    const char *env = getenv("QT_CUDA_GEMV9");
    if (env) sscanf(env, "%d,%d", &cs, &T);
    const int vi = ver - 9, minb = vi == 1 ? 2 : 1, tmax = vi == 1 ? V10_TCH : vi == 2 ? 32 : 256,
              tr = getenv("QT_CUDA_GEMV_TRACE") != NULL;
    const int64_t nch = c->N * c->es / 16;
    typedef void (*v9_fn_t)(const void *, int64_t, const void *, int64_t, void *, unsigned long long *, int, int,
                            unsigned long long *, int);
    const char *fe = getenv("QT_CUDA_GEMV_FIN");
    const int flags = fe && fe[0] == '0' ? 0 : V9_FIN;
#define FN3(BF, V, TR) {gemv_v9<BF, V, TR, 0>, gemv_v9<BF, V, TR, 1>, gemv_v9<BF, V, TR, 2>}
    static const v9_fn_t fns[2][3][2][3] = {{{FN3(0, 9, 0), FN3(0, 9, 1)}, {FN3(0, 10, 0), FN3(0, 10, 1)}, {FN3(0, 11, 0), FN3(0, 11, 1)}},
                                            {{FN3(1, 9, 0), FN3(1, 9, 1)}, {FN3(1, 10, 0), FN3(1, 10, 1)}, {FN3(1, 11, 0), FN3(1, 11, 1)}}};
#undef FN3
    const char *lde = getenv("QT_CUDA_GEMV_WLD");
    const int ld = lde && lde[0] >= '0' && lde[0] <= '2' ? lde[0] - '0' : 0;
    const v9_fn_t kfn = fns[c->bf16][vi][tr][ld];
    const void *fn = (const void *)kfn;
    static int fit[32][2][3][2][3][9]; /* max active clusters by device, dtype, version, trace, W load, cluster size (0: not read) */
    cudaLaunchAttribute attr[2];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = 1, attr[0].val.clusterDim.z = 1;
    attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[1].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.blockDim = dim3(V9_THREADS);
    cfg.stream = cx->stream;
    cfg.attrs = attr;
    /* the clusters of q blocks that fit at once, read once (shared memory: the largest list and tile) */
    auto fits = [&](int q, int *out) -> qt_status_t {
        int *f = &fit[cx->ordinal & 31][c->bf16][vi][tr][ld][q];
        if (!*f) {
            cudaFuncAttributes fa;
            cudaError_t e = raise_dynamic_smem(fn, cx->ordinal, &fa);
            attr[0].val.clusterDim.y = (unsigned)q;
            cfg.gridDim = dim3(1, (unsigned)q, 1);
            cfg.dynamicSmemBytes = (size_t)2 * V9_PASS * 8 + (size_t)q * tmax * (c->bf16 ? 8 : 4) * 4;
            cfg.numAttrs = 1;
            if (e == cudaSuccess) e = cudaOccupancyMaxActiveClusters(f, fn, &cfg);
            if (e != cudaSuccess) return qt_cuda_fail(be, e, ver == 9 ? "gemv_v9 setup" : ver == 10 ? "gemv_v10 setup" : "gemv_v11 setup");
            if (*f < 1) *f = 1;
            if (getenv("QT_CUDA_GEMV_VERBOSE"))
                fprintf(stderr, "gemv_v%d<bf16 %d, trace %d>: %d registers, max active clusters of %d: %d\n", ver, c->bf16, tr,
                        fa.numRegs, q, *f);
        }
        *out = *f;
        return QT_OK;
    };
    int64_t tch, tiles;
    if (vi == 2) { /* v11: tiles of 32 chunks; the largest cluster (≤ 8) whose clusters all fit at once */
        tch = 32, tiles = (nch + 31) / 32;
        if (cs < 1 || cs > 8)
            for (cs = 8; cs > 1; cs--) {
                int f = 0;
                QT_TRY(fits(cs, &f));
                if (f >= tiles * c->M) break;
            }
    } else {
        if (cs != 2 && cs != 4 && cs != 8) cs = 8;
        int f = 0;
        QT_TRY(fits(cs, &f));
        if (T < 1) T = f / (c->M * minb) > 0 ? (int)(f / (c->M * minb)) : 1;
        tch = (nch + T - 1) / T;
        if (tch > tmax) tch = tmax;
        tiles = (nch + tch - 1) / tch;
    }
    const int64_t slice = (c->K / 8 + cs - 1) / cs * 8;
    const int lcap = (int)(slice <= V9_PASS ? V9_PASS : 2 * V9_PASS);
    attr[0].val.clusterDim.y = (unsigned)cs;
    cfg.gridDim = dim3((unsigned)tiles, (unsigned)cs, (unsigned)c->M);
    cfg.dynamicSmemBytes = (size_t)lcap * 8 + (size_t)cs * tch * (c->bf16 ? 8 : 4) * 4;
    cfg.numAttrs = gemv_pdl(1) ? 2 : 1;
    cudaError_t e;
    static unsigned long long *tbuf; /* QT_CUDA_GEMV_TRACE: TRACE_CALLS slots of TRACE_BLOCKS × TRACE_W stamps */
    static unsigned tcall, tnb[TRACE_CALLS];
    const unsigned nb = (unsigned)(tiles * cs * c->M);
    if (tr && !tbuf && cudaMalloc((void **)&tbuf, (size_t)TRACE_CALLS * TRACE_BLOCKS * TRACE_W * 8) != cudaSuccess)
        return qt_backend_fail(be, QT_ERR_NOMEM, "gemv_v%d trace buffer", ver);
    if (tr && nb > TRACE_BLOCKS) return qt_backend_fail(be, QT_ERR_SHAPE, "gemv_v9 trace: %u blocks (at most %d)", nb, TRACE_BLOCKS);
    const unsigned slot = tcall % TRACE_CALLS;
    e = cudaLaunchKernelEx(&cfg, kfn, c->A, c->K, c->W, c->N, c->Y, cx->d_nnz, (int)tch, lcap,
                           tr ? tbuf + (size_t)slot * TRACE_BLOCKS * TRACE_W : (unsigned long long *)NULL, flags);
    if (tr && e == cudaSuccess) {
        tnb[slot] = nb;
        if (++tcall % TRACE_CALLS == 0) {
            const size_t bytes = (size_t)TRACE_CALLS * TRACE_BLOCKS * TRACE_W * 8;
            unsigned long long *h = (unsigned long long *)malloc(bytes);
            if (!h) return qt_backend_fail(be, QT_ERR_NOMEM, "gemv_v9 trace");
            e = cudaMemcpyAsync(h, tbuf, bytes, cudaMemcpyDeviceToHost, cx->stream);
            if (e == cudaSuccess) e = cudaStreamSynchronize(cx->stream);
            if (e == cudaSuccess) trace_report(h, tnb, ver, c->bf16);
            free(h);
        }
    }
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, ver == 9 ? "gemv_v9 launch" : ver == 10 ? "gemv_v10 launch" : "gemv_v11 launch");
}

/* CSR: ptr (M + 1), col and val (room for a dense A: nothing is read back unless info is
 * asked) in the workspace; count, scan, fill, then the row-wise SpMM. */
static qt_status_t run_csr(qt_backend_t *be, const mm_t *c, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    const int64_t M = c->M, K = c->K, N = c->N;
    if (M * K >= INT32_MAX) return qt_backend_fail(be, QT_ERR_SHAPE, "cuda csr: %lld entries of A (at most 2^31 - 1)",
                                                   (long long)(M * K));
    const size_t b_ptr = ((size_t)(M + 1) * 4 + 255) / 256 * 256, b_col = ((size_t)(M * K) * 4 + 255) / 256 * 256;
    const size_t bytes = b_ptr + 2 * b_col;
    void *owned;
    char *w = ws_get(be, ws, bytes, &owned, NULL);
    if (!w) return QT_ERR_NOMEM;
    int *ptr = (int *)w, *col = (int *)(w + b_ptr);
    float *val = (float *)(w + b_ptr + b_col);
    const unsigned rblocks = (unsigned)((M + 7) / 8); /* 8 warps of 256 threads, a row each */
    csr_count_v1<<<rblocks, 256, 0, cx->stream>>>(c->A, c->bf16, M, K, N, ptr, cx->d_nnz);
    csr_scan_v1<<<1, 1024, 0, cx->stream>>>(ptr, M);
    csr_fill_v1<<<rblocks, 256, 0, cx->stream>>>(c->A, c->bf16, M, K, ptr, col, val);
    const int vec = N % 8 == 0 && ((uintptr_t)c->W % 16) == 0;
    dim3 grid((unsigned)((N + 8 * TPB - 1) / (8 * TPB)), (unsigned)(M < 65535 ? M : 65535));
    csr_spmm_v1<<<grid, TPB, 0, cx->stream>>>(ptr, col, val, c->W, c->bf16, M, N, vec, c->Y);
    counted(be);
    qt_status_t st = qt_cuda_launched(be, "csr kernels");
    if (st == QT_OK && info) {
        int nnz = 0;
        st = read_back(be, ptr + M, &nnz, sizeof nnz);
        if (st == QT_OK) *info = (qt_spmm_info_t){QT_SPMM_CSR, nnz, -1};
    }
    qt_sparse_ws_release(be, owned, bytes + WS_HDR);
    return st;
}

/* GATHER: nonzero lists per row, split-K GEMV over the touched rows of W, ordered reduction. */
static qt_status_t run_gather(qt_backend_t *be, const mm_t *c, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    const int64_t M = c->M, K = c->K, N = c->N;
    const int64_t tiles = (N + GV_COLS * GV_THREADS - 1) / (GV_COLS * GV_THREADS);
    const int vec = N % GV_COLS == 0 && ((uintptr_t)c->W % 16) == 0;
    int forced;
    const int ver = sparse_version(cx, &forced);
    const int64_t tiles3 = (N + 255) / 256;
    /* v9 by default only where it was measured to win (one bf16 row: 8.4 µs against v3+PDL's 9.0
     * at the bf16 point, 8.6 with the st.async finish in session 6; f32 12.1 against 11.5): else
     * v3 under PDL */
    if (ver >= 7 && (forced || (c->bf16 && M == 1)) && M <= V5_MAX_ROWS && K % 8 == 0 && (N * c->es) % 16 == 0 &&
        N * c->es <= (int64_t)UINT32_MAX && K <= INT32_MAX &&
        (uintptr_t)c->A % 16 == 0 && (uintptr_t)c->W % 16 == 0) {
        QT_TRY(ver >= 9 ? launch_gemv_v9(be, c, ver) : launch_gemv_v7(be, c, ver == 7));
        counted(be);
        if (info) QT_TRY(gather_info(be, c, info)); /* the count now: an exact pass over A */
        return QT_OK;
    }
    if ((ver == 5 || ver == 6) && vec && M <= V5_MAX_ROWS && (K * c->es) % 16 == 0 && (uintptr_t)c->A % 16 == 0) {
        QT_TRY(launch_gemv_v5(be, c, ver == 6 ? gemv_cs() : 1));
        counted(be);
        qt_status_t st = qt_cuda_launched(be, ver == 6 ? "gemv_v6" : "gemv_v5");
        if (st == QT_OK && info) st = gather_info(be, c, info);
        return st;
    }
    if (ver == 4 && vec && M <= 65535) {
        dim3 grid((unsigned)tiles3, 8, (unsigned)M);
        if (c->bf16) gemv_v4<1><<<grid, 512, 0, cx->stream>>>(c->A, K, c->W, N, M, c->Y, cx->d_nnz);
        else gemv_v4<0><<<grid, 512, 0, cx->stream>>>(c->A, K, c->W, N, M, c->Y, cx->d_nnz);
        counted(be);
        qt_status_t st = qt_cuda_launched(be, "gemv_v4");
        if (st == QT_OK && info) st = gather_info(be, c, info); /* the count now: an exact pass over A */
        return st;
    }
    if (ver >= 3 && vec && tiles3 * M <= WS_CNT && M <= 65535) { /* else v2 */
        /* one wave: the blocks of 256 threads an SM holds at the registers of gemv_v3 (its launch bounds) */
        int64_t S = ((c->bf16 ? 3 : 2) * (int64_t)cx->sms) / (tiles3 * M);
        const char *split = getenv("QT_CUDA_GEMV_SPLIT"); /* tuning: S given (benchmark variants) */
        if (split && atoi(split) > 0) S = atoi(split);
        if (S > K / 256) S = K / 256;
        if (S > 128) S = 128;
        if (S < 1) S = 1;
        const size_t b_part = S > 1 ? (size_t)(S * M * N) * 4 : 256;
        void *owned;
        unsigned *tile_cnt;
        float *part = (float *)ws_get(be, ws, b_part, &owned, &tile_cnt);
        if (!part) return QT_ERR_NOMEM;
        cudaLaunchAttribute pdl;
        pdl.id = cudaLaunchAttributeProgrammaticStreamSerialization;
        pdl.val.programmaticStreamSerializationAllowed = 1;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3((unsigned)tiles3, (unsigned)S, (unsigned)M);
        cfg.blockDim = dim3(256);
        cfg.stream = cx->stream;
        cfg.attrs = &pdl;
        cfg.numAttrs = gemv_pdl(ver >= 7);
        cudaError_t e = cudaLaunchKernelEx(&cfg, c->bf16 ? gemv_v3<1> : gemv_v3<0>, c->A, K, c->W, N, (int)S, M, part,
                                           tile_cnt, c->Y, cx->d_nnz);
        counted(be);
        qt_status_t st = e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, "gemv_v3 launch");
        if (st == QT_OK && info) st = gather_info(be, c, info); /* the count now: an exact pass over A */
        qt_sparse_ws_release(be, owned, b_part + WS_HDR);
        return st;
    }
    if (ver >= 2) {
        int64_t S = (2 * (int64_t)cx->sms + tiles * M - 1) / (tiles * M); /* about 2 blocks per SM */
        if (S > K / 32) S = K / 32;
        if (S < 1) S = 1;
        if (S > 1024) S = 1024;
        size_t b_part = (size_t)(S * M * N) * 4;
        void *owned;
        float *part = (float *)ws_get(be, ws, b_part, &owned, NULL);
        if (!part) return QT_ERR_NOMEM;
        dim3 grid((unsigned)tiles, (unsigned)S, (unsigned)M);
        gemv_v2<<<grid, GV_THREADS, 0, cx->stream>>>(c->A, c->bf16, K, c->W, N, vec, (int)S, M, part, cx->d_nnz);
        gemv_reduce_v2<<<(unsigned)((M * N + 7) / 8), dim3(32, 8), 0, cx->stream>>>(part, (int)S, (size_t)(M * N), c->Y,
                                                                                 c->bf16);
        counted(be);
        qt_status_t st = qt_cuda_launched(be, "gather kernels");
        if (st == QT_OK && info) st = gather_info(be, c, info); /* the count now: an exact pass over A */
        qt_sparse_ws_release(be, owned, b_part + WS_HDR);
        return st;
    }
    int64_t S = (4 * (int64_t)cx->sms + tiles * M - 1) / (tiles * M); /* about 4 blocks per SM */
    if (S > K / 64) S = K / 64;
    if (S < 1) S = 1;
    if (S > 256) S = 256;
    size_t b_idx = (size_t)(M * K) * 4, b_val = b_idx, b_cnt = ((size_t)M * 4 + 255) / 256 * 256,
           b_part = (size_t)(S * M * N) * 4;
    void *owned;
    char *w = ws_get(be, ws, b_idx + b_val + b_cnt + b_part, &owned, NULL);
    if (!w) return QT_ERR_NOMEM;
    int32_t *idx = (int32_t *)w;
    float *val = (float *)(w + b_idx), *part = (float *)(w + b_idx + b_val + b_cnt);
    int *cnt = (int *)(w + b_idx + b_val);
    compact_v1<<<(unsigned)M, TPB, 0, cx->stream>>>(NULL, c->A, c->bf16, K, idx, val, cnt);
    dim3 grid((unsigned)tiles, (unsigned)S, (unsigned)M);
    gemv_v1<<<grid, GV_THREADS, 0, cx->stream>>>(idx, val, cnt, K, c->W, c->bf16, N, vec, (int)S, M, part);
    gemv_reduce_v1<<<qt_cuda_blocks(be, (size_t)(M * N), TPB), TPB, 0, cx->stream>>>(part, (int)S, (size_t)(M * N), c->Y,
                                                                                  c->bf16);
    qt_status_t st = qt_cuda_launched(be, "gather kernels");
    if (st == QT_OK && info) {
        int64_t nnz = 0;
        int *h = (int *)malloc((size_t)M * sizeof(int));
        if (!h) st = qt_backend_fail(be, QT_ERR_NOMEM, "gather counts");
        if (st == QT_OK) st = read_back(be, cnt, h, (size_t)M * sizeof(int));
        for (int64_t m = 0; st == QT_OK && m < M; m++) nnz += h[m];
        free(h);
        if (st == QT_OK) {
            *info = (qt_spmm_info_t){QT_SPMM_GATHER, nnz, -1};
            qt_sparse_count_matmul((double)nnz * N, (double)(M * K - nnz) * N, nnz);
        }
    }
    qt_sparse_ws_release(be, owned, b_idx + b_val + b_cnt + b_part + WS_HDR);
    return st;
}

/* COLSKIP v3: one memset (counts and flags), colflags_v3, compact_v3, the counts copied to
 * pinned memory and an event recorded, gather_v3 queued (its grid does not need kc), and only
 * then the host waits for the event, so the GPU runs the gathers while the host learns kc and
 * queues the cuBLAS product behind them (v2: two synchronous read-backs, the gathers launched
 * after them, the GPU idle meanwhile). */
static qt_status_t run_colskip_v3(qt_backend_t *be, const mm_t *c, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    const int64_t M = c->M, K = c->K, N = c->N;
    const int pad = colskip_pad();
    const size_t b_misc = 256, b_flag = ((size_t)K * 4 + 255) / 256 * 256,
                 b_kept = ((size_t)(K + pad) * 4 + 255) / 256 * 256,
                 b_a = ((size_t)(M * (K + pad)) * c->es + 255) / 256 * 256, b_w = (size_t)((K + pad) * N) * c->es;
    const size_t bytes = b_misc + b_flag + b_kept + b_a + b_w;
    void *owned;
    char *w = ws_get(be, ws, bytes, &owned, NULL);
    if (!w) return QT_ERR_NOMEM;
    unsigned long long *counts = (unsigned long long *)w;
    int *kc_d = (int *)(counts + 2), *flag = (int *)(w + b_misc);
    int32_t *kept = (int32_t *)(w + b_misc + b_flag);
    char *Ac = w + b_misc + b_flag + b_kept, *Wc = Ac + b_a;
    qt_status_t st = QT_OK;
    cudaEvent_t ev = NULL;
    unsigned long long *pin = pinned_counts(), h[3] = {0, 0, 0};
    cudaError_t e = cudaMemsetAsync(w, 0, b_misc + (size_t)K * 4, cx->stream);
    if (e == cudaSuccess && pin) e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    if (e != cudaSuccess) st = qt_cuda_fail(be, e, "colskip: memset/event");
    if (st == QT_OK) {
        int direct;
        launch_flags(be, c->A, c->bf16, M, K, M, flag, counts, 1, &direct);
        compact_v3<<<1, 1024, 0, cx->stream>>>(flag, K, kept, kc_d);
        st = qt_cuda_launched(be, "colskip flags");
    }
    if (st == QT_OK && pin) {
        e = cudaMemcpyAsync(pin, counts, 3 * sizeof *pin, cudaMemcpyDeviceToHost, cx->stream);
        if (e == cudaSuccess) e = cudaEventRecord(ev, cx->stream);
        if (e != cudaSuccess) st = qt_cuda_fail(be, e, "colskip: counts to the host");
    }
    if (st == QT_OK) {
        const int vecw = (N * c->es) % 16 == 0 && (uintptr_t)c->W % 16 == 0;
        int64_t items = M * ((K + pad) / 8), na = (items + TPB - 1) / TPB, nw = K + pad;
        if (na > 8 * (int64_t)cx->sms) na = 8 * (int64_t)cx->sms;
        if (nw > 4 * (int64_t)cx->sms) nw = 4 * (int64_t)cx->sms;
        if (c->bf16)
            gather_v3<1><<<(unsigned)(na + nw), TPB, 0, cx->stream>>>((const char *)c->A, (const char *)c->W, Ac, Wc,
                                                                      kept, kc_d, pad, M, K, N, (int)na, vecw);
        else
            gather_v3<0><<<(unsigned)(na + nw), TPB, 0, cx->stream>>>((const char *)c->A, (const char *)c->W, Ac, Wc,
                                                                      kept, kc_d, pad, M, K, N, (int)na, vecw);
        st = qt_cuda_launched(be, "colskip gather");
    }
    if (st == QT_OK) {
        if (pin) {
            e = cudaEventSynchronize(ev);
            if (e != cudaSuccess) st = qt_cuda_fail(be, e, "colskip: waiting for the counts");
            else memcpy(h, pin, sizeof h);
        } else st = read_back(be, counts, h, sizeof h);
    }
    if (ev) cudaEventDestroy(ev);
    int kc_h = 0;
    memcpy(&kc_h, &h[2], sizeof kc_h);
    const int64_t kc = kc_h, kp = (kc + pad - 1) / pad * pad;
    if (st == QT_OK && kc == 0) {
        e = cudaMemsetAsync(c->Y, 0, (size_t)(M * N) * c->es, cx->stream);
        if (e != cudaSuccess) st = qt_cuda_fail(be, e, "cudaMemsetAsync");
    } else if (st == QT_OK) {
        st = blas_mm(be, c->bf16, Ac, Wc, c->Y, M, kp, N, kp);
    }
    if (st == QT_OK) {
        if (info) *info = (qt_spmm_info_t){QT_SPMM_COLSKIP, (int64_t)h[0], K - kc};
        qt_sparse_count_matmul((double)(M * kc * N), (double)(M * (K - kc) * N), (int64_t)h[0]);
    }
    qt_sparse_ws_release(be, owned, bytes + WS_HDR);
    return st;
}

/* COLSKIP: flags, compaction of the kept columns, gathers, one cuBLAS product. */
static qt_status_t run_colskip(qt_backend_t *be, const mm_t *c, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    const int64_t M = c->M, K = c->K, N = c->N;
    int forced;
    const int ver = sparse_version(QT_CUDA_CTX(be), &forced);
    (void)forced;
    if (ver >= 3) return run_colskip_v3(be, c, ws, info);
    size_t b_flag = (size_t)K * 4, b_kept = b_flag, b_misc = 256, b_a = (size_t)(M * (K + 8)) * c->es,
           b_w = (size_t)((K + 8) * N) * c->es;
    b_a = (b_a + 255) / 256 * 256;
    void *owned;
    size_t bytes = b_flag + b_kept + b_misc + b_a + b_w;
    char *w = ws_get(be, ws, bytes, &owned, NULL);
    if (!w) return QT_ERR_NOMEM;
    int *flag = (int *)w;
    int32_t *kept = (int32_t *)(w + b_flag);
    unsigned long long *counts = (unsigned long long *)(w + b_flag + b_kept);
    int *kc_d = (int *)(counts + 2);
    char *Ac = w + b_flag + b_kept + b_misc, *Wc = Ac + b_a;
    qt_status_t st = QT_OK;
    cudaError_t e = cudaMemsetAsync(counts, 0, 2 * sizeof *counts, cx->stream);
    if (e != cudaSuccess) st = qt_cuda_fail(be, e, "cudaMemsetAsync");
    if (st == QT_OK && ver == 2 && (e = cudaMemsetAsync(flag, 0, b_flag, cx->stream)) != cudaSuccess)
        st = qt_cuda_fail(be, e, "cudaMemsetAsync");
    if (st == QT_OK) {
        if (ver == 2)
            colflags_v2<<<dim3((unsigned)((K + TPB - 1) / TPB), (unsigned)((M + 63) / 64)), TPB, 0, cx->stream>>>(
                c->A, c->bf16, M, K, M, flag, counts);
        else
            colflags_v1<<<qt_cuda_blocks(be, (size_t)K, TPB), TPB, 0, cx->stream>>>(c->A, c->bf16, M, K, M, flag,
                                                                                   counts);
        compact_v1<<<1, TPB, 0, cx->stream>>>(flag, NULL, 0, K, kept, NULL, kc_d);
        st = qt_cuda_launched(be, "colskip scan");
    }
    unsigned long long h[2] = {0, 0};
    int kc_h = 0;
    if (st == QT_OK) st = read_back(be, counts, h, sizeof h);
    if (st == QT_OK) st = read_back(be, kc_d, &kc_h, sizeof kc_h);
    const int64_t kc = kc_h;
    if (st == QT_OK && kc == 0) {
        e = cudaMemsetAsync(c->Y, 0, (size_t)(M * N) * c->es, cx->stream);
        if (e != cudaSuccess) st = qt_cuda_fail(be, e, "cudaMemsetAsync");
    } else if (st == QT_OK && ver == 2) {
        const int64_t kp = (kc + 7) / 8 * 8; /* zero-padded: aligned leading dimension for cuBLAS */
        gather_a_v2<<<(unsigned)M, TPB, 0, cx->stream>>>((const char *)c->A, Ac, kept, kc, kp, K, c->es);
        gather_w_v2<<<(unsigned)kp, TPB, 0, cx->stream>>>((const char *)c->W, Wc, kept, kc, N * c->es);
        st = qt_cuda_launched(be, "colskip gather");
        if (st == QT_OK) st = blas_mm(be, c->bf16, Ac, Wc, c->Y, M, kp, N, kp);
    } else if (st == QT_OK) {
        gather_v1<<<qt_cuda_blocks(be, (size_t)(M * kc + kc * N), TPB), TPB, 0, cx->stream>>>(
            (const char *)c->A, (const char *)c->W, Ac, Wc, kept, kc_d, M, K, N, c->es);
        st = qt_cuda_launched(be, "colskip gather");
        if (st == QT_OK) st = blas_mm(be, c->bf16, Ac, Wc, c->Y, M, kc, N, kc);
    }
    if (st == QT_OK) {
        if (info) *info = (qt_spmm_info_t){QT_SPMM_COLSKIP, (int64_t)h[0], K - kc};
        qt_sparse_count_matmul((double)(M * kc * N), (double)(M * (K - kc) * N), (int64_t)h[0]);
    }
    qt_sparse_ws_release(be, owned, bytes + WS_HDR);
    return st;
}

/* Paths dense, gather, colskip in f32 and bf16. */
static int cuda_supports(const qt_backend_t *be, qt_spmm_path_t p, qt_dtype_t dt)
{
    (void)be;
    return (p == QT_SPMM_DENSE || p == QT_SPMM_GATHER || p == QT_SPMM_COLSKIP || p == QT_SPMM_CSR) &&
           (dt == QT_F32 || dt == QT_BF16);
}

/* One fixed path. */
static qt_status_t cuda_matmul(qt_backend_t *be, qt_spmm_path_t p, const qt_tensor_t *A, const qt_tensor_t *W,
                               qt_tensor_t *Y, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    const int bf16 = A->dtype == QT_BF16;
    const mm_t c = {A->data, W->data, Y->data, A->shape[0], A->shape[1], W->shape[1], bf16, bf16 ? 2 : 4};
    switch (p) {
    case QT_SPMM_DENSE:
        QT_TRY(blas_mm(be, bf16, c.A, c.W, c.Y, c.M, c.K, c.N, c.K));
        if (info) *info = (qt_spmm_info_t){QT_SPMM_DENSE, -1, -1};
        qt_sparse_count_matmul((double)c.M * c.K * c.N, 0, -1);
        return QT_OK;
    case QT_SPMM_GATHER: return run_gather(be, &c, ws, info);
    case QT_SPMM_COLSKIP: return run_colskip(be, &c, ws, info);
    case QT_SPMM_CSR: return run_csr(be, &c, ws, info);
    default:
        return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "cuda matmul: path %s is not implemented on cuda",
                               qt_spmm_path_name(p));
    }
}

/* Nonzeros and all-zero columns of the sampled rows: one memset, colflags_v3 (which counts the
 * kept columns itself when the sample fits one grid row, as at M = 1), compact_v3 otherwise,
 * one read-back (v2's single-block compaction cost ~64 µs at K = 16384). */
static qt_status_t cuda_measure(qt_backend_t *be, const qt_tensor_t *A, int64_t r, int64_t *nnz, int64_t *zero_cols)
{
    qt_cuda_ctx_t *cx = QT_CUDA_CTX(be);
    const int64_t K = A->shape[1];
    void *scr;
    QT_TRY(qt_cuda_scratch(be, 32 + (size_t)K * 8, &scr));
    unsigned long long *counts = (unsigned long long *)scr;
    int *kept_n = (int *)(counts + 2), *flag = (int *)((char *)scr + 32), *idx = flag + K;
    cudaError_t e = cudaMemsetAsync(scr, 0, 32 + (size_t)K * 4, cx->stream);
    if (e != cudaSuccess) return qt_cuda_fail(be, e, "cudaMemsetAsync");
    int direct;
    launch_flags(be, A->data, A->dtype == QT_BF16, A->shape[0], K, r, flag, counts, 0, &direct);
    if (!direct) compact_v3<<<1, 1024, 0, cx->stream>>>(flag, K, idx, kept_n);
    QT_TRY(qt_cuda_launched(be, "measure kernels"));
    unsigned long long h3[3];
    QT_TRY(read_back(be, counts, h3, sizeof h3)); /* nonzeros, kept columns (direct), kept columns (an int) */
    int kept;
    memcpy(&kept, &h3[2], sizeof kept);
    *nnz = (int64_t)h3[0];
    *zero_cols = K - (direct ? (int64_t)h3[1] : (int64_t)kept);
    return QT_OK;
}

extern "C" const qt_sparse_ops_t qt_sparse_ops_cuda = {cuda_supports, cuda_act_forward, cuda_act_backward, cuda_matmul,
                                                       cuda_measure};
