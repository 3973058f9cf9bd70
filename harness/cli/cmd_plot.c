/* cmd_plot.c — `quintet plot [RUN...] [--suite S] --out DIR [--format png|svg|pdf] [--db PATH]`:
 * figures regenerated from the results database alone. For each suite with figures
 * (plot_data.h) it writes, into DIR:
 *   <suite>-<figure>.dat  the data (whitespace-separated, commented; harness/output/plot_data.c)
 *   <suite>-<figure>.gp   the gnuplot script it ran: variables (data file, output, terminal, series
 *                         titles and styles) followed by plots/common.gp and plots/<suite>.gp
 *   <suite>-<figure>.png  (or .svg / .pdf) the figure
 * Several RUNs (default: the latest) draw one series per run, labelled by platform (host, cores,
 * GPU) and run id.
 * Templates are read from $QT_PLOTS_DIR, else from the source tree the binary was built from
 * (QT_SOURCE_DIR/plots). gnuplot runs by fork + execv with the script's name as its only
 * argument, in DIR (no shell), and its exit status is checked; re-render with
 * `cd DIR && gnuplot <suite>-<figure>.gp`. Without gnuplot on PATH the .dat and .gp files are
 * still written and the command says so and exits 1.
 * Exit status: 0 ok, 1 gnuplot missing or failed, or a file could not be written, 2 bad usage
 * (unknown option, format, suite or run, a run without the suite's results, DIR not writable),
 * 3 database error. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "output/outfile.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "output/plot_data.h"
#include "store/store.h"

#ifndef QT_SOURCE_DIR
#define QT_SOURCE_DIR "."
#endif

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_DB = 3 };

static const qt_opt_t opts[] = {
    {"out", "DIR", "output folder (created when missing): .dat, .gp and image per figure"},
    {"suite", "NAME", "only this suite (default: every suite with figures the runs hold)"},
    {"format", "F", "png | svg | pdf (default png)"},
    {"db", "PATH", "database file (default " QT_DEFAULT_DB ")"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

#define MAX_RUNS 64

/* Terminal per format, without its size: the script sets the size from canvas_w x canvas_h
 * (the plot) plus key_line per row of the key below it (common.gp), so a long key never
 * squeezes the plot; char_w estimates a character's width for the key's columns. */
static const struct {
    const char *name, *ext, *terminal, *unit;
    double w, h, key_line, char_w;
} formats[] = {
    {"png", "png", "pngcairo font 'sans,11' noenhanced", "", 1200, 750, 19, 7.2},
    {"svg", "svg", "svg font 'sans,11' noenhanced background rgb 'white'", "", 1200, 750, 19, 7.2},
    {"pdf", "pdf", "pdfcairo font 'sans,10' noenhanced", "in", 8, 5, 0.19, 0.068},
};

typedef struct {
    const char *dir, *db, *plots_dir, *gnuplot; /* gnuplot: full path, NULL when absent */
    int format; /* index into formats */
    const qt_plot_run_t *runs;
    int n_runs;
    int failed; /* a figure could not be written or rendered */
} plot_ctx_t;

/* Full path of an executable `name` on PATH into buf; NULL when there is none. */
static const char *find_on_path(const char *name, char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && (size_t)snprintf(buf, cap, "%.*s/%s", (int)len, path, name) < cap && access(buf, X_OK) == 0)
            return buf;
        path = end ? end + 1 : NULL;
    }
    return NULL;
}

/* Write s as a gnuplot single-quoted string (a quote doubled; nothing else is special there). */
static void gp_string(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

/* Write text into a comment line: control characters become spaces. */
static void gp_comment_text(FILE *f, const char *s)
{
    for (; *s; s++) fputc((unsigned char)*s < 32 ? ' ' : *s, f);
}

/* Write one integer array of the series. */
static void gp_int_array(FILE *f, const char *name, const qt_plot_fig_t *fig, size_t offset)
{
    fprintf(f, "array %s[%d] = [", name, fig->n_series);
    for (int i = 0; i < fig->n_series; i++)
        fprintf(f, "%s%d", i ? ", " : "", *(const int *)((const char *)&fig->series[i] + offset));
    fprintf(f, "]\n");
}

/* Copy the template file into f; QT_OK or QT_ERR_IO. */
static qt_status_t copy_template(FILE *f, const char *path)
{
    FILE *t = fopen(path, "r");
    if (!t) return qt_fail(QT_ERR_IO, "cannot read the gnuplot template %s: %s (set QT_PLOTS_DIR to the plots/ folder)",
                           path, strerror(errno));
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, t)) > 0) fwrite(buf, 1, n, f);
    int bad = ferror(t);
    fclose(t);
    return bad ? qt_fail(QT_ERR_IO, "reading %s failed", path) : QT_OK;
}

