/* resample.c — invocation groups and the hierarchical bootstrap interval of a ratio of medians
 * (algorithm and references in resample.h). Tested by tests/harness/test_gate.c (`make test`). */
#include "analysis/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"

/* splitmix64 step (seeding). */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seed the four words from splitmix64. */
void qt_rand_seed(qt_rand_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

/* Rotate left. */
static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** next. */
uint64_t qt_rand_next(qt_rand_t *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* 53 random bits as a double in [0, 1). */
double qt_rand_uniform(qt_rand_t *r)
{
    return (double)(qt_rand_next(r) >> 11) * 0x1.0p-53;
}

/* Box-Muller (one of the pair). */
double qt_rand_normal(qt_rand_t *r)
{
    double u = qt_rand_uniform(r), v = qt_rand_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

/* Uniform index in [0, n). */
static size_t rand_index(qt_rand_t *r, size_t n)
{
    return (size_t)(qt_rand_uniform(r) * (double)n);
}

/* Invocation groups of one side: values ordered by invocation, group g = vals[start[g]..start[g+1]). */
typedef struct {
    double *vals;
    size_t *start;
    int *ginv; /* invocation number of each group */
    int ng;
    size_t n;
} groups_t;

typedef struct {
    int inv;
    double v;
} tagged_t;

/* qsort comparator: by invocation (stable enough: values within a group need no order). */
static int cmp_tagged(const void *a, const void *b)
{
    int x = ((const tagged_t *)a)->inv, y = ((const tagged_t *)b)->inv;
    return (x > y) - (x < y);
}

/* Build the groups of s (non-NaN values only). QT_ERR_NOMEM on allocation failure. */
static qt_status_t groups_make(const qt_sample_set_t *s, groups_t *g)
{
    memset(g, 0, sizeof *g);
    tagged_t *t = malloc((s->n + 1) * sizeof *t);
    g->vals = malloc((s->n + 1) * sizeof *g->vals);
    g->start = malloc((s->n + 2) * sizeof *g->start);
    g->ginv = malloc((s->n + 1) * sizeof *g->ginv);
    if (!t || !g->vals || !g->start || !g->ginv) {
        free(t);
        free(g->vals);
        free(g->start);
        free(g->ginv);
        memset(g, 0, sizeof *g);
        return qt_fail(QT_ERR_NOMEM, "bootstrap: no memory for %zu values", s->n);
    }
    for (size_t i = 0; i < s->n; i++)
        if (!isnan(s->v[i])) t[g->n++] = (tagged_t){s->inv ? s->inv[i] : 0, s->v[i]};
    qsort(t, g->n, sizeof *t, cmp_tagged);
    for (size_t i = 0; i < g->n; i++) {
        if (i == 0 || t[i].inv != t[i - 1].inv) {
            g->ginv[g->ng] = t[i].inv;
            g->start[g->ng++] = i;
        }
        g->vals[i] = t[i].v;
    }
    g->start[g->ng] = g->n;
    free(t);
    return QT_OK;
}

/* Free the groups. */
static void groups_free(groups_t *g)
{
    free(g->vals);
    free(g->start);
    free(g->ginv);
}

/* Both sides' groups; nothing is left allocated on failure. */
static qt_status_t groups_make_pair(const qt_sample_set_t *base, const qt_sample_set_t *new_, groups_t *gb, groups_t *gn)
{
    QT_TRY(groups_make(base, gb));
    qt_status_t st = groups_make(new_, gn);
    if (st != QT_OK) groups_free(gb);
    return st;
}

/* The rounds both sides measured, both group lists ascending by invocation: pb[i], pn[i] index
 * the groups of the i-th common round (each array holds min(ng) entries); returns their count. */
static int match_rounds(const groups_t *gb, const groups_t *gn, int *pb, int *pn)
{
    int np = 0;
    for (int i = 0, j = 0; i < gb->ng && j < gn->ng;) {
        if (gb->ginv[i] < gn->ginv[j]) i++;
        else if (gb->ginv[i] > gn->ginv[j]) j++;
        else {
            pb[np] = i++;
            pn[np++] = j++;
        }
    }
    return np;
}

/* Distinct invocations with a value. */
int qt_sample_invocations(const qt_sample_set_t *s)
{
    groups_t g;
    if (!s || groups_make(s, &g) != QT_OK) return 0;
    int n = g.ng;
    groups_free(&g);
    return n;
}

/* k-th smallest of x[0..n) (k < n), reordering x (Hoare's selection). */
static double select_kth(double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = x[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) {
                double t = x[i];
                x[i] = x[j];
                x[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return x[k];
    }
    return x[k];
}

/* Type-7 median of x[0..n), n >= 1, reordering x. */
static double median_inplace(double *x, size_t n)
{
    double hi = select_kth(x, n, n / 2);
    if (n % 2) return hi;
    double lo = x[0]; /* the largest of the lower half */
    for (size_t i = 1; i < n / 2; i++)
        if (x[i] > lo) lo = x[i];
    return (lo + hi) / 2;
}

/* Medians per invocation. */
int qt_sample_invocation_medians(const qt_sample_set_t *s, double **med)
{
    *med = NULL;
    groups_t g;
    if (!s || groups_make(s, &g) != QT_OK || g.ng == 0) {
        if (s && g.vals) groups_free(&g);
        return 0;
    }
    double *m = malloc((size_t)g.ng * sizeof *m);
    if (!m) {
        groups_free(&g);
        return 0;
    }
    for (int i = 0; i < g.ng; i++) m[i] = median_inplace(g.vals + g.start[i], g.start[i + 1] - g.start[i]);
    int n = g.ng;
    groups_free(&g);
    *med = m;
    return n;
}

/* One hierarchical replicate's median of side g, drawn into buf. */
static double replicate_median(const groups_t *g, qt_rand_t *r, double *buf)
{
    size_t k = 0;
    for (int i = 0; i < g->ng; i++) {
        int pick = (int)rand_index(r, (size_t)g->ng);
        size_t a = g->start[pick], len = g->start[pick + 1] - a;
        for (size_t j = 0; j < len; j++) buf[k++] = g->vals[a + rand_index(r, len)];
    }
    return median_inplace(buf, k);
}

/* The size of g's largest invocation (at least 1). */
static size_t largest_group(const groups_t *g)
{
    size_t big = 1;
    for (int i = 0; i < g->ng; i++)
        if (g->start[i + 1] - g->start[i] > big) big = g->start[i + 1] - g->start[i];
    return big;
}

/* The most values one replicate of g can draw: every pick the largest invocation. */
static size_t replicate_size(const groups_t *g) { return largest_group(g) * (size_t)(g->ng ? g->ng : 1); }

/* The interval (see resample.h). */
qt_status_t qt_boot_ratio_ci(const qt_sample_set_t *base, const qt_sample_set_t *new_, int B, double conf,
                             uint64_t seed, double *lo, double *hi)
{
    QT_CHECK_ARG(base && new_ && lo && hi && B >= 10, "bootstrap: bad arguments");
    QT_CHECK_ARG(conf > 0 && conf < 1, "bootstrap: level %g must be in (0, 1)", conf);
    *lo = *hi = NAN;
    groups_t gb, gn;
    QT_TRY(groups_make_pair(base, new_, &gb, &gn));
    qt_status_t st = QT_OK;
    double *buf = NULL, *ratio = NULL;
    if (gb.n == 0 || gn.n == 0) st = qt_fail(QT_ERR_ARG, "bootstrap: empty sample");
    else if (!(buf = malloc((replicate_size(&gb) > replicate_size(&gn) ? replicate_size(&gb) : replicate_size(&gn)) *
                            sizeof *buf)) ||
             !(ratio = malloc((size_t)B * sizeof *ratio)))
        st = qt_fail(QT_ERR_NOMEM, "bootstrap: no memory");
    if (st == QT_OK) {
        qt_rand_t r;
        qt_rand_seed(&r, seed);
        int bad = 0;
        for (int b = 0; b < B; b++) {
            double mb = replicate_median(&gb, &r, buf), mn = replicate_median(&gn, &r, buf);
            ratio[b] = mb != 0 ? mn / mb : NAN;
            bad += isnan(ratio[b]);
        }
        if (!bad) {
            *lo = qt_quantile(ratio, (size_t)B, (1 - conf) / 2);
            *hi = qt_quantile(ratio, (size_t)B, (1 + conf) / 2);
        }
    }
    free(buf);
    free(ratio);
    groups_free(&gb);
    groups_free(&gn);
    return st;
}

/* ---- paired rounds (quintet ab) ----------------------------------------------------------- */

/* Hodges-Lehmann estimate of x[0..k): the median of the k(k+1)/2 Walsh averages (x_i + x_j)/2,
 * i <= j, using w (room for k(k+1)/2 values). */
static double hodges_lehmann(const double *x, int k, double *w)
{
    size_t n = 0;
    for (int i = 0; i < k; i++)
        for (int j = i; j < k; j++) w[n++] = (x[i] + x[j]) / 2;
    return median_inplace(w, n);
}

/* Median of x[0..n) without reordering x (copies into w). */
static double median_copy(const double *x, size_t n, double *w)
{
    memcpy(w, x, n * sizeof *w);
    return median_inplace(w, n);
}

/* Paired log-ratios (see resample.h). */
int qt_paired_log_ratios(const qt_sample_set_t *base, const qt_sample_set_t *new_, double **d, int **round)
{
    *d = NULL;
    if (round) *round = NULL;
    groups_t gb, gn;
    if (!base || !new_ || groups_make_pair(base, new_, &gb, &gn) != QT_OK) return -1;
    size_t cap = (size_t)(gb.ng < gn.ng ? gb.ng : gn.ng) + 1;
    double *out = malloc(cap * sizeof *out);
    int *rs = malloc(cap * sizeof *rs), *pb = malloc(cap * sizeof *pb), *pn = malloc(cap * sizeof *pn);
    int k = out && rs && pb && pn ? match_rounds(&gb, &gn, pb, pn) : -1;
    for (int r = 0; r < k; r++) {
        int i = pb[r], j = pn[r];
        double mb = median_inplace(gb.vals + gb.start[i], gb.start[i + 1] - gb.start[i]);
        double mn = median_inplace(gn.vals + gn.start[j], gn.start[j + 1] - gn.start[j]);
        rs[r] = gb.ginv[i];
        out[r] = mb > 0 && mn > 0 ? log(mn / mb) : NAN;
    }
    free(pb);
    free(pn);
    groups_free(&gb);
    groups_free(&gn);
    if (k < 0) {
        free(out);
        free(rs);
        return -1;
    }
    *d = out;
    if (round) *round = rs;
    else free(rs);
    return k;
}

/* The paired interval (see resample.h). */
qt_status_t qt_boot_paired_ci(const qt_sample_set_t *base, const qt_sample_set_t *new_, int B, double conf,
                              uint64_t seed, double *est, double *lo, double *hi, int *pairs)
{
    QT_CHECK_ARG(base && new_ && est && lo && hi && B >= 10, "paired bootstrap: bad arguments");
    QT_CHECK_ARG(conf > 0 && conf < 1, "paired bootstrap: level %g must be in (0, 1)", conf);
    *est = *lo = *hi = NAN;
    if (pairs) *pairs = 0;
    groups_t gb, gn;
    QT_TRY(groups_make_pair(base, new_, &gb, &gn));
    qt_status_t st = QT_OK;
    /* The rounds both sides measured: pb[i], pn[i] index the groups of round i. */
    int np = 0, cap = (gb.ng < gn.ng ? gb.ng : gn.ng) + 1;
    int *pb = malloc((size_t)cap * sizeof *pb), *pn = malloc((size_t)cap * sizeof *pn);
    size_t big = largest_group(&gb) > largest_group(&gn) ? largest_group(&gb) : largest_group(&gn);
    double *d = malloc((size_t)cap * sizeof *d), *buf = malloc(big * sizeof *buf);
    double *walsh = malloc(((size_t)cap * (size_t)(cap + 1) / 2 + 1) * sizeof *walsh);
    double *stat = malloc((size_t)B * sizeof *stat), *dmed = malloc((size_t)cap * sizeof *dmed);
    if (!pb || !pn || !d || !buf || !walsh || !stat || !dmed) st = qt_fail(QT_ERR_NOMEM, "paired bootstrap: no memory");
    if (st == QT_OK) np = match_rounds(&gb, &gn, pb, pn);
    if (pairs) *pairs = np;
    if (st == QT_OK && np == 0) st = qt_fail(QT_ERR_ARG, "paired bootstrap: no round measured by both sides");
    int bad = 0;
    for (int i = 0; st == QT_OK && i < np; i++) { /* observed per-round log-ratios */
        double mb = median_copy(gb.vals + gb.start[pb[i]], gb.start[pb[i] + 1] - gb.start[pb[i]], buf);
        double mn = median_copy(gn.vals + gn.start[pn[i]], gn.start[pn[i] + 1] - gn.start[pn[i]], buf);
        dmed[i] = mb > 0 && mn > 0 ? log(mn / mb) : NAN;
        bad |= isnan(dmed[i]);
    }
    if (st == QT_OK && !bad) {
        *est = exp(hodges_lehmann(dmed, np, walsh));
        qt_rand_t r;
        qt_rand_seed(&r, seed);
        for (int b = 0; b < B && !bad; b++) {
            for (int i = 0; i < np; i++) { /* a round, then repetitions of each side within it */
                int pick = (int)rand_index(&r, (size_t)np);
                double m[2];
                for (int side = 0; side < 2; side++) {
                    const groups_t *g = side ? &gn : &gb;
                    int gi = side ? pn[pick] : pb[pick];
                    size_t a = g->start[gi], len = g->start[gi + 1] - a;
                    for (size_t j = 0; j < len; j++) buf[j] = g->vals[a + rand_index(&r, len)];
                    m[side] = median_inplace(buf, len);
                }
                d[i] = m[0] > 0 && m[1] > 0 ? log(m[1] / m[0]) : NAN;
                bad |= isnan(d[i]);
            }
            stat[b] = hodges_lehmann(d, np, walsh);
        }
        if (!bad) {
            *lo = exp(qt_quantile(stat, (size_t)B, (1 - conf) / 2));
            *hi = exp(qt_quantile(stat, (size_t)B, (1 + conf) / 2));
        }
    }
    free(pb);
    free(pn);
    free(d);
    free(buf);
    free(walsh);
    free(stat);
    free(dmed);
    groups_free(&gb);
    groups_free(&gn);
    return st;
}
