/* fusion.cu — the cuda backend's fusion kernels (impl/fusion/internal.h): f32 tensors on one GPU,
 * every call queued on the instance's stream, nothing waited for except the loss when asked.
 * The graph that drives them is common.c (the model: quintet/fusion.h).
 * Two numbered versions of the kernels (QT_CUDA_FUSION_V, read once per pass: 1 = session 3's,
 * 2 = the default; QT_CUDA_FUSION_ATTN=1 keeps version 1's attention alone); version 2 replaces,
 * where the shapes allow it:
 *   Linear        forward: cuBLASLt matmul with the bias epilogue (FP32 compute, CUBLAS_COMPUTE_32F:
 *                 no TF32; algorithm picked once per shape and pointer alignment, no workspace;
 *                 the handle and these plans are kept per thread for the process's life)
 *                 instead of the bias written by a kernel and read again by a β = 1 sgemm (v1;
 *                 also v2's fallback where cuBLASLt offers no algorithm or the bias is not
 *                 16-byte aligned). Backward: cuBLAS sgemm dW += dyᵀx, dx += dyW (both versions);
 *                 db by the column reduction.
 *   LayerNorm     v1: one warp per row reading the row from memory three times; v2 (rows of
 *                 32·n, n in 2, 4, 8, 16): one warp per row held in registers (16-byte loads where
 *                 aligned), one read; the backward also sums dγ, dβ per block in registers (the
 *                 columns of a lane are the same on every row) instead of a second pass over x, dy.
 *   column sums   (bias, LayerNorm affine, embedding gradients, shared mixing scores): blocks of
 *                 32 columns × a chunk of rows write partial sums to scratch, a second kernel adds
 *                 them in chunk order: deterministic. v2: loads unrolled 4 deep, about 8 blocks per
 *                 multiprocessor, the second pass 8 rows of partials wide (v1: at most 32 chunks,
 *                 one load in flight per thread, one thread per column in the second pass).
 *   elementwise   (add, accumulate, GELU and its gradient, pooling gradient) v2: 16-byte accesses
 *                 where the pointers and sizes allow.
 *   attention     single head, short sequences. v1: forward one warp per (sample, query) — scores
 *                 by warp reductions, softmax, P·V — storing P; backward one warp per (sample,
 *                 query) for dS and dQ, then one warp per (sample, key) for dK and dV. v2 (Lq·Lk
 *                 <= 1024): one block per sample, P and dS in shared memory, 16-byte loads where
 *                 aligned, the backward in one kernel. No atomics in either.
 *   small linears (at most 4 outputs: a head's last layer, the gate) v2: dW by the column sums
 *                 and dx by an element kernel instead of cuBLAS sgemm (0.03 ms for the 2048 × 1024
 *                 → 2 head at d=512; NOTES.md on the 5.1 ms its sgemm showed in a 3-pass profile).
 *   GELU (erf), pooling, embeddings, mixing softmax, cross-entropy, batch gather: plain
 *                 element / row kernels.
 * The same inputs give bitwise the same results on a GPU (no atomics; cuBLAS sgemm and the
 * cuBLASLt algorithm fixed per shape are deterministic on one stream). Errors of cuBLAS calls and
 * launches are kept per thread and returned by `status`, which common.c calls after every pass.
 * QT_CUDA_FUSION_PROFILE=1: CUDA events around every kernel call, summed per call kind and shape,
 * printed to stderr at exit (diagnostics: one thread, a few microseconds per call added).
 * Tests: tests/fusion/test_fusion.c (against ref, both versions; skipped without a GPU, saying
 * why); build/quintet verify fusion --backend cuda; quintet run fusion_accuracy --backend cuda;
 * measurements: NOTES.md beside this file. */
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/cuda/internal.h"
extern "C" {
#include "../internal.h"
}

#define CTX(be) QT_CUDA_CTX(be)
#define STREAM(be) (CTX(be)->stream)
#define COL_ROWS 64    /* rows per partial of the column reduction, at least */
#define COL_CHUNKS 32  /* v1: partials per column, at most (the second pass adds them in order) */

/* ------------------------------------------------------------ errors */

static __thread qt_status_t fu_err = QT_OK; /* the first error since the last `status` */
static __thread int fu_ver = 0;             /* kernel version of this pass; 0: read it again */
static __thread int fu_attn_ver = 0;        /* the attention kernels' version (QT_CUDA_FUSION_ATTN) */

static int ver(void)
{
    if (!fu_ver) {
        const char *e = getenv("QT_CUDA_FUSION_V"), *a = getenv("QT_CUDA_FUSION_ATTN");
        fu_ver = e && e[0] == '1' ? 1 : 2;
        fu_attn_ver = a && a[0] == '1' ? 1 : fu_ver;
    }
    return fu_ver;
}

static void fu_fail(qt_backend_t *be, qt_status_t code, const char *what)
{
    if (fu_err == QT_OK) fu_err = qt_backend_fail(be, code, "cuda fusion: %s", what);
}

static void fu_launched(qt_backend_t *be, const char *what)
{
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess && fu_err == QT_OK) fu_err = qt_cuda_fail(be, e, what);
}

static void fu_blas(qt_backend_t *be, cublasStatus_t st, const char *what)
{
    if (st != CUBLAS_STATUS_SUCCESS && fu_err == QT_OK) {
        char m[96];
        snprintf(m, sizeof m, "%s: cuBLAS status %d", what, (int)st);
        fu_fail(be, QT_ERR_INTERNAL, m);
    }
}

static float *fu_scratch(qt_backend_t *be, size_t floats)
{
    void *p = NULL;
    if (qt_cuda_scratch(be, floats * sizeof(float), &p) != QT_OK) {
        if (fu_err == QT_OK) fu_err = QT_ERR_NOMEM;
        return NULL;
    }
    return (float *)p;
}

static qt_status_t k_status(qt_backend_t *be)
{
    fu_launched(be, "cuda fusion kernel launch");
    qt_status_t s = fu_err;
    fu_err = QT_OK;
    fu_ver = 0;
    return s;
}

static int grid(const qt_backend_t *be, int64_t n, int threads) { return qt_cuda_blocks(be, (size_t)n, threads); }

static bool al16(const void *p) { return ((uintptr_t)p & 15) == 0; }

#define GSTRIDE(i, n) for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

static __device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* ------------------------------------------------------------ profile */

/* QT_CUDA_FUSION_PROFILE=1: a pair of events around each call (a pool, read back when full and
 * at exit), summed per key (call kind and shape); the table goes to stderr at exit. */
#define PROF_POOL 4096
#define PROF_KEYS 256
typedef struct { char key[64]; double ms, flop; long n; } prof_row_t;
static int prof_state = -1; /* -1 unread, 0 off, 1 on */
static cudaEvent_t prof_ev[2 * PROF_POOL];
static char prof_pending[PROF_POOL][64];
static double prof_pflop[PROF_POOL];
static int prof_used, prof_made;
static prof_row_t prof_rows[PROF_KEYS];
static int prof_nrows;

static void prof_flush(void)
{
    for (int i = 0; i < prof_used; i++) {
        float ms = 0;
        if (cudaEventSynchronize(prof_ev[2 * i + 1]) != cudaSuccess ||
            cudaEventElapsedTime(&ms, prof_ev[2 * i], prof_ev[2 * i + 1]) != cudaSuccess) {
            (void)cudaGetLastError();
            continue;
        }
        int k = 0;
        while (k < prof_nrows && strcmp(prof_rows[k].key, prof_pending[i])) k++;
        if (k == prof_nrows) {
            if (prof_nrows == PROF_KEYS) continue;
            snprintf(prof_rows[k].key, sizeof prof_rows[k].key, "%s", prof_pending[i]);
            prof_nrows++;
        }
        prof_rows[k].ms += ms;
        prof_rows[k].flop += prof_pflop[i];
        prof_rows[k].n++;
    }
    prof_used = 0;
}

