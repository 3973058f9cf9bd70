/* tensor.c — tracked aligned host allocator, contiguous tensors on devices, copies
 * between devices through a backend, and the bf16/f16 conversions. The allocator stores
 * the size in a 64-byte header so qt_free can account for it on the host device. */
#include "quintet/tensor.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "quintet/rng.h"

#define HUGE_PAGE ((size_t)2 << 20) /* x86-64's and aarch64's (4 KiB granule) transparent huge page */
#define HUGE_MIN ((size_t)8 << 20)  /* allocations from this size on are backed by huge pages */

/* Whether large allocations ask for transparent huge pages: yes unless QT_HUGEPAGES=0 (read once;
 * the switch exists for A/B measurements). */
static int huge_pages_wanted(void)
{
    static atomic_int wanted = -1;
    int w = atomic_load(&wanted);
    if (w < 0) {
        const char *e = getenv("QT_HUGEPAGES");
        w = !(e && e[0] == '0' && !e[1]);
        atomic_store(&wanted, w);
    }
    return w;
}

/* Huge-page allocations start at one of STAGGER_SLOTS offsets, STAGGER_STEP apart, taken in turn.
 * Why: with every large tensor at the same offset in its 2 MiB page, the streams of a step
 * (parameter, gradient, state) hit the same cache sets and DRAM banks at the same moment. On the H200
 * host's Xeon one thread's 5-stream steps (RMSprop, Adagrad) then ran 18-20% slower than on 4 KiB
 * pages (random frames); 4 KiB + 64 B apart they ran at the 4 KiB-page rate: alias_ab, session 7,
 * /work/.device/1 (third_party/stage/lead7/src/alias_ab.c), one thread on core 2, n = 78.6M f32:
 * rmsprop 86.8 -> 74.0 ms, adagrad 87.3 -> 70.5, adam 104.4 -> 96.1, sgd 41.4 -> 41.7; 16 threads
 * unchanged (117.8 -> 117.9 GB/s). On the 2-core VM (Zen 4): rmsprop 3.99 -> 3.74 ms at n = 10M. */
#define STAGGER_SLOTS 16
#define STAGGER_STEP ((size_t)4096 + QT_ALIGN)

/* The header before the data: the size asked for and the distance from the block's start. */
typedef struct {
    size_t bytes, lead;
} alloc_header_t;

/* Aligned allocation with a header (alloc_header_t, in the QT_ALIGN bytes before the data).
 * From HUGE_MIN bytes on the block is 2 MiB aligned, a whole number of 2 MiB pages, advised
 * MADV_HUGEPAGE, and the data start at a staggered offset in it (above): a kernel streaming a
 * large tensor (an optimizer step, the rows of W a sparse GEMV gathers) then misses the TLB once
 * per 2 MiB instead of once per 4 KiB. It matters where THP is in "madvise" mode (Debian's default);
 * the advice is a hint the kernel may ignore, so failure is not an error. */
