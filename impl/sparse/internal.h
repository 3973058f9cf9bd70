/* internal.h — helpers shared by the sparse backends (ref.c, cpu.c, common.c); not public.
 * The checked wrappers in common.c validate arguments once; backends trust them. */
#ifndef QUINTET_SPARSE_INTERNAL_H
#define QUINTET_SPARSE_INTERNAL_H

#include "quintet/sparse.h"

extern const qt_sparse_ops_t qt_sparse_ops_ref;
extern const qt_sparse_ops_t qt_sparse_ops_cpu;

/* Training-mode steps 1–4 of the dynamic threshold (sparse.h) on x (rows, cols):
 * updates μ, κ, θ and steps. Double accumulation, identical for every backend. */
qt_status_t qt_sparse_dthresh_update(qt_dthresh_t *d, const float *x, int64_t rows, int64_t cols);

/* Top-k order: 1 when (a at column ia) ranks before (b at column ib): larger value first,
 * ties by the lower column. NaN ranks last. */
static inline int qt_sparse_topk_before(float a, int64_t ia, float b, int64_t ib)
{
    if (a != a) return 0;
    if (b != b) return 1;
    return a > b || (a == b && ia < ib);
}

/* Add the counters of one matmul: macs done, macs skipped, nonzeros consumed (< 0: not counted). */
void qt_sparse_count_matmul(double macs_done, double macs_skipped, int64_t nnz);

#endif
