/* cli.c — `quintet COMMAND [ARGS]`: dispatch to the commands of cli.h, plus
 * `quintet --version` and `quintet help [COMMAND]`. Run `quintet --help` for the list. The commands
 * that print database text (show, compare, history, report, plot, import) print it through
 * output/term.h's control-character filter. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "output/gbjson.h"
#include "output/term.h"
#include "run/gbench.h"
#include "run/hwcounters.h"
#include "store/store.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"list", qt_cmd_list, "suites, their cases per profile, and their metrics"},
    {"run", qt_cmd_run, "run suites into the database (calibration first)"},
    {"show", qt_cmd_show, "one row per case and metric of a run: median and spread"},
    {"compare", qt_cmd_compare, "regression gate: interval of the ratio + exact test per case, exit 1 on a regression"},
    {"ab", qt_cmd_ab, "interleaved randomized A/B of two builds (executables or git commits), then compare"},
    {"calibrate-gate", qt_cmd_calibrate_gate, "the gate's false-positive and detection rates: A/A and injected trials"},
    {"history", qt_cmd_history, "one metric over every stored run, marking where it moved beyond the noise"},
    {"report", qt_cmd_report, "a run's report (md, html, tex) regenerated from the database"},
    {"plot", qt_cmd_plot, "figures from the database with gnuplot: .dat, .gp and image per figure"},
    {"import", qt_cmd_import, "copy the runs of other quintet databases (other machines) into one"},
    {"trace", qt_cmd_trace, "print one algorithm's trajectory as CSV (`quintet trace optim --help`)"},
    {"verify", qt_cmd_verify, "every backend against the ref oracle on fresh random inputs: #wrong values"},
    {"env", qt_cmd_env, "what this machine offers: counters, backends, GPU, MPI, and why not"},
};

/* Top-level usage. */
static void usage(FILE *f)
{
    fprintf(f, "usage: quintet COMMAND [OPTIONS]\n\n"
               "quintet benchmarks five neural-network efficiency techniques and records every\n"
               "measurement with its provenance in SQLite.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`quintet help COMMAND` (or `quintet COMMAND --help`) describes a command's options;\n"
               "`quintet --version` prints the version and the libraries this build uses.\n");
}

/* `quintet --version`: the program's version, where it was built from, and its libraries. */
static void version(void)
{
    printf("quintet %s\n", QT_VERSION);
    printf("source: %s\n", QT_SOURCE_DIR);
    printf("schema: %d\n", QT_SCHEMA_VERSION);
    printf("google benchmark: %s\n", qt_gb_version());
    printf("papi: %s\n", qt_hwc_papi_version());
    printf("sqlite: %s\n", sqlite3_libversion());
    printf("jansson: %s\n", qt_gbjson_library());
}

/* Index of command `name` in the table, or -1. */
static int find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) return (int)i;
    return -1;
}

/* Dispatch. */
int qt_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        version();
        return 0;
    }
    if (!strcmp(argv[1], "help") && argc > 2) {
        int k = find_command(argv[2]);
        if (k < 0 || argc > 3) {
            fprintf(stderr, "quintet help: %s '%s'\n\n", k < 0 ? "unknown command" : "one COMMAND at most, got also",
                    k < 0 ? argv[2] : argv[3]);
            usage(stderr);
            return 2;
        }
        char help[] = "--help";
        char *hargv[] = {help, NULL};
        return commands[k].fn(1, hargv);
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    int k = find_command(argv[1]);
    int (*fn)(int, char **) = k >= 0 ? commands[k].fn : NULL;
    /* the commands that print what a database holds: its text never reaches the terminal raw */
    if (fn == qt_cmd_show || fn == qt_cmd_compare || fn == qt_cmd_history || fn == qt_cmd_report ||
        fn == qt_cmd_plot || fn == qt_cmd_import)
        qt_term_guard_stdio();
    if (fn) return fn(argc - 2, argv + 2);
    fprintf(stderr, "quintet: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