void *qt_alloc(size_t bytes)
{
    _Static_assert(sizeof(alloc_header_t) <= QT_ALIGN, "the header fits its slot");
    static atomic_uint next_slot;
    if (bytes == 0 || bytes > SIZE_MAX - 2 * QT_ALIGN - HUGE_PAGE - STAGGER_SLOTS * STAGGER_STEP) return NULL;
    size_t total = (bytes + QT_ALIGN + QT_ALIGN - 1) / QT_ALIGN * QT_ALIGN;
    const int huge = total >= HUGE_MIN && huge_pages_wanted();
    size_t lead = QT_ALIGN;
    if (huge) {
        lead += (atomic_fetch_add(&next_slot, 1u) % STAGGER_SLOTS) * STAGGER_STEP;
        total = (total + lead - QT_ALIGN + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    }
    unsigned char *base = aligned_alloc(huge ? HUGE_PAGE : QT_ALIGN, total);
    if (!base) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (huge) (void)madvise(base, total, MADV_HUGEPAGE);
#endif
    alloc_header_t h = {bytes, lead};
    memcpy(base + lead - QT_ALIGN, &h, sizeof h);
    qt_device_mem_add(qt_device_host(), (long long)bytes);
    return base + lead;
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
    alloc_header_t h;
    memcpy(&h, (unsigned char *)p - QT_ALIGN, sizeof h);
    qt_device_mem_add(qt_device_host(), -(long long)h.bytes);
    free((unsigned char *)p - h.lead);
}

/* Host bytes currently held. */
size_t qt_mem_current(void) { return qt_device_mem_current(qt_device_host()); }
/* Host high-water mark. */
size_t qt_mem_peak(void) { return qt_device_mem_peak(qt_device_host()); }
/* Reset the host high-water mark to the current level. */
void qt_mem_peak_reset(void) { qt_device_mem_peak_reset(qt_device_host()); }

/* Element size. */
size_t qt_dtype_size(qt_dtype_t dt)
{
    switch (dt) {
    case QT_F64: return 8;
    case QT_BF16:
    case QT_F16: return 2;
    default: return 4;
    }
}

/* Dtype name. */
const char *qt_dtype_name(qt_dtype_t dt)
{
    switch (dt) {
    case QT_F32: return "f32";
    case QT_F64: return "f64";
    case QT_BF16: return "bf16";
    case QT_F16: return "f16";
    case QT_I32: return "i32";
    default: return "?";
    }
}

/* Parse "f32"/"float32"/"f64"/"float64". */
qt_status_t qt_dtype_parse(const char *s, qt_dtype_t *out)
{
    QT_CHECK_ARG(s && out, "dtype string and output must not be NULL");
    if (!strcmp(s, "f32") || !strcmp(s, "float32") || !strcmp(s, "float")) { *out = QT_F32; return QT_OK; }
    if (!strcmp(s, "f64") || !strcmp(s, "float64") || !strcmp(s, "double")) { *out = QT_F64; return QT_OK; }
    if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16")) { *out = QT_BF16; return QT_OK; }
    if (!strcmp(s, "f16") || !strcmp(s, "float16") || !strcmp(s, "half")) { *out = QT_F16; return QT_OK; }
    if (!strcmp(s, "i32") || !strcmp(s, "int32")) { *out = QT_I32; return QT_OK; }
    return qt_fail(QT_ERR_ARG, "unknown dtype '%s' (expected f32, f64, bf16, f16 or i32)", s);
}

/* f32 -> bf16, round to nearest even; NaN stays a quiet NaN. */
uint16_t qt_f32_to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* bf16 -> f32 (exact). */
float qt_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* f32 -> IEEE binary16, round to nearest even, overflow to inf, subnormals kept. */
uint16_t qt_f32_to_f16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;          /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u;         /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {                               /* below 2^-14: subnormal or zero */
        if (a < 0x33000000u) return sign;                /* below half the smallest subnormal */
        uint32_t mant = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(a >> 23);                /* 14..24 */
        uint32_t half = 1u << (shift - 1), rest = mant & ((1u << shift) - 1);
        uint32_t r = mant >> shift;
        if (rest > half || (rest == half && (r & 1u))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = a - 0x38000000u;                        /* rebias exponent 127 -> 15 */
    uint32_t rest = r & 0x1fffu;
    r >>= 13;
    if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) r++;
    return sign | (uint16_t)r;
}

/* IEEE binary16 -> f32 (exact). */
float qt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1fu) u = sign | 0x7f800000u | (m << 13);
    else if (e) u = sign | ((e + 112u) << 23) | (m << 13);
    else if (!m) u = sign;
    else {
        int shift = 0;
        while (!(m & 0x400u)) { m <<= 1; shift++; }
        u = sign | ((uint32_t)(113 - shift) << 23) | ((m & 0x3ffu) << 13);
    }
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Fill shape and row-major strides; checks rank and non-negative dims. */
static qt_status_t set_shape(qt_tensor_t *t, qt_dtype_t dt, int ndim, const int64_t *shape)
{
    QT_CHECK_ARG(t != NULL, "tensor must not be NULL");
    QT_CHECK_ARG(ndim >= 0 && ndim <= QT_MAX_DIMS, "rank %d outside 0..%d", ndim, QT_MAX_DIMS);
    QT_CHECK_ARG(ndim == 0 || shape != NULL, "shape must not be NULL");
    QT_CHECK_ARG(dt >= 0 && dt < QT_DTYPE_COUNT, "unknown dtype %d", (int)dt);
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

/* Allocate a contiguous host tensor. */
qt_status_t qt_tensor_init(qt_tensor_t *t, qt_dtype_t dt, int ndim, const int64_t *shape)
{
    return qt_tensor_alloc(t, NULL, dt, ndim, shape);
}

/* Allocate a contiguous tensor on be's device (the host when be is NULL). */
qt_status_t qt_tensor_alloc(qt_tensor_t *t, qt_backend_t *be, qt_dtype_t dt, int ndim, const int64_t *shape)
{
    QT_TRY(set_shape(t, dt, ndim, shape));
    int64_t n = qt_tensor_numel(t);
    size_t bytes = (size_t)n * qt_dtype_size(dt);
    t->buf.device = be ? be->device : qt_device_host();
    if (n > 0) {
        if (be) QT_TRY(qt_backend_alloc(be, bytes, &t->buf.base));
        else t->buf.base = qt_alloc(bytes);
        if (!t->buf.base) return qt_fail(QT_ERR_NOMEM, "tensor of %lld elements", (long long)n);
        t->buf.owner = be;
        t->buf.bytes = bytes;
        t->data = t->buf.base;
        t->owns_data = 1;
    }
    return QT_OK;
}

/* Allocate and zero-fill. */
qt_status_t qt_tensor_zeros(qt_tensor_t *t, qt_backend_t *be, qt_dtype_t dt, int ndim, const int64_t *shape)
{
    QT_TRY(qt_tensor_alloc(t, be, dt, ndim, shape));
    if (!t->buf.bytes) return QT_OK;
    if (!be || !be->iface->memset0) {
        memset(t->data, 0, t->buf.bytes);
        return QT_OK;
    }
    qt_status_t s = be->iface->memset0(be, t->data, t->buf.bytes);
    if (s != QT_OK) qt_tensor_free(t);
    return s;
}

/* Wrap caller memory on the host. */
qt_status_t qt_tensor_wrap(qt_tensor_t *t, void *data, qt_dtype_t dt, int ndim, const int64_t *shape)
{
    return qt_tensor_wrap_on(t, NULL, data, dt, ndim, shape);
}

/* Wrap caller memory on a device. */
qt_status_t qt_tensor_wrap_on(qt_tensor_t *t, qt_device_t *dev, void *data, qt_dtype_t dt, int ndim,
                              const int64_t *shape)
{
    QT_TRY(set_shape(t, dt, ndim, shape));
    QT_CHECK_ARG(data != NULL || qt_tensor_numel(t) == 0, "data must not be NULL");
    t->data = data;
    t->buf.device = dev ? dev : qt_device_host();
    t->buf.base = data;
    t->buf.bytes = (size_t)qt_tensor_numel(t) * qt_dtype_size(dt);
    return QT_OK;
}

/* Free owned storage and reset. */
void qt_tensor_free(qt_tensor_t *t)
{
    if (!t) return;
    if (t->owns_data) {
        if (t->buf.owner) qt_backend_dealloc(t->buf.owner, t->buf.base, t->buf.bytes);
        else qt_free(t->buf.base);
    }
    memset(t, 0, sizeof *t);
}

/* Device of a tensor. */
qt_device_t *qt_tensor_device(const qt_tensor_t *t)
{
    return (t && t->buf.device) ? t->buf.device : qt_device_host();
}

/* Host memory? */
int qt_tensor_on_host(const qt_tensor_t *t) { return qt_device_is_host(qt_tensor_device(t)); }

/* Copy between tensors of the same dtype and shape. */
qt_status_t qt_tensor_copy(qt_backend_t *be, qt_tensor_t *dst, const qt_tensor_t *src)
{
    QT_CHECK_ARG(dst && src, "tensor copy: NULL tensor");
    if (!qt_tensor_same_shape(dst, src)) return qt_fail(QT_ERR_SHAPE, "tensor copy: dtype or shape differ");
    if (!qt_tensor_is_contiguous(dst) || !qt_tensor_is_contiguous(src))
        return qt_fail(QT_ERR_SHAPE, "tensor copy: both tensors must be contiguous");
    size_t bytes = (size_t)qt_tensor_numel(src) * qt_dtype_size(src->dtype);
    return qt_backend_copy(be, dst->data, qt_tensor_device(dst), src->data, qt_tensor_device(src), bytes);
}

/* A synchronized host copy of src. */
qt_status_t qt_tensor_to_host(qt_backend_t *be, const qt_tensor_t *src, qt_tensor_t *host)
{
    QT_CHECK_ARG(src && host, "to_host: NULL tensor");
    QT_TRY(qt_tensor_init(host, src->dtype, src->ndim, src->shape));
    qt_status_t s = qt_tensor_copy(be, host, src);
    if (s == QT_OK && be) s = qt_backend_synchronize(be);
    if (s != QT_OK) qt_tensor_free(host);
    return s;
}

/* A synchronized device copy of host tensor src on be's device. */
qt_status_t qt_tensor_to_device(qt_backend_t *be, const qt_tensor_t *src, qt_tensor_t *dst)
{
    QT_CHECK_ARG(be && src && dst, "to_device: NULL argument");
    QT_TRY(qt_tensor_alloc(dst, be, src->dtype, src->ndim, src->shape));
    qt_status_t s = qt_tensor_copy(be, dst, src);
    if (s == QT_OK) s = qt_backend_synchronize(be);
    if (s != QT_OK) qt_tensor_free(dst);
    return s;
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

/* Fill t with draws of `kind` (QT_FILL_*): host loops for host memory, else the fill op of
 * the instance that allocated t. */
static qt_status_t tensor_fill(qt_tensor_t *t, int kind, uint64_t seed, uint64_t stream, uint64_t offset, double a,
                               double b)
{
    QT_TRY(qt_tensor_check(t, "tensor", t ? t->dtype : QT_F32, -1));
    if (kind == QT_FILL_BITS ? t->dtype != QT_I32 : (t->dtype != QT_F32 && t->dtype != QT_F64))
        return qt_fail(QT_ERR_SHAPE, "fill: dtype %s (%s only)", qt_dtype_name(t->dtype),
                       kind == QT_FILL_BITS ? "i32" : "f32 or f64");
    size_t n = (size_t)qt_tensor_numel(t);
    if (!qt_tensor_on_host(t)) {
        qt_backend_t *be = t->buf.owner;
        if (!be)
            return qt_fail(QT_ERR_ARG, "fill: tensor lives on %s and no backend instance allocated it; fill a host "
                           "tensor and copy it", qt_device_name(qt_tensor_device(t)));
        if (!be->iface->fill)
            return qt_fail(QT_ERR_UNSUPPORTED, "fill: tensor lives on %s and backend %s has no device fill",
                           qt_device_name(qt_tensor_device(t)), qt_backend_name(be));
        return be->iface->fill(be, t->data, (int)t->dtype, n, kind, seed, stream, offset, a, b);
    }
    if (kind == QT_FILL_BITS) qt_rng_fill_bits(t->data, n, seed, stream, offset);
    else if (kind == QT_FILL_NORMAL && t->dtype == QT_F32)
        qt_rng_fill_normal_f32(t->data, n, seed, stream, offset, (float)a, (float)b);
    else if (kind == QT_FILL_NORMAL) qt_rng_fill_normal_f64(t->data, n, seed, stream, offset, a, b);
    else if (t->dtype == QT_F32) qt_rng_fill_uniform_f32(t->data, n, seed, stream, offset, (float)a, (float)b);
    else qt_rng_fill_uniform_f64(t->data, n, seed, stream, offset, a, b);
    return QT_OK;
}

/* Normal fill. */
qt_status_t qt_tensor_fill_normal(qt_tensor_t *t, uint64_t seed, uint64_t stream, double mean, double std)
{
    return tensor_fill(t, QT_FILL_NORMAL, seed, stream, 0, mean, std);
}

/* Uniform fill. */
qt_status_t qt_tensor_fill_uniform(qt_tensor_t *t, uint64_t seed, uint64_t stream, double lo, double hi)
{
    return tensor_fill(t, QT_FILL_UNIFORM, seed, stream, 0, lo, hi);
}

/* Raw words. */
qt_status_t qt_tensor_fill_bits(qt_tensor_t *t, uint64_t seed, uint64_t stream, uint64_t first_block)
{
    return tensor_fill(t, QT_FILL_BITS, seed, stream, first_block, 0, 0);
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

/* Validation plus the device the tensor must live on. */
qt_status_t qt_tensor_check_on(const qt_tensor_t *t, const char *what, qt_dtype_t dt, int rank,
                               const qt_device_t *dev)
{
    QT_TRY(qt_tensor_check(t, what, dt, rank));
    const qt_device_t *on = qt_tensor_device(t);
    int same = (on == dev) || (qt_device_is_host(on) && qt_device_is_host(dev));
    if (!same)
        return qt_fail(QT_ERR_ARG, "%s lives on %s, but the backend runs on %s (copy it with qt_tensor_copy)", what,
                       qt_device_name(on), qt_device_name(dev));
    return QT_OK;
}

/* Placement of a technique's operands (tensor.h). */
int qt_tensors_on_backend(const qt_backend_t *be, const qt_tensor_t *const *ts, const char *const *names, int n,
                          char *why, size_t why_size)
{
    for (int i = 0; i < n; i++) {
        if (!ts[i]) continue;
        const qt_device_t *d = qt_tensor_device(ts[i]);
        if (d != be->device && !(qt_device_is_host(d) && qt_device_is_host(be->device))) {
            snprintf(why, why_size, "%s lives on %s, backend %s runs on %s", names[i], qt_device_name(d),
                     qt_backend_name(be), qt_device_name(be->device));
            return 0;
        }
    }
    if (why_size) why[0] = '\0';
    return 1;
}
