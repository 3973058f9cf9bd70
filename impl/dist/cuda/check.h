/* check.h — dist.h's seeded check data on a GPU (check.cu): fill a send buffer and count the
 * wrong values of a receive buffer on a CUDA stream, with the formulas of ../check_value.h.
 * Both return a cudaError_t as int (0: success). Internal; used by the nccl backend's ops. */
#ifndef QUINTET_DIST_CUDA_CHECK_H
#define QUINTET_DIST_CUDA_CHECK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* buf[i] = check value of `rank`, i < qt_dist_coll_send_count (broadcast: count). */
int qt_dist_cuda_check_fill(void *stream, int coll, int rank, int n, size_t count, uint64_t seed, float *buf);
/* *wrong = number of recv[j] != expected, j < qt_dist_coll_recv_count; waits for the stream. */
int qt_dist_cuda_check_count(void *stream, int coll, int rank, int n, size_t count, uint64_t seed, const float *recv,
                             long long *wrong);

#ifdef __cplusplus
}
#endif
#endif
