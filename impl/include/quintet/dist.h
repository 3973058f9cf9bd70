/* dist.h — distributed training over a communicator backend (`mpi`: host buffers over MPI;
 * `nccl`: GPU buffers over NCCL, one process per GPU, through the same ops table): collectives, data / tensor / hybrid parallel training of
 * a two-layer MLP, gradient compression, local SGD, load-balance metrics, and failure timeouts.
 *
 * A communicator backend instance (backend.h: qt_backend_init(&be, "mpi", &p), p.comm = a
 * pointer to an MPI_Comm or NULL for the world) has be->rank, be->world and a qt_dist_ops_t
 * table (qt_backend_ops(be, QT_TECH_DIST)). Host backends have none: calls here on them fail
 * with QT_ERR_UNSUPPORTED. Every function returns a qt_status_t with a message; nothing aborts.
 *
 * COLLECTIVES (all ranks call with the same counts; buffers on the host, or on the GPU of an nccl
 * instance, where host buffers (scalars, checksums) travel over its bootstrap MPI communicator):
 *   all-reduce      recv[i] = op over ranks r of send_r[i]                      (count each)
 *   reduce-scatter  recv[i] = op_r send_r[rank·count + i]      (send n·count, recv count)
 *   all-gather      recv[r·count + i] = send_r[i]                 (send count, recv n·count)
 *   broadcast       buf[i] = buf_root[i]
 *   all-to-all      recv[r·count + i] = send_r[rank·count + i]        (n·count both ways)
 * The blocking calls here wait with a deadline (qt_dist_set_timeout, default 120 s or
 * $QT_DIST_TIMEOUT_S): they start the non-blocking MPI collective and poll it; past the deadline
 * they return QT_ERR_STATE "… timed out after T s: a rank died or hangs" instead of hanging.
 * Each adds the bytes this rank hands to the collective to QT_CTR_BYTES_SENT (counters.h).
 * Check data (nccl-tests style): send_r[i] = 1 + (i·7 + r·13 + seed) mod 15, small integers,
 * so every result is an exact float sum every rank can compute; qt_dist_check_count counts
 * the received values that differ from it (wrong_values).
 * Bandwidths (nccl-tests, PERFORMANCE.md): algbw = S / t with S = count·size for all-reduce
 * and broadcast and S = n·count·size for reduce-scatter, all-gather and all-to-all;
 * busbw = algbw · 2(n−1)/n (all-reduce), (n−1)/n (reduce-scatter, all-gather, all-to-all),
 * 1 (broadcast): qt_dist_busbw_factor.
 *
 * THE MLP: y = W2·relu(W1·x + b1) + b2, softmax cross-entropy over `classes`, loss = mean over
 * the GLOBAL batch B, plain SGD w ← w − lr·g, every layer initialised exactly as a single
 * process would (qt_nn_linear_init with the config's seed), data from qt_dist_data_batch (a
 * seeded teacher task every rank can generate). Parallel forms, all on one code path:
 *   data parallel (DP): dp ranks each take rows [off_r, off_r + rows_r) of the global batch
 *       (equal shares, or cfg.shares); local gradient of Σ_rows loss / B; the gradient buffer
 *       [W2 b2 W1 b1] (backward order) is cut into buckets of cfg.bucket_bytes; a bucket's
 *       non-blocking all-reduce (sum) starts as soon as the backward pass has produced all its
 *       entries, so layer 2's buckets travel while layer 1's backward computes; all buckets are
 *       waited for before the update. Weights stay bitwise identical on every rank
 *       (qt_dist_mlp_checksum, compared across ranks by qt_dist_mlp_check_replicas).
 *   tensor parallel (TP, Megatron-LM column→row): W1 split by output rows (hidden units
 *       [h0, h1) per rank — equal, or cfg.tp_shares of them: an uneven split — column-parallel:
 *       relu is local), W2 split by input columns
 *       (row-parallel): z_r = W2[:, h0:h1]·h_r, ONE all-reduce (sum) of z over the TP ranks in
 *       forward, then + b2; backward: dz is replicated, local dW2, db2 (identical on every TP
 *       rank), dh_r, dW1_r, and the input gradient dx = Σ_r W1_rᵀ dh_r by ONE all-reduce.
 *   hybrid: the world as a dp × tp grid: rank = dp_index·tp + tp_index, TP groups are
 *       consecutive ranks (qt_dist_grid_split makes both communicators with MPI_Comm_split).
 *   Equal to the single process up to float summation order (tests/dist: rel. error ≤ 1e-4
 *   after several steps).
 *
 * GRADIENT COMPRESSION (qt_dist_compress_*; replaces DP's bucketed all-reduce; the mean over
 * dp ranks of the decompressed gradients is applied). For each scheme the bytes handed to the
 * network (bytes_sent) and the dense f32 size (logical bytes) are reported:
 *   topk     error feedback with optional DGC momentum correction m (m = 0: plain EF):
 *            u ← m·u + g; v ← v + u; S = indices of the k = ⌈ratio·n⌉ largest |v|
 *            (ties: lower index); send (S, v_S) by all-gather; zero u and v on S.
 *            Residual after the step = v with v_S = 0, exactly. bytes_sent = 6k (2-byte
 *            indices, n ≤ 65536) or 8k.
 *            layerwise: S = the ⌈ratio·n_t⌉ largest of each piece t (DGC selects per layer, so
 *            a layer with small gradients is not starved by one with large ones).
 *            warm-up (DGC): at step t < W = warmup_steps the density is
 *            max(ratio, 0.25^(1 + ⌊4t/W⌋)): 25%, 6.25%, 1.56%, 0.39%, … until the target.
 *   randomk  the same, S = k distinct indices drawn from Philox(seed, step) identically on
 *            every rank, so only the values travel (all-reduce of k floats): bytes_sent = 4k.
 *   qsgd     s levels (s ≤ 127): ‖v‖₂ and q_i = sign(v_i)·(⌊s|v_i|/‖v‖⌋ + Bernoulli(frac));
 *            v̂_i = ‖v‖·q_i/s (unbiased: E v̂ = v); all-gather of n int8 + one float.
 *   int8     scale c = max|v|/127, q_i = stochastic rounding of v_i/c to an integer in
 *            [−127, 127] (unbiased); v̂ = c·q; all-gather of n int8 + one float.
 *   powersgd rank r, per weight matrix M (rows × cols) with error feedback and warm start
 *            (Vogels et al. 2019): M ← G + E; P = M·Q; all-reduce-mean P; orthonormalise P
 *            (modified Gram–Schmidt); Q = Mᵀ·P; all-reduce-mean Q; M̂ = P·Qᵀ; E ← M − M̂;
 *            Q kept for the next step. Vectors (biases) travel dense. bytes = 4r(rows+cols).
 *            At r = min(rows, cols) with P full rank, M̂ = mean_r M_r (exact up to rounding).
 * The stochastic draws come from Philox(seed, stream = step·world + rank, index i).
 *
 * LOCAL SGD: cfg.local_steps = H > 0: no gradient exchange; every H steps the weights are
 * averaged over the dp ranks (one all-reduce). H = 1 equals synchronous DP with SGD.
 *
 * ASYNCHRONOUS PARAMETER SERVER: cfg.ps = 1 (dp ranks ≥ 2, no TP, compression, local SGD or
 * shares): dp rank 0 is the server, holding the parameters; dp ranks 1..W (W = dp − 1) are
 * workers, each taking an equal share of the global batch. A worker's step computes its
 * gradient on the parameters it holds, sends it to the server (non-blocking point-to-point) and
 * receives the server's current parameters; the server's step applies W gradients as they
 * arrive (p ← p − lr·g; any mix of workers) and answers a worker only while
 * done_w − min_v done_v ≤ cfg.staleness = s (bounded staleness, stale-synchronous parallel):
 * no worker starts step c + 1 before every worker finished step c − s. s = 0 is synchronous
 * data-parallel SGD over the workers (tests/dist: equal to the single process ≤ 1e-4 rel.).
 * Steps are local: *loss from a worker's step is the mean over its own rows; from the server's,
 * the global batch's loss at its current parameters (no communication, so the server can
 * record loss against wall-clock). qt_dist_mlp_eval is collective: it broadcasts the server's
 * parameters to every worker (replicas then equal) and returns the server's global loss. Stats:
 * ps_max_gap (the largest clock gap the server allowed, ≤ s) and ps_mean_delay (updates applied
 * between a worker's parameters leaving the server and its gradient arriving).
 *
 * LOAD BALANCE: each step times this rank's compute and its wait in communication;
 * qt_dist_mlp_stats gathers them over every rank of the dp × tp grid: load_imbalance =
 * max_r compute_r / mean_r compute_r and the slowest rank (grid rank dp_index·tp + tp_index).
 * For TP, qt_dist_balance_shares over the tp instance with hidden units/s gives tp_shares. qt_dist_balance_shares turns measured rows/s per rank into batch shares
 * proportional to speed. cfg.slow_rank/slow_factor repeats that rank's compute (a deliberately
 * slow rank for the balance case).
 *
 * Run: tests/dist/test_dist.c under mpirun (make test); suites/dist_throughput.c
 * (quintet run dist_throughput --ranks N). */
