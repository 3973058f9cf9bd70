/* fusion.h — multimodal fusion: modality-specific encoders, MulT-style cross-modal
 * attention and the early / late / gated / hybrid baselines, with hand-written backward
 * passes, trained end to end with Adam (impl/optim); plus the seeded synthetic tasks the
 * fusion_accuracy suite trains them on. Used by suites/fusion_accuracy.c,
 * harness/verify_fusion.c and tests/fusion/test_fusion.c (run: make test;
 * quintet run fusion_accuracy; quintet verify fusion).
 *
 * ARCHITECTURE (width d, feed-forward width f = d_ff, classes C, M modalities; every
 * "Linear" is y = xWᵀ + b as torch.nn.Linear, every LN a LayerNorm with affine γ, β, eps 1e-5;
 * GELU the exact erf form). Input of modality m: X_m (B, L_m, F_m).
 *   input normalisation (cfg.normalize, the source's "unify the scales"): each token row of
 *     X_m is standardised over its F_m features (LN without affine); no parameters.
 *   encoder m (per token t):  h_m[t] = LN_m(GELU(Linear_m(x_t))) + e_m + pos_m[t]
 *     (Linear F_m→d; e_m a learned modality embedding (d); pos_m learned positions (L_m, d)).
 *   summaries: p_m = mean_t h_m[t]  (d).
 *   head (every strategy's classifier): Linear(in→f) → GELU → Linear(f→C).
 * Strategies (qt_fusion_strategy_t):
 *   EARLY         logits = head([p_1; …; p_M])  (concatenated features, one shared encoder).
 *   LATE_AVG      logits = (1/M) Σ_m head_m(p_m)  (per-modality classifiers, logits averaged).
 *   LATE_LEARNED  logits = Σ_m softmax(a)_m head_m(p_m), a ∈ R^M learned (one set of weights).
 *   GATED         g = softmax(Linear_g([p_1; …; p_M]))  (M gates per sample),
 *                 logits = head(Σ_m g_m p_m).
 *   CROSS         MulT crossmodal blocks, one per ordered pair (α ← β), α ≠ β:
 *                   A = LN_q(h_α), S = LN_k(h_β),
 *                   y1 = h_α + Linear_o(softmax((A W_q + b_q)(S W_k + b_k)ᵀ/√d) (S W_v + b_v))
 *                   y2 = y1 + Linear_2(GELU(Linear_1(LN_2(y1))))      (Linear_1: d→f, Linear_2: f→d)
 *                 (single head); z_{αβ} = mean_t y2[t]; logits = head([z_{αβ} over the M(M−1)
 *                 pairs in order α = 0.., β = 0.., β ≠ α]). cfg.shared_cross = 0: separate
 *                 weights per direction; 1: one set of weights shared by all directions (the
 *                 two forms of the source's "shared attention weights").
 *   HYBRID        CROSS's logits + LATE_AVG's logits (cross-attention plus per-modality heads).
 * Parameters live in ONE flat tensor (qt_fusion_n_params elements, layout fixed by the
 * config in the order above), gradients in another of the same size, so one Adam state
 * covers the model. Initialisation (qt_fusion_init_params; Philox, rounded to f32 whatever
 * the dtype, so f32 and f64 models start identical): Linear W, b ~ U(±1/√in) as torch;
 * LN γ = 1, β = 0; e_m, pos_m ~ N(0, 0.1²); a = 0.
 * Loss: softmax cross-entropy, mean over the batch (torch's cross_entropy).
 *
 * BACKENDS. The graph above (common.c) is written once and drives a backend's primitive
 * kernels (linear, GELU, LayerNorm, single-head attention, mean pooling, embeddings, softmax
 * mixing, cross-entropy: impl/fusion/internal.h) on tensors of be's device:
 *   ref  the oracle: f64 tensors, plain loops, one thread (ref.c);
 *   cpu  f32 tensors, OpenBLAS sgemm for every matrix product (batched over all tokens),
 *        OpenMP loops with be->threads for the rest (cpu.c).
 * qt_fusion_supports says which dtype a backend takes. Deterministic: the same seed gives
 * bitwise-identical parameters after training (for a fixed thread count).
 *
 * SYNTHETIC TASKS (qt_fusion_task_make; C = 2 classes, chance 0.5). Three modalities of
 * different dimensions, lengths and distributions:
 *   text  L=6,  F=12: symbol prototypes N(0,1) per entry;
 *   image L=4,  F=20: prototypes ×4 (large scale);
 *   audio L=8,  F=6 : prototypes ×0.25 + 2 (small scale, offset).
 * Each modality has 16 symbols (0..7 "markers", 8..15 "background") with fixed prototypes
 * drawn from the task's world seed; a sample puts ONE marker at a random position and
 * background symbols elsewhere; every token gets Gaussian noise of std noise × the
 * modality's scale. Labels:
 *   REDUNDANT  y uniform; every modality's marker is y: any single modality determines y.
 *   UNIQUE     only image's marker is y; text and audio markers are uniform in {0, 1},
 *              independent of y.
 *   SYNERGY    text marker a uniform in 0..7, image marker b = π(a) when y = 1 and uniform
 *              over the 7 others when y = 0 (π a hidden permutation of the world): each
 *              modality alone is exactly at chance (a and b are each uniform whatever y);
 *              audio marker uniform (no information).
 *   MIXED      text/image carry y as in SYNERGY, and audio carries y as in REDUNDANT in a
 *              random half of the samples (else a uniform marker): audio alone reaches 0.75.
 * qt_fusion_task_bayes(kind, subset) gives the best achievable accuracy (noise-free) from a
 * subset of modalities: the ground truth for modality selection.
 * Tests: tests/fusion/test_fusion.c. */
