/* sparse.h — sparse activations and a sparsity-aware matmul (technique 5).
 *
 * Activations (row-major x of shape (rows, cols); rows = batch, cols = channels):
 *   RELU          y = max(x, 0).
 *   SHIFTED_RELU  y = max(x − b, 0) for a fixed shift b (ReLU(x − b), "ReLU strikes back").
 *   DTHRESH       dynamic-threshold sparse ReLU: y = x where x > θ_c, else 0, with a
 *                 per-channel threshold θ_c ≥ 0 kept in a qt_dthresh_t (algorithm below).
 *   TOPK          per row keep the k largest entries (order: larger value first, ties
 *                 broken by the lower column index), y = x there, 0 elsewhere (k-winners).
 * Backward of all four (qt_sparse_act_backward): dx = dy where the forward output y ≠ 0,
 * else 0 — "gradient passed where kept" (for RELU this is [x > 0] as in torch; the
 * dynamic threshold θ is a statistic, not a parameter, and receives no gradient).
 *
 * Dynamic threshold, exactly. State per channel c: μ_c (running mean of |x|), κ_c (scale),
 * θ_c = κ_c·μ_c, and a batch counter `steps`. Config: momentum m ∈ (0,1], initial scale
 * κ0 ≥ 0, optional target zero fraction t ∈ [0,1) with controller gain η > 0.
 * A TRAINING-mode forward on a batch X (B rows) does, in this order:
 *   1. a_c = (1/B)·Σ_b |x_bc|                                (double accumulation)
 *   2. μ_c = a_c if steps = 0, else (1 − m)·μ_c + m·a_c
 *   3. with a target:  if steps = 0: θ_c = max(0, q_t(x_·c)), the t-quantile of the batch's
 *      column (lower order statistic ⌊t·B⌋ of the sorted column), and κ_c = θ_c/μ_c
 *      (κ0 when μ_c = 0) — a warm start that hits the target on the first batch;
 *      else (integral controller): s_c = (1/B)·#{b : x_bc ≤ θ_c} measured with the θ in
 *      force before this batch, κ_c = clamp(κ_c + η·(t − s_c), 0, QT_DTHRESH_KAPPA_MAX).
 *      Without a target κ_c stays κ0.
 *   4. θ_c = κ_c·μ_c;  steps += 1
 *   5. y = x·[x > θ_c] with the θ just computed.
 * An EVAL-mode forward only does step 5 and never writes the state: two evaluations give
 * bitwise-identical output and leave the state unchanged. Because θ_c ≥ 0 the output is
 * at least as sparse as ReLU; a target below the fraction of non-positive inputs drives κ
 * to 0 (plain ReLU).
 *
 * Sparsity-aware matmul Y (M,N) = A (M,K)·W (K,N), all row-major tensors of one dtype (f32; bf16
 * where the backend's supports() says so: cuda, f32 accumulation), A with many zeros:
 *   DENSE    the backend's dense product (cpu: OpenBLAS sgemm, sgemv for M = 1): the baseline.
 *   GATHER   per-row nonzero lists of A; for each row, y = Σ_k a_k·W[k,:] over its nonzeros,
 *            FMA axpy over 8 rows of W at a time, threads split N, so each touched row of W
 *            is streamed once per row of A. GEMV-like: for a few rows.
 *   COLSKIP  columns of A that are zero in every row are dropped; the surviving columns of A
 *            and rows of W are packed and one compact dense product runs on them.
 *   CSR      A converted to CSR, SpMM with threads over rows and N tiled so a tile of W
 *            stays in cache across rows. For many rows with scattered zeros.
 *   AUTO     the dispatcher, in common code ABOVE the backends (impl/sparse/common.c): it
 *            asks the backend's own `measure` op for the nonzeros and all-zero columns of a
 *            sample of r = min(M, max(8, 32768/K)) evenly spaced rows (row i of the sample is
 *            ⌊(2i+1)·M/(2r)⌋; all rows when M ≤ r, then both figures are exact), takes
 *            s_e = 1 − nnz/(r·K) and s_c = zero columns/K — unless r < M and s_c ≤ s_e^r +
 *            4·sqrt(s_e^r(1−s_e^r)/K) + 0.01 (no more all-zero sampled columns than
 *            independent zeros would give), then s_c = s_e^M — estimates each path's speedup
 *            over DENSE from THE BACKEND'S crossover table (qt_xover_table_t: measured
 *            speedups per path, per batch-size bucket, W-size bucket and structure class
 *            (zeros nearly all in whole columns or not), at a grid of the path's own sparsity
 *            measure — s_c for COLSKIP, s_e for the others — linearly interpolated; held at
 *            the last point above the grid, 0 more than 0.02 below its first point), and runs
 *            the backend's path with the largest estimate among those it supports (DENSE when
 *            none exceeds 1). The chosen path makes its own exact pass over A. A call given
 *            a workspace reuses the estimate kept there for the same backend, shape and dtype,
 *            measuring again every QT_SPMM_REMEASURE calls (qt_spmm_ws_t).
 * Crossover tables are per backend: a table names its backend (qt_xover_table_t.backend), a
 * call with a table of another backend is refused (QT_ERR_ARG), and without a table the
 * backend's built-in defaults apply (qt_xover_defaults: conservative measured figures for
 * "cpu"; an empty table — always DENSE — for a backend without its own). The suite
 * (suites/sparsity.c) measures the table of every backend it runs and writes each to its own
 * file (qt_xover_file: <dir>/sparse_crossover_<backend>.txt); callers load it with qt_xover_load.
 * Counters per call: QT_CTR_FLOPS (2 per multiply-add done), QT_CTR_ZEROS_SKIPPED
 * (multiply-adds skipped), QT_CTR_NONZEROS (nonzeros of A consumed by a sparse path, or
 * produced by an activation).
 *
 * Backends (backend.h): every op takes the backend instance first and tensors as operands,
 * which must live on the instance's device; qt_backend_ops(be, QT_TECH_SPARSE) gives the
 * qt_sparse_ops_t. "ref" (oracle: plain loops, double accumulation; DENSE only), "cpu"
 * (all paths; threads = the instance's count) and "cuda" (DENSE through cuBLAS, GATHER as a
 * split-K GEMV over the touched rows of W, COLSKIP as gathers + one cuBLAS product; f32 and
 * bf16; activations with the dynamic threshold's statistics fused into its kernel:
 * impl/sparse/cuda/sparse.cu). The dynamic-threshold state lives on the
 * backend's device too. Tests: tests/sparse/test_sparse.c (make test); verification:
 * quintet verify sparse; benchmarks: quintet run --suite sparsity. */
