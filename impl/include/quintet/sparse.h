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
 * Sparsity-aware matmul Y (M,N) = A (M,K)·W (K,N), all row-major f32, A with many zeros:
 *   DENSE    OpenBLAS sgemm (sgemv for M = 1): the baseline.
 *   GATHER   per-row nonzero lists of A; for each row, y = Σ_k a_k·W[k,:] over its nonzeros,
 *            FMA axpy over 8 rows of W at a time, threads split N, so each touched row of W
 *            is streamed once per row of A. GEMV-like: for a few rows.
 *   COLSKIP  columns of A that are zero in every row are dropped; the surviving columns of A
 *            and rows of W are packed and one compact OpenBLAS sgemm runs on them.
 *   CSR      A converted to CSR, SpMM with threads over rows and N tiled so a tile of W
 *            stays in cache across rows. For many rows with scattered zeros.
 *   AUTO     dispatcher: estimates element sparsity s_e = 1 − nnz/(M·K) and column sparsity
 *            s_c = (columns zero in every row)/K from a sample of rows (exact when M ≤ 8 or
 *            M·K is small; see estimate_sparsity in impl/sparse/cpu.c), estimates each path's speedup over DENSE
 *            from a crossover table (qt_xover_table_t: measured speedups per path, per
 *            batch-size bucket, W-size bucket and structure class (zeros nearly all in
 *            whole columns or not), at a grid of the path's own sparsity
 *            measure — s_c for COLSKIP, s_e for the others — linearly interpolated; held
 *            at the last point above the grid, 0 more than 0.02 below its first point), and
 *            runs the path with the largest estimate (DENSE when none exceeds 1).
 * The suite (suites/sparsity.c) measures the table on the machine and writes it as a text
 * file (qt_xover_save); callers load it with qt_xover_load. Without a table the built-in
 * conservative defaults (qt_xover_defaults) apply.
 * Counters per call: QT_CTR_FLOPS (2 per multiply-add done), QT_CTR_ZEROS_SKIPPED
 * (multiply-adds skipped), QT_CTR_NONZEROS (nonzeros of A consumed by a sparse path, or
 * produced by an activation).
 *
 * Backends: "ref" (oracle: plain loops, double accumulation; DENSE only) and "cpu" (all
 * paths). Iterate them with qt_sparse_backend_count/qt_sparse_backend. Tests:
 * tests/sparse/test_sparse.c (make test); benchmarks: quintet run --suite sparsity. */
#ifndef QUINTET_SPARSE_H
#define QUINTET_SPARSE_H

#include "quintet/api.h"

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
    float *mu;     /* (channels) running mean of |x| */
    float *kappa;  /* (channels) scale */
    float *theta;  /* (channels) threshold κ·μ */
    int64_t steps; /* training batches seen */
} qt_dthresh_t;

/* Defaults: momentum 0.1, scale 1, no target, gain 0.5. */
QT_API qt_dthresh_config_t qt_dthresh_config_default(int channels);
/* Validate cfg (target outside [0,1) etc. → QT_ERR_ARG) and allocate zeroed state (κ = κ0). */
QT_API qt_status_t qt_dthresh_init(qt_dthresh_t *d, const qt_dthresh_config_t *cfg);
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

typedef struct {
    int n;
    qt_xover_point_t pt[QT_XOVER_MAX];
    char source[128]; /* "defaults" or the file it was loaded from */
} qt_xover_table_t;

/* Built-in conservative table. */
QT_API void qt_xover_defaults(qt_xover_table_t *t);
/* Append a point (QT_ERR_ARG when full or out of range). */
QT_API qt_status_t qt_xover_add(qt_xover_table_t *t, qt_spmm_path_t path, int64_t max_rows, int64_t max_wbytes,
                         int structured, double sparsity, double speedup);
/* Structure class of a problem: 1 when nearly all of its zeros lie in columns that are zero
 * in every row (s_col ≥ 0.9·s_elem, s_elem > 0; always so for one row), else 0. */
QT_API int qt_sparse_structured(double s_elem, double s_col);
/* Text file, one point per line "path max_rows max_wbytes structured sparsity speedup",
 * '#' comments.
 * Load: QT_ERR_IO when unreadable, QT_ERR_FORMAT on a bad line (t is left empty). */
QT_API qt_status_t qt_xover_load(qt_xover_table_t *t, const char *file);
QT_API qt_status_t qt_xover_save(const qt_xover_table_t *t, const char *file);
/* Estimated speedup of `path` over DENSE for an (M,K)·(K,N) problem with element sparsity
 * s_elem and column sparsity s_col (1 for DENSE, 0 when the table has no point for it). */
