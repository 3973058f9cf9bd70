/* cpu.c — the fast optimizer backend: float and double, one fused OpenMP pass per
 * tensor over parameter, gradient and state (loops in cpu_body.h, instantiated here
 * for both element types), with the backend instance's thread count. Formulas: quintet/optim.h; rounding order as ref.c.
 * Performance note: the loops only vectorise when the compiler may treat sqrt as
 * errno-free (-fno-math-errno; results are identical, sqrt stays correctly rounded):
 * measured on 2 cores, one 10M-parameter f32 step reaches 1.3-1.6x the STREAM triad
 * rate with it and 0.15-0.3x without it.
 * Tests: tests/optim/test_optim.c; bandwidth: suites/lr_convergence.c. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "optim_internal.h"
#include "quintet/tensor.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* This thread's share [lo, hi) of n elements, boundaries on multiples of 16 elements. */
static void qt_optim_thread_range(size_t n, size_t *lo, size_t *hi)
{
#ifdef _OPENMP
    size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
#else
    size_t nt = 1, id = 0;
#endif
    size_t blocks = (n + 15) / 16;
    size_t b0 = blocks * id / nt, b1 = blocks * (id + 1) / nt;
    *lo = b0 * 16 < n ? b0 * 16 : n;
    *hi = b1 * 16 < n ? b1 * 16 : n;
}

/* Distance of byte offset x from the nearest multiple of 4096. */
static size_t qt_optim_dist4k(uintptr_t x)
{
    size_t r = (size_t)(x & 4095);
    return r < 2048 ? r : 4096 - r;
}

/* Length of the first half of a range of n elements (es bytes each) whose two halves one loop
 * walks together (sgd_k): about n/2, a multiple of 16, shortened by up to 1024 elements so that
 * no stream of the second half (p, g, b + half) lies within 256 bytes of a stream of the first
 * modulo 4096. Otherwise a load of one half and a store of the other can share address bits
 * 11:0 on every iteration ("4K aliasing": the load waits for the store) when n/2 is a multiple
 * of 1024 floats and the arrays share their offset within a page (large allocations do), e.g.
 * 16M parameters on 1 or 16 threads, but not 10M on 16 threads: the suspected reason why 16M SGD
 * alone lagged PyTorch (issue 18). Arrays: p, g, and b (NULL when absent), at the range start. */
static size_t qt_optim_split_half(size_t n, size_t es, const void *p, const void *g, const void *b)
{
    size_t half = (n / 2) & ~(size_t)15, best = half, best_d = 0;
    if (n < 8192) return half;
    const uintptr_t base[3] = {(uintptr_t)p, (uintptr_t)g, (uintptr_t)b};
    for (size_t k = 0; k < 64 && best_d < 256; k++) {
        size_t h = half - 16 * k, d = 4096;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                if (base[i] && base[j]) {
                    size_t dd = qt_optim_dist4k(base[j] - base[i] + (uintptr_t)(h * es));
                    if (dd < d) d = dd;
                }
        if (d > best_d) best_d = d, best = h;
    }
    return best;
}

#define T float
#define SFX f32
#define SQRT sqrtf
#define LERP qt_lerp_f
#include "cpu_body.h"
#undef T
#undef SFX
#undef SQRT
#undef LERP

#define T double
#define SFX f64
#define SQRT sqrt
#define LERP qt_lerp_d
#include "cpu_body.h"
#undef T
#undef SFX
#undef SQRT
#undef LERP

/* cpu runs every optimizer in f32 and f64. */
static int cpu_supports(const qt_backend_t *be, const qt_optim_config_t *c, qt_dtype_t dt)
{
    (void)be;
    (void)c;
    return dt == QT_F32 || dt == QT_F64;
}

/* Dispatch on the element type; OpenMP regions use the instance's thread count. */
static qt_status_t cpu_update(qt_backend_t *be, const qt_optim_config_t *c, const qt_optim_step_info_t *s,
                              qt_tensor_t *param, const qt_tensor_t *grad, qt_tensor_t *const *state)
{
    size_t n = (size_t)qt_tensor_numel(param);
    void *st[QT_OPTIM_MAX_SLOTS];
    qt_optim_state_ptrs(c, state, st);
    int nt = be->threads > 0 ? be->threads : 1;
    if (param->dtype == QT_F32) return cpu_update_f32(c, s, param->data, grad->data, st, n, nt);
    if (param->dtype == QT_F64) return cpu_update_f64(c, s, param->data, grad->data, st, n, nt);
    return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "optimizer: dtype %s (f32 and f64 only)", qt_dtype_name(param->dtype));
}

/* Listed in the cpu backend's interface table (impl/backends/host/host.c). */
const qt_optim_ops_t qt_optim_ops_cpu = {cpu_supports, cpu_update, NULL};