#ifndef QUINTET_SPARSE_H
#define QUINTET_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/status.h"
#include "quintet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QT_DTHRESH_KAPPA_MAX 64.0f

/* ---- dynamic threshold ---- */
typedef struct {
    int channels;   /* > 0 */
    float momentum; /* m ∈ (0,1]: weight of the newest batch in the running mean of |x| */
    float scale;    /* κ0 ≥ 0: initial κ (fixed when use_target = 0) */
    int use_target; /* 1: the controller drives each channel's zero fraction toward target */
    float target;   /* requested zero fraction, [0,1) */
    float gain;     /* η > 0: controller step per batch */
} qt_dthresh_config_t;

typedef struct {
    qt_dthresh_config_t cfg;
    qt_backend_t *be;  /* the instance whose device holds the state */
    qt_tensor_t mu;    /* (channels) f32: running mean of |x| */
    qt_tensor_t kappa; /* (channels) f32: scale */
    qt_tensor_t theta; /* (channels) f32: threshold κ·μ */
    int64_t steps;     /* training batches seen */
} qt_dthresh_t;

/* Defaults: momentum 0.1, scale 1, no target, gain 0.5. */
QT_API qt_dthresh_config_t qt_dthresh_config_default(int channels);
/* Validate cfg (target outside [0,1) etc. → QT_ERR_ARG) and allocate the state through be, on
 * its device (μ = θ = 0, κ = κ0). be must have sparse ops: it is the backend the activation
 * will run on. */
