/* host.c — the two host backends of the registry (backend.h):
 *   ref  the oracle: plain C loops with double accumulation, one thread, sharing no kernel
 *        with any other backend; every other backend is verified against it;
 *   cpu  the optimized host backend: tiled, SIMD, OpenMP (threads = the instance's count).
 * Both allocate with qt_alloc (tracked on the host device) and copy with memcpy; their
 * work is synchronous, so synchronize has nothing to wait for. The technique ops tables
 * they expose are defined in impl/<technique>/ref.c and cpu*.c. The memory calls (host.h)
 * are shared with the other host-memory backend, mpi. */
#include <omp.h>
#include <string.h>

#include "quintet/attention.h"
#include "quintet/backend.h"
#include "quintet/fusion.h"
#include "quintet/optim.h"
#include "quintet/sparse.h"
#include "quintet/tensor.h"
#include "host.h"

/* The technique ops tables (impl/<technique>/ref.c, cpu*.c). */
extern const qt_attn_ops_t qt_attn_ops_ref, qt_attn_ops_cpu;
extern const qt_fusion_ops_t qt_fusion_ops_ref, qt_fusion_ops_cpu;
extern const qt_optim_ops_t qt_optim_ops_ref, qt_optim_ops_cpu;
extern const qt_sparse_ops_t qt_sparse_ops_ref, qt_sparse_ops_cpu;

/* Host memory, tracked on the host device by qt_alloc. */
qt_status_t qt_host_alloc(qt_backend_t *be, size_t bytes, void **ptr)
{
    *ptr = qt_alloc(bytes);
    if (!*ptr) return qt_backend_fail(be, QT_ERR_NOMEM, "cannot allocate %zu bytes on the host", bytes);
    return QT_OK;
}

/* Release host memory. */
void qt_host_dealloc(qt_backend_t *be, void *ptr)
{
    (void)be;
    qt_free(ptr);
}

/* Host to host. */
qt_status_t qt_host_copy(qt_backend_t *be, void *dst, const qt_device_t *dst_dev, const void *src,
                             const qt_device_t *src_dev, size_t bytes)
{
    if (!qt_device_is_host(dst_dev) || !qt_device_is_host(src_dev))
        return qt_backend_fail(be, QT_ERR_ARG, "a host backend cannot copy %s to %s", qt_device_name(src_dev),
                               qt_device_name(dst_dev));
    memmove(dst, src, bytes);
    return QT_OK;
}

/* Zero host memory. */
qt_status_t qt_host_memset0(qt_backend_t *be, void *ptr, size_t bytes)
{
    (void)be;
    memset(ptr, 0, bytes);
    return QT_OK;
}

/* ref: always one thread. */
static qt_status_t ref_init(qt_backend_t *be, const qt_backend_params_t *p)
{
    (void)p;
    be->device = qt_device_host();
    be->threads = 1;
    return QT_OK;
}

/* cpu: the requested thread count, else OpenMP's default. */
static qt_status_t cpu_init(qt_backend_t *be, const qt_backend_params_t *p)
{
    if (p->threads < 0) return qt_fail(QT_ERR_ARG, "cpu backend: threads %d must be >= 0", p->threads);
    be->device = qt_device_host();
    be->threads = p->threads > 0 ? p->threads : omp_get_max_threads();
    return QT_OK;
}

const qt_backend_iface_t qt_backend_iface_ref = {
    .name = "ref",
    .description = "oracle: plain C, double accumulation, one thread",
    .device_kind = QT_DEVICE_HOST,
    .init = ref_init,
    .alloc = qt_host_alloc,
    .dealloc = qt_host_dealloc,
    .copy = qt_host_copy,
    .memset0 = qt_host_memset0,
    .ops = {
        [QT_TECH_ATTENTION] = &qt_attn_ops_ref,
        [QT_TECH_FUSION] = &qt_fusion_ops_ref,
        [QT_TECH_OPTIM] = &qt_optim_ops_ref,
        [QT_TECH_SPARSE] = &qt_sparse_ops_ref,
    },
};

const qt_backend_iface_t qt_backend_iface_cpu = {
    .name = "cpu",
    .description = "optimized host code: tiles, SIMD, OpenMP, OpenBLAS",
    .device_kind = QT_DEVICE_HOST,
    .init = cpu_init,
    .alloc = qt_host_alloc,
    .dealloc = qt_host_dealloc,
    .copy = qt_host_copy,
    .memset0 = qt_host_memset0,
    .ops = {
        [QT_TECH_ATTENTION] = &qt_attn_ops_cpu,
        [QT_TECH_FUSION] = &qt_fusion_ops_cpu,
        [QT_TECH_OPTIM] = &qt_optim_ops_cpu,
        [QT_TECH_SPARSE] = &qt_sparse_ops_cpu,
    },
};