static int prof_cmp(const void *a, const void *b)
{
    double x = ((const prof_row_t *)a)->ms, y = ((const prof_row_t *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void prof_print(void)
{
    prof_flush();
    long steps = 0;
    double total = 0;
    for (int k = 0; k < prof_nrows; k++) {
        total += prof_rows[k].ms;
        if (!strncmp(prof_rows[k].key, "xent", 4)) steps += prof_rows[k].n;
    }
    if (steps < 1) steps = 1;
    qsort(prof_rows, (size_t)prof_nrows, sizeof *prof_rows, prof_cmp);
    fprintf(stderr, "cuda fusion profile (QT_CUDA_FUSION_PROFILE): %ld passes with a loss, %.3f ms of kernels per pass\n"
                    "%-44s %8s %10s %6s %9s\n", steps, total / steps, "call [shape]", "calls", "ms/pass", "share", "TFLOP/s");
    for (int k = 0; k < prof_nrows; k++) {
        const prof_row_t *r = &prof_rows[k];
        fprintf(stderr, "%-44s %8ld %10.4f %5.1f%% ", r->key, r->n, r->ms / steps, 100 * r->ms / (total > 0 ? total : 1));
        if (r->flop > 0) fprintf(stderr, "%9.2f", r->flop / (r->ms * 1e-3) / 1e12);
        fprintf(stderr, "\n");
    }
}

static bool prof_on(void)
{
    if (prof_state < 0) {
        const char *e = getenv("QT_CUDA_FUSION_PROFILE");
        prof_state = e && e[0] == '1';
        if (prof_state) atexit(prof_print);
    }
    return prof_state == 1;
}

/* A scope timed on the instance's stream: key printf-style, flop the work it does (0: none). */
struct prof_scope {
    int i;
    cudaStream_t s;
    prof_scope(qt_backend_t *be, double flop, const char *fmt, ...) : i(-1), s(STREAM(be))
    {
        if (!prof_on()) return;
        if (prof_used == PROF_POOL) prof_flush();
        if (prof_used >= prof_made) {
            if (cudaEventCreate(&prof_ev[2 * prof_used]) != cudaSuccess ||
                cudaEventCreate(&prof_ev[2 * prof_used + 1]) != cudaSuccess) {
                (void)cudaGetLastError();
                return;
            }
            prof_made++;
        }
        i = prof_used++;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prof_pending[i], sizeof prof_pending[i], fmt, ap);
        va_end(ap);
        prof_pflop[i] = flop;
        cudaEventRecord(prof_ev[2 * i], s);
    }
    ~prof_scope()
    {
        if (i >= 0) cudaEventRecord(prof_ev[2 * i + 1], s);
    }
};
#define PROF(be, flop, ...) prof_scope prof_scope_(be, flop, __VA_ARGS__)

/* ------------------------------------------------------ column sums */

/* v1: column c of rows [r0, r1) of a functor's values f(r, c, acc[NV]) into
 * part[(chunk·NV + v)·cols + c]. */
template <int NV, class F>
static __global__ void k_colpart(F f, int64_t rows, int64_t cols, int64_t chunk, float *part)
{
    __shared__ float sh[NV][8][33];
    int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x, r0 = (int64_t)blockIdx.y * chunk;
    int64_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float acc[NV];
    for (int v = 0; v < NV; v++) acc[v] = 0;
    if (c < cols)
        for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) f(r, c, acc);
    for (int v = 0; v < NV; v++) sh[v][threadIdx.y][threadIdx.x] = acc[v];
    __syncthreads();
    if (threadIdx.y == 0 && c < cols)
        for (int v = 0; v < NV; v++) {
            float s = 0;
            for (int y = 0; y < 8; y++) s += sh[v][y][threadIdx.x];
            part[((int64_t)blockIdx.y * NV + v) * cols + c] = s;
        }
}

/* v2: the same with the row loop unrolled 4 deep (four independent loads in flight per thread). */
template <int NV, class F>
static __global__ void k_colpart2(F f, int64_t rows, int64_t cols, int64_t chunk, float *part)
{
    __shared__ float sh[NV][8][33];
    int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x, r0 = (int64_t)blockIdx.y * chunk;
    int64_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float acc[NV];
    for (int v = 0; v < NV; v++) acc[v] = 0;
    if (c < cols) {
        int64_t r = r0 + threadIdx.y;
        for (; r + 24 < r1; r += 32) {
            f(r, c, acc);
            f(r + 8, c, acc);
            f(r + 16, c, acc);
            f(r + 24, c, acc);
        }
        for (; r < r1; r += 8) f(r, c, acc);
    }
    for (int v = 0; v < NV; v++) sh[v][threadIdx.y][threadIdx.x] = acc[v];
    __syncthreads();
    if (threadIdx.y == 0 && c < cols)
        for (int v = 0; v < NV; v++) {
            float s = 0;
            for (int y = 0; y < 8; y++) s += sh[v][y][threadIdx.x];
            part[((int64_t)blockIdx.y * NV + v) * cols + c] = s;
        }
}

/* v1: dst_v[c] += Σ_chunks part[(chunk·NV + v)·cols + c], chunks in order; dst_0 = d0, dst_1 =
 * d1, or with d1 NULL the NV sums are rows of d0: dst_v = d0 + v·cols. */
static __global__ void k_colfin(const float *part, int64_t chunks, int64_t cols, int nv, float *d0, float *d1)
{
    GSTRIDE(i, cols * nv)
    {
        int64_t v = i / cols, c = i % cols;
        float s = 0;
        for (int64_t k = 0; k < chunks; k++) s += part[(k * nv + v) * cols + c];
        float *d = v == 0 ? d0 : d1 ? d1 : d0 + v * cols;
        d[c] += s;
    }
}

/* v2: the same sums by blocks of 32 columns × 8 lanes of chunks (lane y adds chunks y, y + 8, …,
 * then the 8 lane sums are added in order): a fixed order, 8 times the loads in flight. Grid
 * (columns / 32, nv). */
static __global__ void k_colfin2(const float *part, int64_t chunks, int64_t cols, int nv, float *d0, float *d1)
{
    __shared__ float sh[8][33];
    int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x;
    int v = blockIdx.y;
    float s = 0;
    if (c < cols) {
        int64_t k = threadIdx.y;
        for (; k + 24 < chunks; k += 32)
            s += (part[(k * nv + v) * cols + c] + part[((k + 8) * nv + v) * cols + c]) +
                 (part[((k + 16) * nv + v) * cols + c] + part[((k + 24) * nv + v) * cols + c]);
        for (; k < chunks; k += 8) s += part[(k * nv + v) * cols + c];
    }
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        float t = 0;
        for (int y = 0; y < 8; y++) t += sh[y][threadIdx.x];
        float *d = v == 0 ? d0 : d1 ? d1 : d0 + v * cols;
        d[c] += t;
    }
}

static void colfin(qt_backend_t *be, const float *part, int64_t chunks, int64_t cols, int nv, float *d0, float *d1)
{
    if (ver() == 1) k_colfin<<<grid(be, cols * nv, 256), 256, 0, STREAM(be)>>>(part, chunks, cols, nv, d0, d1);
    else {
        dim3 g((unsigned)((cols + 31) / 32), (unsigned)nv), b(32, 8);
        k_colfin2<<<g, b, 0, STREAM(be)>>>(part, chunks, cols, nv, d0, d1);
    }
}

/* Rows per chunk: at least COL_ROWS, a multiple of 8 rows (the block's height); v1 at most
 * COL_CHUNKS chunks, v2 about 8 blocks per multiprocessor over all column blocks (the whole
 * chip's threads, 4 loads each in flight); and the scratch floats colsum needs. */
static int64_t col_chunk(const qt_backend_t *be, int64_t rows, int64_t cols)
{
    int64_t want = COL_CHUNKS;
    if (ver() != 1) {
        int64_t gx = (cols + 31) / 32, sms = CTX(be)->sms > 0 ? CTX(be)->sms : 1;
        want = (8 * sms + gx - 1) / gx;
    }
    int64_t c = ((rows + want - 1) / want + 7) / 8 * 8;
    return c > COL_ROWS ? c : COL_ROWS;
}
static int64_t colsum_scratch(const qt_backend_t *be, int64_t rows, int64_t cols, int nv)
{
    int64_t ch = col_chunk(be, rows, cols);
    return (rows + ch - 1) / ch * nv * cols;
}

/* d0[c] (+ d1[c] for NV = 2; NV rows of d0 with d1 NULL) += column sums of f over (rows, cols); the partials use scratch
 * from float `skip` on (the caller's data before it stays intact: it must have asked for
 * skip + colsum_scratch floats already, so that the scratch does not move). */
template <int NV, class F>
static void colsum(qt_backend_t *be, F f, int64_t rows, int64_t cols, float *d0, float *d1, int64_t skip = 0)
{
    if (rows <= 0 || cols <= 0) return;
    int64_t chunk = col_chunk(be, rows, cols), chunks = (rows + chunk - 1) / chunk;
    float *part = fu_scratch(be, (size_t)(skip + colsum_scratch(be, rows, cols, NV)));
    if (!part) return;
    part += skip;
    dim3 g((unsigned)((cols + 31) / 32), (unsigned)chunks), b(32, 8);
    if (ver() == 1) k_colpart<NV, F><<<g, b, 0, STREAM(be)>>>(f, rows, cols, chunk, part);
    else k_colpart2<NV, F><<<g, b, 0, STREAM(be)>>>(f, rows, cols, chunk, part);
    colfin(be, part, chunks, cols, NV, d0, d1);
    fu_launched(be, "column sum");
}

/* Plain column sums of a row-major (rows, cols) array (row stride ld). */
struct col_plain {
    const float *x;
    int64_t ld;
    __device__ void operator()(int64_t r, int64_t c, float *acc) const { acc[0] += x[r * ld + c]; }
};

