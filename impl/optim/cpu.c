/* cpu.c — the fast optimizer backend: float and double, one fused OpenMP pass per
 * tensor over parameter, gradient and state (loops in cpu_body.h, instantiated here
 * for both element types), with the backend instance's thread count. Formulas: quintet/optim.h; rounding order as ref.c.
 * Performance note: the loops only vectorise when the compiler may treat sqrt as
 * errno-free (-fno-math-errno; results are identical, sqrt stays correctly rounded):
 * measured on 2 cores, one 10M-parameter f32 step reaches 1.3-1.6x the STREAM triad
 * rate with it and 0.15-0.3x without it.
 * Against PyTorch 2.11 (H200 host Xeon, 16 cores, step_llc n = 78.6M f32, 2026-11-30, two device
 * calls: quintet run lr_convergence --filter step_llc, then torch_cpu.py --groups optim as shipped
 * and with --thp, in the same call): every step is at the memory's rate on both sides (16
 * threads ~120-140 GB/s), so the ratio to torch's fastest path is 1 ± the machine's noise: 16
 * threads adam 1.14, sgd 1.06, adagrad 0.93, adamw 0.87 (quintet's own adam 15.8 ms, adamw 18.0 in
 * the same run, which the VM times equal: not understood), radam 3.86, rmsprop 3.33; one thread, first call / second: adam 1.10 / -,
 * adamw 0.94 / 1.14, sgd 0.81 / 1.04, adagrad - / 1.02, rmsprop 3.52 / 4.10 (against foreach:
 * PyTorch has no fused RMSprop), radam 4.09 / -. Torch's own time for one path moved up to 30%
 * between calls (fused sgd one thread 51.5 / 67.2 ms). The loop styles (plain, two halves, with
 * software prefetch) measured interleaved in one process at 16 threads on that host were equal; at
 * one thread (session 6, core 2) the two halves took 1.83x the plain loop's time, where on the VM
 * they take ~0.75x: sgd's loop style is chosen per machine by measurement (sgd_style_choose).
 * Session 6's final call (same commands, both PyTorch modes): 16 threads sgd 0.95, adam 0.82, adamw
 * 0.83, adagrad 0.79, radam 3.28, rmsprop 3.45; one thread adam 0.95, adamw 0.84, adagrad 0.86
 * (1.05 in the next call), radam 3.91, rmsprop 2.90, sgd 0.54 (then always the two halves; the
 * plain loop measured 42.7 ms against PyTorch's 45.6). At one thread on that Xeon huge pages cost
 * the 5-stream loops 18-20% (optim_ab: rmsprop 86.9 against 72.6 ms, adagrad 83.8 against 69.5)
 * where they gained 18-20% on the VM: the cause was every tensor starting at the same offset in its
 * 2 MiB page; qt_alloc now staggers them (impl/core/tensor.c), which gives the 4 KiB-page rate back.
 * Session 7's whole comparison after the stagger and SGD's per-size choice (ci/h200-cpu-peers.sh,
 * /work/.device/8, main 5c4c24a): one thread 16 of 18 steps >= 1.0 (adagrad 1.24/1.35, adam
 * 0.98-1.24, adamw 1.10-1.33, sgd 1.00-1.28 with step_llc 49.2 ms against 63.0; rmsprop 5.74/5.99,
 * radam 4.53/5.92); 16 threads 10 of 18 (rmsprop 9.38 at step_10m, 3.93 at step_llc; adagrad
 * step_llc 0.86 where the call before, /2, had 1.09: PyTorch's fused adagrad took 11.3 ms here and
 * 14.4 ms there, quintet 13.1 and 13.2). Both sides run at the memory's rate, ~120-140 GB/s.
 * Session 8 (main 6737995, optimizer code unchanged; QT_PEER_ROUNDS=3: the two sides alternated
 * three times, /work/.device/6): 16 threads, median ratio (range) over the rounds: step_llc adagrad
 * 0.89 (0.75-1.01), adam 0.98 (0.95-1.04), adamw 0.99 (0.95-1.08), sgd 1.21 (1.02-1.53), rmsprop
 * 4.33, radam 4.01; step_10m 1.00-1.14 (ranges 0.72-1.49); step_large at 16M sgd 0.92 (0.86-1.57),
 * adam 1.09, adamw 1.02. One round at one thread (/work/.device/7): 16 of 18 (step_llc sgd 0.85:
 * PyTorch's foreach 43.3 ms, quintet 50.7, where /8 of session 7 had 49.2 against 63.0; rmsprop
 * 3.85 against 4). A step over 16M parameters (268 MB of Adam streams) sits in the 300 MiB LLC in
 * part, by an amount that varies with the host's other load: quintet's own Adam step_large took
 * 1.60, 3.02 and 1.69 ms in three calls.
 * Session 9 (/work/.device/1, third_party/stage/s9/src/adagrad_ab.c, 16 threads, n = 78.6M f32,
 * qt_alloc's layout): Adagrad's 16-thread loop is not the cause of its 0.89 against PyTorch's fused
 * step. Loop styles interleaved in one process, medians of 15 steps, three rounds, each round
 * unbound then OMP_PROC_BIND=close: this loop 12.54 / 12.94, 12.29 / 10.58, 10.42 / 10.72 ms;
 * 16-aligned ranges, 256-bit vectors and the two halves within 1.5% of it in every round;
 * streaming stores 3-9% slower; PyTorch's fused Adagrad in the same rounds (its own process, right
 * after) 12.96, 10.27, 12.73 ms. The host's rate for the same 1.57 GB moved 121-153 GB/s from one
 * round to the next on both sides, and the best rounds of both ran ~150 GB/s: at 16 threads the two
 * steps are the same memory-bound loop, and which is faster in a call is the host's moment.
 * Session 10 (code unchanged; /work/.device/7 and /8, ci/h200-cpu-peers.sh QT_PEER_GROUPS=optim, both statistics of
 * peer_ratios.py): 16 threads, 2 rounds: 18 of 18 medians met (step_llc adagrad 1.09, adam 1.02, adamw 1.03, sgd 1.15;
 * step_large sgd 1.07; rmsprop 4.13 / 8.96, radam 3.97 / 7.93), 17 of 18 by the fastest repetitions (step_10m sgd
 * 0.9997). One thread: one round in /7 had 13 of 18 (step_10m adagrad 0.83, step_large adam 0.75 where quintet's own
 * adamw of the same size took 22.5 ms against its adam's 30.1: a slow stretch of the host), two rounds in /8 15 of 18
 * (step_llc adagrad 0.98, rmsprop 3.98 / 3.97 against 4), 16 of 18 by the fastest (step_llc adagrad 0.9996, rmsprop
 * step_llc 3.99). Both sides move the same bytes at the memory's rate; the misses sit within 2% of the target.
 * Tests: tests/optim/test_optim.c; bandwidth: suites/lr_convergence.c. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "optim_internal.h"
#include "quintet/tensor.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* This thread's share [lo, hi) of n elements, boundaries on multiples of 16 elements. */
static void qt_optim_thread_range(size_t n, size_t *lo, size_t *hi)
{
#ifdef _OPENMP
    size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
#else
    size_t nt = 1, id = 0;
#endif
    size_t blocks = (n + 15) / 16;
    size_t b0 = blocks * id / nt, b1 = blocks * (id + 1) / nt;
    *lo = b0 * 16 < n ? b0 * 16 : n;
    *hi = b1 * 16 < n ? b1 * 16 : n;
}