QT_API qt_status_t qt_dthresh_init(qt_dthresh_t *d, qt_backend_t *be, const qt_dthresh_config_t *cfg);
/* Release; safe on a zeroed or freed state. */
QT_API void qt_dthresh_free(qt_dthresh_t *d);

/* ---- activations ---- */
typedef enum { QT_ACT_RELU = 0, QT_ACT_SHIFTED_RELU, QT_ACT_DTHRESH, QT_ACT_TOPK, QT_ACT_COUNT } qt_act_kind_t;

typedef struct {
    qt_act_kind_t kind;
    float shift;      /* SHIFTED_RELU: b */
    int k;            /* TOPK: 1 ≤ k ≤ cols */
    qt_dthresh_t *dt; /* DTHRESH: the state (channels = cols) */
    int training;     /* DTHRESH: 1 updates the state (training mode), 0 freezes it */
} qt_act_t;

/* "relu", "shifted_relu", "dthresh", "topk"; parse gives QT_ERR_ARG on anything else. */
QT_API const char *qt_act_name(qt_act_kind_t k);
QT_API qt_status_t qt_act_parse(const char *s, qt_act_kind_t *out);

/* ---- matmul paths and the crossover table ---- */
typedef enum {
    QT_SPMM_DENSE = 0,
    QT_SPMM_GATHER,
    QT_SPMM_COLSKIP,
    QT_SPMM_CSR,
    QT_SPMM_AUTO,
    QT_SPMM_COUNT
} qt_spmm_path_t;

/* "dense", "gather", "colskip", "csr", "auto"; parse gives QT_ERR_ARG on anything else. */
QT_API const char *qt_spmm_path_name(qt_spmm_path_t p);
QT_API qt_status_t qt_spmm_path_parse(const char *s, qt_spmm_path_t *out);

#define QT_XOVER_MAX 1024
/* One measured point: path ran `speedup` times faster than DENSE at its sparsity measure
 * `sparsity`, for problems in bucket (max_rows, max_wbytes) of structure class `structured`
 * (qt_sparse_structured). A problem (M, K·N·4 bytes) belongs to the smallest max_rows ≥ M
 * (else the largest) and within it the smallest max_wbytes ≥ its W bytes (else the largest);
 * within the bucket the points of its own structure class are used when there are any. */
typedef struct {
    qt_spmm_path_t path;
    int64_t max_rows;
    int64_t max_wbytes;
    int structured;
    double sparsity;
    double speedup;
} qt_xover_point_t;

#define QT_XOVER_NAME 32
typedef struct {
    char backend[QT_XOVER_NAME]; /* the backend it was measured on (iface name) */
    int n;
    qt_xover_point_t pt[QT_XOVER_MAX];
    char source[128]; /* "defaults", "this run" or the file it was loaded from */
} qt_xover_table_t;

/* An empty table of backend `backend` (n = 0: AUTO always runs DENSE). */
QT_API qt_status_t qt_xover_init(qt_xover_table_t *t, const char *backend);
/* The built-in table of `backend`: conservative measured figures where the library has
 * them ("cpu"), else empty. */
QT_API qt_status_t qt_xover_defaults(qt_xover_table_t *t, const char *backend);
/* Append a point (QT_ERR_ARG when full or out of range). */
QT_API qt_status_t qt_xover_add(qt_xover_table_t *t, qt_spmm_path_t path, int64_t max_rows, int64_t max_wbytes,
                         int structured, double sparsity, double speedup);
/* Add to t every point of `base` whose (path, max_rows, max_wbytes) bucket t does not already
 * have: t's measured buckets win, the others come from base whole (QT_ERR_ARG when t fills). */
