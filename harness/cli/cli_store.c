/* cli_store.c — how every command that reads or writes a database opens it and resolves RUN
 * arguments, so that all of them keep one rule for exit status (cli.h): a database file that
 * does not exist, a folder that does not exist for a new one, or a RUN that names no run is a
 * usage error (exit 2, saying which file or folder and how to make it, or listing the runs
 * there are); any other database failure is exit 3. Tested through the real binary in
 * tests/harness/test_cli.c (`make test`). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

/* 0 when the folder that would hold path exists; else prints which folder and how to create it, returns 2. */
int qt_cli_db_folder(const char *cmd, const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    if (slash == dir) return 0;
    *slash = '\0';
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    fprintf(stderr, "quintet %s: --db %s: the folder '%s' does not exist%s; create it first: mkdir -p '%s'\n", cmd,
            path, dir, dir[0] == '/' ? "" : " (relative to the current directory)", dir);
    return 2;
}

/* Open the database; 0, or the exit code after printing why (2 missing file or folder, 3 database error). */
int qt_cli_open(const char *cmd, const char *path, int create, int writable, qt_store_t **out)
{
    *out = NULL;
    struct stat st;
    if (strlen(path) >= 4096) { /* say so in a short line, before any message quotes the path */
        fprintf(stderr, "quintet %s: the --db path is %zu bytes long: the most a path may have is 4095 (PATH_MAX)\n", cmd,
                strlen(path));
        return 2;
    }
    if (create) {
        int rc = qt_cli_db_folder(cmd, path);
        if (rc) return rc;
    } else if (stat(path, &st) != 0) {
        fprintf(stderr, "quintet %s: no database at '%s' (%s); `quintet run --db %s` makes one, and --db names "
                        "another (default " QT_DEFAULT_DB ")\n", cmd, path, strerror(errno), path);
        return 2;
    }
    if (qt_store_open(path, create, writable, out) != QT_OK) {
        fprintf(stderr, "quintet %s: %s\n", cmd, qt_last_error());
        return 3;
    }
    return 0;
}

/* Print one run of the list of known runs. */
static int list_run(void *arg, const qt_run_row_t *r)
{
    (void)arg;
    fprintf(stderr, "  %-5lld %.8s  %-20s %-11s %-8s %s\n", (long long)r->id, r->uuid ? r->uuid : "",
            r->started_at ? r->started_at : "", r->status ? r->status : "", r->profile ? r->profile : "",
            r->host ? r->host : "");
    return 0;
}

/* Resolve RUN; 0, or 2 (no such run: the error and the most recent runs printed) or 3. */
int qt_cli_run(const char *cmd, qt_store_t *s, const char *spec, int64_t *run_id)
{
    qt_status_t st = qt_store_resolve_run(s, spec ? spec : "latest", run_id);
    if (st == QT_OK) return 0;
    fprintf(stderr, "quintet %s: %s\n", cmd, qt_last_error());
    if (st != QT_ERR_ARG) return 3;
    fprintf(stderr, "the most recent runs (RUN is latest, latest~N, an id or a uuid prefix):\n");
    fprintf(stderr, "  %-5s %-8s  %-20s %-11s %-8s %s\n", "id", "uuid", "started", "status", "profile", "host");
    if (qt_store_foreach_run(s, 10, list_run, NULL) != QT_OK) return 3;
    return 2;
}
