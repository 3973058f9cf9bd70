/* cuda.cu — the cuda backend of the registry (backend.h): one instance = one GPU (params
 * .device, default 0), a non-blocking CUDA stream, a cuBLAS handle bound to it, and the
 * device's multiprocessor count. Built only when CUDA links (mk/build.mk compiles the .cu
 * files of impl/backends/<backend>/ with nvcc); kept C-style.
 *
 *   available()   cudaGetDeviceCount (count initialised to 0: without a driver it returns
 *                 error 35 and leaves it unwritten); the CUDA error text is the reason.
 *   alloc/free    cudaMalloc/cudaFree, accounted on the instance's device (qt_device_mem_add;
 *                 the sizes are remembered per instance, dealloc is not told them).
 *   These calls are exported (cuda_ctx.h) for the backends built on one GPU (nccl).
 *   copy, memset0 cudaMemcpyAsync (cudaMemcpyDefault: host<->device<->device) and
 *                 cudaMemsetAsync on the stream, ordered with the instance's kernels.
 *   synchronize   cudaStreamSynchronize; an asynchronous (sticky) error becomes the
 *                 instance's error text (qt_backend_fail).
 *   timer         CUDA events recorded on the stream (suites' manual time).
 *   fill          Philox draws of rng.h on the device (impl/core/cuda/rng.cu).
 * This file holds the backend only; the kernels of the techniques live beside their host
 * code: attention impl/attention/cuda/ (the stream through cuda_backend.h); the others use
 * the context (cuda_ctx.h) and the helpers of internal.h: optimizers impl/optim/cuda/optim.cu
 * (every optimizer, fused multi-tensor steps), sparse activations and matmul paths
 * impl/sparse/cuda/sparse.cu, fusion impl/fusion/cuda/fusion.cu. Counts of queued work kept on the device (nonzeros produced by
 * activations, the GATHER GEMV's flops) are added to the host counters at synchronize.
 * Tests: tests/core/test_rng.c, tests/optim/test_optim.c, tests/sparse/test_sparse.c (each
 * skips its device part without a GPU and says why); build/quintet verify --backend cuda. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quintet/attention.h"
#include "cuda_ctx.h"
#include "quintet/backend.h"
#include "quintet/counters.h"
#include "quintet/fusion.h"
#include "quintet/optim.h"
#include "quintet/sparse.h"
#include "quintet/tensor.h"
#include "cuda_backend.h"

#define CTX(be) QT_CUDA_CTX(be)

/* A failed CUDA call as the instance's error. */
extern "C" qt_status_t qt_cuda_fail(qt_backend_t *be, cudaError_t e, const char *what)
{
    return qt_backend_fail(be, e == cudaErrorMemoryAllocation ? QT_ERR_NOMEM : QT_ERR_INTERNAL, "%s: %s (CUDA error %d)",
                           what, cudaGetErrorString(e), (int)e);
}

/* The launch error of the kernel just queued. */
qt_status_t qt_cuda_launched(qt_backend_t *be, const char *what)
{
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, what);
}

/* Grid size of a grid-stride loop. */
int qt_cuda_blocks(const qt_backend_t *be, size_t work, int threads)
{
    size_t want = (work + (size_t)threads - 1) / (size_t)threads, cap = 32 * (size_t)(CTX(be)->sms > 0 ? CTX(be)->sms : 1);
    return (int)(want < 1 ? 1 : want < cap ? want : cap);
}

/* Scratch memory, grown on demand (cudaFree waits for the work that may use the old block). */
qt_status_t qt_cuda_scratch(qt_backend_t *be, size_t bytes, void **ptr)
{
    qt_cuda_ctx_t *x = CTX(be);
    if (x->scratch_cap < bytes) {
        if (x->scratch) {
            cudaStreamSynchronize(x->stream);
            cudaFree(x->scratch);
            qt_device_mem_add(be->device, -(long long)x->scratch_cap);
            x->scratch = NULL;
            x->scratch_cap = 0;
        }
        bytes += bytes / 4;
        cudaError_t e = cudaMalloc(&x->scratch, bytes);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            x->scratch = NULL;
            return qt_backend_fail(be, QT_ERR_NOMEM, "cuda scratch of %zu bytes: %s", bytes, cudaGetErrorString(e));
        }
        x->scratch_cap = bytes;
        qt_device_mem_add(be->device, (long long)bytes);
    }
    *ptr = x->scratch;
    return QT_OK;
}

/* A GPU is usable here; else why not. */
extern "C" int qt_cuda_available(char *why, size_t why_size)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (why && why_size) snprintf(why, why_size, "cudaGetDeviceCount: %s (CUDA error %d)", cudaGetErrorString(e), (int)e);
        return 0;
    }
    if (n <= 0) {
        if (why && why_size) snprintf(why, why_size, "no CUDA device");
        return 0;
    }
    return 1;
}