QT_API qt_status_t qt_xover_fill(qt_xover_table_t *t, const qt_xover_table_t *base);
/* Structure class of a problem: 1 when nearly all of its zeros lie in columns that are zero
 * in every row (s_col ≥ 0.9·s_elem, s_elem > 0; always so for one row), else 0. */
QT_API int qt_sparse_structured(double s_elem, double s_col);
/* The file of backend `backend`'s table in folder dir: "<dir>/sparse_crossover_<backend>.txt"
 * (QT_ERR_ARG when it does not fit in size). */
QT_API qt_status_t qt_xover_file(const char *dir, const char *backend, char *buf, size_t size);
/* Text file: a line "backend NAME", then one point per line
 * "path max_rows max_wbytes structured sparsity speedup"; '#' comments.
 * Load: QT_ERR_IO when unreadable, QT_ERR_FORMAT on a bad line or no backend line (t is left
 * empty). */
QT_API qt_status_t qt_xover_load(qt_xover_table_t *t, const char *file);
QT_API qt_status_t qt_xover_save(const qt_xover_table_t *t, const char *file);
/* Estimated speedup of `path` over DENSE for an (M,K)·(K,N) problem with element sparsity
 * s_elem and column sparsity s_col (1 for DENSE, 0 when the table has no point for it). */
QT_API double qt_xover_estimate(const qt_xover_table_t *t, qt_spmm_path_t path, int64_t M, int64_t K, int64_t N,
                         double s_elem, double s_col);
/* The path AUTO picks for these measurements: argmax of qt_xover_estimate over the paths
 * for which allowed(path, arg) is 1 (allowed NULL: all); DENSE on ties and when none exceeds 1. */
QT_API qt_spmm_path_t qt_xover_choose(const qt_xover_table_t *t, int64_t M, int64_t K, int64_t N, double s_elem,
                               double s_col, int (*allowed)(qt_spmm_path_t path, const void *arg),
                               const void *arg);

/* Reusable working memory of the sparse paths on a backend's device (grows, never shrinks).
 * Zero-initialise; the first call that needs it allocates through its backend (owner). It also
 * keeps AUTO's last sparsity estimate (est_*): calls of the same backend, shape and dtype through
 * the same workspace reuse it, measuring again every QT_SPMM_REMEASURE calls, so that the measure
 * (on a device, a read-back that waits for it; on the host, a pass over A's sampled rows) is paid
 * once per QT_SPMM_REMEASURE calls. Activations of one layer keep their sparsity from call to
 * call; a change shows within QT_SPMM_REMEASURE calls, and every path is exact meanwhile. */
#define QT_SPMM_REMEASURE 16
typedef struct {
    qt_backend_t *owner;
    void *buf;
    size_t cap;
    const qt_backend_t *est_be; /* AUTO's estimate: backend, shape and dtype it was measured for */
    int64_t est_M, est_K;
    int est_dtype, est_age;     /* est_age: calls since the measure (0: none) */
    double est_se, est_sc;
} qt_spmm_ws_t;
QT_API void qt_spmm_ws_free(qt_spmm_ws_t *ws);

/* What a matmul call saw and did (optional output). */
typedef struct {
    qt_spmm_path_t path; /* the path that ran (AUTO resolves to one of the others) */
    int64_t nnz;         /* nonzeros of A (-1 when the path did not count them: DENSE) */
    int64_t zero_cols;   /* columns of A zero in every row (-1 when not counted) */
} qt_spmm_info_t;

/* ---- a backend's sparse ops (qt_backend_ops(be, QT_TECH_SPARSE)) ----
 * The qt_sparse_* entry points below validate shapes, dtypes and devices once; the ops
 * trust them. Activations are required of every ops table (f32). */
