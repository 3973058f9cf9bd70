/* store.c — the SQLite results store (contract in store.h, schema in results/schema.sql,
 * tables documented in results/README.md).
 *
 * Opening an existing file never writes before it is known to be a quintet database of a
 * version this build understands:
 *   1. the file is opened read-only and its 100-byte header is read through SQLite's own file
 *      handle (no second descriptor that could drop the process's POSIX locks on close):
 *      SQLite magic, application_id 0x51544E54 ("QTNT"), page size, file size against the
 *      header's page count (truncation) and, when no WAL file holds newer pages, user_version;
 *   2. on that read-only connection SQL checks the meta table and user_version;
 *   3. only then, for a writable store, the file is reopened read-write and, inside one
 *      BEGIN IMMEDIATE transaction, created (empty file) or migrated (older version), and runs
 *      left 'running' by dead processes of this host are marked 'interrupted'; then WAL mode.
 * Before step 1 the path and its side files must be regular files or absent (a FIFO would block
 * the open); in step 2 the schema must be exactly the one this build creates for that version
 * (schema_exact: every object's kind and definition; no views, triggers or extra objects), and
 * every step of every statement on any file has a bounded amount of work (db_step and the
 * progress handler, QT_DB_WORK_LIMIT), so no file can make quintet run without end.
 * Schema versions are the "-- @version N" blocks of results/schema.sql (embedded at build
 * time as build/gen/schema_sql.h); an upgrade to N runs block N and then upgrade_hooks[N].
 * Writes use BEGIN IMMEDIATE with a 10 s busy timeout so that concurrent writers queue instead
 * of failing; every SQL statement with values is a prepared statement with bound parameters.
 * Tests: tests/harness/test_store.c (`make test`); fuzzing: fuzz/fuzz_store_open.c (`make fuzz`). */
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analysis/stats.h"

/* The text of results/schema.sql. */
static const char schema_sql[] =
#include "schema_sql.h"
    ;

#define STORE_APP_ID 0x51544E54 /* "QTNT"; results/schema.sql sets the same number */
#define STORE_BUSY_MS 10000

/* Statements prepared once per store and reused (the write paths). */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_RUN_EXISTS,
    ST_RUN_INSERT,
    ST_RUN_SET,
    ST_RUN_COUNTER,
    ST_RUN_END,
    ST_CASE_INSERT,
    ST_SAMPLE_INSERT,
    ST_POINT_INSERT,
    ST_CASE_SAMPLES,
    ST_STATS_INSERT,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_RUN_EXISTS] = "SELECT 1 FROM runs WHERE id = ?1",
    [ST_RUN_INSERT] = "INSERT INTO runs (uuid, command_line, profile, seed, repetitions, filter, backend, suites,"
                      " git_commit, git_dirty, host, cpu_model, cores, threads, cpu_mhz, compiler, cflags, pid,"
                      " started_at, invocations) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                      " ?15, ?16, ?17, ?18, ?19, ?20)",
    [ST_RUN_SET] = "INSERT INTO run_provenance (run_id, key, value) VALUES (?1, ?2, ?3)"
                   " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
    [ST_RUN_COUNTER] = "INSERT INTO counter_availability (run_id, event, available, reason) VALUES (?1, ?2, ?3, ?4)"
                       " ON CONFLICT (run_id, event) DO UPDATE SET available = excluded.available,"
                       " reason = excluded.reason",
    [ST_RUN_END] = "UPDATE runs SET status = ?2, ended_at = ?3 WHERE id = ?1",
    [ST_CASE_INSERT] = "INSERT INTO cases (run_id, suite, name, variant, params, status, message, started_at,"
                       " ended_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_SAMPLE_INSERT] = "INSERT INTO samples (case_id, metric, unit, repetition, value, invocation)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_POINT_INSERT] = "INSERT INTO series (case_id, series, seed, step, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_CASE_SAMPLES] = "SELECT metric, unit, value FROM samples WHERE case_id = ?1 ORDER BY metric, repetition",
    [ST_STATS_INSERT] = "INSERT INTO case_stats (case_id, metric, unit, n, median, mean, stddev, min, max, q1, q3)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
};

struct qt_store {
    sqlite3 *db;
    char *path;
    int writable;
    sqlite3_stmt *st[ST_COUNT];
};

/* ---- small helpers --------------------------------------------------------------------- */

/* Current unix time in seconds. */
static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- bounded work: SQLite's progress handler ------------------------------------------ *
 * Every sqlite3_step of this file goes through db_step, which starts a new budget; the progress
 * handler (installed on every connection by connect) counts SQLite virtual-machine steps in units
 * of WORK_TICK and interrupts the statement when one step (one row of a query, one write) has
 * used the budget: QT_DB_WORK_LIMIT (VM steps, default 2e8: about 6 s on the 2-core build VM, far
 * above what one row of a real database needs, even a year of nightly runs) — so no
 * file, however built, makes a query run without end. The error says so (db_fail). */
#define WORK_TICK 1000
static _Thread_local uint64_t work_ticks;  /* ticks since the last db_step */
static _Thread_local int work_stopped;     /* the last interruption was the budget's */

/* The budget in ticks (read once from QT_DB_WORK_LIMIT). */
static uint64_t work_limit_ticks(void)
{
    static _Thread_local uint64_t limit;
    if (!limit) {
        const char *e = getenv("QT_DB_WORK_LIMIT");
        double v = e && *e ? strtod(e, NULL) : 0;
        limit = v >= WORK_TICK && v < 1e18 ? (uint64_t)(v / WORK_TICK) : (uint64_t)(2e8 / WORK_TICK);
    }
    return limit;
}

/* Progress handler: non-zero (interrupt) once the current step has used its budget. */
static int work_progress(void *arg)
{
    (void)arg;
    if (++work_ticks <= work_limit_ticks()) return 0;
    work_stopped = 1;
    return 1;
}

/* sqlite3_step with a fresh work budget. */
static int db_step(sqlite3_stmt *st)
{
    work_ticks = 0;
    work_stopped = 0;
    return sqlite3_step(st);
}

/* Record the connection's SQLite error for `what`, mapped to a status: constraint → ARG,
 * corrupt/not-a-database → FORMAT, anything else → IO. */
static qt_status_t db_fail(sqlite3 *db, const char *path, const char *what)
{
    int rc = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
    if (rc == SQLITE_READONLY)
        return qt_fail(QT_ERR_IO, "%s: %s: the database is read-only for this user (writing it needs write permission "
                       "on the file and on its folder, for SQLite's -wal and -shm files)", path, what);
    if (rc == SQLITE_INTERRUPT && work_stopped)
        return qt_fail(QT_ERR_FORMAT,
                       "%s: %s: stopped after %.3g SQLite steps without finishing one row (the limit, "
                       "QT_DB_WORK_LIMIT): a hostile or damaged database?",
                       path, what, (double)work_limit_ticks() * WORK_TICK);
    qt_status_t st = rc == SQLITE_CONSTRAINT ? QT_ERR_ARG
                     : (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) ? QT_ERR_FORMAT
                     : rc == SQLITE_NOMEM ? QT_ERR_NOMEM
                                          : QT_ERR_IO;
    return qt_fail(st, "%s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Run every statement of sql[0..len) (len < 0: up to the NUL), discarding result rows. */
static qt_status_t exec_sql(sqlite3 *db, const char *path, const char *sql, int len)
{
    const char *end = len < 0 ? sql + strlen(sql) : sql + len;
    while (sql < end) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(db, sql, (int)(end - sql), &st, &tail) != SQLITE_OK)
            return db_fail(db, path, "preparing schema SQL");
        if (!st) break; /* only comments or white space left */
        int rc;
        while ((rc = db_step(st)) == SQLITE_ROW) {}
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return db_fail(db, path, "running schema SQL");
        sql = tail;
    }
    return QT_OK;
}

/* Run one SQL text that returns a single integer (a PRAGMA or count) into *v. */
static qt_status_t query_int(sqlite3 *db, const char *path, const char *sql, int64_t *v)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(db, path, sql);
    int rc = db_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? QT_OK : db_fail(db, path, sql);
}

/* The cached statement `which`, prepared on first use, reset and with no bindings. */
static qt_status_t stmt(qt_store_t *s, int which, sqlite3_stmt **out)
{
    if (!s->st[which]) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &s->st[which], NULL) !=
            SQLITE_OK)
            return db_fail(s->db, s->path, stmt_sql[which]);
    } else {
        sqlite3_reset(s->st[which]);
        sqlite3_clear_bindings(s->st[which]);
    }
    *out = s->st[which];
    return QT_OK;
}

/* Step a bound write statement to completion and reset it. */
static qt_status_t step_done(qt_store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = db_step(st);
    qt_status_t r = rc == SQLITE_DONE ? QT_OK : db_fail(s->db, s->path, what);
    sqlite3_reset(st);
    return r;
}

/* Run the cached statement `which` with no parameters (BEGIN, COMMIT, ROLLBACK). */
static qt_status_t run_plain(qt_store_t *s, int which)
{
    sqlite3_stmt *st = NULL;
    QT_TRY(stmt(s, which, &st));
    return step_done(s, st, stmt_sql[which]);
}

/* Start a write transaction (waits up to the busy timeout for other writers). */
static qt_status_t tx_begin(qt_store_t *s)
{
    if (!s->writable) return qt_fail(QT_ERR_STATE, "%s: store was opened read-only", s->path);
    return run_plain(s, ST_BEGIN);
}

/* Roll back an open transaction without touching the recorded error message. */
static void tx_rollback(qt_store_t *s)
{
    if (sqlite3_get_autocommit(s->db)) return;
    if (!s->st[ST_ROLLBACK] &&
        sqlite3_prepare_v2(s->db, stmt_sql[ST_ROLLBACK], -1, &s->st[ST_ROLLBACK], NULL) != SQLITE_OK)
        return;
    db_step(s->st[ST_ROLLBACK]);
    sqlite3_reset(s->st[ST_ROLLBACK]);
}

/* Commit when st is QT_OK, else roll back keeping st's message; returns the final status. */
static qt_status_t tx_end(qt_store_t *s, qt_status_t st)
{
    if (st == QT_OK) st = run_plain(s, ST_COMMIT);
    if (st != QT_OK) tx_rollback(s);
    return st;
}

