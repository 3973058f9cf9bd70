/* fusion_accuracy.c — the multimodal-fusion suite (issue 11): every fusion strategy of
 * impl/fusion (quintet/fusion.h) trained with Adam on every synthetic task, on every backend
 * with fusion ops (the ref oracle only in the tiny timed case: its f64 loops are slow).
 *
 * Experiments, one run per seed (quick 3, nightly 5, paper 10); seed k draws a fresh world
 * (prototypes, hidden map), fresh data and a fresh initialisation. Case name = strategy
 * (early, late_avg, late_learned, gated, cross, hybrid), variant = backend, params task,
 * noise, d (d_ff = 2d), steps, batch, lr, n_train, shared, normalize. Metrics per seed:
 *   accuracy              on n_test fresh test samples (chance 0.5);
 *   accuracy_missing_<m>  the same with modality m zeroed at test time (m = text, image, audio);
 *   accuracy_noisy        with N(0, (1 × each modality's RMS)²) added to every input;
 *   emap_gap              accuracy − accuracy of the EMAP additive projection (Hessel & Lee
 *                         2020) on n_emap test samples: > 0 means the model uses cross-modal
 *                         interaction (0 for late fusion by construction);
 *   train_time_s, train_gflop (3 × forward FLOPs × samples), samples_per_s, final_loss.
 * Ablations (nightly, paper): cross with shared cross-attention weights (shared=1), cross and
 * early without input normalisation (normalize=0), and case `subset` (cross; params subset =
 * the modalities kept, e.g. text+image): the others are zeroed in training and test, so the
 * accuracy says which subsets suffice per task (compare with qt_fusion_task_bayes: recorded as
 * bayes_accuracy).
 * Timed case `train_step` (params strategy=cross, d, batch): the gradient of one batch
 * (forward + backward, qt_fusion_backward; the Adam step is the optim suite's) of the cross
 * model on the mixed task, inputs already on the device; declared work 3 × forward FLOPs, so
 * the runner records gflops and frac_sgemm (against the CPU's SGEMM rate: read it for host
 * backends only). Sizes: quick d=32 B=64, nightly d=64 B=256, ref d=8 B=8; device backends
 * (cuda) time d=64 B=256, d=256 B=1024 and d=512 B=2048 in every profile (the larger two keep
 * the GPU busy past its launch overhead: 3 × qt_fusion_flops = 122 and 970 GFLOP per step; the
 * largest also PyTorch's), with the backend's timer (CUDA events, manual time), and recorded against the GPU's FP32 SGEMM ceiling as frac_gpu_sgemm. Peer:
 * suites/peers/torch_fusion.py (variant torch, the same names and params).
 * Run: quintet run fusion_accuracy [--profile quick|nightly|paper]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/fusion.h"
#include "run/suite.h"

static const char *const fa_metrics[] = {
    "accuracy|fraction|test accuracy after training (chance 0.5)",
    "accuracy_missing_text|fraction|test accuracy with the text modality zeroed",
    "accuracy_missing_image|fraction|test accuracy with the image modality zeroed",
    "accuracy_missing_audio|fraction|test accuracy with the audio modality zeroed",
    "accuracy_noisy|fraction|test accuracy with N(0, RMS^2) noise on every input",
    "emap_gap|fraction|accuracy minus the accuracy of the EMAP additive projection",
    "bayes_accuracy|fraction|subset: best achievable accuracy from the kept modalities (noise-free)",
    "train_time_s|s|wall time of training (batch loading included)",
    "train_gflop|GFLOP|training FLOPs: 3 x forward FLOPs x samples",
    "samples_per_s|samples/s|training samples per second",
    "final_loss|loss|mean training loss over the last 10% of steps",
    "time_s|s|train_step: forward + backward of one batch",
    "gflops|GFLOP/s|train_step: 3 x forward FLOPs per second",
    "frac_sgemm|ratio|train_step: gflops over this run's all-thread SGEMM rate",
    "frac_gpu_sgemm|ratio|train_step on a device: 3 x forward FLOPs per second (every timed call) over this run's cuBLAS FP32 SGEMM rate",
    NULL,
};

static const char *const subset_names[8] = {"", "text", "image", "text+image", "audio", "text+audio", "image+audio",
                                            "text+image+audio"};

/* The model config of a case. */
static qt_status_t fa_config(const qt_case_t *c, const char *strategy, qt_fusion_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    qt_fusion_task_shape(cfg);
    QT_TRY(qt_fusion_strategy_parse(strategy, &cfg->strategy));
    cfg->d = (int)qt_params_int(&c->params, "d", 16);
    cfg->d_ff = 2 * cfg->d;
    cfg->shared_cross = (int)qt_params_int(&c->params, "shared", 0);
    cfg->normalize = (int)qt_params_int(&c->params, "normalize", 1);
    return qt_fusion_config_check(cfg);
}