/* LayerNorm affine gradients: Σ dy·x̂ and Σ dy. */
struct col_ln {
    const float *x, *st, *dy;
    int64_t dim;
    __device__ void operator()(int64_t r, int64_t c, float *acc) const
    {
        float g = dy[r * dim + c];
        acc[0] += g * (x[r * dim + c] - st[2 * r]) * st[2 * r + 1];
        acc[1] += g;
    }
};

/* dW of a linear with NO outputs (row o of dW, (NO, in)): Σ_r dy[r, o]·x[r, c]. */
template <int NO> struct col_dw {
    const float *x, *dy;
    int64_t in;
    __device__ void operator()(int64_t r, int64_t c, float *acc) const
    {
        float xv = x[r * in + c];
#pragma unroll
        for (int o = 0; o < NO; o++) acc[o] += dy[r * NO + o] * xv;
    }
};

/* ---------------------------------------------------------- linear */

static __global__ void k_bias_rows(const float *b, int64_t rows, int64_t out, float *y)
{
    GSTRIDE(i, rows * out) y[i] = b[i % out];
}

/* cuBLASLt: one handle per thread and device, and the algorithms picked per shape and alignment
 * (heuristics take a few microseconds: once per key). */
static unsigned align_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    unsigned r = 256;
    while (r > 4 && a % r) r >>= 1;
    return r;
}

typedef struct {
    int dev, ok;
    int64_t m, n, k;
    unsigned aa, ab, ad, abias;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
} lt_plan_t;

#define LT_PLANS 128
static __thread cublasLtHandle_t lt_handle[QT_MAX_CUDA_DEVICES];
static __thread lt_plan_t lt_plans[LT_PLANS];
static __thread int lt_nplans;

/* y (out × rows, column-major) = Wᵀ·x + b by cuBLASLt with the bias epilogue; 0 where it has no
 * plan for this shape (the caller falls back to v1), 1 when queued or failed (error kept). */
static int lt_linear_fwd(qt_backend_t *be, const float *x, int64_t rows, int64_t in, const float *W, const float *b,
                         int64_t out, float *y)
{
    int dev = CTX(be)->ordinal;
    if (dev < 0 || dev >= QT_MAX_CUDA_DEVICES || !al16(b)) return 0;
    if (!lt_handle[dev] && cublasLtCreate(&lt_handle[dev]) != CUBLAS_STATUS_SUCCESS) { lt_handle[dev] = NULL; return 0; }
    unsigned aa = align_of(W), ab = align_of(x), ad = align_of(y), abias = align_of(b);
    lt_plan_t *p = NULL;
    for (int i = 0; i < lt_nplans && !p; i++) {
        lt_plan_t *q = &lt_plans[i];
        if (q->dev == dev && q->m == out && q->n == rows && q->k == in && q->aa == aa && q->ab == ab && q->ad == ad &&
            q->abias == abias)
            p = q;
    }
    if (!p) {
        if (lt_nplans == LT_PLANS) return 0;
        p = &lt_plans[lt_nplans++];
        memset(p, 0, sizeof *p);
        p->dev = dev; p->m = out; p->n = rows; p->k = in; p->aa = aa; p->ab = ab; p->ad = ad; p->abias = abias;
        cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        cublasLtMatmulPreference_t pref = NULL;
        size_t ws = 0;
        cublasLtMatmulHeuristicResult_t res;
        int got = 0;
        memset(&res, 0, sizeof res);
        /* column-major: A = W stored in × out (op T), B = x stored in × rows, D = y out × rows */
        if (cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &b, sizeof b) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatrixLayoutCreate(&p->la, CUDA_R_32F, (uint64_t)in, (uint64_t)out, in) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatrixLayoutCreate(&p->lb, CUDA_R_32F, (uint64_t)in, (uint64_t)rows, in) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatrixLayoutCreate(&p->ld, CUDA_R_32F, (uint64_t)out, (uint64_t)rows, out) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa, sizeof aa) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ab, sizeof ab) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ad, sizeof ad) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ad, sizeof ad) == CUBLAS_STATUS_SUCCESS &&
            cublasLtMatmulAlgoGetHeuristic(lt_handle[dev], p->op, p->la, p->lb, p->ld, p->ld, pref, 1, &res, &got) ==
                CUBLAS_STATUS_SUCCESS &&
            got > 0) {
            p->algo = res.algo;
            p->ok = 1;
        }
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
    }
    if (!p->ok) return 0;
    float one = 1.0f, zero = 0.0f;
    fu_blas(be, cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &b, sizeof b), "linear bias pointer");
    fu_blas(be, cublasLtMatmul(lt_handle[dev], p->op, &one, W, p->la, x, p->lb, &zero, y, p->ld, y, p->ld, &p->algo, NULL,
                               0, STREAM(be)),
            "linear forward cublasLt matmul");
    return 1;
}

static void g_linear_fwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t in, qt_cfp Wv, qt_cfp bv, int64_t out,
                         qt_fp yv)
{
    PROF(be, 2.0 * rows * in * out, "linear fwd %lldx%lldx%lld", (long long)rows, (long long)in, (long long)out);
    float *y = (float *)yv, one = 1.0f;
    if (ver() != 1 && lt_linear_fwd(be, (const float *)xv, rows, in, (const float *)Wv, (const float *)bv, out, y)) return;
    k_bias_rows<<<grid(be, rows * out, 256), 256, 0, STREAM(be)>>>((const float *)bv, rows, out, y);
    fu_launched(be, "linear bias");
    /* column-major view: yᵀ (out × rows) = W (out × in, stored as in × out) · xᵀ (in × rows) */
    fu_blas(be, cublasSgemm(CTX(be)->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)out, (int)rows, (int)in, &one,
                            (const float *)Wv, (int)in, (const float *)xv, (int)in, &one, y, (int)out),
            "linear forward sgemm");
}

/* v2, linears with at most 4 outputs (a head's last layer: classes; the gate: modalities):
 * dx[r, i] += Σ_o dy[r, o]·W[o, i] one thread per element, dW by the column sums (col_dw), both
 * deterministic (d=512 B=2048 profiles: dx 0.017 ms here, 0.084 ms by cuBLAS sgemm). */
template <int NO>
static __global__ void k_dx_small(const float *dy, const float *W, int64_t rows, int64_t in, float *dx)
{
    GSTRIDE(t, rows * in)
    {
        int64_t r = t / in, i = t % in;
        float s = 0;
#pragma unroll
        for (int o = 0; o < NO; o++) s += dy[r * NO + o] * W[o * in + i];
        dx[t] += s;
    }
}

template <int NO>
static void linear_bwd_small(qt_backend_t *be, const float *x, int64_t rows, int64_t in, const float *W,
                             const float *dy, float *dx, float *dW)
{
    {
        PROF(be, 2.0 * rows * in * NO, "linear dW small %lldx%lldx%d", (long long)rows, (long long)in, NO);
        colsum<NO>(be, col_dw<NO>{x, dy, in}, rows, in, dW, NULL);
    }
    if (dx) {
        PROF(be, 2.0 * rows * in * NO, "linear dx small %lldx%lldx%d", (long long)rows, (long long)in, NO);
        k_dx_small<NO><<<grid(be, rows * in, 256), 256, 0, STREAM(be)>>>(dy, W, rows, in, dx);
        fu_launched(be, "linear dx (small)");
    }
}

static void g_linear_bwd(qt_backend_t *be, qt_cfp xv, int64_t rows, int64_t in, qt_cfp Wv, int64_t out, qt_cfp dyv,
                         qt_fp dxv, qt_fp dWv, qt_fp dbv)
{
    const float *x = (const float *)xv, *W = (const float *)Wv, *dy = (const float *)dyv;
    float one = 1.0f;
    if (ver() != 1 && out <= 4) {
        float *dx = (float *)dxv, *dW = (float *)dWv;
        switch (out) {
        case 1: linear_bwd_small<1>(be, x, rows, in, W, dy, dx, dW); break;
        case 2: linear_bwd_small<2>(be, x, rows, in, W, dy, dx, dW); break;
        case 3: linear_bwd_small<3>(be, x, rows, in, W, dy, dx, dW); break;
        default: linear_bwd_small<4>(be, x, rows, in, W, dy, dx, dW); break;
        }
    } else {
        {
            PROF(be, 2.0 * rows * in * out, "linear dW %lldx%lldx%lld", (long long)rows, (long long)in, (long long)out);
            /* dWᵀ (in × out) += xᵀ (in × rows) · dy (rows × out, stored as out × rows) */
            fu_blas(be, cublasSgemm(CTX(be)->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)in, (int)out, (int)rows, &one, x,
                                    (int)in, dy, (int)out, &one, (float *)dWv, (int)in),
                    "linear dW sgemm");
        }
        /* dxᵀ (in × rows) += Wᵀ (in × out) · dyᵀ (out × rows) */
        if (dxv) {
            PROF(be, 2.0 * rows * in * out, "linear dx %lldx%lldx%lld", (long long)rows, (long long)in, (long long)out);
            fu_blas(be, cublasSgemm(CTX(be)->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)in, (int)rows, (int)out, &one, W,
                                    (int)in, dy, (int)out, &one, (float *)dxv, (int)in),
                    "linear dx sgemm");
        }
    }
    PROF(be, 0, "linear db (column sum) %lldx%lld", (long long)rows, (long long)out);
    colsum<1>(be, col_plain{dy, out}, rows, out, (float *)dbv, NULL);
}