/* Device, stream, cuBLAS handle, events. */
extern "C" qt_status_t qt_cuda_ctx_init(qt_backend_t *be, int device)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) return qt_cuda_fail(be, e, "cudaGetDeviceCount");
    if (device < 0 || device >= n || device >= QT_MAX_CUDA_DEVICES)
        return qt_backend_fail(be, QT_ERR_ARG, "device %d out of range (this machine has %d GPUs)", device, n);
    qt_cuda_ctx_t *x = (qt_cuda_ctx_t *)calloc(1, sizeof *x);
    if (!x) return qt_backend_fail(be, QT_ERR_NOMEM, "context");
    be->ctx = x;
    x->ordinal = device;
    be->device = qt_device_cuda(device);
    be->threads = 1;
    qt_status_t st = QT_OK;
    if ((e = cudaSetDevice(device)) != cudaSuccess) st = qt_cuda_fail(be, e, "cudaSetDevice");
    else if ((e = cudaDeviceGetAttribute(&x->sms, cudaDevAttrMultiProcessorCount, device)) != cudaSuccess)
        st = qt_cuda_fail(be, e, "cudaDeviceGetAttribute");
    else if ((e = cudaStreamCreateWithFlags(&x->stream, cudaStreamNonBlocking)) != cudaSuccess)
        st = qt_cuda_fail(be, e, "cudaStreamCreateWithFlags");
    else if ((e = cudaEventCreate(&x->ev0)) != cudaSuccess || (e = cudaEventCreate(&x->ev1)) != cudaSuccess)
        st = qt_cuda_fail(be, e, "cudaEventCreate");
    else if (cublasCreate(&x->blas) != CUBLAS_STATUS_SUCCESS)
        st = qt_backend_fail(be, QT_ERR_INTERNAL, "cublasCreate failed");
    else if (cublasSetStream(x->blas, x->stream) != CUBLAS_STATUS_SUCCESS)
        st = qt_backend_fail(be, QT_ERR_INTERNAL, "cublasSetStream failed");
    else if ((e = cudaMalloc(&x->d_nnz, 3 * sizeof *x->d_nnz)) != cudaSuccess ||
             (e = cudaMemset(x->d_nnz, 0, 3 * sizeof *x->d_nnz)) != cudaSuccess)
        st = qt_cuda_fail(be, e, "device counters");
    if (st != QT_OK) qt_cuda_ctx_free(be);
    return st;
}

static qt_status_t cuda_init(qt_backend_t *be, const qt_backend_params_t *p) { return qt_cuda_ctx_init(be, p->device); }

/* Release what init made (and any buffer still held, with its accounting). */
extern "C" void qt_cuda_ctx_free(qt_backend_t *be)
{
    qt_cuda_ctx_t *x = CTX(be);
    if (!x) return;
    cudaSetDevice(x->ordinal);
    for (int i = 0; i < x->n_blocks; i++) {
        cudaFree(x->blocks[i].ptr);
        qt_device_mem_add(be->device, -(long long)x->blocks[i].bytes);
    }
    free(x->blocks);
    if (x->scratch) {
        cudaFree(x->scratch);
        qt_device_mem_add(be->device, -(long long)x->scratch_cap);
    }
    if (x->d_nnz) cudaFree(x->d_nnz);
    if (x->blas) cublasDestroy(x->blas);
    if (x->ev0) cudaEventDestroy(x->ev0);
    if (x->ev1) cudaEventDestroy(x->ev1);
    if (x->stream) cudaStreamDestroy(x->stream);
    free(x);
    be->ctx = NULL;
}

/* Wait for the stream; errors of queued work come back here, and the counts it kept on the
 * device go to the host counters. */
extern "C" qt_status_t qt_cuda_synchronize(qt_backend_t *be)
{
    qt_cuda_ctx_t *x = CTX(be);
    if (!x) return QT_OK;
    cudaError_t e = cudaStreamSynchronize(x->stream);
    if (e == cudaSuccess) e = cudaGetLastError();
    if (e == cudaSuccess && x->nnz_pending) {
        unsigned long long n[3] = {0, 0, 0};
        e = cudaMemcpy(n, x->d_nnz, sizeof n, cudaMemcpyDeviceToHost);
        if (e == cudaSuccess) e = cudaMemset(x->d_nnz, 0, sizeof n);
        if (e == cudaSuccess) {
            if (n[0]) qt_counter_add(QT_CTR_NONZEROS, (long long)n[0]);
            if (n[1]) qt_counter_add(QT_CTR_FLOPS, (long long)n[1]);
            if (n[2]) qt_counter_add(QT_CTR_ZEROS_SKIPPED, (long long)n[2]);
        }
        x->nnz_pending = 0;
    }
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, "queued work failed");
}