/* Write DIR/<stem>.gp: the figure's variables, then plots/common.gp and the suite's template. */
static qt_status_t write_script(const plot_ctx_t *c, const qt_plot_fig_t *fig)
{
    char path[4096], tmpl[4096], common[4096];
    snprintf(path, sizeof path, "%s/%s.gp", c->dir, fig->stem);
    snprintf(common, sizeof common, "%s/common.gp", c->plots_dir);
    snprintf(tmpl, sizeof tmpl, "%s/%s.gp", c->plots_dir, fig->suite);
    qt_outfile_t of;
    QT_TRY(qt_outfile_open(&of, path));
    FILE *f = of.f;
    fprintf(f, "# %s.gp - written by `quintet plot` from database ", fig->stem);
    gp_comment_text(f, c->db);
    fprintf(f, ", runs");
    for (int i = 0; i < c->n_runs; i++) fprintf(f, " %lld", (long long)c->runs[i].id);
    fprintf(f, ".\n# Re-render in this folder: gnuplot %s.gp   (edit the variables below, or the template part)\n",
            fig->stem);
    fprintf(f, "datafile = '%s.dat'\noutfile = '%s.%s'\nterminal = ", fig->stem, fig->stem, formats[c->format].ext);
    gp_string(f, formats[c->format].terminal);
    fprintf(f, "\ncanvas_w = %g\ncanvas_h = %g\ncanvas_unit = '%s'\nkey_line = %g\nchar_w = %g", formats[c->format].w,
            formats[c->format].h, formats[c->format].unit, formats[c->format].key_line, formats[c->format].char_w);
    fprintf(f, "\nfigure = '%s'\nplot_title = ", fig->figure);
    gp_string(f, fig->title);
    fprintf(f, "\nn_series = %d\narray series_title[%d] = [", fig->n_series, fig->n_series);
    for (int i = 0; i < fig->n_series; i++) {
        if (i) fprintf(f, ", ");
        gp_string(f, fig->series[i].title);
    }
    fprintf(f, "]\n");
    gp_int_array(f, "series_color", fig, offsetof(qt_plot_series_t, color));
    gp_int_array(f, "series_point", fig, offsetof(qt_plot_series_t, point));
    gp_int_array(f, "series_dash", fig, offsetof(qt_plot_series_t, dash));
    gp_int_array(f, "series_panel", fig, offsetof(qt_plot_series_t, panel));
    gp_int_array(f, "series_fit", fig, offsetof(qt_plot_series_t, fit));
    gp_int_array(f, "series_no_key", fig, offsetof(qt_plot_series_t, no_key));
    int n_panels = fig->n_panels > 1 ? fig->n_panels : 1;
    fprintf(f, "n_panels = %d\narray panel_title[%d] = [", n_panels, n_panels);
    for (int p = 0; p < n_panels; p++) {
        if (p) fprintf(f, ", ");
        gp_string(f, fig->n_panels > 1 ? fig->panel_title[p] : "");
    }
    fprintf(f, "]\n");
    fprintf(f, "\n# ---- plots/common.gp ----\n");
    qt_status_t st = copy_template(f, common);
    fprintf(f, "\n# ---- plots/%s.gp ----\n", fig->suite);
    if (st == QT_OK) st = copy_template(f, tmpl);
    if (st != QT_OK) {
        qt_outfile_abort(&of);
        return st;
    }
    return qt_outfile_commit(&of);
}

/* Run gnuplot on DIR/<stem>.gp with DIR as working folder; QT_OK when it exits 0 and the image
 * is there and not empty. */