/* ------------------------------------------------------------ GELU */

static __device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678f)); }
static __device__ __forceinline__ float gelu_d(float x)
{
    return 0.5f * (1.0f + erff(x * 0.70710678f)) + x * 0.39894228f * expf(-0.5f * x * x);
}

static __global__ void k_gelu_fwd(const float *x, float *y, int64_t n)
{
    GSTRIDE(i, n) y[i] = gelu(x[i]);
}

static __global__ void k_gelu_bwd(const float *x, const float *dy, float *dx, int64_t n)
{
    GSTRIDE(i, n) dx[i] += dy[i] * gelu_d(x[i]);
}

/* v2: four elements per thread (16-byte accesses; n4 = n / 4). */
static __global__ void k_gelu_fwd4(const float4 *x, float4 *y, int64_t n4)
{
    GSTRIDE(i, n4)
    {
        float4 a = x[i];
        y[i] = make_float4(gelu(a.x), gelu(a.y), gelu(a.z), gelu(a.w));
    }
}

static __global__ void k_gelu_bwd4(const float4 *x, const float4 *dy, float4 *dx, int64_t n4)
{
    GSTRIDE(i, n4)
    {
        float4 a = x[i], g = dy[i], d = dx[i];
        d.x += g.x * gelu_d(a.x);
        d.y += g.y * gelu_d(a.y);
        d.z += g.z * gelu_d(a.z);
        d.w += g.w * gelu_d(a.w);
        dx[i] = d;
    }
}

/* The v2 16-byte path applies: version 2, n a multiple of 4, every pointer 16-byte aligned. */
static bool vec4(int64_t n, const void *a, const void *b = NULL, const void *c = NULL)
{
    return ver() != 1 && n % 4 == 0 && al16(a) && (!b || al16(b)) && (!c || al16(c));
}

static void g_gelu_fwd(qt_backend_t *be, qt_cfp x, qt_fp y, int64_t n)
{
    PROF(be, 0, "gelu %lld", (long long)n);
    if (vec4(n, x, y)) k_gelu_fwd4<<<grid(be, n / 4, 256), 256, 0, STREAM(be)>>>((const float4 *)x, (float4 *)y, n / 4);
    else k_gelu_fwd<<<grid(be, n, 256), 256, 0, STREAM(be)>>>((const float *)x, (float *)y, n);
    fu_launched(be, "gelu");
}

static void g_gelu_bwd(qt_backend_t *be, qt_cfp x, qt_cfp dy, qt_fp dx, int64_t n)
{
    PROF(be, 0, "gelu bwd %lld", (long long)n);
    if (vec4(n, x, dy, dx))
        k_gelu_bwd4<<<grid(be, n / 4, 256), 256, 0, STREAM(be)>>>((const float4 *)x, (const float4 *)dy, (float4 *)dx,
                                                                   n / 4);
    else k_gelu_bwd<<<grid(be, n, 256), 256, 0, STREAM(be)>>>((const float *)x, (const float *)dy, (float *)dx, n);
    fu_launched(be, "gelu backward");
}

/* ------------------------------------------------------- LayerNorm */

#define WARPS 8 /* warps per block of the row kernels */

static __global__ void k_ln_fwd(const float *x, int64_t rows, int64_t dim, const float *g, const float *b, float *y,
                                float *st)
{
    int lane = threadIdx.x & 31;
    for (int64_t r = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); r < rows; r += (int64_t)gridDim.x * WARPS) {
        const float *xr = x + r * dim;
        float s = 0;
        for (int64_t i = lane; i < dim; i += 32) s += xr[i];
        float mu = warp_sum(s) / (float)dim, v = 0;
        for (int64_t i = lane; i < dim; i += 32) v += (xr[i] - mu) * (xr[i] - mu);
        float rstd = 1.0f / sqrtf(warp_sum(v) / (float)dim + 1e-5f);
        if (lane == 0) { st[2 * r] = mu; st[2 * r + 1] = rstd; }
        float *yr = y + r * dim;
        for (int64_t i = lane; i < dim; i += 32) {
            float h = (xr[i] - mu) * rstd;
            yr[i] = g ? h * g[i] + b[i] : h;
        }
    }
}

static __global__ void k_ln_bwd(const float *x, int64_t rows, int64_t dim, const float *g, const float *st,
                                const float *dy, float *dx)
{
    int lane = threadIdx.x & 31;
    for (int64_t r = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); r < rows; r += (int64_t)gridDim.x * WARPS) {
        const float *xr = x + r * dim, *dyr = dy + r * dim;
        float mu = st[2 * r], rstd = st[2 * r + 1], mg = 0, mgx = 0;
        for (int64_t i = lane; i < dim; i += 32) {
            float gi = dyr[i] * (g ? g[i] : 1.0f);
            mg += gi;
            mgx += gi * (xr[i] - mu) * rstd;
        }
        mg = warp_sum(mg) / (float)dim;
        mgx = warp_sum(mgx) / (float)dim;
        for (int64_t i = lane; i < dim; i += 32)
            dx[r * dim + i] += rstd * (dyr[i] * (g ? g[i] : 1.0f) - mg - (xr[i] - mu) * rstd * mgx);
    }
}

/* v2 row layout: a lane holds NPL = dim/32 floats of a row, as NPL/W runs of W consecutive
 * floats (W = 4: 16-byte loads; W = 1: plain), run s of lane l starting at column (s·32 + l)·W. */
template <int W> static __device__ __forceinline__ void ldw(const float *p, float *v)
{
    if (W == 4) {
        float4 t = *(const float4 *)p;
        v[0] = t.x; v[1] = t.y; v[2] = t.z; v[3] = t.w;
    } else v[0] = *p;
}
template <int W> static __device__ __forceinline__ void stw(float *p, const float *v)
{
    if (W == 4) *(float4 *)p = make_float4(v[0], v[1], v[2], v[3]);
    else *p = v[0];
}

template <int NPL, int W>
static __global__ void k_ln_fwd2(const float *x, int64_t rows, const float *g, const float *b, float *y, float *st)
{
    constexpr int dim = 32 * NPL, NS = NPL / W;
    int lane = threadIdx.x & 31;
    float gv[NPL], bv[NPL];
    if (g)
#pragma unroll
        for (int s = 0; s < NS; s++) {
            ldw<W>(g + (s * 32 + lane) * W, gv + s * W);
            ldw<W>(b + (s * 32 + lane) * W, bv + s * W);
        }
    for (int64_t r = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); r < rows; r += (int64_t)gridDim.x * WARPS) {
        const float *xr = x + r * dim;
        float v[NPL], s1 = 0, s2 = 0;
#pragma unroll
        for (int s = 0; s < NS; s++) ldw<W>(xr + (s * 32 + lane) * W, v + s * W);
#pragma unroll
        for (int i = 0; i < NPL; i++) s1 += v[i];
        float mu = warp_sum(s1) / (float)dim;
#pragma unroll
        for (int i = 0; i < NPL; i++) s2 += (v[i] - mu) * (v[i] - mu);
        float rstd = 1.0f / sqrtf(warp_sum(s2) / (float)dim + 1e-5f);
        if (lane == 0) { st[2 * r] = mu; st[2 * r + 1] = rstd; }
#pragma unroll
        for (int i = 0; i < NPL; i++) {
            float h = (v[i] - mu) * rstd;
            v[i] = g ? h * gv[i] + bv[i] : h;
        }
        float *yr = y + r * dim;
#pragma unroll
        for (int s = 0; s < NS; s++) stw<W>(yr + (s * 32 + lane) * W, v + s * W);
    }
}

/* dx += …; with part: block k's sums Σ dy·x̂ and Σ dy over its rows into part[(k·2 + v)·dim + c]
 * (each lane's columns are the same on every row: sums in registers, then the block's warps
 * added in order through shared memory). */
