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
 *   CSR      the same lists; N cut into register-wide strips (a row's strip of Y in 8 or
 *            16 accumulators) grouped in column ranges, K into blocks whose W piece is copied
 *            per strip into a buffer in L2 that every row of A then reuses, the range's Y
 *            staying in L2 over all of K (or, one thread, whole rows of W read in place);
 *            threads over (column range, row group) items; or by columns of A (CSC: each
 *            strip of W read once into registers, the rows' Y tile in L1); the schedule
 *            chosen by timed trials on the machine (see run_csr).
 *   measure  nonzeros and all-zero columns of a set of evenly spaced rows (16-column masks):
 *            what the AUTO dispatcher above the backends (common.c) decides from.
 * BLAS is only called outside OpenMP regions.
 * Against PyTorch 2.11 (issue 18; H200 host's Xeon, ci/h200-cpu-peers.sh, session 8, 3 alternating
 * rounds, one thread on core 2, /work/.device/8): M=1 K=16384 N=4096 at 90%, auto 1.47 ms against
 * torch CSR 2.89 ms (1.98x; sessions 6-7: 1.80 against 4.34); at 95% 0.75 against 1.39 (1.79x);
 * M=64 K=N=4096 2.78x / 2.47x. The M=1 gather streams W's touched rows at ~18 GB/s, near one
 * core's DRAM rate there (~22 GB/s, the one-thread SGD step): 2x this PyTorch needs 18.6 GB/s at
 * 90% and 19.3 at 95%. 16 threads (/work/.device/7): 2.55-16.3x, quintet's dense / auto 16.8 at
 * M=1 90%.
 * Session 9 (/work/.device/1 and /2; third_party/stage/s9: gather_ab.c and run1.sh, run2.sh): the
 * M=1 gather is at one core's read ceiling. gather_ab times, interleaved in one process on core 2,
 * the fold-8 loop of fold_rows against a read of the same rows into registers (no y, no FMAs) and a
 * contiguous read of as many bytes: medians over 21 repetitions in 8 runs, the loop ran at 0.94-0.98
 * of the faster of the two reads at 90% (17.4-23.3 GB/s against 18.4-23.7) and 0.97-1.01 at 95%
 * (18.4-23.2 against 19.1-23.2). Variants that did not gain (fold8's time over theirs, 8 runs): the
 * next 4 KiB page of each of the 8 rows started early by software prefetch (T0 or T1, 4 or 8 lines:
 * 0.96-1.02; W's rows are 16 KiB apart, so the 8 streams cross pages together, which the idea
 * targeted), the 8 rows skewed by 512 B so their page crossings spread (0.95-1.00), 4 rows per
 * pass (0.95-1.03). In the second call PyTorch's CSR took 1.24 ms at 95% (3 rounds against
 * `quintet run`), so 2x needs 0.62 ms = 21.6 GB/s, the core's measured read rate (20.9-23.2 GB/s in
 * that call): the one-thread M=1 target holds only while PyTorch's CSR runs below half of what one
 * core reads. Rounds, /2: M=1 2.20 (1.86-2.23) at 90%,
 * 1.87 (1.84-2.27) at 95%; M=64 3.31 / 2.60; 16 threads 2.29-13.8, quintet's dense / auto 10.9 at
 * M=1 90%. Run: make test (tests/sparse). */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quintet/counters.h"
#include "quintet/tensor.h"

#define PIECE 4096              /* floats of one output row piece in the gather kernel (16 KiB: with
                                 * N <= 4096 each row of W is one 16 KiB stream, not two 8 KiB ones
                                 * started apart; 2-core VM, M=1 K=16384 N=4096, 1 thread, cold W:
                                 * 1.10 vs 1.24 ms at 90%, 0.46 vs 0.58 ms at 95%) */
#define PAR_MIN 32768           /* element-wise work below this runs on one thread */
#define SCAN_PAR_MIN (1 << 20)  /* scans of A (column flags) below this: one thread */
#define BUILD_PAR_MIN (1 << 16) /* the nonzero lists of A below this: one thread (csr_build; Xeon,
                                 * 16 threads, M=64 K=4096 90%: 0.023 ms on 16 threads against
                                 * 0.136 on one, the whole CSR call 1.172 against 1.395 ms) */
static int64_t build_par_min = BUILD_PAR_MIN; /* QT_SPARSE_CPU_CSR "pb=" (experiments) */

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

/* y[0..len) += Σ_{j<g} a[j]·w[j][0..len) for g ≤ 8 rows (fused multiply-adds in row order).
 * No software prefetch of the rows a later group reads: it lost on both machines (M=1 K=16384
 * N=4096 90%, 1 thread, medians: Xeon 1.88 ms without, 1.98 / 1.92 / 2.06 with it 1 / 2 / 4
 * groups ahead; 2-core VM 1.22 against 1.41 / 1.42 / 1.46). */
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
    int32_t *crow; /* csc: room for a second pair of lists of nnz entries (the CSC of A: rows, */
    float *cval;   /* values), when csr_build was asked for it; else NULL */
    void *extra; /* csr_build's `extra` bytes of workspace after the lists (64-byte aligned) */
    void *owned_ptr, *owned_data;
    size_t data_bytes;
} csr_t;

/* Build the lists: counts in parallel, prefix sum, fill in parallel; `extra` more bytes of the
 * same workspace block at s->extra and, when csc, room for a second pair of lists (s->crow,
 * s->cval: the CSC schedule's column lists, filled by csc_build). */
