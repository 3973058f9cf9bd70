/* internal.h — what the cuda backend (cuda.cu) shares with the kernels of the techniques
 * (impl/core/cuda/rng.cu, impl/optim/cuda/optim.cu, impl/sparse/cuda/sparse.cu): the instance's
 * context (stream, cuBLAS handle, multiprocessor count, scratch memory, a device counter of
 * queued work) and small helpers. Compiled by nvcc only (C++ linkage inside libquintet); not a
 * public header. */
#ifndef QUINTET_CUDA_INTERNAL_H
#define QUINTET_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "quintet/backend.h"

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
} qt_cuda_ctx_t;

#define QT_CUDA_CTX(be) ((qt_cuda_ctx_t *)(be)->ctx)

/* A failed CUDA call as the instance's error. */
qt_status_t qt_cuda_fail(qt_backend_t *be, cudaError_t e, const char *what);
/* The launch just queued: its launch error, if any, as the instance's error. */
qt_status_t qt_cuda_launched(qt_backend_t *be, const char *what);
/* Scratch memory of at least `bytes` on the instance's device (ordered: a growth waits for the
 * queued work that may still use the old block). */
qt_status_t qt_cuda_scratch(qt_backend_t *be, size_t bytes, void **ptr);
/* Blocks for a grid-stride loop over `work` items of `threads` each, capped at 32 per SM. */
int qt_cuda_blocks(const qt_backend_t *be, size_t work, int threads);

/* The backend's fill op (impl/core/cuda/rng.cu; backend.h). */
qt_status_t qt_cuda_fill(qt_backend_t *be, void *data, int dtype, size_t n, int kind, uint64_t seed, uint64_t stream,
                         uint64_t offset, double a, double b);

#endif
