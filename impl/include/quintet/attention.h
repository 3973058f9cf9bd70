/* attention.h — batched multi-head attention for long sequences: dense, sliding
 * window, LSH (Reformer) and dynamic (window ∪ LSH buckets), with an ops table and
 * a registry of backends (ref = the double-precision oracle, cpu = tiled, online
 * softmax, OpenMP + SIMD). Used by suites/attention_scaling.c and
 * tests/attention/test_attention.c (run: make test).
 *
 * Tensors: Q, K, V and the output O are float32 (every backend; bf16 or f16, all four of one
 * type, where a backend implements them: cuda), contiguous, shape (B, H, T, D).
 * Scores are s_ij = q_i·k_j / sqrt(D); O_i = Σ_{j∈S(i)} softmax_j(s_ij) v_j over the
 * key set S(i) of the variant, intersected with the *valid* keys:
 *   - key-padding mask (optional): float32 (B, T); mask[b][j] == 0 marks key j of
 *     batch b as padding (score -inf), any other value keeps it. (Like the boolean
 *     attn_mask of PyTorch's scaled_dot_product_attention: nonzero = takes part.)
 *   - causal: keys j > i are invalid.
 * A query whose key set is empty after masking (all its keys padded) outputs a row
 * of ZEROS. PyTorch's scaled_dot_product_attention returns NaN for such a row
 * (softmax of all -inf); nn.MultiheadAttention likewise. quintet chooses zeros so
 * padded batches never poison later layers; compare with masks that leave every
 * query at least one key when checking against PyTorch.
 *
 * Variants (qt_attn_config_t; positions i (query) and j (key) in 0..T-1):
 *   DENSE    S(i) = all keys.
 *   WINDOW   S(i) = { j = i + m·dilation : -w_left <= m <= w_right } (w_right is taken as
 *            0 when causal), i.e. W = w_left + w_right + 1 keys spaced `dilation` apart
 *            (dilation 1: the contiguous window [i-w_left, i+w_right], as FlashAttention's
 *            window_size=(left,right)). Requires w_left >= 1, w_right >= 0, dilation >= 1.
 *   LSH      Reformer (Kitaev et al. 2020). For each round r < n_hashes a Gaussian
 *            rotation R_r (D × n_buckets/2; entry (d, b) is normal #(b·D + d) of
 *            Philox(seed, stream = head·4096 + r), so fresh per round and per head, shared
 *            over the batch) hashes h(x) = argmax([xR_r ; -xR_r]) ∈ [0, n_buckets), ties to
 *            the first maximum; queries and keys both use R_r. Queries and keys are each
 *            stably sorted by (bucket, position) and cut into chunks of `chunk` positions;
 *            query chunk c attends to key chunks c and c-1 (no wrap-around: chunk 0 sees
 *            only itself). With shared_qk, keys are the unit-normalised queries
 *            (k_j = q_j/|q_j|, K is ignored and may be NULL), queries and keys share one
 *            sort, and a query attends to itself only when no other valid key is in its
 *            round's set. A_r(i) is round r's set; count(i,j) = #{r : j ∈ A_r(i)}. Round r
 *            gives o_r(i) and lse_r(i) from the scores s_ij - log count(i,j) over A_r(i)
 *            (the duplicate-count correction), and the rounds are combined with
 *            log-sum-exp weights: O_i = Σ_r exp(lse_r - logsumexp_r lse_r) o_r. This equals
 *            exact softmax over the union ∪_r A_r(i) with each key counted once.
 *            Causal LSH never attends to a later key, but which earlier keys share a
 *            query's chunk depends on where all positions sort (Reformer's scheme).
 *            Hashing costs T·D·n_buckets/2 multiply-adds per round and side, quadratic
 *            in T when n_buckets grows with T. bucket_factor f > 0 factorises as trax's
 *            n_buckets = [f, n_buckets/f] does: h = h1 + f·h2 with h1 from a D × f/2
 *            rotation (the stream above) and h2 from a D × (n_buckets/f)/2 rotation
 *            (stream + 2048), costing T·D·(f + n_buckets/f)/2.
 *   DYNAMIC  S(i) = WINDOW(i) ∪ { j : ∃r  h_r(k_j) = h_r(q_i) } (same hashing as LSH, no
 *            chunking), every key counted once: the source idea "adjust the window with
 *            LSH locating the important regions" done correctly. (The LSH self rule does
 *            not apply: the window always contains i.)
 * shared_qk applies to every variant (keys = unit-normalised queries).
 *
 * Hashing, exactly (so that every backend, a GPU included, finds the same buckets): the
 * rotation entries are the f32 roundings of the Philox normals; the projection of row x on
 * column b is evaluated in f32 as the FMA chain p ← fma(x_d, R_db, p) for d = 0, 1, …, D−1
 * from p = 0 (one rounding per step); the bucket is the index of the FIRST maximum of
 * [p_0 … p_{n/2−1}, −p_0 … −p_{n/2−1}] (so +p wins a tie with −p, and the lower column
 * wins among equals). ref hashes with a plain loop (ref.c), cpu with a vectorised one
 * (cpu_lsh.c); tests/attention checks their buckets are identical. Counters: QT_CTR_FLOPS (flops actually done, including
 * masked entries a tile computed and hashing), QT_CTR_ATTN_PAIRS (query-key scores
 * computed), QT_CTR_BYTES_READ / _WRITTEN (Q, K, V read once, O written once). */
