/* cuda_probe.cu — GPU description and the GPU ceilings of the calibration suite:
 * device-to-device copy bandwidth (cudaMemcpy D2D, counted as read + write bytes,
 * as nvbandwidth and STREAM count copies) and cuBLAS GEMM (FP32 SGEMM, TF32 tensor cores, or
 * bf16 operands with f32 accumulation), timed with CUDA events after a warm-up; and the GPU's
 * clocks, power, temperature and throttle reasons through NVML, loaded with dlopen (no NVML
 * headers or link-time library needed). Kept C-style. */
#include "run/cuda_probe.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef QT_HAVE_NCCL
#include <nccl.h>
#endif

/* Usable devices; cudaGetDeviceCount leaves the count unwritten without a driver. */
extern "C" int qt_cuda_device_count(char *why, size_t why_size)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(why, why_size, "cudaGetDeviceCount: %s (%d)", cudaGetErrorString(e), (int)e);
        return 0;
    }
    if (n == 0) snprintf(why, why_size, "no CUDA device");
    return n;
}

/* Device 0's name and versions. */
extern "C" int qt_cuda_describe(char *gpu, size_t gpu_size, char *versions, size_t versions_size)
{
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return 1;
    int rt = 0, drv = 0, nccl = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
#ifdef QT_HAVE_NCCL
    ncclGetVersion(&nccl);
#endif
    snprintf(gpu, gpu_size, "%s (sm_%d%d, %.1f GiB, %d SMs)", prop.name, prop.major, prop.minor,
             prop.totalGlobalMem / 1073741824.0, prop.multiProcessorCount);
    snprintf(versions, versions_size, "runtime %d.%d, driver %d.%d, nccl %d", rt / 1000, (rt % 1000) / 10,
             drv / 1000, (drv % 1000) / 10, nccl);
    return 0;
}

struct qt_cuda_bench {
    int kind; /* 0 copy, 1 sgemm, 2 bf16 GEMM */
    size_t bytes;
    int n;
    void *a, *b, *c;
    cublasHandle_t handle;
    cudaEvent_t t0, t1;
};

/* Common part: events and zeroed state. */
static qt_cuda_bench_t *bench_alloc(int kind)
{
    qt_cuda_bench_t *b = (qt_cuda_bench_t *)calloc(1, sizeof *b);
    if (!b) return NULL;
    b->kind = kind;
    if (cudaEventCreate(&b->t0) != cudaSuccess || cudaEventCreate(&b->t1) != cudaSuccess) {
        free(b);
        return NULL;
    }
    return b;
}

/* Copy benchmark: two buffers of `bytes`, one warm-up copy. */
extern "C" qt_cuda_bench_t *qt_cuda_bench_copy_new(size_t bytes)
{
    qt_cuda_bench_t *b = bench_alloc(0);
    if (!b) return NULL;
    b->bytes = bytes;
    if (cudaMalloc(&b->a, bytes) != cudaSuccess || cudaMalloc(&b->b, bytes) != cudaSuccess) {
        qt_cuda_bench_free(b);
        return NULL;
    }
    cudaMemset(b->a, 1, bytes);
    cudaMemcpy(b->b, b->a, bytes, cudaMemcpyDeviceToDevice);
    cudaDeviceSynchronize();
    return b;
}

/* SGEMM benchmark: three n x n matrices, a cuBLAS handle, one warm-up call. */
extern "C" qt_cuda_bench_t *qt_cuda_bench_sgemm_new(int n, int math)
{
    qt_cuda_bench_t *b = bench_alloc(math == 2 ? 2 : 1);
    if (!b) return NULL;
    b->n = n;
    int tf32 = math == 1;
    size_t bytes = (size_t)n * n * (math == 2 ? 2 : sizeof(float));
    if (cudaMalloc(&b->a, bytes) != cudaSuccess || cudaMalloc(&b->b, bytes) != cudaSuccess ||
        cudaMalloc(&b->c, bytes) != cudaSuccess || cublasCreate(&b->handle) != CUBLAS_STATUS_SUCCESS) {
        qt_cuda_bench_free(b);
        return NULL;
    }
    /* a dense GEMM's rate hardly depends on the values, but tensor cores run zeros ~10% faster
     * (KINDS.md: 894 vs 788 TFLOP/s bf16): fill with small nonzero bytes */
    cudaMemset(b->a, math == 2 ? 0x3c : 0, bytes);
    cudaMemset(b->b, math == 2 ? 0x3c : 0, bytes);
    cublasSetMathMode(b->handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH);
    qt_cuda_bench_time(b);
    return b;
}