#ifndef QUINTET_DIST_H
#define QUINTET_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/backend.h"
#include "quintet/fusion.h"
#include "quintet/status.h"
#include "quintet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the ops table a communicator backend implements ---- */
typedef enum { QT_DIST_F32 = 0, QT_DIST_F64, QT_DIST_I32, QT_DIST_U8 } qt_dist_dtype_t;
typedef enum { QT_DIST_SUM = 0, QT_DIST_MAX, QT_DIST_MIN } qt_dist_redop_t;
typedef struct qt_dist_req qt_dist_req_t; /* an outstanding non-blocking operation (backend-owned) */
typedef enum {
    QT_COLL_ALLREDUCE = 0,
    QT_COLL_REDUCE_SCATTER,
    QT_COLL_ALLGATHER,
    QT_COLL_BROADCAST,
    QT_COLL_ALLTOALL,
    QT_COLL_COUNT
} qt_coll_t;

typedef struct {
    /* Non-blocking collectives (send == recv: in place where the collective allows it). */
    qt_status_t (*iallreduce)(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                              qt_dist_redop_t op, qt_dist_req_t **req);
    qt_status_t (*ireduce_scatter)(qt_backend_t *be, const void *send, void *recv, size_t count,
                                   qt_dist_dtype_t dt, qt_dist_redop_t op, qt_dist_req_t **req);
    qt_status_t (*iallgather)(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                              qt_dist_req_t **req);
    qt_status_t (*ibroadcast)(qt_backend_t *be, void *buf, size_t count, qt_dist_dtype_t dt, int root,
                              qt_dist_req_t **req);
    qt_status_t (*ialltoall)(qt_backend_t *be, const void *send, void *recv, size_t count, qt_dist_dtype_t dt,
                             qt_dist_req_t **req);
    /* *done = 1 when req finished (req is then released); errors of the operation here. */
    qt_status_t (*test)(qt_backend_t *be, qt_dist_req_t *req, int *done);
    /* The library's blocking all-reduce, one call, no deadline (the suite's "bare" baseline). */
    qt_status_t (*allreduce_blocking)(qt_backend_t *be, const void *send, void *recv, size_t count,
                                      qt_dist_dtype_t dt, qt_dist_redop_t op);
    /* A new instance on the sub-communicator of ranks with the same color, ordered by key. */
    qt_status_t (*split)(qt_backend_t *be, int color, int key, qt_backend_t **out);
    /* This rank's host name (for the provenance of multi-node runs). */
    const char *(*host)(const qt_backend_t *be);
    /* Optional, for backends whose memory is not the host's (nccl): the check data of
     * qt_dist_check_fill / qt_dist_check_count computed on the device, on buffers there
     * (NULL: host buffers, the host functions). */
    qt_status_t (*check_fill)(qt_backend_t *be, qt_coll_t c, size_t count, uint64_t seed, float *buf);
    qt_status_t (*check_count)(qt_backend_t *be, qt_coll_t c, size_t count, uint64_t seed, const float *recv,
                               long long *wrong);
    /* Optional non-blocking point-to-point on host buffers (NULL: none; the parameter server
     * needs them): send count elements to rank peer with tag; receive at most count from peer
     * with tag (a shorter message completes it). Finished through test. */
    qt_status_t (*isend)(qt_backend_t *be, const void *buf, size_t count, qt_dist_dtype_t dt, int peer, int tag,
                         qt_dist_req_t **req);
    qt_status_t (*irecv)(qt_backend_t *be, void *buf, size_t count, qt_dist_dtype_t dt, int peer, int tag,
                         qt_dist_req_t **req);
} qt_dist_ops_t;