QT_API double qt_xover_estimate(const qt_xover_table_t *t, qt_spmm_path_t path, int64_t M, int64_t K, int64_t N,
                         double s_elem, double s_col);
/* The path AUTO picks for these measurements (argmax of qt_xover_estimate; DENSE on ties). */
QT_API qt_spmm_path_t qt_xover_choose(const qt_xover_table_t *t, int64_t M, int64_t K, int64_t N, double s_elem,
                               double s_col);

/* Reusable working memory of the sparse paths (grows, never shrinks). Zero-initialise. */
typedef struct {
    void *buf;
    size_t cap;
} qt_spmm_ws_t;
QT_API void qt_spmm_ws_free(qt_spmm_ws_t *ws);

/* What a matmul call saw and did (optional output). */
typedef struct {
    qt_spmm_path_t path; /* the path that ran (AUTO resolves to one of the others) */
    int64_t nnz;         /* nonzeros of A (-1 when the path did not count them: DENSE) */
    int64_t zero_cols;   /* columns of A zero in every row (-1 when not counted) */
} qt_spmm_info_t;

/* Arguments of one matmul (shared by the backends). */
typedef struct {
    const float *A; /* (M,K) */
    const float *W; /* (K,N) */
    float *Y;       /* (M,N), overwritten */
    int64_t M, K, N;
    const qt_xover_table_t *table; /* AUTO: NULL = defaults */
    qt_spmm_ws_t *ws;              /* NULL: allocate per call */
    qt_spmm_info_t *info;          /* NULL: not reported */
} qt_spmm_call_t;

/* ---- ops table and registry ---- */
typedef struct {
    const char *name; /* "ref", "cpu" */
    /* 1 when this backend implements matmul path p. Activations: every backend. */
    int (*supports)(qt_spmm_path_t p);
    /* Arguments were validated by the qt_sparse_* wrappers below. */
    qt_status_t (*act_forward)(const qt_act_t *act, const float *x, float *y, int64_t rows, int64_t cols);
    qt_status_t (*act_backward)(const float *y, const float *dy, float *dx, int64_t n);
    qt_status_t (*matmul)(qt_spmm_path_t p, const qt_spmm_call_t *c);
} qt_sparse_ops_t;

QT_API int qt_sparse_backend_count(void);
QT_API const qt_sparse_ops_t *qt_sparse_backend(int i);
/* By name; NULL when unknown. */
QT_API const qt_sparse_ops_t *qt_sparse_backend_find(const char *name);

/* Checked entry points. y may alias x; dx may alias dy. Bad arguments (NULL pointers,
 * rows/cols ≤ 0, k outside [1, cols], DTHRESH state with channels ≠ cols) → QT_ERR_ARG /
 * QT_ERR_SHAPE with a message. */
QT_API qt_status_t qt_sparse_act_forward(const qt_sparse_ops_t *ops, const qt_act_t *act, const float *x, float *y,
                                  int64_t rows, int64_t cols);
QT_API qt_status_t qt_sparse_act_backward(const qt_sparse_ops_t *ops, const float *y, const float *dy, float *dx,
                                   int64_t n);
/* Y = A·W through `path` (QT_ERR_UNSUPPORTED when ops lacks it; QT_ERR_SHAPE when
 * M, K, N ≤ 0; QT_ERR_ARG on NULL; Y must not overlap A or W). */
QT_API qt_status_t qt_sparse_matmul(const qt_sparse_ops_t *ops, qt_spmm_path_t path, const qt_spmm_call_t *c);

/* Same on tensors (f32, rank 2, contiguous): checks A (M,K), W (K,N), Y (M,N) agree
 * (QT_ERR_SHAPE naming the mismatch) and calls qt_sparse_matmul. */
QT_API qt_status_t qt_sparse_matmul_tensor(const qt_sparse_ops_t *ops, qt_spmm_path_t path, const qt_tensor_t *A,
                                    const qt_tensor_t *W, qt_tensor_t *Y, const qt_xover_table_t *table,
                                    qt_spmm_ws_t *ws, qt_spmm_info_t *info);

/* Count nonzeros of A and its all-zero columns (either output may be NULL). */
QT_API void qt_sparse_measure(const float *A, int64_t M, int64_t K, int64_t *nnz, int64_t *zero_cols);

#ifdef __cplusplus
}
#endif
#endif
