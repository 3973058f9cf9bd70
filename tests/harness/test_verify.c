/* test_verify.c — `quintet verify` and the comparison it shares with the tests
 * (testing/cmp.h): the comparison counts exactly the values injected outside the
 * tolerance (and none at its edge); fake backends added through the driver's hook are
 * verified like registered ones, a perturbed output counted value by value, unsupported
 * cases listed as skipped; `quintet verify --size quick` passes on this machine with 0 wrong
 * values; bad input exits 2 with a message. Needs build/quintet (make test builds it).
 * Run: make test, or build/tests/harness/test_verify. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "quintet/attention.h"
#include "quintet/rng.h"
#include "quintet/sparse.h"
#include "test_util.h"
#include "verify/verify.h"

static char out[1 << 20];

/* k values moved just outside the tolerance (and some exactly onto its edge) are counted
 * exactly; NaN and infinity are wrong; the per-value bound term and the metrics work. */
static void test_cmp_counts_injected(void)
{
    enum { N = 1000 };
    static float ref[N], y[N];
    static double bound[N];
    qt_rng_fill_normal_f32(ref, N, qt_test_seed(), 1, 0, 0.0f, 1.0f);
    memcpy(y, ref, sizeof y);
    const qt_tol_t tol = {"t", 1e-3, 1e-2, 0.0, "test"};
    double scale = 0;
    for (int i = 0; i < N; i++) scale = fmax(scale, fabs(ref[i]));
    qt_cmp_t c;
    qt_cmp_init(&c);
    CU_ASSERT_EQUAL(qt_cmp_add(&c, y, QT_F32, ref, QT_F32, N, &tol, NULL), QT_OK);
    CU_ASSERT(c.n == N && c.wrong == 0 && c.first_wrong == -1 && c.max_abs == 0 && qt_cmp_rel_fro(&c) == 0);
    /* inject: 5 values just outside (2× the tolerance), 2 non-finite, and 3 within it */
    const int bad_at[7] = {3, 100, 101, 500, 998, 42, 777};
    for (int j = 0; j < 5; j++) {
        int i = bad_at[j];
        y[i] = (float)(ref[i] + 2.0 * (tol.scale * scale + tol.rel * fabs(ref[i])));
    }
    y[42] = NAN;
    y[777] = INFINITY;
    for (int i = 200; i < 203; i++) y[i] = (float)(ref[i] + 0.5 * tol.scale * scale);
    qt_cmp_init(&c);
    qt_cmp_add(&c, y, QT_F32, ref, QT_F32, N, &tol, NULL);
    CU_ASSERT_EQUAL(c.wrong, 7);
    CU_ASSERT_EQUAL(c.first_wrong, 3);
    CU_ASSERT(isnan(c.max_abs) && isnan(c.max_rel)); /* a NaN difference sticks */
    /* a second array adds to the same comparison: indices continue, 1 more wrong */
    float y2[4] = {1, 2, 3, 4}, r2[4] = {1, 2, 3, 5};
    qt_cmp_add(&c, y2, QT_F32, r2, QT_F32, 4, &tol, NULL);
    CU_ASSERT(c.n == N + 4 && c.wrong == 8);
    /* all-zero tolerance: bitwise; one ulp off is wrong, equal infinities and NaN pairs agree */
    const qt_tol_t exact = {"exact", 0, 0, 0, "bitwise"};
    double a[4] = {1.0, INFINITY, NAN, 0.1}, b[4] = {1.0, INFINITY, NAN, nextafter(0.1, 1.0)};
    qt_cmp_init(&c);
    qt_cmp_add(&c, a, QT_F64, b, QT_F64, 4, &exact, NULL);
    CU_ASSERT(c.wrong == 1 && c.first_wrong == 3);
    /* the bound term: elem·b_i widens value i only */
    for (int i = 0; i < N; i++) bound[i] = i == 3 ? 1e6 : 0.0;
    qt_cmp_init(&c);
    const qt_tol_t tb = {"b", 1e-3, 1e-2, 1.0, "bound"};
    qt_cmp_add(&c, y, QT_F32, ref, QT_F32, N, &tb, bound);
    CU_ASSERT_EQUAL(c.wrong, 6);
    CU_ASSERT_EQUAL(c.first_wrong, 42);
    /* metrics only (no tolerance), as the test helpers use it */
    qt_cmp_init(&c);
    qt_cmp_add(&c, y2, QT_F32, r2, QT_F32, 4, NULL, NULL);
    CU_ASSERT(c.wrong == 0 && c.max_abs == 1.0 && fabs(c.max_rel - 0.2) < 1e-15);
    CU_ASSERT(fabs(qt_cmp_rel_fro(&c) - 1.0 / sqrt(1 + 4 + 9 + 25)) < 1e-15);
    /* the dot-product bound: K·Σ|a||w| */
    float A[6] = {1, -2, 0, 3, 0, -1}, W[6] = {1, 2, -1, 0, 2, 2}; /* (2,3)·(3,2) */
    double bd[4];
    qt_cmp_dot_bound(A, W, 2, 3, 2, bd);
    CU_ASSERT(bd[0] == 3 * 3.0 && bd[1] == 3 * 2.0 && bd[2] == 3 * 5.0 && bd[3] == 3 * 8.0);
    CU_ASSERT_EQUAL(qt_cmp_add(&c, NULL, QT_F32, r2, QT_F32, 4, &tol, NULL), QT_ERR_ARG);
}

