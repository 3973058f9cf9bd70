/* status.h — status codes and error messages for every libquintet call.
 *
 * Contract: library functions never abort or exit on bad input; they return a
 * qt_status_t and, on failure, leave a human-readable message in a thread-local
 * buffer that qt_last_error() returns (valid until the next failing call on the
 * same thread). qt_strerror() gives the generic text of a code. */
#ifndef QUINTET_STATUS_H
#define QUINTET_STATUS_H

#include "quintet/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    QT_OK = 0,
    QT_ERR_ARG,         /* invalid argument: null pointer, out-of-range value */
    QT_ERR_SHAPE,       /* tensor shapes or dtypes do not fit together */
    QT_ERR_NOMEM,       /* allocation failed */
    QT_ERR_UNSUPPORTED, /* backend or option not available on this build/machine */
    QT_ERR_IO,          /* file or database error */
    QT_ERR_STATE,       /* object in the wrong state for this call */
    QT_ERR_FORMAT,      /* input data in the wrong format (foreign file, bad text) */
    QT_ERR_INTERNAL     /* a bug: an invariant failed */
} qt_status_t;

/* Generic text of a status code ("invalid argument", ...). Never NULL. */
QT_API const char *qt_strerror(qt_status_t s);

/* Detailed message of the last failure on this thread ("" if none). */
QT_API const char *qt_last_error(void);

/* Record a formatted message for status s and return s, so callers write
 *   if (w <= 0) return qt_fail(QT_ERR_ARG, "window %d must be > 0", w); */
QT_API qt_status_t qt_fail(qt_status_t s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clear this thread's error message. */
QT_API void qt_clear_error(void);

/* Propagate a failing status: QT_TRY(f(x)); */
#define QT_TRY(expr)                         \
    do {                                     \
        qt_status_t qt_try_s_ = (expr);      \
        if (qt_try_s_ != QT_OK) return qt_try_s_; \
    } while (0)

/* Argument guard: QT_CHECK_ARG(p != NULL, "q must not be NULL"); */
#define QT_CHECK_ARG(cond, ...) \
    do { if (!(cond)) return qt_fail(QT_ERR_ARG, __VA_ARGS__); } while (0)

#ifdef __cplusplus
}
#endif
#endif
