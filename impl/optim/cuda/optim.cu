/* optim.cu — the cuda backend's optimizer ops (optim.h: qt_optim_ops_t): every optimizer
 * (sgd, adam, adamw, radam, rmsprop, adagrad, adabelief, lamb, adalr) with all its options, in
 * f32 and f64, as fused kernels (optim_body.cuh, instantiated here for both element types):
 * `update` steps one tensor, `update_many` steps all of an optimizer's tensors with one launch
 * per QT_MT_MAX tensors (LAMB: three: moments and chunk norms, trust ratios, update). Results
 * are bitwise those of the cpu backend (LAMB: within rounding of its norms). The kernel version
 * comes from QT_CUDA_OPTIM_KERNEL (1, 2 or 3; default 3), read at each step, so tests validate
 * every version and suites time any.
 * Tests: tests/optim/test_optim.c (every version against cpu; skipped without a GPU, saying
 * why); build/quintet verify optim --backend cuda; build/quintet run lr_convergence (step_*). */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/cuda/internal.h"
#include "../optim_internal.h"
#include "quintet/optim.h"
#include "quintet/tensor.h"

#define QT_MT_MAX 32       /* tensors per v3 launch (the list travels as a kernel argument) */
#define QT_MT_CHUNK 65536  /* elements per v3 chunk (a multiple of every W) */

/* First chunk of each tensor of a v3 group (chunks in all at [n]). */
typedef struct {
    int c[QT_MT_MAX + 1];
} qt_cuda_mt_chunks_t;

/* LAMB: one block of QT_LAMB_THREADS per tensor sums the tensor's chunk partials in a fixed
 * order (thread i takes chunks i, i + 256, … in order, then a fixed tree over the threads), so
 * the ratio is the same on every run, and forms τ = ‖θ‖/‖r‖ as cpu_body.h does. (v1 of this
 * kernel summed on thread 0 alone: with the chunks sized to fill the GPU, one tensor of 10M
 * parameters has ~2400 of them, and the serial sum cost more than the step.) */
#define QT_LAMB_THREADS 256
static __global__ void __launch_bounds__(QT_LAMB_THREADS) qt_cuda_lamb_ratio(const double *part, qt_cuda_mt_chunks_t ch,
                                                                             int adapt, int clip, double *ratio)
{
    __shared__ double red[2][QT_LAMB_THREADS / 32];
    const int t = blockIdx.x, lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    double sw = 0, su = 0;
    for (int c = ch.c[t] + (int)threadIdx.x; c < ch.c[t + 1]; c += QT_LAMB_THREADS)
        sw += part[2 * c], su += part[2 * c + 1];
    for (int o = 16; o > 0; o >>= 1) {
        sw += __shfl_down_sync(0xffffffffu, sw, o);
        su += __shfl_down_sync(0xffffffffu, su, o);
    }
    if (lane == 0) red[0][w] = sw, red[1][w] = su;
    __syncthreads();
    if (threadIdx.x != 0) return;
    sw = 0, su = 0;
    for (int k = 0; k < QT_LAMB_THREADS / 32; k++) sw += red[0][k], su += red[1][k];
    double r = 1.0;
    if (adapt) {
        double wn = sqrt(sw), un = sqrt(su);
        r = wn > 0 ? (un > 0 ? wn / un : 1.0) : 1.0;
        if (clip && r > 1.0) r = 1.0;
    }
    ratio[t] = r;
}

#define T float
#define VEC float4
#define W 4
#define SFX f32
#define ADD __fadd_rn
#define MUL __fmul_rn
#define DIV __fdiv_rn
#define SQRT __fsqrt_rn
#include "optim_body.cuh"
#undef T
#undef VEC
#undef W
#undef SFX
#undef ADD
#undef MUL
#undef DIV
#undef SQRT

#define T double
#define VEC double2
#define W 2
#define SFX f64
#define ADD __dadd_rn
#define MUL __dmul_rn
#define DIV __ddiv_rn
#define SQRT __dsqrt_rn
#include "optim_body.cuh"
#undef T
#undef VEC
#undef W
#undef SFX
#undef ADD
#undef MUL
#undef DIV
#undef SQRT

/* Every optimizer in f32 and f64. */
static int cuda_optim_supports(const qt_backend_t *be, const qt_optim_config_t *c, qt_dtype_t dt)
{
    (void)be;
    return (unsigned)c->kind < QT_OPTIM_COUNT && (dt == QT_F32 || dt == QT_F64);
}

