/* tensor.h — dense strided tensors (f32/f64) with 64-byte aligned storage, and
 * the library's tracked allocator.
 *
 * Every allocation libquintet makes goes through qt_alloc/qt_free, which keep
 * the bytes currently held and their high-water mark (qt_mem_peak), so suites
 * report the real peak working memory of an algorithm (e.g. O(T·D) for tiled
 * attention against O(T²) for the naive one) without malloc hooks. */
#ifndef QUINTET_TENSOR_H
#define QUINTET_TENSOR_H

#include "quintet/api.h"

#include <stddef.h>
#include <stdint.h>

#include "quintet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QT_MAX_DIMS 6
#define QT_ALIGN 64

typedef enum { QT_F32 = 0, QT_F64 = 1 } qt_dtype_t;

typedef struct {
    qt_dtype_t dtype;
    int ndim;
    int64_t shape[QT_MAX_DIMS];
    int64_t strides[QT_MAX_DIMS]; /* in elements */
    void *data;
    int owns_data; /* 1 when qt_tensor_free must release data */
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
/* "f32" / "f64"; parse back with qt_dtype_parse (QT_ERR_ARG on unknown). */
QT_API const char *qt_dtype_name(qt_dtype_t dt);
QT_API qt_status_t qt_dtype_parse(const char *s, qt_dtype_t *out);

/* Allocate a contiguous row-major tensor (contents uninitialised). Dims must be >= 0. */
QT_API qt_status_t qt_tensor_init(qt_tensor_t *t, qt_dtype_t dt, int ndim, const int64_t *shape);
/* Wrap caller-owned memory as a contiguous tensor (not freed by qt_tensor_free). */
QT_API qt_status_t qt_tensor_wrap(qt_tensor_t *t, void *data, qt_dtype_t dt, int ndim, const int64_t *shape);
/* Release owned storage; safe on a zeroed or already-freed tensor. */
QT_API void qt_tensor_free(qt_tensor_t *t);
/* Number of elements. */
QT_API int64_t qt_tensor_numel(const qt_tensor_t *t);
/* 1 when strides are row-major contiguous. */
QT_API int qt_tensor_is_contiguous(const qt_tensor_t *t);
/* 1 when a and b have the same dtype, rank and shape. */
QT_API int qt_tensor_same_shape(const qt_tensor_t *a, const qt_tensor_t *b);
/* Fill with N(mean, std^2) or U(lo, hi) draws of stream `stream` (contiguous only). */
QT_API qt_status_t qt_tensor_fill_normal(qt_tensor_t *t, uint64_t seed, uint64_t stream, double mean, double std);
QT_API qt_status_t qt_tensor_fill_uniform(qt_tensor_t *t, uint64_t seed, uint64_t stream, double lo, double hi);
/* Validate a tensor argument: non-NULL, data non-NULL, contiguous, dtype and rank as required
 * (rank < 0 accepts any). `what` names it in the error message. */
QT_API qt_status_t qt_tensor_check(const qt_tensor_t *t, const char *what, qt_dtype_t dt, int rank);

#ifdef __cplusplus
}
#endif
#endif