static qt_status_t render(const plot_ctx_t *c, const qt_plot_fig_t *fig)
{
    char script[200], image[4096];
    snprintf(script, sizeof script, "%s.gp", fig->stem);
    snprintf(image, sizeof image, "%s/%s.%s", c->dir, fig->stem, formats[c->format].ext);
    QT_TRY(qt_outfile_check(image)); /* gnuplot would write through a link or into a FIFO or device */
    unlink(image);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return qt_fail(QT_ERR_IO, "cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        char *argv[] = {(char *)"gnuplot", script, NULL};
        if (chdir(c->dir) == 0) execv(c->gnuplot, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return qt_fail(QT_ERR_IO, "waiting for gnuplot: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            return qt_fail(QT_ERR_IO, "gnuplot failed on %s/%s (exit status %d)", c->dir, script, WEXITSTATUS(status));
        return qt_fail(QT_ERR_IO, "gnuplot was killed by signal %d on %s/%s", WTERMSIG(status), c->dir, script);
    }
    struct stat sb;
    if (stat(image, &sb) != 0 || sb.st_size == 0)
        return qt_fail(QT_ERR_IO, "gnuplot exited 0 but wrote no %s", image);
    return QT_OK;
}

/* plot_data callback: write the script and render it. */
static int on_figure(void *arg, const qt_plot_fig_t *fig)
{
    plot_ctx_t *c = arg;
    qt_status_t st = write_script(c, fig);
    if (st == QT_OK && c->gnuplot) st = render(c, fig);
    if (st != QT_OK) {
        fprintf(stderr, "quintet plot: %s\n", qt_last_error());
        c->failed = 1;
    } else if (c->gnuplot) {
        printf("%s/%s.%s\n", c->dir, fig->stem, formats[c->format].ext);
    } else {
        printf("%s/%s.dat %s/%s.gp\n", c->dir, fig->stem, c->dir, fig->stem);
    }
    return 0;
}

/* Create DIR when missing and check that it is a writable folder; an exit code or 0. */
static int prepare_dir(const char *dir)
{
    struct stat sb;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "quintet plot: cannot create the output folder '%s': %s\n", dir, strerror(errno));
        return EXIT_USAGE;
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "quintet plot: --out '%s' is not a folder\n", dir);
        return EXIT_USAGE;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "quintet plot: the output folder '%s' is not writable: %s\n", dir, strerror(errno));
        return EXIT_USAGE;
    }
    return 0;
}

/* Print the usage. */
static void usage(void)
{
    qt_args_usage(stdout, "quintet plot [RUN...] --out DIR [options]",
                  "Figures from the database alone, with gnuplot: per figure DIR/<suite>-<figure>.dat (data),\n"
                  ".gp (the script run; re-render with `cd DIR && gnuplot NAME.gp`) and the image.\n"
                  "RUN: latest (default), latest~N, a run id or a uuid prefix; several RUNs draw one series per\n"
                  "run, labelled by platform and run id. Figures: calibration (ceilings), attention_scaling (time and\n"
                  "frac_sgemm vs T), lr_convergence (loss curves per problem), sparsity (speedup vs sparsity),\n"
                  "dist_throughput (busbw vs message size with the alpha-beta fit, loss vs bytes sent).\n"
                  "Templates: $QT_PLOTS_DIR or " QT_SOURCE_DIR "/plots.\n"
                  "Exit status: 0 ok, 1 gnuplot missing or failed, 2 bad usage, unknown run or a run without the\n"
                  "suite's results, 3 database error.",
                  opts, N_OPTS);
}

/* Parse --format into c; an exit code or 0. */
static int parse_format(const char *f, plot_ctx_t *c)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(f, formats[i].name)) {
            c->format = (int)i;
            return 0;
        }
    fprintf(stderr, "quintet plot: unknown format '%s' (expected png, svg or pdf)\n", f);
    return EXIT_USAGE;
}

/* Resolve the RUN arguments (default latest) and their hosts; an exit code or 0. */
static int load_runs(qt_store_t *s, const qt_args_t *a, qt_plot_run_t *runs, int *n_runs)
{
    *n_runs = a->n_pos ? a->n_pos : 1;
    if (*n_runs > MAX_RUNS) {
        fprintf(stderr, "quintet plot: at most %d runs (got %d)\n", MAX_RUNS, *n_runs);
        return EXIT_USAGE;
    }
    for (int i = 0; i < *n_runs; i++) {
        qt_status_t st = qt_store_resolve_run(s, a->n_pos ? a->pos[i] : "latest", &runs[i].id);
        if (st == QT_OK) st = qt_plot_run_host(s, &runs[i]);
        if (st != QT_OK) {
            fprintf(stderr, "quintet plot: %s\n", qt_last_error());
            return st == QT_ERR_ARG ? EXIT_USAGE : EXIT_DB;
        }
    }
    return 0;
}

