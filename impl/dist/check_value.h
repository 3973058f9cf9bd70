/* check_value.h — the seeded check data of dist.h's collectives (nccl-tests style), shared by
 * the host code (collectives.c) and the GPU kernels (cuda/check.cu) so both compute the same
 * numbers: rank r's send element i = 1 + (7i + 13r + seed) mod 15, a small integer, so every
 * collective's result is an exact float every rank can compute. Internal to libquintet.
 * Tests: tests/dist/test_dist.c (make test). */
#ifndef QUINTET_DIST_CHECK_VALUE_H
#define QUINTET_DIST_CHECK_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/dist.h"

#ifdef __CUDACC__
#define QT_DIST_HD __host__ __device__
#else
#define QT_DIST_HD
#endif

/* Element i of rank r's send buffer. */
static inline QT_DIST_HD float qt_dist_check_value(int r, size_t i, uint64_t seed)
{
    return (float)(1 + (int)(((uint64_t)i * 7u + (uint64_t)r * 13u + seed) % 15u));
}

/* The exact value of element j of rank `rank`'s receive buffer of collective c (n ranks,
 * count per rank); -1 for an unknown collective (never a check value, so it counts as wrong). */
static inline QT_DIST_HD float qt_dist_check_expected(int c, int rank, int n, size_t count, uint64_t seed, size_t j)
{
    float want = 0;
    switch (c) {
    case QT_COLL_ALLREDUCE:
        for (int r = 0; r < n; r++) want += qt_dist_check_value(r, j, seed);
        return want;
    case QT_COLL_REDUCE_SCATTER:
        for (int r = 0; r < n; r++) want += qt_dist_check_value(r, (size_t)rank * count + j, seed);
        return want;
    case QT_COLL_ALLGATHER: return qt_dist_check_value((int)(j / count), j % count, seed);
    case QT_COLL_BROADCAST: return qt_dist_check_value(0, j, seed);
    case QT_COLL_ALLTOALL: return qt_dist_check_value((int)(j / count), (size_t)rank * count + j % count, seed);
    default: return -1.0f;
    }
}

#endif