/* Bind a string, NULL and "" as SQL NULL. */
static int bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    return v && *v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* Bind a string, NULL as "" (columns declared NOT NULL DEFAULT ''). */
static int bind_str(sqlite3_stmt *st, int i, const char *v)
{
    return sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

/* A REAL column, NaN for NULL. */
static double col_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* A text column (NULL stays NULL). */
static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* 1 when s is one of the NULL-terminated list. */
static int one_of(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

/* QT_OK when run run_id exists, QT_ERR_ARG otherwise. */
static qt_status_t run_check(qt_store_t *s, int64_t run_id)
{
    sqlite3_stmt *st = NULL;
    QT_TRY(stmt(s, ST_RUN_EXISTS, &st));
    sqlite3_bind_int64(st, 1, run_id);
    int rc = db_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return QT_OK;
    if (rc == SQLITE_DONE) return qt_fail(QT_ERR_ARG, "%s: no run with id %lld", s->path, (long long)run_id);
    return db_fail(s->db, s->path, "looking up a run");
}

/* ---- schema: identity, creation, migration ---------------------------------------------- */

/* Big-endian 32-bit field of the database header. */
static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check the raw header of the file open (not yet read) on db, through SQLite's file handle:
 * SQLite magic, quintet application_id, page size, truncation, and (when no WAL file may hold
 * a newer header) user_version. Reads only; QT_ERR_FORMAT with a message on refusal. */
static qt_status_t header_check(sqlite3 *db, const char *path)
{
    sqlite3_file *f = NULL;
    sqlite3_int64 size = 0;
    unsigned char h[100];
    memset(h, 0, sizeof h);
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f || !f->pMethods ||
        f->pMethods->xFileSize(f, &size) != SQLITE_OK)
        return qt_fail(QT_ERR_IO, "%s: cannot read the file", path);
    if (size < 100)
        return qt_fail(QT_ERR_FORMAT, "%s: not a quintet database (%lld bytes: too short for SQLite, truncated?)",
                       path, (long long)size);
    int rc = f->pMethods->xRead(f, h, 100, 0);
    if (rc != SQLITE_OK) return qt_fail(QT_ERR_IO, "%s: cannot read the header (SQLite error %d)", path, rc);
    if (memcmp(h, "SQLite format 3", 16) != 0)
        return qt_fail(QT_ERR_FORMAT, "%s: not a quintet database (not an SQLite file)", path);
    uint32_t app = be32(h + 68);
    if (app != STORE_APP_ID)
        return qt_fail(QT_ERR_FORMAT,
                       "%s: not a quintet database (an SQLite file of another application: application_id "
                       "0x%08x, quintet's is 0x%08x)",
                       path, app, (unsigned)STORE_APP_ID);
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    if (page == 1) page = 65536;
    if (page < 512 || (page & (page - 1)) || h[18] < 1 || h[18] > 2 || h[19] < 1 || h[19] > 2)
        return qt_fail(QT_ERR_FORMAT, "%s: damaged quintet database (bad SQLite header)", path);
    int wal = 0;
    const char *walname = sqlite3_filename_wal(sqlite3_db_filename(db, "main"));
    sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
    if (!walname || !vfs || vfs->xAccess(vfs, walname, SQLITE_ACCESS_EXISTS, &wal) != SQLITE_OK) wal = 1;
    uint64_t pages = be32(h + 28);
    int pages_valid = pages > 0 && be32(h + 92) == be32(h + 24);
    if (size % page || (!wal && pages_valid && (uint64_t)size < pages * page))
        return qt_fail(QT_ERR_FORMAT,
                       "%s: truncated quintet database (%lld bytes; the header says %llu pages of %u bytes)", path,
                       (long long)size, (unsigned long long)pages, page);
    uint32_t version = be32(h + 60);
    if (!wal && version > QT_SCHEMA_VERSION)
        return qt_fail(QT_ERR_FORMAT,
                       "%s: schema version %u is newer than this build's (%d): use a newer quintet", path, version,
                       QT_SCHEMA_VERSION);
    return QT_OK;
}

/* One object of a schema as sqlite_master lists it. */
typedef struct {
    char *type, *name, *tbl_name, *sql; /* sql NULL for automatic indexes */
    int seen;
} schema_obj_t;

/* Free a list of n objects. */
static void schema_objs_free(schema_obj_t *o, int n)
{
    for (int i = 0; i < n; i++) {
        free(o[i].type);
        free(o[i].name);
        free(o[i].tbl_name);
        free(o[i].sql);
    }
    free(o);
}

/* strdup of a text column; 0 on success (NULL stays NULL), -1 out of memory. */
static int dup_col(sqlite3_stmt *st, int i, char **out)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    *out = t ? strdup(t) : NULL;
    return t && !*out ? -1 : 0;
}

/* 1 when both are NULL or equal text. */
static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static const char *schema_block(int version, int *len);

/* The objects of schema version `version` exactly as this build creates them: blocks 1..version
 * of the embedded schema run in an in-memory database, then its sqlite_master rows read back. */
static qt_status_t schema_reference(int64_t version, schema_obj_t **out, int *n_out)
{
    sqlite3 *mem = NULL;
    *out = NULL;
    *n_out = 0;
    if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        sqlite3_close(mem);
        return qt_fail(QT_ERR_NOMEM, "out of memory (in-memory reference schema)");
    }
    qt_status_t r = QT_OK;
    for (int v = 1; r == QT_OK && v <= version; v++) {
        int len = 0;
        const char *block = schema_block(v, &len);
        r = block ? exec_sql(mem, "reference schema", block, len)
                  : qt_fail(QT_ERR_INTERNAL, "results/schema.sql has no block '-- @version %d'", v);
    }
    sqlite3_stmt *q = NULL;
    if (r == QT_OK && sqlite3_prepare_v2(mem, "SELECT type, name, tbl_name, sql FROM main.sqlite_master", -1, &q,
                                         NULL) != SQLITE_OK)
        r = db_fail(mem, "reference schema", "reading sqlite_master");
    schema_obj_t *o = NULL;
    int n = 0, rc = SQLITE_DONE;
    while (r == QT_OK && (rc = db_step(q)) == SQLITE_ROW) {
        schema_obj_t *no = realloc(o, (size_t)(n + 1) * sizeof *o);
        if (!no) {
            r = qt_fail(QT_ERR_NOMEM, "out of memory");
            break;
        }
        o = no;
        memset(&o[n], 0, sizeof o[n]);
        n++;
        if (dup_col(q, 0, &o[n - 1].type) || dup_col(q, 1, &o[n - 1].name) || dup_col(q, 2, &o[n - 1].tbl_name) ||
            dup_col(q, 3, &o[n - 1].sql))
            r = qt_fail(QT_ERR_NOMEM, "out of memory");
    }
    if (r == QT_OK && rc != SQLITE_DONE) r = db_fail(mem, "reference schema", "reading sqlite_master");
    sqlite3_finalize(q);
    sqlite3_close(mem);
    if (r != QT_OK) {
        schema_objs_free(o, n);
        return r;
    }
    *out = o;
    *n_out = n;
    return QT_OK;
}

/* Check that the schema of the file on db is exactly schema version `version` as this build
 * creates it: the same objects (tables, indexes, and no views, triggers or anything else), each
 * of the same kind, on the same table, with the same definition. A hostile file (a view or a
 * trigger where a table belongs, an extra object) is refused before any of its tables is read. */
