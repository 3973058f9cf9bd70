/* backend.h — the one backend model of libquintet (ggml-backend style): devices,
 * backend instances and the registry through which every technique's ops are found.
 *
 * A DEVICE is where memory lives: the host (one, qt_device_host()) or a GPU
 * (qt_device_cuda(i)). Memory is tracked per device (current and peak bytes), so a
 * suite's peak_bytes is the peak of the device its case ran on.
 *
 * A BACKEND INSTANCE (qt_backend_t) = an interface table (qt_backend_iface_t: name,
 * init/free, synchronize, alloc/free, copy, and one ops table per technique), the
 * device it runs on, and its context: a thread count (ref, cpu), a CUDA stream and
 * cuBLAS handle (cuda), a communicator with rank and world size (mpi, nccl). Each
 * instance keeps its own last-error text (qt_backend_error); work a backend runs
 * asynchronously (cuda) reports its errors at qt_backend_synchronize.
 *
 * THE REGISTRY lists every backend compiled into this build (ref is always first);
 * qt_backend_iface_available() says whether one can run on this machine and, when not,
 * why. Every technique finds its ops with qt_backend_ops(be, technique); each ops
 * table has its own supports(be, config, operands) that also checks that the operands
 * live on be's device. Nothing outside impl/backends names a backend: the harness
 * enumerates the registry.
 *
 *   qt_backend_t *be;
 *   if (qt_backend_init(&be, "cpu", NULL) != QT_OK) fprintf(stderr, "%s\n", qt_last_error());
 *   const qt_attn_ops_t *ops = qt_backend_ops(be, QT_TECH_ATTENTION);  // NULL: not here
 *   ... qt_attn_forward(be, &cfg, &q, &k, &v, NULL, &out) ...
 *   qt_backend_free(be);
 *
 * Tests: tests/core/test_backend.c (make test). */
#ifndef QUINTET_BACKEND_H
#define QUINTET_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/api.h"
#include "quintet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- devices ---- */
typedef enum { QT_DEVICE_HOST = 0, QT_DEVICE_CUDA } qt_device_kind_t;

typedef struct qt_device qt_device_t; /* opaque; one object per physical device */

/* The host device (always present). */
QT_API qt_device_t *qt_device_host(void);
/* CUDA device `index` (0..QT_MAX_CUDA_DEVICES-1); the object exists whether or not a GPU
 * is present (it only tracks memory). NULL when index is out of range. */
#define QT_MAX_CUDA_DEVICES 16
QT_API qt_device_t *qt_device_cuda(int index);
QT_API qt_device_kind_t qt_device_kind(const qt_device_t *d);
QT_API int qt_device_index(const qt_device_t *d);
/* "host", "cuda:0", ... */
QT_API const char *qt_device_name(const qt_device_t *d);
/* 1 when memory of d can be read and written by host code. */
QT_API int qt_device_is_host(const qt_device_t *d);
/* Memory accounting: every allocation on d adds to current (and raises peak). */
QT_API void qt_device_mem_add(qt_device_t *d, long long bytes);
QT_API size_t qt_device_mem_current(const qt_device_t *d);
QT_API size_t qt_device_mem_peak(const qt_device_t *d);
/* Restart the high-water mark of d at its current value. */
QT_API void qt_device_mem_peak_reset(qt_device_t *d);

/* ---- techniques ---- */
typedef enum {
    QT_TECH_ATTENTION = 0,
    QT_TECH_FUSION,
    QT_TECH_OPTIM,
    QT_TECH_DIST,
    QT_TECH_SPARSE,
    QT_TECH_COUNT
} qt_technique_t;
/* "attention", "fusion", "optim", "dist", "sparse". */
QT_API const char *qt_technique_name(qt_technique_t t);
QT_API qt_status_t qt_technique_parse(const char *s, qt_technique_t *out);

/* ---- backend instances ---- */
typedef struct qt_backend qt_backend_t;

/* Options of qt_backend_init (zero-initialised = defaults). */
typedef struct {
    int threads;  /* host backends: OpenMP threads for this instance's calls (0: the default) */
    int device;   /* cuda, nccl: device ordinal (default 0) */
    void *comm;   /* mpi, nccl: pointer to the MPI_Comm to use (NULL: MPI_COMM_WORLD) */
} qt_backend_params_t;

/* The interface table a backend implements. Ops tables are indexed by qt_technique_t
 * and typed by each technique's header (qt_attn_ops_t, qt_optim_ops_t, ...); NULL when
 * the backend does not implement that technique. */
