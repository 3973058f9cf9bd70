/* args.c — option parsing for the quintet commands (args.h). */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 1 when option names a (length n) and b are equal, '_' and '-' counting as the same. */
static int same_name(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
        if (x != y) return 0;
    }
    return 1;
}

/* Index of option `name` (length n), or -1. */
static int find_opt(const qt_opt_t *opts, int n_opts, const char *name, size_t n)
{
    for (int i = 0; i < n_opts; i++)
        if (same_name(name, n, opts[i].name)) return i;
    return -1;
}

/* 1 when s is a boolean word (the optional value of a "[BOOL]" option). */
static int is_bool_word(const char *s)
{
    static const char *const w[] = {"true", "false", "1", "0", "yes", "no", "on", "off"};
    for (size_t i = 0; s && i < sizeof w / sizeof w[0]; i++)
        if (!strcmp(s, w[i])) return 1;
    return 0;
}

/* Parse. */
qt_status_t qt_args_parse(const qt_opt_t *opts, int n_opts, int argc, char **argv, qt_args_t *out)
{
    QT_CHECK_ARG(opts && out && (argc == 0 || argv), "options, argv and output must not be NULL");
    QT_CHECK_ARG(n_opts <= QT_ARGS_MAX_OPTS, "too many options");
    memset(out, 0, sizeof *out);
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!a) return qt_fail(QT_ERR_ARG, "argument %d is NULL", i);
        if (!only_pos && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            out->help = 1;
            continue;
        }
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0' || (a[1] != '-' && (a[1] == '.' || (a[1] >= '0' && a[1] <= '9')))) {
            if (out->n_pos == QT_ARGS_MAX_POS) return qt_fail(QT_ERR_ARG, "too many arguments (at most %d)", QT_ARGS_MAX_POS);
            out->pos[out->n_pos++] = a;
            continue;
        }
        if (a[1] != '-') return qt_fail(QT_ERR_ARG, "unknown option '%s' (options are --long; try --help)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        int k = find_opt(opts, n_opts, name, n);
        if (k < 0) return qt_fail(QT_ERR_ARG, "unknown option '--%.*s' (try --help)", (int)(n > 60 ? 60 : n), name);
        if (!opts[k].metavar) {
            if (eq) return qt_fail(QT_ERR_ARG, "option --%s takes no value", opts[k].name);
            out->value[k] = "1";
        } else if (eq) {
            out->value[k] = eq + 1;
        } else if (opts[k].metavar[0] == '[') {
            out->value[k] = i + 1 < argc && is_bool_word(argv[i + 1]) ? argv[++i] : "1";
        } else {
            if (i + 1 >= argc || !argv[i + 1])
                return qt_fail(QT_ERR_ARG, "option --%s needs a value (%s)", opts[k].name, opts[k].metavar);
            out->value[k] = argv[++i];
        }
    }
    return QT_OK;
}

/* Lookup by name. */
const char *qt_args_get(const qt_opt_t *opts, int n_opts, const qt_args_t *a, const char *name)
{
    int k = find_opt(opts, n_opts, name, strlen(name));
    return k < 0 ? NULL : a->value[k];
}

/* Usage text. */
void qt_args_usage(FILE *f, const char *usage, const char *about, const qt_opt_t *opts, int n_opts)
{
    fprintf(f, "usage: %s\n", usage);
    if (about) fprintf(f, "\n%s\n", about);
    if (n_opts) fprintf(f, "\noptions:\n");
    for (int i = 0; i < n_opts; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        fprintf(f, "  %-26s %s\n", left, opts[i].help);
    }
    fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}

/* Whole-string integer in [lo, hi]. */
qt_status_t qt_args_int(const char *what, const char *text, long long lo, long long hi, long long *out)
{
    if (!text || !*text) return qt_fail(QT_ERR_ARG, "%s: empty value", what);
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*end || errno) return qt_fail(QT_ERR_ARG, "%s: '%.40s' is not an integer", what, text);
    if (v < lo || v > hi) return qt_fail(QT_ERR_ARG, "%s: %lld outside %lld..%lld", what, v, lo, hi);
    *out = v;
    return QT_OK;
}

/* Whole-string unsigned 64-bit integer. */
qt_status_t qt_args_u64(const char *what, const char *text, unsigned long long *out)
{
    if (!text || !*text || *text == '-') return qt_fail(QT_ERR_ARG, "%s: '%.40s' is not a non-negative integer", what, text ? text : "");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (*end || errno) return qt_fail(QT_ERR_ARG, "%s: '%.40s' is not a non-negative integer", what, text);
    *out = v;
    return QT_OK;
}

/* Whole-string finite double. */
qt_status_t qt_args_double(const char *what, const char *text, double *out)
{
    if (!text || !*text) return qt_fail(QT_ERR_ARG, "%s: empty value", what);
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end || errno || !isfinite(v)) return qt_fail(QT_ERR_ARG, "%s: '%.40s' is not a finite number", what, text);
    *out = v;
    return QT_OK;
}
