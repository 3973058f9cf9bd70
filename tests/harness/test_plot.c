/* test_plot.c — `quintet plot` end to end on a small real database: two runs of a few cases of
 * every suite with figures (`quintet run ... --filter`, a few seconds), then:
 *   - the .dat files are written, not empty, with the expected columns (4 numbers per line in
 *     line figures; label + median/q1/q3 per run in the calibration table);
 *   - with gnuplot on PATH, valid PNG (signature bytes) and SVG files, and each written .gp
 *     re-renders by itself; without gnuplot those checks are skipped with a printed reason;
 *   - two RUNs give two series per variant, labelled with host and run id;
 *   - dist_throughput (a run on 2 MPI ranks): busbw with a panel per collective and a fit series
 *     per measured one, loss vs bytes sent per compression scheme;
 *   - without gnuplot on PATH, the .dat and .gp files are still written, a message, exit 1;
 *   - a peer's imported Google Benchmark JSON (variant torch-sdpa, the run's thread count) beside
 *     run 1 gives attention_scaling-peer_ratio.dat: a row per case with peer/quintet ratios;
 *   - bad input (unknown suite, format or run, a run without the suite, --out missing or not a
 *     folder, missing templates) prints what is wrong and exits non-zero.
 * Needs build/quintet (make test builds it first). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static char out[1 << 16];
static char db[600];

/* Run quintet with arguments; returns the exit status, output in `out`. */
static int quintet(const char *args)
{
    return qt_test_sh(out, sizeof out, "%s %s", qt_test_build_path("quintet"), args);
}

/* 1 when gnuplot is on PATH (printing the reason once when not). */
static int have_gnuplot(void)
{
    static int known = -1;
    if (known < 0) {
        known = qt_test_sh(NULL, 0, "command -v gnuplot >/dev/null 2>&1") == 0;
        if (!known) printf("\n  SKIP rendering checks: gnuplot is not on PATH (ci/install.sh installs gnuplot-nox)\n");
    }
    return known;
}

/* The test database: run 1 and 2 with calibration, attention_scaling, lr_convergence and
 * sparsity cases, run 3 with calibration only. Made once. */
static const char *test_db(void)
{
    if (db[0]) return db;
    snprintf(db, sizeof db, "%s/plot.db", qt_test_tmpdir());
    unlink(db);
    const char *filter = "calibration/(stream|sgemm)|attention_scaling/dense/cpu/.*T=(256|512|1024),"
                         "|lr_convergence/converge/.*optimizer=(sgd|adam),problem=logreg"
                         "|sparsity/(dense|csr)/.*M=64,K=2048,N=2048,sp=[^,]*,structure=uniform";
    for (int i = 0; i < 2; i++) {
        int rc = qt_test_sh(out, sizeof out,
                            "QT_SPARSE_CROSSOVER=%s/crossover %s run calibration attention_scaling lr_convergence"
                            " sparsity --db %s --repetitions 2 --filter '%s'",
                            qt_test_tmpdir(), qt_test_build_path("quintet"), db, filter);
        if (rc) printf("\n%s", out);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
    }
    int rc = qt_test_sh(out, sizeof out, "%s run calibration --db %s --repetitions 1 --filter harness_loop",
                        qt_test_build_path("quintet"), db);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return db;
}

/* A fresh output folder name under the temp dir (removed first). */
static const char *out_dir(const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", qt_test_tmpdir(), name);
    qt_test_sh(NULL, 0, "rm -rf '%s'", buf[k]);
    return buf[k];
}

/* Contents of dir/name (NUL-terminated, malloc'ed) or NULL; *len its size. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (b) b[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

/* Check a line-figure .dat: every data line has 4 numbers; returns the number of series (blocks). */
static int check_lines_dat(const char *dir, const char *name)
{
    size_t len;
    char *b = slurp(dir, name, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT(len > 0);
    int series = 0, rows = 0;
    for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "# series ", 9)) series++;
        if (line[0] == '#') continue;
        double v[5];
        int n = sscanf(line, "%lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4]);
        if (n != 4) printf("\n  %s: bad line '%s'", name, line);
        CU_ASSERT_EQUAL(n, 4);
        rows++;
    }
    CU_ASSERT(rows >= series && series >= 1);
    free(b);
    return series;
}

