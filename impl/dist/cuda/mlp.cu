/* mlp.cu — dist.h's MLP trained data-parallel on the GPUs of an nccl instance (gpu.h states the
 * scheme; mlp.c dispatches here when its dp instance lives on a GPU). Per step, on a compute
 * stream of its own (its own cuBLAS handle; plain fp32 SGEMM, no TF32):
 *   forward   h = relu(x·W1ᵀ + b1), z = h·W2ᵀ + b2 (two SGEMMs, a bias(+relu) kernel each);
 *   loss      one thread per row: log-sum-exp in double, the row's loss, and
 *             dz = (softmax − onehot)/rows · rows/B (mlp.c's arithmetic, in its order);
 *   backward  dW2 = dzᵀ·h and db2 = dzᵀ·1 straight into the flat gradient g = [dW2 db2 dW1 db1];
 *             dh = dz·W2; then relu', db1 = dhᵀ·1, and dW1 = dhᵀ·x computed in chunks of W1 rows,
 *             one bucket each. The bias gradients are cuBLAS SGEMVs against a vector of ones
 *             (they were one thread per column summing the rows in order, as the host does: a
 *             serial loop of R dependent adds per thread, 4096 threads on 32 SMs with a few loads
 *             in flight each: by Little's law ~0.1 TB/s over the R×H dh, an estimated 0.5–1 ms
 *             of a 3.7 ms step at R = 8192; the GEMV streams it at memory bandwidth, and the
 *             suite's relu_db1_step_s now measures it. The order of the sum differs from the
 *             host's, which test_nccl's tolerances already allow for cuBLAS's GEMMs).
 *   buckets   aligned to the layers: [dW2 db2] cut into pieces of ≤ bucket_bytes, then dW1 by
 *             whole rows (bucket_bytes / 4·in rows a bucket), the last W1 chunk together with
 *             db1 (it follows W1 in g and is computed before the chunks: no bucket of its own is
 *             left to reduce after the last GEMM). After the op that completes a bucket the
 *             compute stream records the bucket's event; the communication stream (the nccl
 *             instance's own) waits for it and all-reduces the bucket, so layer 2's buckets and
 *             every finished W1 chunk travel while the remaining chunks compute. The update
 *             p ← p − lr·g runs on the compute stream in two parts: every bucket but the last
 *             once those are reduced (an event on the communication stream before the last
 *             bucket), overlapping the last bucket's all-reduce; then the last bucket's
 *             entries after it. The exposed tail is that one all-reduce less the first part of
 *             the update. With top-k, the compressor (topk.cu) replaces the buckets on the
 *             communication stream (then g ·= world, as mlp.c) and the update waits for it.
 *   requests  reaped after the next step's layer-2 backward is queued (the host never waits for
 *             a step the GPU has not reached); timings from events, two sets by step parity.
 * Buckets run for any world size, also one rank (NCCL's 1-rank all-reduce), so the same path
 * runs on one GPU. Kept C-style. Tests: tests/dist/test_nccl.c (gpu_dp_mlp: the loss trajectory
 * and weights against the CPU path on the same seed); benchmark: dist_throughput train_dp. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/cuda/cuda_ctx.h"
extern "C" {
#include "../internal.h"
}
#include "gpu.h"

#define TPB 256
#define GRID_LOOP(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

static unsigned blocks_for(size_t n)
{
    size_t b = (n + TPB - 1) / TPB;
    return (unsigned)(b < 1 ? 1 : b > 4096 ? 4096 : b);
}


/* y[r][j] = (y[r][j] + b[j]), then max(·, 0) when relu. */
static __global__ void bias_kernel(float *y, const float *b, size_t rows, int cols, int relu)
{
    GRID_LOOP(i, rows * (size_t)cols)
    {
        float v = __fadd_rn(y[i], b[i % (size_t)cols]);
        y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

/* mlp.c: qt_nn_softmax_xent (double log-sum-exp, g = (float)(e/rows), g[label] −= 1/rows) then
 * dz ·= scale. */
static __global__ void xent_kernel(const float *z, const int32_t *y, int rows, int C, float scale, float *dz,
                                   double *rowloss)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float *zr = z + (size_t)r * C;
    float mx = zr[0];
    for (int c = 1; c < C; c++)
        if (zr[c] > mx) mx = zr[c];
    double se = 0.0;
    for (int c = 0; c < C; c++) se += exp((double)zr[c] - mx);
    double lse = log(se) + mx;
    int lab = y[r];
    rowloss[r] = lse - zr[lab];
    float *g = dz + (size_t)r * C;
    for (int c = 0; c < C; c++) g[c] = (float)(exp((double)zr[c] - lse) / rows);
    g[lab] = __fsub_rn(g[lab], __fdiv_rn(1.0f, (float)rows));
    for (int c = 0; c < C; c++) g[c] = __fmul_rn(g[c], scale);
}

static __global__ void relu_bwd_kernel(float *dh, const float *h, size_t n)
{
    GRID_LOOP(i, n) dh[i] = h[i] > 0.0f ? dh[i] : 0.0f;
}

/* p ← p − lr·g, rounded as mlp.c's loop (-std=c11: no fused multiply-add). */
static __global__ void sgd_kernel(float *p, const float *g, float lr, size_t n)
{
    GRID_LOOP(i, n) p[i] = __fsub_rn(p[i], __fmul_rn(lr, g[i]));
}

static __global__ void scale_kernel(float *g, float a, size_t n)
{
    GRID_LOOP(i, n) g[i] = __fmul_rn(g[i], a);
}

/* a step's marks: compute stream T0 → FWD (forward + loss) → BWD2 (layer 2's backward) → RELU
 * (relu' and db1) → BWD1 (dW1's chunks); communication stream MID (every bucket but the last
 * reduced) and COMM (all reduced) */
enum { EV_T0, EV_FWD, EV_BWD2, EV_RELU, EV_BWD1, EV_MID, EV_COMM, EV_N };

struct qt_dist_gmlp {
    qt_dist_mlp_config_t cfg;
    qt_backend_t *dp;
    int rows, batches, rank, world, reps;
    cudaStream_t cs, ms; /* compute; communication (the instance's stream) */
    cublasHandle_t blas;
    float *p, *g, *x_all, *h, *z, *dz, *dh, *ones; /* ones: R of 1.0f, the bias gradients' GEMV */
    int32_t *y_all;
    double *rowloss, *host_loss;
    size_t n, off_b2, off_w1, off_b1, n_buckets;
    size_t *blo, *bhi;   /* bucket b: g[blo[b], bhi[b]) */
    int l2_buckets, w1_rows; /* buckets of [dW2 db2]; W1 rows per bucket */
    cudaEvent_t *ready;  /* bucket b's gradient is complete (compute stream) */
    qt_dist_req_t **req; /* the previous step's bucket requests */
    size_t n_req;
    cudaEvent_t ev[2][EV_N];
    int64_t steps, timed; /* steps queued; steps whose times were read */
    double compute_s, wait_s, phase_s[4];
    qt_dist_gtopk_t *comp;
};

static qt_status_t cfail(qt_dist_gmlp_t *m, cudaError_t e, const char *what) { return qt_cuda_fail(m->dp, e, what); }

static qt_status_t bfail(qt_dist_gmlp_t *m, cublasStatus_t b, const char *what)
{
    return qt_backend_fail(m->dp, QT_ERR_INTERNAL, "%s: cuBLAS status %d", what, (int)b);
}

/* Reap the previous step's requests, then add its event times. */
static qt_status_t reap(qt_dist_gmlp_t *m)
{
    qt_status_t s = QT_OK;
    for (size_t i = 0; i < m->n_req; i++) {
        qt_status_t w = qt_dist_wait(m->dp, m->req[i], "gradient bucket all-reduce");
        if (s == QT_OK) s = w;
        m->req[i] = NULL;
    }
    m->n_req = 0;
    while (s == QT_OK && m->timed < m->steps) {
        cudaEvent_t *ev = m->ev[m->timed & 1];
        float c_ms = 0, w_ms = 0, ph[4] = {0, 0, 0, 0};
        static const int from[4] = {EV_T0, EV_FWD, EV_BWD2, EV_RELU}, to[4] = {EV_FWD, EV_BWD2, EV_RELU, EV_BWD1};
        /* COMM does not imply BWD1 (recorded on the compute stream just after the last bucket's
         * mark, which is all COMM waited for: at k = 1 the all-reduce is empty and COMM came first) */
        cudaError_t e = cudaEventSynchronize(ev[EV_COMM]);
        if (e == cudaSuccess) e = cudaEventSynchronize(ev[EV_BWD1]);
        if (e == cudaSuccess) e = cudaEventElapsedTime(&c_ms, ev[EV_T0], ev[EV_BWD1]);
        if (e == cudaSuccess) e = cudaEventElapsedTime(&w_ms, ev[EV_BWD1], ev[EV_COMM]);
        for (int k = 0; k < 4 && e == cudaSuccess; k++) e = cudaEventElapsedTime(&ph[k], ev[from[k]], ev[to[k]]);
        if (e != cudaSuccess) return cfail(m, e, "step timing events");
        m->compute_s += 1e-3 * c_ms;
        m->wait_s += w_ms > 0 ? 1e-3 * w_ms : 0;
        for (int k = 0; k < 4; k++) m->phase_s[k] += 1e-3 * ph[k];
        m->timed++;
    }
    return s;
}

extern "C" void qt_dist_gmlp_free(qt_dist_gmlp_t *m)
{
    if (!m) return;
    (void)reap(m);
    if (m->cs) cudaStreamSynchronize(m->cs);
    qt_dist_gtopk_free(m->comp);
    void *bufs[] = {m->p, m->g, m->x_all, m->h, m->z, m->dz, m->dh, m->y_all, m->rowloss, m->ones};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) qt_backend_dealloc(m->dp, bufs[i], 0);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < EV_N; b++)
            if (m->ev[a][b]) cudaEventDestroy(m->ev[a][b]);
    for (size_t b = 0; m->ready && b < m->n_buckets; b++)
        if (m->ready[b]) cudaEventDestroy(m->ready[b]);
    if (m->blas) cublasDestroy(m->blas);
    if (m->cs) cudaStreamDestroy(m->cs);
    free(m->ready);
    free(m->blo);
    free(m->bhi);
    free(m->req);
    free(m->host_loss);
    free(m);
}