template <int NPL, int W>
static __global__ void k_ln_bwd2(const float *x, int64_t rows, const float *g, const float *st, const float *dy,
                                 float *dx, float *part)
{
    constexpr int dim = 32 * NPL, NS = NPL / W;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float gv[NPL], pg[NPL], pb[NPL];
#pragma unroll
    for (int s = 0; s < NS; s++) {
        if (g) ldw<W>(g + (s * 32 + lane) * W, gv + s * W);
        else
            for (int w = 0; w < W; w++) gv[s * W + w] = 1.0f;
    }
#pragma unroll
    for (int i = 0; i < NPL; i++) pg[i] = pb[i] = 0;
    for (int64_t r = (int64_t)blockIdx.x * WARPS + warp; r < rows; r += (int64_t)gridDim.x * WARPS) {
        const float *xr = x + r * dim, *dyr = dy + r * dim;
        float *dxr = dx + r * dim;
        float xv[NPL], dv[NPL], ov[NPL], mu = st[2 * r], rstd = st[2 * r + 1], mg = 0, mgx = 0;
#pragma unroll
        for (int s = 0; s < NS; s++) {
            ldw<W>(xr + (s * 32 + lane) * W, xv + s * W);
            ldw<W>(dyr + (s * 32 + lane) * W, dv + s * W);
            ldw<W>(dxr + (s * 32 + lane) * W, ov + s * W);
        }
#pragma unroll
        for (int i = 0; i < NPL; i++) {
            xv[i] = (xv[i] - mu) * rstd; /* x̂ */
            float gi = dv[i] * gv[i];
            mg += gi;
            mgx += gi * xv[i];
            pg[i] += dv[i] * xv[i];
            pb[i] += dv[i];
        }
        mg = warp_sum(mg) / (float)dim;
        mgx = warp_sum(mgx) / (float)dim;
#pragma unroll
        for (int i = 0; i < NPL; i++) ov[i] += rstd * (dv[i] * gv[i] - mg - xv[i] * mgx);
#pragma unroll
        for (int s = 0; s < NS; s++) stw<W>(dxr + (s * 32 + lane) * W, ov + s * W);
    }
    if (!part) return;
    __shared__ float sh[WARPS][2][dim];
#pragma unroll
    for (int s = 0; s < NS; s++)
        for (int w = 0; w < W; w++) {
            sh[warp][0][(s * 32 + lane) * W + w] = pg[s * W + w];
            sh[warp][1][(s * 32 + lane) * W + w] = pb[s * W + w];
        }
    __syncthreads();
    for (int c = threadIdx.x; c < 2 * dim; c += blockDim.x) {
        float t = 0;
        for (int w = 0; w < WARPS; w++) t += sh[w][0][c];
        part[(int64_t)blockIdx.x * 2 * dim + c] = t;
    }
}

static int row_blocks(const qt_backend_t *be, int64_t rows) { return grid(be, rows, WARPS); }

/* The v2 LayerNorm applies: version 2, dim = 32·NPL with NPL in 2, 4, 8, 16; W = 4 where
 * NPL % 4 == 0 and every pointer is 16-byte aligned, else 1. Returns NPL·8 + W, 0 for v1. */
static int ln_kind(int64_t dim, const void *a, const void *b, const void *c, const void *d, const void *e)
{
    if (ver() == 1 || (dim != 64 && dim != 128 && dim != 256 && dim != 512)) return 0;
    int npl = (int)(dim / 32), w = npl % 4 == 0 && al16(a) && al16(b) && al16(c) && al16(d) && al16(e) ? 4 : 1;
    return npl * 8 + w;
}

#define LN_CASES(X)                                                                                                    \
    X(2, 1) X(4, 1) X(4, 4) X(8, 1) X(8, 4) X(16, 1) X(16, 4)

static void g_ln_fwd(qt_backend_t *be, qt_cfp x, int64_t rows, int64_t dim, qt_cfp g, qt_cfp b, qt_fp y, qt_fp st)
{
    PROF(be, 0, "layernorm %lldx%lld", (long long)rows, (long long)dim);
    const float *xf = (const float *)x, *gf = (const float *)g, *bf = (const float *)b;
    float *yf = (float *)y, *sf = (float *)st;
    switch (ln_kind(dim, x, g, b, y, x)) {
#define X(N, W)                                                                                                        \
    case N * 8 + W: k_ln_fwd2<N, W><<<row_blocks(be, rows), 32 * WARPS, 0, STREAM(be)>>>(xf, rows, gf, bf, yf, sf); break;
        LN_CASES(X)
#undef X
    default:
        k_ln_fwd<<<row_blocks(be, rows), 32 * WARPS, 0, STREAM(be)>>>(xf, rows, dim, gf, bf, yf, sf);
    }
    fu_launched(be, "layernorm");
}

static void g_ln_bwd(qt_backend_t *be, qt_cfp x, int64_t rows, int64_t dim, qt_cfp g, qt_cfp st, qt_cfp dy, qt_fp dx,
                     qt_fp dg, qt_fp db)
{
    PROF(be, 0, "layernorm bwd %lldx%lld", (long long)rows, (long long)dim);
    const float *xf = (const float *)x, *gf = (const float *)g, *sf = (const float *)st, *dyf = (const float *)dy;
    float *dxf = (float *)dx;
    int kind = ln_kind(dim, x, g, dy, dx, x);
    if (kind) {
        int64_t sms = CTX(be)->sms > 0 ? CTX(be)->sms : 1, nb = (rows + WARPS - 1) / WARPS;
        if (nb > 2 * sms) nb = 2 * sms;
        float *part = NULL;
        if (dg && !(part = fu_scratch(be, (size_t)(nb * 2 * dim)))) return;
        switch (kind) {
#define X(N, W)                                                                                                        \
    case N * 8 + W: k_ln_bwd2<N, W><<<(unsigned)nb, 32 * WARPS, 0, STREAM(be)>>>(xf, rows, gf, sf, dyf, dxf, part); break;
            LN_CASES(X)
#undef X
        }
        fu_launched(be, "layernorm backward");
        if (dg) colfin(be, part, nb, dim, 2, (float *)dg, (float *)db);
        fu_launched(be, "layernorm affine gradient");
        return;
    }
    k_ln_bwd<<<row_blocks(be, rows), 32 * WARPS, 0, STREAM(be)>>>(xf, rows, dim, gf, sf, dyf, dxf);
    fu_launched(be, "layernorm backward");
    if (dg) colsum<2>(be, col_ln{xf, sf, dyf, dim}, rows, dim, (float *)dg, (float *)db);
}

/* ------------------------------------------------------- attention */

/* One warp per (b, i): P row (Lk) and O row (d). */
static __global__ void k_attn_fwd(const float *q, const float *k, const float *v, int64_t B, int64_t Lq, int64_t Lk,
                                  int64_t d, float scale, float *o, float *p)
{
    int lane = threadIdx.x & 31;
    for (int64_t w = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); w < B * Lq; w += (int64_t)gridDim.x * WARPS) {
        int64_t b = w / Lq;
        const float *qi = q + w * d, *kb = k + b * Lk * d, *vb = v + b * Lk * d;
        float *pr = p + w * Lk, mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < Lk; j++) {
            float s = 0;
            for (int64_t e = lane; e < d; e += 32) s += qi[e] * kb[j * d + e];
            s = warp_sum(s) * scale;
            mx = s > mx ? s : mx;
            if (lane == 0) pr[j] = s;
        }
        __syncwarp();
        for (int64_t j = 0; j < Lk; j++) sum += expf(pr[j] - mx);
        float inv = 1.0f / sum;
        __syncwarp();
        for (int64_t j = lane; j < Lk; j += 32) pr[j] = expf(pr[j] - mx) * inv;
        __syncwarp();
        for (int64_t e = lane; e < d; e += 32) {
            float acc = 0;
            for (int64_t j = 0; j < Lk; j++) acc += pr[j] * vb[j * d + e];
            o[w * d + e] = acc;
        }
    }
}

/* One warp per (b, i): dS row into ds, dq_i += dS_i K. */
static __global__ void k_attn_bwd_q(const float *k, const float *v, const float *p, const float *dout, int64_t B,
                                    int64_t Lq, int64_t Lk, int64_t d, float scale, float *dq, float *ds)
{
    int lane = threadIdx.x & 31;
    for (int64_t w = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); w < B * Lq; w += (int64_t)gridDim.x * WARPS) {
        int64_t b = w / Lq;
        const float *dor = dout + w * d, *kb = k + b * Lk * d, *vb = v + b * Lk * d, *pr = p + w * Lk;
        float *dsr = ds + w * Lk, dot = 0;
        for (int64_t j = 0; j < Lk; j++) {
            float s = 0;
            for (int64_t e = lane; e < d; e += 32) s += dor[e] * vb[j * d + e];
            s = warp_sum(s);
            dot += s * pr[j];
            if (lane == 0) dsr[j] = s;
        }
        __syncwarp();
        for (int64_t j = lane; j < Lk; j += 32) dsr[j] = pr[j] * (dsr[j] - dot) * scale;
        __syncwarp();
        for (int64_t e = lane; e < d; e += 32) {
            float acc = 0;
            for (int64_t j = 0; j < Lk; j++) acc += dsr[j] * kb[j * d + e];
            dq[w * d + e] += acc;
        }
    }
}

