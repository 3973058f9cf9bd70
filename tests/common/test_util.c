/* test_util.c — CUnit driver and numeric helpers shared by every test binary. */
#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "testing/cmp.h"

/* Register and run the tests; exit code = failures (capped) or a CUnit error. */
int qt_test_run(const char *suite, const qt_test_t *tests, int n)
{
    printf("%s: seed %llu (set QT_TEST_SEED to replay)\n", suite, (unsigned long long)qt_test_seed());
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    if (!s) return 2;
    for (int i = 0; i < n; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) return 2;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}

/* Seed from QT_TEST_SEED or the clock and pid, fixed for the process. */
uint64_t qt_test_seed(void)
{
    static uint64_t seed;
    static int done;
    if (!done) {
        const char *e = getenv("QT_TEST_SEED");
        seed = e ? strtoull(e, NULL, 0) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
        done = 1;
    }
    return seed;
}

/* Max abs error over the reference's max magnitude (testing/cmp.h's max_rel). */
double qt_test_max_rel_err_f32(const float *a, const double *ref, size_t n)
{
    qt_cmp_t c;
    qt_cmp_init(&c);
    qt_cmp_add(&c, a, QT_F32, ref, QT_F64, n, NULL, NULL);
    return c.max_rel;
}

/* Relative Frobenius error of an array of dtype dt against a double reference. */
static double rel_fro(const void *a, qt_dtype_t dt, const double *ref, size_t n)
{
    qt_cmp_t c;
    qt_cmp_init(&c);
    qt_cmp_add(&c, a, dt, ref, QT_F64, n, NULL, NULL);
    return qt_cmp_rel_fro(&c);
}

/* Relative Frobenius error (float vs double reference). */
double qt_test_rel_fro_f32(const float *a, const double *ref, size_t n) { return rel_fro(a, QT_F32, ref, n); }

/* Relative Frobenius error (double vs double reference). */
double qt_test_rel_fro_f64(const double *a, const double *ref, size_t n) { return rel_fro(a, QT_F64, ref, n); }

/* build/<name>. */
const char *qt_test_build_path(const char *name)
{
    static char buf[1024];
    const char *b = getenv("QT_BUILD");
    snprintf(buf, sizeof buf, "%s/%s", b && *b ? b : "build", name);
    return buf;
}

/* popen-based command runner capturing output. */
int qt_test_sh(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *f = popen(full, "r");
    if (!f) return -1;
    size_t len = 0;
    char tmp[4096];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (out && len + 1 < cap) {
            size_t take = r < cap - 1 - len ? r : cap - 1 - len;
            memcpy(out + len, tmp, take);
            len += take;
        }
    }
    if (out && cap) out[len] = '\0';
    int st = pclose(f);
    if (st == -1) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

/* mkdtemp under TMPDIR, once per process. */
const char *qt_test_tmpdir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/quintet-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) snprintf(dir, sizeof dir, "/tmp");
    }
    return dir;
}

/* tmpdir/name, the old file and its side files removed. */
const char *qt_test_fresh_path(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, sizeof buf[0], "%s/%s", qt_test_tmpdir(), name);
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        char f[640];
        snprintf(f, sizeof f, "%s%s", p, sfx[i]);
        unlink(f);
    }
    return p;
}

/* SQL text run by hand on the file (see test_util.h). */
void qt_test_sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) printf("\nqt_test_sql_exec: %s\n", err);
    CU_ASSERT_EQUAL(rc, SQLITE_OK);
    sqlite3_free(err);
    sqlite3_close(db);
}

/* Prepare sql on a read-only connection to path and step to the first row; NULL when none. */
static sqlite3_stmt *sql_first_row(const char *path, const char *sql, sqlite3 **db)
{
    sqlite3_stmt *st = NULL;
    *db = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(*db, 10000);
        if (sqlite3_prepare_v2(*db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) return st;
    }
    sqlite3_finalize(st);
    sqlite3_close(*db);
    *db = NULL;
    return NULL;
}

/* One integer from a query by hand (see test_util.h). */
int64_t qt_test_sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st = sql_first_row(path, sql, &db);
    if (!st) return -999;
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* One text value from a query by hand (see test_util.h). */
void qt_test_sql_text(const char *path, const char *sql, char *out, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *st = sql_first_row(path, sql, &db);
    out[0] = '\0';
    if (!st) return;
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* One command-line check (see test_util.h). */
void qt_test_expect_cli(const char *prefix, const char *args, const char *suffix, int rc, const char *expect)
{
    static char out[1 << 16];
    int got = qt_test_sh(out, sizeof out, "%s %s %s %s", qt_test_build_path("quintet"), prefix, args, suffix);
    if (got != rc || !strstr(out, expect))
        printf("\n  quintet %s %s %s -> %d (expected %d and '%s'): %s", prefix, args, suffix, got, rc, expect, out);
    CU_ASSERT_EQUAL(got, rc);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));
}

/* Cached instances, one per registry entry. */
static qt_backend_t *instances[64];

/* Instance of a registered backend by name. */
qt_backend_t *qt_test_backend(const char *name)
{
    for (int i = 0; i < qt_backend_count() && i < 64; i++) {
        if (strcmp(qt_backend_iface_get(i)->name, name)) continue;
        if (!instances[i] && qt_backend_init(&instances[i], name, NULL) != QT_OK)
            printf("\ncannot make backend %s: %s\n", name, qt_last_error());
        CU_ASSERT_PTR_NOT_NULL_FATAL(instances[i]);
        return instances[i];
    }
    printf("\nno backend %s in this build\n", name);
    CU_FAIL_FATAL("unknown backend");
    return NULL;
}

/* Host instance of registry entry i implementing t, or NULL. */
qt_backend_t *qt_test_host_backend_at(int i, qt_technique_t t)
{
    const qt_backend_iface_t *iface = qt_backend_iface_get(i);
    if (!iface || i >= 64 || !iface->ops[t] || iface->device_kind != QT_DEVICE_HOST) return NULL;
    if (!qt_backend_iface_available(iface, NULL, 0)) return NULL;
    return qt_test_backend(iface->name);
}
