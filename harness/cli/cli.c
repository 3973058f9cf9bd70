/* cli.c — `quintet COMMAND [ARGS]`: dispatch to the commands of cli.h.
 * Run `quintet --help` for the list. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

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
    fprintf(f, "\n`quintet COMMAND --help` describes a command's options.\n");
}

/* Dispatch. */
int qt_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "quintet: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
