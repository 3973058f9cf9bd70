/* provenance.c — collect a run's provenance (provenance.h). External commands
 * (git, mpirun) run through popen with stderr discarded; their absence is recorded. */
#include "run/provenance.h"

#include <cblas.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "run/gbench.h"
#include "run/hwcounters.h"
#ifdef QT_HAVE_CUDA
#include "run/cuda_probe.h"
#endif

#ifndef QT_SOURCE_DIR
#define QT_SOURCE_DIR "."
#endif
#ifndef QT_COMPILER
#define QT_COMPILER "unknown"
#endif
#ifndef QT_CFLAGS
#define QT_CFLAGS "unknown"
#endif

/* First line of a command's stdout, trimmed; returns 0 when the command failed or printed nothing. */
static int command_line_out(const char *cmd, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    if (!fgets(out, (int)size, f)) out[0] = '\0';
    char rest[256];
    while (fgets(rest, sizeof rest, f)) {
    }
    int rc = pclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return rc == 0 && out[0];
}

/* Value of "key : value" lines in /proc/cpuinfo. */
static int cpuinfo_field(const char *key, char *out, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key))) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, size, "%s", colon);
        found = 1;
    }
    fclose(f);
    return found;
}

/* Add or replace a key. */
void qt_provenance_set(qt_provenance_t *p, const char *key, const char *value)
{
    int i = 0;
    while (i < p->n && strcmp(p->kv[i].key, key)) i++;
    if (i == p->n) {
        if (p->n == QT_PROV_MAX) return;
        p->n++;
        snprintf(p->kv[i].key, sizeof p->kv[i].key, "%s", key);
    }
    snprintf(p->kv[i].value, sizeof p->kv[i].value, "%s", value && *value ? value : "none");
}

/* Lookup. */
const char *qt_provenance_get(const qt_provenance_t *p, const char *key)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->kv[i].key, key)) return p->kv[i].value;
    return NULL;
}