/* Device memory, accounted on the device. */
extern "C" qt_status_t qt_cuda_alloc(qt_backend_t *be, size_t bytes, void **ptr)
{
    qt_cuda_ctx_t *x = CTX(be);
    *ptr = NULL;
    if (x->n_blocks == x->cap_blocks) {
        int cap = x->cap_blocks ? 2 * x->cap_blocks : 16;
        qt_cuda_block_t *b = (qt_cuda_block_t *)realloc(x->blocks, (size_t)cap * sizeof *b);
        if (!b) return qt_backend_fail(be, QT_ERR_NOMEM, "allocation table");
        x->blocks = b;
        x->cap_blocks = cap;
    }
    cudaSetDevice(x->ordinal);
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *ptr = NULL;
        return qt_backend_fail(be, QT_ERR_NOMEM, "cudaMalloc of %zu bytes on %s: %s", bytes, qt_device_name(be->device),
                               cudaGetErrorString(e));
    }
    x->blocks[x->n_blocks].ptr = *ptr;
    x->blocks[x->n_blocks++].bytes = bytes;
    qt_device_mem_add(be->device, (long long)bytes);
    return QT_OK;
}

/* Release device memory (after the queued work that may still use it). */
extern "C" void qt_cuda_dealloc(qt_backend_t *be, void *ptr)
{
    qt_cuda_ctx_t *x = CTX(be);
    for (int i = 0; i < x->n_blocks; i++)
        if (x->blocks[i].ptr == ptr) {
            cudaStreamSynchronize(x->stream);
            cudaFree(ptr);
            qt_device_mem_add(be->device, -(long long)x->blocks[i].bytes);
            x->blocks[i] = x->blocks[--x->n_blocks];
            return;
        }
}

/* Any direction, on the stream. */
extern "C" qt_status_t qt_cuda_copy(qt_backend_t *be, void *dst, const qt_device_t *dst_dev, const void *src,
                                    const qt_device_t *src_dev, size_t bytes)
{
    (void)dst_dev;
    (void)src_dev;
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, CTX(be)->stream);
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, "cudaMemcpyAsync");
}

/* Zeros on the stream. */
extern "C" qt_status_t qt_cuda_memset0(qt_backend_t *be, void *ptr, size_t bytes)
{
    cudaError_t e = cudaMemsetAsync(ptr, 0, bytes, CTX(be)->stream);
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, "cudaMemsetAsync");
}

/* Event at the start of a timed region. */
extern "C" qt_status_t qt_cuda_timer_start(qt_backend_t *be)
{
    cudaError_t e = cudaEventRecord(CTX(be)->ev0, CTX(be)->stream);
    return e == cudaSuccess ? QT_OK : qt_cuda_fail(be, e, "cudaEventRecord");
}

/* Event at its end; the elapsed device time. */
extern "C" qt_status_t qt_cuda_timer_stop(qt_backend_t *be, double *seconds)
{
    qt_cuda_ctx_t *x = CTX(be);
    float ms = 0;
    cudaError_t e = cudaEventRecord(x->ev1, x->stream);
    if (e == cudaSuccess) e = cudaEventSynchronize(x->ev1);
    if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, x->ev0, x->ev1);
    if (e != cudaSuccess) return qt_cuda_fail(be, e, "timing with CUDA events");
    *seconds = 1e-3 * (double)ms;
    return QT_OK;
}

extern "C" const qt_optim_ops_t qt_optim_ops_cuda;   /* impl/optim/cuda/optim.cu */
extern "C" const qt_sparse_ops_t qt_sparse_ops_cuda; /* impl/sparse/cuda/sparse.cu */

/* The stream of an instance, for the technique kernels (cuda_backend.h). */
extern "C" void *qt_cuda_backend_stream(const qt_backend_t *be) { return CTX(be)->stream; }

/* impl/attention/cuda/ops.cu */
extern "C" const qt_attn_ops_t qt_attn_ops_cuda;
/* impl/fusion/cuda/fusion.cu */
extern "C" const qt_fusion_ops_t qt_fusion_ops_cuda;

extern "C" const qt_backend_iface_t qt_backend_iface_cuda = {
    /* .name = */ "cuda",
    /* .description = */ "one NVIDIA GPU: a stream, a cuBLAS handle, fused kernels",
    /* .device_kind = */ QT_DEVICE_CUDA,
    /* .available = */ qt_cuda_available,
    /* .init = */ cuda_init,
    /* .free = */ qt_cuda_ctx_free,
    /* .synchronize = */ qt_cuda_synchronize,
    /* .alloc = */ qt_cuda_alloc,
    /* .dealloc = */ qt_cuda_dealloc,
    /* .copy = */ qt_cuda_copy,
    /* .memset0 = */ qt_cuda_memset0,
    /* .timer_start = */ qt_cuda_timer_start,
    /* .timer_stop = */ qt_cuda_timer_stop,
    /* .ops = */ {&qt_attn_ops_cuda, &qt_fusion_ops_cuda, &qt_optim_ops_cuda, NULL, &qt_sparse_ops_cuda},
    /* .fill = */ qt_cuda_fill,
};