/* ---- collectives ---- */

/* "allreduce", "reduce_scatter", "allgather", "broadcast", "alltoall". */
QT_API const char *qt_coll_name(qt_coll_t c);
/* The nccl-tests busbw / algbw factor for n ranks. */
QT_API double qt_dist_busbw_factor(qt_coll_t c, int n);
/* Elements of the send and receive buffers of collective c with `count` per rank (see above). */
QT_API size_t qt_dist_coll_send_count(qt_coll_t c, size_t count, int n);
QT_API size_t qt_dist_coll_recv_count(qt_coll_t c, size_t count, int n);
/* The nccl-tests size S in bytes (f32) of collective c with `count` per rank. */
QT_API double qt_dist_coll_bytes(qt_coll_t c, size_t count, int n);

/* Deadline of every blocking call here, in seconds (> 0; process-wide). */
QT_API void qt_dist_set_timeout(double seconds);
QT_API double qt_dist_timeout(void);
/* 1 when be has dist ops; else 0 with the reason. */
QT_API int qt_dist_supported(const qt_backend_t *be, char *why, size_t why_size);

/* Tensor collectives (host tensors, f32, f64 or i32, contiguous; recv may be send for
 * all-reduce). Shapes: element counts as in the table above. */
QT_API qt_status_t qt_dist_allreduce(qt_backend_t *be, const qt_tensor_t *send, qt_tensor_t *recv, qt_dist_redop_t op);
QT_API qt_status_t qt_dist_reduce_scatter(qt_backend_t *be, const qt_tensor_t *send, qt_tensor_t *recv,
                                   qt_dist_redop_t op);