#ifndef QUINTET_FUSION_H
#define QUINTET_FUSION_H

#include <stddef.h>
#include <stdint.h>

#include "quintet/api.h"
#include "quintet/backend.h"
#include "quintet/status.h"
#include "quintet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QT_FUSION_MAX_MOD 4

typedef enum {
    QT_FUSION_EARLY = 0,
    QT_FUSION_LATE_AVG,
    QT_FUSION_LATE_LEARNED,
    QT_FUSION_GATED,
    QT_FUSION_CROSS,
    QT_FUSION_HYBRID,
    QT_FUSION_STRATEGY_COUNT
} qt_fusion_strategy_t;

typedef struct {
    int n_mod;                   /* M, 1..QT_FUSION_MAX_MOD (CROSS/HYBRID need M >= 2) */
    int len[QT_FUSION_MAX_MOD];  /* tokens per modality L_m >= 1 */
    int feat[QT_FUSION_MAX_MOD]; /* features per token F_m >= 1 */
    int classes;                 /* C >= 2 */
    int d;                       /* model width >= 1 */
    int d_ff;                    /* feed-forward and head hidden width >= 1 */
    qt_fusion_strategy_t strategy;
    int shared_cross; /* CROSS/HYBRID: 1 = one set of cross-attention weights for all directions */
    int normalize;    /* 1 = standardise every input token over its features */
} qt_fusion_config_t;

/* "early", "late_avg", "late_learned", "gated", "cross", "hybrid"; parse: QT_ERR_ARG otherwise. */
QT_API const char *qt_fusion_strategy_name(qt_fusion_strategy_t s);
QT_API qt_status_t qt_fusion_strategy_parse(const char *s, qt_fusion_strategy_t *out);
/* Check a configuration (QT_ERR_ARG with the first problem). */
QT_API qt_status_t qt_fusion_config_check(const qt_fusion_config_t *cfg);
/* Number of parameters of the model cfg describes. */
QT_API int64_t qt_fusion_n_params(const qt_fusion_config_t *cfg);
/* Elements (of the model's dtype) of the work tensor a forward/backward over batch B needs. */
QT_API int64_t qt_fusion_work_size(const qt_fusion_config_t *cfg, int64_t B);
/* FLOPs of one forward over batch B (matrix products 2·m·n·k, attention, element-wise
 * ignored); a training step (forward + backward) is counted as 3× that. */
QT_API double qt_fusion_flops(const qt_fusion_config_t *cfg, int64_t B);

/* A backend's fusion ops (qt_backend_ops(be, QT_TECH_FUSION)): its dtype and kernels. */
struct qt_fusion_kernels;
typedef struct {
    qt_dtype_t dtype;                         /* the one dtype this backend computes in */
    const struct qt_fusion_kernels *kernels;  /* impl/fusion/internal.h */
} qt_fusion_ops_t;

/* 1 when backend instance be runs cfg with tensors of dtype dt and every operand given
 * (may be NULL) lives on be's device; else 0 and the reason in why (may be NULL). */
QT_API int qt_fusion_supports(const qt_backend_t *be, const qt_fusion_config_t *cfg, qt_dtype_t dt,
                       const qt_tensor_t *params, const qt_tensor_t *const *x, char *why, size_t why_size);
/* The dtype backend be computes fusion in (QT_ERR_UNSUPPORTED when it has no fusion ops). */
QT_API qt_status_t qt_fusion_dtype(const qt_backend_t *be, qt_dtype_t *dt);

/* Fill params (qt_fusion_n_params elements on be's device, be's dtype) as the file comment says. */
QT_API qt_status_t qt_fusion_init_params(qt_backend_t *be, const qt_fusion_config_t *cfg, qt_tensor_t *params,
                                  uint64_t seed);
/* logits (B, C) of inputs x[m] (B, L_m, F_m), all on be's device in be's dtype; work holds
 * at least qt_fusion_work_size(cfg, B) elements (1-D). */
