/* launch.h — running quintet on several MPI ranks (issue 12, the dist_throughput suite).
 *
 * `quintet run SUITE --ranks N` outside any launcher re-executes this same binary under
 * `mpirun -np N` (qt_launch_mpirun); inside mpirun or srun the ranks are read from the
 * launcher's environment (qt_launch_rank), so the same command line also works inside an
 * existing allocation (`srun -n 8 build/quintet run dist_throughput`). Only rank 0 writes the
 * database; the runner gives the other ranks an in-memory store (runner.c). */
#ifndef QUINTET_RUN_LAUNCH_H
#define QUINTET_RUN_LAUNCH_H

/* This process's rank and world size from OpenMPI (OMPI_COMM_WORLD_*), PMI/PMIx (MPICH, Slurm's
 * PMI) or Slurm (SLURM_PROCID/SLURM_NTASKS inside an srun step); 0 and 1 when not launched. */
int qt_launch_rank(int *world);

/* Replace this process by `mpirun -np ranks` running argv (argv[0] is replaced by this binary's
 * path) with one OpenMP/OpenBLAS thread per rank unless the caller set them, --allow-run-as-root
 * when root, --oversubscribe when ranks exceed the cores, and, for transport "tcp", OpenMPI's TCP
 * transport over loopback instead of shared memory (--mca btl tcp,self). Returns only on failure
 * (exit status 2, message on stderr). */
int qt_launch_mpirun(int ranks, const char *transport, int argc, char **argv);

#endif