static qt_status_t csr_build(const call_t *c, csr_t *s, size_t extra, int csc)
{
    const int64_t M = c->M, K = c->K;
    memset(s, 0, sizeof *s);
    extra = (extra + 63) / 64 * 64; /* the second lists after it stay aligned */
    s->rowptr = s->owned_ptr = qt_alloc((size_t)(M + 1) * sizeof(int64_t));
    if (!s->rowptr) return qt_fail(QT_ERR_NOMEM, "csr: no memory for %lld row pointers", (long long)M);
    int T = M * K >= build_par_min ? c->threads : 1;
    if (T > M) T = (int)M; /* threads over rows */
#pragma omp parallel for num_threads(T) schedule(static)
    for (int64_t m = 0; m < M; m++) s->rowptr[m + 1] = count_nz(c->A + m * K, K);
    s->rowptr[0] = 0;
    for (int64_t m = 0; m < M; m++) s->rowptr[m + 1] += s->rowptr[m];
    s->nnz = s->rowptr[M];
    size_t cap = (size_t)(s->nnz + 16);
    const size_t lists = (cap * (sizeof(int32_t) + sizeof(float)) + 64 + 63) / 64 * 64 + 64;
    s->data_bytes = (csc ? 2 : 1) * lists + extra;
    char *buf = qt_sparse_ws_get(c->be, c->ws, s->data_bytes, &s->owned_data);
    if (!buf) {
        qt_free(s->owned_ptr);
        return qt_fail(QT_ERR_NOMEM, "csr: no memory for %lld nonzeros", (long long)s->nnz);
    }
    s->val = (float *)buf;
    s->idx = (int32_t *)(buf + (cap * sizeof(float) + 63) / 64 * 64);
    s->extra = buf + lists;
    if (csc) {
        s->cval = (float *)(buf + lists + extra);
        s->crow = (int32_t *)(buf + lists + extra + (cap * sizeof(float) + 63) / 64 * 64);
    }
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
    QT_TRY(csr_build(c, &s, 0, 0));
    return gather_lists(c, s);
}

