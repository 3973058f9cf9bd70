/* cmd_import.c — `quintet import SRC.db... [--db PATH]`: copy every finished run of other quintet
 * databases into one, so that runs made on different machines (a laptop, a server, an H200
 * node, each writing its own results/quintet.db) can be shown, compared, plotted and reported
 * side by side. Each source is validated as a quintet database of this build's schema and never
 * written; each import is one transaction (all of a source's runs or none); runs already present
 * (same uuid) are skipped, so importing the same file twice adds nothing. Imported runs keep their
 * uuid and provenance and gain the provenance key `imported_from`; their integer ids are new.
 * A source that is JSON (first byte '{') is read as Google Benchmark JSON (output/gbjson.h): one
 * file = one run, its context as provenance; --suite and --variant name the cases of foreign
 * benchmarks (defaults gbench and peer), e.g. PyTorch peer timings written by suites/peers/.
 * Exit: 0 all imported, 1 a source failed (the others are still imported), 2 bad usage (a source
 * or the --db folder missing), 3 database error. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "output/gbjson.h"
#include "store/store.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database to import into (default " QT_DEFAULT_DB "; created when missing)"},
    {"suite", "NAME", "Google Benchmark JSON: suite of the imported cases (default gbench)"},
    {"variant", "NAME", "Google Benchmark JSON: variant (backend) of the imported cases (default peer)"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

/* The command. */
int qt_cmd_import(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet import: %s\n", qt_last_error());
        return 2;
    }
    if (a.help) {
        qt_args_usage(stdout, "quintet import SRC.db... [options]",
                      "Copy every finished run of each SRC (another quintet database, read-only) into the\n"
                      "database; runs already there (same uuid) are skipped. A SRC that is a JSON file is read\n"
                      "as Google Benchmark JSON (--benchmark_out_format=json, or `quintet show --format\n"
                      "gbench-json`): one run, its context stored as provenance.\n"
                      "Exit status: 0 ok, 1 a source failed, 2 bad usage or a missing file, 3 database error.",
                      opts, N_OPTS);
        return 0;
    }
    if (a.n_pos == 0) {
        fprintf(stderr, "quintet import: name at least one database to import (see --help)\n");
        return 2;
    }
    const char *db = qt_args_get(opts, N_OPTS, &a, "db");
    if (!db) db = QT_DEFAULT_DB;
    for (int i = 0; i < a.n_pos; i++) {
        struct stat st;
        if (stat(a.pos[i], &st) != 0) {
            fprintf(stderr, "quintet import: no file '%s'\n", a.pos[i]);
            return 2;
        }
        if (!S_ISREG(st.st_mode)) { /* a FIFO would block the read forever */
            fprintf(stderr, "quintet import: '%s' is not a regular file (a folder, FIFO or device); refused\n", a.pos[i]);
            return 2;
        }
    }
    qt_store_t *s;
    int rc = qt_cli_open("import", db, 1, 1, &s);
    if (rc) return rc;
    qt_gbjson_import_opts_t gopts = {qt_args_get(opts, N_OPTS, &a, "suite"), qt_args_get(opts, N_OPTS, &a, "variant")};
    for (int i = 0; i < a.n_pos; i++) {
        int64_t added = 0, present = 0, running = 0;
        if (qt_gbjson_sniff(a.pos[i])) {
            int64_t run = 0;
            int there = 0, n_cases = 0;
            if (qt_gbjson_import(s, a.pos[i], &gopts, &run, &there, &n_cases) != QT_OK) {
                fprintf(stderr, "quintet import: %s\n", qt_last_error());
                rc = 1;
            } else if (there) {
                printf("quintet import: %s: its run is already in %s\n", a.pos[i], db);
            } else {
                printf("quintet import: %s: Google Benchmark JSON imported as run %lld (%d cases) into %s\n", a.pos[i],
                       (long long)run, n_cases, db);
            }
            continue;
        }
        if (qt_store_import(s, a.pos[i], &added, &present, &running) != QT_OK) {
            fprintf(stderr, "quintet import: %s: nothing imported from it\n", qt_last_error());
            rc = 1;
            continue;
        }
        printf("quintet import: %s: %lld runs imported into %s, %lld already there", a.pos[i], (long long)added, db,
               (long long)present);
        if (running) printf(", %lld still running (skipped)", (long long)running);
        printf("\n");
    }
    qt_store_close(s);
    return rc;
}
