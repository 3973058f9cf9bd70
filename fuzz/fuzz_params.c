/* fuzz_params.c — libFuzzer target: the case-parameter parser (harness/run/params.c).
 *
 * Parses each input (as a NUL-terminated string) with qt_params_parse. Contract checked:
 * no crash or sanitizer report; a refusal carries a message naming more than the generic
 * status text; an accepted text formats back (qt_params_format) into text that parses to
 * the same pairs and formats identically (canonical form is a fixed point); the typed
 * getters accept every value. Run: make fuzz.
 * fuzz-sources: harness/run/params.c impl/core/status.c
 * fuzz-libs: -lm */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run/params.h"

/* One input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    qt_params_t p, q;
    qt_status_t st = qt_params_parse(text, &p);
    if (st != QT_OK) {
        const char *msg = qt_last_error(), *generic = qt_strerror(st);
        size_t g = strlen(generic);
        /* "<generic>: <detail>", and the detail says more than a generic text again */
        if (strncmp(msg, generic, g) || strncmp(msg + g, ": ", 2)) __builtin_trap();
        const char *detail = msg + g + 2;
        if (strlen(detail) < 4 || (!strncmp(detail, generic, g) && strlen(detail) <= g + 2)) __builtin_trap();
    } else {
        char a[QT_MAX_PARAMS * (QT_PARAM_KEY + QT_PARAM_VAL + 1) + 1], b[sizeof a];
        size_t n = qt_params_format(&p, a, sizeof a);
        if (n >= sizeof a || strlen(a) != n) __builtin_trap();
        if (qt_params_parse(a, &q) != QT_OK || !qt_params_equal_except(&p, &q, NULL) ||
            !qt_params_equal_except(&q, &p, NULL))
            __builtin_trap();
        if (qt_params_format(&q, b, sizeof b) != n || strcmp(a, b)) __builtin_trap();
        for (int i = 0; i < p.n; i++) {
            volatile long long iv = qt_params_int(&p, p.kv[i].key, 0);
            volatile double dv = qt_params_double(&p, p.kv[i].key, 0);
            (void)iv;
            (void)dv;
        }
    }
    free(text);
    return 0;
}