static qt_status_t schema_exact(sqlite3 *db, const char *path, int64_t version)
{
    schema_obj_t *ref = NULL;
    int n = 0;
    QT_TRY(schema_reference(version, &ref, &n));
    sqlite3_stmt *q = NULL;
    qt_status_t r = QT_OK;
    if (sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM main.sqlite_master", -1, &q, NULL) != SQLITE_OK)
        r = db_fail(db, path, "reading the schema (sqlite_master)");
    int rc = SQLITE_DONE;
    while (r == QT_OK && (rc = db_step(q)) == SQLITE_ROW) {
        const char *type = col_text(q, 0), *name = col_text(q, 1), *tbl = col_text(q, 2), *sql = col_text(q, 3);
        int i = 0;
        while (i < n && !(same_text(ref[i].name, name) && same_text(ref[i].type, type))) i++;
        int other = 0; /* an object of this name but another kind */
        while (other < n && !same_text(ref[other].name, name)) other++;
        if (i == n && other < n)
            r = qt_fail(QT_ERR_FORMAT, "%s: not a quintet database of schema version %lld: '%s' is a %s where quintet "
                        "has a %s", path, (long long)version, name ? name : "", type ? type : "?", ref[other].type);
        else if (i == n)
            r = qt_fail(QT_ERR_FORMAT, "%s: not a quintet database of schema version %lld: it has a %s '%s' that "
                        "quintet does not create (only quintet's own tables and indexes are accepted)", path,
                        (long long)version, type ? type : "?", name ? name : "");
        else if (ref[i].seen || !same_text(ref[i].tbl_name, tbl) || !same_text(ref[i].sql, sql))
            r = qt_fail(QT_ERR_FORMAT, "%s: not a quintet database of schema version %lld: %s '%s' is not defined "
                        "as quintet defines it", path, (long long)version, type, name);
        else
            ref[i].seen = 1;
    }
    if (r == QT_OK && rc != SQLITE_DONE) r = db_fail(db, path, "reading the schema (sqlite_master)");
    for (int i = 0; r == QT_OK && i < n; i++)
        if (!ref[i].seen)
            r = qt_fail(QT_ERR_FORMAT, "%s: not a quintet database of schema version %lld: it has no %s '%s'", path,
                        (long long)version, ref[i].type, ref[i].name);
    sqlite3_finalize(q);
    schema_objs_free(ref, n);
    return r;
}

/* Identify the database on db by SQL: *version = its user_version, or 0 when the database is
 * empty (no schema at all). QT_ERR_FORMAT when it is not quintet's or is newer than this build. */
static qt_status_t identify(sqlite3 *db, const char *path, int64_t *version)
{
    int64_t app, objects;
    QT_TRY(query_int(db, path, "PRAGMA application_id", &app));
    QT_TRY(query_int(db, path, "PRAGMA user_version", version));
    QT_TRY(query_int(db, path, "SELECT count(*) FROM sqlite_master", &objects));
    if (app == 0 && *version == 0 && objects == 0) return QT_OK;
    if (app != STORE_APP_ID)
        return qt_fail(QT_ERR_FORMAT, "%s: not a quintet database (application_id 0x%08x)", path, (unsigned)app);
    if (*version > QT_SCHEMA_VERSION)
        return qt_fail(QT_ERR_FORMAT, "%s: schema version %lld is newer than this build's (%d): use a newer quintet",
                       path, (long long)*version, QT_SCHEMA_VERSION);
    if (*version < 1) return qt_fail(QT_ERR_FORMAT, "%s: damaged quintet database (no schema version)", path);
    QT_TRY(schema_exact(db, path, *version));
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'application'", -1, &st, NULL) != SQLITE_OK)
        return qt_fail(QT_ERR_FORMAT, "%s: not a quintet database (table meta: %s)", path, sqlite3_errmsg(db));
    int rc = db_step(st);
    int ok = rc == SQLITE_ROW && col_text(st, 0) && !strcmp(col_text(st, 0), "quintet");
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_fail(db, path, "reading table meta");
    if (!ok) return qt_fail(QT_ERR_FORMAT, "%s: not a quintet database (meta has no application = 'quintet')", path);
    return QT_OK;
}

/* The text of block `version` of the schema ("-- @version N" up to the next block), or NULL. */
static const char *schema_block(int version, int *len)
{
    char tag[32];
    int n = snprintf(tag, sizeof tag, "\n-- @version %d", version);
    for (const char *p = strstr(schema_sql, tag); p; p = strstr(p + 1, tag)) {
        if (p[n] >= '0' && p[n] <= '9') continue; /* "@version 1" must not match "@version 12" */
        const char *next = strstr(p + n, "\n-- @version ");
        *len = (int)((next ? next : schema_sql + strlen(schema_sql)) - p);
        return p;
    }
    return NULL;
}

/* Summary statistics of every metric of case case_id from its samples, into case_stats.
 * Refuses a metric whose samples disagree on the unit. Used when a case is stored and by the
 * upgrade to version 2. */
static qt_status_t case_stats_compute(qt_store_t *s, int64_t case_id)
{
    sqlite3_stmt *q = NULL, *ins = NULL;
    QT_TRY(stmt(s, ST_CASE_SAMPLES, &q));
    sqlite3_bind_int64(q, 1, case_id);
    double *v = NULL;
    size_t n = 0, cap = 0;
    char *metric = NULL, *unit = NULL;
    qt_status_t r = QT_OK;
    for (;;) {
        int rc = db_step(q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            r = db_fail(s->db, s->path, "reading samples");
            break;
        }
        const char *m = rc == SQLITE_ROW ? col_text(q, 0) : NULL, *u = rc == SQLITE_ROW ? col_text(q, 1) : NULL;
        if (metric && (!m || strcmp(m, metric))) { /* flush the finished metric */
            qt_summary_t sum;
            qt_summarize(v, n, &sum);
            r = stmt(s, ST_STATS_INSERT, &ins);
            if (r != QT_OK) break;
            sqlite3_bind_int64(ins, 1, case_id);
            sqlite3_bind_text(ins, 2, metric, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 3, unit, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(ins, 4, sum.n);
            const double f[] = {sum.median, sum.mean, sum.stddev, sum.min, sum.max, sum.q1, sum.q3};
            for (int i = 0; i < 7; i++) sqlite3_bind_double(ins, 5 + i, f[i]);
            r = step_done(s, ins, "storing case statistics");
            if (r != QT_OK) break;
            free(metric);
            free(unit);
            metric = unit = NULL;
            n = 0;
        }
        if (rc == SQLITE_DONE) break;
        if (!m) m = "";
        if (!u) u = "";
        if (!metric) {
            metric = strdup(m);
            unit = strdup(u);
            if (!metric || !unit) {
                r = qt_fail(QT_ERR_NOMEM, "%s: out of memory", s->path);
                break;
            }
        } else if (strcmp(u, unit)) {
            r = qt_fail(QT_ERR_ARG, "%s: metric '%s' has samples in units '%s' and '%s'", s->path, metric, unit, u);
            break;
        }
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            double *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                r = qt_fail(QT_ERR_NOMEM, "%s: out of memory", s->path);
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = col_double(q, 2);
    }
    sqlite3_reset(q);
    free(v);
    free(metric);
    free(unit);
    return r;
}

/* Upgrade to version 2: back-fill case_stats (created by block 2) from the samples. */
static qt_status_t upgrade_v2_case_stats(qt_store_t *s)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM cases ORDER BY id", -1, &q, NULL) != SQLITE_OK)
        return db_fail(s->db, s->path, "listing cases");
    qt_status_t r = QT_OK;
    int rc = SQLITE_DONE;
    while (r == QT_OK && (rc = db_step(q)) == SQLITE_ROW) r = case_stats_compute(s, sqlite3_column_int64(q, 0));
    if (r == QT_OK && rc != SQLITE_DONE) r = db_fail(s->db, s->path, "listing cases");
    sqlite3_finalize(q);
    return r;
}

/* C steps that run after block N of the schema when upgrading to N (NULL: SQL only). */
static qt_status_t (*const upgrade_hooks[QT_SCHEMA_VERSION + 1])(qt_store_t *) = {
    [2] = upgrade_v2_case_stats,
};

/* Mark this host's runs that are 'running' but whose process is gone as 'interrupted'. */
static qt_status_t recover_stale_runs(qt_store_t *s)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0) return QT_OK; /* cannot tell which runs are ours */
    host[sizeof host - 1] = '\0';
    sqlite3_stmt *q = NULL, *u = NULL;
    qt_status_t r = QT_OK;
    if (sqlite3_prepare_v2(s->db, "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?1 AND pid > 0", -1,
                           &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "UPDATE runs SET status = 'interrupted', ended_at = ?2 WHERE id = ?1", -1, &u,
                           NULL) != SQLITE_OK) {
        r = db_fail(s->db, s->path, "preparing stale-run recovery");
    } else {
        sqlite3_bind_text(q, 1, host, -1, SQLITE_TRANSIENT);
        int rc = SQLITE_DONE;
        while (r == QT_OK && (rc = db_step(q)) == SQLITE_ROW) {
            int64_t pid = sqlite3_column_int64(q, 1);
            if (pid > INT32_MAX || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
            sqlite3_bind_int64(u, 1, sqlite3_column_int64(q, 0));
            sqlite3_bind_double(u, 2, now_unix());
            if (db_step(u) != SQLITE_DONE) r = db_fail(s->db, s->path, "marking a stale run interrupted");
            sqlite3_reset(u);
        }
        if (r == QT_OK && rc != SQLITE_DONE) r = db_fail(s->db, s->path, "listing running runs");
    }
    sqlite3_finalize(q);
    sqlite3_finalize(u);
    return r;
}

/* In one write transaction: create the schema in an empty database (when create), upgrade an
 * older one, and recover stale runs. Then switch to WAL mode. */
static qt_status_t schema_setup(qt_store_t *s, int create)
{
    QT_TRY(tx_begin(s));
    int64_t version = 0;
    qt_status_t r = identify(s->db, s->path, &version);
    if (r == QT_OK && version == 0) {
        if (create) {
            r = exec_sql(s->db, s->path, schema_sql, -1);
            if (r == QT_OK) r = query_int(s->db, s->path, "PRAGMA user_version", &version);
            if (r == QT_OK && version != QT_SCHEMA_VERSION)
                r = qt_fail(QT_ERR_INTERNAL, "results/schema.sql ends at version %lld, store.h says %d",
                            (long long)version, QT_SCHEMA_VERSION);
        } else {
            r = qt_fail(QT_ERR_FORMAT, "%s: empty file, not a quintet database", s->path);
        }
    }
    for (int v = (int)version + 1; r == QT_OK && v <= QT_SCHEMA_VERSION; v++) {
        int len = 0;
        const char *block = schema_block(v, &len);
        if (!block) r = qt_fail(QT_ERR_INTERNAL, "results/schema.sql has no block '-- @version %d'", v);
        if (r == QT_OK) r = exec_sql(s->db, s->path, block, len);
        if (r == QT_OK && upgrade_hooks[v]) r = upgrade_hooks[v](s);
    }
    if (r == QT_OK) r = recover_stale_runs(s);
    QT_TRY(tx_end(s, r));
    int64_t ignored;
    QT_TRY(query_int(s->db, s->path, "PRAGMA journal_mode = WAL", &ignored));
    return query_int(s->db, s->path, "PRAGMA synchronous = NORMAL", &ignored);
}

/* ---- open / close ----------------------------------------------------------------------- */

/* Open path with flags into s->db with the busy timeout and foreign keys on. */
static qt_status_t connect(qt_store_t *s, int flags)
{
    if (s->db) sqlite3_close(s->db);
    s->db = NULL;
    /* URIs are on for qt_store_import's read-only ATTACH; a path that happens to start with
     * "file:" is opened as "./file:..." so it still names a file. */
    char *name = sqlite3_mprintf("%s%s", strncmp(s->path, "file:", 5) ? "" : "./", s->path);
    if (!name) return qt_fail(QT_ERR_NOMEM, "out of memory");
    int rc = sqlite3_open_v2(name, &s->db, flags | SQLITE_OPEN_URI, NULL);
    sqlite3_free(name);
    if (rc != SQLITE_OK) {
        qt_status_t r = qt_fail(QT_ERR_IO, "%s: cannot open: %s", s->path,
                                s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sqlite3_close(s->db);
        s->db = NULL;
        return r;
    }
    int64_t ignored;
    work_ticks = 0;
    sqlite3_progress_handler(s->db, WORK_TICK, work_progress, NULL);
    if (sqlite3_busy_timeout(s->db, STORE_BUSY_MS) != SQLITE_OK) return db_fail(s->db, s->path, "busy timeout");
    return query_int(s->db, s->path, "PRAGMA foreign_keys = ON", &ignored);
}

/* Validate an existing file on a read-only connection (header, then SQL); *version gets its
 * schema version. The connection stays in s->db. */
static qt_status_t validate_readonly(qt_store_t *s, int64_t *version)
{
    QT_TRY(connect(s, SQLITE_OPEN_READONLY));
    QT_TRY(header_check(s->db, s->path));
    QT_TRY(identify(s->db, s->path, version));
    if (*version == 0) return qt_fail(QT_ERR_FORMAT, "%s: empty SQLite database, not a quintet database", s->path);
    return QT_OK;
}

/* The kind of file st describes, in words. */
static const char *file_kind(const struct stat *st)
{
    return S_ISDIR(st->st_mode) ? "a folder" : S_ISFIFO(st->st_mode) ? "a FIFO (named pipe)"
           : S_ISCHR(st->st_mode) ? "a character device" : S_ISBLK(st->st_mode) ? "a block device"
           : S_ISSOCK(st->st_mode) ? "a socket" : "not a regular file";
}

/* QT_OK when path and the side files SQLite would open beside it (-wal, -shm, -journal) are
 * regular files (symbolic links to them included) or absent: opening a FIFO would block forever
 * and a device is no database. Nothing is opened. */
static qt_status_t regular_files_only(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        char *f = sqlite3_mprintf("%s%s", path, sfx[i]);
        if (!f) return qt_fail(QT_ERR_NOMEM, "out of memory");
        struct stat st;
        int bad = stat(f, &st) == 0 && !S_ISREG(st.st_mode);
        qt_status_t r = !bad ? QT_OK
                        : *sfx[i] ? qt_fail(QT_ERR_FORMAT, "%s: its side file %s is %s, not a regular file; refused",
                                            path, f, file_kind(&st))
                                  : qt_fail(QT_ERR_FORMAT, "%s is %s, not a database file; refused", path,
                                            file_kind(&st));
        sqlite3_free(f);
        if (r != QT_OK) return r;
    }
    return QT_OK;
}