#ifndef QUINTET_ATTENTION_H
#define QUINTET_ATTENTION_H

#include <stddef.h>
#include "quintet/api.h"

#include <stdint.h>

#include "quintet/backend.h"
#include "quintet/status.h"
#include "quintet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_ATTN_DENSE = 0,
    QT_ATTN_WINDOW,
    QT_ATTN_LSH,
    QT_ATTN_DYNAMIC,
    QT_ATTN_VARIANT_COUNT
} qt_attn_variant_t;

#define QT_ATTN_MAX_HASHES 64 /* upper bound on n_hashes */

typedef struct {
    qt_attn_variant_t variant;
    int causal;    /* 1: key j > query i is invalid */
    int w_left;    /* WINDOW/DYNAMIC: keys to the left (>= 1) */
    int w_right;   /* WINDOW/DYNAMIC: keys to the right (>= 0; ignored when causal) */
    int dilation;  /* WINDOW/DYNAMIC: spacing of window keys (>= 1) */
    int n_buckets; /* LSH/DYNAMIC: buckets per round, even, >= 2 */
    int n_hashes;  /* LSH/DYNAMIC: hashing rounds, 1..QT_ATTN_MAX_HASHES */
    int chunk;     /* LSH: chunk length (>= 1; Reformer's default 64) */
    int bucket_factor; /* LSH/DYNAMIC: 0, or f: factorised hashing into f × n_buckets/f (both even) */
    int shared_qk; /* 1: keys are the unit-normalised queries (K ignored) */
    uint64_t seed; /* LSH/DYNAMIC: seed of the random rotations */
} qt_attn_config_t;

/* Defaults for a variant: bidirectional, w_left = w_right = 64, dilation 1,
 * n_buckets 8, n_hashes 4, chunk 64, no bucket factorisation, separate Q/K, seed 1. */
QT_API void qt_attn_config_init(qt_attn_config_t *cfg, qt_attn_variant_t variant);
/* "dense" / "window" / "lsh" / "dynamic" ("?" when out of range). */
QT_API const char *qt_attn_variant_name(qt_attn_variant_t v);
/* Parse a variant name (QT_ERR_ARG on anything else). */
QT_API qt_status_t qt_attn_variant_parse(const char *s, qt_attn_variant_t *out);

/* Check a configuration and the tensors of one call (see the file comment);
 * QT_ERR_ARG / QT_ERR_SHAPE with a message on the first problem. mask may be NULL;
 * k may be NULL when cfg->shared_qk. */
