/* cpu.c — the fast CPU backend of impl/sparse (qt_sparse_ops_cpu, listed by the "cpu"
 * backend of impl/backends/host/host.c; contracts in sparse.h). Every parallel region uses
 * the instance's thread count (be->threads); operands are host tensors.
 *
 * Activations: OpenMP over rows, vectorisable loops; top-k by quickselect under the
 * same total order as ref (so the kept set is identical); the dynamic threshold's
 * training update is the shared one of common.c.
 * Matmul paths (Y = A·W, row-major):
 *   DENSE    cblas_sgemv (M = 1) / cblas_sgemm.
 *   GATHER   A → per-row nonzero lists (AVX-512 compress); threads split N into column
 *            ranges; for each row, y[range] = Σ a_k·W[k, range] with an FMA kernel that
 *            folds 8 rows of W into the output per pass (AVX-512, AVX2+FMA or plain C),
 *            the range cut into pieces of ≤ PIECE floats (16 KiB, in L1).
 *   COLSKIP  flags of the columns nonzero in some row (threads over column blocks), then
 *            pack A[:, kept] and W[kept, :] and one cblas_sgemm (or sgemv) on them.
 *   CSR      the same lists; N cut into register-wide strips (a row's strip of Y in 16
 *            accumulators), K into blocks whose W piece (copied for a range of strips) stays
 *            in L2 while every row of A reuses it; threads over (strip range, row group)
 *            items (see run_csr).
 *   measure  nonzeros and all-zero columns of a set of evenly spaced rows (16-column masks):
 *            what the AUTO dispatcher above the backends (common.c) decides from.
 * BLAS is only called outside OpenMP regions. Run: make test (tests/sparse). */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "internal.h"
#include "quintet/counters.h"
#include "quintet/tensor.h"

#define PIECE 4096              /* floats of one output row piece in the gather kernel (16 KiB: with
                                 * N <= 4096 each row of W is one 16 KiB stream, not two 8 KiB ones
                                 * started apart; 2-core VM, M=1 K=16384 N=4096, 1 thread, cold W:
                                 * 1.10 vs 1.24 ms at 90%, 0.46 vs 0.58 ms at 95%) */
#define PAR_MIN 32768           /* element-wise work below this runs on one thread */
#define SCAN_PAR_MIN (1 << 20)  /* scans of A (nonzero lists, column flags) below this: one thread */

/* ---------------------------------------------------------------- activations ---- */

/* Quickselect: reorder e[0..n) so that e[0..k) are the k first under the top-k order. */
typedef struct {
    float v;
    int64_t i;
} entry_t;

/* Swap two entries. */
static inline void swap_e(entry_t *a, entry_t *b)
{
    entry_t t = *a;
    *a = *b;
    *b = t;
}

/* Hoare-style selection with a middle pivot (deterministic). */
static void select_topk(entry_t *e, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        swap_e(&e[(lo + hi) / 2], &e[hi]);
        entry_t p = e[hi];
        int64_t s = lo;
        for (int64_t j = lo; j < hi; j++)
            if (qt_sparse_topk_before(e[j].v, e[j].i, p.v, p.i)) swap_e(&e[s++], &e[j]);
        swap_e(&e[s], &e[hi]);
        if (s == k - 1 || s == k) return; /* e[0..k) holds the k first either way */
        if (s < k) lo = s + 1;
        else hi = s - 1;
    }
}

/* Top-k of each row, rows in parallel with one scratch row per thread. */
static qt_status_t topk_forward(int threads, int k, const float *x, float *y, int64_t rows, int64_t cols)
{
    int T = rows * cols >= PAR_MIN ? threads : 1;
    entry_t *scratch = qt_alloc((size_t)T * (size_t)cols * sizeof *scratch);
    if (!scratch) return qt_fail(QT_ERR_NOMEM, "top-k: no memory for %d rows of %lld", T, (long long)cols);
#pragma omp parallel for num_threads(T) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        entry_t *e = scratch + (size_t)omp_get_thread_num() * (size_t)cols;
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        for (int64_t c = 0; c < cols; c++) e[c] = (entry_t){xr[c], c};
        select_topk(e, cols, k);
        for (int64_t c = 0; c < cols; c++) yr[c] = 0.0f;
        for (int64_t j = 0; j < k; j++) yr[e[j].i] = e[j].v;
    }
    qt_free(scratch);
    return QT_OK;
}