/* A backend instance for the case, or UNSUPPORTED with the reason. */
static qt_status_t fa_backend(const qt_case_t *c, qt_backend_t **be)
{
    if (qt_backend_init(be, c->variant, NULL) != QT_OK) return qt_fail(QT_ERR_UNSUPPORTED, "%s", qt_last_error());
    return QT_OK;
}

/* Test data of the case with modalities outside `keep` zeroed, then the corruption: drop
 * modality `drop` (-1: none), add noise (sigma > 0). */
static qt_status_t fa_test_data(const qt_case_t *c, qt_fusion_task_t t, uint64_t seed, unsigned keep, int drop,
                                double sigma, qt_fusion_data_t *d)
{
    QT_TRY(qt_fusion_task_make(t, qt_params_double(&c->params, "noise", 0.5), seed, 1,
                               qt_params_int(&c->params, "n_test", 512), d));
    for (int m = 0; m < d->n_mod; m++)
        if (!((keep >> m) & 1u) || m == drop) QT_TRY(qt_fusion_data_drop(d, m));
    if (sigma > 0) QT_TRY(qt_fusion_data_add_noise(d, sigma, seed, 77));
    return QT_OK;
}

/* One seed: train, then every accuracy. */
static qt_status_t fa_run_seed(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    int is_subset = !strcmp(c->name, "subset");
    const char *strategy = is_subset ? qt_params_str(&c->params, "strategy", "cross") : c->name;
    qt_fusion_config_t cfg;
    qt_fusion_task_t task;
    QT_TRY(fa_config(c, strategy, &cfg));
    QT_TRY(qt_fusion_task_parse(qt_params_str(&c->params, "task", ""), &task));
    unsigned keep = 7;
    if (is_subset) {
        const char *s = qt_params_str(&c->params, "subset", "");
        for (keep = 1; keep < 8 && strcmp(subset_names[keep], s); keep++) {}
        if (keep == 8) return qt_fail(QT_ERR_ARG, "fusion_accuracy: unknown subset '%s'", s);
    }
    qt_backend_t *be;
    QT_TRY(fa_backend(c, &be));
    qt_dtype_t dt;
    qt_tensor_t p = {0};
    qt_fusion_data_t tr = {0}, te = {0};
    int64_t np = qt_fusion_n_params(&cfg);
    qt_status_t s = qt_fusion_dtype(be, &dt);
    if (s == QT_OK) s = qt_tensor_alloc(&p, be, dt, 1, &np);
    if (s == QT_OK)
        s = qt_fusion_task_make(task, qt_params_double(&c->params, "noise", 0.5), seed, 0,
                                qt_params_int(&c->params, "n_train", 2048), &tr);
    for (int m = 0; s == QT_OK && m < tr.n_mod; m++)
        if (!((keep >> m) & 1u)) s = qt_fusion_data_drop(&tr, m);
    qt_fusion_train_opts_t o = {(int)qt_params_int(&c->params, "steps", 250), (int)qt_params_int(&c->params, "batch", 64),
                                qt_params_double(&c->params, "lr", 3e-3), seed};
    qt_fusion_train_stats_t st;
    if (s == QT_OK) s = qt_fusion_train(be, &cfg, &tr, &o, &p, &st);
    double acc = NAN;
    if (s == QT_OK) s = fa_test_data(c, task, seed, keep, -1, 0, &te);
    if (s == QT_OK) s = qt_fusion_evaluate(be, &cfg, &p, &te, &acc);
    if (s == QT_OK) {
        qt_rec_metric(r, "accuracy", "fraction", acc);
        qt_rec_metric(r, "train_time_s", "s", st.seconds);
        qt_rec_metric(r, "train_gflop", "GFLOP", st.flops * 1e-9);
        qt_rec_metric(r, "samples_per_s", "samples/s", (double)st.samples / st.seconds);
        qt_rec_metric(r, "final_loss", "loss", st.final_loss);
        if (is_subset) qt_rec_metric(r, "bayes_accuracy", "fraction", qt_fusion_task_bayes(task, keep));
    }
    if (s == QT_OK && !is_subset) {
        double am, ae;
        s = qt_fusion_emap(be, &cfg, &p, &te, qt_params_int(&c->params, "n_emap", 48), &am, &ae);
        if (s == QT_OK) qt_rec_metric(r, "emap_gap", "fraction", am - ae);
        for (int m = 0; s == QT_OK && m < cfg.n_mod; m++) {
            qt_fusion_data_free(&te);
            s = fa_test_data(c, task, seed, keep, m, 0, &te);
            if (s == QT_OK) s = qt_fusion_evaluate(be, &cfg, &p, &te, &acc);
            char name[48];
            snprintf(name, sizeof name, "accuracy_missing_%s", qt_fusion_modality_name(m));
            if (s == QT_OK) qt_rec_metric(r, name, "fraction", acc);
        }
        qt_fusion_data_free(&te);
        if (s == QT_OK) s = fa_test_data(c, task, seed, keep, -1, 1.0, &te);
        if (s == QT_OK) s = qt_fusion_evaluate(be, &cfg, &p, &te, &acc);
        if (s == QT_OK) qt_rec_metric(r, "accuracy_noisy", "fraction", acc);
    }
    qt_fusion_data_free(&tr);
    qt_fusion_data_free(&te);
    qt_tensor_free(&p);
    qt_backend_free(be);
    return s;
}

