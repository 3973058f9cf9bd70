/* params.h — a case's parameters: a small ordered list of key=value pairs.
 * Canonical text "k1=v1,k2=v2" (keys in insertion order) identifies a case
 * across runs; qt_params_parse reads that text back (and is fuzzed). */
#ifndef QUINTET_PARAMS_H
#define QUINTET_PARAMS_H

#include <stddef.h>

#include "quintet/status.h"

#define QT_MAX_PARAMS 16
#define QT_PARAM_KEY 24
#define QT_PARAM_VAL 48

typedef struct {
    int n;
    struct {
        char key[QT_PARAM_KEY];
        char val[QT_PARAM_VAL];
    } kv[QT_MAX_PARAMS];
} qt_params_t;

/* Set (or replace) a key. Keys: [A-Za-z0-9_.]+; values: no ',' or '='. */
qt_status_t qt_params_set_str(qt_params_t *p, const char *key, const char *val);
qt_status_t qt_params_set_int(qt_params_t *p, const char *key, long long val);
qt_status_t qt_params_set_double(qt_params_t *p, const char *key, double val); /* %.6g */
/* Lookup: the value, or dflt when the key is absent (or not a number for the typed ones). */
const char *qt_params_str(const qt_params_t *p, const char *key, const char *dflt);
long long qt_params_int(const qt_params_t *p, const char *key, long long dflt);
double qt_params_double(const qt_params_t *p, const char *key, double dflt);
/* Canonical text into buf (always NUL-terminated); returns the full length needed. */
size_t qt_params_format(const qt_params_t *p, char *buf, size_t size);
/* Parse canonical text ("" gives no parameters). */
qt_status_t qt_params_parse(const char *text, qt_params_t *out);
/* 1 when both hold the same pairs, ignoring `except` (may be NULL). */
int qt_params_equal_except(const qt_params_t *a, const qt_params_t *b, const char *except);

#endif