typedef struct {
    /* 1 when this backend implements matmul path p (never asked for AUTO: the dispatcher is
     * common code) for operands of dtype dt. */
    int (*supports)(const qt_backend_t *be, qt_spmm_path_t p, qt_dtype_t dt);
    /* y = act(x), x and y (rows, cols); y may alias x. */
    qt_status_t (*act_forward)(qt_backend_t *be, const qt_act_t *act, const qt_tensor_t *x, qt_tensor_t *y);
    /* dx = dy where y != 0 (same shapes; dx may alias dy). */
    qt_status_t (*act_backward)(qt_backend_t *be, const qt_tensor_t *y, const qt_tensor_t *dy, qt_tensor_t *dx);
    /* Y = A·W through path p (not AUTO); ws may be NULL (allocate per call), info may be NULL. */
    qt_status_t (*matmul)(qt_backend_t *be, qt_spmm_path_t p, const qt_tensor_t *A, const qt_tensor_t *W,
                          qt_tensor_t *Y, qt_spmm_ws_t *ws, qt_spmm_info_t *info);
    /* Nonzeros of rows ⌊(2i+1)·M/(2r)⌋, i < r (1 ≤ r ≤ M; r = M: every row) of A (M,K) and the
     * columns zero in all of them. */
    qt_status_t (*measure)(qt_backend_t *be, const qt_tensor_t *A, int64_t r, int64_t *nnz, int64_t *zero_cols);
} qt_sparse_ops_t;

/* 1 when instance be runs matmul `path` on these operands (any may be NULL to ask about the
 * path only; then f32): it has sparse ops, implements the path (AUTO: DENSE, the fallback)
 * for A's dtype, and every operand given lives on be's device. Else 0, the reason in why. */
QT_API int qt_sparse_supports(const qt_backend_t *be, qt_spmm_path_t path, const qt_tensor_t *A, const qt_tensor_t *W,
                       const qt_tensor_t *Y, char *why, size_t why_size);
/* The same for an activation on x → y (either NULL: not checked), including the DTHRESH
 * state's device. */
QT_API int qt_sparse_act_supports(const qt_backend_t *be, const qt_act_t *act, const qt_tensor_t *x, const qt_tensor_t *y,
                           char *why, size_t why_size);

/* Checked entry points. x, y: f32 (rows, cols), contiguous, on be's device; y may alias x.
 * Bad arguments (NULL, rows/cols ≤ 0, k outside [1, cols], DTHRESH state with channels ≠
 * cols) → QT_ERR_ARG / QT_ERR_SHAPE with a message; a backend or device that cannot run it
 * → QT_ERR_UNSUPPORTED with the reason. */
QT_API qt_status_t qt_sparse_act_forward(qt_backend_t *be, const qt_act_t *act, const qt_tensor_t *x, qt_tensor_t *y);
/* dx = dy where y != 0: y, dy, dx f32 of one shape; dx may alias dy. */
QT_API qt_status_t qt_sparse_act_backward(qt_backend_t *be, const qt_tensor_t *y, const qt_tensor_t *dy, qt_tensor_t *dx);
/* Y = A·W through `path` (AUTO: the dispatcher, with `table` — NULL: be's built-in defaults;
 * a table of another backend → QT_ERR_ARG). A (M,K), W (K,N), Y (M,N) of one dtype (f32, or
 * bf16 where be supports it) on be's device
 * (QT_ERR_SHAPE naming a mismatch; Y must not overlap A or W); QT_ERR_UNSUPPORTED when be
 * lacks the path. ws, info may be NULL. */
QT_API qt_status_t qt_sparse_matmul(qt_backend_t *be, qt_spmm_path_t path, const qt_tensor_t *A, const qt_tensor_t *W,
                             qt_tensor_t *Y, const qt_xover_table_t *table, qt_spmm_ws_t *ws, qt_spmm_info_t *info);
/* Exact nonzeros of A (M,K) and its all-zero columns, through be's measure op (either output
 * may be NULL). */
QT_API qt_status_t qt_sparse_measure(qt_backend_t *be, const qt_tensor_t *A, int64_t *nnz, int64_t *zero_cols);

#ifdef __cplusplus
}
#endif
#endif