/* Forward of every activation kind; counts the nonzeros produced. */
static qt_status_t cpu_act_forward(qt_backend_t *be, const qt_act_t *act, const qt_tensor_t *xt, qt_tensor_t *yt)
{
    const float *x = xt->data;
    float *y = yt->data;
    const int64_t rows = xt->shape[0], cols = xt->shape[1];
    int64_t n = rows * cols, nnz = 0;
    int T = n >= PAR_MIN ? be->threads : 1;
    switch (act->kind) {
    case QT_ACT_RELU:
    case QT_ACT_SHIFTED_RELU: {
        const float b = act->kind == QT_ACT_RELU ? 0.0f : act->shift;
#pragma omp parallel for simd num_threads(T) schedule(static) reduction(+ : nnz)
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] > b ? x[i] - b : 0.0f;
            y[i] = v;
            nnz += v != 0.0f;
        }
        break;
    }
    case QT_ACT_DTHRESH: {
        if (act->training) QT_TRY(qt_sparse_dthresh_update(act->dt, x, rows, cols));
        const float *theta = act->dt->theta.data;
#pragma omp parallel for num_threads(T) schedule(static) reduction(+ : nnz)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * cols;
            float *yr = y + r * cols;
            int64_t c_nnz = 0;
#pragma omp simd reduction(+ : c_nnz)
            for (int64_t c = 0; c < cols; c++) {
                float v = xr[c] > theta[c] ? xr[c] : 0.0f;
                yr[c] = v;
                c_nnz += v != 0.0f;
            }
            nnz += c_nnz;
        }
        break;
    }
    case QT_ACT_TOPK:
        QT_TRY(topk_forward(be->threads, act->k, x, y, rows, cols));
        for (int64_t i = 0; i < n; i++) nnz += y[i] != 0.0f;
        break;
    default: return qt_fail(QT_ERR_ARG, "unknown activation kind %d", (int)act->kind);
    }
    qt_counter_add(QT_CTR_NONZEROS, nnz);
    return QT_OK;
}

/* dx = dy where y != 0. */
static qt_status_t cpu_act_backward(qt_backend_t *be, const qt_tensor_t *yt, const qt_tensor_t *dyt, qt_tensor_t *dxt)
{
    const float *y = yt->data, *dy = dyt->data;
    float *dx = dxt->data;
    const int64_t n = qt_tensor_numel(yt);
    int T = n >= PAR_MIN ? be->threads : 1;
#pragma omp parallel for simd num_threads(T) schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] != 0.0f ? dy[i] : 0.0f;
    return QT_OK;
}

/* ---------------------------------------------------------------- kernels ---- */

#if defined(__AVX512F__)
#define VW 16
typedef __m512 vf_t;
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VSET1(a) _mm512_set1_ps(a)
#elif defined(__AVX2__) && defined(__FMA__)
#define VW 8
typedef __m256 vf_t;
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VSET1(a) _mm256_set1_ps(a)
#endif

/* y[0..len) += Σ_{j<g} a[j]·w[j][0..len) for g ≤ 8 rows (fused multiply-adds in row order). */
static inline void fold_rows(float *restrict y, const float *const *w, const float *a, int g, int64_t len)
{
    int64_t n = 0;
#ifdef VW
    if (g == 8) {
        const vf_t a0 = VSET1(a[0]), a1 = VSET1(a[1]), a2 = VSET1(a[2]), a3 = VSET1(a[3]);
        const vf_t a4 = VSET1(a[4]), a5 = VSET1(a[5]), a6 = VSET1(a[6]), a7 = VSET1(a[7]);
        const float *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3], *w4 = w[4], *w5 = w[5], *w6 = w[6], *w7 = w[7];
        for (; n + VW <= len; n += VW) {
            vf_t acc = VLOAD(y + n);
            acc = VFMA(a0, VLOAD(w0 + n), acc);
            acc = VFMA(a1, VLOAD(w1 + n), acc);
            acc = VFMA(a2, VLOAD(w2 + n), acc);
            acc = VFMA(a3, VLOAD(w3 + n), acc);
            acc = VFMA(a4, VLOAD(w4 + n), acc);
            acc = VFMA(a5, VLOAD(w5 + n), acc);
            acc = VFMA(a6, VLOAD(w6 + n), acc);
            acc = VFMA(a7, VLOAD(w7 + n), acc);
            VSTORE(y + n, acc);
        }
    } else {
        for (; n + VW <= len; n += VW) {
            vf_t acc = VLOAD(y + n);
            for (int j = 0; j < g; j++) acc = VFMA(VSET1(a[j]), VLOAD(w[j] + n), acc);
            VSTORE(y + n, acc);
        }
    }
