/* host.h — the host-memory calls of the ref and cpu backends (host.c), shared by every
 * backend whose memory is plain host memory (mpi): tracked allocation through qt_alloc,
 * memmove copies between host pointers, and zero fill. Internal to libquintet. */
#ifndef QUINTET_BACKENDS_HOST_H
#define QUINTET_BACKENDS_HOST_H

#include "quintet/backend.h"

qt_status_t qt_host_alloc(qt_backend_t *be, size_t bytes, void **ptr);
void qt_host_dealloc(qt_backend_t *be, void *ptr);
qt_status_t qt_host_copy(qt_backend_t *be, void *dst, const qt_device_t *dst_dev, const void *src,
                         const qt_device_t *src_dev, size_t bytes);
qt_status_t qt_host_memset0(qt_backend_t *be, void *ptr, size_t bytes);

#endif