static qt_status_t dalloc(qt_dist_gmlp_t *m, size_t bytes, void **p, qt_status_t *s)
{
    if (*s == QT_OK) *s = qt_backend_alloc(m->dp, bytes ? bytes : 4, p);
    return *s;
}

extern "C" qt_status_t qt_dist_gmlp_init(qt_dist_gmlp_t **out, qt_backend_t *dp, const qt_dist_mlp_config_t *cfg,
                                         int rows, int batches, const float *data_x, const int32_t *data_y,
                                         const float *p0)
{
    QT_CHECK_ARG(out && dp && cfg && data_x && data_y && p0 && rows > 0 && batches > 0, "gpu mlp: bad argument");
    *out = NULL;
    QT_CHECK_ARG(!qt_device_is_host(dp->device) && qt_backend_ops(dp, QT_TECH_DIST),
                 "gpu mlp: backend %s is not a GPU communicator (nccl)", qt_backend_name(dp));
    QT_CHECK_ARG(cfg->compress.kind == QT_COMPRESS_NONE || cfg->compress.kind == QT_COMPRESS_TOPK,
                 "gpu mlp: compression %s does not run on the GPU (none or topk)", qt_compress_name(cfg->compress.kind));
    qt_dist_gmlp_t *m = (qt_dist_gmlp_t *)calloc(1, sizeof *m);
    if (!m) return qt_fail(QT_ERR_NOMEM, "gpu mlp");
    m->cfg = *cfg;
    m->cfg.shares = m->cfg.tp_shares = NULL;
    m->dp = dp;
    m->rows = rows;
    m->batches = batches;
    m->rank = dp->rank;
    m->world = dp->world;
    m->reps = dp->rank == cfg->slow_rank && cfg->slow_factor > 1 ? cfg->slow_factor : 1;
    size_t I = (size_t)cfg->in, H = (size_t)cfg->hidden, C = (size_t)cfg->classes, R = (size_t)rows;
    m->off_b2 = C * H;
    m->off_w1 = m->off_b2 + C;
    m->off_b1 = m->off_w1 + H * I;
    m->n = m->off_b1 + H;
    size_t bucket = (cfg->bucket_bytes ? cfg->bucket_bytes : (1 << 20)) / sizeof(float);
    if (bucket < 1) bucket = 1;
    m->l2_buckets = (int)((m->off_w1 + bucket - 1) / bucket);
    m->w1_rows = (int)(bucket / I > 0 ? bucket / I : 1);
    if (m->w1_rows > (int)H) m->w1_rows = (int)H;
    size_t w1_buckets = (H + (size_t)m->w1_rows - 1) / (size_t)m->w1_rows;
    m->n_buckets = (size_t)m->l2_buckets + w1_buckets; /* db1 rides with the last W1 chunk */
    m->blo = (size_t *)calloc(m->n_buckets, sizeof *m->blo);
    m->bhi = (size_t *)calloc(m->n_buckets, sizeof *m->bhi);
    m->ready = (cudaEvent_t *)calloc(m->n_buckets, sizeof *m->ready);
    if (m->blo && m->bhi) {
        size_t b = 0;
        for (size_t lo = 0; lo < m->off_w1; lo += bucket, b++) {
            m->blo[b] = lo;
            m->bhi[b] = lo + bucket < m->off_w1 ? lo + bucket : m->off_w1;
        }
        for (size_t h0 = 0; h0 < H; h0 += (size_t)m->w1_rows, b++) {
            size_t h1 = h0 + (size_t)m->w1_rows < H ? h0 + (size_t)m->w1_rows : H;
            m->blo[b] = m->off_w1 + h0 * I;
            m->bhi[b] = h1 == H ? m->n : m->off_w1 + h1 * I; /* the last: b1 too (it follows W1) */
        }
    }
    m->ms = QT_CUDA_CTX(dp)->stream;
    qt_status_t s = QT_OK;
    cudaError_t e = cudaSetDevice(QT_CUDA_CTX(dp)->ordinal);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&m->cs, cudaStreamNonBlocking);
    for (int a = 0; a < 2 && e == cudaSuccess; a++)
        for (int b = 0; b < EV_N && e == cudaSuccess; b++) e = cudaEventCreate(&m->ev[a][b]);
    for (size_t b = 0; m->ready && b < m->n_buckets && e == cudaSuccess; b++)
        e = cudaEventCreateWithFlags(&m->ready[b], cudaEventDisableTiming);
    if (e != cudaSuccess) s = cfail(m, e, "gpu mlp stream and events");
    if (s == QT_OK) {
        cublasStatus_t b = cublasCreate(&m->blas);
        if (b == CUBLAS_STATUS_SUCCESS) b = cublasSetStream(m->blas, m->cs);
        if (b == CUBLAS_STATUS_SUCCESS) b = cublasSetMathMode(m->blas, CUBLAS_DEFAULT_MATH); /* fp32 SGEMM, no TF32 */
        if (b != CUBLAS_STATUS_SUCCESS) s = bfail(m, b, "cuBLAS handle");
    }
    m->req = (qt_dist_req_t **)calloc(m->n_buckets, sizeof *m->req);
    m->host_loss = (double *)malloc(sizeof(double) * R);
    if (s == QT_OK && (!m->req || !m->host_loss || !m->blo || !m->bhi || !m->ready)) s = qt_fail(QT_ERR_NOMEM, "gpu mlp");
    dalloc(m, m->n * sizeof(float), (void **)&m->p, &s);
    dalloc(m, m->n * sizeof(float), (void **)&m->g, &s);
    dalloc(m, (size_t)batches * R * I * sizeof(float), (void **)&m->x_all, &s);
    dalloc(m, (size_t)batches * R * sizeof(int32_t), (void **)&m->y_all, &s);
    dalloc(m, R * H * sizeof(float), (void **)&m->h, &s);
    dalloc(m, R * H * sizeof(float), (void **)&m->dh, &s);
    dalloc(m, R * C * sizeof(float), (void **)&m->z, &s);
    dalloc(m, R * C * sizeof(float), (void **)&m->dz, &s);
    dalloc(m, R * sizeof(double), (void **)&m->rowloss, &s);
    dalloc(m, R * sizeof(float), (void **)&m->ones, &s);
    float *ones = s == QT_OK ? (float *)malloc(R * sizeof(float)) : NULL;
    if (s == QT_OK && !ones) s = qt_fail(QT_ERR_NOMEM, "gpu mlp");
    for (size_t r = 0; ones && r < R; r++) ones[r] = 1.0f;
    if (s == QT_OK) {
        e = cudaMemcpyAsync(m->p, p0, m->n * sizeof(float), cudaMemcpyHostToDevice, m->cs);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(m->x_all, data_x, (size_t)batches * R * I * sizeof(float), cudaMemcpyHostToDevice, m->cs);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(m->y_all, data_y, (size_t)batches * R * sizeof(int32_t), cudaMemcpyHostToDevice, m->cs);
        if (e == cudaSuccess) e = cudaMemcpyAsync(m->ones, ones, R * sizeof(float), cudaMemcpyHostToDevice, m->cs);
        if (e == cudaSuccess) e = cudaStreamSynchronize(m->cs);
        if (e != cudaSuccess) s = cfail(m, e, "gpu mlp upload");
    }
    free(ones);
    if (s == QT_OK && cfg->compress.kind == QT_COMPRESS_TOPK) {
        int rws[4] = {(int)C, 1, (int)H, 1}, cls[4] = {(int)H, (int)C, (int)I, (int)H};
        s = qt_dist_gtopk_init(&m->comp, dp, &cfg->compress, 4, rws, cls);
    }
    if (s != QT_OK) {
        qt_dist_gmlp_free(m);
        return s;
    }
    *out = m;
    return QT_OK;
}

