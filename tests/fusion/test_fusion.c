/* test_fusion.c — correctness of impl/fusion (quintet/fusion.h): finite-difference checks of
 * the hand-written backward pass of every parameter of every strategy (so of every block:
 * encoders, input normalisation, cross-attention with shared and separate weights, heads,
 * gate, learned late weights) on the f64 oracle; every host backend against ref (logits, loss,
 * gradients); device backends (cuda: skipped without a GPU, saying why) against ref and in
 * training against cpu; the loss falls when training; the same seed gives bitwise-identical weights;
 * EMAP of an additive model equals the model; the synthetic tasks; bad input. Inputs and
 * perturbed parameters are fresh per process (QT_TEST_SEED replays).
 * Run: make test, or build/tests/fusion/test_fusion. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/fusion.h"
#include "quintet/rng.h"
#include "test_util.h"
#include "verify/verify.h"

/* Three modalities of different lengths and widths, tiny widths: every parameter is checked. */
static qt_fusion_config_t tiny(qt_fusion_strategy_t s, int shared, int norm)
{
    qt_fusion_config_t c = {3, {3, 2, 4}, {4, 5, 3}, 3, 4, 6, s, shared, norm};
    return c;
}

/* Central differences (h = 1e-5) of the f64 oracle's loss against its backward for every
 * parameter: |fd − g| ≤ 1e-7 + 1e-4·|g| (truncation O(h²) ~ 1e-10 and rounding ~1e-11 in f64). */
static void test_gradients(void)
{
    qt_backend_t *ref = qt_test_backend("ref");
    for (int st = 0; st < QT_FUSION_STRATEGY_COUNT; st++)
        for (int opt = 0; opt < 4; opt++) {
            qt_fusion_config_t c = tiny((qt_fusion_strategy_t)st, opt & 1, opt >> 1);
            if (c.shared_cross && st != QT_FUSION_CROSS && st != QT_FUSION_HYBRID) continue;
            int64_t np = qt_fusion_n_params(&c), B = 3, bad = 0;
            double *p = qt_alloc((size_t)np * sizeof *p), *g = qt_alloc((size_t)np * sizeof *g), loss, lp, lm, worst = 0;
            CU_ASSERT_FATAL(p && g);
            uint64_t seed = qt_test_seed() + (uint64_t)(st * 4 + opt);
            CU_ASSERT_EQUAL_FATAL(qt_verify_fusion_run(ref, &c, B, seed, NULL, &loss, g, p), QT_OK);
            for (int64_t i = 0; i < np; i++) {
                double keep = p[i], h = 1e-5;
                p[i] = keep + h;
                CU_ASSERT_EQUAL_FATAL(qt_verify_fusion_loss(ref, &c, B, seed, p, &lp), QT_OK);
                p[i] = keep - h;
                CU_ASSERT_EQUAL_FATAL(qt_verify_fusion_loss(ref, &c, B, seed, p, &lm), QT_OK);
                p[i] = keep;
                double fd = (lp - lm) / (2 * h), err = fabs(fd - g[i]);
                if (err > 1e-7 + 1e-4 * fabs(g[i])) {
                    if (bad++ < 3) printf("\n  %s shared=%d norm=%d param %lld: fd %.9g backward %.9g", qt_fusion_strategy_name(c.strategy), c.shared_cross, c.normalize, (long long)i, fd, g[i]);
                }
                if (err > worst) worst = err;
            }
            CU_ASSERT_EQUAL(bad, 0);
            qt_free(p);
            qt_free(g);
        }
}

/* Backend be against the oracle on config c, batch B, fresh inputs and perturbed parameters of
 * `seed`: loss, logits and every gradient within qt_verify_tol_fusion (the tolerance `quintet
 * verify fusion` uses: 1e-4 of each array's scale). Returns the wrong count; *max_rel the worst. */
