/* tensor.c — tracked aligned allocator and contiguous tensors. The allocator
 * stores the size in a 64-byte header so qt_free can account for it. */
#include "quintet/tensor.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/rng.h"

static atomic_size_t mem_current;
static atomic_size_t mem_peak;

/* Raise the high-water mark to at least v. */
static void peak_raise(size_t v)
{
    size_t p = atomic_load_explicit(&mem_peak, memory_order_relaxed);
    while (v > p && !atomic_compare_exchange_weak(&mem_peak, &p, v)) {
    }
}

/* Aligned allocation with a header holding the size. */
void *qt_alloc(size_t bytes)
{
    if (bytes == 0 || bytes > SIZE_MAX - 2 * QT_ALIGN) return NULL;
    size_t total = (bytes + QT_ALIGN + QT_ALIGN - 1) / QT_ALIGN * QT_ALIGN;
    unsigned char *base = aligned_alloc(QT_ALIGN, total);
    if (!base) return NULL;
    memcpy(base, &bytes, sizeof bytes);
    size_t now = atomic_fetch_add(&mem_current, bytes) + bytes;
    peak_raise(now);
    return base + QT_ALIGN;
}

/* Zero-filled tracked allocation. */
void *qt_calloc(size_t bytes)
{
    void *p = qt_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* Release a tracked allocation. */
void qt_free(void *p)
{
    if (!p) return;
    unsigned char *base = (unsigned char *)p - QT_ALIGN;
    size_t bytes;
    memcpy(&bytes, base, sizeof bytes);
    atomic_fetch_sub(&mem_current, bytes);
    free(base);
}

/* Bytes currently held. */
size_t qt_mem_current(void) { return atomic_load(&mem_current); }
/* High-water mark. */
size_t qt_mem_peak(void) { return atomic_load(&mem_peak); }
/* Reset the high-water mark to the current level. */
void qt_mem_peak_reset(void) { atomic_store(&mem_peak, atomic_load(&mem_current)); }

/* Element size. */
size_t qt_dtype_size(qt_dtype_t dt) { return dt == QT_F64 ? 8 : 4; }

/* Dtype name. */
const char *qt_dtype_name(qt_dtype_t dt) { return dt == QT_F64 ? "f64" : "f32"; }

/* Parse "f32"/"float32"/"f64"/"float64". */
qt_status_t qt_dtype_parse(const char *s, qt_dtype_t *out)
{
    QT_CHECK_ARG(s && out, "dtype string and output must not be NULL");
    if (!strcmp(s, "f32") || !strcmp(s, "float32") || !strcmp(s, "float")) { *out = QT_F32; return QT_OK; }
    if (!strcmp(s, "f64") || !strcmp(s, "float64") || !strcmp(s, "double")) { *out = QT_F64; return QT_OK; }
    return qt_fail(QT_ERR_ARG, "unknown dtype '%s' (expected f32 or f64)", s);
}

/* Fill shape and row-major strides; checks rank and non-negative dims. */
static qt_status_t set_shape(qt_tensor_t *t, qt_dtype_t dt, int ndim, const int64_t *shape)
{
    QT_CHECK_ARG(t != NULL, "tensor must not be NULL");
    QT_CHECK_ARG(ndim >= 0 && ndim <= QT_MAX_DIMS, "rank %d outside 0..%d", ndim, QT_MAX_DIMS);
    QT_CHECK_ARG(ndim == 0 || shape != NULL, "shape must not be NULL");
    QT_CHECK_ARG(dt == QT_F32 || dt == QT_F64, "unknown dtype %d", (int)dt);
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        QT_CHECK_ARG(shape[i] >= 0, "dimension %d is negative (%lld)", i, (long long)shape[i]);
        t->shape[i] = shape[i];
        t->strides[i] = stride;
        if (shape[i] > 0 && stride > INT64_MAX / shape[i]) return qt_fail(QT_ERR_ARG, "tensor too large");
        stride *= shape[i] > 0 ? shape[i] : 1;
    }
    return QT_OK;
}

