/* launch.c — see launch.h: rank detection from the launcher's environment and the mpirun
 * re-execution of `quintet run --ranks N`. The transport choice travels to the ranks as
 * QT_DIST_TRANSPORT (recorded by the dist_throughput suite as a case parameter).
 * Large messages: the ranks get GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (transparent huge pages
 * for malloc'd memory, OpenMPI's per-call temporary buffers included) unless GLIBC_TUNABLES is
 * set, even empty. On the build VM (Firecracker) a fresh 4 KiB page costs ~5-7 us to fault in,
 * and every all-reduce above glibc's 32 MiB mmap threshold maps its temporary afresh: with huge
 * pages 32-128 MiB all-reduces ran 2.0-2.5x faster (3 interleaved pairs; README "Distributed
 * runs"). Provenance records GLIBC_TUNABLES and every OMPI_MCA_* variable. */
#include "run/launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An integer environment variable, or -1. */
static int env_int(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : -1;
}

int qt_launch_rank(int *world)
{
    static const char *const pairs[][2] = {
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
        {"PMIX_RANK", "PMIX_SIZE"},
        {"PMI_RANK", "PMI_SIZE"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int r = env_int(pairs[i][0]), n = env_int(pairs[i][1]);
        if (r >= 0 && n >= 1) {
            *world = n;
            return r;
        }
    }
    if (getenv("SLURM_STEP_ID") && env_int("SLURM_PROCID") >= 0 && env_int("SLURM_NTASKS") >= 1) {
        *world = env_int("SLURM_NTASKS");
        return env_int("SLURM_PROCID");
    }
    *world = 1;
    return 0;
}

int qt_launch_mpirun(int ranks, const char *transport, int argc, char **argv)
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "quintet run: cannot find this executable to start it under mpirun\n");
        return 2;
    }
    self[len] = '\0';
    char np[16];
    snprintf(np, sizeof np, "%d", ranks);
    setenv("OMP_NUM_THREADS", getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "1", 1);
    setenv("OPENBLAS_NUM_THREADS", getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "1", 1);
    int tcp = transport && !strcmp(transport, "tcp");
    setenv("QT_DIST_TRANSPORT", tcp ? "tcp" : "shm", 1);
    if (!getenv("GLIBC_TUNABLES")) setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
    const char **av = calloc((size_t)argc + 32, sizeof *av);
    if (!av) return 2;
    int k = 0;
    av[k++] = "mpirun";
    if (geteuid() == 0) av[k++] = "--allow-run-as-root";
    if (ranks > sysconf(_SC_NPROCESSORS_ONLN)) av[k++] = "--oversubscribe";
    av[k++] = "-np";
    av[k++] = np;
    const char *const xs[] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "QT_DIST_TRANSPORT", "QT_DIST_TIMEOUT_S",
                              "GLIBC_TUNABLES"};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        if (!getenv(xs[i])) continue; /* mpirun warns about an -x of an unset variable */
        av[k++] = "-x";
        av[k++] = xs[i];
    }
    if (tcp) {
        const char *const t[] = {"--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo"};
        for (size_t i = 0; i < 6; i++) av[k++] = t[i];
    }
    av[k++] = self;
    for (int i = 1; i < argc; i++) av[k++] = argv[i];
    av[k] = NULL;
    fflush(NULL);
    execvp("mpirun", (char *const *)av);
    perror("quintet run: cannot start mpirun");
    free(av);
    return 2;
}