/* One timed operation. */
extern "C" double qt_cuda_bench_time(qt_cuda_bench_t *b)
{
    const float one = 1.0f, zero = 0.0f;
    cudaEventRecord(b->t0);
    if (b->kind == 0)
        cudaMemcpyAsync(b->b, b->a, b->bytes, cudaMemcpyDeviceToDevice);
    else if (b->kind == 2)
        cublasGemmEx(b->handle, CUBLAS_OP_N, CUBLAS_OP_N, b->n, b->n, b->n, &one, b->a, CUDA_R_16BF, b->n, b->b,
                     CUDA_R_16BF, b->n, &zero, b->c, CUDA_R_16BF, b->n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    else
        cublasSgemm(b->handle, CUBLAS_OP_N, CUBLAS_OP_N, b->n, b->n, b->n, &one, (const float *)b->a, b->n,
                    (const float *)b->b, b->n, &zero, (float *)b->c, b->n);
    cudaEventRecord(b->t1);
    if (cudaEventSynchronize(b->t1) != cudaSuccess) return -1.0;
    float ms = 0;
    cudaEventElapsedTime(&ms, b->t0, b->t1);
    return ms * 1e-3;
}

/* Release everything (safe on partial set-up). */
extern "C" void qt_cuda_bench_free(qt_cuda_bench_t *b)
{
    if (!b) return;
    if (b->handle) cublasDestroy(b->handle);
    cudaFree(b->a);
    cudaFree(b->b);
    cudaFree(b->c);
    cudaEventDestroy(b->t0);
    cudaEventDestroy(b->t1);
    free(b);
}

/* ---- NVML through dlopen: the few entry points used, with their C signatures ---- */
typedef int (*nvml_void_fn)(void);
typedef int (*nvml_handle_fn)(unsigned, void **);
typedef int (*nvml_clock_fn)(void *, int, unsigned *);
typedef int (*nvml_uint_fn)(void *, unsigned *);
typedef int (*nvml_ull_fn)(void *, unsigned long long *);

extern "C" int qt_cuda_gpu_state(char *out, size_t size)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(out, size, "unknown: libnvidia-ml.so.1 not loadable");
        return 1;
    }
    nvml_void_fn init = (nvml_void_fn)dlsym(lib, "nvmlInit_v2"), shut = (nvml_void_fn)dlsym(lib, "nvmlShutdown");
    nvml_handle_fn handle = (nvml_handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    nvml_clock_fn clock = (nvml_clock_fn)dlsym(lib, "nvmlDeviceGetClockInfo");
    nvml_uint_fn power = (nvml_uint_fn)dlsym(lib, "nvmlDeviceGetPowerUsage");
    nvml_clock_fn temp = (nvml_clock_fn)dlsym(lib, "nvmlDeviceGetTemperature");
    nvml_ull_fn reasons = (nvml_ull_fn)dlsym(lib, "nvmlDeviceGetCurrentClocksEventReasons");
    if (!reasons) reasons = (nvml_ull_fn)dlsym(lib, "nvmlDeviceGetCurrentClocksThrottleReasons");
    void *dev = NULL;
    if (!init || !shut || !handle || !clock || !power || !temp || !reasons || init() != 0) {
        snprintf(out, size, "unknown: NVML entry points missing or nvmlInit failed");
        dlclose(lib);
        return 1;
    }
    unsigned sm = 0, mem = 0, mw = 0, c = 0;
    unsigned long long why = 0;
    int rc = handle(0, &dev) != 0 || clock(dev, 1 /* NVML_CLOCK_SM */, &sm) != 0 ||
             clock(dev, 2 /* NVML_CLOCK_MEM */, &mem) != 0 || power(dev, &mw) != 0 ||
             temp(dev, 0 /* NVML_TEMPERATURE_GPU */, &c) != 0 || reasons(dev, &why) != 0;
    if (rc) snprintf(out, size, "unknown: an NVML query failed");
    else
        snprintf(out, size, "sm %u MHz, mem %u MHz, %.1f W, %u C, throttle 0x%llx%s", sm, mem, mw / 1000.0, c, why,
                 why == 0 ? " (none)" : why == 1 ? " (gpu idle)" : "");
    shut();
    dlclose(lib);
    return rc;
}
