/* check.cu — the GPU side of dist.h's check data (check.h): one grid-stride kernel fills a
 * send buffer, another compares a receive buffer with the exact expected values and counts the
 * differences (a per-block sum, one atomicAdd per block). Same formulas as the host code
 * (../check_value.h), so an 8 GiB buffer is filled and checked without crossing PCIe.
 * Kept C-style. Run: tests/dist/test_nccl.c under mpirun on a GPU machine. */
#include <cuda_runtime.h>

#include "../check_value.h"
#include "check.h"

#define THREADS 256

__global__ void check_fill_kernel(int rank, size_t m, uint64_t seed, float *buf)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < m; i += (size_t)gridDim.x * blockDim.x)
        buf[i] = qt_dist_check_value(rank, i, seed);
}

__global__ void check_count_kernel(int coll, int rank, int n, size_t count, size_t m, uint64_t seed, const float *recv,
                                   unsigned long long *wrong)
{
    __shared__ unsigned long long part[THREADS];
    unsigned long long w = 0;
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < m; j += (size_t)gridDim.x * blockDim.x)
        w += recv[j] != qt_dist_check_expected(coll, rank, n, count, seed, j);
    part[threadIdx.x] = w;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0 && part[0]) atomicAdd(wrong, part[0]);
}

/* Blocks for m elements: enough to fill the GPU, at most 4096. */
static unsigned blocks_for(size_t m)
{
    size_t b = (m + THREADS - 1) / THREADS;
    return (unsigned)(b < 1 ? 1 : b > 4096 ? 4096 : b);
}

extern "C" int qt_dist_cuda_check_fill(void *stream, int coll, int rank, int n, size_t count, uint64_t seed, float *buf)
{
    size_t m = coll == QT_COLL_BROADCAST ? count : qt_dist_coll_send_count((qt_coll_t)coll, count, n);
    (void)cudaGetLastError(); /* a stale error of another call (a library's) is not this launch's */
    check_fill_kernel<<<blocks_for(m), THREADS, 0, (cudaStream_t)stream>>>(rank, m, seed, buf);
    return (int)cudaGetLastError();
}

extern "C" int qt_dist_cuda_check_count(void *stream, int coll, int rank, int n, size_t count, uint64_t seed,
                                        const float *recv, long long *wrong)
{
    cudaStream_t st = (cudaStream_t)stream;
    size_t m = qt_dist_coll_recv_count((qt_coll_t)coll, count, n);
    unsigned long long *d = NULL, h = 0;
    cudaError_t e = cudaMallocAsync((void **)&d, sizeof *d, st);
    if (e == cudaSuccess) e = cudaMemsetAsync(d, 0, sizeof *d, st);
    if (e == cudaSuccess) {
        (void)cudaGetLastError(); /* only this launch's error below */
        check_count_kernel<<<blocks_for(m), THREADS, 0, st>>>(coll, rank, n, count, m, seed, recv, d);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpyAsync(&h, d, sizeof h, cudaMemcpyDeviceToHost, st);
    if (d) cudaFreeAsync(d, st);
    if (e == cudaSuccess) e = cudaStreamSynchronize(st);
    *wrong = (long long)h;
    return (int)e;
}