/* Open a store: see store.h and the top of this file for the sequence of checks. */
qt_status_t qt_store_open(const char *path, int create, int writable, qt_store_t **out)
{
    QT_CHECK_ARG(out, "output pointer must not be NULL");
    *out = NULL;
    QT_CHECK_ARG(path && *path, "database path must not be empty");
    QT_CHECK_ARG(strlen(path) < 4096, "database path is %zu bytes long: the most a path may have is 4095 (PATH_MAX)",
                 strlen(path));
    QT_CHECK_ARG(!create || writable, "%s: creating a database needs a writable store", path);
    qt_store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return qt_fail(QT_ERR_NOMEM, "out of memory");
    }
    s->writable = writable != 0;
    struct stat sb;
    int missing = stat(path, &sb) != 0 && errno == ENOENT;
    int fresh = missing || (!missing && sb.st_size == 0 && S_ISREG(sb.st_mode));
    qt_status_t r = strcmp(path, ":memory:") ? regular_files_only(path) : QT_OK;
    int64_t version = 0;
    if (r != QT_OK) {
    } else if (fresh && !create)
        r = missing ? qt_fail(QT_ERR_IO, "%s: no such database (create it with a run)", path)
                    : qt_fail(QT_ERR_FORMAT, "%s: empty file, not a quintet database", path);
    else if (!fresh)
        r = validate_readonly(s, &version);
    if (r == QT_OK && !writable && version < QT_SCHEMA_VERSION)
        r = qt_fail(QT_ERR_FORMAT,
                    "%s: schema version %lld is older than this build's (%d): open it for writing once to upgrade",
                    path, (long long)version, QT_SCHEMA_VERSION);
    if (r == QT_OK && writable) {
        r = connect(s, SQLITE_OPEN_READWRITE | (fresh ? SQLITE_OPEN_CREATE : 0));
        if (r == QT_OK && sqlite3_db_readonly(s->db, "main") == 1) /* SQLite fell back to read-only */
            r = qt_fail(QT_ERR_IO, "%s: the database file is read-only (this user may not write it); writing to it "
                        "needs write permission on the file and its folder", path);
        if (r == QT_OK) r = schema_setup(s, fresh);
    }
    if (r != QT_OK) {
        qt_store_close(s);
        return r;
    }
    *out = s;
    return QT_OK;
}

/* Finalize the cached statements and close the connection (NULL is a no-op). */
void qt_store_close(qt_store_t *s)
{
    if (!s) return;
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Insert a run with status 'running'. */
qt_status_t qt_store_run_begin(qt_store_t *s, const qt_run_info_t *info, int64_t *run_id)
{
    QT_CHECK_ARG(s && info && run_id, "store, run info and run id must not be NULL");
    QT_CHECK_ARG(info->uuid && *info->uuid, "a run needs a uuid");
    sqlite3_stmt *st = NULL;
    QT_TRY(tx_begin(s));
    qt_status_t r = stmt(s, ST_RUN_INSERT, &st);
    if (r == QT_OK) {
        const char *texts[] = {info->uuid, info->command_line, info->profile};
        for (int i = 0; i < 3; i++) bind_opt(st, 1 + i, texts[i]);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)info->seed);
        sqlite3_bind_int(st, 5, info->repetitions);
        bind_opt(st, 6, info->filter);
        bind_opt(st, 7, info->backend);
        bind_opt(st, 8, info->suites);
        bind_opt(st, 9, info->git_commit);
        if (info->git_dirty == 0 || info->git_dirty == 1) sqlite3_bind_int(st, 10, info->git_dirty);
        bind_opt(st, 11, info->host);
        bind_opt(st, 12, info->cpu_model);
        sqlite3_bind_int(st, 13, info->cores);
        sqlite3_bind_int(st, 14, info->threads);
        sqlite3_bind_double(st, 15, info->cpu_mhz);
        bind_opt(st, 16, info->compiler);
        bind_opt(st, 17, info->cflags);
        sqlite3_bind_int(st, 18, info->pid);
        sqlite3_bind_double(st, 19, info->started_at > 0 ? info->started_at : now_unix());
        sqlite3_bind_int(st, 20, info->invocations > 1 ? info->invocations : 1);
        r = step_done(s, st, "inserting a run (uuid must be unique)");
    }
    int64_t id = sqlite3_last_insert_rowid(s->db);
    QT_TRY(tx_end(s, r));
    *run_id = id; /* only once committed: a run that was not stored has no id */
    return QT_OK;
}

/* Set one key/value provenance field of a run (replacing an earlier value). */
qt_status_t qt_store_run_set(qt_store_t *s, int64_t run_id, const char *key, const char *value)
{
    QT_CHECK_ARG(s && key && *key, "store and key must not be NULL or empty");
    sqlite3_stmt *st = NULL;
    QT_TRY(tx_begin(s));
    qt_status_t r = run_check(s, run_id);
    if (r == QT_OK) r = stmt(s, ST_RUN_SET, &st);
    if (r == QT_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
        bind_opt(st, 3, value);
        r = step_done(s, st, "storing provenance");
    }
    return tx_end(s, r);
}

/* Record whether a counter is available on a run (and why not). */
qt_status_t qt_store_run_counter(qt_store_t *s, int64_t run_id, const char *event, int available,
                                 const char *reason)
{
    QT_CHECK_ARG(s && event && *event, "store and event must not be NULL or empty");
    sqlite3_stmt *st = NULL;
    QT_TRY(tx_begin(s));
    qt_status_t r = run_check(s, run_id);
    if (r == QT_OK) r = stmt(s, ST_RUN_COUNTER, &st);
    if (r == QT_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, event, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, available != 0);
        bind_opt(st, 4, reason);
        r = step_done(s, st, "storing counter availability");
    }
    return tx_end(s, r);
}

/* Set a run's final status and end time. */
qt_status_t qt_store_run_end(qt_store_t *s, int64_t run_id, const char *status)
{
    static const char *const ends[] = {"completed", "failed", "interrupted", NULL};
    QT_CHECK_ARG(s, "store must not be NULL");
    QT_CHECK_ARG(one_of(status, ends), "run status '%s' must be completed, failed or interrupted",
                 status ? status : "(null)");
    sqlite3_stmt *st = NULL;
    QT_TRY(tx_begin(s));
    qt_status_t r = run_check(s, run_id);
    if (r == QT_OK) r = stmt(s, ST_RUN_END, &st);
    if (r == QT_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, now_unix());
        r = step_done(s, st, "ending a run");
    }
    return tx_end(s, r);
}

/* Check a case record's fields before any write. */
static qt_status_t case_check(const qt_case_record_t *c)
{
    static const char *const statuses[] = {"ok", "failed", "skipped", NULL};
    QT_CHECK_ARG(c->suite && *c->suite && c->name && *c->name, "a case needs a suite and a name");
    QT_CHECK_ARG(one_of(c->status, statuses), "case status '%s' must be ok, failed or skipped",
                 c->status ? c->status : "(null)");
    QT_CHECK_ARG(c->n_samples >= 0 && (c->n_samples == 0 || c->samples), "case %s: bad samples array", c->name);
    QT_CHECK_ARG(c->n_points >= 0 && (c->n_points == 0 || c->points), "case %s: bad series array", c->name);
    for (int i = 0; i < c->n_samples; i++)
        QT_CHECK_ARG(c->samples[i].metric && *c->samples[i].metric, "case %s: sample %d has no metric", c->name, i);
    for (int i = 0; i < c->n_points; i++)
        QT_CHECK_ARG(c->points[i].series && *c->points[i].series, "case %s: point %d has no series", c->name, i);
    return QT_OK;
}

/* Insert the case row, its samples and series, then its statistics (inside a transaction). */
static qt_status_t case_insert(qt_store_t *s, int64_t run_id, const qt_case_record_t *c)
{
    sqlite3_stmt *st = NULL;
    QT_TRY(run_check(s, run_id));
    QT_TRY(stmt(s, ST_CASE_INSERT, &st));
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, c->suite, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, c->name, -1, SQLITE_TRANSIENT);
    bind_str(st, 4, c->variant);
    bind_str(st, 5, c->params);
    sqlite3_bind_text(st, 6, c->status, -1, SQLITE_TRANSIENT);
    bind_opt(st, 7, c->message);
    sqlite3_bind_double(st, 8, c->started_at);
    sqlite3_bind_double(st, 9, c->ended_at);
    QT_TRY(step_done(s, st, "inserting a case"));
    int64_t case_id = sqlite3_last_insert_rowid(s->db);
    QT_TRY(stmt(s, ST_SAMPLE_INSERT, &st));
    for (int i = 0; i < c->n_samples; i++) {
        const qt_sample_t *x = &c->samples[i];
        sqlite3_bind_int64(st, 1, case_id);
        sqlite3_bind_text(st, 2, x->metric, -1, SQLITE_TRANSIENT);
        bind_str(st, 3, x->unit);
        sqlite3_bind_int(st, 4, x->repetition);
        sqlite3_bind_double(st, 5, x->value);
        sqlite3_bind_int(st, 6, x->invocation);
        QT_TRY(step_done(s, st, "inserting a sample (metric and repetition must be unique in a case)"));
    }
    QT_TRY(stmt(s, ST_POINT_INSERT, &st));
    for (int i = 0; i < c->n_points; i++) {
        const qt_point_t *p = &c->points[i];
        sqlite3_bind_int64(st, 1, case_id);
        sqlite3_bind_text(st, 2, p->series, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, p->seed);
        sqlite3_bind_int64(st, 4, p->step);
        sqlite3_bind_double(st, 5, p->value);
        QT_TRY(step_done(s, st, "inserting a series point (series, seed and step must be unique in a case)"));
    }
    return case_stats_compute(s, case_id);
}