/* One warp per (b, j): dk_j += Σ_i dS_ij q_i, dv_j += Σ_i P_ij do_i. */
static __global__ void k_attn_bwd_kv(const float *q, const float *p, const float *dout, const float *ds, int64_t B,
                                     int64_t Lq, int64_t Lk, int64_t d, float *dk, float *dv)
{
    int lane = threadIdx.x & 31;
    for (int64_t w = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); w < B * Lk; w += (int64_t)gridDim.x * WARPS) {
        int64_t b = w / Lk, j = w % Lk;
        const float *qb = q + b * Lq * d, *db = dout + b * Lq * d, *pb = p + b * Lq * Lk, *sb = ds + b * Lq * Lk;
        for (int64_t e = lane; e < d; e += 32) {
            float ak = 0, av = 0;
            for (int64_t i = 0; i < Lq; i++) {
                ak += sb[i * Lk + j] * qb[i * d + e];
                av += pb[i * Lk + j] * db[i * d + e];
            }
            dk[w * d + e] += ak;
            dv[w * d + e] += av;
        }
    }
}

/* v2: one block per sample b (AT_THREADS threads), Lq·Lk <= AT_MAXS: the scores, one warp per
 * (i, j) dot, into shared memory; softmax per row there (written to p as well); then O by threads
 * over (i, a W-float run of the row) adding P_ij·V_j over j. W = 4: 16-byte loads. */
#define AT_THREADS 256
#define AT_MAXS 1024
/* a·b over dw runs of W floats, by the 32 lanes of a warp (every lane gets the sum). */
template <int W> static __device__ __forceinline__ float warp_dot(const float *a, const float *b, int64_t dw, int lane)
{
    float s = 0;
    for (int64_t e = lane; e < dw; e += 32) {
        float x[W], y[W];
        ldw<W>(a + e * W, x);
        ldw<W>(b + e * W, y);
#pragma unroll
        for (int w = 0; w < W; w++) s += x[w] * y[w];
    }
    return warp_sum(s);
}

template <int W>
static __global__ void k_attn_fwd2(const float *q, const float *k, const float *v, int Lq, int Lk, int64_t d,
                                   float scale, float *o, float *p)
{
    __shared__ float sp[AT_MAXS];
    int64_t b = blockIdx.x, dw = d / W;
    const float *qb = q + b * Lq * d, *kb = k + b * Lk * d, *vb = v + b * Lk * d;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5, n = Lq * Lk;
    for (int t = warp; t < n; t += nw) {
        float s = warp_dot<W>(qb + (t / Lk) * d, kb + (t % Lk) * d, dw, lane);
        if (lane == 0) sp[t] = s * scale;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < Lq; i += blockDim.x) {
        float *r = sp + i * Lk, mx = r[0], sum = 0;
        for (int j = 1; j < Lk; j++) mx = r[j] > mx ? r[j] : mx;
        for (int j = 0; j < Lk; j++) sum += expf(r[j] - mx);
        float inv = 1.0f / sum;
        for (int j = 0; j < Lk; j++) {
            r[j] = expf(r[j] - mx) * inv;
            p[b * n + i * Lk + j] = r[j];
        }
    }
    __syncthreads();
    for (int64_t t = threadIdx.x; t < Lq * dw; t += blockDim.x) {
        int64_t i = t / dw, e = t % dw;
        float acc[W], c[W];
#pragma unroll
        for (int w = 0; w < W; w++) acc[w] = 0;
        for (int j = 0; j < Lk; j++) {
            ldw<W>(vb + j * d + e * W, c);
            float pij = sp[i * Lk + j];
#pragma unroll
            for (int w = 0; w < W; w++) acc[w] += pij * c[w];
        }
        stw<W>(o + (b * Lq + i) * d + e * W, acc);
    }
}

/* v2 backward, one block per sample: P to shared memory, dP_ij = dO_i·V_j (a warp per dot), dS
 * rows there; then dQ_i += Σ_j dS_ij K_j, dK_j += Σ_i dS_ij Q_i, dV_j += Σ_i P_ij dO_i by threads
 * over (row, W-float run) — each output element written by one thread (no atomics). */
template <int W>
static __global__ void k_attn_bwd2(const float *q, const float *k, const float *v, const float *p, const float *dout,
                                   int Lq, int Lk, int64_t d, float scale, float *dq, float *dk, float *dv)
{
    __shared__ float sp[AT_MAXS], sd[AT_MAXS];
    int64_t b = blockIdx.x, dw = d / W;
    const float *qb = q + b * Lq * d, *kb = k + b * Lk * d, *vb = v + b * Lk * d, *ob = dout + b * Lq * d;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5, n = Lq * Lk;
    for (int t = threadIdx.x; t < n; t += blockDim.x) sp[t] = p[b * n + t];
    for (int t = warp; t < n; t += nw) {
        float s = warp_dot<W>(ob + (t / Lk) * d, vb + (t % Lk) * d, dw, lane);
        if (lane == 0) sd[t] = s;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < Lq; i += blockDim.x) {
        float *r = sd + i * Lk, *pr = sp + i * Lk, dot = 0;
        for (int j = 0; j < Lk; j++) dot += r[j] * pr[j];
        for (int j = 0; j < Lk; j++) r[j] = pr[j] * (r[j] - dot) * scale;
    }
    __syncthreads();
    for (int64_t t = threadIdx.x; t < Lq * dw; t += blockDim.x) {
        int64_t i = t / dw, e = t % dw;
        float acc[W], c[W];
        float *dst = dq + (b * Lq + i) * d + e * W;
        ldw<W>(dst, acc);
        for (int j = 0; j < Lk; j++) {
            ldw<W>(kb + j * d + e * W, c);
            float g = sd[i * Lk + j];
#pragma unroll
            for (int w = 0; w < W; w++) acc[w] += g * c[w];
        }
        stw<W>(dst, acc);
    }
    for (int64_t t = threadIdx.x; t < Lk * dw; t += blockDim.x) {
        int64_t j = t / dw, e = t % dw;
        float ak[W], av[W], a[W], c[W], sk[W], sv[W];
#pragma unroll
        for (int w = 0; w < W; w++) sk[w] = sv[w] = 0;
        for (int i = 0; i < Lq; i++) {
            ldw<W>(qb + i * d + e * W, a);
            ldw<W>(ob + i * d + e * W, c);
            float g = sd[i * Lk + j], pij = sp[i * Lk + j];
#pragma unroll
            for (int w = 0; w < W; w++) {
                sk[w] += g * a[w];
                sv[w] += pij * c[w];
            }
        }
        float *tk = dk + (b * Lk + j) * d + e * W, *tv = dv + (b * Lk + j) * d + e * W;
        ldw<W>(tk, ak);
        ldw<W>(tv, av);
#pragma unroll
        for (int w = 0; w < W; w++) {
            ak[w] += sk[w];
            av[w] += sv[w];
        }
        stw<W>(tk, ak);
        stw<W>(tv, av);
    }
}

/* The v2 attention applies: version 2, Lq·Lk <= AT_MAXS; W = 4 where d % 4 == 0 and every
 * pointer is 16-byte aligned, else 1. Returns W, 0 for v1. */
static int attn_kind(int64_t Lq, int64_t Lk, int64_t d, const void *a, const void *b, const void *c, const void *e,
                     const void *f = NULL, const void *g = NULL, const void *h = NULL)
{
    if ((ver(), fu_attn_ver == 1) || Lq * Lk > AT_MAXS) return 0;
    return d % 4 == 0 && al16(a) && al16(b) && al16(c) && al16(e) && al16(f) && al16(g) && al16(h) ? 4 : 1;
}

static void g_attn_fwd(qt_backend_t *be, qt_cfp q, qt_cfp k, qt_cfp v, int64_t B, int64_t Lq, int64_t Lk, int64_t d,
                       qt_fp o, qt_fp p)
{
    PROF(be, 4.0 * B * Lq * Lk * d, "attention %lldx%lldx%lldx%lld", (long long)B, (long long)Lq, (long long)Lk, (long long)d);
    int kind = attn_kind(Lq, Lk, d, q, k, v, o);
    if (kind) {
        float sc = 1.0f / sqrtf((float)d);
        if (kind == 4)
            k_attn_fwd2<4><<<(unsigned)B, AT_THREADS, 0, STREAM(be)>>>((const float *)q, (const float *)k,
                                                                       (const float *)v, (int)Lq, (int)Lk, d, sc,
                                                                       (float *)o, (float *)p);
        else
            k_attn_fwd2<1><<<(unsigned)B, AT_THREADS, 0, STREAM(be)>>>((const float *)q, (const float *)k,
                                                                       (const float *)v, (int)Lq, (int)Lk, d, sc,
                                                                       (float *)o, (float *)p);
        fu_launched(be, "attention");
        return;
    }
    k_attn_fwd<<<row_blocks(be, B * Lq), 32 * WARPS, 0, STREAM(be)>>>((const float *)q, (const float *)k,
                                                                      (const float *)v, B, Lq, Lk, d,
                                                                      1.0f / sqrtf((float)d), (float *)o, (float *)p);
    fu_launched(be, "attention");
}

