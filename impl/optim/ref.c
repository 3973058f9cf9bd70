/* ref.c — the oracle optimizer backend: double only, each update written as the
 * same sequence of whole-tensor operations as torch.optim's single-tensor code
 * (_single_tensor_adam etc., PyTorch 2.x; adabelief-pytorch 0.2.x; timm's Lamb), one
 * pass and one temporary per torch op, with torch's CPU rounding order for each op:
 *   add(a, b, alpha) = a + alpha·b        addcmul(a, x, y, v) = a + (v·x)·y
 *   addcdiv(a, x, y, v) = a + (v·x)/y     lerp(a, b, w) = see qt_lerp_d
 *   scalar / tensor = reciprocal(tensor)·scalar (Tensor.__rtruediv__).
 * Plain C, no OpenMP, no fusing. Formulas: quintet/optim.h. Tests: tests/optim/test_optim.c. */
#include <math.h>
#include <string.h>

#include "optim_internal.h"
#include "quintet/tensor.h"

/* ---- whole-tensor operations (n elements, out may alias an input) ---- */

/* out = a + alpha·b */
static void t_add(double *out, const double *a, const double *b, double alpha, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[i];
}
/* out = a·s */
static void t_mul_s(double *out, const double *a, double s, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] * s;
}
/* out = a·b */
static void t_mul(double *out, const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}
/* out = a/s */
static void t_div_s(double *out, const double *a, double s, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] / s;
}
/* out = a/b */
static void t_div(double *out, const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] / b[i];
}
/* out = a + s */
static void t_add_s(double *out, const double *a, double s, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + s;
}
/* out = √a */
static void t_sqrt(double *out, const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = sqrt(a[i]);
}
/* out = 1/a */
static void t_recip(double *out, const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = 1.0 / a[i];
}
/* out = a − b */
static void t_sub(double *out, const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] - b[i];
}
/* out = a + (v·x)·y */
static void t_addcmul(double *out, const double *a, const double *x, const double *y, double v, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + v * x[i] * y[i];
}
/* out = a + (v·x)/y */
static void t_addcdiv(double *out, const double *a, const double *x, const double *y, double v, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + v * x[i] / y[i];
}
/* a = lerp(a, b, w) */
static void t_lerp(double *a, const double *b, double w, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = qt_lerp_d(a[i], b[i], w);
}
/* out = max(a, b) (NaN propagates as torch.maximum) */
static void t_maximum(double *out, const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = (isnan(a[i]) || isnan(b[i])) ? NAN : (a[i] > b[i] ? a[i] : b[i]);
}
/* ‖a‖₂ accumulated in double (torch.linalg.norm). */
static double t_norm(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s);
}

/* ref runs every optimizer, in double only. */
static int ref_supports(const qt_backend_t *be, const qt_optim_config_t *c, qt_dtype_t dt)
{
    (void)be;
    (void)c;
    return dt == QT_F64;
}

/* sgd: _single_tensor_sgd. */
static void ref_sgd(const qt_optim_config_t *c, const qt_optim_step_info_t *s, double *p, double *g, double *buf,
                    size_t n)
{
    if (c->weight_decay != 0) t_add(g, g, p, c->weight_decay, n);
    if (c->momentum != 0) {
        if (s->t == 1) memcpy(buf, g, n * sizeof *g);
        else {
            t_mul_s(buf, buf, c->momentum, n);
            t_add(buf, buf, g, 1 - c->dampening, n);
        }
        if (c->nesterov) t_add(g, g, buf, c->momentum, n);
        else memcpy(g, buf, n * sizeof *g);
    }
    t_add(p, p, g, -s->lr, n);
}

/* adam / adamw / adalr moments: decay, lerp of m, addcmul of v. */
static void ref_adam(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                     double *p, double *g, void *const *st, double *tmp, size_t n)
{
    double *m = st[l->m], *v = st[l->v];
    if (c->weight_decay != 0) {
        if (c->kind == QT_OPTIM_ADAMW) t_mul_s(p, p, 1 - s->lr * c->weight_decay, n);
        else t_add(g, g, p, c->weight_decay, n);
    }
    t_lerp(m, g, 1 - c->beta1, n);
    t_mul_s(v, v, c->beta2, n);
    t_addcmul(v, v, g, g, 1 - c->beta2, n);
    if (c->kind == QT_OPTIM_ADALR) {
        /* η = lr / (√v/√bc2 + eps), kept in the state; θ −= η·(m/bc1) */
        double *eta = st[l->eta];
        t_sqrt(eta, v, n);
        t_div_s(eta, eta, s->bc2_sqrt, n);
        t_add_s(eta, eta, c->eps, n);
        t_recip(eta, eta, n);
        t_mul_s(eta, eta, s->lr, n);
        t_div_s(tmp, m, s->bc1, n);
        t_mul(tmp, eta, tmp, n);
        t_add(p, p, tmp, -1.0, n);
        return;
    }
    const double *den_src = v;
    if (c->amsgrad) {
        t_maximum(st[l->vmax], st[l->vmax], v, n);
        den_src = st[l->vmax];
    }
    t_sqrt(tmp, den_src, n);
    t_div_s(tmp, tmp, s->bc2_sqrt, n);
    t_add_s(tmp, tmp, c->eps, n);
    t_addcdiv(p, p, m, tmp, -s->step_size, n);
}