/* Seconds on a monotonic clock (0 without OpenMP: no trials then). */
static inline double omp_wtime_or_zero(void)
{
#ifdef _OPENMP
    return omp_get_wtime();
#else
    return 0.0;
#endif
}

/* SGD's loop style, chosen per process by timed trials (as impl/sparse/cpu.c chooses its CSR
 * schedule): 0 the plain loop, 1 the two halves of each thread's range advancing together (twice
 * the memory streams in flight per core). The ranking differs between machines: one thread,
 * step_llc: on the 2-core VM's EPYC the halves took 0.63-0.84x the plain loop's time (session 5,
 * interleaved in one process; session 6: 1.76 against 2.33 ms), on the H200 host's Xeon 1.83x
 * (78.1 against 42.7 ms, n = 78.6M f32, interleaved). The first SGD_TRIALS calls of each style
 * with at least 2^SGD_TRIAL_LOG2_MIN elements alternate, each timed per element; then the style with the
 * lowest minimum runs; separately for one thread and for several, and for each power-of-two
 * size class (from 2^20 elements): whether the streams come from the LLC or from memory changes
 * the ranking (session 7, /work/.device/2: chosen once at step_10m's 10M elements, the style ran
 * step_llc's 78.6M at one thread in 64.9 ms where the plain loop takes ~43). Smaller calls, and a
 * size class until its choice is made, run the plain loop between trials.
 * QT_OPTIM_SGD_STYLE=plain|halves forces one (tests). The arithmetic per element is the same:
 * the choice changes time only. */
