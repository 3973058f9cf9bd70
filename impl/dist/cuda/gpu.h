/* gpu.h — impl/dist's GPU parts, built when CUDA is (nvcc; QT_HAVE_CUDA), declared in plain C
 * (mlp.c and the tests are compiled by gcc without CUDA headers). Internal to libquintet.
 *
 *   top-k with error feedback on the GPU (topk.cu): exactly compress.c's topk (dist.h):
 *     u ← m·u + g; v ← v + u; S = the k = ⌈d·n⌉ largest |v| (ties: lower index; layerwise: per
 *     piece), the same message bytes (k indices in 2 bytes when n ≤ 65536, else 4, then k
 *     values) all-gathered over the instance's NCCL (its stream), decoded in rank order:
 *     grad = (Σ_r decoded_r) / world; u and v zeroed on S. The k-th largest |v| by a grid-wide
 *     radix select (4 passes of 8-bit histograms of the |v| bit patterns, a global histogram
 *     per pass, the bin picked on the device: no host round trip), then the kept set in index
 *     order by two exclusive scans (CUB): keys above the k-th, and the first `need` equal ones.
 *   the data-parallel MLP on the GPUs of an nccl instance (mlp.cu): dist.h's MLP, the same
 *     flat parameter layout [W2 b2 W1 b1] as mlp.c; cuBLAS forward and backward on a compute
 *     stream of its own; buckets aligned to the layers (layer 2's gradient, then W1's gradient
 *     computed a bucket of rows at a time, b1 riding with the last); each bucket's all-reduce
 *     is enqueued on the instance's stream (the communication stream) behind an event recorded
 *     when the op that completes the bucket is done, so layer 2's buckets and each finished W1
 *     chunk travel while the rest of layer 1's backward runs; the update of all but the last
 *     bucket overlaps the last bucket's all-reduce, the rest waits for it (events on the
 *     communication stream); the requests are reaped one step later, so the host never stalls
 *     the GPU. Optional top-k.
 *   ordering and scaling (stream.cu): a CUDA instance's stream made to wait, on the device, for
 *     the work queued so far on another's (an event; the fusion DP driver's compute stream and
 *     the nccl instance's communication stream), and a scale kernel on an instance's stream.
 * Tests: tests/dist/test_nccl.c (device parts skip without a GPU, saying why). */
#ifndef QUINTET_DIST_CUDA_GPU_H
#define QUINTET_DIST_CUDA_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/dist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- top-k with error feedback on the GPU ---- */
typedef struct qt_dist_gtopk qt_dist_gtopk_t;
/* be: a GPU communicator instance (nccl); cfg->kind must be QT_COMPRESS_TOPK. */
qt_status_t qt_dist_gtopk_init(qt_dist_gtopk_t **c, qt_backend_t *be, const qt_compress_config_t *cfg, int n_tensors,
                               const int *rows, const int *cols);
void qt_dist_gtopk_free(qt_dist_gtopk_t *c);
/* grad (n floats on be's GPU) ← the mean over be's ranks of the decompressed top-k gradients;
 * queued on be's stream (the caller orders it after the work that produced grad); returns when
 * the all-gather is done (the decode is queued). */
qt_status_t qt_dist_gtopk_exchange(qt_dist_gtopk_t *c, qt_backend_t *be, float *grad);
void qt_dist_gtopk_bytes(const qt_dist_gtopk_t *c, double *sent, double *logical);
/* The residual v (n floats) copied to the host (waits for be's stream). */
qt_status_t qt_dist_gtopk_residual(qt_dist_gtopk_t *c, qt_backend_t *be, float *host_v);
/* Building block, for tests: the indices (ascending) of the k largest |v_i| of v (n floats on
 * be's GPU), ties to the lower index, copied to idx (host, k entries). */
qt_status_t qt_dist_gtopk_select(qt_backend_t *be, const float *v, size_t n, size_t k, uint32_t *idx);

/* ---- the data-parallel MLP on the GPU ---- */
typedef struct qt_dist_gmlp qt_dist_gmlp_t;
/* dp: the GPU communicator (its rank takes `rows` rows of each global batch); p0: the initial
 * flat parameters [W2 (C×H) b2 W1 (H×I) b1] on the host; data_x / data_y: `batches` batches of
 * this rank's rows (host). cfg: in, hidden, classes, batch, lr, bucket_bytes, compress (none or
 * topk), slow_rank / slow_factor. */
qt_status_t qt_dist_gmlp_init(qt_dist_gmlp_t **g, qt_backend_t *dp, const qt_dist_mlp_config_t *cfg, int rows,
                              int batches, const float *data_x, const int32_t *data_y, const float *p0);
void qt_dist_gmlp_free(qt_dist_gmlp_t *g);
/* One step on batch `step`; *local_loss (NULL: not read, no wait) = mean loss over this rank's
 * rows before the update (waits for the step). */
qt_status_t qt_dist_gmlp_step(qt_dist_gmlp_t *g, int64_t step, double *local_loss);
/* The mean loss over this rank's rows of batch `step`, no update (waits). */
qt_status_t qt_dist_gmlp_eval(qt_dist_gmlp_t *g, int64_t step, double *local_loss);
/* The flat parameters (n floats) to the host (waits). */
qt_status_t qt_dist_gmlp_params(qt_dist_gmlp_t *g, float *host_p);
/* Seconds of forward + backward and of communication exposed after the backward (the time from
 * the end of the backward to the last bucket's completion), accumulated since the last call
 * (GPU events; waits for the queued steps); phase_s (NULL: not wanted): the backward's parts,
 * forward + loss, layer 2's backward, relu' + db1, dW1's chunks (dist.h qt_dist_stats_t). */
qt_status_t qt_dist_gmlp_times(qt_dist_gmlp_t *g, double *compute_s, double *wait_s, double *phase_s);
/* top-k: the compressor's byte totals; dense: 0, 0. */
void qt_dist_gmlp_bytes(const qt_dist_gmlp_t *g, double *sent, double *logical);

/* ---- ordering and scaling on CUDA instances (cuda, nccl: both keep a qt_cuda_ctx_t) ---- */
/* waiter's stream waits (on the device, no host wait) for the work queued so far on signaler's. */
qt_status_t qt_dist_cuda_after(qt_backend_t *waiter, qt_backend_t *signaler);
/* p[i] ·= a for i < n (f32, or f64 when f64 != 0), queued on be's stream. */
qt_status_t qt_dist_cuda_scale(qt_backend_t *be, void *p, size_t n, int f64, double a);

/* cudaPointerGetAttributes(p).type (0 unregistered host, 1 pinned host, 2 device, 3 managed), -1
 * when the call fails: how the nccl backend will classify a buffer (diagnostics and tests). */
int qt_dist_cuda_pointer_type(const void *p);

#ifdef __cplusplus
}
#endif
#endif