typedef struct qt_backend_iface {
    const char *name;        /* "ref", "cpu", "cuda", "mpi", "nccl" */
    const char *description; /* one line */
    qt_device_kind_t device_kind;
    /* 1 when an instance can be made on this machine; else 0 and why (may be NULL). */
    int (*available)(char *why, size_t why_size);
    /* Fill be->device, be->threads, be->rank/world and be->ctx. */
    qt_status_t (*init)(qt_backend_t *be, const qt_backend_params_t *p);
    void (*free)(qt_backend_t *be);
    /* Wait for all work queued on this instance; report errors of asynchronous work. */
    qt_status_t (*synchronize)(qt_backend_t *be);
    /* Memory on be->device (aligned to QT_ALIGN at least). */
    qt_status_t (*alloc)(qt_backend_t *be, size_t bytes, void **ptr);
    void (*dealloc)(qt_backend_t *be, void *ptr);
    /* bytes from src (on src_dev) to dst (on dst_dev); one of them is be->device or the
     * host. Ordered with the instance's other work. */
    qt_status_t (*copy)(qt_backend_t *be, void *dst, const qt_device_t *dst_dev, const void *src,
                        const qt_device_t *src_dev, size_t bytes);
    /* Fill zeros (bytes) at ptr on be->device. */
    qt_status_t (*memset0)(qt_backend_t *be, void *ptr, size_t bytes);
    /* Optional: mark the start of a timed region in the instance's queue, and its end with
     * the seconds the device spent in between (cuda: CUDA events). NULL: the host clock,
     * with a synchronize before reading it. */
    qt_status_t (*timer_start)(qt_backend_t *be);
    qt_status_t (*timer_stop)(qt_backend_t *be, double *seconds);
    const void *ops[QT_TECH_COUNT];
    /* Optional: fill n contiguous elements of dtype `dtype` (a qt_dtype_t of tensor.h) at data
     * on be->device with the Philox draws of rng.h, exactly the host's streams (qt_rng_fill_*):
     * QT_FILL_UNIFORM U(a, b) and QT_FILL_NORMAL N(a, b²) in f32/f64, element i being draw
     * offset + i of (seed, stream); QT_FILL_BITS in i32, element i word i%4 of block
     * offset + i/4. NULL: the backend's memory is host memory, filled by host loops. */
    qt_status_t (*fill)(qt_backend_t *be, void *data, int dtype, size_t n, int kind, uint64_t seed, uint64_t stream,
                        uint64_t offset, double a, double b);
} qt_backend_iface_t;

/* What a fill draws (qt_backend_iface_t.fill, qt_tensor_fill_*). */
enum { QT_FILL_UNIFORM = 0, QT_FILL_NORMAL, QT_FILL_BITS };

/* An instance. Fields are read-only to callers; backends set them in init. */
struct qt_backend {
    const qt_backend_iface_t *iface;
    qt_device_t *device;
    int threads;     /* host backends: threads a call may use (≥ 1) */
    int rank, world; /* mpi, nccl: this process's rank and the communicator's size; else 0, 1 */
    void *ctx;       /* backend-private context (stream, handle, communicator) */
    char error[512]; /* last error of this instance ("" if none) */
    double timer_t0; /* host-clock start of qt_backend_timer_start (backends without timers) */
};

/* ---- the registry ---- */
#define QT_BACKEND_ORACLE "ref" /* the oracle: registry entry 0 */
QT_API int qt_backend_count(void);
/* The i-th registered backend (0 is always "ref"); NULL when out of range. */
QT_API const qt_backend_iface_t *qt_backend_iface_get(int i);
/* By name; NULL when this build has no such backend. */
QT_API const qt_backend_iface_t *qt_backend_iface_find(const char *name);
/* 1 when iface can run here, else 0 with the reason in why. */
QT_API int qt_backend_iface_available(const qt_backend_iface_t *iface, char *why, size_t why_size);
/* The registered names joined by sep into buf ("ref, cpu, cuda"). */
QT_API const char *qt_backend_names(char *buf, size_t size, const char *sep);

/* Make an instance of backend `name` (p may be NULL). QT_ERR_ARG for an unknown name
 * (listing the known ones), QT_ERR_UNSUPPORTED (with the reason) when it cannot run here. */
QT_API qt_status_t qt_backend_init(qt_backend_t **be, const char *name, const qt_backend_params_t *p);
/* The same for an interface table the registry does not hold (a test's fake backend, a
 * plugin): it is initialised exactly as a registered one. */
QT_API qt_status_t qt_backend_init_iface(qt_backend_t **be, const qt_backend_iface_t *iface, const qt_backend_params_t *p);
/* Release an instance (synchronizes first); NULL is ignored. */
QT_API void qt_backend_free(qt_backend_t *be);
QT_API const char *qt_backend_name(const qt_backend_t *be);
/* The technique's ops table of this instance (cast to the technique's type), NULL when
 * the backend does not implement it. */
QT_API const void *qt_backend_ops(const qt_backend_t *be, qt_technique_t t);
/* Wait for queued work; its errors come back here (also recorded in be->error). */
QT_API qt_status_t qt_backend_synchronize(qt_backend_t *be);
/* Record a failure in be->error and in the thread's qt_last_error; returns s. */
QT_API qt_status_t qt_backend_fail(qt_backend_t *be, qt_status_t s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The instance's last error text ("" if none). */
QT_API const char *qt_backend_error(const qt_backend_t *be);

/* Time the work queued between the two calls as the device sees it (CUDA events on cuda; the
 * host's monotonic clock, after a synchronize, elsewhere): for suites' manual time. */
QT_API qt_status_t qt_backend_timer_start(qt_backend_t *be);
QT_API qt_status_t qt_backend_timer_stop(qt_backend_t *be, double *seconds);

/* Memory through the instance, tracked on its device. */
QT_API qt_status_t qt_backend_alloc(qt_backend_t *be, size_t bytes, void **ptr);
QT_API void qt_backend_dealloc(qt_backend_t *be, void *ptr, size_t bytes);
QT_API qt_status_t qt_backend_copy(qt_backend_t *be, void *dst, const qt_device_t *dst_dev, const void *src,
                            const qt_device_t *src_dev, size_t bytes);

/* The instance for host-side helpers of a technique when the caller has none: a process-wide
 * "cpu" instance (never freed). */
QT_API qt_backend_t *qt_backend_default(void);

#ifdef __cplusplus
}
#endif
#endif