QT_API qt_status_t qt_dist_allgather(qt_backend_t *be, const qt_tensor_t *send, qt_tensor_t *recv);
QT_API qt_status_t qt_dist_broadcast(qt_backend_t *be, qt_tensor_t *buf, int root);
QT_API qt_status_t qt_dist_alltoall(qt_backend_t *be, const qt_tensor_t *send, qt_tensor_t *recv);
/* Collective c on f32 buffers of `count` per rank (broadcast: root 0, recv ignored). */
QT_API qt_status_t qt_dist_collective(qt_backend_t *be, qt_coll_t c, const float *send, float *recv, size_t count);
/* Wait for req with the deadline; `what` names it in the timeout message. */
QT_API qt_status_t qt_dist_wait(qt_backend_t *be, qt_dist_req_t *req, const char *what);
/* Raw blocking calls on host buffers (the helpers the layers below use). */
QT_API qt_status_t qt_dist_allreduce_raw(qt_backend_t *be, const void *send, void *recv, size_t count,
                                  qt_dist_dtype_t dt, qt_dist_redop_t op);
QT_API qt_status_t qt_dist_allgather_raw(qt_backend_t *be, const void *send, void *recv, size_t count,
                                  qt_dist_dtype_t dt);
QT_API qt_status_t qt_dist_barrier(qt_backend_t *be);

