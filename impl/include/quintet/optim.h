/* optim.h — first-order optimizers with torch.optim's exact update formulas,
 * defaults and option names, learning-rate schedules, and checkpointable state.
 *
 * Optimizers (defaults as in PyTorch 2.x unless said otherwise; all take `maximize`):
 *   sgd       lr=1e-3 momentum=0 dampening=0 nesterov=false weight_decay=0.
 *             g += wd·θ; b = g on the first step, else b = μb + (1−dampening)g;
 *             g = nesterov ? g + μb : b; θ −= lr·g.
 *   adam      lr=1e-3 betas=(0.9,0.999) eps=1e-8 weight_decay=0 amsgrad=false.
 *             g += wd·θ; m = lerp(m, g, 1−β₁); v = β₂v + (1−β₂)g²; [v̄ = max(v̄, v)];
 *             θ −= (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + eps).
 *   adamw     as adam with weight_decay=1e-2 applied decoupled: θ ← θ(1 − lr·wd) first.
 *   radam     lr=1e-3 betas=(0.9,0.999) eps=1e-8 weight_decay=0 decoupled_weight_decay=false.
 *             ρ∞ = 2/(1−β₂) − 1, ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ); if ρₜ > 5 (torch's threshold):
 *             θ −= (m/(1−β₁ᵗ))·lr·(√(1−β₂ᵗ)/(√v + eps))·rₜ with
 *             rₜ = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ)); else θ −= (m/(1−β₁ᵗ))·lr.
 *   rmsprop   lr=1e-2 alpha=0.99 eps=1e-8 weight_decay=0 momentum=0 centered=false.
 *             v = αv + (1−α)g²; centered: ḡ = lerp(ḡ, g, 1−α), d = √(v − ḡ²) + eps, else d = √v + eps;
 *             momentum: b = μb + g/d, θ −= lr·b; else θ −= lr·g/d.
 *   adagrad   lr=1e-2 lr_decay=0 weight_decay=0 initial_accumulator_value=0 eps=1e-10.
 *             clr = lr/(1 + (t−1)·lr_decay); s += g²; θ −= clr·g/(√s + eps).
 *   adabelief the authors' adabelief-pytorch 0.2.x (AdaBelief.py): lr=1e-3 betas=(0.9,0.999)
 *             eps=1e-16 weight_decay=0 amsgrad=false weight_decouple=true fixed_decay=false
 *             rectify=true degenerated_to_sgd=true.
 *             decay: θ ← θ(1 − lr·wd) (weight_decouple; fixed_decay: θ(1 − wd)) else g += wd·θ;
 *             m = β₁m + (1−β₁)g; s = β₂s + (1−β₂)(g−m)² + eps (eps stays in the state);
 *             [s̄ = max(s̄, s)]; not rectify: θ −= (lr/(1−β₁ᵗ))·m/(√s/√(1−β₂ᵗ) + eps);
 *             rectify (RAdam-style, threshold N_sma ≥ 5 as the package): θ −= lr·k·m/(√s + eps)
 *             with k = √((1−β₂ᵗ)(N−4)/(N∞−4)·(N−2)/N·N∞/(N∞−2))/(1−β₁ᵗ); when N < 5 and
 *             degenerated_to_sgd: θ −= lr·m/(1−β₁ᵗ), otherwise no update.
 *   lamb      You et al. 2020 ("Large batch optimization for deep learning", ICLR, Alg. 2)
 *             in the formulation of timm's Lamb (timm.optim.lamb) with bias correction,
 *             grad_averaging, and no global gradient-norm clipping (max_grad_norm=None):
 *             lr=1e-3 betas=(0.9,0.999) eps=1e-6 weight_decay=1e-2 trust_clip=false always_adapt=true.
 *             m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²; r = (m/(1−β₁ᵗ)) / (√v/√(1−β₂ᵗ) + eps) + wd·θ;
 *             per parameter tensor ("layer"): τ = ‖θ‖/‖r‖ (1 when either norm is 0; φ = identity),
 *             trust_clip: τ = min(τ, 1); the ratio is applied when wd ≠ 0 or always_adapt
 *             (always_adapt=false is timm's default); θ −= lr·τ·r.
 *   adalr     the source's "adaptive learning-rate scheduler", done correctly: from the
 *             bias-corrected running mean m̂ = m/(1−β₁ᵗ) and (uncentred) variance
 *             v̂ = v/(1−β₂ᵗ) of the gradient (m = lerp(m, g, 1−β₁), v = β₂v + (1−β₂)g²) it forms
 *             a PER-PARAMETER step size η = lr/(√v̂ + eps) — a tensor kept in the state
 *             (slot 2, readable with qt_optim_state), not a tensor written into the scalar lr —
 *             and steps θ −= η ⊙ m̂. Defaults lr=1e-3 betas=(0.9,0.999) eps=1e-8 weight_decay=0 (L2).
 *             Mathematically this is Adam's step; tests check the two agree to rounding.
 * Schedules (lr used by step t = 0, 1, …; closed forms of torch.optim.lr_scheduler stepped
 * once per optimizer step): constant; step (StepLR: lr·γ^⌊t/step_size⌋); exponential
 * (ExponentialLR: lr·γᵗ); warmup_cosine (SequentialLR of LinearLR(start_factor, 1, warmup)
 * and CosineAnnealingLR(T_max, eta_min) at milestone warmup: t < W: lr·(s + (1−s)t/W);
 * t ≥ W: η_min + (lr−η_min)(1 + cos(π(t−W)/T_max))/2, periodic beyond T_max like torch).
 *
 * Backends: the optimizer runs on a backend INSTANCE (backend.h); its ops table
 * (qt_optim_ops_t, found with qt_backend_ops(be, QT_TECH_OPTIM)) updates tensors on the
 * instance's device, and the state is allocated there through the instance. ref — the oracle,
 * double only, written as the same sequence of whole-tensor operations as torch's
 * single-tensor code (same rounding order, temporaries and all); cpu — float and double, one
 * fused pass over parameter, gradient and state per tensor (LAMB: two passes, the norms need a
 * full pass first), OpenMP with the instance's thread count above QT_OPTIM_OMP_MIN elements;
 * cuda — every optimizer, f32 and f64, as fused multi-tensor kernels: one launch steps up to 32
 * tensors (LAMB: three launches, its norms first), bitwise equal to cpu except LAMB's norm
 * summation order (impl/optim/cuda/optim.cu). The scalars
 * of a step (bias corrections, ρₜ, …) are computed once on the host, in double, in the same
 * way for all.
 * Counters: each step adds QT_CTR_OPT_STEPS 1, QT_CTR_PARAMS_UPDATED n, QT_CTR_FLOPS, and
 * the algorithmic bytes of qt_optim_bytes to QT_CTR_BYTES_READ/WRITTEN.
 * Checkpoints: qt_optim_save/qt_optim_load serialise config, schedule, step count and all state;
 * a resumed run continues bitwise identically. Bad hyperparameters (lr < 0, betas outside
 * [0, 1), eps ≤ 0, weight_decay < 0, …) are rejected with QT_ERR_ARG and a message.
 * Tests: tests/optim/test_optim.c (against PyTorch trajectories in tests/optim/). */