/* CSR: register-blocked strips over packed blocks of W, column ranges outermost. N is cut
 * into strips of STRIP columns (NACC accumulators; "wide": 2·STRIP and 2·NACC, all 32 zmm: a
 * row's strip of Y stays in registers while it takes its nonzeros), the strips into ranges of
 * at most RANGE_COLS columns; a work item owns a range and a group of rows of A and walks K in
 * blocks. When most rows of W are touched (estimated from the density and the rows per item)
 * the schedule is one of (sched_choose, chosen by measurement on the machine):
 *   packed  each k block (KB_PACK rows) of W over the range is copied into a per-thread buffer
 *           (in the call's workspace), strip after strip ([strip][k][sw]); then per strip, per
 *           row of A: acc = the row's Y strip (zero in the first block); acc += a_k·W[k, strip]
 *           over the row's nonzeros in the block; store. Every row of A with nonzeros in the
 *           block takes them from the same packed strip (batch 64 at 90%: each W row piece
 *           serves ~6.4 rows of A, from L2), the range's Y (64 rows × 2 KiB) stays in L2 from
 *           the first block to the last, and W leaves the last-level cache once per call. The
 *           copy is needed: in place, with N a power of two, one strip's pieces 4N bytes apart
 *           fall into a few sets of L1 and L2 and evict each other. Its variant prefetches the
 *           next block's lines of the range toward L2 (prefetcht1) evenly over this block's
 *           strip-rows, so that the stream from the last-level cache (or memory) overlaps the
 *           multiply-adds instead of preceding the copy.
 *   whole   (one thread) one range of whole rows read in place (wide strips): a k block of
 *           INPLACE_BYTES is one contiguous run of W, which the hardware streams well; its
 *           variant prefetches the next block's lines toward L2 (prefetcht1) evenly over this
 *           block's strip-rows (main's one-thread schedule before this one). Where each row of W
 *           serves few rows of A (95%) the copy may not be paid back.
 *   csc     by columns of A (outer products; csc_run): the CSC of A per group of ≤ CSC_ROWS rows
 *           (csc_build: a counting sort of the lists, O(nnz + K), threads over column ranges in
 *           the call's parallel region); an item is a strip (CSC_STRIPS·STRIP columns) × a row
 *           group, whose Y tile (rows × strip, row stride strip + CSC_PAD floats: Y's own rows,
 *           4N bytes apart, would share L1 sets) lives in a per-thread buffer, zeroed first and
 *           written to Y at the end; for k = 0..K−1 with entries in the group, W[k, strip] is
 *           loaded once into registers and each row m of column k does tile[m] += a·W[k] (8
 *           loads, FMAs, stores in L1). W is read once per call from the LLC (or memory),
 *           straight into registers: no copy, no L2 re-reads (the packed schedule's 16 zmm loads
 *           per nonzero from L2: ~6-9 L2 transfers per line of W). Each element takes its
 *           products in increasing k from zero, as the CSR walk (same sums, same order). Its
 *           variant prefetches row k + CSC_PF of W's strip (rows are 4N bytes apart: no hardware
 *           prefetcher follows) toward L2 (CSC_PF_L2; csr_tune.ph=0: L1). Measured (staged
 *           same-process A/B, M=64 K=N=4096, medians; Xeon W in its LLC, session 6 call 7, 16
 *           threads cores 0-15, 1 thread core 2): 90% / 95%, 16 threads: csc 0.673 / 0.531 ms,
 *           with the prefetch 0.679 / 0.605 (to L1: 0.722 / 0.523; 4 rows ahead to L1 0.632 /
 *           0.546; 16 or 32 ahead no better), against packed 1.019 / 0.817; 1 thread: csc 5.76 /
 *           3.51 ms, with the prefetch 6.63 / 5.32 (to L1 6.92 / 5.19; 16, 32 rows ahead 6.45 /
 *           5.39, 6.38 / 5.55), against packed 8.35 / 6.24 and whole 8.74 / 6.13 (at 95% one
 *           thread reads W's 64 MiB at 19.6 GB/s: 3.4 ms, the floor csc reaches); 2 strips per
 *           item with 32-row groups (W read twice) lost: 0.909 / 0.857 and 9.85 / 8.59. On the
 *           2-core VM (EPYC, W from memory), 1 thread: csc 14.5 ms at 90%, with the prefetch to
 *           L2 6.14 / 4.26 (to L1 7.86 / 6.77), against packed 11.25 / 8.94; 2 threads, 90%: 4.16
 *           (16 rows ahead 3.72) against packed 6.04: the prefetch is a candidate (sched_choose
 *           picks per machine: plain on the Xeon, prefetch on the VM). The CSC lists of M=64
 *           K=4096 90% took 0.074 ms on one VM thread (0.060 on 2), ~1% of the call.
 * Block height, range width and strip width (csr_tune) were chosen on the Xeon (H200 host, W in
 * its 300 MiB LLC; staged A/B, M=64 K=N=4096, medians of 24 calls, 1 thread, one process):
 * 512 rows × 512 columns, wide strips: 9.96 ms at 90% / 9.02 at 95%, against 11.34 / 10.48
 * for 128 rows × 1024 columns × 128-column strips and 12.2 / 8.8 for the whole schedule (the
 * same process's dense OpenBLAS: 25.7 / 33.1 ms); an earlier call had 64-row blocks (32 KiB
 * per strip: L1-resident) at 15.3 / 12.7 ms against 13.5 / 10.0 for 128 rows: more nonzeros
 * per visit of a Y strip beat L1-resident W. At 16 threads each thread owns one wide strip and
 * its blocks of 512 rows. The time at 1 thread is mostly W's copy (W 64 MiB from the LLC: one
 * core reads it contiguously at 19.6 GB/s, 3.4 ms, and in the strips' 2 KiB / 1 KiB pieces at
 * 20.7 / 19.8 GB/s: the pieces cost no bandwidth; 16 cores read it in 1 KiB pieces in 0.39 ms,
 * 174 GB/s; session 6, Xeon call 1). Tried there and not kept (same-process A/B, medians,
 * M=64 90% / 95%): the next block copied row by row during this one (a second pack buffer): 1
 * thread 18.7 / 10.4 ms against 13.8 / 8.4 packed, 16 threads 1.28 / 1.01 against 1.17 / 0.90;
 * the K range split over the threads (csr_tune.ks, partial Ys added after, wider contiguous
 * pieces), 16 threads: 2 splits of 512-column ranges 1.33 / 1.08, 4 of 1024 (128-row blocks)
 * 1.33 / 1.15, 8 of 2048 1.61 / 1.43, 16 of 4096 2.14 / 2.07 against 1.17 / 0.90 unsplit (on the
 * 2-core VM, 2 threads, 4 splits won: 5.14 against 5.79 ms at 90%, so it stays a tunable); 16
 * rows of W per gather pass instead of 8 (M=1 K=16384, 1 thread): 1.74 / 0.995 against 1.72 /
 * 1.01 ms; on 16 threads each range read in place in 64-row blocks (no copy; as a third and
 * fourth trial candidate): 1.60 / 1.52 ms, with its prefetch 1.84 / 1.73, against packed 1.14 /
 * 0.88 (call 2). When few rows of W are touched the block is read in place (k blocks
 * of KBLK rows). Items: ranges of min(RANGE_COLS / STRIP, ⌈strips / threads⌉) strips with all
 * rows when there are at least as many ranges as threads, else the rows split so that every
 * thread has work. Columns past the last full strip (the tail of N; all of them without AVX)
 * go through gather_row. When fewer than 1.5 rows of a group share a touched row of W on
 * average (batch 1; very sparse small batches) there is nothing to reuse and the call runs the
 * GATHER schedule, whose long row pieces stream W from memory faster than 1 KiB strip pieces
 * (2-core VM, M=1 K=16384 N=4096: 2.2x). */
#define RANGE_COLS 512          /* columns of one work item at most */
#define KB_PACK 512             /* rows of a packed k block */
#define INPLACE_BYTES (2 << 20) /* bytes of a k block of whole rows read in place (N = 4096: 128 rows) */
#define KSPLIT 1                /* K splits of the column ranges on several threads (csr_tune.ks) */
#define SCHED_PACK 0            /* the dense-use schedules (sched_choose) */
#define SCHED_WHOLE 1
#define SCHED_CSC 2
#define CSC_ROWS 64             /* rows of A of one CSC work item at most (csr_tune.cg) */
#define CSC_STRIPS 1            /* strips of one CSC work item (csr_tune.cs: 1 or 2) */
#define CSC_PF 8                /* rows of W ahead that the CSC prefetch variant fetches (csr_tune.pd) */
#define CSC_PAD 16              /* floats of padding per row of the CSC Y tile (csr_tune.pad) */
#define CSC_PF_L2 1             /* the CSC prefetch toward L2 (1) or L1 (0) (csr_tune.ph) */
#ifdef VW
#define NACC 8                                /* accumulators per strip */
#define STRIP (NACC * VW)                     /* columns of one strip (128 with AVX-512, 64 with AVX2) */
#define KBLK ((256 << 10) / (STRIP * 4))      /* rows of a k block read in place (one strip: 256 KiB) */