/* Forward of batch `step` and the loss kernel (rowloss, dz) on the compute stream. */
static qt_status_t forward_loss(qt_dist_gmlp_t *m, int64_t step)
{
    int I = m->cfg.in, H = m->cfg.hidden, C = m->cfg.classes, R = m->rows;
    int64_t b = step % m->batches;
    const float *x = m->x_all + (size_t)b * R * I;
    const int32_t *y = m->y_all + (size_t)b * R;
    const float one = 1.0f, zero = 0.0f;
    const float *W1 = m->p + m->off_w1, *b1 = m->p + m->off_b1, *W2 = m->p, *b2 = m->p + m->off_b2;
    cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
    for (int k = 0; k < m->reps && bs == CUBLAS_STATUS_SUCCESS; k++) /* h (R×H) = x·W1ᵀ */
        bs = cublasSgemm(m->blas, CUBLAS_OP_T, CUBLAS_OP_N, H, R, I, &one, W1, I, x, I, &zero, m->h, H);
    if (bs != CUBLAS_STATUS_SUCCESS) return bfail(m, bs, "forward layer 1");
    cudaError_t e = cudaSuccess;
    QT_CUDA_LAUNCH(e, bias_kernel<<<blocks_for((size_t)R * H), TPB, 0, m->cs>>>(m->h, b1, (size_t)R, H, 1));
    if (e != cudaSuccess) return cfail(m, e, "bias + relu");
    bs = cublasSgemm(m->blas, CUBLAS_OP_T, CUBLAS_OP_N, C, R, H, &one, W2, H, m->h, H, &zero, m->z, C); /* z = h·W2ᵀ */
    if (bs != CUBLAS_STATUS_SUCCESS) return bfail(m, bs, "forward layer 2");
    QT_CUDA_LAUNCH(e, bias_kernel<<<blocks_for((size_t)R * C), TPB, 0, m->cs>>>(m->z, b2, (size_t)R, C, 0));
    float scale = (float)R / (float)m->cfg.batch;
    QT_CUDA_LAUNCH(e, xent_kernel<<<(R + 127) / 128, 128, 0, m->cs>>>(m->z, y, R, C, scale, m->dz, m->rowloss));
    return e == cudaSuccess ? QT_OK : cfail(m, e, "loss kernel");
}

