/* test_gbjson.c — Google Benchmark JSON in and out of the quintet database, through the real
 * binaries: a real Google Benchmark program (tests/harness/peer/gbench_peer.cc, built by `make tests`)
 * writes JSON with --benchmark_out_format=json; `quintet import` stores it as one run (context as
 * provenance, per-repetition samples, counters, an error as a failed case; twice adds nothing);
 * `quintet show --format gbench-json` writes a run back as GB JSON that imports into another database
 * with the same rows. Run: make test (or build/tests/harness/test_gbjson after make). */
#include <stdio.h>
#include <string.h>

#include "test_util.h"

static char out[1 << 16];

/* Run quintet with arguments; returns the exit status, output in `out`. */
static int quintet(const char *args)
{
    return qt_test_sh(out, sizeof out, "%s %s", qt_test_build_path("quintet"), args);
}

/* Write the peer's JSON into path; returns the exit status of the peer. */
static int write_peer_json(const char *path)
{
    return qt_test_sh(out, sizeof out,
                      "%s --benchmark_out=%s --benchmark_out_format=json --benchmark_repetitions=3"
                      " --benchmark_min_time=0.01",
                      qt_test_build_path("tests/harness/gbench_peer"), path);
}

/* A real Google Benchmark file imports as a run with its repetitions, counters, error and context. */
static void test_import_real_gbench(void)
{
    const char *json = qt_test_fresh_path("peer.json"), *db = qt_test_fresh_path("peer.db");
    int rc = write_peer_json(json);
    if (rc) printf("\n%s", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    char args[1024];
    snprintf(args, sizeof args, "import %s --db %s --suite peers --variant torch", json, db);
    rc = quintet(args);
    if (rc) printf("\n%s", out); /* BM_broken is a failed case, not a failed import */
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Google Benchmark JSON imported as run 1 (4 cases)"));
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 1);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM cases WHERE suite = 'peers' AND variant = 'torch'"
                                        " AND status = 'ok'"), 3);
    /* names split into case and params: BM_sum/64 → arg0=64, BM_copy/bytes:1024 → bytes=1024 */
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM cases WHERE name = 'BM_sum' AND params IN ('arg0=64', 'arg0=4096')"), 2);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM cases WHERE name = 'BM_copy' AND params = 'bytes=1024'"), 1);
    /* three repetitions of time_s, positive, in seconds; the user counter and bytes_per_second kept */
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM samples s JOIN cases c ON c.id = s.case_id"
                                        " WHERE c.name = 'BM_sum' AND c.params = 'arg0=4096' AND s.metric = 'time_s'"
                                        " AND s.value > 0 AND s.value < 1"), 3);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM samples s JOIN cases c ON c.id = s.case_id"
                                        " WHERE c.name = 'BM_sum' AND c.params = 'arg0=4096' AND s.metric = 'elements'"
                                        " AND s.value = 4096"), 3);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM samples s JOIN cases c ON c.id = s.case_id"
                                        " WHERE c.name = 'BM_copy' AND s.metric = 'bytes_per_second' AND s.value > 0"), 3);
    /* the error is a failed case with its message; aggregates are not samples */
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM cases WHERE name = 'BM_broken' AND status = 'failed'"
                                        " AND message LIKE '%no device%'"), 1);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT max(repetition) FROM samples WHERE metric = 'time_s'"), 2);
    /* the context is provenance */
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM run_provenance WHERE key IN ('context.num_cpus',"
                                        " 'context.library_build_type', 'context.caches', 'imported_from',"
                                        " 'gbench.executable')"), 5);
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM runs WHERE host IS NOT NULL AND cores > 0"), 1);
    /* shown like any run, and a second import adds nothing */
    snprintf(args, sizeof args, "show --db %s --suite peers --metric time_s", db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "BM_copy"));
    snprintf(args, sizeof args, "import %s --db %s --suite peers --variant torch", json, db);
    CU_ASSERT_EQUAL(quintet(args), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "already in"));
    CU_ASSERT_EQUAL(qt_test_sql_int(db, "SELECT count(*) FROM runs"), 1);
}

/* show --format gbench-json → import elsewhere → the same rows; also valid JSON for GB's own tools. */
static void test_round_trip(void)
{
    const char *db = qt_test_fresh_path("rt_src.db"), *db2 = qt_test_fresh_path("rt_dst.db");
    const char *json = qt_test_fresh_path("rt.json");
    char args[1024];
    snprintf(args, sizeof args, "run calibration --filter 'harness_loop|sgemm.*threads=1' --db %s --repetitions 3", db);
    int rc = quintet(args);
    if (rc) printf("\n%s", out);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    snprintf(args, sizeof args, "show --db %s --format gbench-json > %s", db, json);
    CU_ASSERT_EQUAL_FATAL(quintet(args), 0);
    char text[256];
    CU_ASSERT_EQUAL(qt_test_sh(text, sizeof text, "python3 -c \"import json,sys; d=json.load(open('%s'));"
                                                  " print(len(d['benchmarks']), d['context']['num_cpus'] > 0,"
                                                  " sorted({b['run_type'] for b in d['benchmarks']}))\"", json), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "True ['aggregate', 'iteration']"));
    snprintf(args, sizeof args, "import %s --db %s", json, db2);
    CU_ASSERT_EQUAL(quintet(args), 0);
    char a[1 << 14], b[1 << 14];
    qt_test_sh(a, sizeof a, "%s show --db %s --all | sed -n '/^suite /,$p'", qt_test_build_path("quintet"), db);
    qt_test_sh(b, sizeof b, "%s show --db %s --all | sed -n '/^suite /,$p'", qt_test_build_path("quintet"), db2);
    CU_ASSERT(strlen(a) > 200);
    CU_ASSERT_STRING_EQUAL(a, b);
    char u1[64], u2[64];
    qt_test_sql_text(db, "SELECT uuid FROM runs", u1, sizeof u1);
    qt_test_sql_text(db2, "SELECT uuid FROM runs", u2, sizeof u2);
    CU_ASSERT_STRING_EQUAL(u1, u2);
}

/* Bad input: not JSON → exit 1 naming the file; missing file → exit 2; JSON that is not GB's → 1. */
static void test_bad_files(void)
{
    const char *db = qt_test_fresh_path("bad.db"), *j = qt_test_fresh_path("bad.json");
    char args[1024];
    FILE *f = fopen(j, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"context\": {}, \"benchmarks\": [", f);
    fclose(f);
    snprintf(args, sizeof args, "%s --db %s", j, db);
    qt_test_expect_cli("import", args, "", 1, "not JSON");
    f = fopen(j, "w");
    fputs("{\"hello\": 1}", f);
    fclose(f);
    qt_test_expect_cli("import", args, "", 1, "not Google Benchmark JSON");
    snprintf(args, sizeof args, "/nonexistent/x.json --db %s", db);
    qt_test_expect_cli("import", args, "", 2, "no file");
}

QT_TEST_MAIN("gbjson", {"import a real Google Benchmark file", test_import_real_gbench},
             {"gbench-json round trip through import", test_round_trip}, {"bad files", test_bad_files})