/* Tunables of the CSR kernel: cand: the dense-use schedule, −1 chosen by measurement
 * (sched_choose), 0..5 forced (2·schedule + variant, see there); wide: 2·STRIP columns per
 * strip in the packed schedule too (AVX-512 only); range: columns of a work item (RANGE_COLS);
 * kb: rows of a packed block (KB_PACK); ks: K splits on several threads (KSPLIT); the CSC
 * schedule's cg, cs, pd, ph, pad (CSC_ROWS, CSC_STRIPS, CSC_PF, CSC_PF_L2, CSC_PAD); and, outside
 * the struct, pb: the elements of A from which the lists are built on every thread
 * (build_par_min). Defaults here; for experiments the environment variable
 * QT_SPARSE_CPU_CSR="range=R,kb=K,cand=C,wide=W,ks=S,pb=P,cg=G,cs=S,pd=D,ph=H,pad=F" (any
 * subset; read again whenever it
 * changes) overrides them (the A/B tools of the measurements quoted here, kept out of the
 * repository, included this file and set them through it). */
typedef struct {
    int cand, wide, ks;
    int64_t range, kb;
    int cg, cs, pd, ph, pad; /* the CSC schedule's: rows per item, strips per item, prefetch distance
                              * (rows of W) and level (0: L1, 1: L2), Y tile row padding (floats) */
} csr_tune_t;
#define CSR_TUNE_DEFAULT {-1, 1, KSPLIT, RANGE_COLS, KB_PACK, CSC_ROWS, CSC_STRIPS, CSC_PF, CSC_PF_L2, CSC_PAD}
static const csr_tune_t csr_tune_default = CSR_TUNE_DEFAULT;
static csr_tune_t csr_tune = CSR_TUNE_DEFAULT;

/* Apply QT_SPARSE_CPU_CSR (values out of range are ignored), again whenever its text changes
 * (tests force each schedule in turn; a getenv per call costs nothing next to the call). */
static void csr_tune_env(void)
{
    static char last[128] = "\1"; /* never a variable's text: the first call parses */
#pragma omp critical(qt_csr_pf)
    {
        const char *e = getenv("QT_SPARSE_CPU_CSR");
        if (strncmp(e ? e : "", last, sizeof last - 1)) {
            snprintf(last, sizeof last, "%s", e ? e : "");
            csr_tune = csr_tune_default;
            build_par_min = BUILD_PAR_MIN;
            char key[16];
            long long v;
            int used;
            while (e && sscanf(e, " %15[a-z] = %lld%n", key, &v, &used) == 2) {
                if (!strcmp(key, "range") && v >= STRIP && v <= 65536) csr_tune.range = v;
                else if (!strcmp(key, "kb") && v >= 1 && v <= 4096) csr_tune.kb = v;
                else if (!strcmp(key, "cand") && v >= -1 && v <= 5) csr_tune.cand = (int)v;
                else if (!strcmp(key, "cg") && v >= 1 && v <= 256) csr_tune.cg = (int)v;
                else if (!strcmp(key, "cs") && (v == 1 || v == 2)) csr_tune.cs = (int)v;
                else if (!strcmp(key, "pd") && v >= 1 && v <= 64) csr_tune.pd = (int)v;
                else if (!strcmp(key, "ph") && (v == 0 || v == 1)) csr_tune.ph = (int)v;
                else if (!strcmp(key, "pad") && v >= 0 && v <= 64 && v % VW == 0) csr_tune.pad = (int)v;
                else if (!strcmp(key, "wide") && (v == 0 || v == 1)) csr_tune.wide = (int)v;
                else if (!strcmp(key, "ks") && v >= 1 && v <= 16) csr_tune.ks = (int)v;
                else if (!strcmp(key, "pb") && v >= 0) build_par_min = v;
                e += used;
                e += strspn(e, ", ");
            }
        }
    }
}

/* The schedule of the dense-use CSR path, chosen per process by measurement, separately for
 * each class: one thread or several, times low reuse (fewer than SCHED_REUSE rows of a group
 * per touched row of W: M=64 95%, 3.2) or not (90%, 6.4): SCHED_PACK, SCHED_CSC or, on one
 * thread only, SCHED_WHOLE (see above), each plain or with its prefetch: candidate = 2·schedule +
 * prefetch (sched_list). The first
 * SCHED_TRIALS calls of each candidate run in turn, each timed per multiply-add (so that calls
 * of different shapes compare); from then on the candidate with the lowest minimum runs. All
 * compute the same sums in the same order: the choice changes time only. Why by measurement:
 * the ranking differs between machines. M=64 K=N=4096 90%, 1 thread, packed with 64-row blocks
 * and 1024-column ranges: on the 2-core VM's EPYC (W from memory) the prefetch made it 1.36x
 * faster (9.42 vs 12.79 ms), on the Xeon (W in the LLC) 1.04x slower (15.92 vs 15.25; with
 * 128-row blocks 15.43 vs 13.48); main's whole + prefetch was 1.23x slower than whole without
 * it on the Xeon (11.94 vs 9.69 ms, last session) and the fastest schedule on the VM. Why per
 * reuse class: the ranking can differ with the reuse (Xeon, 1 thread, same-process A/B,
 * medians, session 6 call 1: packed 13.8 ms at 90% and 8.39 at 95%, whole rows in place 15.6
 * and 7.00; call 2: 10.20 / 7.88 against 10.52 / 7.89, a tie at 95%), and one choice for both,
 * made on whichever shape came first, would keep the 95% point on the 90% point's schedule. */
#define SCHED_TRIALS 2
#define SCHED_REUSE 4.0
#define SCHED_CANDS 6 /* 2·schedule + variant, schedules PACK, WHOLE, CSC */
static struct {
    double best[SCHED_CANDS];
    int calls, choice;
} sched_state[4];