/* Check the calibration table: a quoted label, then 3 numbers per run, on every data row. */
static void check_calibration_dat(const char *dir, int n_runs)
{
    char *b = slurp(dir, "calibration-ceilings.dat", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    int rows = 0;
    for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *end = line[0] == '"' ? strchr(line + 1, '"') : NULL;
        CU_ASSERT_PTR_NOT_NULL_FATAL(end);
        int fields = 0;
        for (char *p = end + 1; *p;) {
            char *next;
            strtod(p, &next);
            if (next == p) break;
            fields++;
            p = next;
        }
        CU_ASSERT_EQUAL(fields, 3 * n_runs);
        rows++;
    }
    CU_ASSERT(rows >= 3); /* STREAM triad, SGEMM 1 thread, SGEMM all threads */
    free(b);
}

/* 1 when dir/name starts with the PNG signature. */
static int is_png(const char *dir, const char *name)
{
    size_t len;
    char *b = slurp(dir, name, &len);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int ok = b && len > 100 && !memcmp(b, sig, 8);
    free(b);
    return ok;
}

/* 1 when dir/name is an SVG document. */
static int is_svg(const char *dir, const char *name)
{
    char *b = slurp(dir, name, NULL);
    int ok = b && strstr(b, "<svg") && strstr(b, "</svg>");
    free(b);
    return ok;
}

static const char *const line_dats[] = {"attention_scaling-time.dat", "attention_scaling-frac_sgemm.dat",
                                        "lr_convergence-loss-logreg.dat", "sparsity-speedup.dat"};
#define N_LINE_DATS ((int)(sizeof line_dats / sizeof line_dats[0]))

/* The latest run: every suite's .dat, .gp and PNG; the .gp re-renders by itself. */
static void test_plot_latest_png(void)
{
    const char *d = out_dir("png"), *base = test_db();
    char args[1400];
    snprintf(args, sizeof args, "plot --db %s --out %s 2", base, d); /* run 2: the latest with every suite */
    int rc = quintet(args);
    if (!have_gnuplot()) {
        CU_ASSERT_EQUAL(rc, 1);
        return;
    }
    if (rc) printf("\n%s", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    check_calibration_dat(d, 1);
    for (int i = 0; i < N_LINE_DATS; i++) {
        CU_ASSERT(check_lines_dat(d, line_dats[i]) >= 1);
        char png[200], gp[200];
        snprintf(png, sizeof png, "%.*s.png", (int)strlen(line_dats[i]) - 4, line_dats[i]);
        snprintf(gp, sizeof gp, "%.*s.gp", (int)strlen(line_dats[i]) - 4, line_dats[i]);
        CU_ASSERT(is_png(d, png));
        char *script = slurp(d, gp, NULL);
        CU_ASSERT(script && strstr(script, "datafile = '") && strstr(script, "plots/common.gp"));
        free(script);
    }
    CU_ASSERT(is_png(d, "calibration-ceilings.png"));
    /* the script written is what ran: it re-renders alone in its folder */
    CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "cd '%s' && rm attention_scaling-time.png && gnuplot attention_scaling-time.gp", d), 0);
    CU_ASSERT(is_png(d, "attention_scaling-time.png"));
    /* the fitted exponent is in the key: dense attention is close to quadratic in T */
    char *dat = slurp(d, "attention_scaling-time.dat", NULL);
    CU_ASSERT(dat && strstr(dat, "dense cpu (slope ") && strstr(dat, " +- "));
    free(dat);
}