/* ---- fake backends, added through the driver's hook ---- */

/* Attention: the oracle's output with value 0 moved by 1 (far outside any tolerance). */
static qt_status_t broken_attn_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q,
                                       const qt_tensor_t *k, const qt_tensor_t *v, const qt_tensor_t *mask,
                                       qt_tensor_t *o)
{
    (void)be;
    QT_TRY(qt_attn_forward(qt_test_backend("ref"), cfg, q, k, v, mask, o));
    ((float *)o->data)[0] += 1.0f;
    return QT_OK;
}
/* ... and it claims no shared_qk configuration. */
static int broken_attn_supports(const qt_backend_t *be, const qt_attn_config_t *cfg, qt_dtype_t dt)
{
    (void)be;
    return !cfg->shared_qk && dt == QT_F32;
}
static const qt_attn_ops_t broken_attn = {.supports = broken_attn_supports, .forward = broken_attn_forward};

/* Sparse: only the dense path, with two wrong values; activations and measure are the oracle's. */
static const qt_sparse_ops_t *ref_sparse(void) { return qt_backend_ops(qt_test_backend("ref"), QT_TECH_SPARSE); }
static qt_status_t broken_matmul(qt_backend_t *be, qt_spmm_path_t p, const qt_tensor_t *A, const qt_tensor_t *W,
                                 qt_tensor_t *Y, qt_spmm_ws_t *ws, qt_spmm_info_t *info)
{
    (void)be;
    (void)p;
    QT_TRY(ref_sparse()->matmul(qt_test_backend("ref"), QT_SPMM_DENSE, A, W, Y, ws, info));
    float *y = Y->data;
    y[0] = -1e6f;
    y[qt_tensor_numel(Y) - 1] = NAN;
    return QT_OK;
}
static int dense_only(const qt_backend_t *be, qt_spmm_path_t p, qt_dtype_t dt)
{
    (void)be;
    return p == QT_SPMM_DENSE && dt == QT_F32;
}
static qt_status_t ref_act_forward(qt_backend_t *be, const qt_act_t *a, const qt_tensor_t *x, qt_tensor_t *y)
{
    (void)be;
    return ref_sparse()->act_forward(qt_test_backend("ref"), a, x, y);
}
static qt_status_t ref_act_backward(qt_backend_t *be, const qt_tensor_t *y, const qt_tensor_t *dy, qt_tensor_t *dx)
{
    (void)be;
    return ref_sparse()->act_backward(qt_test_backend("ref"), y, dy, dx);
}
static qt_status_t ref_measure(qt_backend_t *be, const qt_tensor_t *A, int64_t r, int64_t *nnz, int64_t *zero_cols)
{
    (void)be;
    return ref_sparse()->measure(qt_test_backend("ref"), A, r, nnz, zero_cols);
}
static const qt_sparse_ops_t broken_sparse = {.supports = dense_only, .act_forward = ref_act_forward,
                                              .act_backward = ref_act_backward, .matmul = broken_matmul,
                                              .measure = ref_measure};

/* A host backend "fake" (the cpu backend's memory functions) whose techniques are the fakes above. */
static qt_backend_iface_t fake_iface(void)
{
    qt_backend_iface_t f = *qt_backend_iface_find("cpu");
    f.name = "fake";
    f.description = "test: wrong values on purpose";
    memset(f.ops, 0, sizeof f.ops);
    f.ops[QT_TECH_ATTENTION] = &broken_attn;
    f.ops[QT_TECH_SPARSE] = &broken_sparse;
    return f;
}

/* qt_verify_run with its output sent to a file in the temp dir (read back into `out`). */
static int run_quiet(const qt_verify_opts_t *o, qt_verify_summary_t *s)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/verify.out", qt_test_tmpdir());
    fflush(stdout);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600), so = dup(1);
    dup2(fd, 1);
    int rc = qt_verify_run(o, s);
    fflush(stdout);
    dup2(so, 1);
    close(so);
    close(fd);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = 0;
    if (f) fclose(f);
    remove(path);
    return rc;
}