static int64_t check_vs_ref(qt_backend_t *be, const qt_fusion_config_t *c, int64_t B, uint64_t seed, double *max_rel)
{
    qt_backend_t *ref = qt_test_backend("ref");
    int64_t np = qt_fusion_n_params(c), nl = B * c->classes, n = np + nl + 1;
    double *r = qt_alloc((size_t)n * sizeof *r), *y = qt_alloc((size_t)n * sizeof *y);
    CU_ASSERT_FATAL(r && y);
    CU_ASSERT_EQUAL_FATAL(qt_verify_fusion_run(ref, c, B, seed, r + 1, r, r + 1 + nl, NULL), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_verify_fusion_run(be, c, B, seed, y + 1, y, y + 1 + nl, NULL), QT_OK);
    qt_cmp_t cmp;
    qt_cmp_init(&cmp);
    qt_cmp_add(&cmp, y, QT_F64, r, QT_F64, (size_t)(1 + nl), &qt_verify_tol_fusion, NULL);
    qt_cmp_add(&cmp, y + 1 + nl, QT_F64, r + 1 + nl, QT_F64, (size_t)np, &qt_verify_tol_fusion, NULL);
    CU_ASSERT_EQUAL(cmp.wrong, 0);
    if (cmp.wrong)
        printf("\n  %s %s shared=%d norm=%d d=%d B=%lld: %lld wrong, max_rel %.3g", qt_backend_name(be),
               qt_fusion_strategy_name(c->strategy), c->shared_cross, c->normalize, c->d, (long long)B,
               (long long)cmp.wrong, cmp.max_rel);
    if (max_rel && cmp.max_rel > *max_rel) *max_rel = cmp.max_rel;
    qt_free(r);
    qt_free(y);
    return cmp.wrong;
}

/* Every strategy × (shared, normalize) of the tiny shape at d = 16, batch 7, on backend be. */
static void check_all_strategies(qt_backend_t *be, uint64_t salt, double *max_rel)
{
    for (int st = 0; st < QT_FUSION_STRATEGY_COUNT; st++)
        for (int opt = 0; opt < 4; opt++) {
            qt_fusion_config_t c = tiny((qt_fusion_strategy_t)st, opt & 1, opt >> 1);
            if (c.shared_cross && st != QT_FUSION_CROSS && st != QT_FUSION_HYBRID) continue;
            c.d = 16;
            c.d_ff = 24;
            check_vs_ref(be, &c, 7, qt_test_seed() ^ (uint64_t)(st * 4 + opt + salt), max_rel);
        }
}

/* Every host backend against the oracle (check_vs_ref). */
static void test_backends_vs_ref(void)
{
    qt_backend_t *ref = qt_test_backend("ref");
    for (int bi = 0; bi < qt_backend_count(); bi++) {
        qt_backend_t *be = qt_test_host_backend_at(bi, QT_TECH_FUSION);
        if (!be || be == ref) continue;
        check_all_strategies(be, 100, NULL);
    }
}

/* The tasks' shape at width 8, inputs normalised. */
static qt_fusion_config_t small_cfg(qt_fusion_strategy_t s)
{
    qt_fusion_config_t c = {0};
    qt_fusion_task_shape(&c);
    c.d = 8;
    c.d_ff = 16;
    c.strategy = s;
    c.normalize = 1;
    return c;
}

/* A small training run on task t; returns its final loss (and the parameters in p). */
static double train_small(qt_backend_t *be, qt_fusion_strategy_t s, qt_fusion_task_t t, uint64_t seed, qt_tensor_t *p,
                          double *acc)
{
    qt_fusion_config_t c = small_cfg(s);
    qt_dtype_t dt;
    CU_ASSERT_EQUAL_FATAL(qt_fusion_dtype(be, &dt), QT_OK);
    int64_t np = qt_fusion_n_params(&c);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(p, be, dt, 1, &np), QT_OK);
    qt_fusion_data_t tr;
    CU_ASSERT_EQUAL_FATAL(qt_fusion_task_make(t, 0.3, seed, 0, 256, &tr), QT_OK);
    qt_fusion_train_opts_t o = {60, 32, 1e-2, seed};
    qt_fusion_train_stats_t stt;
    CU_ASSERT_EQUAL_FATAL(qt_fusion_train(be, &c, &tr, &o, p, &stt), QT_OK);
    if (acc) CU_ASSERT_EQUAL(qt_fusion_evaluate(be, &c, p, &tr, acc), QT_OK);
    qt_fusion_data_free(&tr);
    return stt.final_loss;
}

/* Training lowers the loss from ln 2 (chance on 2 classes) to below half of it, on every host
 * backend, for a strategy of each family; the redundant task is then fit (train accuracy ≥ 0.9). */
