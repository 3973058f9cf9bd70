/* resample.h — invocations as the unit of replication: grouping raw repetitions by the process
 * invocation that measured them, and the hierarchical bootstrap confidence interval of a ratio of
 * medians that `compare`, `history`, `ab` and `report` give every row.
 *
 * Algorithm (Kalibera & Jones, "Rigorous Benchmarking in Reasonable Time", ISMM 2013, section 5;
 * Davison & Hinkley, Bootstrap Methods and their Application, 1997, section 3.8 for the two-stage
 * resampling): each side is a set of invocations, each a set of repetitions. One bootstrap
 * replicate draws as many invocations as the side has, with replacement, and from each drawn
 * invocation as many repetitions as it has, with replacement; the replicate's statistic is the
 * median of the values drawn. The ratio median_new / median_base over B replicates gives the
 * percentile interval [(1-conf)/2, (1+conf)/2]. With one invocation on a side this is the plain
 * bootstrap over its repetitions (which only sees within-process noise). The generator is
 * xoshiro256** seeded by splitmix64 (Blackman & Vigna 2018), so results repeat for a seed.
 * Tested by tests/harness/test_gate.c (coverage on synthetic data, `make test`). */
#ifndef QUINTET_RESAMPLE_H
#define QUINTET_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/status.h"

/* One side: v[0..n) with inv[i] the invocation of v[i] (inv NULL: all one invocation). NaN skipped. */
typedef struct {
    const double *v;
    const int *inv;
    size_t n;
} qt_sample_set_t;

#define QT_BOOT_REPLICATES 2000

/* Number of distinct invocations holding a non-NaN value. */
int qt_sample_invocations(const qt_sample_set_t *s);
/* The median of each invocation (ascending invocation number) into *med (malloc'd, the caller
 * frees it); returns their count (0 with *med NULL when there is nothing or no memory). */
int qt_sample_invocation_medians(const qt_sample_set_t *s, double **med);
/* Percentile interval [*lo, *hi] at level conf (e.g. 0.95) of median(new) / median(base) from B
 * hierarchical bootstrap replicates drawn with seed. QT_ERR_ARG on an empty side or a bad level;
 * NaN bounds when a replicate's base median is 0. */
qt_status_t qt_boot_ratio_ci(const qt_sample_set_t *base, const qt_sample_set_t *new_, int B, double conf,
                             uint64_t seed, double *lo, double *hi);

/* Paired rounds (`quintet ab`): base and new measured in the same round carry the same invocation
 * number (the round), back to back in random order, so drift common to a round (other tenants,
 * frequency) cancels in the round's log-ratio d_i = log(median_new_i / median_base_i) (medians
 * over the round's repetitions). The estimate is exp of the Hodges-Lehmann estimate of the d_i
 * (the median of the Walsh averages (d_i + d_j)/2, i <= j: the estimator that goes with the
 * signed-rank test, robust to a round hit by a burst, and near the mean's efficiency for normal
 * d); the interval is the percentile interval of B hierarchical replicates: draw as many rounds as
 * there are with replacement, within each drawn round redraw each side's repetitions with
 * replacement, recompute the round's d and the estimate. Rounds one side lacks are left out.
 * *est gets the estimate, *pairs (may be NULL) the rounds used; NaN bounds (QT_OK) when a median is
 * not positive; QT_ERR_ARG when no round has both sides. */
qt_status_t qt_boot_paired_ci(const qt_sample_set_t *base, const qt_sample_set_t *new_, int B, double conf,
                              uint64_t seed, double *est, double *lo, double *hi, int *pairs);
/* The observed per-round log-ratios of the rounds both sides measured, ascending round, into *d
 * (malloc'd; NaN where a median is not positive) and their round numbers into *round (malloc'd; round
 * may be NULL); returns their count, -1 when out of memory. */
int qt_paired_log_ratios(const qt_sample_set_t *base, const qt_sample_set_t *new_, double **d, int **round);

/* xoshiro256** state, for callers that draw their own synthetic data (tests, calibrate-gate). */
typedef struct {
    uint64_t s[4];
} qt_rand_t;
void qt_rand_seed(qt_rand_t *r, uint64_t seed);
uint64_t qt_rand_next(qt_rand_t *r);
/* Uniform in [0, 1). */
double qt_rand_uniform(qt_rand_t *r);
/* Standard normal (Box-Muller). */
double qt_rand_normal(qt_rand_t *r);

#endif
