/* cpu_dense.c — the narrow instance of the cpu attention tile and window driver, which
 * DENSE runs (cpu.c): cpu_tile.c and cpu_window.c compiled once more with QT_ATTN_NARROW,
 * i.e. with AVX-512 tiles of 32 queries and a 12 × 2 micro-kernel, every function renamed
 * _narrow (why: cpu_tile.h). Without AVX-512 the instance equals the 64-query one.
 * Run: make test (tests/attention compares DENSE with the ref oracle). */
#define QT_ATTN_NARROW 1
#include "cpu_tile.c"
#include "cpu_window.c"