static void test_loss_decreases(void)
{
    for (int bi = 0; bi < qt_backend_count(); bi++) {
        qt_backend_t *be = qt_test_host_backend_at(bi, QT_TECH_FUSION);
        if (!be) continue;
        qt_fusion_strategy_t ss[3] = {QT_FUSION_LATE_AVG, QT_FUSION_GATED, QT_FUSION_CROSS};
        for (int i = 0; i < 3; i++) {
            qt_tensor_t p = {0};
            double acc = 0, loss = train_small(be, ss[i], QT_FUSION_TASK_REDUNDANT, qt_test_seed(), &p, &acc);
            CU_ASSERT(loss < 0.5 * log(2.0));
            CU_ASSERT(acc >= 0.9);
            if (!(loss < 0.5 * log(2.0)) || acc < 0.9)
                printf("\n  %s %s: final loss %.4f, train accuracy %.3f", qt_backend_name(be), qt_fusion_strategy_name(ss[i]), loss, acc);
            qt_tensor_free(&p);
        }
    }
}

/* The same seed twice: bitwise-identical trained parameters (cpu, hybrid: every block). */
static void test_determinism(void)
{
    qt_backend_t *be = qt_test_backend("cpu");
    qt_tensor_t a = {0}, b = {0};
    uint64_t seed = qt_test_seed();
    train_small(be, QT_FUSION_HYBRID, QT_FUSION_TASK_MIXED, seed, &a, NULL);
    train_small(be, QT_FUSION_HYBRID, QT_FUSION_TASK_MIXED, seed, &b, NULL);
    CU_ASSERT_EQUAL(memcmp(a.data, b.data, (size_t)qt_tensor_numel(&a) * sizeof(float)), 0);
    qt_tensor_free(&a);
    qt_tensor_free(&b);
}

/* LATE_AVG's logits are a sum of per-modality functions, so its EMAP projection is itself:
 * identical accuracy (ties aside: random parameters, continuous logits). */
static void test_emap_additive(void)
{
    qt_backend_t *be = qt_test_backend("cpu");
    qt_tensor_t p = {0};
    train_small(be, QT_FUSION_LATE_AVG, QT_FUSION_TASK_MIXED, qt_test_seed(), &p, NULL);
    qt_fusion_config_t c = small_cfg(QT_FUSION_LATE_AVG);
    qt_fusion_data_t te;
    CU_ASSERT_EQUAL_FATAL(qt_fusion_task_make(QT_FUSION_TASK_MIXED, 0.3, qt_test_seed(), 1, 40, &te), QT_OK);
    double am = -1, ae = -2;
    CU_ASSERT_EQUAL(qt_fusion_emap(be, &c, &p, &te, 40, &am, &ae), QT_OK);
    CU_ASSERT_DOUBLE_EQUAL(am, ae, 1e-12);
    qt_fusion_data_free(&te);
    qt_tensor_free(&p);
}

/* Tasks: deterministic, balanced labels, and the ground truth of the header. */
static void test_tasks(void)
{
    for (int t = 0; t < QT_FUSION_TASK_COUNT; t++) {
        qt_fusion_data_t a, b;
        CU_ASSERT_EQUAL_FATAL(qt_fusion_task_make((qt_fusion_task_t)t, 0.5, 9, 0, 400, &a), QT_OK);
        CU_ASSERT_EQUAL_FATAL(qt_fusion_task_make((qt_fusion_task_t)t, 0.5, 9, 0, 10, &b), QT_OK);
        CU_ASSERT_EQUAL(memcmp(a.x[1].data, b.x[1].data, (size_t)qt_tensor_numel(&b.x[1]) * sizeof(float)), 0);
        int64_t ones = 0;
        for (int64_t i = 0; i < a.n; i++) ones += ((int32_t *)a.y.data)[i];
        CU_ASSERT(ones > 150 && ones < 250); /* Binomial(400, ½): ±5σ */
        qt_fusion_data_free(&a);
        qt_fusion_data_free(&b);
    }
    CU_ASSERT_EQUAL(qt_fusion_task_bayes(QT_FUSION_TASK_SYNERGY, 1), 0.5);
    CU_ASSERT_EQUAL(qt_fusion_task_bayes(QT_FUSION_TASK_SYNERGY, 3), 1.0);
    CU_ASSERT_EQUAL(qt_fusion_task_bayes(QT_FUSION_TASK_MIXED, 4), 0.75);
    qt_fusion_task_t k;
    CU_ASSERT_EQUAL(qt_fusion_task_parse("synergy", &k), QT_OK);
    CU_ASSERT_EQUAL(k, QT_FUSION_TASK_SYNERGY);
    CU_ASSERT_EQUAL(qt_fusion_task_parse("nope", &k), QT_ERR_ARG);
}

