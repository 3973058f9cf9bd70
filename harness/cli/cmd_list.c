/* cmd_list.c — `quintet list [SUITE...] [--profile P]`: each suite, its metrics,
 * and its cases for the profile (name, variant, parameters). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "run/runner.h"

static const qt_opt_t opts[] = {
    {"profile", "P", "quick | nightly | paper (default quick)"},
    {"brief", NULL, "suite names and case counts only"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

/* Print one suite. */
static int list_suite(const qt_suite_t *s, qt_profile_t p, int brief)
{
    qt_case_list_t cases = {0};
    if (s->cases(p, &cases) != QT_OK) {
        fprintf(stderr, "quintet list: %s: %s\n", s->name, qt_last_error());
        qt_case_list_free(&cases);
        return 1;
    }
    printf("%-20s %4d cases (%s)  %s\n", s->name, cases.n, qt_profile_name(p), s->description);
    if (!brief) {
        printf("  metrics:\n");
        for (int i = 0; s->metrics && s->metrics[i]; i++) {
            char m[256];
            snprintf(m, sizeof m, "%s", s->metrics[i]);
            char *unit = strchr(m, '|'), *about = unit ? strchr(unit + 1, '|') : NULL;
            if (unit) *unit++ = '\0';
            if (about) *about++ = '\0';
            printf("    %-22s %-10s %s\n", m, unit ? unit : "", about ? about : "");
        }
        printf("  cases:\n");
        for (int i = 0; i < cases.n; i++) {
            char ptext[1024];
            qt_params_format(&cases.items[i].params, ptext, sizeof ptext);
            printf("    %-22s %-6s %-10s %s\n", cases.items[i].name, cases.items[i].variant,
                   cases.items[i].experiment ? "experiment" : "timed", ptext);
        }
    }
    qt_case_list_free(&cases);
    return 0;
}

/* The command. */
int qt_cmd_list(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet list: %s\n", qt_last_error());
        return 2;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet list [SUITE...] [--profile P] [--brief]", "Lists suites, metrics and cases.",
                      opts, N_OPTS);
        return 0;
    }
    qt_profile_t p = QT_PROFILE_QUICK;
    const char *pv = qt_args_get(opts, N_OPTS, &a, "profile");
    if (pv && qt_profile_parse(pv, &p) != QT_OK) {
        fprintf(stderr, "quintet list: %s\n", qt_last_error());
        return 2;
    }
    int brief = qt_args_get(opts, N_OPTS, &a, "brief") != NULL;
    for (int i = 0; i < a.n_pos; i++)
        if (!qt_suite_find(a.pos[i])) {
            fprintf(stderr, "quintet list: unknown suite '%s'\n", a.pos[i]);
            return 2;
        }
    int rc = 0;
    for (int i = 0; qt_suites[i]; i++) {
        int wanted = a.n_pos == 0;
        for (int j = 0; j < a.n_pos; j++) wanted |= !strcmp(a.pos[j], qt_suites[i]->name);
        if (wanted) rc |= list_suite(qt_suites[i], p, brief);
    }
    return rc;
}