/* The candidates of class cls: all on one thread, else not SCHED_WHOLE (one thread only). */
static const int sched_list[2][SCHED_CANDS] = {{0, 1, 4, 5}, {0, 1, 2, 3, 4, 5}};
static inline int sched_count(int cls) { return cls >= 2 ? 4 : SCHED_CANDS; }

/* The class of a dense-use call on T threads with `reuse` rows of a group per touched row of W. */
static inline int sched_class(int T, double reuse) { return 2 * (T > 1) + (reuse < SCHED_REUSE); }

/* The candidate for a dense-use call of class cls (csr_tune.cand ≥ 0 forces one; SCHED_WHOLE
 * runs only on one thread, else SCHED_PACK); *trial set
 * when the call is a trial (then sched_record its time). Only calls of at least SCHED_MIN_MACS
 * multiply-adds (big) are trials: a small call's time is mostly overhead, and it runs plain
 * SCHED_PACK until the choice is made. */
#define SCHED_MIN_MACS 16777216.0
static int sched_choose(int cls, int big, int *trial)
{
    int cand;
    *trial = 0;
    if (csr_tune.cand >= 0) return csr_tune.cand;
#pragma omp critical(qt_csr_pf)
    {
        const int n = sched_count(cls);
        if (sched_state[cls].calls >= n * SCHED_TRIALS) {
            cand = sched_state[cls].choice;
        } else if (!big) {
            cand = 2 * SCHED_PACK;
        } else {
            if (sched_state[cls].calls == 0)
                for (int i = 0; i < SCHED_CANDS; i++) sched_state[cls].best[i] = INFINITY;
            cand = sched_list[cls < 2][sched_state[cls].calls % n];
            *trial = 1;
        }
    }
    return cand;
}

/* Record a trial: seconds per multiply-add of candidate cand in class cls. */
static void sched_record(int cls, int cand, double per_mac)
{
#pragma omp critical(qt_csr_pf)
    {
        const int n = sched_count(cls);
        if (sched_state[cls].calls < n * SCHED_TRIALS) {
            if (per_mac < sched_state[cls].best[cand]) sched_state[cls].best[cand] = per_mac;
            if (++sched_state[cls].calls == n * SCHED_TRIALS)
                for (int i = 1; i < n; i++) {
                    const int ci = sched_list[cls < 2][i];
                    if (sched_state[cls].best[ci] < sched_state[cls].best[sched_state[cls].choice]) sched_state[cls].choice = ci;
                }
        }
    }
}

/* y[0..nacc·VW) = (first ? 0 : y) + Σ_j val[j]·w[(idx[j] − koff)·ldw + 0..nacc·VW) (fused
 * multiply-adds in row order, nacc accumulators: a constant after inlining). */
static inline __attribute__((always_inline)) void strip_fma(float *y, int first, const float *w, int64_t ldw,
                                                            int64_t koff, const int32_t *idx, const float *val,
                                                            int64_t n, const int nacc)
{
    vf_t r[2 * NACC];
    for (int v = 0; v < nacc; v++) r[v] = first ? VSET1(0.0f) : VLOAD(y + v * VW);
    for (int64_t j = 0; j < n; j++) {
        const vf_t a = VSET1(val[j]);
        const float *wr = w + ((int64_t)idx[j] - koff) * ldw;
        for (int v = 0; v < nacc; v++) r[v] = VFMA(a, VLOAD(wr + v * VW), r[v]);
    }
    for (int v = 0; v < nacc; v++) VSTORE(y + v * VW, r[v]);
}

/* strip_fma over STRIP columns (NACC accumulators) or, wide, 2·STRIP (2·NACC: all 32 zmm with
 * AVX-512; 24 of 16 ymm would spill with AVX2, so wide is AVX-512 only). */
static void strip_run(float *y, int first, const float *w, int64_t ldw, int64_t koff, const int32_t *idx,
                      const float *val, int64_t n, int wide)
{
    if (wide) strip_fma(y, first, w, ldw, koff, idx, val, n, 2 * NACC);
    else strip_fma(y, first, w, ldw, koff, idx, val, n, NACC);
}

#else
#define STRIP PIECE
#endif

/* First position in idx[b..e) (ascending) holding a column ≥ k. */
static inline int64_t lower_nz(const int32_t *idx, int64_t b, int64_t e, int64_t k)
{
    while (b < e) {
        const int64_t h = b + (e - b) / 2;
        if (idx[h] < k) b = h + 1;
        else e = h;
    }
    return b;
}

#ifdef VW
/* Row r of a k block into pack buffer pk (layout [strip][k][sw], kb rows per strip): the
 * full·sw floats of W at src. */
static inline void pack_row(float *pk, int64_t kb, int64_t sw, int64_t full, const float *src, int64_t r)
{
    for (int64_t q = 0; q < full; q++)
        for (int64_t v = 0; v < sw / VW; v++) VSTORE(pk + (q * kb + r) * sw + v * VW, VLOAD(src + q * sw + v * VW));
}
#endif

/* Rows m0..m1-1 of Yo, columns t0..n1-1 (no strip kernel: a range's tail), over the rows
 * kbeg..kfin-1 of W: gather_row in pieces of ≤ PIECE columns. */