#ifndef QUINTET_OPTIM_H
#define QUINTET_OPTIM_H

#include "quintet/api.h"

#include <stddef.h>
#include <stdint.h>

#include "quintet/status.h"
#include "quintet/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QT_OPTIM_OMP_MIN 65536 /* tensors with fewer elements are updated by one thread */
#define QT_OPTIM_MAX_SLOTS 3   /* state tensors per parameter tensor */

typedef enum {
    QT_OPTIM_SGD = 0,
    QT_OPTIM_ADAM,
    QT_OPTIM_ADAMW,
    QT_OPTIM_RADAM,
    QT_OPTIM_RMSPROP,
    QT_OPTIM_ADAGRAD,
    QT_OPTIM_ADABELIEF,
    QT_OPTIM_LAMB,
    QT_OPTIM_ADALR,
    QT_OPTIM_COUNT
} qt_optim_kind_t;

typedef enum {
    QT_SCHED_CONSTANT = 0,
    QT_SCHED_STEP,
    QT_SCHED_EXPONENTIAL,
    QT_SCHED_WARMUP_COSINE,
    QT_SCHED_COUNT
} qt_sched_kind_t;

/* Learning-rate schedule (see the header comment for the formulas). */
typedef struct {
    qt_sched_kind_t kind;
    int64_t step_size;   /* step: decay every step_size steps (> 0) */
    double gamma;        /* step, exponential: factor (> 0) */
    int64_t warmup;      /* warmup_cosine: warm-up steps W (≥ 0) */
    double start_factor; /* warmup_cosine: first lr = start_factor·lr, in (0, 1] (torch LinearLR) */
    int64_t t_max;       /* warmup_cosine: cosine half-period T_max (> 0) */
    double eta_min;      /* warmup_cosine: floor of the cosine (≥ 0) */
} qt_schedule_t;