/* Check data of collective c: fill send (qt_dist_coll_send_count elements) for this rank; count
 * the wrong values of recv (qt_dist_coll_recv_count elements; broadcast: pass the buffer). */
QT_API void qt_dist_check_fill(qt_coll_t c, int rank, int n, size_t count, uint64_t seed, float *send);
QT_API long long qt_dist_check_count(qt_coll_t c, int rank, int n, size_t count, uint64_t seed, const float *recv);
/* The same on buffers that live on be's device (host backends: the host functions above; GPU
 * backends: kernels, through the ops' check_fill / check_count). */
QT_API qt_status_t qt_dist_check_fill_on(qt_backend_t *be, qt_coll_t c, size_t count, uint64_t seed, float *buf);
QT_API qt_status_t qt_dist_check_count_on(qt_backend_t *be, qt_coll_t c, size_t count, uint64_t seed, const float *recv,
                                          long long *wrong);

/* The grid: dp × tp = be->world; *dp_be holds the ranks with this rank's tp index (size dp),
 * *tp_be the ranks with its dp index (size tp). Free both with qt_backend_free. */
QT_API qt_status_t qt_dist_grid_split(qt_backend_t *be, int tp, qt_backend_t **dp_be, qt_backend_t **tp_be);

/* ---- gradient compression ---- */
typedef enum {
    QT_COMPRESS_NONE = 0,
    QT_COMPRESS_TOPK,
    QT_COMPRESS_RANDOMK,
    QT_COMPRESS_QSGD,
    QT_COMPRESS_INT8,
    QT_COMPRESS_POWERSGD,
    QT_COMPRESS_COUNT
} qt_compress_kind_t;
/* "none", "topk", "randomk", "qsgd", "int8", "powersgd"; parse: QT_ERR_ARG on others. */
QT_API const char *qt_compress_name(qt_compress_kind_t k);
QT_API qt_status_t qt_compress_parse(const char *s, qt_compress_kind_t *out);

typedef struct {
    qt_compress_kind_t kind;
    double ratio;    /* topk, randomk: fraction of entries sent (0, 1] */
    double momentum; /* topk: DGC momentum correction m (0: plain error feedback) */
    int layerwise;   /* topk: select ⌈ratio·n_t⌉ in each piece t (DGC) instead of k over all */
    int warmup_steps; /* topk, randomk: DGC sparsity warm-up over this many steps (0: none) */
    int levels;      /* qsgd: s in 1..127 */
    int rank;        /* powersgd: r ≥ 1 */
    uint64_t seed;   /* stochastic draws */
} qt_compress_config_t;

typedef struct qt_compressor qt_compressor_t;
/* A compressor for a gradient made of n_tensors consecutive pieces of rows[i] × cols[i] floats
 * (a vector: rows 1); state (residuals, momentum, PowerSGD's Q) lives in it. */
QT_API qt_status_t qt_compress_init(qt_compressor_t **c, const qt_compress_config_t *cfg, int n_tensors,
                             const int *rows, const int *cols);
QT_API void qt_compress_free(qt_compressor_t *c);
/* grad (this rank's, all pieces concatenated) ← mean over be's ranks of the decompressed
 * gradients; adds to the compressor's byte totals and QT_CTR_BYTES_SENT. be may have world 1. */
QT_API qt_status_t qt_compress_exchange(qt_compressor_t *c, qt_backend_t *be, float *grad);
/* Totals since init: bytes this rank handed to the network, and the dense f32 bytes it stood for. */
QT_API void qt_compress_bytes(const qt_compressor_t *c, double *sent, double *logical);
/* The error-feedback residual (topk, randomk: v; powersgd: E) of all pieces, NULL when none. */
QT_API const float *qt_compress_residual(const qt_compressor_t *c);

/* Building blocks, exposed for tests: */
/* Indices of the k largest |v_i| (ties: lower index first), ascending index order. */
QT_API qt_status_t qt_compress_topk_select(const float *v, size_t n, size_t k, uint32_t *idx);
/* Quantise v (n) to int8 q and a scale (qsgd with `levels`, or int8 when levels == 0);
 * decode: v̂_i = scale · q_i. Draws from Philox(seed, stream, i). */
