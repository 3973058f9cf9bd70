/* status.c — status code texts and the thread-local last-error message. */
#include "quintet/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

/* Generic text for each status code. */
const char *qt_strerror(qt_status_t s)
{
    switch (s) {
    case QT_OK: return "ok";
    case QT_ERR_ARG: return "invalid argument";
    case QT_ERR_SHAPE: return "shape mismatch";
    case QT_ERR_NOMEM: return "out of memory";
    case QT_ERR_UNSUPPORTED: return "unsupported";
    case QT_ERR_IO: return "i/o error";
    case QT_ERR_STATE: return "invalid state";
    case QT_ERR_FORMAT: return "bad format";
    case QT_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

/* The message of this thread's last failure. */
const char *qt_last_error(void) { return last_error; }

/* Clear this thread's last failure message. */
void qt_clear_error(void) { last_error[0] = '\0'; }

/* Format "<generic>: <detail>" into the thread-local buffer and return s. The detail is
 * formatted into a local buffer first, so arguments may point into last_error itself
 * (qt_fail(st, "%s", qt_last_error()) re-labels a message). */
qt_status_t qt_fail(qt_status_t s, const char *fmt, ...)
{
    char detail[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(last_error, sizeof last_error, "%s: %.*s", qt_strerror(s), (int)sizeof last_error - 24, detail);
    return s;
}
