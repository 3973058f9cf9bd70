/* outfile.h — how every output file quintet writes (report --out, plot's .dat and .gp files and
 * the images gnuplot renders) reaches the disk: regular files only, never a partial file.
 *
 * Contract:
 *  - a path that exists and is not a regular file — a symbolic link, FIFO, device node, socket
 *    or folder — is refused with a message naming what it is; nothing is written or removed
 *    (README "Output files"). A regular file is replaced, as before.
 *  - the content goes to a new temporary file beside the path (created O_EXCL, so it never
 *    follows a link) and is renamed over the path only when every write, the flush, fsync and
 *    close succeeded; on any failure (a full disk) the temporary file is removed and the path
 *    keeps what it had.
 * Tested through the real binary in tests/harness/test_hostile.c (`make test`). */
#ifndef QUINTET_OUTFILE_H
#define QUINTET_OUTFILE_H

#include <stdio.h>

#include "quintet/status.h"

typedef struct {
    FILE *f;        /* write here */
    char path[4096];
    char tmp[4096];
} qt_outfile_t;

/* QT_OK when path is absent or a regular file; else QT_ERR_IO with a message saying what it is. */
qt_status_t qt_outfile_check(const char *path);
/* Check path, then open a temporary file beside it for writing into o->f. */
qt_status_t qt_outfile_open(qt_outfile_t *o, const char *path);
/* Finish: flush, fsync, close and rename over the path; on any failure remove the temporary file
 * and return QT_ERR_IO with the reason. */
qt_status_t qt_outfile_commit(qt_outfile_t *o);
/* Give up: close and remove the temporary file (after a failed open, a no-op). */
void qt_outfile_abort(qt_outfile_t *o);

#endif