/* Every hyperparameter of every optimizer, by torch's names; unused ones are ignored. */
typedef struct {
    qt_optim_kind_t kind;
    double lr;
    double beta1, beta2; /* betas */
    double eps;
    double weight_decay;
    double momentum, dampening; /* sgd, rmsprop (momentum) */
    double alpha;               /* rmsprop smoothing constant */
    double lr_decay, initial_accumulator_value; /* adagrad */
    int nesterov, amsgrad, maximize, centered;
    int decoupled_weight_decay; /* radam (adamw sets it internally) */
    int weight_decouple, fixed_decay, rectify, degenerated_to_sgd; /* adabelief */
    int trust_clip, always_adapt;                                  /* lamb */
} qt_optim_config_t;

/* Names: "sgd", "adam", "adamw", "radam", "rmsprop", "adagrad", "adabelief", "lamb", "adalr". */
QT_API const char *qt_optim_kind_name(qt_optim_kind_t k);
QT_API qt_status_t qt_optim_kind_parse(const char *s, qt_optim_kind_t *out);
/* torch's (or the stated package's) defaults for kind k. */
QT_API qt_status_t qt_optim_config_default(qt_optim_kind_t k, qt_optim_config_t *c);
/* Set one option by its torch name: lr, betas ("0.9,0.999"), eps, weight_decay, momentum,
 * dampening, nesterov, amsgrad, maximize, alpha, centered, lr_decay, initial_accumulator_value,
 * decoupled_weight_decay, weight_decouple, fixed_decay, rectify, degenerated_to_sgd,
 * trust_clip, always_adapt. '-' in key is read as '_'. Booleans: true/false/1/0/yes/no.
 * QT_ERR_ARG for an unknown key, an option the optimizer does not have, or a bad value. */
QT_API qt_status_t qt_optim_config_set(qt_optim_config_t *c, const char *key, const char *value);
/* 1 when option `key` belongs to optimizer kind k. */
QT_API int qt_optim_has_option(qt_optim_kind_t k, const char *key);
/* Validate hyperparameters as torch does (and stricter: eps > 0). */
QT_API qt_status_t qt_optim_config_check(const qt_optim_config_t *c);
/* "lr=0.001,betas=0.9/0.999,..." — only the options of its kind; returns the length needed. */
QT_API size_t qt_optim_config_format(const qt_optim_config_t *c, char *buf, size_t size);
/* Number of state tensors per parameter tensor for this config (0..QT_OPTIM_MAX_SLOTS). */
QT_API int qt_optim_slots(const qt_optim_config_t *c);
/* Algorithmic bytes read and written by one step over n elements of dtype dt (counted
 * once per stream; what the cpu backend moves), and its FLOPs. */
QT_API void qt_optim_work(const qt_optim_config_t *c, qt_dtype_t dt, size_t n, double *bytes_read,
                   double *bytes_written, double *flops);

/* Schedules. */
QT_API const char *qt_sched_kind_name(qt_sched_kind_t k);
QT_API qt_status_t qt_sched_kind_parse(const char *s, qt_sched_kind_t *out);
/* A constant schedule. */
QT_API qt_schedule_t qt_schedule_constant(void);
QT_API qt_status_t qt_schedule_check(const qt_schedule_t *s);
/* Learning rate used by step t (t = 0 for the first step) given the base lr. */
QT_API double qt_schedule_lr(const qt_schedule_t *s, double base_lr, int64_t t);

/* ---- ops (one table per backend, found through the registry: backend.h) ---- */
typedef struct qt_optim_step_info qt_optim_step_info_t; /* per-step scalars (internal) */

typedef struct {
    /* 1 when backend instance be runs config c with dtype dt (be may be NULL: the answer
     * of the backend's table for any instance). */
    int (*supports)(const qt_backend_t *be, const qt_optim_config_t *c, qt_dtype_t dt);
    /* Update one contiguous parameter tensor in place from grad, with its state slots
     * (qt_optim_slots(c) tensors of the same size); every tensor lives on be's device.
     * Work may be queued (cuda): errors then surface at qt_backend_synchronize. */
    qt_status_t (*update)(qt_backend_t *be, const qt_optim_config_t *c, const qt_optim_step_info_t *s,
                          qt_tensor_t *param, const qt_tensor_t *grad, qt_tensor_t *const *state);
    /* Optional: update n tensors at once (a fused multi-tensor step: cuda launches one kernel
     * for many tensors), state[i * qt_optim_slots(c) + k] being slot k of tensor i. NULL: the
     * optimizer calls update once per tensor. */
    qt_status_t (*update_many)(qt_backend_t *be, const qt_optim_config_t *c, const qt_optim_step_info_t *s, int n,
                               qt_tensor_t *const *params, const qt_tensor_t *const *grads, qt_tensor_t *state);
} qt_optim_ops_t;

