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

/* Format "<generic>: <detail>" into the thread-local buffer and return s. */
qt_status_t qt_fail(qt_status_t s, const char *fmt, ...)
{
    int n = snprintf(last_error, sizeof last_error, "%s: ", qt_strerror(s));
    if (n < 0 || (size_t)n >= sizeof last_error) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
    va_end(ap);
    return s;
}