#endif
    for (; n < len; n++) {
        float acc = y[n];
        for (int j = 0; j < g; j++) acc = fmaf(a[j], w[j][n], acc);
        y[n] = acc;
    }
}

/* y[0..len) = Σ_j val[j]·W[idx[j]·ldw + 0..len), 8 rows of W per pass. */
static void gather_row(float *restrict y, const float *W, int64_t ldw, const int32_t *idx, const float *val,
                       int64_t nnz, int64_t len)
{
    memset(y, 0, (size_t)len * sizeof *y);
    const float *w[8];
    for (int64_t j = 0; j < nnz; j += 8) {
        int g = nnz - j < 8 ? (int)(nnz - j) : 8;
        for (int i = 0; i < g; i++) w[i] = W + (int64_t)idx[j + i] * ldw;
        fold_rows(y, w, val + j, g, len);
    }
}

/* Nonzeros of a[0..K). */
static int64_t count_nz(const float *a, int64_t K)
{
    int64_t c = 0;
#pragma omp simd reduction(+ : c)
    for (int64_t k = 0; k < K; k++) c += a[k] != 0.0f;
    return c;
}

/* Write the nonzeros of a[0..K) (columns and values) to idx/val, exactly nnz entries each
 * (compress in registers, then a masked store: Zen 4's compress-to-memory is slow). */
static void fill_nz(const float *a, int64_t K, int32_t *idx, float *val)
{
    int64_t k = 0, pos = 0;
#if defined(__AVX512F__)
    const __m512 zero = _mm512_setzero_ps();
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; k + 16 <= K; k += 16) {
        __m512 v = _mm512_loadu_ps(a + k);
        __mmask16 m = _mm512_cmp_ps_mask(v, zero, _CMP_NEQ_UQ);
        if (!m) continue;
        int cnt = __builtin_popcount((unsigned)m);
        __mmask16 low = (__mmask16)((1u << cnt) - 1u); /* store only the compressed lanes: rows are filled in parallel */
        _mm512_mask_storeu_ps(val + pos, low, _mm512_maskz_compress_ps(m, v));
        __m512i ix = _mm512_add_epi32(_mm512_set1_epi32((int)k), iota);
        _mm512_mask_storeu_epi32(idx + pos, low, _mm512_maskz_compress_epi32(m, ix));
        pos += cnt;
    }
#endif
    for (; k < K; k++)
        if (a[k] != 0.0f) {
            idx[pos] = (int32_t)k;
            val[pos++] = a[k];
        }
}

/* ---------------------------------------------------------------- calls ---- */

/* One matmul as the paths see it (from the tensors of a checked call). */
typedef struct {
    const float *A, *W;
    float *Y;
    int64_t M, K, N;
    qt_backend_t *be;
    int threads; /* be->threads */
    qt_spmm_ws_t *ws;
    qt_spmm_info_t *info;
} call_t;

/* Per-row nonzero lists of A (CSR without a stored shape). */
typedef struct {
    int64_t *rowptr; /* (M+1) */
    int32_t *idx;
    float *val;
    int64_t nnz;
    void *extra; /* csr_build's `extra` bytes of workspace after the lists (64-byte aligned) */
    void *owned_ptr, *owned_data;
    size_t data_bytes;
} csr_t;

/* Build the lists: counts in parallel, prefix sum, fill in parallel; `extra` more bytes of the
 * same workspace block at s->extra. */
static qt_status_t csr_build(const call_t *c, csr_t *s, size_t extra)
{
    const int64_t M = c->M, K = c->K;
    memset(s, 0, sizeof *s);
    s->rowptr = s->owned_ptr = qt_alloc((size_t)(M + 1) * sizeof(int64_t));
    if (!s->rowptr) return qt_fail(QT_ERR_NOMEM, "csr: no memory for %lld row pointers", (long long)M);
    int T = M * K >= SCAN_PAR_MIN ? c->threads : 1;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int64_t m = 0; m < M; m++) s->rowptr[m + 1] = count_nz(c->A + m * K, K);
    s->rowptr[0] = 0;
    for (int64_t m = 0; m < M; m++) s->rowptr[m + 1] += s->rowptr[m];
    s->nnz = s->rowptr[M];
    size_t cap = (size_t)(s->nnz + 16);
    const size_t lists = (cap * (sizeof(int32_t) + sizeof(float)) + 64 + 63) / 64 * 64 + 64;
    s->data_bytes = lists + extra;
    char *buf = qt_sparse_ws_get(c->be, c->ws, s->data_bytes, &s->owned_data);
    if (!buf) {
        qt_free(s->owned_ptr);
        return qt_fail(QT_ERR_NOMEM, "csr: no memory for %lld nonzeros", (long long)s->nnz);
    }
    s->val = (float *)buf;
    s->idx = (int32_t *)(buf + (cap * sizeof(float) + 63) / 64 * 64);
    s->extra = buf + lists;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int64_t m = 0; m < M; m++) fill_nz(c->A + m * K, K, s->idx + s->rowptr[m], s->val + s->rowptr[m]);
    return QT_OK;
}

