/* test_util.h — shared helpers for the CUnit test binaries.
 *
 * Each test file defines its tests and ends with
 *   QT_TEST_MAIN("suite name", { "name", fn }, { "name", fn }, ...)
 * which runs them in CUnit's basic mode (printing the Run Summary CI reads)
 * and exits with the number of failures (non-zero on any failure).
 * Inputs come from the Philox streams with a fresh seed per process unless
 * QT_TEST_SEED is set; the seed is printed so a failure can be replayed. */
#ifndef QUINTET_TEST_UTIL_H
#define QUINTET_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <stddef.h>
#include <stdint.h>

#include "quintet/backend.h"

typedef struct {
    const char *name;
    void (*fn)(void);
} qt_test_t;

/* Run the tests as one CUnit suite; returns the process exit code. */
int qt_test_run(const char *suite, const qt_test_t *tests, int n);

#define QT_TEST_MAIN(suite, ...)                                              \
    int main(void)                                                            \
    {                                                                         \
        static const qt_test_t tests_[] = {__VA_ARGS__};                      \
        return qt_test_run(suite, tests_, (int)(sizeof tests_ / sizeof tests_[0])); \
    }

/* The seed of this test process (QT_TEST_SEED or time-based, printed once). */
uint64_t qt_test_seed(void);

/* Max |a-b| / (max |b| + tiny) over n values, i.e. error relative to the reference's scale. */
double qt_test_max_rel_err_f32(const float *a, const double *ref, size_t n);
/* Relative Frobenius error ||a-b|| / ||b|| (both via testing/cmp.h, the comparison `quintet verify` uses). */
double qt_test_rel_fro_f32(const float *a, const double *ref, size_t n);
double qt_test_rel_fro_f64(const double *a, const double *ref, size_t n);

/* A process-wide instance of registered backend `name` (made on first use, never freed); a
 * CUnit fatal failure when it cannot be made. */
qt_backend_t *qt_test_backend(const char *name);
/* The instance of registry entry i when it implements technique t, can run here and runs on
 * the host (host-tensor tests); else NULL. Device backends are checked by `quintet verify`
 * and their own tests, which copy to the device. */
qt_backend_t *qt_test_host_backend_at(int i, qt_technique_t t);

/* Path of a built program (QT_BUILD env or "build") + "/" + name, in a static buffer. */
const char *qt_test_build_path(const char *name);

/* Run a shell command, capture up to cap-1 bytes of stdout+stderr into out; returns exit status
 * (-1 when it could not run, 128+signal when killed). */
int qt_test_sh(char *out, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Run `build/quintet PREFIX ARGS SUFFIX` (prefix and suffix may be ""): a CUnit failure unless it
 * exits with status rc and its output (stdout and stderr) contains expect; the command and its
 * output are printed when not. */
void qt_test_expect_cli(const char *prefix, const char *args, const char *suffix, int rc, const char *expect);

/* A fresh temporary directory (removed by the OS tmp cleaner; tests delete what they make). */
const char *qt_test_tmpdir(void);
/* tmpdir/name with any old file of that name and its SQLite side files (-wal, -shm, -journal)
 * removed; in one of 8 static buffers, so up to 8 paths can be held at once. */
const char *qt_test_fresh_path(const char *name);

/* Run SQL text on the SQLite file at path through the C API (no sqlite3 program needed); a
 * CUnit failure, with SQLite's message printed, when it fails. */
void qt_test_sql_exec(const char *path, const char *sql);
/* Column 0 of the first row of a query, on a read-only connection; -999 when there is no row
 * or the query fails. */
int64_t qt_test_sql_int(const char *path, const char *sql);
/* The same as text into out (empty when there is no row). */
void qt_test_sql_text(const char *path, const char *sql, char *out, size_t cap);

#endif
