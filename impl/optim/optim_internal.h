/* optim_internal.h — what the optimizer core (optim.c) shares with its backends
 * (ref.c, cpu.c, impl/backends/cuda/cuda.cu): the per-step scalars, computed once per step in double exactly as
 * torch's Python code computes them (Python floats are C doubles; x**y is pow), and
 * the slot layout of each optimizer's state. Not a public header. */
#ifndef QUINTET_OPTIM_INTERNAL_H
#define QUINTET_OPTIM_INTERNAL_H

#include "quintet/optim.h"

#ifdef __cplusplus
extern "C" { /* cuda.cu is compiled as C++ */
#endif

struct qt_optim_step_info {
    int64_t t;       /* this step's number, 1 for the first step */
    double lr;       /* scheduled learning rate of this step */
    double bc1, bc2; /* 1 − β₁ᵗ, 1 − β₂ᵗ */
    double step_size; /* adam: lr/bc1 */
    double bc2_sqrt;  /* adam, adabelief, lamb, adalr: math.sqrt(bc2) */
    double decay;     /* decoupled decay factor 1 − lr·wd (adabelief fixed_decay: 1 − wd) */
    /* radam */
    int radam_rect;      /* ρₜ > 5 */
    double radam_rect_r; /* rₜ = (…) ** 0.5 */
    double radam_bc2_pow; /* bc2 ** 0.5 */
    /* adagrad */
    double clr;
    /* adabelief rectification */
    int ab_sma_ok;       /* N_sma ≥ 5 */
    double ab_step_size; /* k (see optim.h); −1 when no update */
};

/* Slot indices per kind and options (−1 when absent). */
typedef struct {
    int m, v, vmax;  /* first moment, second moment/variance/sum, max of it */
    int buf, gavg;   /* momentum buffer, rmsprop grad_avg */
    int eta;         /* adalr step size */
} qt_optim_layout_t;

/* The slot layout of config c; returns the number of slots. */
int qt_optim_layout(const qt_optim_config_t *c, qt_optim_layout_t *l);

/* The data addresses of the qt_optim_slots(c) state tensors of one parameter tensor (on the
 * backend's device) into ptrs[0..QT_OPTIM_MAX_SLOTS); unused entries NULL. Returns the count. */
static inline int qt_optim_state_ptrs(const qt_optim_config_t *c, qt_tensor_t *const *state, void **ptrs)
{
    int n = qt_optim_layout(c, NULL);
    for (int k = 0; k < QT_OPTIM_MAX_SLOTS; k++) ptrs[k] = k < n && state && state[k] ? state[k]->data : NULL;
    return n;
}

/* torch's lerp: self + w(end − self) for |w| < 0.5, else end − (end − self)(1 − w). */
static inline double qt_lerp_d(double self, double end, double w)
{
    return (w < 0.5 && w > -0.5) ? self + w * (end - self) : end - (end - self) * (1.0 - w);
}
static inline float qt_lerp_f(float self, float end, float w)
{
    return (w < 0.5f && w > -0.5f) ? self + w * (end - self) : end - (end - self) * (1.0f - w);
}

#ifdef __cplusplus
}
#endif

#endif