QT_API qt_status_t qt_fusion_forward(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                              const qt_tensor_t *const *x, qt_tensor_t *logits, qt_tensor_t *work);
/* Forward, mean cross-entropy against labels (B) i32 in [0, C), and its gradient with
 * respect to every parameter into grads (overwritten). *loss and *correct (rows whose argmax
 * is the label) may be NULL. logits may be NULL. */
QT_API qt_status_t qt_fusion_backward(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                               const qt_tensor_t *const *x, const qt_tensor_t *labels, qt_tensor_t *grads,
                               qt_tensor_t *work, qt_tensor_t *logits, double *loss, int64_t *correct);

/* ---- data sets (host, f32 inputs, i32 labels) ---- */
typedef struct {
    int n_mod;
    int64_t n;                       /* samples */
    qt_tensor_t x[QT_FUSION_MAX_MOD]; /* (n, L_m, F_m) f32 */
    qt_tensor_t y;                   /* (n) i32 */
} qt_fusion_data_t;
QT_API void qt_fusion_data_free(qt_fusion_data_t *d);

typedef enum {
    QT_FUSION_TASK_REDUNDANT = 0,
    QT_FUSION_TASK_UNIQUE,
    QT_FUSION_TASK_SYNERGY,
    QT_FUSION_TASK_MIXED,
    QT_FUSION_TASK_COUNT
} qt_fusion_task_t;
#define QT_FUSION_TASK_MODS 3 /* text, image, audio */
QT_API const char *qt_fusion_task_name(qt_fusion_task_t t);
QT_API qt_status_t qt_fusion_task_parse(const char *s, qt_fusion_task_t *out);
/* "text", "image", "audio". */
QT_API const char *qt_fusion_modality_name(int m);
/* Set n_mod, len, feat and classes of cfg for the tasks (other fields untouched). */
QT_API void qt_fusion_task_shape(qt_fusion_config_t *cfg);
/* n samples of task t: the world (prototypes, hidden map) from world_seed, the samples from
 * stream `split` (e.g. 0 train, 1 test), token noise std = noise × the modality's scale. */
QT_API qt_status_t qt_fusion_task_make(qt_fusion_task_t t, double noise, uint64_t world_seed, uint64_t split, int64_t n,
                                qt_fusion_data_t *out);
/* Best achievable accuracy (noise-free) using only the modalities in bit mask `subset`. */
QT_API double qt_fusion_task_bayes(qt_fusion_task_t t, unsigned subset);
/* Zero modality m of every sample (a missing modality: zeros, MultiBench's convention). */
QT_API qt_status_t qt_fusion_data_drop(qt_fusion_data_t *d, int m);
/* Add N(0, (sigma · the modality's RMS)²) to every input value (stream `stream`). */
QT_API qt_status_t qt_fusion_data_add_noise(qt_fusion_data_t *d, double sigma, uint64_t seed, uint64_t stream);

/* ---- training and evaluation ---- */
typedef struct {
    int steps;       /* Adam steps */
    int batch;       /* samples per step (batches drawn by a seeded shuffle, epoch after epoch) */
    double lr;       /* Adam learning rate (torch defaults otherwise) */
    uint64_t seed;   /* parameter init and shuffling */
} qt_fusion_train_opts_t;

typedef struct {
    double final_loss; /* mean loss of the last 10% of steps */
    double seconds;    /* wall time of the steps (batch loading included) */
    double flops;      /* 3 × forward FLOPs per sample × samples processed */
    int64_t samples;
} qt_fusion_train_stats_t;

/* The order in which epoch `epoch` (0, 1, …) of training with `seed` visits the n samples: a
 * permutation of 0..n-1 into perm (Fisher–Yates on Philox stream 300 + epoch). qt_fusion_train's
 * order, and every rank's in data-parallel training (dist.h), so both see the same batches. */
QT_API void qt_fusion_epoch_order(int64_t *perm, int64_t n, uint64_t seed, uint64_t epoch);

/* Train the model cfg on backend be from fresh parameters (seed) into params (on be's device,
 * qt_fusion_n_params elements, be's dtype). stats may be NULL. */
QT_API qt_status_t qt_fusion_train(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_fusion_data_t *train,
                            const qt_fusion_train_opts_t *o, qt_tensor_t *params, qt_fusion_train_stats_t *stats);
/* Accuracy of params on data. */
QT_API qt_status_t qt_fusion_evaluate(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                               const qt_fusion_data_t *data, double *accuracy);
/* EMAP (Hessel & Lee 2020) on the first n samples of data: the accuracy of the model and of its
 * additive projection f̂(i) = Σ_m mean_j f(x_m^i, x_{−m}^j) − (M−1)·mean over all of those
 * (logits; modality m from sample i, the others together from sample j; exact EMAP for M = 2). */
QT_API qt_status_t qt_fusion_emap(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                           const qt_fusion_data_t *data, int64_t n, double *acc_model, double *acc_emap);

#ifdef __cplusplus
}
#endif
#endif