/* ------------------------------------------------------------ train_step */

typedef struct {
    qt_backend_t *be;
    int timer; /* time with the backend's timer (device backends: manual time) */
    qt_fusion_config_t cfg;
    qt_tensor_t p, g, work, y, x[QT_FUSION_MAX_MOD];
    const qt_tensor_t *xp[QT_FUSION_MAX_MOD];
} fa_step_t;

static void fa_step_teardown(void *state)
{
    fa_step_t *s = state;
    if (!s) return;
    qt_tensor_free(&s->p);
    qt_tensor_free(&s->g);
    qt_tensor_free(&s->work);
    qt_tensor_free(&s->y);
    for (int m = 0; m < QT_FUSION_MAX_MOD; m++) qt_tensor_free(&s->x[m]);
    qt_backend_free(s->be);
    free(s);
}

/* Host f32 tensor src as a tensor of dtype dt on be's device. */
static qt_status_t fa_to_device(qt_backend_t *be, qt_dtype_t dt, const qt_tensor_t *src, qt_tensor_t *dst)
{
    if (dt == src->dtype) return qt_tensor_to_device(be, src, dst);
    qt_tensor_t h = {0};
    QT_TRY(qt_tensor_init(&h, dt, src->ndim, src->shape));
    for (int64_t i = 0; i < qt_tensor_numel(src); i++) ((double *)h.data)[i] = ((const float *)src->data)[i];
    qt_status_t st = qt_tensor_to_device(be, &h, dst);
    qt_tensor_free(&h);
    return st;
}