/* The fakes are verified like registered backends: every perturbed value counted, every
 * unsupported case skipped with the reason, exit 1; the registry's backends still pass. */
static void test_fake_backends(void)
{
    const qt_verify_technique_t *techs[] = {&qt_verify_attention, &qt_verify_sparse};
    const qt_backend_iface_t fake = fake_iface();
    const qt_backend_iface_t *extra[] = {&fake};
    qt_verify_opts_t o = {techs, 1, "fake", qt_test_seed(), QT_VERIFY_QUICK, QT_VERIFY_TABLE, extra, 1};
    qt_verify_summary_t s;
    CU_ASSERT_EQUAL(run_quiet(&o, &s), 1);
    /* one wrong value in every attention case run; shared_qk (half of them) skipped */
    CU_ASSERT(s.cases > 0 && s.wrong_cases == s.cases && s.wrong_values == s.cases && s.skipped == s.cases);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "skipped: backend fake does not implement lsh attention"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "WRONG (first at 0)"));
    char line[160];
    snprintf(line, sizeof line, "verify: %lld cases, %lld wrong values in %lld cases, %lld skipped\n",
             (long long)s.cases, (long long)s.wrong_values, (long long)s.wrong_cases, (long long)s.skipped);
    CU_ASSERT(strlen(out) >= strlen(line) && !strcmp(out + strlen(out) - strlen(line), line)); /* the last line */
    /* sparse: two wrong values per matmul case on the one path it has, the others skipped,
     * activations (the oracle's own) right */
    o.techs = techs + 1;
    CU_ASSERT_EQUAL(run_quiet(&o, &s), 1);
    CU_ASSERT(s.wrong_cases > 0 && s.wrong_values == 2 * s.wrong_cases);
    CU_ASSERT(s.skipped > 0);
    CU_ASSERT(s.cases > s.wrong_cases); /* the activation cases */
    /* without the filter the registry's cpu backend runs too, and is right */
    o.backend = "cpu";
    CU_ASSERT_EQUAL(run_quiet(&o, &s), 0);
    CU_ASSERT(s.cases > 0 && s.wrong_values == 0 && s.skipped == 0);
}

/* Run build/quintet verify ARGS; exit status, output (stdout + stderr) in `out`. */
static int quintet(const char *args)
{
    return qt_test_sh(out, sizeof out, "%s verify %s", qt_test_build_path("quintet"), args);
}

/* The quick size passes on this machine: 0 wrong values, and the summary is the last line. */
static void test_quick_passes(void)
{
    char args[64];
    snprintf(args, sizeof args, "--size quick --seed %llu", (unsigned long long)qt_test_seed());
    int rc = quintet(args);
    const char *last = strstr(out, "\nverify: ");
    if (rc != 0 || !last || !strstr(last, " 0 wrong values in 0 cases, ")) printf("\n%s", out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(last);
    /* skipped rows: backends this machine cannot run (cuda without a GPU) and unsupported cases */
    CU_ASSERT_PTR_NOT_NULL(strstr(last, " 0 wrong values in 0 cases, "));
    CU_ASSERT_EQUAL(strchr(last + 1, '\n')[1], '\0'); /* the summary is the last line */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "attn-f32"));   /* the tolerances are stated */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "optim-f32"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "adabelief/f32"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "matmul/colskip"));
    /* machine-readable forms (one technique each, to keep the test short) */
    CU_ASSERT_EQUAL(quintet("sparse --backend cpu --format json --seed 5"), 0);
    CU_ASSERT(strstr(out, "\"summary\": {\"cases\": ") && strstr(out, "\"wrong\": 0}"));
    CU_ASSERT_EQUAL(quintet("attention --format csv --seed 6"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "technique,variant,backend,params,values,max_abs,max_rel,tolerance,wrong,status\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"attention\",\"lsh\",\"cpu\","));
}

/* Each bad invocation: exit 2 and a message naming the problem. */
static void test_bad_input(void)
{
    static const struct {
        const char *args, *expect;
    } cases[] = {
        {"nosuch", "unknown technique 'nosuch'"},
        {"attention --backend nosuch", "unknown backend 'nosuch'"},
        {"--backend ref", "oracle"},
        {"--size huge", "unknown size"},
        {"--format xml", "unknown format"},
        {"--seed -3", "non-negative"},
        {"--bogus", "unknown option"},
        {"--seed", "needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        qt_test_expect_cli("verify", cases[i].args, "", 2, cases[i].expect);
    CU_ASSERT_EQUAL(quintet("--help"), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--backend"));
}

QT_TEST_MAIN("verify", {"comparison counts injected errors", test_cmp_counts_injected},
             {"fake backends through the hook", test_fake_backends}, {"quick size passes", test_quick_passes},
             {"bad input exits 2", test_bad_input})