/* 1 when instance be has optimizer ops that run c in dt; else 0 with the reason in why. */
QT_API int qt_optim_supports(const qt_backend_t *be, const qt_optim_config_t *c, qt_dtype_t dt, char *why, size_t why_size);

/* ---- an optimizer over a list of parameter tensors ---- */
typedef struct {
    qt_optim_config_t cfg;
    qt_schedule_t sched;
    qt_backend_t *be;          /* the instance it runs on (not owned) */
    const qt_optim_ops_t *ops; /* be's optimizer ops */
    qt_dtype_t dtype;
    int n_tensors;
    size_t *sizes;  /* elements of each parameter tensor */
    int n_slots;
    qt_tensor_t *state; /* state[i * n_slots + k]: slot k of tensor i, sizes[i] elements of dtype on be's device */
    int64_t step;   /* steps taken */
    double last_lr; /* lr used by the last step */
    qt_tensor_t *staging; /* qt_optim_step_host on a device backend: 2·n_tensors tensors there */
} qt_optim_t;

/* Validate cfg and sched, take backend instance be (it must have optimizer ops supporting cfg
 * and dt: QT_ERR_UNSUPPORTED with the reason otherwise), allocate zeroed state on be's device
 * through be (adagrad: initial_accumulator_value). sched may be NULL (constant). be must
 * outlive the optimizer. */
QT_API qt_status_t qt_optim_init(qt_optim_t *o, qt_backend_t *be, const qt_optim_config_t *cfg, const qt_schedule_t *sched,
                          qt_dtype_t dt, int n_tensors, const size_t *sizes);
/* Release storage; safe on a zeroed or already-freed optimizer. */
QT_API void qt_optim_free(qt_optim_t *o);
/* One step: params[i] (contiguous, sizes[i] elements of the optimizer's dtype, on be's device)
 * updated in place from grads[i] (same); QT_ERR_ARG naming the tensor and its device
 * otherwise. On a device backend the step is queued on the instance: synchronize (or copy
 * back) before reading. */
QT_API qt_status_t qt_optim_step(qt_optim_t *o, qt_tensor_t *const *params, const qt_tensor_t *const *grads);
/* One step on HOST arrays params[i], grads[i] (sizes[i] elements of the optimizer's dtype):
 * on a host backend they are wrapped and updated in place; on a device backend they are
 * copied to staging tensors on the device (allocated once), stepped there, and the
 * parameters copied back (synchronized). For tests, tools and small problems whose
 * gradients are computed on the host. */
QT_API qt_status_t qt_optim_step_host(qt_optim_t *o, void *const *params, const void *const *grads);
/* The learning rate the next step will use. */
QT_API double qt_optim_lr(const qt_optim_t *o);
/* Slot k of tensor i, a tensor on be's device (NULL when out of range). Slot meaning per kind:
 * sgd {momentum_buffer}; adam/adamw {exp_avg, exp_avg_sq, max_exp_avg_sq}; radam {exp_avg, exp_avg_sq};
 * rmsprop {square_avg, momentum_buffer, grad_avg} (unused ones absent, in this order);
 * adagrad {sum}; adabelief {exp_avg, exp_avg_var, max_exp_avg_var}; lamb {exp_avg, exp_avg_sq};
 * adalr {exp_avg, exp_avg_sq, step_size}. */
QT_API qt_tensor_t *qt_optim_state(const qt_optim_t *o, int i, int k);

/* Serialise everything needed to resume into a fresh qt_alloc'd buffer (*buf, *len;
 * release with qt_free). Little-endian host layout, magic "QTOPTIM1". Device state is
 * copied through the host, so a checkpoint of a cuda optimizer loads on cpu and back. */
QT_API qt_status_t qt_optim_save(const qt_optim_t *o, void **buf, size_t *len);
/* Restore into o, which must have been initialised with the same kind, dtype and sizes
 * (config and schedule are taken from the checkpoint). QT_ERR_FORMAT on a foreign or
 * truncated buffer, QT_ERR_SHAPE when the shapes differ. */
QT_API qt_status_t qt_optim_load(qt_optim_t *o, const void *buf, size_t len);
/* The same through a file. */
QT_API qt_status_t qt_optim_save_file(const qt_optim_t *o, const char *path);
QT_API qt_status_t qt_optim_load_file(qt_optim_t *o, const char *path);

#ifdef __cplusplus
}
#endif
#endif
