/* fuzz_args.c — libFuzzer target over the command-line parser (harness/cli/args.c)
 * with the option tables of `quintet run` and `quintet show` shapes, and the
 * strict number parsers. The input is split on NUL bytes into argv.
 * Run: make fuzz FUZZ_SECONDS=120 (or FUZZ_ONLY=fuzz_args).
 * fuzz-sources: harness/cli/args.c impl/core/status.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

static const qt_opt_t opts[] = {
    {"profile", "P", ""}, {"db", "PATH", ""}, {"filter", "REGEX", ""}, {"repetitions", "N", ""},
    {"seed", "S", ""},    {"all", NULL, ""},  {"format", "F", ""},
};

/* Parse the input as argv, then every value through the number parsers. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[64];
    int argc = 0;
    for (size_t i = 0; i <= size && argc < 64;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    qt_args_t a;
    if (qt_args_parse(opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &a) == QT_OK) {
        for (int k = 0; k < (int)(sizeof opts / sizeof opts[0]); k++) {
            if (!a.value[k]) continue;
            long long v;
            unsigned long long u;
            double d;
            qt_args_int("n", a.value[k], -5, 1000, &v);
            qt_args_u64("s", a.value[k], &u);
            qt_args_double("x", a.value[k], &d);
        }
        for (int k = 0; k < a.n_pos; k++)
            if (!a.pos[k]) abort(); /* positionals always point into argv */
    }
    free(buf);
    return 0;
}