/* radam: _single_tensor_radam (non-capturable branch). */
static void ref_radam(const qt_optim_config_t *c, const qt_optim_step_info_t *s, double *p, double *g, double *m,
                      double *v, double *tmp, double *tmp2, size_t n)
{
    if (c->weight_decay != 0) {
        if (c->decoupled_weight_decay) t_mul_s(p, p, 1 - s->lr * c->weight_decay, n);
        else t_add(g, g, p, c->weight_decay, n);
    }
    t_lerp(m, g, 1 - c->beta1, n);
    t_mul_s(v, v, c->beta2, n);
    t_addcmul(v, v, g, g, 1 - c->beta2, n);
    t_div_s(tmp, m, s->bc1, n);  /* bias_corrected_exp_avg */
    t_mul_s(tmp, tmp, s->lr, n); /* * lr */
    if (s->radam_rect) {
        t_sqrt(tmp2, v, n);
        t_add_s(tmp2, tmp2, c->eps, n);
        t_recip(tmp2, tmp2, n);
        t_mul_s(tmp2, tmp2, s->radam_bc2_pow, n); /* (bc2 ** 0.5) / (√v + eps) */
        t_mul(tmp, tmp, tmp2, n);
        t_mul_s(tmp, tmp, s->radam_rect_r, n);
    }
    t_add(p, p, tmp, -1.0, n);
}

/* rmsprop: _single_tensor_rmsprop. */
static void ref_rmsprop(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                        double *p, double *g, void *const *st, double *avg, size_t n)
{
    double *sq = st[l->v];
    if (c->weight_decay != 0) t_add(g, g, p, c->weight_decay, n);
    t_mul_s(sq, sq, c->alpha, n);
    t_addcmul(sq, sq, g, g, 1 - c->alpha, n);
    if (c->centered) {
        double *ga = st[l->gavg];
        t_lerp(ga, g, 1 - c->alpha, n);
        t_addcmul(avg, sq, ga, ga, -1, n);
        t_sqrt(avg, avg, n);
    } else {
        t_sqrt(avg, sq, n);
    }
    t_add_s(avg, avg, c->eps, n);
    if (c->momentum > 0) {
        double *buf = st[l->buf];
        t_mul_s(buf, buf, c->momentum, n);
        t_addcdiv(buf, buf, g, avg, 1, n);
        t_add(p, p, buf, -s->lr, n);
    } else {
        t_addcdiv(p, p, g, avg, -s->lr, n);
    }
}

/* adagrad: _single_tensor_adagrad (dense). */
static void ref_adagrad(const qt_optim_config_t *c, const qt_optim_step_info_t *s, double *p, double *g,
                        double *sum, double *std, size_t n)
{
    if (c->weight_decay != 0) t_add(g, g, p, c->weight_decay, n);
    t_addcmul(sum, sum, g, g, 1, n);
    t_sqrt(std, sum, n);
    t_add_s(std, std, c->eps, n);
    t_addcdiv(p, p, g, std, -s->clr, n);
}

/* adabelief: AdaBelief.step of adabelief-pytorch 0.2.x. */
static void ref_adabelief(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                          double *p, double *g, void *const *st, double *tmp, double *res, size_t n)
{
    double *m = st[l->m], *var = st[l->v];
    if (c->weight_decouple) t_mul_s(p, p, s->decay, n);
    else if (c->weight_decay != 0) t_add(g, g, p, c->weight_decay, n);
    t_mul_s(m, m, c->beta1, n);
    t_add(m, m, g, 1 - c->beta1, n);
    t_sub(res, g, m, n);
    t_mul_s(var, var, c->beta2, n);
    t_addcmul(var, var, res, res, 1 - c->beta2, n);
    t_add_s(var, var, c->eps, n); /* exp_avg_var.add_(eps): in place, kept in the state */
    if (c->amsgrad) {
        t_maximum(st[l->vmax], st[l->vmax], var, n);
        t_sqrt(tmp, st[l->vmax], n);
    } else {
        t_sqrt(tmp, var, n);
    }
    t_div_s(tmp, tmp, s->bc2_sqrt, n);
    t_add_s(tmp, tmp, c->eps, n);
    if (!c->rectify) {
        t_addcdiv(p, p, m, tmp, -s->step_size, n);
    } else if (s->ab_sma_ok) {
        t_sqrt(tmp, var, n);
        t_add_s(tmp, tmp, c->eps, n);
        t_addcdiv(p, p, m, tmp, -s->ab_step_size * s->lr, n);
    } else if (s->ab_step_size > 0) {
        t_add(p, p, m, -s->ab_step_size * s->lr, n);
    }
}