/* Release what csr_build allocated. */
static void csr_free(const call_t *c, csr_t *s)
{
    qt_free(s->owned_ptr);
    qt_sparse_ws_release(c->be, s->owned_data, s->data_bytes);
}

/* ---------------------------------------------------------------- paths ---- */

/* DENSE: OpenBLAS. */
static void run_dense(const float *A, const float *W, float *Y, int64_t M, int64_t K, int64_t N, int64_t lda)
{
    if (M == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, 1.0f, W, (int)N, A, 1, 0.0f, Y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, W, (int)N,
                    0.0f, Y, (int)N);
}

/* GATHER on built lists s (freed here): threads split N; each row of A gathers its nonzero
 * rows of W. */
static qt_status_t gather_lists(const call_t *c, csr_t s)
{
    const int64_t M = c->M, N = c->N;
    int T = c->threads;
    int64_t units = (N + 15) / 16; /* 16-float units so threads never share a cache line of Y */
    if (T > units) T = (int)units;
    if ((double)s.nnz * (double)N < 65536.0) T = 1;
#pragma omp parallel num_threads(T)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t n0 = units * t / nt * 16, n1 = units * (t + 1) / nt * 16;
        if (n1 > N) n1 = N;
        for (int64_t m = 0; m < M; m++) {
            const int64_t b = s.rowptr[m], e = s.rowptr[m + 1];
            for (int64_t p = n0; p < n1; p += PIECE) {
                int64_t len = n1 - p < PIECE ? n1 - p : PIECE;
                gather_row(c->Y + m * N + p, c->W + p, N, s.idx + b, s.val + b, e - b, len);
            }
        }
    }
    if (c->info) *c->info = (qt_spmm_info_t){QT_SPMM_GATHER, s.nnz, -1};
    qt_sparse_count_matmul((double)s.nnz * N, ((double)M * c->K - s.nnz) * N, s.nnz);
    csr_free(c, &s);
    return QT_OK;
}

/* GATHER: the lists, then gather_lists. */
static qt_status_t run_gather(const call_t *c)
{
    csr_t s;
    QT_TRY(csr_build(c, &s, 0));
    return gather_lists(c, s);
}

/* CSR: register-blocked strips. N is cut into strips of STRIP columns (NACC accumulators: a
 * row's strip of Y stays in registers); each work item owns a range of consecutive strips (up
 * to RANGE_MAX) and a group of rows of A, and walks K in blocks. Per (k block, strip, row):
 * acc = the row's Y strip (zero in the first block); acc += a_k·W[k, strip] over the row's
 * nonzeros in the block; store. When most rows of W are touched (estimated from the density
 * and the rows per item), each k block of the range, rows k0..k0+kb of W over the range's
 * columns, is first copied into a per-thread buffer of at most PACK_FLOATS (512 KiB, in the
 * call's workspace), strip after strip ([strip][k][STRIP]): the block then stays in L2 while
 * every row of A with nonzeros in it reuses its W rows (batch 64 at 90%: each W row piece
 * serves ~6 rows of A from L2 instead of coming again from L3 or memory), and the copy reads
 * W in pieces as long as the range (up to 16 KiB), not a strip's 1 KiB pieces 4N bytes apart
 * (every piece on another page; 2-core VM, K = N = 4096, the whole of W copied by one thread:
 * 3.3 ms in 16 KiB pieces against 5.5 in 1 KiB pieces).
 * In place (no copy), with N a power of two, the pieces of one strip would fall into 1/8 of
 * the L2's sets (N = 4096: 128 of 2048 sets) and not stay there. The block height kb =
 * PACK_FLOATS / range width (32 rows at 4096 columns, 512 at one strip: one thread per strip,
 * 16 threads at N = 4096, as before; 1024 was 3% slower on the VM) keeps the reload of
 * the Y strips (once per block) small against the block's multiply-adds.
 * One range of whole rows (one thread, N ≤ RANGE_MAX·STRIP) copies nothing: its k block,
 * INPLACE_BYTES of consecutive rows, is one contiguous run of W, read in place, and the next
 * block's lines are prefetched toward L2 (prefetcht1) evenly over this block's strip-rows, so
 * that the stream from memory overlaps the multiply-adds instead of preceding them (2-core VM,
 * M=64 K=N=4096, 1 thread, thread CPU time, both in one process: 9.35 vs 10.6 ms at 90%,
 * 6.3-6.7 vs 8.4-9.2 ms at 95%).
 * Items: ranges of ⌈strips / threads⌉ strips (≤ RANGE_MAX) with all rows when there are at
 * least as many strips as threads, else one strip each with the rows split so that every
 * thread has work. A strip narrower than STRIP (the tail of N; every strip without AVX) goes
 * through gather_row. When fewer than 1.5 rows of a group share a touched row of W on average
 * (batch 1; very sparse small batches) there is nothing to reuse and the call runs the GATHER
 * schedule, whose long row pieces stream W from memory faster than 1 KiB strip pieces (2-core
 * VM, M=1 K=16384 N=4096: 2.2x). */