#define SGD_TRIALS 3
#define SGD_TRIAL_LOG2_MIN 20 /* size classes 2^20.., the last one open-ended */
#define SGD_SIZE_CLASSES 16
typedef struct {
    double best[2]; /* fastest trial per style, seconds per element */
    int calls, choice;
} sgd_style_t;
static sgd_style_t sgd_style[2][SGD_SIZE_CLASSES]; /* [several threads][size class] */

/* The size class of an n-element step: floor(log2 n) - 20, capped; -1 below 2^20 elements. */
static int sgd_size_class(size_t n)
{
    if (n < ((size_t)1 << SGD_TRIAL_LOG2_MIN)) return -1;
    int c = 0;
    while (c + 1 < SGD_SIZE_CLASSES && (n >> (SGD_TRIAL_LOG2_MIN + c + 1)) != 0) c++;
    return c;
}

/* The style for an n-element step on nt threads; *trial set when the call is a trial (then
 * sgd_style_record its time). */
static int sgd_style_choose(size_t n, int nt, int *trial)
{
    const char *e = getenv("QT_OPTIM_SGD_STYLE");
    int style = 0;
    *trial = 0;
    if (e && *e) return !strcmp(e, "halves");
    const int sc = sgd_size_class(n);
    if (sc < 0) return 0;
#pragma omp critical(qt_sgd_style)
    {
        const sgd_style_t *st = &sgd_style[nt > 1][sc];
        if (st->calls >= 2 * SGD_TRIALS) {
            style = st->choice;
        } else {
            style = st->calls % 2;
            *trial = 1;
        }
    }
    return style;
}

/* Record a trial: seconds per element of style `style` for an n-element step on nt threads. */
static void sgd_style_record(size_t n, int nt, int style, double per_el)
{
    const int sc = sgd_size_class(n);
    if (sc < 0) return;
#pragma omp critical(qt_sgd_style)
    {
        sgd_style_t *st = &sgd_style[nt > 1][sc];
        if (st->calls == 0) st->best[0] = st->best[1] = INFINITY;
        if (st->calls < 2 * SGD_TRIALS) {
            if (per_el < st->best[style]) st->best[style] = per_el;
            if (++st->calls == 2 * SGD_TRIALS) st->choice = st->best[1] < st->best[0];
        }
    }
}

#define T float
#define SFX f32
#define SQRT sqrtf
#define LERP qt_lerp_f
#include "cpu_body.h"
#undef T
#undef SFX
#undef SQRT
#undef LERP

#define T double
#define SFX f64
#define SQRT sqrt
#define LERP qt_lerp_d
#include "cpu_body.h"
#undef T
#undef SFX
#undef SQRT
#undef LERP

/* cpu runs every optimizer in f32 and f64. */
static int cpu_supports(const qt_backend_t *be, const qt_optim_config_t *c, qt_dtype_t dt)
{
    (void)be;
    (void)c;
    return dt == QT_F32 || dt == QT_F64;
}

/* Dispatch on the element type; OpenMP regions use the instance's thread count. */
static qt_status_t cpu_update(qt_backend_t *be, const qt_optim_config_t *c, const qt_optim_step_info_t *s,
                              qt_tensor_t *param, const qt_tensor_t *grad, qt_tensor_t *const *state)
{
    size_t n = (size_t)qt_tensor_numel(param);
    void *st[QT_OPTIM_MAX_SLOTS];
    qt_optim_state_ptrs(c, state, st);
    int nt = be->threads > 0 ? be->threads : 1;
    if (param->dtype == QT_F32) return cpu_update_f32(c, s, param->data, grad->data, st, n, nt);
    if (param->dtype == QT_F64) return cpu_update_f64(c, s, param->data, grad->data, st, n, nt);
    return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "optimizer: dtype %s (f32 and f64 only)", qt_dtype_name(param->dtype));
}

/* Listed in the cpu backend's interface table (impl/backends/host/host.c). */
const qt_optim_ops_t qt_optim_ops_cpu = {cpu_supports, cpu_update, NULL};