static void tail_rows(const call_t *c, const csr_t *s, int64_t t0, int64_t n1, int64_t m0, int64_t m1, int64_t kbeg,
                      int64_t kfin, float *Yo)
{
    const int64_t N = c->N;
    for (int64_t p = t0; p < n1; p += PIECE) {
        const int64_t len = n1 - p < PIECE ? n1 - p : PIECE;
        for (int64_t m = m0; m < m1; m++) {
            const int64_t r0 = s->rowptr[m], r1 = s->rowptr[m + 1];
            const int64_t b = kbeg ? lower_nz(s->idx, r0, r1, kbeg) : r0, e = kfin < c->K ? lower_nz(s->idx, b, r1, kfin) : r1;
            gather_row(Yo + m * N + p, c->W + p, N, s->idx + b, s->val + b, e - b, len);
        }
    }
}

#ifdef VW
/* The CSC of A per row group, from the lists of s: G groups of rows M·g/G ..< M·(g+1)/G; for
 * group g and column k the entries cp[g·K + k] ..< cp[g·K + k + 1] of s->crow (row within the
 * group) and s->cval, in increasing row. cp has G·K + 2 entries. A counting sort, called by
 * every thread of a parallel region (orphaned worksharing): each thread counts and places the
 * entries of its own columns (so no two write one counter), one thread adds up the counts. */
static void csc_build(const call_t *c, const csr_t *s, int64_t G, int64_t *cp)
{
    const int64_t M = c->M, K = c->K;
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t k0 = K * t / nt, k1 = K * (t + 1) / nt;
    for (int64_t g = 0; g < G; g++) memset(cp + g * K + k0 + 2, 0, (size_t)(k1 - k0) * sizeof *cp);
    for (int64_t g = 0, m = 0; g < G; g++) /* counts of entry x = g·K + k at cp[x + 2] */
        for (const int64_t me = M * (g + 1) / G; m < me; m++)
            for (int64_t j = lower_nz(s->idx, s->rowptr[m], s->rowptr[m + 1], k0); j < s->rowptr[m + 1] && s->idx[j] < k1; j++)
                cp[g * K + s->idx[j] + 2]++;
#pragma omp barrier
#pragma omp single
    {
        cp[0] = cp[1] = 0;
        for (int64_t x = 2; x < G * K + 2; x++) cp[x] += cp[x - 1]; /* cp[x + 1]: start of x */
    }
    for (int64_t g = 0, m = 0; g < G; g++) /* place at cp[x + 1]++: then cp[x] is x's start */
        for (const int64_t m0 = m, me = M * (g + 1) / G; m < me; m++)
            for (int64_t j = lower_nz(s->idx, s->rowptr[m], s->rowptr[m + 1], k0); j < s->rowptr[m + 1] && s->idx[j] < k1; j++) {
                const int64_t p = cp[g * K + s->idx[j] + 1]++;
                s->crow[p] = (int32_t)(m - m0);
                s->cval[p] = s->val[j];
            }
#pragma omp barrier
}

/* One CSC work item: Y[0..rows) × nacc·VW columns (at Yo, row stride N) = A's rows × W[:, n0..]
 * over the group's column lists (cp: the group's K + 1 starts; crow, cval). The tile is summed
 * in yb (row stride ldb, in L1), zeroed first; for each column k with entries, W[k, strip] is
 * loaded once into registers and every row of the column takes it (load, FMA, store of its
 * tile row); pd > 0: row k + pd of W's strip prefetched (ph: toward L2, else L1). Each element
 * takes its products in increasing k, as the CSR walk. */
static inline __attribute__((always_inline)) void csc_tile(const float *W, int64_t N, int64_t K, const int64_t *cp,
                                                           const int32_t *crow, const float *cval, int64_t rows,
                                                           float *yb, int64_t ldb, int pd, int ph, float *Yo,
                                                           const int nacc)
{
    for (int64_t r = 0; r < rows; r++)
        for (int v = 0; v < nacc; v++) VSTORE(yb + r * ldb + v * VW, VSET1(0.0f));
    const int lines = nacc * VW / 16;
    for (int64_t k = 0; k < K; k++) {
        if (pd && k + pd < K) {
            const char *pw = (const char *)(W + (k + pd) * N);
            if (ph)
                for (int l = 0; l < lines; l++) _mm_prefetch(pw + 64 * l, _MM_HINT_T1);
            else
                for (int l = 0; l < lines; l++) _mm_prefetch(pw + 64 * l, _MM_HINT_T0);
        }
        const int64_t b = cp[k], e = cp[k + 1];
        if (b == e) continue;
        vf_t w[2 * NACC];
        for (int v = 0; v < nacc; v++) w[v] = VLOAD(W + k * N + v * VW);
        for (int64_t j = b; j < e; j++) {
            const vf_t a = VSET1(cval[j]);
            float *y = yb + (int64_t)crow[j] * ldb;
            for (int v = 0; v < nacc; v++) VSTORE(y + v * VW, VFMA(a, w[v], VLOAD(y + v * VW)));
        }
    }
    for (int64_t r = 0; r < rows; r++)
        for (int v = 0; v < nacc; v++) VSTORE(Yo + r * N + v * VW, VLOAD(yb + r * ldb + v * VW));
}

/* The CSC schedule's row groups, tile row stride (floats) and workspace bytes on T threads:
 * the column starts (csc_build), then one Y tile per thread. */
static inline int64_t csc_groups(int64_t M) { return (M + csr_tune.cg - 1) / csr_tune.cg; }
static inline int64_t csc_ldb(void) { return csr_tune.cs * STRIP + csr_tune.pad; }
static inline size_t csc_cp_bytes(int64_t G, int64_t K) { return ((size_t)(G * K + 2) * sizeof(int64_t) + 63) / 64 * 64; }
static size_t csc_bytes(int64_t M, int64_t K, int T)
{
    const int64_t G = csc_groups(M), rmax = (M + G - 1) / G;
    return csc_cp_bytes(G, K) + (size_t)T * (size_t)(rmax * csc_ldb()) * sizeof(float);
}

