/* cuda_backend.h — private to libquintet: what the cuda backend's instances give the
 * technique kernels that run on them (impl/<technique>/cuda/). Not public API. */
#ifndef QUINTET_CUDA_BACKEND_H
#define QUINTET_CUDA_BACKEND_H

#include "quintet/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The instance's CUDA stream (a cudaStream_t): every kernel of be is queued on it. */
void *qt_cuda_backend_stream(const qt_backend_t *be);

#ifdef __cplusplus
}
#endif
#endif
