/* cuda_ctx.h — the cuda backend's context and its instance calls (cuda.cu), shared with the
 * backends that run on one GPU too (impl/backends/nccl: a cuda context plus a communicator in
 * `ext`). Not public; C-compatible (included by nccl.c, compiled by gcc).
 *
 *   qt_cuda_ctx_init(be, device)   be->ctx = a context on GPU `device`: a non-blocking stream,
 *                                  a cuBLAS handle on it, two timer events; be->device set.
 *   qt_cuda_ctx_free(be)           releases it (and any buffer still held, with its accounting).
 * The other calls are the iface entries of a GPU backend (backend.h): available, synchronize,
 * alloc, dealloc, copy, memset0, timer_start, timer_stop. Run: tests/core/test_backend.c. */
#ifndef QUINTET_CUDA_CTX_H
#define QUINTET_CUDA_CTX_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>

#include "quintet/backend.h"

/* Run the launch statement(s) only while e is cudaSuccess, and set e to the launch's error: a
 * stale error another call left in the runtime's slot is cleared first, so it is not this
 * launch's (libraries such as NCCL probe with runtime calls and handle their own failures). */
#define QT_CUDA_LAUNCH(e, ...)                                                                                         \
    do {                                                                                                               \
        if ((e) == cudaSuccess) {                                                                                      \
            (void)cudaGetLastError();                                                                                  \
            __VA_ARGS__;                                                                                               \
            (e) = cudaGetLastError();                                                                                  \
        }                                                                                                              \
    } while (0)

#ifdef __cplusplus
extern "C" {
#endif

/* One live allocation (dealloc is not given the size, the accounting needs it). */
typedef struct {
    void *ptr;
    size_t bytes;
} qt_cuda_block_t;

typedef struct {
    int ordinal, sms;
    cudaStream_t stream;
    cublasHandle_t blas;
    cudaEvent_t ev0, ev1;
    qt_cuda_block_t *blocks;
    int n_blocks, cap_blocks;
    void *scratch;              /* qt_cuda_scratch: grows, never shrinks */
    size_t scratch_cap;
    unsigned long long *d_nnz;  /* counts of queued work: [0] QT_CTR_NONZEROS, [1] QT_CTR_FLOPS,
                                 * [2] QT_CTR_ZEROS_SKIPPED (activations, the GATHER GEMV) */
    int nnz_pending;            /* 1: d_nnz holds counts not yet added to the host counters */
    void *ext; /* the context of a backend built on this one (nccl: its communicator) */
} qt_cuda_ctx_t;

#define QT_CUDA_CTX(be) ((qt_cuda_ctx_t *)(be)->ctx)

qt_status_t qt_cuda_fail(qt_backend_t *be, cudaError_t e, const char *what);
int qt_cuda_available(char *why, size_t why_size);
qt_status_t qt_cuda_ctx_init(qt_backend_t *be, int device);
void qt_cuda_ctx_free(qt_backend_t *be);
qt_status_t qt_cuda_synchronize(qt_backend_t *be);
qt_status_t qt_cuda_alloc(qt_backend_t *be, size_t bytes, void **ptr);
void qt_cuda_dealloc(qt_backend_t *be, void *ptr);
qt_status_t qt_cuda_copy(qt_backend_t *be, void *dst, const qt_device_t *dst_dev, const void *src,
                         const qt_device_t *src_dev, size_t bytes);
qt_status_t qt_cuda_memset0(qt_backend_t *be, void *ptr, size_t bytes);
qt_status_t qt_cuda_timer_start(qt_backend_t *be);
qt_status_t qt_cuda_timer_stop(qt_backend_t *be, double *seconds);

#ifdef __cplusplus
}
#endif
#endif