/* The mean of the row losses (host, rows in order: the host's sum). Waits for the stream. */
static qt_status_t read_loss(qt_dist_gmlp_t *m, double *loss)
{
    cudaError_t e = cudaMemcpyAsync(m->host_loss, m->rowloss, sizeof(double) * (size_t)m->rows, cudaMemcpyDeviceToHost,
                                    m->cs);
    if (e == cudaSuccess) e = cudaStreamSynchronize(m->cs);
    if (e != cudaSuccess) return cfail(m, e, "loss read-back");
    double t = 0;
    for (int r = 0; r < m->rows; r++) t += m->host_loss[r];
    *loss = t / m->rows;
    return QT_OK;
}

/* Bucket b's gradient is complete on the compute stream: mark it, and (dense) all-reduce it on
 * the communication stream once the mark is reached. */
static qt_status_t bucket_ready(qt_dist_gmlp_t *m, size_t b)
{
    cudaError_t e = cudaEventRecord(m->ready[b], m->cs);
    if (e != cudaSuccess) return cfail(m, e, "bucket event");
    if (m->comp) return QT_OK;
    if (b + 1 == m->n_buckets) e = cudaEventRecord(m->ev[m->steps & 1][EV_MID], m->ms); /* the others are reduced */
    if (e == cudaSuccess) e = cudaStreamWaitEvent(m->ms, m->ready[b], 0);
    if (e != cudaSuccess) return cfail(m, e, "communication stream wait");
    const qt_dist_ops_t *ops = qt_dist_ops_of(m->dp);
    size_t lo = m->blo[b], hi = m->bhi[b];
    QT_TRY(ops->iallreduce(m->dp, m->g + lo, m->g + lo, hi - lo, QT_DIST_F32, QT_DIST_SUM, &m->req[m->n_req]));
    m->n_req++;
    return QT_OK;
}