/* Two runs: two series per variant, labelled by host and run id; SVG output. */
static void test_plot_two_runs_svg(void)
{
    const char *d = out_dir("svg"), *base = test_db();
    char args[1400];
    snprintf(args, sizeof args, "plot 1 2 --db %s --out %s --format svg", base, d);
    int rc = quintet(args);
    if (have_gnuplot()) {
        if (rc) printf("\n%s", out);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(is_svg(d, "attention_scaling-time.svg"));
        CU_ASSERT(is_svg(d, "calibration-ceilings.svg"));
        CU_ASSERT(is_svg(d, "lr_convergence-loss-logreg.svg"));
        CU_ASSERT(is_svg(d, "sparsity-speedup.svg"));
    } else {
        CU_ASSERT_EQUAL(rc, 1);
    }
    check_calibration_dat(d, 2);
    CU_ASSERT_EQUAL(check_lines_dat(d, "attention_scaling-time.dat"), 2);   /* dense cpu × 2 runs */
    CU_ASSERT_EQUAL(check_lines_dat(d, "sparsity-speedup.dat"), 2);         /* csr × 2 runs */
    CU_ASSERT_EQUAL(check_lines_dat(d, "lr_convergence-loss-logreg.dat"), 4); /* sgd, adam × 2 runs */
    char *gp = slurp(d, "attention_scaling-time.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gp);
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, " #1'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, " #2'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "array series_dash[2] = [1, 2]"));
    free(gp);
    /* run 3 has calibration's harness_loop only: every figure draws runs 1 and 2, with a note */
    d = out_dir("mixed");
    snprintf(args, sizeof args, "plot 1 2 3 --db %s --out %s", base, d);
    rc = quintet(args);
    CU_ASSERT_EQUAL(rc, have_gnuplot() ? 0 : 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "run 3"));
    check_calibration_dat(d, 2); /* run 3 measured no ceiling (harness_loop only) */
    CU_ASSERT_EQUAL(check_lines_dat(d, "attention_scaling-time.dat"), 2);
}

/* dist_throughput on 2 ranks, two collectives at three sizes and two compression schemes:
 * busbw has a panel per collective, the bare MPI_Allreduce and a fit series beside each measured
 * one; loss_vs_bytes a series per scheme. */
static void test_plot_dist(void)
{
    char ddb[700], args[1600];
    snprintf(ddb, sizeof ddb, "%s/plot_dist.db", qt_test_tmpdir());
    unlink(ddb);
    int rc = qt_test_sh(out, sizeof out,
                        "%s run dist_throughput --ranks 2 --db %s --repetitions 2 --filter "
                        "'dist_throughput/(coll_(allreduce|allreduce_bare|reduce_scatter)/.*bytes=(8|32768|262144),"
                        "|compress/.*scheme=(none|topk))'",
                        qt_test_build_path("quintet"), ddb);
    if (rc) printf("\n%s", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    const char *d = out_dir("dist");
    snprintf(args, sizeof args, "plot --db %s --out %s --suite dist_throughput", ddb, d);
    rc = quintet(args);
    if (rc) printf("\n%s", out);
    CU_ASSERT_EQUAL(rc, have_gnuplot() ? 0 : 1);
    if (have_gnuplot()) {
        CU_ASSERT(is_png(d, "dist_throughput-busbw.png"));
        CU_ASSERT(is_png(d, "dist_throughput-loss_vs_bytes.png"));
    }
    /* quintet shm, bare MPI_Allreduce shm (all-reduce panel), quintet shm (reduce-scatter), and a fit
     * beside each whose fitted 1/beta is positive (timing noise may make one negative) */
    int n = check_lines_dat(d, "dist_throughput-busbw.dat");
    CU_ASSERT(n >= 4 && n <= 6);
    CU_ASSERT_EQUAL(check_lines_dat(d, "dist_throughput-loss_vs_bytes.dat"), 2);
    char *gp = slurp(d, "dist_throughput-busbw.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gp);
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "n_panels = 2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "array panel_title[2] = ['allreduce', 'reduce_scatter']"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "'fit: alpha "));
    CU_ASSERT_PTR_NOT_NULL(strstr(gp, "array series_fit["));
    free(gp);
    gp = slurp(d, "dist_throughput-loss_vs_bytes.gp", NULL);
    CU_ASSERT(gp && strstr(gp, "'scheme=none") && strstr(gp, "'scheme=topk,ratio=0.01"));
    free(gp);
    unlink(ddb);
}

/* Without gnuplot on PATH: .dat and .gp written, a clear message, exit 1. */
static void test_no_gnuplot(void)
{
    const char *d = out_dir("nognuplot");
    char args[1400];
    snprintf(args, sizeof args, "plot --db %s --out %s --suite calibration 1", test_db(), d);
    int rc = qt_test_sh(out, sizeof out, "PATH=/nonexistent %s %s", qt_test_build_path("quintet"), args);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "gnuplot not found"));
    check_calibration_dat(d, 1);
    char *gp = slurp(d, "calibration-ceilings.gp", NULL);
    CU_ASSERT_PTR_NOT_NULL(gp);
    free(gp);
    char png[700];
    snprintf(png, sizeof png, "%s/calibration-ceilings.png", d);
    CU_ASSERT_EQUAL(access(png, F_OK), -1);
}