QT_API qt_status_t qt_compress_quantize(const float *v, size_t n, int levels, uint64_t seed, uint64_t stream, int8_t *q,
                                 float *scale);

/* ---- the MLP and its parallel training ---- */
typedef struct {
    int in, hidden, classes; /* full layer sizes */
    int batch;               /* global batch B (rows per step over all dp ranks) */
    float lr;                /* SGD learning rate */
    size_t bucket_bytes;     /* DP all-reduce bucket size (0: 1 MiB) */
    uint64_t seed;           /* weights and data */
    const double *shares;    /* dp ranks' fractions of the batch (NULL: equal); sum 1 */
    const double *tp_shares; /* tp ranks' fractions of the hidden units (NULL: equal, hidden a
                                multiple of tp); sum 1: an uneven split of the layers */
    int local_steps;         /* local SGD: average weights every H steps (0: sync gradients) */
    qt_compress_config_t compress; /* kind NONE: bucketed all-reduce */
    int want_dx;             /* TP: compute the input gradient (the backward all-reduce) */
    int slow_rank;           /* dp rank whose compute is repeated slow_factor times (-1: none) */
    int slow_factor;
    int ps;                  /* 1: bounded-staleness asynchronous parameter server over dp */
    int staleness;           /* ps: the bound s ≥ 0 (0: synchronous) */
} qt_dist_mlp_config_t;

/* Defaults: 1 MiB buckets, lr 0.1, no compression, slow_rank −1. */
QT_API void qt_dist_mlp_config_default(qt_dist_mlp_config_t *cfg);

typedef struct qt_dist_mlp qt_dist_mlp_t;
/* dp and tp: communicator instances (NULL: a world of one). */
QT_API qt_status_t qt_dist_mlp_init(qt_dist_mlp_t **m, qt_backend_t *dp, qt_backend_t *tp, const qt_dist_mlp_config_t *cfg);
QT_API void qt_dist_mlp_free(qt_dist_mlp_t *m);
/* One step on global batch number `step` (each rank generates its own rows); *loss (may be
 * NULL) = the global mean loss before the update (one extra all-reduce of 2 doubles). */
QT_API qt_status_t qt_dist_mlp_step(qt_dist_mlp_t *m, int64_t step, double *loss);
/* The global mean loss of batch `step` without training. */
QT_API qt_status_t qt_dist_mlp_eval(qt_dist_mlp_t *m, int64_t step, double *loss);
/* FNV-1a of this rank's weight bytes; check_replicas compares it over the dp ranks and fails
 * with QT_ERR_STATE naming the first rank that differs. */
QT_API uint64_t qt_dist_mlp_checksum(const qt_dist_mlp_t *m);
QT_API qt_status_t qt_dist_mlp_check_replicas(qt_dist_mlp_t *m);
/* This rank's shard of the full parameters: W1 rows [h0, h1) etc. For tests: copy the full
 * single-process weights out (every rank gets the whole W1, b1, W2, b2 gathered over tp). */
QT_API qt_status_t qt_dist_mlp_get_full(qt_dist_mlp_t *m, float *W1, float *b1, float *W2, float *b2);
/* The input gradient dx (this rank's rows × in) of the last step (want_dx), NULL otherwise. */
QT_API const float *qt_dist_mlp_dx(const qt_dist_mlp_t *m, int *rows);

