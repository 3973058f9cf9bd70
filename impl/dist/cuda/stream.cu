/* stream.cu — ordering and scaling on the streams of CUDA instances (gpu.h): what the fusion DP
 * driver (impl/dist/fusion_dp.c) needs to keep its compute instance (cuda) and its communicator
 * (nccl) on separate streams of one GPU without host waits:
 *   qt_dist_cuda_after  an event recorded on the signaler's stream, waited for by the waiter's
 *                       (cudaStreamWaitEvent); the event is released at once (the wait keeps
 *                       the state it captured).
 *   qt_dist_cuda_scale  p ·= a, one grid-stride kernel on the instance's stream.
 * Both instances must keep a qt_cuda_ctx_t (the cuda and nccl backends). Tests: tests/dist/
 * test_nccl.c (gpu_fusion_dp: the fusion model trained on the GPUs against the 1-GPU run). */
#include <cuda_runtime.h>

#include "../../backends/cuda/cuda_ctx.h"
extern "C" {
#include "../internal.h"
}
#include "gpu.h"

extern "C" qt_status_t qt_dist_cuda_after(qt_backend_t *waiter, qt_backend_t *signaler)
{
    QT_CHECK_ARG(waiter && signaler && waiter->ctx && signaler->ctx, "stream order: NULL instance");
    cudaStream_t ws = QT_CUDA_CTX(waiter)->stream, ss = QT_CUDA_CTX(signaler)->stream;
    if (ws == ss) return QT_OK;
    cudaEvent_t ev;
    cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    if (e != cudaSuccess) return qt_cuda_fail(waiter, e, "cudaEventCreateWithFlags");
    e = cudaEventRecord(ev, ss);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(ws, ev, 0);
    cudaEventDestroy(ev);
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(waiter, e, "stream order (event record / wait)");
}

template <typename T> static __global__ void scale_kernel(T *p, T a, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        p[i] *= a;
}

extern "C" qt_status_t qt_dist_cuda_scale(qt_backend_t *be, void *p, size_t n, int f64, double a)
{
    QT_CHECK_ARG(be && be->ctx && (p || n == 0), "scale: NULL argument");
    if (n == 0) return QT_OK;
    size_t blocks = (n + 255) / 256;
    unsigned g = (unsigned)(blocks > 4096 ? 4096 : blocks);
    cudaStream_t st = QT_CUDA_CTX(be)->stream;
    cudaError_t e = cudaSuccess;
    if (f64) QT_CUDA_LAUNCH(e, scale_kernel<double><<<g, 256, 0, st>>>((double *)p, a, n));
    else QT_CUDA_LAUNCH(e, scale_kernel<float><<<g, 256, 0, st>>>((float *)p, (float)a, n));
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, "scale kernel");
}