/* Store one finished case with its samples, series and statistics in one transaction. */
qt_status_t qt_store_case(qt_store_t *s, int64_t run_id, const qt_case_record_t *c)
{
    QT_CHECK_ARG(s && c, "store and case must not be NULL");
    QT_TRY(case_check(c));
    QT_TRY(tx_begin(s));
    return tx_end(s, case_insert(s, run_id, c));
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Step a bound query, calling row(ctx, st) per row until it returns non-zero; finalizes st. */
static qt_status_t step_rows(qt_store_t *s, sqlite3_stmt *st, int (*row)(void *ctx, sqlite3_stmt *st), void *ctx)
{
    int rc;
    while ((rc = db_step(st)) == SQLITE_ROW)
        if (row(ctx, st)) {
            rc = SQLITE_DONE;
            break;
        }
    qt_status_t r = rc == SQLITE_DONE ? QT_OK : db_fail(s->db, s->path, "reading");
    sqlite3_finalize(st);
    return r;
}

/* Prepare sql into *st (a fresh statement, so callbacks may use the store again). */
static qt_status_t prepare(qt_store_t *s, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) return db_fail(s->db, s->path, "preparing a query");
    return QT_OK;
}

/* Prepare sql, bind id to ?1 (and text to ?2 when not NULL), call row(ctx, st) for each row
 * until it returns non-zero. A fresh statement, so callbacks may call the store again. */
static qt_status_t query_each(qt_store_t *s, const char *sql, int64_t id, const char *text,
                              int (*row)(void *ctx, sqlite3_stmt *st), void *ctx)
{
    sqlite3_stmt *st;
    QT_TRY(prepare(s, sql, &st));
    sqlite3_bind_int64(st, 1, id);
    if (text) sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    return step_rows(s, st, row, ctx);
}

/* Row callback that stores column 0 as the id found and counts rows. */
static int row_id(void *ctx, sqlite3_stmt *st)
{
    int64_t *found = ctx; /* found[0] = count, found[1] = id */
    found[1] = sqlite3_column_int64(st, 0);
    return ++found[0] >= 2;
}

/* "latest", "latest~N", an integer id (when such a run exists) or a unique uuid prefix. */
qt_status_t qt_store_resolve_run(qt_store_t *s, const char *spec, int64_t *run_id)
{
    QT_CHECK_ARG(s && spec && *spec && run_id, "store, run spec and run id must not be NULL or empty");
    int64_t found[2] = {0, 0};
    char *end;
    if (!strncmp(spec, "latest", 6) && (spec[6] == '\0' || spec[6] == '~')) {
        long long back = 0;
        if (spec[6] == '~') {
            errno = 0;
            back = strtoll(spec + 7, &end, 10);
            QT_CHECK_ARG(spec[7] >= '0' && spec[7] <= '9' && !*end && !errno, "bad run '%s': use latest~N, N >= 0",
                         spec);
        }
        QT_TRY(query_each(s, "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?1", back, NULL, row_id, found));
        if (!found[0]) return qt_fail(QT_ERR_ARG, "%s: no run '%s' (too few runs)", s->path, spec);
        *run_id = found[1];
        return QT_OK;
    }
    errno = 0;
    long long id = strtoll(spec, &end, 10);
    if (spec[0] >= '0' && spec[0] <= '9' && !*end && !errno) {
        QT_TRY(query_each(s, "SELECT id FROM runs WHERE id = ?1", id, NULL, row_id, found));
        if (found[0]) {
            *run_id = found[1];
            return QT_OK;
        }
    }
    QT_TRY(query_each(s, "SELECT id FROM runs WHERE substr(uuid, 1, ?1) = ?2 LIMIT 2", (int64_t)strlen(spec), spec,
                      row_id, found));
    if (found[0] == 0) return qt_fail(QT_ERR_ARG, "%s: no run '%s'", s->path, spec);
    if (found[0] > 1)
        return qt_fail(QT_ERR_ARG, "%s: run '%s' is ambiguous: more than one uuid starts so", s->path, spec);
    *run_id = found[1];
    return QT_OK;
}

/* A user callback (cast back to its type by the row adapters below) with its argument. */
typedef void (*any_fn_t)(void);
typedef struct {
    any_fn_t fn;
    void *arg;
    int stopped; /* set by an adapter when fn asked to stop */
} user_cb_t;

/* Check the arguments (and that run `id` exists when is_run), then call adapter for each row
 * of sql with ?1 = id; the adapter converts the row and calls fn(arg, ...). */
static qt_status_t foreach_rows(qt_store_t *s, int64_t id, int is_run, const char *sql,
                                int (*adapter)(void *ctx, sqlite3_stmt *st), any_fn_t fn, void *arg)
{
    QT_CHECK_ARG(s && fn, "store and callback must not be NULL");
    if (is_run) QT_TRY(run_check(s, id));
    user_cb_t cb = {fn, arg, 0};
    return query_each(s, sql, id, NULL, adapter, &cb);
}

/* case_stats row → qt_stat_row_t. */
static int row_stat(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    qt_stat_row_t r = {
        .run_id = sqlite3_column_int64(st, 0), .case_id = sqlite3_column_int64(st, 1),
        .suite = col_text(st, 2), .name = col_text(st, 3), .variant = col_text(st, 4), .params = col_text(st, 5),
        .metric = col_text(st, 6), .unit = col_text(st, 7), .status = col_text(st, 8),
        .n = sqlite3_column_int(st, 9),
        .median = col_double(st, 10), .mean = col_double(st, 11), .stddev = col_double(st, 12),
        .min = col_double(st, 13), .max = col_double(st, 14), .q1 = col_double(st, 15), .q3 = col_double(st, 16),
    };
    return ((int (*)(void *, const qt_stat_row_t *))cb->fn)(cb->arg, &r);
}

/* Each (case, metric) statistics row of a run. */
qt_status_t qt_store_foreach_stat(qt_store_t *s, int64_t run_id, int (*fn)(void *arg, const qt_stat_row_t *row),
                                  void *arg)
{
    return foreach_rows(s, run_id, 1,
                        "SELECT c.run_id, c.id, c.suite, c.name, c.variant, c.params, t.metric, t.unit, c.status,"
                        " t.n, t.median, t.mean, t.stddev, t.min, t.max, t.q1, t.q3"
                        " FROM cases c JOIN case_stats t ON t.case_id = c.id WHERE c.run_id = ?1"
                        " ORDER BY c.id, t.metric",
                        row_stat, (any_fn_t)fn, arg);
}

/* runs row → one callback per column (named as the column), seed printed unsigned. */
static int row_run_fields(void *ctx, sqlite3_stmt *st)
{
    user_cb_t *cb = ctx;
    int (*fn)(void *, const char *, const char *) = (int (*)(void *, const char *, const char *))cb->fn;
    for (int i = 0; i < sqlite3_column_count(st); i++) {
        const char *key = sqlite3_column_name(st, i), *val = col_text(st, i);
        char seed[24];
        if (!strcmp(key, "seed") && val) {
            snprintf(seed, sizeof seed, "%llu", (unsigned long long)sqlite3_column_int64(st, i));
            val = seed;
        }
        if (fn(cb->arg, key, val)) return cb->stopped = 1;
    }
    return 0;
}

/* key/value row → callback. */
static int row_key_value(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    return ((int (*)(void *, const char *, const char *))cb->fn)(cb->arg, col_text(st, 0), col_text(st, 1));
}

/* The run's fixed columns (times as ISO 8601 UTC), then its key/value provenance by key. */
qt_status_t qt_store_foreach_provenance(qt_store_t *s, int64_t run_id,
                                        int (*fn)(void *arg, const char *key, const char *value), void *arg)
{
    QT_CHECK_ARG(s && fn, "store and callback must not be NULL");
    QT_TRY(run_check(s, run_id));
    user_cb_t cb = {(any_fn_t)fn, arg, 0};
    QT_TRY(query_each(s,
                      "SELECT id AS run_id, uuid, status, command_line, profile, seed, repetitions, filter, backend,"
                      " suites, git_commit, git_dirty, host, cpu_model, cores, threads, cpu_mhz, compiler, cflags,"
                      " pid, strftime('%Y-%m-%dT%H:%M:%fZ', started_at, 'unixepoch') AS started_at,"
                      " strftime('%Y-%m-%dT%H:%M:%fZ', ended_at, 'unixepoch') AS ended_at"
                      " FROM runs WHERE id = ?1",
                      run_id, NULL, row_run_fields, &cb));
    if (cb.stopped) return QT_OK;
    return query_each(s, "SELECT key, value FROM run_provenance WHERE run_id = ?1 ORDER BY key", run_id, NULL,
                      row_key_value, &cb);
}

/* counter_availability row → callback. */
static int row_counter(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    return ((int (*)(void *, const char *, int, const char *))cb->fn)(cb->arg, col_text(st, 0),
                                                                       sqlite3_column_int(st, 1), col_text(st, 2));
}

/* Each counter-availability row of the run, by event name. */
qt_status_t qt_store_foreach_counter(qt_store_t *s, int64_t run_id,
                                     int (*fn)(void *arg, const char *event, int available, const char *reason),
                                     void *arg)
{
    return foreach_rows(s, run_id, 1,
                        "SELECT event, available, reason FROM counter_availability WHERE run_id = ?1"
                        " ORDER BY event",
                        row_counter, (any_fn_t)fn, arg);
}

/* cases row → qt_case_row_t. */
static int row_case(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    qt_case_row_t r = {
        .run_id = sqlite3_column_int64(st, 0), .case_id = sqlite3_column_int64(st, 1),
        .suite = col_text(st, 2), .name = col_text(st, 3), .variant = col_text(st, 4), .params = col_text(st, 5),
        .status = col_text(st, 6), .message = col_text(st, 7),
        .started_at = col_double(st, 8), .ended_at = col_double(st, 9),
    };
    return ((int (*)(void *, const qt_case_row_t *))cb->fn)(cb->arg, &r);
}

/* Each case of the run in the order stored, with or without samples. */
qt_status_t qt_store_foreach_case(qt_store_t *s, int64_t run_id, int (*fn)(void *arg, const qt_case_row_t *row),
                                  void *arg)
{
    return foreach_rows(s, run_id, 1,
                        "SELECT run_id, id, suite, name, variant, params, status, message, started_at, ended_at"
                        " FROM cases WHERE run_id = ?1 ORDER BY id",
                        row_case, (any_fn_t)fn, arg);
}

