/* suite.c — profiles and case lists of the suite API (suite.h). */
#include "run/suite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *profile_names[QT_PROFILE_COUNT] = {"quick", "nightly", "paper"};

/* Profile name. */
const char *qt_profile_name(qt_profile_t p) { return (unsigned)p < QT_PROFILE_COUNT ? profile_names[p] : "?"; }

/* Parse a profile name. */
qt_status_t qt_profile_parse(const char *s, qt_profile_t *out)
{
    for (int i = 0; s && i < QT_PROFILE_COUNT; i++)
        if (!strcmp(s, profile_names[i])) { *out = (qt_profile_t)i; return QT_OK; }
    return qt_fail(QT_ERR_ARG, "unknown profile '%s' (expected quick, nightly or paper)", s ? s : "(null)");
}

/* Append a zeroed case, growing geometrically. */
qt_case_t *qt_case_list_add(qt_case_list_t *l)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        qt_case_t *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) return NULL;
        l->items = items;
        l->cap = cap;
    }
    qt_case_t *c = &l->items[l->n++];
    memset(c, 0, sizeof *c);
    return c;
}

/* Free the list. */
void qt_case_list_free(qt_case_list_t *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* LLC bytes of CPU 0 (sysfs), else 32 MiB. */
double qt_suite_llc_bytes(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
    double v = 0;
    if (f) {
        char unit = 0;
        if (fscanf(f, "%lf%c", &v, &unit) >= 1) v *= unit == 'K' ? 1024.0 : unit == 'M' ? 1048576.0 : 1.0;
        fclose(f);
    }
    return v > 0 ? v : 32.0 * 1048576.0;
}