/* CSC (run_csr's SCHED_CSC; pf: its prefetch variant): the column lists of each row group
 * (csc_build), then items (strip of csr_tune.cs·STRIP columns, row group), threads over items;
 * the columns past the last full strip through tail_rows. mem: csc_bytes(M, K, T). */
static void csc_run(const call_t *c, const csr_t *s, int T, void *mem, int pf)
{
    const int64_t M = c->M, N = c->N, K = c->K, G = csc_groups(M), rmax = (M + G - 1) / G, ldb = csc_ldb();
    const int64_t sw = csr_tune.cs * STRIP, full = N / sw, items = (full + (full * sw < N)) * G;
    const int pd = pf ? csr_tune.pd : 0, ph = csr_tune.ph, two = csr_tune.cs == 2;
    int64_t *cp = mem;
    float *tiles = (float *)((char *)mem + csc_cp_bytes(G, K));
    if (T > items) T = (int)items;
#pragma omp parallel num_threads(T)
    {
        csc_build(c, s, G, cp);
        float *yb = tiles + (size_t)omp_get_thread_num() * (size_t)(rmax * ldb);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            const int64_t q = it / G, g = it % G, m0 = M * g / G, m1 = M * (g + 1) / G;
            float *Yo = c->Y + m0 * N + q * sw;
            if (q == full) tail_rows(c, s, full * sw, N, m0, m1, 0, K, c->Y);
            else if (two) csc_tile(c->W + q * sw, N, K, cp + g * K, s->crow, s->cval, m1 - m0, yb, ldb, pd, ph, Yo, 2 * NACC);
            else csc_tile(c->W + q * sw, N, K, cp + g * K, s->crow, s->cval, m1 - m0, yb, ldb, pd, ph, Yo, NACC);
        }
    }
}
#endif

/* Rows m0..m1-1 of strips s0..s1-1 (the last may be the narrower tail of N) over the rows
 * kbeg..kfin-1 of W (a K split; all of K: 0..K), the sums written to rows m of Yo (M × N,
 * Y itself or a split's partial Y); cur: 2·M cursors (each row's first nonzero of the block,
 * and its end); k blocks of kb rows; pk: NULL (W read in place) or kb × (s1 − s0)·STRIP floats
 * to pack each k block into; pf: prefetch each next block's lines of the range toward L2;
 * wide: strips of 2·STRIP columns. */
static void csr_range(const call_t *c, const csr_t *s, int64_t s0, int64_t s1, int64_t m0, int64_t m1, int64_t kbeg,
                      int64_t kfin, float *Yo, float *pk, int64_t kb, int pf, int wide, int64_t *cur)
{
    const int64_t N = c->N, n0 = s0 * STRIP, n1 = s1 * STRIP < N ? s1 * STRIP : N;
    for (int64_t m = m0; m < m1; m++) /* each row's first nonzero of the split */
        cur[m] = kbeg ? lower_nz(s->idx, s->rowptr[m], s->rowptr[m + 1], kbeg) : s->rowptr[m];
#ifdef VW
#if VW != 16
    wide = 0;
#endif
    const int64_t sw = wide ? 2 * STRIP : STRIP, full = (n1 - n0) / sw; /* strips of sw columns */
    if (full > 0) {
        int64_t *end = cur + c->M;
        const int64_t width = full * sw;
        for (int64_t k0 = kbeg; k0 < kfin; k0 += kb) {
            const int64_t kend = kfin - k0 < kb ? kfin : k0 + kb, rows = kend - k0;
            if (pk)
                for (int64_t r = 0; r < rows; r++) pack_row(pk, kb, sw, full, c->W + (k0 + r) * N + n0, r);
            for (int64_t m = m0; m < m1; m++) {
                int64_t j = cur[m];
                while (j < s->rowptr[m + 1] && s->idx[j] < kend) j++;
                end[m] = j;
            }
            /* the next block's lines of the range (its rows kend.., width floats each; whole rows
             * in place: one contiguous run), spread evenly over this block's strip-rows */
            const int64_t lpr = width / 16, nrows = pf && kend < kfin ? (kfin - kend < kb ? kfin - kend : kb) : 0;
            const int64_t lines = nrows * lpr, steps = full * (m1 - m0);
            int64_t issued = 0, step = 0, pr = 0, pl = 0;
            for (int64_t q = 0; q < full; q++) {
                const float *w = pk ? pk + q * kb * sw : c->W + n0 + q * sw;
                const int64_t ldw = pk ? sw : N, koff = pk ? k0 : 0;
                for (int64_t m = m0; m < m1; m++) {
                    strip_run(Yo + m * N + n0 + q * sw, k0 == kbeg, w, ldw, koff, s->idx + cur[m], s->val + cur[m],
                              end[m] - cur[m], sw > STRIP);
                    for (const int64_t to = lines * ++step / steps; issued < to; issued++) {
                        _mm_prefetch((const char *)(c->W + (kend + pr) * N + n0 + pl * 16), _MM_HINT_T1);
                        if (++pl == lpr) pl = 0, pr++;
                    }
                }
            }
            for (int64_t m = m0; m < m1; m++) cur[m] = end[m];
        }
    }
    const int64_t t0 = n0 + full * sw; /* the columns left: through gather_row */
#else
    (void)pk;
    (void)kb;
    (void)pf;
    (void)wide;
    const int64_t t0 = n0; /* no strip kernel: every column through gather_row */
#endif
    tail_rows(c, s, t0, n1, m0, m1, kbeg, kfin, Yo);
}