typedef struct {
    double compute_s, comm_wait_s; /* this rank, since the last reset */
    double mean_compute_s, max_compute_s;
    double load_imbalance;         /* max / mean compute over the dp ranks */
    int slowest_rank;              /* grid rank (dp_index·tp + tp_index) with the most compute */
    double bytes_sent, bytes_logical; /* gradient traffic of this rank */
    int64_t ps_max_gap;            /* ps: largest clock gap allowed (max over dp ranks) */
    double ps_mean_delay;          /* ps: mean updates between parameters sent and gradient applied */
    double phase_s[4];             /* GPU MLP, this rank: forward + loss, layer 2's backward, relu' +
                                      db1, dW1's chunks (seconds; 0 on the host path) */
} qt_dist_stats_t;
/* Gather the per-rank times over the dp ranks (collective) and reset them when reset != 0. */
QT_API qt_status_t qt_dist_mlp_stats(qt_dist_mlp_t *m, qt_dist_stats_t *st, int reset);
/* Shares proportional to rows_per_s over be's ranks (collective); out has be->world entries. */
QT_API qt_status_t qt_dist_balance_shares(qt_backend_t *be, double rows_per_s, double *out);

/* ---- data-parallel training of the fusion model (quintet/fusion.h; impl/dist/fusion_dp.c) ----
 * comm: a communicator instance (mpi: host buffers; nccl: this process's GPU) or NULL (a world
 * of one: the single-process run); compute: the instance the model runs on (one with fusion
 * ops on comm's device: cpu or ref beside mpi, cuda on the same GPU beside nccl). Global batch
 * s = positions [s·B, (s+1)·B) of the epoch's seeded shuffle of the data set (every rank draws
 * the same; B ≤ n); dp rank r computes qt_fusion_backward on rows [off_r, off_r + B_r) of it
 * (equal shares, the remainder to the first ranks): the gradient of their mean loss, scaled by
 * B_r/B and all-reduced (sum) through comm's ops, the same call for host and GPU buffers: the
 * gradient of the global batch's mean loss, the same bytes on every rank; then the same Adam
 * step (impl/optim, torch defaults but lr) on every rank keeps the replicas identical. On a GPU
 * the all-reduce is queued on comm's stream behind an event of the compute stream and Adam
 * behind an event of comm's stream: no host wait in a step unless the loss is asked for. */
typedef struct {
    qt_fusion_config_t model;
    int batch;     /* global batch B */
    double lr;     /* Adam learning rate */
    uint64_t seed; /* parameter init (qt_fusion_init_params) and the shuffle */
} qt_dist_fusion_config_t;
typedef struct qt_dist_fusion qt_dist_fusion_t;
/* train (host, f32; read at each epoch start: it must outlive f). Collective over comm: the
 * configuration and the data set's first sample must be the same on every rank (QT_ERR_STATE
 * naming the rank that differs). */
QT_API qt_status_t qt_dist_fusion_init(qt_dist_fusion_t **f, qt_backend_t *comm, qt_backend_t *compute,
                                       const qt_dist_fusion_config_t *cfg, const qt_fusion_data_t *train);
QT_API void qt_dist_fusion_free(qt_dist_fusion_t *f);
/* The next step; *loss (NULL: not read, no wait) = the global batch's mean loss before the update. */
QT_API qt_status_t qt_dist_fusion_step(qt_dist_fusion_t *f, double *loss);
/* The flat parameters (qt_fusion_n_params of the model) as doubles on the host (waits). */
QT_API qt_status_t qt_dist_fusion_params(qt_dist_fusion_t *f, double *host);
/* The gradient the last step applied (the all-reduced one: the global batch's), likewise. */
QT_API qt_status_t qt_dist_fusion_grads(qt_dist_fusion_t *f, double *host);
/* FNV-1a of the parameter bytes compared over comm's ranks: QT_ERR_STATE naming the first that differs. */
QT_API qt_status_t qt_dist_fusion_check_replicas(qt_dist_fusion_t *f);
/* This rank's rows of each global batch. */
QT_API int qt_dist_fusion_rows(const qt_dist_fusion_t *f);

/* The teacher task: x ~ N(0, 1) (rows [row0, row0+rows) of global batch `step`), label =
 * argmax of a fixed random linear teacher T·x (classes × in, from seed). */
QT_API void qt_dist_data_batch(uint64_t seed, int64_t step, int batch, int row0, int rows, int in, int classes, float *x,
                        int32_t *y);

#ifdef __cplusplus
}
#endif
#endif
