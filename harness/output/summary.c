/* summary.c — a run on one screen (contract: summary.h). */
#include "output/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "analysis/validity.h"

/* The headline metrics and what they should be. */
static const struct {
    const char *metric, *target;
} headlines[] = {
    {"stream_triad_gbps", "the machine's memory bandwidth (STREAM triad)"},
    {"sgemm_gflops", "OpenBLAS SGEMM: one thread and all threads (all should be faster)"},
    {"mpi_pingpong_us", "MPI latency between two ranks"},
    {"scaling_exponent", "~2 for dense attention, ~1 for window/LSH/dynamic"},
    {"speedup_vs_dense", "> 1: the variant or sparse path beats dense"},
    {"speedup_vs_ref", "> 1: the optimized backend beats the reference"},
    {"frac_sgemm", "<= 1: fraction of this run's all-thread SGEMM"},
    {"frac_stream", "<= 1: fraction of this run's STREAM triad"},
    {"mass_recall", "-> 1: attention mass the variant's keys cover"},
    {"crossover_sparsity", "sparsity from which a sparse path wins"},
    {"dispatch_regret", "1 = the dispatcher chose the fastest path"},
    {"reached", "1 = the optimizer reached the target loss (mean over seeds)"},
    {"accuracy", "test accuracy of the sparse-activation MLP"},
};
#define N_HEAD ((int)(sizeof headlines / sizeof headlines[0]))
#define MAX_SUITES 16
#define N_SLOW 5

typedef struct {
    char suite[48];
    int n[N_HEAD];
    double *v[N_HEAD];
    double lo[N_HEAD], hi[N_HEAD];
    char lo_case[N_HEAD][96], hi_case[N_HEAD][96];
} suite_t;

typedef struct {
    suite_t suites[MAX_SUITES];
    int n_suites;
    struct {
        double s;
        char label[160];
    } slow[N_SLOW];
    int n_ok, n_failed, n_skipped, oom;
} sum_t;

/* The suite's entry (made on first sight), or NULL when full. */
static suite_t *suite_of(sum_t *m, const char *name)
{
    for (int i = 0; i < m->n_suites; i++)
        if (!strcmp(m->suites[i].suite, name)) return &m->suites[i];
    if (m->n_suites == MAX_SUITES) return NULL;
    suite_t *s = &m->suites[m->n_suites++];
    memset(s, 0, sizeof *s);
    snprintf(s->suite, sizeof s->suite, "%s", name);
    return s;
}

/* A short case label: "case/variant params" (derived metrics: "variant params"), cut to 44 characters. */
static void label_of(const qt_stat_row_t *r, char *out, size_t size)
{
    char full[400];
    if (!strcmp(r->name, r->metric)) snprintf(full, sizeof full, "%s %s", r->variant, r->params);
    else snprintf(full, sizeof full, "%s/%s %s", r->name, r->variant, r->params);
    snprintf(out, size, "%.44s%s", full, strlen(full) > 44 ? "~" : "");
}

/* One statistics row: headline values and case times. */
static int take_stat(void *arg, const qt_stat_row_t *r)
{
    sum_t *m = arg;
    if (!strcmp(r->metric, "case_wall_s") && isfinite(r->median)) {
        int k = N_SLOW - 1;
        if (r->median > m->slow[k].s) {
            while (k > 0 && r->median > m->slow[k - 1].s) {
                m->slow[k] = m->slow[k - 1];
                k--;
            }
            m->slow[k].s = r->median;
            snprintf(m->slow[k].label, sizeof m->slow[k].label, "%s %s/%s %.70s", r->suite, r->name, r->variant,
                     r->params);
        }
    }
    int h = 0;
    while (h < N_HEAD && strcmp(headlines[h].metric, r->metric)) h++;
    double v = !strcmp(r->metric, "reached") ? r->mean : r->median;
    if (h == N_HEAD || !isfinite(v)) return 0;
    suite_t *s = suite_of(m, r->suite);
    if (!s) return 0;
    double *nv = realloc(s->v[h], sizeof(double) * (size_t)(s->n[h] + 1));
    if (!nv) return m->oom = 1;
    s->v[h] = nv;
    if (s->n[h] == 0 || v < s->lo[h]) s->lo[h] = v, label_of(r, s->lo_case[h], sizeof s->lo_case[h]);
    if (s->n[h] == 0 || v > s->hi[h]) s->hi[h] = v, label_of(r, s->hi_case[h], sizeof s->hi_case[h]);
    s->v[h][s->n[h]++] = v;
    return 0;
}

typedef struct {
    FILE *f;
    int n;
} out_t;

/* Count cases; list those that did not finish. */
static int take_case(void *arg, const qt_case_row_t *c)
{
    sum_t *m = arg;
    if (!strcmp(c->status, "ok")) m->n_ok++;
    else if (!strcmp(c->status, "skipped")) m->n_skipped++;
    else m->n_failed++;
    return 0;
}