/* samples row → qt_sample_t. */
static int row_sample(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    qt_sample_t x = {col_text(st, 0), col_text(st, 1), sqlite3_column_int(st, 2), col_double(st, 3),
                     sqlite3_column_int(st, 4)};
    return ((int (*)(void *, const qt_sample_t *))cb->fn)(cb->arg, &x);
}

/* Each raw sample of a case, by metric then repetition. */
qt_status_t qt_store_foreach_sample(qt_store_t *s, int64_t case_id, int (*fn)(void *arg, const qt_sample_t *x),
                                    void *arg)
{
    return foreach_rows(s, case_id, 0,
                        "SELECT metric, unit, repetition, value, invocation FROM samples WHERE case_id = ?1"
                        " ORDER BY metric, repetition",
                        row_sample, (any_fn_t)fn, arg);
}

/* series row → qt_point_t. */
static int row_point(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    qt_point_t p = {col_text(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), col_double(st, 3)};
    return ((int (*)(void *, const qt_point_t *))cb->fn)(cb->arg, &p);
}

/* Each series point of a case, by series, seed, step. */
qt_status_t qt_store_foreach_point(qt_store_t *s, int64_t case_id, int (*fn)(void *arg, const qt_point_t *p),
                                   void *arg)
{
    return foreach_rows(s, case_id, 0,
                        "SELECT series, seed, step, value FROM series WHERE case_id = ?1"
                        " ORDER BY series, seed, step",
                        row_point, (any_fn_t)fn, arg);
}

/* ---- importing another database ---------------------------------------------------------- */

/* Row callback for statements whose rows nobody reads. */
static int row_ignore(void *ctx, sqlite3_stmt *st)
{
    (void)ctx;
    (void)st;
    return 0;
}

/* Run one write statement of the import with ?1 = run id offset, ?2 = case id offset and, when
 * text is not NULL, ?3 = text. */
static qt_status_t import_exec(qt_store_t *s, const char *sql, int64_t run_off, int64_t case_off, const char *text)
{
    sqlite3_stmt *st;
    QT_TRY(prepare(s, sql, &st));
    sqlite3_bind_int64(st, 1, run_off);
    sqlite3_bind_int64(st, 2, case_off);
    if (text) sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    return step_rows(s, st, row_ignore, NULL);
}

/* Which rows of each source table an import copies (with temp.import_runs made). */
static const struct {
    const char *table, *id, *where;
} import_tables[] = {
    {"runs", "id", "id IN temp.import_runs"},
    {"run_provenance", "run_id", "run_id IN temp.import_runs"},
    {"counter_availability", "run_id", "run_id IN temp.import_runs"},
    {"cases", "id", "run_id IN temp.import_runs"},
    {"samples", "case_id", "case_id IN (SELECT id FROM src.cases WHERE run_id IN temp.import_runs)"},
    {"series", "case_id", "case_id IN (SELECT id FROM src.cases WHERE run_id IN temp.import_runs)"},
};

/* The ranges quintet's own writes keep to, beyond each column's type (NULL stays allowed where the
 * schema allows it). A column not listed has its type checked only. */
static const struct {
    const char *table, *column, *valid; /* valid: an SQL condition on the column, true when in range */
} import_ranges[] = {
    {"runs", "uuid", "length(uuid) BETWEEN 1 AND 64"},
    {"runs", "repetitions", "repetitions BETWEEN 0 AND 1000000000"},
    {"runs", "git_dirty", "git_dirty IN (0, 1)"},
    {"runs", "cores", "cores BETWEEN 0 AND 16777216"},
    {"runs", "threads", "threads BETWEEN 0 AND 16777216"},
    {"runs", "cpu_mhz", "cpu_mhz >= 0 AND cpu_mhz < 1e7"},
    {"runs", "pid", "pid BETWEEN 0 AND 4294967295"},
    {"runs", "started_at", "started_at BETWEEN 0 AND 1e10"},
    {"runs", "ended_at", "ended_at BETWEEN 0 AND 1e10"},
    {"run_provenance", "key", "length(key) >= 1"},
    {"counter_availability", "event", "length(event) >= 1"},
    {"counter_availability", "available", "available IN (0, 1)"},
    {"cases", "suite", "length(suite) >= 1"},
    {"cases", "name", "length(name) >= 1"},
    {"cases", "started_at", "started_at BETWEEN 0 AND 1e10"},
    {"cases", "ended_at", "ended_at BETWEEN 0 AND 1e10"},
    {"samples", "metric", "length(metric) >= 1"},
    {"samples", "repetition", "repetition >= 0"},
    {"series", "series", "length(series) >= 1"},
};

/* The typeof() values a column declared `decl` (INTEGER, REAL, TEXT) may hold, as an SQL list. */
static const char *import_types(const char *decl, int notnull)
{
    if (!strcmp(decl, "INTEGER")) return notnull ? "('integer')" : "('integer', 'null')";
    if (!strcmp(decl, "REAL")) return notnull ? "('real', 'integer')" : "('real', 'integer', 'null')";
    if (!strcmp(decl, "TEXT")) return notnull ? "('text')" : "('text', 'null')";
    return notnull ? "('integer', 'real', 'text')" : "('integer', 'real', 'text', 'null')";
}

/* Refuse the import when any value about to be copied from src has a type other than its
 * column's declared one (text in a number column reads as 0 otherwise) or lies outside the
 * range quintet writes (import_ranges). Columns come from this store's own schema (PRAGMA
 * table_info), so a column added by a later schema version is type-checked too. */
static qt_status_t import_validate(qt_store_t *s, const char *src_path)
{
    for (size_t t = 0; t < sizeof import_tables / sizeof import_tables[0]; t++) {
        sqlite3_stmt *cols;
        char *sql = sqlite3_mprintf("SELECT name, upper(type), \"notnull\" OR pk > 0 FROM pragma_table_info(%Q, 'main')",
                                    import_tables[t].table);
        if (!sql) return qt_fail(QT_ERR_NOMEM, "out of memory");
        qt_status_t r = prepare(s, sql, &cols);
        sqlite3_free(sql);
        QT_TRY(r);
        int rc;
        while (r == QT_OK && (rc = db_step(cols)) == SQLITE_ROW) {
            const char *col = col_text(cols, 0), *range = "1";
            for (size_t k = 0; k < sizeof import_ranges / sizeof import_ranges[0]; k++)
                if (!strcmp(import_ranges[k].table, import_tables[t].table) && !strcmp(import_ranges[k].column, col))
                    range = import_ranges[k].valid;
            sqlite3_stmt *bad;
            sql = sqlite3_mprintf("SELECT %s, substr(quote(\"%w\"), 1, 60), typeof(\"%w\") FROM src.\"%w\" WHERE %s"
                                  " AND NOT (typeof(\"%w\") IN %s AND (\"%w\" IS NULL OR (%s))) LIMIT 1",
                                  import_tables[t].id, col, col, import_tables[t].table, import_tables[t].where, col,
                                  import_types(col_text(cols, 1), sqlite3_column_int(cols, 2)), col, range);
            r = sql ? prepare(s, sql, &bad) : qt_fail(QT_ERR_NOMEM, "out of memory");
            sqlite3_free(sql);
            if (r != QT_OK) break;
            int brc = db_step(bad);
            if (brc == SQLITE_ROW) {
                const char *val = col_text(bad, 1), *type = col_text(bad, 2);
                r = qt_fail(QT_ERR_FORMAT,
                            "%s: cannot import: table %s, %s %lld: %s = %s (%s) is not a value quintet stores there "
                            "(type %s%s%s)",
                            src_path, import_tables[t].table, import_tables[t].id,
                            (long long)sqlite3_column_int64(bad, 0), col, val ? val : "?", type ? type : "?",
                            col_text(cols, 1), strcmp(range, "1") ? ", range: " : "", strcmp(range, "1") ? range : "");
            } else if (brc != SQLITE_DONE) {
                r = db_fail(s->db, src_path, "checking the values to import");
            }
            sqlite3_finalize(bad);
        }
        if (r == QT_OK && rc != SQLITE_DONE) r = db_fail(s->db, s->path, "reading the schema");
        sqlite3_finalize(cols);
        QT_TRY(r);
    }
    return QT_OK;
}

/* The copy itself, inside the caller's transaction, with src attached: runs get id + run_off and
 * cases id + case_off, offsets chosen past every id already in this store, so ids never clash
 * and each run keeps its cases in order. Run selection is in temp.import_runs. */
static qt_status_t import_copy(qt_store_t *s, const char *src_path)
{
    static const char *const steps[] = {
        "INSERT INTO main.runs (id, uuid, status, command_line, profile, seed, repetitions, filter, backend,"
        " suites, git_commit, git_dirty, host, cpu_model, cores, threads, cpu_mhz, compiler, cflags, pid,"
        " started_at, ended_at, invocations) SELECT id + ?1, uuid, status, command_line, profile, seed, repetitions,"
        " filter, backend, suites, git_commit, git_dirty, host, cpu_model, cores, threads, cpu_mhz, compiler, cflags,"
        " pid, started_at, ended_at, invocations FROM src.runs WHERE id IN temp.import_runs",
        "INSERT INTO main.run_provenance (run_id, key, value) SELECT run_id + ?1, key, value"
        " FROM src.run_provenance WHERE run_id IN temp.import_runs AND key <> 'imported_from'",
        "INSERT INTO main.run_provenance (run_id, key, value) SELECT id + ?1, 'imported_from', ?3"
        " FROM temp.import_runs",
        "INSERT INTO main.counter_availability (run_id, event, available, reason)"
        " SELECT run_id + ?1, event, available, reason FROM src.counter_availability"
        " WHERE run_id IN temp.import_runs",
        "INSERT INTO main.cases (id, run_id, suite, name, variant, params, status, message, started_at, ended_at)"
        " SELECT id + ?2, run_id + ?1, suite, name, variant, params, status, message, started_at, ended_at"
        " FROM src.cases WHERE run_id IN temp.import_runs",
        "INSERT INTO main.samples (case_id, metric, unit, repetition, value, invocation) SELECT x.case_id + ?2,"
        " x.metric, x.unit, x.repetition, x.value, x.invocation FROM src.samples x JOIN src.cases c ON c.id = x.case_id"
        " WHERE c.run_id IN temp.import_runs",
        "INSERT INTO main.series (case_id, series, seed, step, value) SELECT x.case_id + ?2, x.series, x.seed,"
        " x.step, x.value FROM src.series x JOIN src.cases c ON c.id = x.case_id WHERE c.run_id IN temp.import_runs",
    }; /* case_stats is not copied: every summary is recomputed from the imported samples below */
    int64_t run_off, case_off;
    QT_TRY(query_int(s->db, s->path,
                     "SELECT (SELECT coalesce(max(id), 0) FROM main.runs) - (SELECT coalesce(min(id), 1) FROM src.runs) + 1",
                     &run_off));
    QT_TRY(query_int(s->db, s->path,
                     "SELECT (SELECT coalesce(max(id), 0) FROM main.cases) - (SELECT coalesce(min(id), 1) FROM src.cases) + 1",
                     &case_off));
    QT_TRY(import_validate(s, src_path));
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) QT_TRY(import_exec(s, steps[i], run_off, case_off, src_path));
    sqlite3_stmt *q;
    QT_TRY(prepare(s, "SELECT id + ?1 FROM src.cases WHERE run_id IN temp.import_runs ORDER BY id", &q));
    sqlite3_bind_int64(q, 1, case_off);
    int64_t *ids = NULL;
    size_t n = 0;
    qt_status_t r = QT_OK;
    int rc;
    while (r == QT_OK && (rc = db_step(q)) == SQLITE_ROW) { /* ids first: compute with no read open on src */
        int64_t *ni = realloc(ids, (n + 1) * sizeof *ids);
        if (!ni) r = qt_fail(QT_ERR_NOMEM, "out of memory");
        else (ids = ni)[n++] = sqlite3_column_int64(q, 0);
    }
    if (r == QT_OK && rc != SQLITE_DONE) r = db_fail(s->db, s->path, "listing the imported cases");
    sqlite3_finalize(q);
    for (size_t i = 0; r == QT_OK && i < n; i++) r = case_stats_compute(s, ids[i]);
    free(ids);
    return r;
}

