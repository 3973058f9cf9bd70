/* provenance.h — what a run records about where and how it ran: git commit and
 * dirty flag, host, CPU model/cores/frequency, compiler and flags, versions of
 * Google Benchmark, PAPI, SQLite, OpenBLAS, MPI, CUDA and NCCL, the GPU and its
 * driver, the GPU topology (`nvidia-smi topo -m`), the environment variables that change
 * results (NCCL_* too), the system (kernel and OS release, CPU governor, turbo and SMT where
 * readable, total memory, the CPUs this process may run on) and a hash of every file that
 * changes behaviour (file.<path>: FNV-1a 64 of its bytes, or "absent"). Every field is filled:
 * what is absent says so ("none: ..." / "unknown: ..."), never an empty string. */
#ifndef QUINTET_PROVENANCE_H
#define QUINTET_PROVENANCE_H

#include "store/store.h"

#define QT_PROV_MAX 128

typedef struct {
    char git_commit[48];
    int git_dirty;
    char host[128], cpu_model[128];
    int cores;
    double cpu_mhz;
    int n;
    struct {
        char key[48];
        char value[1536]; /* room for `nvidia-smi topo -m` */
    } kv[QT_PROV_MAX]; /* library versions, gpu, env.* */
} qt_provenance_t;

/* Collect everything (runs `git`, `mpirun --version` and `nvidia-smi`-free CUDA queries). */
void qt_provenance_collect(qt_provenance_t *p);
/* Add or replace a key/value pair. */
void qt_provenance_set(qt_provenance_t *p, const char *key, const char *value);
/* Value of key, or NULL. */
const char *qt_provenance_get(const qt_provenance_t *p, const char *key);
/* Copy the fixed fields into a run-info record (pointers into p). */
void qt_provenance_fill_run(const qt_provenance_t *p, qt_run_info_t *info);

#endif