static void g_attn_bwd(qt_backend_t *be, qt_cfp q, qt_cfp k, qt_cfp v, qt_cfp p, qt_cfp dout, int64_t B, int64_t Lq,
                       int64_t Lk, int64_t d, qt_fp dq, qt_fp dk, qt_fp dv, qt_fp dp)
{
    PROF(be, 8.0 * B * Lq * Lk * d, "attention bwd %lldx%lldx%lldx%lld", (long long)B, (long long)Lq, (long long)Lk, (long long)d);
    int kind = attn_kind(Lq, Lk, d, q, k, v, dout, dq, dk, dv);
    if (kind) {
        float sc = 1.0f / sqrtf((float)d);
        if (kind == 4)
            k_attn_bwd2<4><<<(unsigned)B, AT_THREADS, 0, STREAM(be)>>>(
                (const float *)q, (const float *)k, (const float *)v, (const float *)p, (const float *)dout, (int)Lq,
                (int)Lk, d, sc, (float *)dq, (float *)dk, (float *)dv);
        else
            k_attn_bwd2<1><<<(unsigned)B, AT_THREADS, 0, STREAM(be)>>>(
                (const float *)q, (const float *)k, (const float *)v, (const float *)p, (const float *)dout, (int)Lq,
                (int)Lk, d, sc, (float *)dq, (float *)dk, (float *)dv);
        fu_launched(be, "attention backward");
        return;
    }
    k_attn_bwd_q<<<row_blocks(be, B * Lq), 32 * WARPS, 0, STREAM(be)>>>(
        (const float *)k, (const float *)v, (const float *)p, (const float *)dout, B, Lq, Lk, d, 1.0f / sqrtf((float)d),
        (float *)dq, (float *)dp);
    k_attn_bwd_kv<<<row_blocks(be, B * Lk), 32 * WARPS, 0, STREAM(be)>>>(
        (const float *)q, (const float *)p, (const float *)dout, (const float *)dp, B, Lq, Lk, d, (float *)dk,
        (float *)dv);
    fu_launched(be, "attention backward");
}

/* ----------------------------------------------- pooling, embeddings */

static __global__ void k_pool_fwd(const float *x, int64_t B, int64_t L, int64_t d, float *y, int64_t ldy)
{
    GSTRIDE(i, B * d)
    {
        int64_t b = i / d, e = i % d;
        float s = 0;
        for (int64_t t = 0; t < L; t++) s += x[(b * L + t) * d + e];
        y[b * ldy + e] = s * (1.0f / (float)L);
    }
}

static __global__ void k_pool_bwd(const float *dy, int64_t ldy, int64_t B, int64_t L, int64_t d, float *dx)
{
    GSTRIDE(i, B * L * d)
    {
        int64_t b = i / (L * d), e = i % d;
        dx[i] += dy[b * ldy + e] * (1.0f / (float)L);
    }
}

/* v2: (B, L, d4) float4s, dy rows of ldy4 float4s. */
static __global__ void k_pool_bwd4(const float4 *dy, int64_t ldy4, int64_t B, int64_t L, int64_t d4, float4 *dx)
{
    GSTRIDE(i, B * L * d4)
    {
        int64_t b = i / (L * d4), e = i % d4;
        float4 g = dy[b * ldy4 + e], o = dx[i];
        float s = 1.0f / (float)L;
        dx[i] = make_float4(o.x + g.x * s, o.y + g.y * s, o.z + g.z * s, o.w + g.w * s);
    }
}

static void g_pool_fwd(qt_backend_t *be, qt_cfp x, int64_t B, int64_t L, int64_t d, qt_fp y, int64_t ldy)
{
    PROF(be, 0, "pool %lldx%lldx%lld", (long long)B, (long long)L, (long long)d);
    k_pool_fwd<<<grid(be, B * d, 256), 256, 0, STREAM(be)>>>((const float *)x, B, L, d, (float *)y, ldy);
    fu_launched(be, "pool");
}

static void g_pool_bwd(qt_backend_t *be, qt_cfp dy, int64_t ldy, int64_t B, int64_t L, int64_t d, qt_fp dx)
{
    PROF(be, 0, "pool bwd %lldx%lldx%lld", (long long)B, (long long)L, (long long)d);
    if (vec4(d, dx, dy) && ldy % 4 == 0)
        k_pool_bwd4<<<grid(be, B * L * d / 4, 256), 256, 0, STREAM(be)>>>((const float4 *)dy, ldy / 4, B, L, d / 4,
                                                                        (float4 *)dx);
    else k_pool_bwd<<<grid(be, B * L * d, 256), 256, 0, STREAM(be)>>>((const float *)dy, ldy, B, L, d, (float *)dx);
    fu_launched(be, "pool backward");
}

static __global__ void k_embed_fwd(const float *u, int64_t B, int64_t L, int64_t d, const float *e, const float *pos,
                                   float *h)
{
    GSTRIDE(i, B * L * d)
    {
        int64_t ti = i % (L * d);
        h[i] = u[i] + (e[ti % d] + pos[ti]);
    }
}

static void g_embed_fwd(qt_backend_t *be, qt_cfp u, int64_t B, int64_t L, int64_t d, qt_cfp e, qt_cfp pos, qt_fp h)
{
    PROF(be, 0, "embedding %lldx%lldx%lld", (long long)B, (long long)L, (long long)d);
    k_embed_fwd<<<grid(be, B * L * d, 256), 256, 0, STREAM(be)>>>((const float *)u, B, L, d, (const float *)e,
                                                                   (const float *)pos, (float *)h);
    fu_launched(be, "embedding");
}

static __global__ void k_acc(const float *s, float *dst, int64_t n)
{
    GSTRIDE(i, n) dst[i] += s[i];
}

static __global__ void k_add(const float *a, const float *b, float *y, int64_t n)
{
    GSTRIDE(i, n) y[i] = a[i] + b[i];
}

static __global__ void k_acc4(const float4 *s, float4 *dst, int64_t n4)
{
    GSTRIDE(i, n4)
    {
        float4 a = s[i], d = dst[i];
        dst[i] = make_float4(d.x + a.x, d.y + a.y, d.z + a.z, d.w + a.w);
    }
}

static __global__ void k_add4(const float4 *a, const float4 *b, float4 *y, int64_t n4)
{
    GSTRIDE(i, n4)
    {
        float4 u = a[i], v = b[i];
        y[i] = make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w);
    }
}

static void g_acc(qt_backend_t *be, qt_cfp s, qt_fp d, int64_t n)
{
    PROF(be, 0, "accumulate %lld", (long long)n);
    if (vec4(n, s, d)) k_acc4<<<grid(be, n / 4, 256), 256, 0, STREAM(be)>>>((const float4 *)s, (float4 *)d, n / 4);
    else k_acc<<<grid(be, n, 256), 256, 0, STREAM(be)>>>((const float *)s, (float *)d, n);
    fu_launched(be, "accumulate");
}

static void g_add(qt_backend_t *be, qt_cfp a, qt_cfp b, qt_fp y, int64_t n)
{
    PROF(be, 0, "add %lld", (long long)n);
    if (vec4(n, a, b, y))
        k_add4<<<grid(be, n / 4, 256), 256, 0, STREAM(be)>>>((const float4 *)a, (const float4 *)b, (float4 *)y, n / 4);
    else k_add<<<grid(be, n, 256), 256, 0, STREAM(be)>>>((const float *)a, (const float *)b, (float *)y, n);
    fu_launched(be, "add");
}

static void g_embed_bwd(qt_backend_t *be, qt_cfp dhv, int64_t B, int64_t L, int64_t d, qt_fp du, qt_fp de, qt_fp dpos)
{
    const float *dh = (const float *)dhv;
    g_acc(be, dh, du, B * L * d);
    PROF(be, 0, "embedding bwd (column sums) %lldx%lldx%lld", (long long)B, (long long)L, (long long)d);
    colsum<1>(be, col_plain{dh, L * d}, B, L * d, (float *)dpos, NULL); /* Σ over the batch */
    colsum<1>(be, col_plain{dh, d}, B * L, d, (float *)de, NULL);       /* Σ over batch and positions */
}

/* ------------------------------------------------------------ mixing */

/* y[b, j] = Σ_m softmax(s[b·lds + ·])_m x[b·sb + m·sm + j]; g written by j == 0. */
static __global__ void k_mix_fwd(const float *s, int64_t lds, const float *x, int64_t sb, int64_t sm, int64_t B,
                                 int64_t M, int64_t n, float *y, float *g)
{
    GSTRIDE(i, B * n)
    {
        int64_t b = i / n, j = i % n;
        const float *sr = s + b * lds;
        float mx = sr[0], sum = 0, gm[QT_FUSION_MAX_MOD], acc = 0;
        for (int64_t m = 1; m < M; m++) mx = sr[m] > mx ? sr[m] : mx;
        for (int64_t m = 0; m < M; m++) { gm[m] = expf(sr[m] - mx); sum += gm[m]; }
        for (int64_t m = 0; m < M; m++) {
            gm[m] /= sum;
            acc += gm[m] * x[b * sb + m * sm + j];
            if (j == 0) g[b * M + m] = gm[m];
        }
        y[i] = acc;
    }
}