/* Bad input returns an error with a message, never crashes. */
static void test_bad_input(void)
{
    qt_backend_t *cpu = qt_test_backend("cpu"), *ref = qt_test_backend("ref");
    qt_fusion_config_t c = tiny(QT_FUSION_CROSS, 0, 0);
    c.len[1] = 0;
    CU_ASSERT_EQUAL(qt_fusion_config_check(&c), QT_ERR_ARG); /* an empty modality */
    CU_ASSERT(strstr(qt_last_error(), "empty") != NULL);
    c = tiny(QT_FUSION_CROSS, 0, 0);
    c.n_mod = 1;
    CU_ASSERT_EQUAL(qt_fusion_config_check(&c), QT_ERR_ARG); /* cross-attention needs two */
    c = tiny(QT_FUSION_EARLY, 0, 0);
    c.classes = 1;
    CU_ASSERT_EQUAL(qt_fusion_config_check(&c), QT_ERR_ARG);
    c = tiny(QT_FUSION_EARLY, 0, 0);
    int64_t np = qt_fusion_n_params(&c), B = 2, ws = qt_fusion_work_size(&c, B);
    qt_tensor_t p = {0}, g = {0}, w = {0}, x[3] = {{0}}, y = {0}, p64 = {0};
    CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&p, cpu, QT_F32, 1, &np), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&p64, ref, QT_F64, 1, &np), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&g, cpu, QT_F32, 1, &np), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&w, cpu, QT_F32, 1, &ws), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_fusion_init_params(cpu, &c, &p, 1), QT_OK);
    const qt_tensor_t *xp[3];
    for (int m = 0; m < 3; m++) {
        int64_t s[3] = {B, c.len[m], m == 2 ? c.feat[m] + 1 : c.feat[m]}; /* modality 2 has the wrong width */
        CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&x[m], cpu, QT_F32, 3, s), QT_OK);
        qt_tensor_fill_normal(&x[m], 1, (uint64_t)m, 0, 1);
        xp[m] = &x[m];
    }
    CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&y, cpu, QT_I32, 1, &B), QT_OK);
    ((int32_t *)y.data)[0] = 0;
    ((int32_t *)y.data)[1] = 1;
    CU_ASSERT_EQUAL(qt_fusion_backward(cpu, &c, &p, xp, &y, &g, &w, NULL, NULL, NULL), QT_ERR_SHAPE);
    CU_ASSERT(strstr(qt_last_error(), "input 2") != NULL);
    qt_tensor_free(&x[2]);
    int64_t s2[3] = {B, c.len[2], c.feat[2]};
    CU_ASSERT_EQUAL_FATAL(qt_tensor_alloc(&x[2], cpu, QT_F32, 3, s2), QT_OK);
    qt_tensor_fill_normal(&x[2], 1, 2, 0, 1);
    CU_ASSERT_EQUAL(qt_fusion_backward(cpu, &c, &p, xp, &y, &g, &w, NULL, NULL, NULL), QT_OK);
    ((int32_t *)y.data)[1] = 3; /* classes = 3: out of range */
    CU_ASSERT_EQUAL(qt_fusion_backward(cpu, &c, &p, xp, &y, &g, &w, NULL, NULL, NULL), QT_ERR_ARG);
    CU_ASSERT(strstr(qt_last_error(), "label") != NULL);
    ((int32_t *)y.data)[1] = 1;
    CU_ASSERT_NOT_EQUAL(qt_fusion_backward(ref, &c, &p64, xp, &y, &g, &w, NULL, NULL, NULL), QT_OK); /* f32 inputs on ref */
    CU_ASSERT(!qt_fusion_supports(ref, &c, QT_F32, NULL, NULL, NULL, 0));
    qt_fusion_data_t d;
    CU_ASSERT_EQUAL(qt_fusion_task_make(QT_FUSION_TASK_MIXED, 0.5, 1, 0, 0, &d), QT_ERR_ARG);
    for (int m = 0; m < 3; m++) qt_tensor_free(&x[m]);
    qt_tensor_free(&p); qt_tensor_free(&p64); qt_tensor_free(&g); qt_tensor_free(&w); qt_tensor_free(&y);
}

/* Every registered backend with fusion ops that runs off the host (cuda), against the oracle on
 * fresh random inputs: every strategy × (shared, normalize) of the tiny shape (check_vs_ref; cuda
 * with both kernel versions, QT_CUDA_FUSION_V 1 and 2), the tasks' shape at d = 64 with batch 33
 * (cross with separate and shared weights, hybrid: wide rows through the warp kernels, the
 * sgemms, more than one chunk of the column sums; odd batch: work offsets not 16-byte aligned, so
 * the scalar paths of version 2), and at d = 128 batch 32 and d = 256 batch 16 (aligned: version
 * 2's 16-byte LayerNorm rows, elementwise kernels and cuBLASLt bias epilogue); then a
 * short training run on the device lowers the loss, reaches the cpu backend's train accuracy
 * within 0.05 (the two start from identical parameters and batches, and differ by f32 rounding
 * only) and gives bitwise the same parameters twice. Skips, saying why, when no such backend is
 * built or none can run here (no GPU). */