static qt_status_t run_csr(const call_t *c)
{
    csr_t s;
    const int64_t M = c->M, N = c->N, K = c->K, nstrip = (N + STRIP - 1) / STRIP;
    int T = c->threads;
#ifdef VW
    csr_tune_env();
    int64_t per = csr_tune.range / STRIP; /* strips per range */
    int ks = T > 1 && M >= 2 ? csr_tune.ks : 1;
#else
    int64_t per = 1;
    int ks = 1;
#endif
    if (ks > T) ks = T;
    if (ks > K) ks = (int)K;
    const int64_t want = (T + ks - 1) / ks; /* column ranges wanted: with the K splits, one item per thread */
    if (per < 1) per = 1;
    if (per > (nstrip + want - 1) / want) per = (nstrip + want - 1) / want;
#if defined(VW) && VW == 16
    /* wide strips take two strips at a time: an odd count would send a range's last strip
     * through gather_row (with more threads than 2-strip ranges, every strip) */
    if (csr_tune.wide && per % 2) per++;
#endif
    const int64_t ranges = (nstrip + per - 1) / per;
    int64_t groups = ranges * ks >= T ? 1 : (2 * T + ranges * ks - 1) / (ranges * ks); /* row groups per range */
    if (groups > M) groups = M;
#ifdef VW
    const size_t pack_floats = N >= STRIP ? (size_t)(csr_tune.kb * per * STRIP) : 0;
#else
    const size_t pack_floats = 0; /* no strip kernel: nothing to pack */
#endif
    /* the pack buffers, one per thread, unless M is too small for any reuse (batch 1), then
     * the partial Y of each K split after the first */
    const size_t packs = M >= 2 ? (size_t)T * pack_floats * sizeof(float) : 0;
    const size_t parts = ((size_t)(ks - 1) * (size_t)(M * N) * sizeof(float) + 63) / 64 * 64;
#ifdef VW
    const size_t cscb = packs > 0 ? csc_bytes(M, K, T) : 0; /* a candidate of the measured choice: room for it */
#else
    const size_t cscb = 0;
#endif
    QT_TRY(csr_build(c, &s, packs + parts + cscb, cscb > 0));
    if ((double)s.nnz * (double)N < 65536.0) T = 1, ks = 1;
    const int tcsc = T; /* the CSC schedule's threads (its own items) */
    const int64_t items = ranges * groups * ks;
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
    /* most rows of W touched (and M ≥ 2, N ≥ STRIP): the measured choice of schedule and
     * prefetch (sched_choose); else W in place in blocks of KBLK rows */
    int cand = 0, trial = 0, cls = 0;
#ifdef VW
    if (touched > 0.7 && packs > 0) {
        cls = sched_class(T, reuse);
        cand = sched_choose(cls, (double)s.nnz * (double)N >= SCHED_MIN_MACS, &trial);
    }
#endif
    const int whole = cand >> 1 == SCHED_WHOLE && T == 1, pf = cand & 1, csc = cand >> 1 == SCHED_CSC;
    const int pack = touched > 0.7 && packs > 0 && !whole;
#ifdef VW
    int64_t kb = pack ? csr_tune.kb : KBLK;
    const int wide = whole || (pack && csr_tune.wide);
#else
    int64_t kb = K; /* no strip kernel: csr_range sends every strip through gather_row */
    const int wide = 0;
#endif
    if (whole) {
        kb = INPLACE_BYTES / (N * (int64_t)sizeof(float)); /* rows of one contiguous run of W */
        if (kb < 8) kb = 8;
    }
    const int64_t rper = whole ? nstrip : per, nr = whole ? 1 : ranges, ng = whole ? 1 : groups;
    int64_t *cur = qt_alloc((size_t)T * 2 * (size_t)M * sizeof(int64_t)); /* per thread: 2 cursors per row */
    if (!cur) {
        csr_free(c, &s);
        return qt_fail(QT_ERR_NOMEM, "csr: no memory for %d x %lld row cursors", T, 2 * (long long)M);
    }
    float *part = (float *)((char *)s.extra + packs); /* the partial Y of split z ≥ 1: part + (z − 1)·M·N */
    const double t0 = trial ? omp_get_wtime() : 0.0;
#ifdef VW
    if (csc) csc_run(c, &s, tcsc, (char *)s.extra + packs + parts, pf);
    else
#else
    (void)csc;
    (void)tcsc;
#endif
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < nr * ng * ks; it++) {
            const int64_t z = it % ks, r = it / ks / ng, g = it / ks % ng, s1 = (r + 1) * rper;
            csr_range(c, &s, r * rper, s1 < nstrip ? s1 : nstrip, M * g / ng, M * (g + 1) / ng, K * z / ks,
                      K * (z + 1) / ks, z ? part + (size_t)(z - 1) * (size_t)(M * N) : c->Y,
                      pack ? (float *)s.extra + (size_t)t * pack_floats : NULL, kb, pf, wide,
                      cur + (size_t)t * 2 * (size_t)M);
        }
        if (ks > 1) { /* Y += the partial Ys, in split order (after the loop's barrier) */
#pragma omp for schedule(static)
            for (int64_t e = 0; e < M * N; e += 64) {
                const int64_t len = M * N - e < 64 ? M * N - e : 64;
                for (int z = 1; z < ks; z++) {
                    const float *pz = part + (size_t)(z - 1) * (size_t)(M * N) + e;
#pragma omp simd
                    for (int64_t i = 0; i < len; i++) c->Y[e + i] += pz[i];
                }
            }
        }
    }
#ifdef VW
    if (trial) sched_record(cls, cand, (omp_get_wtime() - t0) / ((double)s.nnz * (double)N));
#else
    (void)t0;
    (void)trial;
    (void)cls;
#endif
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