static void g_mix_fwd(qt_backend_t *be, qt_cfp s, int64_t lds, qt_cfp x, int64_t sb, int64_t sm, int64_t B, int64_t M,
                      int64_t n, qt_fp y, qt_fp g)
{
    PROF(be, 0, "mix %lldx%lldx%lld", (long long)B, (long long)M, (long long)n);
    k_mix_fwd<<<grid(be, B * n, 256), 256, 0, STREAM(be)>>>((const float *)s, lds, (const float *)x, sb, sm, B, M, n,
                                                             (float *)y, (float *)g);
    fu_launched(be, "mix");
}

/* dx[b·sb + m·sm + j] += g[b, m] dy[b, j]. */
static __global__ void k_mix_bwd_x(const float *g, const float *dy, int64_t sb, int64_t sm, int64_t B, int64_t M,
                                   int64_t n, float *dx)
{
    GSTRIDE(i, B * M * n)
    {
        int64_t b = i / (M * n), m = (i / n) % M, j = i % n;
        dx[b * sb + m * sm + j] += g[b * M + m] * dy[b * n + j];
    }
}

/* One warp per sample b: c[b, m] = g_m (dg_m − Σ_k g_k dg_k), dg_m = Σ_j dy[b, j] x[b·sb + m·sm + j];
 * added to ds[b·lds + m] (lds > 0) or written to c (lds == 0, summed over b afterwards). */
static __global__ void k_mix_bwd_s(const float *x, const float *g, const float *dy, int64_t sb, int64_t sm, int64_t B,
                                   int64_t M, int64_t n, int64_t lds, float *ds, float *c)
{
    int lane = threadIdx.x & 31;
    for (int64_t b = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5); b < B; b += (int64_t)gridDim.x * WARPS) {
        float dg[QT_FUSION_MAX_MOD], dot = 0;
        for (int64_t m = 0; m < M; m++) {
            float s = 0;
            for (int64_t j = lane; j < n; j += 32) s += dy[b * n + j] * x[b * sb + m * sm + j];
            dg[m] = warp_sum(s);
            dot += dg[m] * g[b * M + m];
        }
        if (lane == 0)
            for (int64_t m = 0; m < M; m++) {
                float v = g[b * M + m] * (dg[m] - dot);
                if (lds) ds[b * lds + m] += v;
                else c[b * M + m] = v;
            }
    }
}

static void g_mix_bwd(qt_backend_t *be, int64_t lds, qt_cfp x, int64_t sb, int64_t sm, int64_t B, int64_t M, int64_t n,
                      qt_cfp g, qt_cfp dy, qt_fp dx, qt_fp ds)
{
    PROF(be, 0, "mix bwd %lldx%lldx%lld", (long long)B, (long long)M, (long long)n);
    k_mix_bwd_x<<<grid(be, B * M * n, 256), 256, 0, STREAM(be)>>>((const float *)g, (const float *)dy, sb, sm, B, M, n,
                                                                   (float *)dx);
    fu_launched(be, "mix backward");
    if (!ds) return;
    float *c = NULL;
    int64_t skip = (B * M + 63) / 64 * 64; /* c first, the column sum's partials after it */
    if (!lds && !(c = fu_scratch(be, (size_t)(skip + colsum_scratch(be, B, M, 1))))) return;
    k_mix_bwd_s<<<row_blocks(be, B), 32 * WARPS, 0, STREAM(be)>>>((const float *)x, (const float *)g,
                                                                  (const float *)dy, sb, sm, B, M, n, lds,
                                                                  (float *)ds, c);
    fu_launched(be, "mix score gradient");
    if (!lds) {
        /* Σ_b c[b, m], in chunks of samples, chunk sums in order */
        colsum<1>(be, col_plain{c, M}, B, M, (float *)ds, NULL, skip);
    }
}

/* ---------------------------------------------------------- cross-entropy */

/* One thread per sample: dz row, the sample's loss (double) and hit into lc[2b], lc[2b+1]. */
static __global__ void k_xent(const float *z, const int32_t *y, int64_t B, int64_t C, float *dz, double *lc)
{
    GSTRIDE(b, B)
    {
        const float *zr = z + b * C;
        int32_t lab = y[b];
        float mx = zr[0], sum = 0;
        int64_t arg = 0;
        for (int64_t c = 1; c < C; c++)
            if (zr[c] > mx) { mx = zr[c]; arg = c; }
        for (int64_t c = 0; c < C; c++) sum += expf(zr[c] - mx);
        int ok = lab >= 0 && lab < C;
        if (lc) {
            lc[2 * b] = ok ? (double)logf(sum) + (double)mx - (double)zr[lab] : (double)NAN;
            lc[2 * b + 1] = ok && arg == lab;
        }
        if (dz)
            for (int64_t c = 0; c < C; c++)
                dz[b * C + c] = ok ? (expf(zr[c] - mx) / sum - (c == lab ? 1.0f : 0.0f)) / (float)B : NAN;
    }
}

/* One block: out[0] = Σ lc[2b], out[1] = Σ lc[2b+1] (fixed order: per-thread strided, then a tree). */
static __global__ void k_xent_sum(const double *lc, int64_t B, double *out)
{
    __shared__ double sh[2][256];
    double l = 0, c = 0;
    for (int64_t b = threadIdx.x; b < B; b += 256) { l += lc[2 * b]; c += lc[2 * b + 1]; }
    sh[0][threadIdx.x] = l;
    sh[1][threadIdx.x] = c;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
        if (threadIdx.x < s) { sh[0][threadIdx.x] += sh[0][threadIdx.x + s]; sh[1][threadIdx.x] += sh[1][threadIdx.x + s]; }
        __syncthreads();
    }
    if (threadIdx.x == 0) { out[0] = sh[0][0]; out[1] = sh[1][0]; }
}

static void g_xent(qt_backend_t *be, qt_cfp z, const int32_t *y, int64_t B, int64_t C, double *loss, int64_t *correct,
                   qt_fp dz)
{
    PROF(be, 0, "xent %lldx%lld", (long long)B, (long long)C);
    int want = loss || correct;
    double *lc = NULL;
    if (want && !(lc = (double *)fu_scratch(be, (size_t)(2 * B + 2) * 2))) return;
    k_xent<<<grid(be, B, 128), 128, 0, STREAM(be)>>>((const float *)z, y, B, C, (float *)dz, lc);
    fu_launched(be, "cross-entropy");
    if (!want) return;
    k_xent_sum<<<1, 256, 0, STREAM(be)>>>(lc, B, lc + 2 * B);
    fu_launched(be, "cross-entropy sum");
    double h[2] = {0, 0};
    cudaError_t e = cudaMemcpyAsync(h, lc + 2 * B, sizeof h, cudaMemcpyDeviceToHost, STREAM(be));
    if (e == cudaSuccess) e = cudaStreamSynchronize(STREAM(be));
    if (e != cudaSuccess) {
        if (fu_err == QT_OK) fu_err = qt_cuda_fail(be, e, "cross-entropy loss to the host");
        return;
    }
    if (loss) *loss = h[0] / (double)B;
    if (correct) *correct = (int64_t)h[1];
}

/* ------------------------------------------------------------ gather */

static __global__ void k_gather4(const uint32_t *src, int64_t row, const int32_t *idx, int64_t n, uint32_t *dst)
{
    GSTRIDE(i, n * row) dst[i] = src[(int64_t)idx[i / row] * row + i % row];
}

static void g_gather(qt_backend_t *be, const void *src, int64_t row_bytes, const int32_t *idx, int64_t n, void *dst)
{
    PROF(be, 0, "gather %lldx%lld", (long long)n, (long long)row_bytes);
    if (row_bytes % 4) { fu_fail(be, QT_ERR_ARG, "gather rows must be a multiple of 4 bytes"); return; }
    int64_t row = row_bytes / 4;
    k_gather4<<<grid(be, n * row, 256), 256, 0, STREAM(be)>>>((const uint32_t *)src, row, idx, n, (uint32_t *)dst);
    fu_launched(be, "gather");
}

static const struct qt_fusion_kernels cuda_kernels = {
    g_linear_fwd, g_linear_bwd, g_gelu_fwd, g_gelu_bwd, g_ln_fwd,  g_ln_bwd,  g_attn_fwd, g_attn_bwd, g_pool_fwd,
    g_pool_bwd,   g_embed_fwd,  g_embed_bwd, g_add,     g_acc,     g_mix_fwd, g_mix_bwd, g_xent,     g_gather,
    k_status,
};

extern "C" const qt_fusion_ops_t qt_fusion_ops_cuda = {QT_F32, &cuda_kernels};