/* Bad input: a message naming the problem and the documented exit status. */
static void test_bad_input(void)
{
    const char *base = test_db(), *d = out_dir("bad");
    char file[700];
    snprintf(file, sizeof file, "%s/a_file", qt_test_tmpdir());
    qt_test_sh(NULL, 0, "echo x > '%s'", file);
    struct {
        char args[1400];
        int rc;
        const char *expect;
    } cases[] = {
        {"", 2, "unknown suite"},
        {"", 2, "no results of suite"},
        {"", 2, "no run '99999999'"},
        {"", 2, "--out DIR is required"},
        {"", 2, "unknown format"},
        {"", 2, "not a folder"},
        {"", 2, "cannot create"},
        {"", 3, "q.db"},
        {"", 2, "unknown option"},
    };
    snprintf(cases[0].args, sizeof cases[0].args, "plot --db %s --out %s --suite nosuch", base, d);
    snprintf(cases[1].args, sizeof cases[1].args, "plot 3 --db %s --out %s --suite attention_scaling", base, d);
    snprintf(cases[2].args, sizeof cases[2].args, "plot 99999999 --db %s --out %s", base, d);
    snprintf(cases[3].args, sizeof cases[3].args, "plot --db %s", base);
    snprintf(cases[4].args, sizeof cases[4].args, "plot --db %s --out %s --format gif", base, d);
    snprintf(cases[5].args, sizeof cases[5].args, "plot --db %s --out %s", base, file);
    snprintf(cases[6].args, sizeof cases[6].args, "plot --db %s --out %s/sub", base, file);
    snprintf(cases[7].args, sizeof cases[7].args, "plot --db /nonexistent/q.db --out %s", d);
    snprintf(cases[8].args, sizeof cases[8].args, "plot --bogus");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        qt_test_expect_cli("", cases[i].args, "", cases[i].rc, cases[i].expect);
    /* templates not found: a message naming QT_PLOTS_DIR, exit 1 */
    char args[1400];
    snprintf(args, sizeof args, "plot --db %s --out %s --suite calibration", base, d);
    int rc = qt_test_sh(out, sizeof out, "QT_PLOTS_DIR=/nonexistent %s %s", qt_test_build_path("quintet"), args);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "QT_PLOTS_DIR"));
    CU_ASSERT_EQUAL(quintet("plot --help"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--format"));
    unlink(file);
}

/* The thread count run 1 recorded (omp_get_max_threads(): OMP_NUM_THREADS, else the CPUs this
 * process may use). */
static int run_threads(void)
{
    const char *e = getenv("OMP_NUM_THREADS");
    if (e && atoi(e) > 0) return atoi(e);
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

/* A peer's Google Benchmark JSON (torch_cpu.py's names) at run 1's thread count: torch-sdpa rows
 * for the dense T=256 and T=512 cases, three repetitions of us, us + 1 and us + 2 microseconds. */
static void write_peer_json(const char *json, int us)
{
    FILE *f = fopen(json, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "{\"context\": {\"date\": \"2026-11-30T10:00:00+0000\", \"quintet.threads\": \"%d\"}, \"benchmarks\": [",
            run_threads());
    for (int t = 256, k = 0; t <= 512; t *= 2)
        for (int r = 0; r < 3; r++, k++)
            fprintf(f, "%s{\"name\": \"attention_scaling/dense/torch-sdpa/B=1,H=4,T=%d,D=64,causal=0,data=clustered\","
                       " \"run_type\": \"iteration\", \"iterations\": 1, \"real_time\": %d, \"cpu_time\": 1,"
                       " \"time_unit\": \"us\"}", k ? ", " : "", t, us + r);
    fprintf(f, "]}\n");
    fclose(f);
}

/* A copy of the test database with the peer's JSON (write_peer_json(us)) imported as run 4. */
static void peer_db(const char *copy, const char *json, int us)
{
    char args[1600];
    CU_ASSERT_EQUAL_FATAL(qt_test_sh(NULL, 0, "cp '%s' '%s'", test_db(), copy), 0);
    write_peer_json(json, us);
    snprintf(args, sizeof args, "import %s --db %s", json, copy);
    CU_ASSERT_EQUAL(quintet(args), 0);
}

/* `quintet plot RUNS` of the attention_scaling suite of database db into out_dir(dir): the
 * peer_ratio figure's rows (up to 4: ratio, lo, hi of its one bar) into bars; returns the rows. */
static int peer_ratio_bars(const char *db, const char *runs, const char *dir, double bars[4][3])
{
    const char *d = out_dir(dir);
    char args[1600];
    snprintf(args, sizeof args, "plot %s --db %s --out %s --suite attention_scaling", runs, db, d);
    CU_ASSERT_EQUAL(quintet(args), have_gnuplot() ? 0 : 1);
    char *dat = slurp(d, "attention_scaling-peer_ratio.dat", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dat);
    CU_ASSERT_PTR_NOT_NULL(strstr(dat, "torch-sdpa / cpu"));
    int rows = 0;
    for (char *line = strtok(dat, "\n"); line; line = strtok(NULL, "\n")) {
        char *q = strrchr(line, '"');
        if (*line != '"' || !q || rows == 4) continue;
        CU_ASSERT_EQUAL(sscanf(q + 1, "%lf %lf %lf", &bars[rows][0], &bars[rows][1], &bars[rows][2]), 3);
        rows++;
    }
    free(dat);
    return rows;
}

/* A peer's JSON imported into a copy of the test database: the peer_ratio figure pairs it with
 * run 1 (same thread count) case by case; 1 ms against quintet's median gives a finite positive
 * ratio per bar. */
static void test_plot_peer_ratio(void)
{
    char copy[700], json[700];
    double bars[4][3];
    snprintf(copy, sizeof copy, "%s/peer.db", qt_test_tmpdir());
    snprintf(json, sizeof json, "%s/peer.json", qt_test_tmpdir());
    peer_db(copy, json, 1000);
    int rows = peer_ratio_bars(copy, "1 4", "peer", bars);
    CU_ASSERT_EQUAL(rows, 2); /* T=256 and T=512 */
    for (int i = 0; i < rows; i++) CU_ASSERT(bars[i][0] > 0 && bars[i][1] <= bars[i][0] && bars[i][0] <= bars[i][2]);
    unlink(copy);
    unlink(json);
}

/* suites/peers/peer_ratios.py's rounds: quintet's run 1 against two peer runs (4: ~1 ms, 5: ~3 ms)
 * gives two rounds per case (run 1 serving both), the median ratio inside their range and the
 * range's ends 3x apart; run 1 against run 4 alone gives one round. The peer_ratio figure pairs
 * the rounds the same way: its bar is the two ratios' median (their mean, 2x the first) and its
 * error bar their range. */
static void test_peer_ratios_rounds(void)
{
    char copy[700], json[700], args[1600], csv[700], out[512];
    snprintf(copy, sizeof copy, "%s/rounds.db", qt_test_tmpdir());
    snprintf(json, sizeof json, "%s/rounds.json", qt_test_tmpdir());
    snprintf(csv, sizeof csv, "%s/rounds.csv", qt_test_tmpdir());
    peer_db(copy, json, 1000);
    write_peer_json(json, 3000);
    snprintf(args, sizeof args, "import %s --db %s", json, copy);
    CU_ASSERT_EQUAL(quintet(args), 0);
    const char *summary = "python3 -c \"import csv, sys; r = [x for x in csv.DictReader(open(sys.argv[1]))"
                          " if x['suite'] == 'attention_scaling' and x['ratio']];"
                          " print(len(r), min(int(x['rounds']) for x in r), max(int(x['rounds']) for x in r),"
                          " min(float(x['ratio_hi']) / float(x['ratio_lo']) for x in r),"
                          " max(float(x['ratio_hi']) / float(x['ratio_lo']) for x in r),"
                          " all(float(x['ratio_lo']) <= float(x['ratio']) <= float(x['ratio_hi']) for x in r))\"";
    int n = 0, rmin = 0, rmax = 0;
    double smin = 0, smax = 0;
    char inside[16] = "";
    for (int two = 1; two >= 0; two--) {
        CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "python3 suites/peers/peer_ratios.py --db '%s' --runs %s --csv '%s' >/dev/null && %s '%s'",
                                   copy, two ? "1,4,5" : "1,4", csv, summary, csv),
                        0);
        CU_ASSERT_EQUAL_FATAL(sscanf(out, "%d %d %d %lf %lf %15s", &n, &rmin, &rmax, &smin, &smax, inside), 6);
        CU_ASSERT_EQUAL(n, 2); /* T=256 and T=512 */
        CU_ASSERT_EQUAL(rmin, two ? 2 : 1);
        CU_ASSERT_EQUAL(rmax, two ? 2 : 1);
        CU_ASSERT(two ? smin > 2.9 && smax < 3.1 : smin == 1.0 && smax == 1.0);
        CU_ASSERT_STRING_EQUAL(inside, "True");
    }
    double bars[4][3];
    int rows = peer_ratio_bars(copy, "1 4 5", "rounds", bars);
    CU_ASSERT_EQUAL(rows, 2);
    for (int i = 0; i < rows; i++) {
        CU_ASSERT(bars[i][2] / bars[i][1] > 2.9 && bars[i][2] / bars[i][1] < 3.1);
        CU_ASSERT(bars[i][0] / bars[i][1] > 1.95 && bars[i][0] / bars[i][1] < 2.05);
    }
    unlink(copy);
    unlink(json);
    unlink(csv);
}