/* Attach src_path as schema "src", read-only through a URI (the connection is opened with
 * SQLITE_OPEN_URI), so that detaching never checkpoints or removes src's WAL file. */
static qt_status_t attach_src(qt_store_t *s, const char *src_path)
{
    char *uri = malloc(3 * strlen(src_path) + 16);
    if (!uri) return qt_fail(QT_ERR_NOMEM, "out of memory");
    char *u = uri + sprintf(uri, "file:");
    for (const unsigned char *c = (const unsigned char *)src_path; *c; c++)
        u += strchr("/._-~", *c) || (*c >= '0' && *c <= '9') || ((*c | 32) >= 'a' && (*c | 32) <= 'z')
                 ? sprintf(u, "%c", *c)
                 : sprintf(u, "%%%02X", *c);
    strcpy(u, "?mode=ro");
    qt_status_t r = import_exec(s, "ATTACH DATABASE ?3 AS src", 0, 0, uri);
    free(uri);
    return r;
}

/* Copy every finished run of the quintet database at src_path (with its provenance, counters,
 * cases, samples, series and statistics) into this store, in one transaction: on any error
 * nothing is added. Runs whose uuid is already here are skipped, so importing twice is a no-op;
 * runs still 'running' in src are skipped. src is validated as a quintet database of this
 * build's schema version first and is never written. */
qt_status_t qt_store_import(qt_store_t *s, const char *src_path, int64_t *imported, int64_t *present,
                            int64_t *running)
{
    QT_CHECK_ARG(s && src_path && *src_path && imported && present && running,
                 "store, source path and counts must not be NULL or empty");
    if (!s->writable) return qt_fail(QT_ERR_STATE, "%s: store was opened read-only", s->path);
    qt_store_t *src = NULL;
    QT_TRY(qt_store_open(src_path, 0, 0, &src)); /* refuses foreign, truncated, older or newer files */
    qt_store_close(src);
    QT_TRY(attach_src(s, src_path));
    qt_status_t r = tx_begin(s);
    if (r == QT_OK) r = import_exec(s, "DROP TABLE IF EXISTS temp.import_runs", 0, 0, NULL);
    if (r == QT_OK)
        r = import_exec(s,
                        "CREATE TEMP TABLE import_runs AS SELECT id FROM src.runs WHERE status <> 'running'"
                        " AND uuid NOT IN (SELECT uuid FROM main.runs)",
                        0, 0, NULL);
    if (r == QT_OK) r = query_int(s->db, s->path, "SELECT count(*) FROM temp.import_runs", imported);
    if (r == QT_OK)
        r = query_int(s->db, s->path, "SELECT count(*) FROM src.runs WHERE uuid IN (SELECT uuid FROM main.runs)", present);
    if (r == QT_OK) r = query_int(s->db, s->path, "SELECT count(*) FROM src.runs WHERE status = 'running'", running);
    if (r == QT_OK) { /* what goes wrong while copying is the source's doing: its errors name it first */
        char *target = s->path, *label = sqlite3_mprintf("%s (importing into %s)", src_path, target);
        if (!label) {
            r = qt_fail(QT_ERR_NOMEM, "out of memory");
        } else {
            s->path = label;
            r = import_copy(s, src_path);
            s->path = target;
            sqlite3_free(label);
        }
    }
    if (r == QT_OK) r = import_exec(s, "DROP TABLE temp.import_runs", 0, 0, NULL);
    r = tx_end(s, r);
    qt_status_t d = import_exec(s, "DETACH DATABASE src", 0, 0, NULL);
    return r != QT_OK ? r : d;
}

/* ---- merging invocations ------------------------------------------------------------------ */

#define MERGE_KEY "m.suite = c.suite AND m.name = c.name AND m.variant = c.variant AND m.params = c.params"

/* Run one write statement of the merge: ?1 = run id, ?2 = invocation. */
static qt_status_t merge_exec(qt_store_t *s, const char *sql, int64_t run_id, int invocation)
{
    sqlite3_stmt *st;
    QT_TRY(prepare(s, sql, &st));
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, invocation);
    return step_rows(s, st, row_ignore, NULL);
}

/* Copy the attached source's run (invocation k, first: also its provenance) into run_id. */
static qt_status_t merge_source(qt_store_t *s, int64_t run_id, int k, int first)
{
    static const char *const provenance[] = {
        "INSERT OR IGNORE INTO main.run_provenance (run_id, key, value) SELECT ?1, key, value FROM src.run_provenance"
        " WHERE run_id = (SELECT min(id) FROM src.runs) AND key <> 'invocation'",
        "INSERT OR IGNORE INTO main.counter_availability (run_id, event, available, reason) SELECT ?1, event,"
        " available, reason FROM src.counter_availability WHERE run_id = (SELECT min(id) FROM src.runs)",
        "UPDATE main.runs SET (profile, seed, repetitions, filter, backend, suites, git_commit, git_dirty, host,"
        " cpu_model, cores, threads, cpu_mhz, compiler, cflags, started_at) = (SELECT profile, seed, repetitions, filter,"
        " backend, suites, git_commit, git_dirty, host, cpu_model, cores, threads, cpu_mhz, compiler, cflags, started_at"
        " FROM src.runs ORDER BY id LIMIT 1) WHERE id = ?1",
    };
    static const char *const steps[] = {
        "INSERT INTO main.cases (run_id, suite, name, variant, params, status, message, started_at, ended_at)"
        " SELECT ?1, c.suite, c.name, c.variant, c.params, c.status, c.message, c.started_at, c.ended_at"
        " FROM src.cases c WHERE NOT EXISTS (SELECT 1 FROM main.cases m WHERE m.run_id = ?1 AND " MERGE_KEY ")"
        " ORDER BY c.id",
        "UPDATE main.cases AS m SET status = c.status, message = c.message FROM src.cases c"
        " WHERE m.run_id = ?1 AND m.status = 'ok' AND c.status <> 'ok' AND " MERGE_KEY,
        "UPDATE main.cases AS m SET started_at = min(m.started_at, c.started_at), ended_at = max(m.ended_at,"
        " c.ended_at) FROM src.cases c WHERE m.run_id = ?1 AND " MERGE_KEY,
        "DROP TABLE IF EXISTS temp.merge_off",
        "CREATE TEMP TABLE merge_off AS SELECT x.case_id, x.metric, max(x.repetition) + 1 AS o FROM main.samples x"
        " JOIN main.cases m ON m.id = x.case_id WHERE m.run_id = ?1 GROUP BY x.case_id, x.metric",
        "INSERT INTO main.samples (case_id, metric, unit, repetition, value, invocation) SELECT m.id, x.metric,"
        " x.unit, x.repetition + coalesce((SELECT f.o FROM temp.merge_off f WHERE f.case_id = m.id AND"
        " f.metric = x.metric), 0), x.value, ?2 FROM src.samples x JOIN src.cases c ON c.id = x.case_id"
        " JOIN main.cases m ON m.run_id = ?1 AND " MERGE_KEY,
        "INSERT OR IGNORE INTO main.series (case_id, series, seed, step, value) SELECT m.id, x.series, x.seed,"
        " x.step, x.value FROM src.series x JOIN src.cases c ON c.id = x.case_id JOIN main.cases m"
        " ON m.run_id = ?1 AND " MERGE_KEY,
        "DROP TABLE temp.merge_off",
    };
    for (size_t i = 0; first && i < sizeof provenance / sizeof provenance[0]; i++)
        QT_TRY(merge_exec(s, provenance[i], run_id, k));
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) QT_TRY(merge_exec(s, steps[i], run_id, k));
    return QT_OK;
}

/* Statistics of every case of the run, from its merged samples. */
static qt_status_t merge_stats(qt_store_t *s, int64_t run_id)
{
    sqlite3_stmt *q = NULL;
    QT_TRY(prepare(s, "SELECT id FROM cases WHERE run_id = ?1 ORDER BY id", &q));
    sqlite3_bind_int64(q, 1, run_id);
    qt_status_t r = QT_OK;
    int rc = SQLITE_DONE;
    while (r == QT_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) r = case_stats_compute(s, sqlite3_column_int64(q, 0));
    if (r == QT_OK && rc != SQLITE_DONE) r = db_fail(s->db, s->path, "listing cases");
    sqlite3_finalize(q);
    return r;
}

/* The merge (contract in store.h): the run row, then one transaction per source (a source is
 * attached outside any transaction), then statistics and the status. A failure leaves the run
 * 'failed' with what was merged. */