/* Print a case that did not finish ok. */
static int print_bad(void *arg, const qt_case_row_t *c)
{
    out_t *o = arg;
    if (!strcmp(c->status, "ok")) return 0;
    if (o->n++ == 0) fprintf(o->f, "\nnot run to completion:\n");
    if (o->n <= 8)
        fprintf(o->f, "  %-8s %s %s/%s %.40s: %.70s\n", c->status, c->suite, c->name, c->variant, c->params,
                c->message ? c->message : "");
    return 0;
}

typedef struct {
    FILE *f;
    const char *want;
    char value[256];
    int n;
} prov_t;

/* Print warnings; remember one provenance field. */
static int take_prov(void *arg, const char *key, const char *value)
{
    prov_t *p = arg;
    if (!strncmp(key, "warning.", 8)) {
        if (p->n++ == 0) fprintf(p->f, "\nwarnings:\n");
        fprintf(p->f, "  ! %.300s\n", value ? value : "");
    } else if (p->want && !strcmp(key, p->want)) {
        snprintf(p->value, sizeof p->value, "%s", value ? value : "");
    }
    return 0;
}

/* A measurement-validity warning (analysis/validity.h), under the run's warnings. */
static int summary_validity(void *arg, const char *text)
{
    prov_t *p = arg;
    if (p->n++ == 0) fprintf(p->f, "\nwarnings:\n");
    fprintf(p->f, "  ! %.300s\n", text);
    return 0;
}

/* Value of a provenance field of the run into out ("" when absent). */
static void prov_field(qt_store_t *s, int64_t run, const char *key, char *out, size_t size)
{
    prov_t p = {NULL, key, "", 0};
    p.f = NULL;
    out[0] = '\0';
    FILE *null = fopen("/dev/null", "w");
    p.f = null ? null : stderr;
    qt_store_foreach_provenance(s, run, take_prov, &p);
    if (null) fclose(null);
    snprintf(out, size, "%s", p.value);
}

/* Write. */
qt_status_t qt_summary_write(qt_store_t *s, int64_t run, const char *db_path, FILE *f)
{
    sum_t *m = calloc(1, sizeof *m);
    if (!m) return qt_fail(QT_ERR_NOMEM, "summary");
    qt_status_t r = qt_store_foreach_stat(s, run, take_stat, m);
    if (r == QT_OK) r = qt_store_foreach_case(s, run, take_case, m);
    if (r == QT_OK && m->oom) r = qt_fail(QT_ERR_NOMEM, "summary");
    if (r == QT_OK) {
        char status[32], profile[32], host[128], cpu[128], cores[16], t0[40], t1[40];
        prov_field(s, run, "status", status, sizeof status);
        prov_field(s, run, "profile", profile, sizeof profile);
        prov_field(s, run, "host", host, sizeof host);
        prov_field(s, run, "cpu_model", cpu, sizeof cpu);
        prov_field(s, run, "cores", cores, sizeof cores);
        prov_field(s, run, "started_at", t0, sizeof t0);
        prov_field(s, run, "ended_at", t1, sizeof t1);
        fprintf(f, "== quintet run %lld: %s, profile %s, %s (%s, %s cores), started %s\n", (long long)run, status,
                profile, host, cpu, cores, t0);
        fprintf(f, "   cases: %d ok, %d failed, %d skipped\n", m->n_ok, m->n_failed, m->n_skipped);
        prov_t p = {f, NULL, "", 0};
        qt_store_foreach_provenance(s, run, take_prov, &p);
        qt_validity_bandwidth(s, run, summary_validity, &p, NULL); /* best effort: the summary goes on */
        fprintf(f, "\nheadline metrics (per suite: cases, median of the case medians, the lowest and highest case)\n");
        for (int i = 0; i < m->n_suites; i++) {
            suite_t *su = &m->suites[i];
            fprintf(f, "%s\n", su->suite);
            for (int h = 0; h < N_HEAD; h++) {
                if (!su->n[h]) continue;
                double med = qt_quantile(su->v[h], (size_t)su->n[h], 0.5);
                fprintf(f, "  %-18s %3d: %-9.4g  target: %s\n", headlines[h].metric, su->n[h], med, headlines[h].target);
                if (su->n[h] > 1)
                    fprintf(f, "  %-18s      %-9.4g  %s\n  %-18s      %-9.4g  %s\n", "lowest", su->lo[h], su->lo_case[h],
                            "highest", su->hi[h], su->hi_case[h]);
            }
        }
        fprintf(f, "\nslowest cases (wall time incl. setup):\n");
        for (int k = 0; k < N_SLOW && m->slow[k].s > 0; k++) fprintf(f, "  %7.1f s  %s\n", m->slow[k].s, m->slow[k].label);
        out_t o = {f, 0};
        r = qt_store_foreach_case(s, run, print_bad, &o);
        if (o.n > 8) fprintf(f, "  ... and %d more\n", o.n - 8);
        fprintf(f, "\nfull table: quintet show %lld --db %s   (csv/json: --format; GB JSON: --format gbench-json)\n",
                (long long)run, db_path);
    }
    for (int i = 0; i < m->n_suites; i++)
        for (int h = 0; h < N_HEAD; h++) free(m->suites[i].v[h]);
    free(m);
    return r;
}
