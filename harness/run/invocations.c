/* invocations.c — child `quintet run` processes (invocations.h) and `run --invocations K`
 * (runner.h): K children, invocation k with QT_INVOCATION=k (the runner tags its samples with k
 * and shuffles the case order from k = 2 on), each into its own database in a private temporary
 * directory; then qt_store_merge_runs makes them one run of the target database, so the
 * statistics can treat the process invocation as the unit of replication (Kalibera & Jones,
 * "Rigorous Benchmarking in Reasonable Time", 2013). Each invocation runs the calibration suite
 * too (its ceilings feed the rates), so K invocations cost K times a plain run.
 * Run: `quintet run calibration --invocations 5 --repetitions 5`. Tested by tests/harness/test_gate.c. */
#include "run/invocations.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run/runner.h"
#include "run/suite.h"
#include "store/store.h"

/* fork + exec with the extra environment; waits. */
qt_status_t qt_spawn_run(const char *exe, const char *const *args, int n_args, const char *db,
                         const char *const *env, int n_env, int *exit_code)
{
    QT_CHECK_ARG(exe && db && exit_code && n_args >= 0 && n_args < 60, "spawn: bad arguments");
    const char *argv[64];
    int k = 0;
    argv[k++] = exe;
    argv[k++] = "run";
    for (int i = 0; i < n_args; i++) argv[k++] = args[i];
    argv[k++] = "--db";
    argv[k++] = db;
    argv[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return qt_fail(QT_ERR_IO, "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        for (int i = 0; i < n_env; i++) putenv((char *)env[i]);
        execv(exe, (char *const *)argv);
        fprintf(stderr, "quintet: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return qt_fail(QT_ERR_IO, "waiting for %s: %s", exe, strerror(errno));
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (*exit_code == 127) return qt_fail(QT_ERR_IO, "cannot run %s", exe);
    return QT_OK;
}

/* readlink of /proc/self/exe. */
qt_status_t qt_self_exe(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0) return qt_fail(QT_ERR_IO, "cannot find this program's path: %s", strerror(errno));
    buf[n] = '\0';
    return QT_OK;
}

/* mkdtemp. */
qt_status_t qt_make_tmpdir(const char *tag, char *buf, size_t cap)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/quintet-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(buf)) return qt_fail(QT_ERR_IO, "cannot make a temporary directory %s: %s", buf, strerror(errno));
    return QT_OK;
}

/* rm dir/ * ; rmdir dir. */
void qt_remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    rmdir(dir);
}

/* `run --invocations K`. */
int qt_runner_invocations(const qt_run_opts_t *o)
{
    char exe[4096], dir[4096], reps[24], seed[32], cmd[4200];
    if (qt_self_exe(exe, sizeof exe) != QT_OK || qt_make_tmpdir("inv", dir, sizeof dir) != QT_OK) {
        fprintf(stderr, "quintet run: %s\n", qt_last_error());
        return QT_RUN_STORE_ERROR;
    }
    const char *args[48];
    int n = 0;
    for (int i = 0; i < o->n_suites && n < 30; i++) args[n++] = o->suites[i];
    args[n++] = "--profile";
    args[n++] = qt_profile_name(o->profile);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    args[n++] = "--seed";
    args[n++] = seed;
    if (o->repetitions > 0) {
        snprintf(reps, sizeof reps, "%d", o->repetitions);
        args[n++] = "--repetitions";
        args[n++] = reps;
    }
    const char *pairs[][2] = {{"--filter", o->filter}, {"--backend", o->backend}, {"--counters", o->counters}};
    for (int i = 0; i < 3; i++)
        if (pairs[i][1]) {
            args[n++] = pairs[i][0];
            args[n++] = pairs[i][1];
        }
    int K = o->invocations, rc = QT_RUN_OK, done = 0;
    char **paths = calloc((size_t)K, sizeof *paths);
    if (!paths) return QT_RUN_STORE_ERROR;
    for (int k = 1; k <= K; k++) {
        char env[32], path[4200];
        snprintf(env, sizeof env, "QT_INVOCATION=%d", k);
        snprintf(path, sizeof path, "%s/inv%d.db", dir, k);
        const char *ev[] = {env};
        fprintf(stderr, "quintet run: invocation %d of %d\n", k, K);
        int code = 0;
        if (qt_spawn_run(exe, args, n, path, ev, 1, &code) != QT_OK) {
            fprintf(stderr, "quintet run: %s\n", qt_last_error());
            rc = QT_RUN_STORE_ERROR;
            break;
        }
        if (code == QT_RUN_OK || code == QT_RUN_CASES_FAILED) {
            if (!(paths[done] = strdup(path))) { rc = QT_RUN_STORE_ERROR; break; }
            done++;
            if (code) rc = QT_RUN_CASES_FAILED;
        } else { /* bad input, database error, interrupted: stop here, keep what finished */
            rc = code == QT_RUN_INTERRUPTED || code == 128 + SIGINT ? QT_RUN_INTERRUPTED : code;
            break;
        }
    }
    if (done > 0) {
        qt_store_t *s = NULL;
        char uuid[37];
        qt_runner_uuid(uuid);
        snprintf(cmd, sizeof cmd, "%s", o->command_line ? o->command_line : "quintet run --invocations");
        int64_t id = 0;
        const char *status = rc == QT_RUN_OK ? "completed" : rc == QT_RUN_INTERRUPTED ? "interrupted" : "failed";
        if (qt_store_open(o->db_path, 1, 1, &s) != QT_OK ||
            qt_store_merge_runs(s, (const char *const *)paths, done, uuid, cmd, status, &id) != QT_OK) {
            fprintf(stderr, "quintet run: merging the invocations: %s\n", qt_last_error());
            rc = QT_RUN_STORE_ERROR;
        } else {
            fprintf(stderr, "quintet run %s: %s, %d invocation%s merged into run %lld of %s\n", uuid, status, done,
                    done == 1 ? "" : "s", (long long)id, o->db_path);
        }
        qt_store_close(s);
    }
    for (int i = 0; i < done; i++) free(paths[i]);
    free(paths);
    qt_remove_tmpdir(dir);
    return rc;
}