extern "C" qt_status_t qt_dist_gmlp_step(qt_dist_gmlp_t *m, int64_t step, double *local_loss)
{
    QT_CHECK_ARG(m != NULL, "gpu mlp step: NULL model");
    int I = m->cfg.in, H = m->cfg.hidden, C = m->cfg.classes, R = m->rows;
    const float *x = m->x_all + (size_t)(step % m->batches) * R * I;
    const float one = 1.0f, zero = 0.0f;
    float *W2 = m->p;
    cudaEvent_t *ev = m->ev[m->steps & 1];
    cudaError_t e = cudaEventRecord(ev[EV_T0], m->cs);
    if (e != cudaSuccess) return cfail(m, e, "event");
    QT_TRY(forward_loss(m, step));
    e = cudaEventRecord(ev[EV_FWD], m->cs);
    if (e != cudaSuccess) return cfail(m, e, "event");
    /* layer 2: dW2 (C×H) = dzᵀ·h into g, db2, dh (R×H) = dz·W2 */
    cublasStatus_t bs = cublasSgemm(m->blas, CUBLAS_OP_N, CUBLAS_OP_T, H, C, R, &one, m->h, H, m->dz, C, &zero, m->g, H);
    if (bs == CUBLAS_STATUS_SUCCESS) /* db2 (C) = dzᵀ·1 */
        bs = cublasSgemv(m->blas, CUBLAS_OP_N, C, R, &one, m->dz, C, m->ones, 1, &zero, m->g + m->off_b2, 1);
    if (bs == CUBLAS_STATUS_SUCCESS)
        bs = cublasSgemm(m->blas, CUBLAS_OP_N, CUBLAS_OP_N, H, R, C, &one, W2, H, m->dz, C, &zero, m->dh, H);
    if (bs != CUBLAS_STATUS_SUCCESS) return bfail(m, bs, "backward layer 2");
    if (e == cudaSuccess) e = cudaEventRecord(ev[EV_BWD2], m->cs);
    if (e != cudaSuccess) return cfail(m, e, "backward layer 2");
    QT_TRY(reap(m)); /* the previous step's buckets: done before this step's forward could start */
    for (int lb = 0; lb < m->l2_buckets; lb++) QT_TRY(bucket_ready(m, (size_t)lb)); /* travel during layer 1 */
    /* layer 1: relu', db1 (first: it travels with the last W1 chunk, so no bucket of its own
     * is left to reduce after the last GEMM), then dW1 (H×I) = dhᵀ·x a bucket of rows at a time */
    QT_CUDA_LAUNCH(e, relu_bwd_kernel<<<blocks_for((size_t)R * H), TPB, 0, m->cs>>>(m->dh, m->h, (size_t)R * H));
    if (e != cudaSuccess) return cfail(m, e, "relu backward");
    bs = cublasSgemv(m->blas, CUBLAS_OP_N, H, R, &one, m->dh, H, m->ones, 1, &zero, m->g + m->off_b1, 1); /* db1 = dhᵀ·1 */
    if (bs != CUBLAS_STATUS_SUCCESS) return bfail(m, bs, "bias gradient (layer 1)");
    e = cudaEventRecord(ev[EV_RELU], m->cs);
    if (e != cudaSuccess) return cfail(m, e, "relu backward and bias gradient");
    size_t b = (size_t)m->l2_buckets;
    for (int h0 = 0; h0 < H; h0 += m->w1_rows, b++) {
        int nr = h0 + m->w1_rows < H ? m->w1_rows : H - h0;
        bs = cublasSgemm(m->blas, CUBLAS_OP_N, CUBLAS_OP_T, I, nr, R, &one, x, I, m->dh + h0, H, &zero,
                         m->g + m->off_w1 + (size_t)h0 * I, I);
        if (bs != CUBLAS_STATUS_SUCCESS) return bfail(m, bs, "backward layer 1");
        QT_TRY(bucket_ready(m, b));
    }
    e = cudaEventRecord(ev[EV_BWD1], m->cs);
    if (e != cudaSuccess) return cfail(m, e, "backward layer 1");
    if (m->comp) {
        e = cudaStreamWaitEvent(m->ms, ev[EV_BWD1], 0);
        if (e != cudaSuccess) return cfail(m, e, "communication stream wait");
        QT_TRY(qt_dist_gtopk_exchange(m->comp, m->dp, m->g)); /* on ms */
        QT_CUDA_LAUNCH(e, scale_kernel<<<blocks_for(m->n), TPB, 0, m->ms>>>(m->g, (float)m->world, m->n)); /* mean → sum */
    }
    if (e == cudaSuccess) e = cudaEventRecord(ev[EV_COMM], m->ms);
    /* dense: the update of every bucket but the last runs while the last one is reduced */
    size_t split = m->comp ? 0 : m->blo[m->n_buckets - 1];
    if (split > 0) {
        if (e == cudaSuccess) e = cudaStreamWaitEvent(m->cs, ev[EV_MID], 0);
        QT_CUDA_LAUNCH(e, sgd_kernel<<<blocks_for(split), TPB, 0, m->cs>>>(m->p, m->g, m->cfg.lr, split));
    }
    if (e == cudaSuccess) e = cudaStreamWaitEvent(m->cs, ev[EV_COMM], 0);
    QT_CUDA_LAUNCH(e, sgd_kernel<<<blocks_for(m->n - split), TPB, 0, m->cs>>>(m->p + split, m->g + split, m->cfg.lr,
                                                                             m->n - split));
    if (e != cudaSuccess) return cfail(m, e, "update");
    m->steps++;
    return local_loss ? read_loss(m, local_loss) : QT_OK;
}

