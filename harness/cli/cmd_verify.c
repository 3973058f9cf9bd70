/* cmd_verify.c — `quintet verify [TECHNIQUE...] [--backend B] [--seed S] [--size quick|full]
 * [--format table|csv|json]`: the driver of verify.h. For every technique (attention, optim,
 * sparse) it runs the technique's case list, which compares every non-reference backend
 * with the ref oracle on fresh random inputs (Philox under --seed; a fresh seed is drawn
 * and printed when none is given, so a failure can be replayed), and prints one row per
 * case: technique, variant, backend, parameters, values compared, max abs error, max rel
 * error (relative to the output's scale), the tolerance, and #wrong (values outside it);
 * unsupported cases are listed as skipped with the reason. The tolerances are printed, with
 * why, above the table. The last line is the summary
 *   verify: N cases, M wrong values in K cases, S skipped
 * (on stderr for CSV and JSON, which keep stdout machine-readable). Exit status: 0 nothing
 * wrong, 1 a wrong value or a failed call, 2 bad usage. Run: build/quintet verify --help. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "output/output.h"
#include "verify/verify.h"

static const qt_verify_technique_t *const all_techs[] = {&qt_verify_attention, &qt_verify_fusion, &qt_verify_optim,
                                                          &qt_verify_sparse};
#define N_TECHS ((int)(sizeof all_techs / sizeof all_techs[0]))

struct qt_verify {
    const qt_verify_opts_t *o;
    const qt_verify_technique_t *tech; /* the technique running */
    qt_verify_summary_t sum;
    int rows;            /* rows printed */
    qt_backend_t *oracle; /* the ref instance */
};

/* The seed and size of this verification (what case lists draw inputs and pick shapes by). */
uint64_t qt_verify_seed(const qt_verify_t *v) { return v->o->seed; }
qt_verify_size_t qt_verify_size(const qt_verify_t *v) { return v->o->size; }

/* Not the oracle, and the --backend filter lets it through. */
int qt_verify_wants(const qt_verify_t *v, const char *name)
{
    if (!strcmp(name, "ref")) return 0;
    return !v->o->backend || !strcmp(v->o->backend, name);
}

/* Registry entry i, then the extras. */
static const qt_backend_iface_t *candidate(const qt_verify_t *v, int i)
{
    int n = qt_backend_count();
    if (i < n) return qt_backend_iface_get(i);
    return i - n < v->o->n_extra ? v->o->extra[i - n] : NULL;
}

/* Instances of the wanted backends that implement the current technique. */
int qt_verify_backends(qt_verify_t *v, qt_backend_t **out, int max)
{
    int n = 0;
    for (int i = 0; n < max; i++) {
        const qt_backend_iface_t *iface = candidate(v, i);
        if (!iface) break;
        if (!qt_verify_wants(v, iface->name) || !iface->ops[v->tech->tech]) continue;
        char why[256];
        qt_backend_t *be = NULL;
        if (!qt_backend_iface_available(iface, why, sizeof why)) {
            qt_verify_skip(v, "-", iface->name, "-", why);
            continue;
        }
        if (qt_backend_init_iface(&be, iface, NULL) != QT_OK) {
            qt_verify_error(v, "-", iface->name, "-", 1, qt_last_error());
            continue;
        }
        out[n++] = be;
    }
    return n;
}

/* Release instances from qt_verify_backends. */
void qt_verify_backends_free(qt_backend_t **bes, int n)
{
    for (int i = 0; i < n; i++) qt_backend_free(bes[i]);
}

/* The oracle's instance. */
qt_backend_t *qt_verify_oracle(qt_verify_t *v) { return v->oracle; }

/* Host operands as they are, device operands copied. */
qt_status_t qt_verify_place(qt_backend_t *be, const qt_tensor_t *host, qt_tensor_t *dev, const qt_tensor_t **use)
{
    memset(dev, 0, sizeof *dev);
    if (!host || qt_device_is_host(be->device)) {
        *use = host;
        return QT_OK;
    }
    QT_TRY(qt_tensor_to_device(be, host, dev));
    *use = dev;
    return QT_OK;
}

