/* gate.c — compare's regression decision on two stored cases (contract in gate.h): the raw
 * samples with their invocation numbers, then qt_compare_decide (interval verdict + exact test).
 * Tested through `quintet history` and `quintet report --baseline` by
 * tests/harness/test_report.c (`make test`). */
#include "analysis/gate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "cli/args.h"

/* The values of one metric of one case. */
typedef struct {
    const char *metric;
    double *v;
    int *inv;
    size_t n, cap;
    int failed;
} metric_values_t;

/* foreach_sample callback: keep the samples of the wanted metric. */
static int keep_sample(void *arg, const qt_sample_t *x)
{
    metric_values_t *m = arg;
    if (strcmp(x->metric, m->metric)) return 0;
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        double *v = realloc(m->v, cap * sizeof *v);
        if (v) m->v = v;
        int *inv = v ? realloc(m->inv, cap * sizeof *inv) : NULL;
        if (!v || !inv) return m->failed = 1;
        m->inv = inv;
        m->cap = cap;
    }
    m->inv[m->n] = x->invocation;
    m->v[m->n++] = x->value;
    return 0;
}

/* Load the samples of metric of case_id into m (m->v malloc'd; the caller frees it). */
static qt_status_t load_values(qt_store_t *s, int64_t case_id, metric_values_t *m)
{
    QT_TRY(qt_store_foreach_sample(s, case_id, keep_sample, m));
    return m->failed ? qt_fail(QT_ERR_NOMEM, "out of memory reading case %lld", (long long)case_id) : QT_OK;
}

/* Both cases' samples, then compare.c's decision in the metric's direction. */
qt_status_t qt_gate_cases(qt_store_t *s, int64_t base_case, int64_t new_case, const char *metric,
                          const qt_compare_opts_t *o, qt_compare_result_t *r)
{
    QT_CHECK_ARG(s && metric && o && r, "store, metric, options and result must not be NULL");
    metric_values_t b = {metric, NULL, NULL, 0, 0, 0}, n = {metric, NULL, NULL, 0, 0, 0};
    qt_status_t st = load_values(s, base_case, &b);
    if (st == QT_OK) st = load_values(s, new_case, &n);
    qt_sample_set_t sb = {b.v, b.inv, b.n}, sn = {n.v, n.inv, n.n};
    if (st == QT_OK)
        st = qt_compare_decide(&sb, &sn, qt_metric_direction(metric), o, NAN, (uint64_t)new_case, r);
    free(b.v);
    free(b.inv);
    free(n.v);
    free(n.inv);
    return st;
}

/* Outliers and bimodality of one stored (case, metric). */
qt_status_t qt_gate_case_shape(qt_store_t *s, int64_t case_id, const char *metric, int *outliers, int *bimodal)
{
    QT_CHECK_ARG(s && metric && outliers && bimodal, "store, metric and outputs must not be NULL");
    metric_values_t m = {metric, NULL, NULL, 0, 0, 0};
    qt_status_t st = load_values(s, case_id, &m);
    *outliers = st == QT_OK ? qt_tukey_outliers(m.v, m.n) : 0;
    *bimodal = st == QT_OK ? qt_bimodal(m.v, m.n, NULL) : 0;
    free(m.v);
    free(m.inv);
    return st;
}

/* --threshold and --alpha, checked (see gate.h). */
qt_status_t qt_gate_parse(const char *threshold, const char *alpha, qt_compare_opts_t *o)
{
    QT_CHECK_ARG(o, "options must not be NULL");
    double v;
    if (threshold) {
        if (qt_args_double("--threshold", threshold, &v) != QT_OK || !(v >= 0 && v <= 10))
            return qt_fail(QT_ERR_ARG, "bad --threshold '%s': a fraction in [0, 10], e.g. 0.05 for 5%%", threshold);
        o->threshold = v;
    }
    if (alpha) {
        if (qt_args_double("--alpha", alpha, &v) != QT_OK || !(v > 0 && v < 1))
            return qt_fail(QT_ERR_ARG, "bad --alpha '%s': a probability in (0, 1), e.g. 0.05", alpha);
        o->alpha = v;
    }
    return QT_OK;
}