qt_status_t qt_store_merge_runs(qt_store_t *s, const char *const *src_paths, int n, const char *uuid,
                                const char *command_line, const char *status, int64_t *run_id)
{
    QT_CHECK_ARG(s && src_paths && n >= 1 && uuid && run_id && status, "merge: bad arguments");
    if (!s->writable) return qt_fail(QT_ERR_STATE, "%s: store was opened read-only", s->path);
    char host[256] = "", inv[16];
    gethostname(host, sizeof host - 1);
    qt_run_info_t info = {.uuid = uuid, .command_line = command_line, .host = host, .pid = (int)getpid(),
                          .invocations = n, .git_dirty = -1};
    QT_TRY(qt_store_run_begin(s, &info, run_id));
    snprintf(inv, sizeof inv, "%d", n);
    qt_status_t r = qt_store_run_set(s, *run_id, "invocations", inv);
    for (int k = 0; k < n && r == QT_OK; k++) {
        r = attach_src(s, src_paths[k]);
        if (r != QT_OK) break;
        r = tx_begin(s);
        if (r == QT_OK) r = tx_end(s, merge_source(s, *run_id, k + 1, k == 0));
        qt_status_t d = import_exec(s, "DETACH DATABASE src", 0, 0, NULL);
        if (r == QT_OK) r = d;
    }
    if (r == QT_OK) {
        r = tx_begin(s);
        if (r == QT_OK) r = tx_end(s, merge_stats(s, *run_id));
    }
    qt_status_t e = qt_store_run_end(s, *run_id, r == QT_OK ? status : "failed");
    return r != QT_OK ? r : e;
}

/* ---- history and lookups ---------------------------------------------------------------- */

/* Bind text to parameter i of st, NULL as SQL NULL (the "match anything" of a selection). */
static int bind_sel(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* history row (run columns 0-5, then the stat columns as in qt_store_foreach_stat) → callback. */
static int row_history(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    qt_history_row_t h = {
        .stat = {
            .run_id = sqlite3_column_int64(st, 6), .case_id = sqlite3_column_int64(st, 7),
            .suite = col_text(st, 8), .name = col_text(st, 9), .variant = col_text(st, 10),
            .params = col_text(st, 11), .metric = col_text(st, 12), .unit = col_text(st, 13),
            .status = col_text(st, 14), .n = sqlite3_column_int(st, 15),
            .median = col_double(st, 16), .mean = col_double(st, 17), .stddev = col_double(st, 18),
            .min = col_double(st, 19), .max = col_double(st, 20), .q1 = col_double(st, 21), .q3 = col_double(st, 22),
        },
        .started_at = col_text(st, 0), .git_commit = col_text(st, 1), .host = col_text(st, 3),
        .profile = col_text(st, 4), .run_status = col_text(st, 5),
        .git_dirty = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2),
    };
    return ((int (*)(void *, const qt_history_row_t *))cb->fn)(cb->arg, &h);
}

/* One metric's statistics over every run, filtered by sel, one case's runs contiguous. */
qt_status_t qt_store_foreach_history(qt_store_t *s, const qt_history_sel_t *sel,
                                     int (*fn)(void *arg, const qt_history_row_t *row), void *arg)
{
    QT_CHECK_ARG(s && sel && sel->metric && fn, "store, selection, metric and callback must not be NULL");
    sqlite3_stmt *st;
    QT_TRY(prepare(s,
                   "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', r.started_at, 'unixepoch'), r.git_commit, r.git_dirty,"
                   " r.host, r.profile, r.status,"
                   " c.run_id, c.id, c.suite, c.name, c.variant, c.params, t.metric, t.unit, c.status,"
                   " t.n, t.median, t.mean, t.stddev, t.min, t.max, t.q1, t.q3"
                   " FROM cases c JOIN case_stats t ON t.case_id = c.id JOIN runs r ON r.id = c.run_id"
                   " WHERE t.metric = ?1 AND (?2 IS NULL OR c.suite = ?2) AND (?3 IS NULL OR c.name = ?3)"
                   " AND (?4 IS NULL OR c.variant = ?4) AND (?5 IS NULL OR r.host = ?5)"
                   " AND (?6 IS NULL OR r.profile = ?6)"
                   " ORDER BY c.suite, c.name, c.variant, c.params, c.run_id, c.id",
                   &st));
    const char *v[] = {sel->metric, sel->suite, sel->name, sel->variant, sel->host, sel->profile};
    for (int i = 0; i < 6; i++) bind_sel(st, i + 1, v[i]);
    user_cb_t cb = {(any_fn_t)fn, arg, 0};
    return step_rows(s, st, row_history, &cb);
}

/* distinct key row → callback. */
static int row_key(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    return ((int (*)(void *, const char *, const char *, const char *, const char *, const char *))cb->fn)(
        cb->arg, col_text(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3), col_text(st, 4));
}

/* Every distinct (suite, case, variant, params, metric) with statistics in any run. */
qt_status_t qt_store_foreach_key(qt_store_t *s,
                                 int (*fn)(void *arg, const char *suite, const char *name, const char *variant,
                                           const char *params, const char *metric),
                                 void *arg)
{
    QT_CHECK_ARG(s && fn, "store and callback must not be NULL");
    sqlite3_stmt *st;
    QT_TRY(prepare(s,
                   "SELECT DISTINCT c.suite, c.name, c.variant, c.params, t.metric"
                   " FROM cases c JOIN case_stats t ON t.case_id = c.id"
                   " ORDER BY c.suite, c.name, c.variant, c.params, t.metric",
                   &st));
    user_cb_t cb = {(any_fn_t)fn, arg, 0};
    return step_rows(s, st, row_key, &cb);
}

/* Row callback keeping column 0 as an id. */
static int row_first_id(void *ctx, sqlite3_stmt *st)
{
    *(int64_t *)ctx = sqlite3_column_int64(st, 0);
    return 1;
}

/* The case of a run with this key (the first stored when a key repeats), 0 when none. */
qt_status_t qt_store_find_case(qt_store_t *s, int64_t run_id, const char *suite, const char *name,
                               const char *variant, const char *params, int64_t *case_id)
{
    QT_CHECK_ARG(s && suite && name && case_id, "store, suite, name and case id must not be NULL");
    *case_id = 0;
    sqlite3_stmt *st;
    QT_TRY(prepare(s,
                   "SELECT id FROM cases WHERE run_id = ?1 AND suite = ?2 AND name = ?3 AND variant = ?4"
                   " AND params = ?5 ORDER BY id LIMIT 1",
                   &st));
    sqlite3_bind_int64(st, 1, run_id);
    bind_str(st, 2, suite);
    bind_str(st, 3, name);
    bind_str(st, 4, variant);
    bind_str(st, 5, params);
    return step_rows(s, st, row_first_id, case_id);
}

/* runs row → qt_run_row_t. */
static int row_run(void *ctx, sqlite3_stmt *st)
{
    const user_cb_t *cb = ctx;
    qt_run_row_t r = {sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2), col_text(st, 3),
                      col_text(st, 4), col_text(st, 5)};
    return ((int (*)(void *, const qt_run_row_t *))cb->fn)(cb->arg, &r);
}

/* The most recent runs, newest first. */
qt_status_t qt_store_foreach_run(qt_store_t *s, int last, int (*fn)(void *arg, const qt_run_row_t *row), void *arg)
{
    return foreach_rows(s, last > 0 ? last : -1, 0,
                        "SELECT id, uuid, status, profile, host,"
                        " strftime('%Y-%m-%dT%H:%M:%SZ', started_at, 'unixepoch') FROM runs ORDER BY id DESC LIMIT ?1",
                        row_run, (any_fn_t)fn, arg);
}

/* Row callback: column 0 as a double into ctx[0], ctx[1] = 1. */
static int row_median(void *ctx, sqlite3_stmt *st)
{
    double *v = ctx;
    v[0] = col_double(st, 0);
    v[1] = 1;
    return 1;
}

/* Median of a metric of the same case in the most recent other run that has it. */
qt_status_t qt_store_last_median(qt_store_t *s, int64_t exclude_run, const char *suite, const char *name,
                                 const char *variant, const char *params, const char *metric, double *median,
                                 int *found)
{
    QT_CHECK_ARG(s && suite && name && variant && params && metric && median && found, "arguments must not be NULL");
    sqlite3_stmt *st;
    QT_TRY(prepare(s,
                   "SELECT t.median FROM cases c JOIN case_stats t ON t.case_id = c.id WHERE c.run_id <> ?1"
                   " AND c.suite = ?2 AND c.name = ?3 AND c.variant = ?4 AND c.params = ?5 AND t.metric = ?6"
                   " ORDER BY c.id DESC LIMIT 1",
                   &st));
    sqlite3_bind_int64(st, 1, exclude_run);
    const char *texts[] = {suite, name, variant, params, metric};
    for (int i = 0; i < 5; i++) sqlite3_bind_text(st, 2 + i, texts[i], -1, SQLITE_TRANSIENT);
    double v[2] = {NAN, 0};
    QT_TRY(step_rows(s, st, row_median, v));
    *median = v[0];
    *found = v[1] > 0 && isfinite(v[0]);
    return QT_OK;
}

typedef struct {
    char *out;
    size_t size, len;
} text_acc_t;

/* Append "id (host h, pid p)" to the list. */
static int row_concurrent(void *ctx, sqlite3_stmt *st)
{
    text_acc_t *t = ctx;
    if (t->len + 64 >= t->size) return 1;
    const char *host = col_text(st, 1);
    t->len += (size_t)snprintf(t->out + t->len, t->size - t->len, "%s%lld (host %s, pid %d)", t->len ? ", " : "",
                               (long long)sqlite3_column_int64(st, 0), host ? host : "?", sqlite3_column_int(st, 2));
    return 0;
}

/* Runs whose time overlapped this one's. */
qt_status_t qt_store_concurrent_runs(qt_store_t *s, int64_t run_id, char *out, size_t size)
{
    QT_CHECK_ARG(s && out && size > 1, "store and output must not be NULL");
    out[0] = '\0';
    text_acc_t t = {out, size, 0};
    QT_TRY(query_each(s,
                      "SELECT o.id, o.host, o.pid FROM runs o, runs r WHERE r.id = ?1 AND o.id <> r.id"
                      " AND o.started_at < coalesce(r.ended_at, CAST(strftime('%s', 'now') AS REAL) + 1)"
                      " AND coalesce(o.ended_at, 9e18) > r.started_at AND NOT EXISTS (SELECT 1 FROM run_provenance p"
                      " WHERE p.run_id = o.id AND p.key = 'imported_from') ORDER BY o.id",
                      run_id, NULL, row_concurrent, &t));
    if (!out[0]) snprintf(out, size, "none");
    return QT_OK;
}