#define PACK_FLOATS 131072 /* floats of a thread's packed W block (512 KiB) */
#define RANGE_MAX 16       /* strips of one work item at most (a range's row of W: ≤ 16 KiB) */
#define INPLACE_BYTES (2 << 20) /* bytes of a k block of whole rows read in place (N = 4096: 128 rows) */
#ifdef VW
#define NACC (VW == 16 ? 16 : 12) /* accumulators per strip (AVX2: 12 of 16 ymm) */
#define STRIP (NACC * VW)         /* columns of one strip (256 with AVX-512) */
#define KBLK (131072 / STRIP)     /* rows of a k block when W is read in place */

/* acc (NACC vectors) += Σ_j val[j]·w[(idx[j] − koff)·ldw + 0..STRIP) (fused multiply-adds in
 * row order). */
static inline void strip_fma(vf_t *acc, const float *w, int64_t ldw, int64_t koff, const int32_t *idx,
                             const float *val, int64_t n)
{
    vf_t r[NACC];
    for (int v = 0; v < NACC; v++) r[v] = acc[v];
    for (int64_t j = 0; j < n; j++) {
        const vf_t a = VSET1(val[j]);
        const float *wr = w + ((int64_t)idx[j] - koff) * ldw;
        for (int v = 0; v < NACC; v++) r[v] = VFMA(a, VLOAD(wr + v * VW), r[v]);
    }
    for (int v = 0; v < NACC; v++) acc[v] = r[v];
}
#else
#define STRIP PIECE
#define KBLK (1 << 30)
#endif

/* Rows m0..m1-1 of strips s0..s1-1 (the last may be the narrower tail of N); cur: 2·M
 * cursors (each row's first nonzero of the block, and its end); pk: NULL (W in place, k blocks
 * of kb rows; pf: prefetch each next block into L2 while the rows work on this one: only
 * for a range of whole rows, where a block is one contiguous run of W), or PACK_FLOATS
 * floats to pack each k block into (kb from the range width). */