static void test_device_backends(void)
{
    int tested = 0;
    for (int bi = 0; bi < qt_backend_count(); bi++) {
        const qt_backend_iface_t *f = qt_backend_iface_get(bi);
        char why[256];
        if (!f->ops[QT_TECH_FUSION] || f->device_kind == QT_DEVICE_HOST) continue;
        if (!qt_backend_iface_available(f, why, sizeof why)) {
            printf("\n  %s: skipped, not available here: %s ", f->name, why);
            continue;
        }
        qt_backend_t *be = qt_test_backend(f->name);
        double worst = 0;
        setenv("QT_CUDA_FUSION_V", "1", 1); /* cuda: session 3's kernels (the default is version 2) */
        check_all_strategies(be, 250, &worst);
        qt_fusion_config_t c1 = small_cfg(QT_FUSION_CROSS);
        c1.d = 64;
        c1.d_ff = 128;
        check_vs_ref(be, &c1, 33, qt_test_seed() ^ 299u, &worst);
        unsetenv("QT_CUDA_FUSION_V");
        check_all_strategies(be, 200, &worst);
        qt_fusion_strategy_t big[5] = {QT_FUSION_CROSS, QT_FUSION_CROSS, QT_FUSION_HYBRID, QT_FUSION_CROSS,
                                       QT_FUSION_HYBRID};
        int dims[5] = {64, 64, 64, 128, 256}, batch[5] = {33, 33, 33, 32, 16};
        for (int i = 0; i < 5; i++) {
            qt_fusion_config_t c = small_cfg(big[i]);
            c.d = dims[i];
            c.d_ff = 2 * dims[i];
            c.shared_cross = i == 1;
            check_vs_ref(be, &c, batch[i], qt_test_seed() ^ (uint64_t)(300 + i), &worst);
        }
        printf("\n  %s vs ref: max_rel %.2e (tolerance %g of scale) ", f->name, worst, qt_verify_tol_fusion.scale);
        qt_tensor_t p = {0}, p2 = {0}, pc = {0};
        double acc = 0, acc_cpu = 0, loss = train_small(be, QT_FUSION_CROSS, QT_FUSION_TASK_REDUNDANT, qt_test_seed(), &p, &acc);
        double loss_cpu = train_small(qt_test_backend("cpu"), QT_FUSION_CROSS, QT_FUSION_TASK_REDUNDANT, qt_test_seed(), &pc, &acc_cpu);
        printf("\n  %s cross training: final loss %.4f (cpu %.4f), train accuracy %.3f (cpu %.3f) ", f->name, loss,
               loss_cpu, acc, acc_cpu);
        CU_ASSERT(loss < 0.5 * log(2.0));
        CU_ASSERT(fabs(acc - acc_cpu) <= 0.05);
        train_small(be, QT_FUSION_CROSS, QT_FUSION_TASK_REDUNDANT, qt_test_seed(), &p2, NULL);
        qt_tensor_t h1 = {0}, h2 = {0};
        CU_ASSERT_EQUAL_FATAL(qt_tensor_to_host(be, &p, &h1), QT_OK);
        CU_ASSERT_EQUAL_FATAL(qt_tensor_to_host(be, &p2, &h2), QT_OK);
        CU_ASSERT_EQUAL(memcmp(h1.data, h2.data, (size_t)qt_tensor_numel(&h1) * sizeof(float)), 0);
        qt_tensor_free(&h1); qt_tensor_free(&h2);
        qt_tensor_free(&p); qt_tensor_free(&p2); qt_tensor_free(&pc);
        tested++;
    }
    if (!tested) printf("\n  skipped: no backend with fusion ops that runs off the host can run here ");
}

QT_TEST_MAIN("fusion", {"finite-difference gradients of every parameter, every strategy (ref)", test_gradients},
             {"every host backend vs ref: logits, loss, gradients", test_backends_vs_ref},
             {"device backends (cuda) vs ref, training on the device", test_device_backends},
             {"training lowers the loss", test_loss_decreases}, {"same seed, identical weights", test_determinism},
             {"EMAP of an additive model is the model", test_emap_additive}, {"synthetic tasks", test_tasks},
             {"bad input", test_bad_input})