/* Draw one suite for the runs that hold it; with `strict`, a run without it is an error. */
static int plot_suite(qt_store_t *s, plot_ctx_t *c, const char *suite, const qt_plot_run_t *all, int n_all, int strict,
                      int *n_figs)
{
    qt_plot_run_t runs[MAX_RUNS];
    int n = 0;
    for (int i = 0; i < n_all; i++) {
        int has = 0;
        if (qt_plot_run_has_suite(s, all[i].id, suite, &has) != QT_OK) {
            fprintf(stderr, "quintet plot: %s\n", qt_last_error());
            return EXIT_DB;
        }
        if (has) runs[n++] = all[i];
        else if (strict) {
            fprintf(stderr, "quintet plot: run %lld (%s) has no results of suite '%s'\n", (long long)all[i].id,
                    all[i].host, suite);
            return EXIT_USAGE;
        } else if (n_all > 1) {
            fprintf(stderr, "quintet plot: note: run %lld (%s) has no %s results; left out of its figures\n",
                    (long long)all[i].id, all[i].host, suite);
        }
    }
    if (!n) return 0;
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/%s.gp", c->plots_dir, suite);
    if (access(tmpl, R_OK) != 0) {
        fprintf(stderr, "quintet plot: cannot read the gnuplot template %s: %s (set QT_PLOTS_DIR to the plots/ folder)\n",
                tmpl, strerror(errno));
        return EXIT_RUNTIME;
    }
    c->runs = runs;
    c->n_runs = n;
    qt_status_t st = qt_plot_data_write(s, suite, runs, n, c->dir, on_figure, c, n_figs);
    c->runs = NULL;
    if (st != QT_OK) {
        fprintf(stderr, "quintet plot: %s\n", qt_last_error());
        return st == QT_ERR_ARG ? (strict ? EXIT_USAGE : 0) : EXIT_RUNTIME;
    }
    return 0;
}

/* The command. */
int qt_cmd_plot(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) {
        fprintf(stderr, "quintet plot: %s\n", qt_last_error());
        return EXIT_USAGE;
    }
    if (a.help) {
        usage();
        return 0;
    }
    plot_ctx_t c = {.format = 0};
    const char *fmt = qt_args_get(opts, N_OPTS, &a, "format"), *suite = qt_args_get(opts, N_OPTS, &a, "suite");
    c.dir = qt_args_get(opts, N_OPTS, &a, "out");
    c.db = qt_args_get(opts, N_OPTS, &a, "db");
    if (!c.db) c.db = QT_DEFAULT_DB;
    int rc;
    if (fmt && (rc = parse_format(fmt, &c))) return rc;
    if (!c.dir || !*c.dir) {
        fprintf(stderr, "quintet plot: --out DIR is required (the folder for the figures)\n");
        return EXIT_USAGE;
    }
    if (suite && !qt_plot_suite_known(suite)) {
        fprintf(stderr, "quintet plot: unknown suite '%s' (figures exist for: %s)\n", suite, qt_plot_suite_names());
        return EXIT_USAGE;
    }
    c.plots_dir = getenv("QT_PLOTS_DIR");
    if (!c.plots_dir || !*c.plots_dir) c.plots_dir = QT_SOURCE_DIR "/plots";
    qt_store_t *s;
    if (qt_store_open(c.db, 0, 0, &s) != QT_OK) {
        fprintf(stderr, "quintet plot: %s\n", qt_last_error());
        return EXIT_DB;
    }
    qt_plot_run_t runs[MAX_RUNS];
    int n_runs = 0, n_figs = 0;
    rc = load_runs(s, &a, runs, &n_runs);
    if (!rc) rc = prepare_dir(c.dir);
    char gp[4096];
    c.gnuplot = find_on_path("gnuplot", gp, sizeof gp);
    for (int i = 0; !rc && qt_plot_suite_at(i); i++)
        if (!suite || !strcmp(suite, qt_plot_suite_at(i)))
            rc = plot_suite(s, &c, qt_plot_suite_at(i), runs, n_runs, suite != NULL, &n_figs);
    qt_store_close(s);
    if (rc) return rc;
    if (!n_figs) {
        fprintf(stderr, "quintet plot: the run(s) hold no results quintet can draw\n");
        return EXIT_USAGE;
    }
    if (!c.gnuplot) {
        fprintf(stderr, "quintet plot: gnuplot not found on PATH: wrote the .dat and .gp files into %s but no images;"
                        " install gnuplot (Debian: apt-get install gnuplot-nox) and run `cd %s && gnuplot NAME.gp`\n",
                c.dir, c.dir);
        return EXIT_RUNTIME;
    }
    return c.failed ? EXIT_RUNTIME : 0;
}