/* One output row; cmp and tol NULL for a skipped or failed case (status says which). */
static void row(qt_verify_t *v, const char *variant, const char *backend, const char *params, const qt_cmp_t *c,
                const qt_tol_t *tol, int64_t wrong, const char *status)
{
    int64_t n = c ? c->n : 0;
    double ma = c ? c->max_abs : 0.0, mr = c ? c->max_rel : 0.0;
    const char *tn = tol ? tol->name : "";
    if (v->o->format == QT_VERIFY_TABLE) {
        if (c) printf("%-9s %-14s %-7s %-50s %9lld %10.3g %10.3g %-10s %7lld %s\n", v->tech->name, variant, backend,
                      params, (long long)n, ma, mr, tn, (long long)wrong, status);
        else printf("%-9s %-14s %-7s %-50s %9s %10s %10s %-10s %7s %s\n", v->tech->name, variant, backend, params, "-",
                    "-", "-", "-", wrong ? "all" : "-", status);
    } else if (v->o->format == QT_VERIFY_CSV) {
        const char *text[] = {v->tech->name, variant, backend, params};
        for (int i = 0; i < 4; i++) { qt_out_csv_field(text[i]); putchar(','); }
        if (c) printf("%lld,%.9g,%.9g,", (long long)n, ma, mr);
        else printf(",,,");
        qt_out_csv_field(tn);
        printf(",%lld,", (long long)wrong);
        qt_out_csv_field(status);
        putchar('\n');
    } else {
        printf("%s\n    {", v->rows ? "," : "");
        const char *keys[] = {"technique", "variant", "backend", "params", "tolerance", "status"};
        const char *vals[] = {v->tech->name, variant, backend, params, tn, status};
        for (int i = 0; i < 6; i++) { printf("\"%s\": ", keys[i]); qt_out_json_str(vals[i]); printf(", "); }
        printf("\"values\": %lld, \"max_abs\": ", (long long)n);
        if (c) qt_out_json_num(ma);
        else printf("null");
        printf(", \"max_rel\": ");
        if (c) qt_out_json_num(mr);
        else printf("null");
        printf(", \"wrong\": %lld}", (long long)wrong);
    }
    fflush(stdout);
    v->rows++;
}

/* A compared case. */
void qt_verify_case(qt_verify_t *v, const char *variant, const char *backend, const char *params, const qt_cmp_t *cmp,
                    const qt_tol_t *tol)
{
    char status[64] = "ok";
    if (cmp->wrong) snprintf(status, sizeof status, "WRONG (first at %lld)", (long long)cmp->first_wrong);
    v->sum.cases++;
    v->sum.wrong_values += cmp->wrong;
    v->sum.wrong_cases += cmp->wrong > 0;
    row(v, variant, backend, params, cmp, tol, cmp->wrong, status);
}

/* A skipped case. */
void qt_verify_skip(qt_verify_t *v, const char *variant, const char *backend, const char *params, const char *reason)
{
    char status[200];
    snprintf(status, sizeof status, "skipped: %s", reason);
    v->sum.skipped++;
    row(v, variant, backend, params, NULL, NULL, 0, status);
}

/* A failed call: every value it should have produced is wrong. */
void qt_verify_error(qt_verify_t *v, const char *variant, const char *backend, const char *params, int64_t values,
                     const char *message)
{
    char status[300];
    snprintf(status, sizeof status, "error: %s", message);
    v->sum.cases++;
    v->sum.wrong_values += values > 0 ? values : 1;
    v->sum.wrong_cases++;
    row(v, variant, backend, params, NULL, NULL, values > 0 ? values : 1, status);
}

/* The tolerances of the techniques of this run, before the cases. */
static void print_tolerances(const qt_verify_opts_t *o)
{
    if (o->format == QT_VERIFY_TABLE)
        printf("tolerances (a value y is wrong unless |y - ref| <= scale*max|ref| + rel*|ref| + elem*bound;\n"
               "max|ref| over the output, bound a per-value error bound; max_rel below = max_abs / max|ref|):\n");
    else if (o->format == QT_VERIFY_JSON)
        printf("  \"tolerances\": [");
    int k = 0;
    for (int t = 0; t < o->n_techs; t++)
        for (const qt_tol_t *const *p = o->techs[t]->tols; p && *p; p++) {
            const qt_tol_t *tol = *p;
            if (o->format == QT_VERIFY_TABLE)
                printf("  %-10s scale %-7.2g rel %-7.2g elem %-7.2g %s\n", tol->name, tol->scale, tol->rel, tol->elem,
                       tol->why);
            else if (o->format == QT_VERIFY_JSON) {
                printf("%s\n    {\"name\": ", k++ ? "," : "");
                qt_out_json_str(tol->name);
                const char *keys[] = {"scale", "rel", "elem"};
                double vals[] = {tol->scale, tol->rel, tol->elem};
                for (int i = 0; i < 3; i++) { printf(", \"%s\": ", keys[i]); qt_out_json_num(vals[i]); }
                printf(", \"why\": ");
                qt_out_json_str(tol->why);
                printf("}");
            }
        }
    if (o->format == QT_VERIFY_JSON) printf("\n  ],\n  \"cases\": [");
}