/* git commit and dirty flag of the source tree this binary was built from. */
static void collect_git(qt_provenance_t *p)
{
    char out[256];
    snprintf(p->git_commit, sizeof p->git_commit, "none: not a git checkout");
    p->git_dirty = -1;
    if (command_line_out("git -C '" QT_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", out, sizeof out))
        snprintf(p->git_commit, sizeof p->git_commit, "%.40s", out);
    else
        return;
    FILE *f = popen("git -C '" QT_SOURCE_DIR "' status --porcelain --untracked-files=no 2>/dev/null", "r");
    if (!f) return;
    int dirty = fgets(out, sizeof out, f) != NULL;
    while (fgets(out, sizeof out, f)) {
    }
    if (pclose(f) == 0) p->git_dirty = dirty;
}

/* Environment variables that change results. */
static void collect_env(qt_provenance_t *p)
{
    static const char *vars[] = {"OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OPENBLAS_NUM_THREADS",
                                 "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "GOTO_NUM_THREADS", "MKL_NUM_THREADS",
                                 "GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "QT_SPARSE_CROSSOVER",
                                 "CUDA_VISIBLE_DEVICES", "QT_TEST_SEED", "LD_LIBRARY_PATH", "CI", "QT_PINNED",
                                 "GLIBC_TUNABLES", "QT_DIST_TIMEOUT_S"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, "env.%s", vars[i]);
        const char *v = getenv(vars[i]);
        qt_provenance_set(p, key, v ? v : "unset");
    }
}

/* Every NCCL_* variable of the environment and OpenMPI's transport and collective settings
 * (OMPI_MCA_btl*, _coll*, _pml*, _osc*, _mtl*: what --mca puts there; not the launcher's own
 * OMPI_MCA_orte_* and the like), and every QT_* variable set (quintet's own knobs: kernel
 * versions, QT_HUGEPAGES, QT_SPARSE_CPU_CSR, …, so two runs of an A/B differ in provenance);
 * NCCL_NVLS_ENABLE always, "unset" when absent. */
extern char **environ;
static int tuning_var(const char *e)
{
    static const char *const pre[] = {"NCCL_", "OMPI_MCA_btl", "OMPI_MCA_coll", "OMPI_MCA_pml", "OMPI_MCA_osc",
                                      "OMPI_MCA_mtl", "QT_"};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        if (!strncmp(e, pre[i], strlen(pre[i]))) return 1;
    return 0;
}

static void collect_tuning_env(qt_provenance_t *p)
{
    qt_provenance_set(p, "env.NCCL_NVLS_ENABLE", "unset");
    for (char **e = environ; e && *e; e++) {
        if (!tuning_var(*e)) continue;
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        char key[48];
        snprintf(key, sizeof key, "env.%.*s", (int)(eq - *e) < 43 ? (int)(eq - *e) : 43, *e);
        qt_provenance_set(p, key, eq + 1);
    }
}

/* `nvidia-smi topo -m` (how the GPUs are linked: NV18, PIX, SYS…), terminal escapes removed,
 * lines joined with "\n"; or why there is none. */
static void collect_topology(qt_provenance_t *p)
{
    char out[1536] = "", line[512];
    size_t used = 0;
    FILE *f = popen("nvidia-smi topo -m 2>/dev/null", "r");
    int rc = -1;
    if (f) {
        while (fgets(line, sizeof line, f)) {
            for (char *c = line; *c && used + 1 < sizeof out; c++) {
                if (*c == '\033') { /* ESC [ ... letter */
                    while (*c && !((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z'))) c++;
                    if (!*c) break;
                    continue;
                }
                out[used++] = *c == '\t' ? ' ' : *c;
            }
        }
        rc = pclose(f);
    }
    out[used] = '\0';
    while (used > 0 && (out[used - 1] == '\n' || out[used - 1] == ' ')) out[--used] = '\0';
    qt_provenance_set(p, "gpu_topology", rc == 0 && used ? out : "none: nvidia-smi topo -m failed or is absent");
}

/* GPU, driver, CUDA and NCCL versions, or why there are none. */
static void collect_gpu(qt_provenance_t *p)
{
#ifdef QT_HAVE_CUDA
    char why[256], gpu[256], versions[256];
    int n = qt_cuda_device_count(why, sizeof why);
    if (n > 0 && qt_cuda_describe(gpu, sizeof gpu, versions, sizeof versions) == 0) {
        char count[16];
        snprintf(count, sizeof count, "%d", n);
        qt_provenance_set(p, "gpu", gpu);
        qt_provenance_set(p, "gpu_count", count);
        qt_provenance_set(p, "cuda", versions);
        char state[256]; /* clocks, power, temperature, throttle reasons at the run's start (NVML) */
        (void)qt_cuda_gpu_state(state, sizeof state);
        qt_provenance_set(p, "gpu_state.start", state);
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "none: %s", why);
        qt_provenance_set(p, "gpu", msg);
        qt_provenance_set(p, "gpu_count", "0");
        qt_provenance_set(p, "cuda", "built with CUDA; no usable GPU");
    }
#else
    qt_provenance_set(p, "gpu", "none: built without CUDA (no nvcc, its libcudart/libcublas did not link, or NO_CUDA=1)");
    qt_provenance_set(p, "gpu_count", "0");
    qt_provenance_set(p, "cuda", "none: built without CUDA");
#endif
}

/* First line of a small file, trimmed; 0 when unreadable. */
static int file_line(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(out, (int)size, f) != NULL;
    fclose(f);
    if (ok) out[strcspn(out, "\r\n")] = '\0';
    return ok;
}

/* Set key to the first line of path, or "unknown: <path> not readable". */
static void set_from_file(qt_provenance_t *p, const char *key, const char *path, const char *prefix)
{
    char line[200], val[256];
    if (file_line(path, line, sizeof line)) snprintf(val, sizeof val, "%s%s", prefix, line);
    else snprintf(val, sizeof val, "unknown: %s not readable", path);
    qt_provenance_set(p, key, val);
}

/* Kernel, OS release, governor, turbo, SMT, memory, affinity. */
static void collect_system(qt_provenance_t *p)
{
    struct utsname u;
    char buf[256];
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        qt_provenance_set(p, "os.kernel", buf);
    }
    FILE *f = fopen("/etc/os-release", "r");
    snprintf(buf, sizeof buf, "unknown: /etc/os-release not readable");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "PRETTY_NAME=", 12)) {
            line[strcspn(line, "\r\n")] = '\0';
            char *v = line + 12;
            if (*v == '"') v++;
            v[strcspn(v, "\"")] = '\0';
            snprintf(buf, sizeof buf, "%s", v);
        }
    if (f) fclose(f);
    qt_provenance_set(p, "os.release", buf);
    set_from_file(p, "cpu.governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "");
    if (file_line("/sys/devices/system/cpu/intel_pstate/no_turbo", line, sizeof line))
        qt_provenance_set(p, "cpu.turbo", strcmp(line, "1") ? "on (intel_pstate no_turbo=0)" : "off (intel_pstate no_turbo=1)");
    else if (file_line("/sys/devices/system/cpu/cpufreq/boost", line, sizeof line))
        qt_provenance_set(p, "cpu.turbo", strcmp(line, "0") ? "on (cpufreq boost=1)" : "off (cpufreq boost=0)");
    else
        qt_provenance_set(p, "cpu.turbo", "unknown: no intel_pstate/no_turbo or cpufreq/boost (a VM, or no cpufreq driver)");
    set_from_file(p, "cpu.smt", "/sys/devices/system/cpu/smt/active", "active=");
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    snprintf(buf, sizeof buf, "%.1f GiB", pages > 0 && page > 0 ? (double)pages * (double)page / 1073741824.0 : 0.0);
    qt_provenance_set(p, "memory_total", buf);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        size_t len = 0;
        buf[0] = '\0';
        for (int c = 0; c < CPU_SETSIZE && len + 12 < sizeof buf; c++) {
            if (!CPU_ISSET(c, &set)) continue;
            int e = c;
            while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set)) e++;
            len += (size_t)snprintf(buf + len, sizeof buf - len, len ? ",%d" : "%d", c);
            if (e > c) len += (size_t)snprintf(buf + len, sizeof buf - len, "-%d", e);
            c = e;
        }
        qt_provenance_set(p, "cpu.affinity", buf);
    }
}