/* peer_ratios.py --stat: the peer's three repetitions take 1000, 1001 and 1002 us, so its time is the median
 * (1.001 ms) by default and the fastest (1.000 ms) with --stat min; quintet's side changes the same way. */
static void test_peer_ratios_stat(void)
{
    char copy[700], json[700], csv[700], out[512];
    snprintf(copy, sizeof copy, "%s/stat.db", qt_test_tmpdir());
    snprintf(json, sizeof json, "%s/stat.json", qt_test_tmpdir());
    snprintf(csv, sizeof csv, "%s/stat.csv", qt_test_tmpdir());
    peer_db(copy, json, 1000);
    const char *peer_s = "python3 -c \"import csv, sys; r = [x for x in csv.DictReader(open(sys.argv[1]))"
                         " if x['suite'] == 'attention_scaling' and x['peer_s']];"
                         " print(len(r), min(float(x['peer_s']) for x in r), max(float(x['peer_s']) for x in r))\"";
    for (int use_min = 0; use_min < 2; use_min++) {
        int n = 0;
        double lo = 0, hi = 0;
        CU_ASSERT_EQUAL(qt_test_sh(out, sizeof out, "python3 suites/peers/peer_ratios.py --db '%s' --runs 1,4%s --csv '%s' >/dev/null && %s '%s'",
                                   copy, use_min ? " --stat min" : "", csv, peer_s, csv),
                        0);
        CU_ASSERT_EQUAL_FATAL(sscanf(out, "%d %lf %lf", &n, &lo, &hi), 3);
        CU_ASSERT_EQUAL(n, 2);
        double want = use_min ? 1.000e-3 : 1.001e-3;
        CU_ASSERT(fabs(lo - want) < 1e-9 && fabs(hi - want) < 1e-9);
    }
    CU_ASSERT_NOT_EQUAL(qt_test_sh(NULL, 0, "python3 suites/peers/peer_ratios.py --db '%s' --stat mean 2>/dev/null", copy), 0);
    unlink(copy);
    unlink(json);
    unlink(csv);
}

QT_TEST_MAIN("plot", {"latest run: .dat, .gp, PNG", test_plot_latest_png},
             {"two runs: two series, SVG", test_plot_two_runs_svg}, {"dist_throughput: busbw, fits, loss", test_plot_dist},
             {"peer_ratio: an imported peer beside run 1", test_plot_peer_ratio},
             {"peer_ratios.py: rounds paired", test_peer_ratios_rounds},
             {"peer_ratios.py: --stat min", test_peer_ratios_stat}, {"without gnuplot", test_no_gnuplot},
             {"bad input", test_bad_input})
