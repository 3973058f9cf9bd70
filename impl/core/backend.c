/* backend.c — the registry of backends and the instance calls of backend.h: init/free,
 * ops lookup, synchronize, per-instance errors, and memory through the instance,
 * accounted on its device. The interface tables themselves live in impl/backends/. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quintet/backend.h"

extern const qt_backend_iface_t qt_backend_iface_ref;
extern const qt_backend_iface_t qt_backend_iface_cpu;
#ifdef QT_HAVE_CUDA
extern const qt_backend_iface_t qt_backend_iface_cuda;
#endif
#ifdef QT_HAVE_MPI_BACKEND
extern const qt_backend_iface_t qt_backend_iface_mpi;
#endif
#ifdef QT_HAVE_NCCL_BACKEND
extern const qt_backend_iface_t qt_backend_iface_nccl;
#endif

/* Every backend of this build; ref first (the oracle). */
static const qt_backend_iface_t *const registry[] = {
    &qt_backend_iface_ref,
    &qt_backend_iface_cpu,
#ifdef QT_HAVE_CUDA
    &qt_backend_iface_cuda,
#endif
#ifdef QT_HAVE_MPI_BACKEND
    &qt_backend_iface_mpi,
#endif
#ifdef QT_HAVE_NCCL_BACKEND
    &qt_backend_iface_nccl,
#endif
};

static const char *const technique_names[QT_TECH_COUNT] = {"attention", "fusion", "optim", "dist", "sparse"};

/* Technique name. */
const char *qt_technique_name(qt_technique_t t)
{
    return (t >= 0 && t < QT_TECH_COUNT) ? technique_names[t] : "?";
}

/* Parse a technique name. */
qt_status_t qt_technique_parse(const char *s, qt_technique_t *out)
{
    QT_CHECK_ARG(s && out, "technique name and output must not be NULL");
    for (int t = 0; t < QT_TECH_COUNT; t++)
        if (!strcmp(s, technique_names[t])) {
            *out = (qt_technique_t)t;
            return QT_OK;
        }
    return qt_fail(QT_ERR_ARG, "unknown technique '%s' (attention, fusion, optim, dist, sparse)", s);
}

/* Number of registered backends. */
int qt_backend_count(void) { return (int)(sizeof registry / sizeof registry[0]); }

/* The i-th registered backend. */
const qt_backend_iface_t *qt_backend_iface_get(int i)
{
    return (i >= 0 && i < qt_backend_count()) ? registry[i] : NULL;
}

