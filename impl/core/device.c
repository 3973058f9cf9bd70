/* device.c — the devices of backend.h: one host device and one object per CUDA ordinal,
 * each counting the bytes allocated on it (current and high-water mark), so a case's
 * peak_bytes is that of the device it ran on. The objects only account; backends own the
 * memory. */
#include <stdatomic.h>
#include <stdio.h>

#include "quintet/backend.h"

struct qt_device {
    qt_device_kind_t kind;
    int index;
    char name[16];
    atomic_llong current;
    atomic_llong peak;
};

static qt_device_t host_device = {QT_DEVICE_HOST, 0, "host", 0, 0};
static qt_device_t cuda_devices[QT_MAX_CUDA_DEVICES];
static atomic_int cuda_named[QT_MAX_CUDA_DEVICES];

/* The host device. */
qt_device_t *qt_device_host(void) { return &host_device; }

/* CUDA device object `index`, named on first use. */
qt_device_t *qt_device_cuda(int index)
{
    if (index < 0 || index >= QT_MAX_CUDA_DEVICES) return NULL;
    qt_device_t *d = &cuda_devices[index];
    int expected = 0;
    if (atomic_compare_exchange_strong(&cuda_named[index], &expected, 1)) {
        d->kind = QT_DEVICE_CUDA;
        d->index = index;
        snprintf(d->name, sizeof d->name, "cuda:%d", index);
        atomic_store(&cuda_named[index], 2);
    }
    while (atomic_load(&cuda_named[index]) != 2) {
    }
    return d;
}

/* Kind of d (a NULL device is the host). */
qt_device_kind_t qt_device_kind(const qt_device_t *d) { return d ? d->kind : QT_DEVICE_HOST; }
/* Ordinal of d. */
int qt_device_index(const qt_device_t *d) { return d ? d->index : 0; }
/* Printable name. */
const char *qt_device_name(const qt_device_t *d) { return d ? d->name : host_device.name; }
/* Host-addressable memory? */
int qt_device_is_host(const qt_device_t *d) { return !d || d->kind == QT_DEVICE_HOST; }

/* Account bytes (negative on release) and raise the peak. */
void qt_device_mem_add(qt_device_t *d, long long bytes)
{
    if (!d) d = &host_device;
    long long now = atomic_fetch_add(&d->current, bytes) + bytes;
    long long p = atomic_load_explicit(&d->peak, memory_order_relaxed);
    while (now > p && !atomic_compare_exchange_weak(&d->peak, &p, now)) {
    }
}

/* Bytes held now. */
size_t qt_device_mem_current(const qt_device_t *d)
{
    long long v = atomic_load(&(d ? d : &host_device)->current);
    return v > 0 ? (size_t)v : 0;
}

/* High-water mark. */
size_t qt_device_mem_peak(const qt_device_t *d)
{
    long long v = atomic_load(&(d ? d : &host_device)->peak);
    return v > 0 ? (size_t)v : 0;
}

/* Restart the high-water mark. */
void qt_device_mem_peak_reset(qt_device_t *d)
{
    if (!d) d = &host_device;
    atomic_store(&d->peak, atomic_load(&d->current));
}
