/* internal.h — helpers shared by impl/dist's files (not public): the ops table of an instance
 * (NULL with QT_ERR_UNSUPPORTED recorded when it has none) and a monotonic clock. */
#ifndef QUINTET_DIST_INTERNAL_H
#define QUINTET_DIST_INTERNAL_H

#include "quintet/dist.h"

const qt_dist_ops_t *qt_dist_ops_of(qt_backend_t *be);
double qt_dist_now(void);

#endif
