/* fusion_dp_compare.h — the check shared by tests/dist/test_dist.c (fusion_dp: cpu and ref over
 * MPI) and tests/dist/test_nccl.c (gpu_fusion_dp: cuda beside nccl): the fusion model trained
 * data-parallel over `comm` (impl/dist/fusion_dp.c) against the single-process full-batch run
 * (comm NULL) of the same seed on the same compute instance `be`, which every rank also trains:
 * 8 Adam steps over 3 epochs (reshuffles) of fresh MIXED-task data. Per step the loss, and the
 * gradient applied (Adam hardly sees a gradient's scale, so a wrong B_r/B weighting shows only
 * there, relative to its largest entry); then the parameters (|Δp| / (1 + |p|)) and the replicas
 * (checksums). The caller asserts on the result (its own all-ranks verdict) and states the
 * tolerances. Included by the test files (static functions). */
#ifndef QT_TESTS_FUSION_DP_COMPARE_H
#define QT_TESTS_FUSION_DP_COMPARE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/dist.h"
#include "test_util.h"

typedef struct {
    int ok, replicas, rows;
    double loss, grad, params; /* worst differences */
} fusion_dp_diff_t;

/* seed: the same on every rank (the data and the initial parameters come from it). */
static fusion_dp_diff_t fusion_dp_compare(qt_backend_t *comm, qt_backend_t *be, qt_fusion_strategy_t strat, int batch,
                                          uint64_t seed)
{
    fusion_dp_diff_t d = {0, 0, 0, 0, 0, 0};
    qt_dist_fusion_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    qt_fusion_task_shape(&cfg.model);
    cfg.model.d = 16;
    cfg.model.d_ff = 24;
    cfg.model.strategy = strat;
    cfg.model.normalize = 1;
    cfg.batch = batch;
    cfg.lr = 3e-3;
    cfg.seed = seed;
    qt_fusion_data_t data;
    memset(&data, 0, sizeof data);
    int ok = be && qt_fusion_task_make(QT_FUSION_TASK_MIXED, 0.3, cfg.seed, 0, 3 * batch + 5, &data) == QT_OK;
    qt_dist_fusion_t *dp = NULL, *one = NULL;
    ok = ok && qt_dist_fusion_init(&dp, comm, be, &cfg, &data) == QT_OK;
    ok = ok && qt_dist_fusion_init(&one, NULL, be, &cfg, &data) == QT_OK;
    int64_t np = qt_fusion_n_params(&cfg.model);
    double *a = malloc(sizeof(double) * (size_t)np), *b = malloc(sizeof(double) * (size_t)np);
    ok = ok && a && b;
    for (int step = 0; ok && step < 8; step++) {
        double l_dp = 0, l_one = 0;
        ok = qt_dist_fusion_step(dp, &l_dp) == QT_OK && qt_dist_fusion_step(one, &l_one) == QT_OK;
        d.loss = fmax(d.loss, fabs(l_dp - l_one) / fabs(l_one));
        ok = ok && qt_dist_fusion_grads(dp, a) == QT_OK && qt_dist_fusion_grads(one, b) == QT_OK;
        double gmax = 0, gerr = 0;
        for (int64_t i = 0; ok && i < np; i++) {
            gmax = fmax(gmax, fabs(b[i]));
            gerr = fmax(gerr, fabs(a[i] - b[i]));
        }
        d.grad = fmax(d.grad, gmax > 0 ? gerr / gmax : gerr);
    }
    ok = ok && qt_dist_fusion_params(dp, a) == QT_OK && qt_dist_fusion_params(one, b) == QT_OK;
    for (int64_t i = 0; ok && i < np; i++) d.params = fmax(d.params, fabs(a[i] - b[i]) / (1.0 + fabs(b[i])));
    /* every rank takes part in the replica check (a failed rank too: none is left waiting) */
    d.replicas = dp && qt_dist_fusion_check_replicas(dp) == QT_OK;
    if (!ok) printf("fusion dp (%s): %s\n", be ? qt_backend_name(be) : "no backend", qt_last_error());
    d.ok = ok;
    d.rows = qt_dist_fusion_rows(dp);
    free(a);
    free(b);
    qt_dist_fusion_free(dp);
    qt_dist_fusion_free(one);
    qt_fusion_data_free(&data);
    return d;
}

#endif