extern "C" qt_status_t qt_dist_gmlp_eval(qt_dist_gmlp_t *m, int64_t step, double *local_loss)
{
    QT_CHECK_ARG(m && local_loss, "gpu mlp eval: NULL argument");
    QT_TRY(forward_loss(m, step));
    return read_loss(m, local_loss);
}

extern "C" qt_status_t qt_dist_gmlp_params(qt_dist_gmlp_t *m, float *host_p)
{
    QT_CHECK_ARG(m && host_p, "gpu mlp params: NULL argument");
    cudaError_t e = cudaMemcpyAsync(host_p, m->p, m->n * sizeof(float), cudaMemcpyDeviceToHost, m->cs);
    if (e == cudaSuccess) e = cudaStreamSynchronize(m->cs);
    return e == cudaSuccess ? QT_OK : cfail(m, e, "parameter read-back");
}

extern "C" qt_status_t qt_dist_gmlp_times(qt_dist_gmlp_t *m, double *compute_s, double *wait_s, double *phase_s)
{
    QT_CHECK_ARG(m && compute_s && wait_s, "gpu mlp times: NULL argument");
    QT_TRY(reap(m));
    *compute_s = m->compute_s;
    *wait_s = m->wait_s;
    for (int k = 0; k < 4; k++) {
        if (phase_s) phase_s[k] = m->phase_s[k];
        m->phase_s[k] = 0;
    }
    m->compute_s = m->wait_s = 0;
    return QT_OK;
}

extern "C" void qt_dist_gmlp_bytes(const qt_dist_gmlp_t *m, double *sent, double *logical)
{
    if (m && m->comp) {
        qt_dist_gtopk_bytes(m->comp, sent, logical);
        return;
    }
    if (sent) *sent = 0;
    if (logical) *logical = 0;
}
