/* cuda_probe.h — GPU facts and ceilings from the CUDA runtime (cuda_probe.cu, built
 * only when nvcc is found). Without a usable GPU every function says why and
 * returns non-zero instead of failing the run. */
#ifndef QUINTET_CUDA_PROBE_H
#define QUINTET_CUDA_PROBE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable GPUs (0 with `why` filled when none: no driver, no device). */
int qt_cuda_device_count(char *why, size_t why_size);
/* Name, compute capability and memory of device 0; runtime/driver/NCCL versions. 0 on success. */
int qt_cuda_describe(char *gpu, size_t gpu_size, char *versions, size_t versions_size);
/* A GPU ceiling benchmark: set up once, then each qt_cuda_bench_time runs the
 * operation once and returns its CUDA-event time in seconds (-1 on error). */
typedef struct qt_cuda_bench qt_cuda_bench_t;
/* Device-to-device copy of `bytes` (count 2*bytes moved). NULL when it cannot be set up. */
qt_cuda_bench_t *qt_cuda_bench_copy_new(size_t bytes);
/* cuBLAS GEMM n x n x n (2n^3 FLOPs): math 0 SGEMM in FP32, 1 SGEMM with TF32 tensor cores,
 * 2 bf16 operands and output with f32 accumulation (cublasGemmEx). */
qt_cuda_bench_t *qt_cuda_bench_sgemm_new(int n, int math);
double qt_cuda_bench_time(qt_cuda_bench_t *b);
void qt_cuda_bench_free(qt_cuda_bench_t *b);
/* GPU 0's state now through NVML (libnvidia-ml.so.1, opened at run time): SM and memory
 * clocks, power, temperature, clock-event (throttle) reasons, e.g. "sm 1980 MHz, mem 3201 MHz,
 * 121.3 W, 35 C, throttle 0x0 (none)". 0 on success; otherwise `out` says why not. */
int qt_cuda_gpu_state(char *out, size_t size);

#ifdef __cplusplus
}
#endif
#endif