/* The cross model, one batch of the mixed task on the backend's device, FLOPs declared. */
static qt_status_t fa_step_setup(const qt_case_t *c, qt_rec_t *r, void **state)
{
    fa_step_t *s = calloc(1, sizeof *s);
    if (!s) return qt_fail(QT_ERR_NOMEM, "train_step state");
    qt_status_t st = fa_config(c, qt_params_str(&c->params, "strategy", "cross"), &s->cfg);
    if (st == QT_OK) st = fa_backend(c, &s->be);
    qt_dtype_t dt = QT_F32;
    char why[256];
    if (st == QT_OK) st = qt_fusion_dtype(s->be, &dt);
    if (st == QT_OK && !qt_fusion_supports(s->be, &s->cfg, dt, NULL, NULL, why, sizeof why))
        st = qt_fail(QT_ERR_UNSUPPORTED, "%s", why);
    int64_t B = qt_params_int(&c->params, "batch", 64), np = qt_fusion_n_params(&s->cfg);
    int64_t ws = qt_fusion_work_size(&s->cfg, B);
    qt_fusion_data_t d = {0};
    if (st == QT_OK) st = qt_fusion_task_make(QT_FUSION_TASK_MIXED, 0.5, qt_rec_seed(r), 0, B, &d);
    for (int m = 0; st == QT_OK && m < s->cfg.n_mod; m++) {
        st = fa_to_device(s->be, dt, &d.x[m], &s->x[m]);
        s->xp[m] = &s->x[m];
    }
    if (st == QT_OK) st = qt_tensor_to_device(s->be, &d.y, &s->y);
    if (st == QT_OK) st = qt_tensor_alloc(&s->p, s->be, dt, 1, &np);
    if (st == QT_OK) st = qt_tensor_alloc(&s->g, s->be, dt, 1, &np);
    if (st == QT_OK) st = qt_tensor_alloc(&s->work, s->be, dt, 1, &ws);
    if (st == QT_OK) st = qt_fusion_init_params(s->be, &s->cfg, &s->p, qt_rec_seed(r));
    qt_fusion_data_free(&d);
    if (st != QT_OK) { fa_step_teardown(s); return st; }
    qt_rec_set_work(r, 3.0 * qt_fusion_flops(&s->cfg, B), 0);
    s->timer = c->manual_time;
    /* on a device the FLOP rate is held against the GPU's own SGEMM ceiling, not the CPU's */
    if (s->timer) qt_rec_set_flops_ceiling(r, "gpu_sgemm_gflops", "frac_gpu_sgemm");
    *state = s;
    return QT_OK;
}

/* Forward + backward of the batch (the optimizer step is the optim suite's business); device
 * backends: the seconds between two events of the backend's timer around it. */
static qt_status_t fa_step_iterate(void *state, double *seconds)
{
    fa_step_t *s = state;
    if (s->timer) QT_TRY(qt_backend_timer_start(s->be));
    QT_TRY(qt_fusion_backward(s->be, &s->cfg, &s->p, s->xp, &s->y, &s->g, &s->work, NULL, NULL, NULL));
    if (!s->timer) return qt_backend_synchronize(s->be);
    return qt_backend_timer_stop(s->be, seconds);
}

/* ---------------------------------------------------------------- cases */

static qt_status_t fa_add(qt_case_list_t *out, const char *name, const char *backend, const char *task, int seeds,
                          int steps, int shared, int normalize, const char *subset)
{
    qt_case_t *c = qt_case_list_add(out);
    if (!c) return qt_fail(QT_ERR_NOMEM, "case list");
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->variant, sizeof c->variant, "%s", backend);
    QT_TRY(qt_params_set_str(&c->params, "task", task));
    if (subset) {
        QT_TRY(qt_params_set_str(&c->params, "strategy", "cross"));
        QT_TRY(qt_params_set_str(&c->params, "subset", subset));
    }
    QT_TRY(qt_params_set_double(&c->params, "noise", 0.5));
    QT_TRY(qt_params_set_int(&c->params, "d", 16));
    QT_TRY(qt_params_set_int(&c->params, "steps", steps));
    QT_TRY(qt_params_set_int(&c->params, "batch", 64));
    QT_TRY(qt_params_set_double(&c->params, "lr", 3e-3));
    QT_TRY(qt_params_set_int(&c->params, "n_train", 2048));
    QT_TRY(qt_params_set_int(&c->params, "n_test", 512));
    QT_TRY(qt_params_set_int(&c->params, "n_emap", 48));
    QT_TRY(qt_params_set_int(&c->params, "shared", shared));
    QT_TRY(qt_params_set_int(&c->params, "normalize", normalize));
    c->experiment = 1;
    c->n_seeds = seeds;
    c->run_seed = fa_run_seed;
    return QT_OK;
}