QT_API qt_status_t qt_attn_validate(const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                             const qt_tensor_t *v, const qt_tensor_t *mask, const qt_tensor_t *out);

/* A backend's attention ops (backend.h: qt_backend_ops(be, QT_TECH_ATTENTION)). */
typedef struct {
    /* 1 when this backend implements cfg (variant and options) for inputs of dtype dt. */
    int (*supports)(const qt_backend_t *be, const qt_attn_config_t *cfg, qt_dtype_t dt);
    /* out = attention(q, k, v, mask) per cfg; arguments were validated by qt_attn_forward and
     * live on be's device. */
    qt_status_t (*forward)(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                           const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask, qt_tensor_t *out);
    /* The LSH buckets this backend's hashing gives (see qt_attn_lsh_buckets); NULL when the
     * backend has no LSH. */
    qt_status_t (*lsh_buckets)(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                               qt_tensor_t *buckets);
} qt_attn_ops_t;

/* 1 when backend instance be runs cfg on these operands: it has attention ops, supports the
 * variant and options for q's dtype, and every operand given lives on be's device (operands
 * may be NULL to ask about the configuration only: q NULL means f32). Otherwise 0 and the
 * reason in why (may be NULL). */
QT_API int qt_attn_supports(const qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                     const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask, const qt_tensor_t *out,
                     char *why, size_t why_size);
/* Run cfg on backend instance be: validates shapes and devices, QT_ERR_UNSUPPORTED (with the
 * reason) when be cannot run it. Asynchronous on device backends: errors of the work itself
 * may surface at qt_backend_synchronize. */
QT_API qt_status_t qt_attn_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                            const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask,
                            qt_tensor_t *out);

/* The bucket of every row of x (B, H, T, D; f32) in every hashing round of cfg (n_buckets,
 * n_hashes, bucket_factor, seed), as backend be hashes: buckets is (B, H, n_hashes, T) i32 on
 * be's device. The rule (file comment) is exact, so every backend must give the oracle's
 * buckets bit for bit; tests/attention checks it. */
QT_API qt_status_t qt_attn_lsh_buckets(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *x,
                                qt_tensor_t *buckets);

/* Useful FLOPs of one forward (FlashAttention's convention): dense 4·B·H·T²·D, halved
 * when causal; window 4·B·H·T·W·D with W = w_left + w_right + 1 (w_left + 1 when causal);
 * LSH 4·B·H·T·(2·chunk·n_hashes)·D (its nominal key set per query; halved when causal);
 * dynamic: W plus n_hashes·T/n_buckets expected same-bucket keys per query (that part
 * halved when causal). The keys per query never exceed dense's (T, or (T+1)/2 causal);
 * keys a window would read beyond the sequence ends are not subtracted. */
QT_API double qt_attn_useful_flops(const qt_attn_config_t *cfg, int64_t B, int64_t H, int64_t T, int64_t D);

/* Accuracy of an attention output against exact dense attention (same causal flag,
 * mask and shared_qk), computed naively in double on every row_stride-th query row of
 * every (b, h) (row_stride 1: all rows; larger strides sample, for long sequences):
 *   rel_error   = ||O - O_dense||_F / ||O_dense||_F over those rows (NaN when out is NULL);
 *   mass_recall = mean over those rows that have a valid key of Σ_{j∈S(i)} p_ij, the dense
 *                 softmax probability mass inside the variant's key set S(i) (for LSH the
 *                 union over rounds). 1 for dense. */
typedef struct {
    double rel_error;
    double mass_recall;
    int64_t rows; /* query rows evaluated */
} qt_attn_accuracy_t;
QT_API qt_status_t qt_attn_accuracy(const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                             const qt_tensor_t *v, const qt_tensor_t *mask, const qt_tensor_t *out,
                             int row_stride, qt_attn_accuracy_t *acc);

#ifdef __cplusplus
}
#endif
#endif
