/* tensor.h — dense strided tensors (f32, f64, bf16, f16) on a device, and the
 * library's tracked host allocator.
 *
 * A tensor = dtype, shape, strides (in elements) and a buffer: the device its memory
 * lives on, the backend instance that allocated it (NULL for host memory from qt_alloc
 * or the caller's), the allocation's base and size, and the tensor's offset into it.
 * `data` is the address of element 0: a host pointer when the device is the host,
 * otherwise a device address that host code must never dereference (copy it to the
 * host first with qt_tensor_copy). Allocation and copies of device memory go through
 * the backend (backend.h); memory is tracked per device (current and peak bytes), so
 * a suite's peak_bytes is that of the device its case ran on.
 *
 * Host allocations go through qt_alloc/qt_free, which count against the host device,
 * so suites report the real peak working memory of an algorithm (e.g. O(T·D) for tiled
 * attention against O(T²) for the naive one) without malloc hooks. bf16 and f16 are
 * storage types (round-to-nearest-even conversions below); the host backends compute
 * in f32/f64 and reject them with a clear error where an op does not take them. */
#ifndef QUINTET_TENSOR_H
#define QUINTET_TENSOR_H

#include "quintet/api.h"

#include <stddef.h>
#include <stdint.h>

#include "quintet/backend.h"
#include "quintet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QT_MAX_DIMS 6
#define QT_ALIGN 64

/* Storage types; i32 holds indices and labels (LSH buckets, class labels). */
typedef enum { QT_F32 = 0, QT_F64 = 1, QT_BF16 = 2, QT_F16 = 3, QT_I32 = 4, QT_DTYPE_COUNT } qt_dtype_t;

/* Where a tensor's memory lives and who releases it. */
typedef struct {
    qt_device_t *device; /* NULL is read as the host */
    qt_backend_t *owner; /* instance that allocated base (frees it); NULL: qt_alloc or caller memory */
    void *base;          /* start of the allocation */
    size_t bytes;        /* its size */
} qt_buffer_t;

typedef struct {
    qt_dtype_t dtype;
    int ndim;
    int64_t shape[QT_MAX_DIMS];
    int64_t strides[QT_MAX_DIMS]; /* in elements */
    void *data;      /* element 0: buf.base + offset bytes (a device address off the host) */
    qt_buffer_t buf;
    size_t offset;   /* bytes from buf.base to element 0 */
    int owns_data;   /* 1 when qt_tensor_free must release the buffer */
} qt_tensor_t;

/* Tracked, QT_ALIGN-aligned allocation; NULL on failure or bytes == 0. */
QT_API void *qt_alloc(size_t bytes);
/* Same, zero-filled. */
QT_API void *qt_calloc(size_t bytes);
/* Release memory from qt_alloc/qt_calloc; NULL is ignored. */
QT_API void qt_free(void *p);
/* Bytes currently held through qt_alloc. */
QT_API size_t qt_mem_current(void);
/* High-water mark of qt_mem_current since the last qt_mem_peak_reset. */
QT_API size_t qt_mem_peak(void);
/* Restart the high-water mark at the current value. */
QT_API void qt_mem_peak_reset(void);

/* Bytes per element of a dtype. */
QT_API size_t qt_dtype_size(qt_dtype_t dt);
/* "f32" / "f64" / "bf16" / "f16" / "i32"; parse back with qt_dtype_parse (QT_ERR_ARG on unknown). */
QT_API const char *qt_dtype_name(qt_dtype_t dt);
QT_API qt_status_t qt_dtype_parse(const char *s, qt_dtype_t *out);

/* Round-to-nearest-even conversions of the 16-bit storage types (NaN stays NaN). */
QT_API uint16_t qt_f32_to_bf16(float x);
QT_API float qt_bf16_to_f32(uint16_t h);
QT_API uint16_t qt_f32_to_f16(float x);
QT_API float qt_f16_to_f32(uint16_t h);

/* Allocate a contiguous row-major HOST tensor (contents uninitialised). Dims must be >= 0. */
QT_API qt_status_t qt_tensor_init(qt_tensor_t *t, qt_dtype_t dt, int ndim, const int64_t *shape);
/* Allocate a contiguous tensor on be's device through be (contents uninitialised; be == NULL:
 * the host, as qt_tensor_init). The tensor remembers be and frees through it. */