/* Allocate a contiguous tensor. */
qt_status_t qt_tensor_init(qt_tensor_t *t, qt_dtype_t dt, int ndim, const int64_t *shape)
{
    QT_TRY(set_shape(t, dt, ndim, shape));
    int64_t n = qt_tensor_numel(t);
    if (n > 0) {
        t->data = qt_alloc((size_t)n * qt_dtype_size(dt));
        if (!t->data) return qt_fail(QT_ERR_NOMEM, "tensor of %lld elements", (long long)n);
        t->owns_data = 1;
    }
    return QT_OK;
}

/* Wrap caller memory. */
qt_status_t qt_tensor_wrap(qt_tensor_t *t, void *data, qt_dtype_t dt, int ndim, const int64_t *shape)
{
    QT_TRY(set_shape(t, dt, ndim, shape));
    QT_CHECK_ARG(data != NULL || qt_tensor_numel(t) == 0, "data must not be NULL");
    t->data = data;
    return QT_OK;
}

/* Free owned storage and reset. */
void qt_tensor_free(qt_tensor_t *t)
{
    if (!t) return;
    if (t->owns_data) qt_free(t->data);
    memset(t, 0, sizeof *t);
}

/* Element count. */
int64_t qt_tensor_numel(const qt_tensor_t *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* Row-major contiguity. */
int qt_tensor_is_contiguous(const qt_tensor_t *t)
{
    int64_t stride = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != stride) return 0;
        stride *= t->shape[i];
    }
    return 1;
}

/* Same dtype and shape. */
int qt_tensor_same_shape(const qt_tensor_t *a, const qt_tensor_t *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* Normal fill. */
qt_status_t qt_tensor_fill_normal(qt_tensor_t *t, uint64_t seed, uint64_t stream, double mean, double std)
{
    QT_TRY(qt_tensor_check(t, "tensor", t ? t->dtype : QT_F32, -1));
    size_t n = (size_t)qt_tensor_numel(t);
    if (t->dtype == QT_F32) qt_rng_fill_normal_f32(t->data, n, seed, stream, 0, (float)mean, (float)std);
    else qt_rng_fill_normal_f64(t->data, n, seed, stream, 0, mean, std);
    return QT_OK;
}

/* Uniform fill. */
qt_status_t qt_tensor_fill_uniform(qt_tensor_t *t, uint64_t seed, uint64_t stream, double lo, double hi)
{
    QT_TRY(qt_tensor_check(t, "tensor", t ? t->dtype : QT_F32, -1));
    size_t n = (size_t)qt_tensor_numel(t);
    if (t->dtype == QT_F32) qt_rng_fill_uniform_f32(t->data, n, seed, stream, 0, (float)lo, (float)hi);
    else qt_rng_fill_uniform_f64(t->data, n, seed, stream, 0, lo, hi);
    return QT_OK;
}

/* Common argument validation for tensor parameters. */
qt_status_t qt_tensor_check(const qt_tensor_t *t, const char *what, qt_dtype_t dt, int rank)
{
    if (!t) return qt_fail(QT_ERR_ARG, "%s must not be NULL", what);
    if (!t->data && qt_tensor_numel(t) > 0) return qt_fail(QT_ERR_ARG, "%s has no data", what);
    if (t->dtype != dt) return qt_fail(QT_ERR_SHAPE, "%s has dtype %s, expected %s", what,
                                       qt_dtype_name(t->dtype), qt_dtype_name(dt));
    if (rank >= 0 && t->ndim != rank)
        return qt_fail(QT_ERR_SHAPE, "%s has rank %d, expected %d", what, t->ndim, rank);
    if (!qt_tensor_is_contiguous(t)) return qt_fail(QT_ERR_SHAPE, "%s must be contiguous", what);
    return QT_OK;
}
