/* internal.h — helpers shared by impl/dist's files (not public): the ops table of an instance
 * (NULL with QT_ERR_UNSUPPORTED recorded when it has none), a monotonic clock, and the
 * bounded-staleness parameter server of ps.c (its header comment states the protocol), and the
 * replica check of the training drivers (mlp.c, fusion_dp.c). */
#ifndef QUINTET_DIST_INTERNAL_H
#define QUINTET_DIST_INTERNAL_H

#include "quintet/dist.h"

const qt_dist_ops_t *qt_dist_ops_of(qt_backend_t *be);
double qt_dist_now(void);
/* qt_dist_wait that sleeps 20 µs between rounds of polls instead of yielding. */
qt_status_t qt_dist_wait_idle(qt_backend_t *be, qt_dist_req_t *req, const char *what);

/* FNV-1a of bytes, continued from h (start with QT_DIST_FNV0). */
#define QT_DIST_FNV0 1469598103934665603ull
uint64_t qt_dist_fnv(uint64_t h, const void *p, size_t bytes);
/* Compare this rank's hash over be's ranks: QT_ERR_STATE naming the first rank whose hash differs
 * from rank 0's (`what` and `steps` go into the message). */
qt_status_t qt_dist_same_hash(qt_backend_t *be, uint64_t mine, const char *what, long long steps);

/* The parameter server over be (rank 0 the server, the others workers) for n parameters. */
typedef struct qt_dist_ps qt_dist_ps_t;
qt_status_t qt_dist_ps_init(qt_dist_ps_t **ps, qt_backend_t *be, size_t n, int staleness);
/* Collective: workers say goodbye, the server drains its receives. */
void qt_dist_ps_free(qt_dist_ps_t *ps);
/* Worker: push the gradient g of its step, receive the server's parameters into p. */
qt_status_t qt_dist_ps_push_pull(qt_dist_ps_t *ps, int64_t step, const float *g, float *p);
/* Server: apply `updates` more gradients to p (p ← p − lr·g), answering within the bound. */
qt_status_t qt_dist_ps_serve(qt_dist_ps_t *ps, float *p, float lr, int64_t updates);
int qt_dist_ps_workers(const qt_dist_ps_t *ps);
/* Server: the largest clock gap at an answer and the mean delay in updates (0 on workers). */
void qt_dist_ps_staleness(const qt_dist_ps_t *ps, int64_t *max_gap, double *mean_delay);

#endif