QT_API qt_status_t qt_tensor_alloc(qt_tensor_t *t, qt_backend_t *be, qt_dtype_t dt, int ndim, const int64_t *shape);
/* The same, zero-filled. */
QT_API qt_status_t qt_tensor_zeros(qt_tensor_t *t, qt_backend_t *be, qt_dtype_t dt, int ndim, const int64_t *shape);
/* Wrap caller-owned host memory as a contiguous tensor (not freed by qt_tensor_free). */
QT_API qt_status_t qt_tensor_wrap(qt_tensor_t *t, void *data, qt_dtype_t dt, int ndim, const int64_t *shape);
/* Wrap caller-owned memory on device dev (NULL: host). */
QT_API qt_status_t qt_tensor_wrap_on(qt_tensor_t *t, qt_device_t *dev, void *data, qt_dtype_t dt, int ndim,
                              const int64_t *shape);
/* Device of t (the host when t's buffer names none). */
QT_API qt_device_t *qt_tensor_device(const qt_tensor_t *t);
/* 1 when t's memory is host memory. */
QT_API int qt_tensor_on_host(const qt_tensor_t *t);
/* Copy src into dst (same dtype and shape, both contiguous, any devices) through be, which
 * must run on one of the two devices (a host-only copy accepts be == NULL). Ordered with be's
 * other work; call qt_backend_synchronize before reading a host destination written from a
 * device. */
QT_API qt_status_t qt_tensor_copy(qt_backend_t *be, qt_tensor_t *dst, const qt_tensor_t *src);
/* A host copy of src (allocated here; free with qt_tensor_free), synchronized: for tests and
 * verify, which compare device outputs on the host as ggml's test-backend-ops does. */
QT_API qt_status_t qt_tensor_to_host(qt_backend_t *be, const qt_tensor_t *src, qt_tensor_t *host);
/* A tensor on be's device holding a copy of host tensor src (synchronized). */
QT_API qt_status_t qt_tensor_to_device(qt_backend_t *be, const qt_tensor_t *src, qt_tensor_t *dst);
/* Release owned storage; safe on a zeroed or already-freed tensor. */
QT_API void qt_tensor_free(qt_tensor_t *t);
/* Number of elements. */
QT_API int64_t qt_tensor_numel(const qt_tensor_t *t);
/* 1 when strides are row-major contiguous. */
QT_API int qt_tensor_is_contiguous(const qt_tensor_t *t);
/* 1 when a and b have the same dtype, rank and shape. */
QT_API int qt_tensor_same_shape(const qt_tensor_t *a, const qt_tensor_t *b);
/* Fill a contiguous f32/f64 tensor with N(mean, std^2) or U(lo, hi) draws 0, 1, … of stream
 * `stream` (rng.h). A host tensor is filled by host loops; a device tensor by the fill op of
 * the backend instance that allocated it (cuda: a kernel drawing the same streams; uniforms
 * bitwise equal, normals to the device's last-ulp log/sin/cos), queued on that instance. */
QT_API qt_status_t qt_tensor_fill_normal(qt_tensor_t *t, uint64_t seed, uint64_t stream, double mean, double std);
QT_API qt_status_t qt_tensor_fill_uniform(qt_tensor_t *t, uint64_t seed, uint64_t stream, double lo, double hi);
/* Fill a contiguous i32 tensor with raw Philox words: element i = word i%4 of block
 * first_block + i/4 (qt_rng_fill_bits); host or device as above (bitwise equal). */
QT_API qt_status_t qt_tensor_fill_bits(qt_tensor_t *t, uint64_t seed, uint64_t stream, uint64_t first_block);
/* Validate a tensor argument: non-NULL, data non-NULL, contiguous, dtype and rank as required
 * (rank < 0 accepts any). `what` names it in the error message. */
QT_API qt_status_t qt_tensor_check(const qt_tensor_t *t, const char *what, qt_dtype_t dt, int rank);
/* The same, and the tensor must live on device dev (QT_ERR_ARG naming both devices). */
QT_API qt_status_t qt_tensor_check_on(const qt_tensor_t *t, const char *what, qt_dtype_t dt, int rank,
                               const qt_device_t *dev);
/* 1 when every given operand ts[i] (NULL entries skipped) lives on backend be's device (any
 * host memory counts as the host's); else 0 and "<names[i]> lives on X, backend B runs on Y"
 * in why. For the supports() checks of the techniques. */
QT_API int qt_tensors_on_backend(const qt_backend_t *be, const qt_tensor_t *const *ts, const char *const *names, int n,
                          char *why, size_t why_size);

#ifdef __cplusplus
}
#endif
#endif