static void csr_range(const call_t *c, const csr_t *s, int64_t s0, int64_t s1, int64_t m0, int64_t m1, float *pk,
                      int64_t kb, int pf, int64_t *cur)
{
    const int64_t N = c->N, K = c->K;
    int64_t full = s1 - s0; /* strips of STRIP columns; the tail strip after them */
    if (s1 * STRIP > N) full--;
#ifdef VW
    if (full > 0) {
        int64_t *end = cur + c->M;
        const int64_t n0 = s0 * STRIP, width = full * STRIP;
        if (pk) kb = PACK_FLOATS / width;
        if (kb < 1) kb = 1; /* not reached: width ≤ RANGE_MAX·STRIP ≤ PACK_FLOATS */
        for (int64_t m = m0; m < m1; m++) cur[m] = s->rowptr[m];
        for (int64_t k0 = 0; k0 < K; k0 += kb) {
            const int64_t kend = K - k0 < kb ? K : k0 + kb, rows = kend - k0;
            if (pk)
                for (int64_t r = 0; r < rows; r++) {
                    const float *src = c->W + (k0 + r) * N + n0;
                    for (int64_t q = 0; q < full; q++)
                        for (int v = 0; v < NACC; v++)
                            VSTORE(pk + (q * rows + r) * STRIP + v * VW, VLOAD(src + q * STRIP + v * VW));
                }
            for (int64_t m = m0; m < m1; m++) {
                int64_t j = cur[m];
                while (j < s->rowptr[m + 1] && s->idx[j] < kend) j++;
                end[m] = j;
            }
            /* the next block's cache lines (rows kend.. of W: contiguous), spread evenly over
             * this block's strip-rows so the loads toward L2 overlap the multiply-adds */
            const char *next = (const char *)(c->W + kend * N);
            const int64_t lines = pf && kend < K ? ((K - kend < kb ? K - kend : kb) * N * 4 + 63) / 64 : 0;
            const int64_t steps = full * (m1 - m0);
            int64_t issued = 0, step = 0;
            for (int64_t q = 0; q < full; q++) {
                const float *w = pk ? pk + q * rows * STRIP : c->W + n0 + q * STRIP;
                const int64_t ldw = pk ? STRIP : N, koff = pk ? k0 : 0;
                for (int64_t m = m0; m < m1; m++) {
                    vf_t acc[NACC];
                    float *y = c->Y + m * N + n0 + q * STRIP;
                    for (int v = 0; v < NACC; v++) acc[v] = k0 == 0 ? VSET1(0.0f) : VLOAD(y + v * VW);
                    strip_fma(acc, w, ldw, koff, s->idx + cur[m], s->val + cur[m], end[m] - cur[m]);
                    for (int v = 0; v < NACC; v++) VSTORE(y + v * VW, acc[v]);
                    for (const int64_t to = lines * ++step / steps; issued < to; issued++)
                        _mm_prefetch(next + issued * 64, _MM_HINT_T1);
                }
            }
            for (int64_t m = m0; m < m1; m++) cur[m] = end[m];
        }
    }
#else
    (void)pk;
    (void)kb;
    (void)pf;
    (void)cur;
    (void)K;
    full = 0; /* no strip kernel: every strip through gather_row */
#endif
    for (int64_t st = s0 + full; st < s1; st++) {
        const int64_t n0 = st * STRIP, len = N - n0 < STRIP ? N - n0 : STRIP;
        for (int64_t m = m0; m < m1; m++) {
            const int64_t b = s->rowptr[m], e = s->rowptr[m + 1];
            gather_row(c->Y + m * N + n0, c->W + n0, N, s->idx + b, s->val + b, e - b, len);
        }
    }
}

static qt_status_t run_csr(const call_t *c)
{
    csr_t s;
    const int64_t M = c->M, N = c->N, K = c->K, nstrip = (N + STRIP - 1) / STRIP;
    int T = c->threads;
    /* items: ranges of strips × row groups */
    int64_t ranges = nstrip >= T ? (nstrip + RANGE_MAX - 1) / RANGE_MAX : nstrip;
    if (nstrip >= T && ranges < T) ranges = T;
    int64_t groups = nstrip >= T ? 1 : (2 * T + nstrip - 1) / nstrip; /* row groups per strip */
    if (groups > M) groups = M;
#ifdef VW
    const int64_t wmax = (nstrip + ranges - 1) / ranges * STRIP; /* widest range's columns */
    const size_t pack_floats = N >= STRIP ? (size_t)(K * wmax < PACK_FLOATS ? K * wmax : PACK_FLOATS) : 0;
#else
    const size_t pack_floats = 0; /* no strip kernel: nothing to pack */
#endif
    /* the pack buffers, one per thread, unless M is too small for any reuse (batch 1) */
    const size_t extra = M >= 2 ? (size_t)T * pack_floats * sizeof(float) : 0;
    QT_TRY(csr_build(c, &s, extra));
    if ((double)s.nnz * (double)N < 65536.0) T = 1;
    const int64_t items = ranges * groups;
    if (T > items) T = (int)items;
    /* rows of W some row of a group touches ≈ 1 − (1 − density)^(rows per group); the rows of a
     * group that use one touched row of W (the reuse the strips exist for): density·rows / that */
    const double dens = (double)s.nnz / ((double)M * K), g_rows = (double)M / groups;
    const double touched = 1.0 - pow(1.0 - dens, g_rows), reuse = touched > 0 ? dens * g_rows / touched : 0;
    if (reuse < 1.5) { /* (almost) no reuse: the gather schedule's long row pieces stream W better */
        QT_TRY(gather_lists(c, s));
        if (c->info) c->info->path = QT_SPMM_CSR;
        return QT_OK;
    }
    /* most rows of W touched: one range of whole rows reads W in place, its k blocks (contiguous,
     * INPLACE_BYTES) prefetched one ahead; narrower ranges copy theirs (PACK_FLOATS) */
    const int dense_use = touched > 0.7, whole = ranges == 1;
    const int pack = dense_use && !whole && extra > 0;
    int64_t kb = KBLK;
    if (dense_use && whole) {
        kb = INPLACE_BYTES / (N * (int64_t)sizeof(float));
        if (kb < 8) kb = 8;
    }
    int64_t *cur = qt_alloc((size_t)T * 2 * (size_t)M * sizeof(int64_t)); /* per thread: 2 cursors per row */
    if (!cur) {
        csr_free(c, &s);
        return qt_fail(QT_ERR_NOMEM, "csr: no memory for %d x %lld row cursors", T, 2 * (long long)M);
    }
#pragma omp parallel for num_threads(T) schedule(dynamic, 1)
    for (int64_t it = 0; it < items; it++) {
        const int64_t r = it / groups, g = it % groups;
        csr_range(c, &s, nstrip * r / ranges, nstrip * (r + 1) / ranges, M * g / groups, M * (g + 1) / groups,
                  pack ? (float *)s.extra + (size_t)omp_get_thread_num() * pack_floats : NULL, kb,
                  dense_use && whole, cur + (size_t)omp_get_thread_num() * 2 * (size_t)M);
    }
    qt_free(cur);
    if (c->info) *c->info = (qt_spmm_info_t){QT_SPMM_CSR, s.nnz, -1};
    qt_sparse_count_matmul((double)s.nnz * N, ((double)M * K - s.nnz) * N, s.nnz);
    csr_free(c, &s);
    return QT_OK;
}