/* FNV-1a 64 of a file's bytes as "fnv1a64:<hex> (<n> bytes)", or "absent". */
static void hash_file(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(out, size, "absent");
        return;
    }
    uint64_t h = 1469598103934665603ull;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        h = (h ^ (unsigned char)c) * 1099511628211ull;
        n++;
    }
    fclose(f);
    snprintf(out, size, "fnv1a64:%016llx (%ld bytes)", (unsigned long long)h, n);
}

/* The files whose contents change what a run does: the sparse dispatcher's crossover table. */
static void collect_files(qt_provenance_t *p)
{
    const char *crossover = getenv("QT_SPARSE_CROSSOVER");
    const char *files[] = {crossover && *crossover ? crossover : "results/sparse_crossover.txt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char key[48], val[128];
        snprintf(key, sizeof key, "file.%.42s", files[i]);
        hash_file(files[i], val, sizeof val);
        qt_provenance_set(p, key, val);
    }
}

/* Everything. */
void qt_provenance_collect(qt_provenance_t *p)
{
    memset(p, 0, sizeof *p);
    collect_git(p);
    if (gethostname(p->host, sizeof p->host) != 0) snprintf(p->host, sizeof p->host, "unknown");
    if (!cpuinfo_field("model name", p->cpu_model, sizeof p->cpu_model))
        snprintf(p->cpu_model, sizeof p->cpu_model, "unknown");
    p->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    char mhz[64];
    p->cpu_mhz = cpuinfo_field("cpu MHz", mhz, sizeof mhz) ? atof(mhz) : 0.0;

    char buf[256];
    qt_provenance_set(p, "version.google_benchmark", qt_gb_version());
    qt_provenance_set(p, "version.papi", qt_hwc_papi_version());
    qt_provenance_set(p, "version.sqlite", sqlite3_libversion());
    snprintf(buf, sizeof buf, "%s", openblas_get_config());
    qt_provenance_set(p, "version.openblas", buf);
    snprintf(buf, sizeof buf, "%d", openblas_get_num_threads());
    qt_provenance_set(p, "openblas_threads", buf);
    if (command_line_out("mpirun --version 2>/dev/null", buf, sizeof buf)) qt_provenance_set(p, "version.mpi", buf);
    else qt_provenance_set(p, "version.mpi", "none: mpirun not found");
    collect_gpu(p);
    collect_topology(p);
    collect_env(p);
    collect_system(p);
    collect_files(p);
    collect_tuning_env(p);
}

/* Fixed columns for qt_store_run_begin. */
void qt_provenance_fill_run(const qt_provenance_t *p, qt_run_info_t *info)
{
    info->git_commit = p->git_commit;
    info->git_dirty = p->git_dirty;
    info->host = p->host;
    info->cpu_model = p->cpu_model;
    info->cores = p->cores;
    info->cpu_mhz = p->cpu_mhz;
    info->compiler = QT_COMPILER;
    info->cflags = QT_CFLAGS;
}