/* lamb: timm's Lamb step for one tensor (no global grad clipping). */
static void ref_lamb(const qt_optim_config_t *c, const qt_optim_step_info_t *s, double *p, double *g, double *m,
                     double *v, double *upd, double *den, size_t n)
{
    t_mul_s(m, m, c->beta1, n);
    t_add(m, m, g, 1 - c->beta1, n);
    t_mul_s(v, v, c->beta2, n);
    t_addcmul(v, v, g, g, 1 - c->beta2, n);
    t_sqrt(den, v, n);
    t_div_s(den, den, s->bc2_sqrt, n);
    t_add_s(den, den, c->eps, n);
    t_div_s(upd, m, s->bc1, n);
    t_div(upd, upd, den, n);
    if (c->weight_decay != 0) t_add(upd, upd, p, c->weight_decay, n);
    if (c->weight_decay != 0 || c->always_adapt) {
        double wn = t_norm(p, n), un = t_norm(upd, n);
        double ratio = wn > 0 ? (un > 0 ? wn / un : 1.0) : 1.0;
        if (c->trust_clip && ratio > 1.0) ratio = 1.0;
        t_mul_s(upd, upd, ratio, n);
    }
    t_add(p, p, upd, -s->lr, n);
}

/* Dispatch one tensor's update; the gradient is copied (torch never modifies p.grad here). */
static qt_status_t ref_update(qt_backend_t *be, const qt_optim_config_t *c, const qt_optim_step_info_t *s,
                              qt_tensor_t *param, const qt_tensor_t *grad, qt_tensor_t *const *state)
{
    if (param->dtype != QT_F64) return qt_backend_fail(be, QT_ERR_UNSUPPORTED, "the optimizer oracle is double only");
    size_t n = (size_t)qt_tensor_numel(param);
    void *st[QT_OPTIM_MAX_SLOTS];
    qt_optim_state_ptrs(c, state, st);
    qt_optim_layout_t l;
    qt_optim_layout(c, &l);
    double *g = qt_alloc(n * sizeof(double)), *t1 = qt_alloc(n * sizeof(double)), *t2 = qt_alloc(n * sizeof(double));
    if (!g || !t1 || !t2) {
        qt_free(g);
        qt_free(t1);
        qt_free(t2);
        return qt_fail(QT_ERR_NOMEM, "ref optimizer: out of memory (%zu elements)", n);
    }
    double *p = param->data;
    memcpy(g, grad->data, n * sizeof(double));
    if (c->maximize) t_mul_s(g, g, -1.0, n);
    switch (c->kind) {
    case QT_OPTIM_SGD: ref_sgd(c, s, p, g, l.buf >= 0 ? st[l.buf] : NULL, n); break;
    case QT_OPTIM_ADAM:
    case QT_OPTIM_ADAMW:
    case QT_OPTIM_ADALR: ref_adam(c, s, &l, p, g, st, t1, n); break;
    case QT_OPTIM_RADAM: ref_radam(c, s, p, g, st[l.m], st[l.v], t1, t2, n); break;
    case QT_OPTIM_RMSPROP: ref_rmsprop(c, s, &l, p, g, st, t1, n); break;
    case QT_OPTIM_ADAGRAD: ref_adagrad(c, s, p, g, st[l.v], t1, n); break;
    case QT_OPTIM_ADABELIEF: ref_adabelief(c, s, &l, p, g, st, t1, t2, n); break;
    case QT_OPTIM_LAMB: ref_lamb(c, s, p, g, st[l.m], st[l.v], t1, t2, n); break;
    default: break;
    }
    qt_free(g);
    qt_free(t1);
    qt_free(t2);
    return QT_OK;
}

/* Listed in the ref backend's interface table (impl/backends/host/host.c). */
const qt_optim_ops_t qt_optim_ops_ref = {ref_supports, ref_update, NULL};