/* Run everything. */
int qt_verify_run(const qt_verify_opts_t *o, qt_verify_summary_t *sum)
{
    qt_verify_t v = {o, NULL, {0, 0, 0, 0}, 0, NULL};
    if (qt_backend_init(&v.oracle, "ref", NULL) != QT_OK) {
        fprintf(stderr, "quintet verify: cannot make the oracle: %s\n", qt_last_error());
        return 1;
    }
    const char *size = o->size == QT_VERIFY_FULL ? "full" : "quick";
    if (o->format == QT_VERIFY_TABLE) {
        printf("quintet verify: every backend against the ref oracle, seed %llu (--seed replays), size %s\n",
               (unsigned long long)o->seed, size);
        print_tolerances(o);
        printf("\n%-9s %-14s %-7s %-50s %9s %10s %10s %-10s %7s %s\n", "technique", "variant", "backend", "params",
               "values", "max_abs", "max_rel", "tol", "#wrong", "status");
    } else if (o->format == QT_VERIFY_CSV) {
        printf("technique,variant,backend,params,values,max_abs,max_rel,tolerance,wrong,status\n");
    } else {
        printf("{\n  \"seed\": %llu,\n  \"size\": \"%s\",\n", (unsigned long long)o->seed, size);
        print_tolerances(o);
    }
    for (int t = 0; t < o->n_techs; t++) {
        v.tech = o->techs[t];
        v.tech->run(&v);
    }
    const qt_verify_summary_t *s = &v.sum;
    if (o->format == QT_VERIFY_JSON)
        printf("\n  ],\n  \"summary\": {\"cases\": %lld, \"wrong_values\": %lld, \"wrong_cases\": %lld, \"skipped\": %lld}\n}\n",
               (long long)s->cases, (long long)s->wrong_values, (long long)s->wrong_cases, (long long)s->skipped);
    fflush(stdout);
    FILE *f = o->format == QT_VERIFY_TABLE ? stdout : stderr;
    fprintf(f, "verify: %lld cases, %lld wrong values in %lld cases, %lld skipped\n", (long long)s->cases,
            (long long)s->wrong_values, (long long)s->wrong_cases, (long long)s->skipped);
    if (sum) *sum = *s;
    int rc = s->wrong_values > 0 ? 1 : 0;
    qt_backend_free(v.oracle);
    return rc;
}

static const qt_opt_t opts[] = {
    {"backend", "B", "only this backend (default: every backend but the oracle 'ref')"},
    {"seed", "S", "seed of the random inputs (default: fresh, printed)"},
    {"size", "Z", "quick | full (default quick: seconds; full: larger shapes, minutes)"},
    {"format", "F", "table | csv | json (default table)"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

/* Print "quintet verify: <message>" and return 2. */
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "quintet verify: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 2;
}

/* The command. */
int qt_cmd_verify(int argc, char **argv)
{
    qt_args_t a;
    if (qt_args_parse(opts, N_OPTS, argc, argv, &a) != QT_OK) return bad("%s", qt_last_error());
    if (a.help) {
        qt_args_usage(stdout, "quintet verify [TECHNIQUE...] [options]",
                      "Checks every non-reference backend of each TECHNIQUE (attention, optim, sparse; default all)\n"
                      "against the ref oracle on fresh random inputs and counts the values outside the stated\n"
                      "tolerance. Exit status: 0 nothing wrong, 1 wrong values or a failed call, 2 bad usage.",
                      opts, N_OPTS);
        return 0;
    }
    const qt_verify_technique_t *techs[N_TECHS];
    int n = 0;
    for (int i = 0; i < a.n_pos; i++) {
        int k = 0;
        while (k < N_TECHS && strcmp(all_techs[k]->name, a.pos[i])) k++;
        if (k == N_TECHS) return bad("unknown technique '%s' (attention, optim, sparse)", a.pos[i]);
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= techs[j] == all_techs[k];
        if (!dup) techs[n++] = all_techs[k];
    }
    if (!n)
        for (n = 0; n < N_TECHS; n++) techs[n] = all_techs[n];
    qt_verify_opts_t o = {techs, n, qt_args_get(opts, N_OPTS, &a, "backend"), 0, QT_VERIFY_QUICK, QT_VERIFY_TABLE,
                          NULL, 0};
    if (o.backend) {
        if (!strcmp(o.backend, "ref")) return bad("'ref' is the oracle every backend is compared with; name another backend");
        const qt_backend_iface_t *iface = qt_backend_iface_find(o.backend);
        char names[256];
        if (!iface)
            return bad("unknown backend '%s' (this build has: %s)", o.backend, qt_backend_names(names, sizeof names, ", "));
        int known = 0;
        for (int t = 0; t < n; t++) known |= iface->ops[techs[t]->tech] != NULL;
        if (!known) return bad("backend '%s' implements none of the techniques chosen (`quintet env` lists them)", o.backend);
    }
    const char *seed = qt_args_get(opts, N_OPTS, &a, "seed"), *size = qt_args_get(opts, N_OPTS, &a, "size"),
               *fmt = qt_args_get(opts, N_OPTS, &a, "format");
    unsigned long long sv;
    if (seed && qt_args_u64("--seed", seed, &sv) != QT_OK) return bad("%s", qt_last_error());
    o.seed = seed ? (uint64_t)sv : (((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid());
    if (size && !strcmp(size, "full")) o.size = QT_VERIFY_FULL;
    else if (size && strcmp(size, "quick")) return bad("unknown size '%s' (expected quick or full)", size);
    if (fmt && !strcmp(fmt, "csv")) o.format = QT_VERIFY_CSV;
    else if (fmt && !strcmp(fmt, "json")) o.format = QT_VERIFY_JSON;
    else if (fmt && strcmp(fmt, "table")) return bad("unknown format '%s' (expected table, csv or json)", fmt);
    return qt_verify_run(&o, NULL);
}