/* Nonzero mask of a[k..k+16) (fewer at the tail: bits past K are 0). */
static inline unsigned nz_mask16(const float *a, int64_t k, int64_t K)
{
#if defined(__AVX512F__)
    __mmask16 live = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1u);
    __m512 v = _mm512_maskz_loadu_ps(live, a + k);
    return (unsigned)(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ) & live);
#else
    unsigned m = 0;
    for (int64_t j = 0; j < 16 && k + j < K; j++) m |= (unsigned)(a[k + j] != 0.0f) << j;
    return m;
#endif
}

/* Flag the nonzero columns of row a in words [w0, w1) of colbits (bit k%16 of word k/16)
 * and return the row's nonzeros in that range. */
static int64_t scan_row(const float *a, int64_t K, int64_t w0, int64_t w1, uint16_t *colbits)
{
    int64_t c = 0;
    for (int64_t w = w0; w < w1; w++) {
        unsigned mk = nz_mask16(a, w * 16, K);
        colbits[w] |= (uint16_t)mk;
        c += __builtin_popcount(mk);
    }
    return c;
}

/* Column flags of all of A (colbits zeroed here) and its nonzero count. Threads split the
 * columns in whole words, so no two write one word. */
static int64_t scan_a(int threads, const float *A, int64_t M, int64_t K, uint16_t *colbits)
{
    const int64_t words = (K + 15) / 16;
    int T = M * K >= SCAN_PAR_MIN ? threads : 1;
    if (T > words) T = (int)words;
    int64_t nnz = 0;
#pragma omp parallel num_threads(T) if (T > 1) reduction(+ : nnz)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t w0 = words * t / nt, w1 = words * (t + 1) / nt;
        memset(colbits + w0, 0, (size_t)(w1 - w0) * sizeof *colbits);
        for (int64_t m = 0; m < M; m++) nnz += scan_row(A + m * K, K, w0, w1, colbits);
    }
    return nnz;
}

