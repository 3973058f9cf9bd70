/* pingpong.c — MPI ping-pong between ranks 0 and 1, the calibration suite's
 * interconnect ceiling (built as build/quintet-mpi-pingpong when mpicc is found).
 *
 *   mpirun -np 2 build/quintet-mpi-pingpong BYTES REPETITIONS ITERATIONS
 * For each repetition rank 0 prints one line "rep half_rtt_us gbps": half the
 * mean round-trip time of ITERATIONS exchanges of BYTES (after a warm-up), and
 * BYTES / half_rtt as GB/s (the OSU latency/bandwidth convention for one message). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exchange, timing on rank 0. */
int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 4 || size < 2) {
        if (rank == 0) fprintf(stderr, "usage: mpirun -np 2 %s BYTES REPETITIONS ITERATIONS\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    long bytes = atol(argv[1]);
    int reps = atoi(argv[2]), iters = atoi(argv[3]);
    if (bytes < 1 || reps < 1 || iters < 1) {
        if (rank == 0) fprintf(stderr, "pingpong: BYTES, REPETITIONS and ITERATIONS must be >= 1\n");
        MPI_Finalize();
        return 2;
    }
    char *buf = malloc((size_t)bytes);
    if (!buf) MPI_Abort(MPI_COMM_WORLD, 1);
    memset(buf, rank + 1, (size_t)bytes);
    for (int rep = -1; rep < reps; rep++) { /* rep -1 is the warm-up */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int i = 0; i < iters; i++) {
            if (rank == 0) {
                MPI_Send(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
                MPI_Recv(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (rank == 1) {
                MPI_Recv(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
            }
        }
        double half = (MPI_Wtime() - t0) / iters / 2.0;
        if (rank == 0 && rep >= 0) printf("%d %.6f %.6f\n", rep, half * 1e6, (double)bytes / half / 1e9);
    }
    fflush(stdout);
    free(buf);
    MPI_Finalize();
    return 0;
}
