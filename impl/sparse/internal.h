/* internal.h — helpers shared by the sparse backends (ref.c, cpu.c, common.c, cuda/sparse.cu,
 * which includes it as C++: C linkage below); not public.
 * The checked wrappers in common.c validate arguments, dtypes and devices once; backends
 * trust them. The ops tables are listed in the registry by impl/backends/host/host.c. */
#ifndef QUINTET_SPARSE_INTERNAL_H
#define QUINTET_SPARSE_INTERNAL_H

#include "quintet/sparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Training-mode steps 1–4 of the dynamic threshold (sparse.h) on x (rows, cols), state and x
 * in host memory (the host backends): updates μ, κ, θ and steps. Double accumulation; the
 * definition of the statistic, identical for every host backend. */
qt_status_t qt_sparse_dthresh_update(qt_dthresh_t *d, const float *x, int64_t rows, int64_t cols);

/* Top-k order: 1 when (a at column ia) ranks before (b at column ib): larger value first,
 * ties by the lower column. NaN ranks last. */
static inline int qt_sparse_topk_before(float a, int64_t ia, float b, int64_t ib)
{
    if (a != a) return 0;
    if (b != b) return 1;
    return a > b || (a == b && ia < ib);
}

/* Working memory of `bytes` on be's device from workspace ws (grown) or, when ws is NULL, a
 * fresh block returned in *owned; NULL when out of memory (error recorded). Release an owned
 * block with qt_sparse_ws_release(be, owned, bytes). */
void *qt_sparse_ws_get(qt_backend_t *be, qt_spmm_ws_t *ws, size_t bytes, void **owned);
void qt_sparse_ws_release(qt_backend_t *be, void *owned, size_t bytes);

/* Add the counters of one matmul: macs done, macs skipped, nonzeros consumed (< 0: not counted). */
void qt_sparse_count_matmul(double macs_done, double macs_skipped, int64_t nnz);

#ifdef __cplusplus
}
#endif

#endif