static qt_status_t fa_add_step(qt_case_list_t *out, const qt_backend_iface_t *be, int d, int B)
{
    const char *backend = be->name;
    qt_case_t *c = qt_case_list_add(out);
    if (!c) return qt_fail(QT_ERR_NOMEM, "case list");
    snprintf(c->name, sizeof c->name, "train_step");
    snprintf(c->variant, sizeof c->variant, "%s", backend);
    QT_TRY(qt_params_set_str(&c->params, "strategy", "cross"));
    QT_TRY(qt_params_set_int(&c->params, "d", d));
    QT_TRY(qt_params_set_int(&c->params, "batch", B));
    c->max_repetitions = 10;
    c->manual_time = be->device_kind != QT_DEVICE_HOST;
    c->setup = fa_step_setup;
    c->iterate = fa_step_iterate;
    c->teardown = fa_step_teardown;
    return QT_OK;
}

static qt_status_t fa_cases(qt_profile_t profile, qt_case_list_t *out)
{
    static const int seeds[QT_PROFILE_COUNT] = {3, 5, 10};
    static const int steps[QT_PROFILE_COUNT] = {250, 400, 600};
    for (int b = 0; b < qt_backend_count(); b++) {
        const qt_backend_iface_t *be = qt_backend_iface_get(b);
        if (!be->ops[QT_TECH_FUSION]) continue;
        if (!strcmp(be->name, QT_BACKEND_ORACLE)) { /* the oracle: the tiny timed case only */
            QT_TRY(fa_add_step(out, be, 8, 8));
            continue;
        }
        for (int t = 0; t < QT_FUSION_TASK_COUNT; t++) {
            const char *task = qt_fusion_task_name((qt_fusion_task_t)t);
            for (int s = 0; s < QT_FUSION_STRATEGY_COUNT; s++)
                QT_TRY(fa_add(out, qt_fusion_strategy_name((qt_fusion_strategy_t)s), be->name, task, seeds[profile],
                              steps[profile], 0, 1, NULL));
            if (profile == QT_PROFILE_QUICK) continue;
            QT_TRY(fa_add(out, "cross", be->name, task, seeds[profile], steps[profile], 1, 1, NULL));
            QT_TRY(fa_add(out, "cross", be->name, task, seeds[profile], steps[profile], 0, 0, NULL));
            QT_TRY(fa_add(out, "early", be->name, task, seeds[profile], steps[profile], 0, 0, NULL));
            for (int k = 1; k < 8; k++)
                QT_TRY(fa_add(out, "subset", be->name, task, seeds[profile], steps[profile], 0, 1, subset_names[k]));
        }
        if (be->device_kind != QT_DEVICE_HOST) {
            QT_TRY(fa_add_step(out, be, 64, 256));
            QT_TRY(fa_add_step(out, be, 256, 1024));
            QT_TRY(fa_add_step(out, be, 512, 2048));
        } else
            QT_TRY(fa_add_step(out, be, profile == QT_PROFILE_QUICK ? 32 : 64, profile == QT_PROFILE_QUICK ? 64 : 256));
    }
    return QT_OK;
}

const qt_suite_t qt_suite_fusion_accuracy = {
    "fusion_accuracy",
    "fusion strategies x synthetic tasks: accuracy, robustness, EMAP gap, training cost; training step frac_sgemm",
    fa_metrics,
    fa_cases,
    NULL,
};