/* COLSKIP: pack the columns of A nonzero somewhere and the matching rows of W, one GEMM. */
static qt_status_t run_colskip(const call_t *c)
{
    const int64_t M = c->M, K = c->K, N = c->N;
    uint16_t *colbits = qt_alloc((size_t)((K + 15) / 16) * sizeof *colbits);
    int32_t *kept = qt_alloc((size_t)K * sizeof *kept);
    if (!colbits || !kept) {
        qt_free(colbits);
        qt_free(kept);
        return qt_fail(QT_ERR_NOMEM, "colskip: no memory for %lld column flags and indices", (long long)K);
    }
    const int64_t nnz = scan_a(c->threads, c->A, M, K, colbits);
    int64_t Kc = 0;
    for (int64_t k = 0; k < K; k++)
        if (colbits[k >> 4] >> (k & 15) & 1) kept[Kc++] = (int32_t)k;
    qt_free(colbits);
    qt_status_t st = QT_OK;
    if (Kc == 0) {
        memset(c->Y, 0, (size_t)(M * N) * sizeof(float));
    } else if (Kc == K) {
        run_dense(c->A, c->W, c->Y, M, K, N, K);
    } else {
        void *owned;
        size_t abytes = ((size_t)(M * Kc) * sizeof(float) + 63) / 64 * 64, bytes = abytes + (size_t)(Kc * N) * sizeof(float);
        char *buf = qt_sparse_ws_get(c->be, c->ws, bytes, &owned);
        if (!buf) {
            st = qt_fail(QT_ERR_NOMEM, "colskip: no memory for the packed %lldx%lld operands", (long long)Kc,
                         (long long)N);
        } else {
            float *Ac = (float *)buf, *Wc = (float *)(buf + abytes);
            int T = (M + N) * Kc >= PAR_MIN ? c->threads : 1;
#pragma omp parallel num_threads(T)
            {
#pragma omp for schedule(static) nowait
                for (int64_t m = 0; m < M; m++)
                    for (int64_t j = 0; j < Kc; j++) Ac[m * Kc + j] = c->A[m * K + kept[j]];
#pragma omp for schedule(static)
                for (int64_t j = 0; j < Kc; j++) memcpy(Wc + j * N, c->W + (int64_t)kept[j] * N, (size_t)N * sizeof(float));
            }
            run_dense(Ac, Wc, c->Y, M, Kc, N, Kc);
            qt_sparse_ws_release(c->be, owned, bytes);
        }
    }
    if (st == QT_OK) {
        if (c->info) *c->info = (qt_spmm_info_t){QT_SPMM_COLSKIP, nnz, K - Kc};
        qt_sparse_count_matmul((double)M * Kc * N, (double)M * (K - Kc) * N, nnz);
    }
    qt_free(kept);
    return st;
}

/* ---------------------------------------------------------------- ops ---- */

/* Nonzeros and all-zero columns of rows ⌊(2i+1)·M/(2r)⌋, i < r: 16-column masks, one thread
 * for a sample (the dispatcher's path: no allocation for K ≤ 32768), the threads of scan_a
 * over the whole of A. */
static qt_status_t cpu_measure(qt_backend_t *be, const qt_tensor_t *At, int64_t r, int64_t *nnz, int64_t *zero_cols)
{
    const float *A = At->data;
    const int64_t M = At->shape[0], K = At->shape[1], words = (K + 15) / 16;
    uint16_t stack_bits[2048];
    uint16_t *colbits = words <= 2048 ? memset(stack_bits, 0, (size_t)words * sizeof *colbits)
                                      : qt_calloc((size_t)words * sizeof *colbits);
    if (!colbits) return qt_backend_fail(be, QT_ERR_NOMEM, "cpu measure: no memory for %lld column flags", (long long)K);
    int64_t nz = 0;
    if (r == M) nz = scan_a(be->threads, A, M, K, colbits);
    else
        for (int64_t i = 0; i < r; i++) nz += scan_row(A + ((2 * i + 1) * M / (2 * r)) * K, K, 0, words, colbits);
    int64_t zc = K;
    for (int64_t w = 0; w < words; w++) zc -= __builtin_popcount(colbits[w]);
    if (colbits != stack_bits) qt_free(colbits);
    *nnz = nz;
    *zero_cols = zc;
    return QT_OK;
}

/* Every fixed path, in f32. */
static int cpu_supports(const qt_backend_t *be, qt_spmm_path_t p, qt_dtype_t dt)
{
    (void)be;
    return (unsigned)p < QT_SPMM_AUTO && dt == QT_F32;
}

/* Run one fixed path (AUTO is resolved above the backends, in common.c). */
static qt_status_t cpu_matmul(qt_backend_t *be, qt_spmm_path_t p, const qt_tensor_t *A, const qt_tensor_t *W,
                              qt_tensor_t *Y, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    const call_t c = {A->data, W->data, Y->data, A->shape[0], A->shape[1], W->shape[1], be, be->threads, ws, info};
    switch (p) {
    case QT_SPMM_DENSE:
        run_dense(c.A, c.W, c.Y, c.M, c.K, c.N, c.K);
        if (info) *info = (qt_spmm_info_t){QT_SPMM_DENSE, -1, -1};
        qt_sparse_count_matmul((double)c.M * c.K * c.N, 0, -1);
        return QT_OK;
    case QT_SPMM_GATHER: return run_gather(&c);
    case QT_SPMM_CSR: return run_csr(&c);
    case QT_SPMM_COLSKIP: return run_colskip(&c);
    default: return qt_backend_fail(be, QT_ERR_ARG, "cpu matmul: path %s is not a backend path", qt_spmm_path_name(p));
    }
}

const qt_sparse_ops_t qt_sparse_ops_cpu = {cpu_supports, cpu_act_forward, cpu_act_backward, cpu_matmul, cpu_measure};
