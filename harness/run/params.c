/* params.c — key=value case parameters (see params.h). */
#include "run/params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when key is a non-empty run of [A-Za-z0-9_.] shorter than QT_PARAM_KEY. */
static int valid_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n >= QT_PARAM_KEY) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '.'))
            return 0;
    }
    return 1;
}

/* 1 when val fits and holds no separator. */
static int valid_val(const char *v)
{
    return strlen(v) < QT_PARAM_VAL && !strpbrk(v, ",=");
}

/* Set or replace key. */
qt_status_t qt_params_set_str(qt_params_t *p, const char *key, const char *val)
{
    QT_CHECK_ARG(p && key && val, "params, key and value must not be NULL");
    QT_CHECK_ARG(valid_key(key), "bad parameter name '%.40s'", key);
    QT_CHECK_ARG(valid_val(val), "bad value '%.60s' for parameter %s", val, key);
    int i = 0;
    while (i < p->n && strcmp(p->kv[i].key, key) != 0) i++;
    if (i == p->n) {
        QT_CHECK_ARG(p->n < QT_MAX_PARAMS, "more than %d parameters", QT_MAX_PARAMS);
        p->n++;
        snprintf(p->kv[i].key, QT_PARAM_KEY, "%s", key);
    }
    snprintf(p->kv[i].val, QT_PARAM_VAL, "%s", val);
    return QT_OK;
}

/* Integer value. */
qt_status_t qt_params_set_int(qt_params_t *p, const char *key, long long val)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", val);
    return qt_params_set_str(p, key, buf);
}

/* Double value, %.6g. */
qt_status_t qt_params_set_double(qt_params_t *p, const char *key, double val)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.6g", val);
    return qt_params_set_str(p, key, buf);
}

/* String lookup. */
const char *qt_params_str(const qt_params_t *p, const char *key, const char *dflt)
{
    for (int i = 0; p && i < p->n; i++)
        if (!strcmp(p->kv[i].key, key)) return p->kv[i].val;
    return dflt;
}

/* Integer lookup; dflt when absent or malformed. */
long long qt_params_int(const qt_params_t *p, const char *key, long long dflt)
{
    const char *s = qt_params_str(p, key, NULL);
    if (!s || !*s) return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return (*end || errno) ? dflt : v;
}

/* Double lookup; dflt when absent or malformed. */
double qt_params_double(const qt_params_t *p, const char *key, double dflt)
{
    const char *s = qt_params_str(p, key, NULL);
    if (!s || !*s) return dflt;
    char *end;
    double v = strtod(s, &end);
    return *end ? dflt : v;
}

/* "k=v,k=v" into buf; returns the length the full text needs. */
size_t qt_params_format(const qt_params_t *p, char *buf, size_t size)
{
    size_t len = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < p->n; i++) {
        int w = snprintf(size > len ? buf + len : NULL, size > len ? size - len : 0, "%s%s=%s", i ? "," : "",
                         p->kv[i].key, p->kv[i].val);
        if (w > 0) len += (size_t)w;
    }
    return len;
}

/* Parse canonical text. */
qt_status_t qt_params_parse(const char *text, qt_params_t *out)
{
    QT_CHECK_ARG(text && out, "text and output must not be NULL");
    memset(out, 0, sizeof *out);
    const char *s = text;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *eq = memchr(s, '=', n);
        if (!eq) return qt_fail(QT_ERR_FORMAT, "parameter '%.*s' has no '='", (int)(n > 40 ? 40 : n), s);
        size_t kn = (size_t)(eq - s), vn = n - kn - 1;
        if (kn >= QT_PARAM_KEY || vn >= QT_PARAM_VAL)
            return qt_fail(QT_ERR_FORMAT, "parameter '%.*s' too long", (int)(n > 40 ? 40 : n), s);
        char key[QT_PARAM_KEY], val[QT_PARAM_VAL];
        memcpy(key, s, kn);
        key[kn] = '\0';
        memcpy(val, eq + 1, vn);
        val[vn] = '\0';
        qt_status_t st = qt_params_set_str(out, key, val);
        if (st != QT_OK) return qt_fail(QT_ERR_FORMAT, "%s", qt_last_error());
        s += n;
        if (*s == ',') {
            s++;
            if (!*s) return qt_fail(QT_ERR_FORMAT, "trailing ',' in parameters");
        }
    }
    return QT_OK;
}

/* Equality ignoring one key. */
int qt_params_equal_except(const qt_params_t *a, const qt_params_t *b, const char *except)
{
    int na = 0, nb = 0;
    for (int i = 0; i < a->n; i++) {
        if (except && !strcmp(a->kv[i].key, except)) continue;
        na++;
        const char *v = qt_params_str(b, a->kv[i].key, NULL);
        if (!v || strcmp(v, a->kv[i].val)) return 0;
    }
    for (int i = 0; i < b->n; i++)
        if (!except || strcmp(b->kv[i].key, except)) nb++;
    return na == nb;
}