/* Lookup by name. */
const qt_backend_iface_t *qt_backend_iface_find(const char *name)
{
    for (int i = 0; name && i < qt_backend_count(); i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

/* Availability on this machine, with the reason when not. */
int qt_backend_iface_available(const qt_backend_iface_t *iface, char *why, size_t why_size)
{
    if (why && why_size) why[0] = '\0';
    if (!iface) {
        if (why && why_size) snprintf(why, why_size, "no such backend");
        return 0;
    }
    return iface->available ? iface->available(why, why_size) : 1;
}

/* Registered names joined by sep. */
const char *qt_backend_names(char *buf, size_t size, const char *sep)
{
    size_t used = 0;
    if (!buf || !size) return "";
    buf[0] = '\0';
    for (int i = 0; i < qt_backend_count() && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? sep : "", registry[i]->name);
    return buf;
}

/* Make an instance of a registered backend. */
qt_status_t qt_backend_init(qt_backend_t **out, const char *name, const qt_backend_params_t *p)
{
    QT_CHECK_ARG(out != NULL, "backend output must not be NULL");
    *out = NULL;
    const qt_backend_iface_t *iface = qt_backend_iface_find(name);
    if (!iface) {
        char names[256];
        return qt_fail(QT_ERR_ARG, "unknown backend '%s' (this build has: %s)", name ? name : "(null)",
                       qt_backend_names(names, sizeof names, ", "));
    }
    return qt_backend_init_iface(out, iface, p);
}

/* Make an instance of any interface table. */
qt_status_t qt_backend_init_iface(qt_backend_t **out, const qt_backend_iface_t *iface, const qt_backend_params_t *p)
{
    QT_CHECK_ARG(out != NULL && iface != NULL && iface->name != NULL, "backend output and interface must not be NULL");
    *out = NULL;
    QT_CHECK_ARG(iface->alloc && iface->dealloc && iface->copy, "backend %s lacks alloc, free or copy", iface->name);
    char why[256];
    if (!qt_backend_iface_available(iface, why, sizeof why))
        return qt_fail(QT_ERR_UNSUPPORTED, "backend %s is not available here: %s", iface->name, why);
    qt_backend_t *be = calloc(1, sizeof *be);
    if (!be) return qt_fail(QT_ERR_NOMEM, "backend instance");
    static const qt_backend_params_t defaults;
    be->iface = iface;
    be->device = qt_device_host();
    be->threads = 1;
    be->world = 1;
    qt_status_t s = iface->init ? iface->init(be, p ? p : &defaults) : QT_OK;
    if (s != QT_OK) {
        free(be);
        return s;
    }
    *out = be;
    return QT_OK;
}

/* Release an instance. */
void qt_backend_free(qt_backend_t *be)
{
    if (!be) return;
    if (be->iface->synchronize) (void)be->iface->synchronize(be);
    if (be->iface->free) be->iface->free(be);
    free(be);
}

/* Name of the instance's backend. */
const char *qt_backend_name(const qt_backend_t *be) { return be ? be->iface->name : "(none)"; }

/* Ops table of a technique. */
const void *qt_backend_ops(const qt_backend_t *be, qt_technique_t t)
{
    if (!be || t < 0 || t >= QT_TECH_COUNT) return NULL;
    return be->iface->ops[t];
}

/* Wait for queued work. */
qt_status_t qt_backend_synchronize(qt_backend_t *be)
{
    QT_CHECK_ARG(be != NULL, "synchronize: backend must not be NULL");
    return be->iface->synchronize ? be->iface->synchronize(be) : QT_OK;
}

/* Record an instance error. */
qt_status_t qt_backend_fail(qt_backend_t *be, qt_status_t s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (be) snprintf(be->error, sizeof be->error, "%s", msg);
    return qt_fail(s, "%s: %s", be ? be->iface->name : "backend", msg);
}

/* Last error of an instance. */
const char *qt_backend_error(const qt_backend_t *be) { return be ? be->error : ""; }

/* Monotonic seconds. */
static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Start of a timed region: the backend's own timer, else the host clock after queued work. */
qt_status_t qt_backend_timer_start(qt_backend_t *be)
{
    QT_CHECK_ARG(be != NULL, "timer_start: backend must not be NULL");
    if (be->iface->timer_start) return be->iface->timer_start(be);
    QT_TRY(qt_backend_synchronize(be));
    be->timer_t0 = mono_s();
    return QT_OK;
}

/* End of a timed region: seconds since qt_backend_timer_start. */
qt_status_t qt_backend_timer_stop(qt_backend_t *be, double *seconds)
{
    QT_CHECK_ARG(be && seconds, "timer_stop: backend and output must not be NULL");
    if (be->iface->timer_stop) return be->iface->timer_stop(be, seconds);
    QT_TRY(qt_backend_synchronize(be));
    *seconds = mono_s() - be->timer_t0;
    return QT_OK;
}

/* Allocate on the instance's device. */
qt_status_t qt_backend_alloc(qt_backend_t *be, size_t bytes, void **ptr)
{
    QT_CHECK_ARG(be && ptr, "alloc: backend and output must not be NULL");
    *ptr = NULL;
    if (bytes == 0) return QT_OK;
    return be->iface->alloc(be, bytes, ptr);
}

/* Release memory from qt_backend_alloc. */
void qt_backend_dealloc(qt_backend_t *be, void *ptr, size_t bytes)
{
    (void)bytes;
    if (be && ptr) be->iface->dealloc(be, ptr);
}

/* Copy between devices through the instance. */
qt_status_t qt_backend_copy(qt_backend_t *be, void *dst, const qt_device_t *dst_dev, const void *src,
                            const qt_device_t *src_dev, size_t bytes)
{
    if (bytes == 0) return QT_OK;
    QT_CHECK_ARG(dst && src, "copy: NULL pointer");
    if (qt_device_is_host(dst_dev) && qt_device_is_host(src_dev) && (!be || qt_device_is_host(be->device))) {
        memmove(dst, src, bytes);
        return QT_OK;
    }
    QT_CHECK_ARG(be != NULL, "copy between %s and %s needs a backend", qt_device_name(src_dev),
                 qt_device_name(dst_dev));
    const qt_device_t *mine = be->device;
    int ok = (dst_dev == mine || qt_device_is_host(dst_dev)) && (src_dev == mine || qt_device_is_host(src_dev));
    if (!ok)
        return qt_fail(QT_ERR_ARG, "backend %s (on %s) cannot copy from %s to %s", be->iface->name,
                       qt_device_name(mine), qt_device_name(src_dev), qt_device_name(dst_dev));
    return be->iface->copy(be, dst, dst_dev, src, src_dev, bytes);
}

/* The process-wide cpu instance. */
qt_backend_t *qt_backend_default(void)
{
    static qt_backend_t *def;
#pragma omp critical(qt_backend_default)
    if (!def) (void)qt_backend_init(&def, "cpu", NULL);
    return def;
}