/* The kernel version of a step over n tensors: QT_CUDA_OPTIM_KERNEL when set (1, 2 or 3), else
 * v2 (one vectorised launch) for one tensor and v3 (one multi-tensor launch) for several. On the
 * H200 at 10M parameters v3 reached 0.36-0.48 of the copy rate where v2 reached 0.82-0.90: its
 * fixed 65536-element chunks gave 153 blocks on 132 SMs. With chunks sized to the GPU
 * (optim_body.cuh) v3 reaches 0.81-0.82 there (adam; v2 0.88), so v2 stays for one tensor. */
static int cuda_optim_version(int n)
{
    const char *e = getenv("QT_CUDA_OPTIM_KERNEL");
    int v = e ? atoi(e) : (n == 1 ? 2 : 3);
    return v >= 1 && v <= 3 ? v : 3;
}

/* A tensor's state slots as roles r1, r2, r3 (optim_body.cuh). */
static void cuda_optim_roles(const qt_optim_config_t *c, void *const *st, void **role)
{
    qt_optim_layout_t l;
    qt_optim_layout(c, &l);
    int a = -1, b = -1, d = -1;
    switch (c->kind) {
    case QT_OPTIM_SGD: a = l.buf; break;
    case QT_OPTIM_RMSPROP: a = l.v, b = l.buf, d = l.gavg; break;
    case QT_OPTIM_ADAGRAD: a = l.v; break;
    default: a = l.m, b = l.v, d = l.vmax >= 0 ? l.vmax : l.eta; break;
    }
    role[0] = a >= 0 ? st[a] : NULL;
    role[1] = b >= 0 ? st[b] : NULL;
    role[2] = d >= 0 ? st[d] : NULL;
}

/* Queue a step over n tensors (state[i * slots + k]: slot k of tensor i). */
static qt_status_t cuda_optim_update_many(qt_backend_t *be, const qt_optim_config_t *c, const qt_optim_step_info_t *s,
                                          int n, qt_tensor_t *const *params, const qt_tensor_t *const *grads,
                                          qt_tensor_t *state)
{
    if (n <= 0) return QT_OK;
    qt_dtype_t dt = params[0]->dtype;
    if (!cuda_optim_supports(be, c, dt))
        return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "optimizer %s in %s is not implemented on cuda",
                               qt_optim_kind_name(c->kind), qt_dtype_name(dt));
    const int slots = qt_optim_slots(c);
    void **p = (void **)malloc((size_t)n * 5 * sizeof(void *));
    size_t *len = (size_t *)malloc((size_t)n * sizeof(size_t));
    if (!p || !len) {
        free(p);
        free(len);
        return qt_backend_fail(be, QT_ERR_NOMEM, "optimizer: tensor lists");
    }
    void **g = p + n, **role = p + 2 * n;
    for (int i = 0; i < n; i++) {
        void *st[QT_OPTIM_MAX_SLOTS] = {NULL, NULL, NULL};
        for (int k = 0; k < slots; k++) st[k] = state[(size_t)i * slots + k].data;
        p[i] = params[i]->data;
        g[i] = grads[i]->data;
        len[i] = (size_t)qt_tensor_numel(params[i]);
        cuda_optim_roles(c, st, role + 3 * i);
    }
    int ver = cuda_optim_version(n);
    qt_status_t r = dt == QT_F32 ? cuda_optim_run_f32(be, c, s, ver, n, (float *const *)p, (const float *const *)g, len,
                                                      (float *const *)role)
                                 : cuda_optim_run_f64(be, c, s, ver, n, (double *const *)p, (const double *const *)g, len,
                                                      (double *const *)role);
    free(p);
    free(len);
    return r;
}

/* One tensor: update_many of one. */
static qt_status_t cuda_optim_update(qt_backend_t *be, const qt_optim_config_t *c, const qt_optim_step_info_t *s,
                                     qt_tensor_t *param, const qt_tensor_t *grad, qt_tensor_t *const *state)
{
    qt_tensor_t st[QT_OPTIM_MAX_SLOTS];
    memset(st, 0, sizeof st);
    for (int k = 0; k < qt_optim_slots(c); k++) st[k] = *state[k];
    return cuda_optim_update_many(be, c, s, 1, &param, &grad, st);
}

extern "C" const qt_optim_ops_t qt_optim_ops_cuda = {cuda_optim_supports, cuda_optim_update, cuda_optim_update_many};
