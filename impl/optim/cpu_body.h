/* cpu_body.h — the fused update loops of the cpu optimizer backend, written once
 * and included by cpu.c for each element type: T (float/double), SFX (f32/f64),
 * SQRT, LERP. Each optimizer reads parameter, gradient and state once and writes
 * parameter and state once, per element, in one OpenMP loop (LAMB: two loops, the
 * trust ratio needs both norms first). Per-element arithmetic is in the same order as
 * ref.c, so cpu/f64 and ref agree to the last bit except where LAMB's norms are summed
 * in a different order (chunked partial sums here). Scalars come from
 * qt_optim_step_info_t (double) and are rounded once to T. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SFX)
#define PAR _Pragma("omp parallel for if (n >= QT_OPTIM_OMP_MIN) schedule(static)")

/* sgd: optional L2 decay, momentum (first step: b = g), nesterov. */
static void FN(cpu_sgd)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                        T *restrict p, const T *restrict g, void *const *st, size_t n)
{
    const T wd = (T)c->weight_decay, mom = (T)c->momentum, damp1 = (T)(1 - c->dampening), nlr = (T)(-s->lr);
    const int first = s->t == 1, has_wd = c->weight_decay != 0, has_mom = c->momentum != 0, nest = c->nesterov,
              maxi = c->maximize;
    T *restrict buf = l->buf >= 0 ? st[l->buf] : NULL;
    PAR
    for (size_t i = 0; i < n; i++) {
        T gi = maxi ? -g[i] : g[i];
        if (has_wd) gi = gi + wd * p[i];
        if (has_mom) {
            T b = first ? gi : buf[i] * mom + damp1 * gi;
            buf[i] = b;
            gi = nest ? gi + mom * b : b;
        }
        p[i] = p[i] + nlr * gi;
    }
}

/* adam, adamw (decoupled decay), adalr (per-parameter step size kept in the state). */
static void FN(cpu_adam)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                         T *restrict p, const T *restrict g, void *const *st, size_t n)
{
    const T wd = (T)c->weight_decay, decay = (T)(1 - s->lr * c->weight_decay), w1 = (T)(1 - c->beta1),
            b2 = (T)c->beta2, omb2 = (T)(1 - c->beta2), bc2s = (T)s->bc2_sqrt, eps = (T)c->eps,
            nss = (T)(-s->step_size), lr = (T)s->lr, bc1 = (T)s->bc1;
    const int maxi = c->maximize, adamw = c->kind == QT_OPTIM_ADAMW, l2 = c->weight_decay != 0 && !adamw,
              dec = c->weight_decay != 0 && adamw, ams = c->amsgrad, adalr = c->kind == QT_OPTIM_ADALR;
    T *restrict m = st[l->m], *restrict v = st[l->v];
    T *restrict vmax = l->vmax >= 0 ? st[l->vmax] : NULL, *restrict eta = l->eta >= 0 ? st[l->eta] : NULL;
    PAR
    for (size_t i = 0; i < n; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        if (dec) pi = pi * decay;
        if (l2) gi = gi + wd * pi;
        T mi = LERP(m[i], gi, w1);
        T vi = v[i] * b2 + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (adalr) {
            T e = (T)1 / (SQRT(vi) / bc2s + eps) * lr;
            eta[i] = e;
            p[i] = pi + (T)-1 * (e * (mi / bc1));
            continue;
        }
        if (ams) {
            T vm = vmax[i];
            vm = (vm > vi || vm != vm) ? vm : vi;
            vmax[i] = vm;
            vi = vm;
        }
        T den = SQRT(vi) / bc2s + eps;
        p[i] = pi + nss * mi / den;
    }
}

/* radam: rectified when ρₜ > 5, else un-normalised momentum step. */
static void FN(cpu_radam)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                          T *restrict p, const T *restrict g, void *const *st, size_t n)
{
    const T wd = (T)c->weight_decay, decay = (T)(1 - s->lr * c->weight_decay), w1 = (T)(1 - c->beta1),
            b2 = (T)c->beta2, omb2 = (T)(1 - c->beta2), eps = (T)c->eps, bc1 = (T)s->bc1, lr = (T)s->lr,
            bc2p = (T)s->radam_bc2_pow, r = (T)s->radam_rect_r;
    const int maxi = c->maximize, dec = c->weight_decay != 0 && c->decoupled_weight_decay,
              l2 = c->weight_decay != 0 && !c->decoupled_weight_decay, rect = s->radam_rect;
    T *restrict m = st[l->m], *restrict v = st[l->v];
    PAR
    for (size_t i = 0; i < n; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        if (dec) pi = pi * decay;
        if (l2) gi = gi + wd * pi;
        T mi = LERP(m[i], gi, w1);
        T vi = v[i] * b2 + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        T x = mi / bc1 * lr;
        if (rect) x = x * ((T)1 / (SQRT(vi) + eps) * bc2p) * r;
        p[i] = pi + (T)-1 * x;
    }
}

/* rmsprop: plain, centered, with momentum. */
static void FN(cpu_rmsprop)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                            T *restrict p, const T *restrict g, void *const *st, size_t n)
{
    const T wd = (T)c->weight_decay, alpha = (T)c->alpha, oma = (T)(1 - c->alpha), eps = (T)c->eps,
            mom = (T)c->momentum, nlr = (T)(-s->lr);
    const int maxi = c->maximize, has_wd = c->weight_decay != 0, cen = c->centered, has_mom = c->momentum > 0;
    T *restrict sq = st[l->v], *restrict buf = l->buf >= 0 ? st[l->buf] : NULL,
              *restrict ga = l->gavg >= 0 ? st[l->gavg] : NULL;
    PAR
    for (size_t i = 0; i < n; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        if (has_wd) gi = gi + wd * pi;
        T sqi = sq[i] * alpha + oma * gi * gi;
        sq[i] = sqi;
        T avg;
        if (cen) {
            T gai = LERP(ga[i], gi, oma);
            ga[i] = gai;
            avg = SQRT(sqi + (T)-1 * gai * gai) + eps;
        } else {
            avg = SQRT(sqi) + eps;
        }
        if (has_mom) {
            T b = buf[i] * mom + (T)1 * gi / avg;
            buf[i] = b;
            p[i] = pi + nlr * b;
        } else {
            p[i] = pi + nlr * gi / avg;
        }
    }
}

/* adagrad with lr_decay. */
static void FN(cpu_adagrad)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                            T *restrict p, const T *restrict g, void *const *st, size_t n)
{
    const T wd = (T)c->weight_decay, eps = (T)c->eps, nclr = (T)(-s->clr);
    const int maxi = c->maximize, has_wd = c->weight_decay != 0;
    T *restrict sum = st[l->v];
    PAR
    for (size_t i = 0; i < n; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        if (has_wd) gi = gi + wd * pi;
        T si = sum[i] + (T)1 * gi * gi;
        sum[i] = si;
        p[i] = pi + nclr * gi / (SQRT(si) + eps);
    }
}

/* adabelief (adabelief-pytorch 0.2.x). */
static void FN(cpu_adabelief)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                              T *restrict p, const T *restrict g, void *const *st, size_t n)
{
    const T wd = (T)c->weight_decay, decay = (T)s->decay, b1 = (T)c->beta1, omb1 = (T)(1 - c->beta1),
            b2 = (T)c->beta2, omb2 = (T)(1 - c->beta2), eps = (T)c->eps, bc2s = (T)s->bc2_sqrt,
            nss = (T)(-s->step_size), nk = (T)(-s->ab_step_size * s->lr);
    const int maxi = c->maximize, wdec = c->weight_decouple, l2 = !c->weight_decouple && c->weight_decay != 0,
              ams = c->amsgrad, rectify = c->rectify, sma_ok = s->ab_sma_ok, sgd_ok = s->ab_step_size > 0;
    T *restrict m = st[l->m], *restrict var = st[l->v], *restrict vmax = l->vmax >= 0 ? st[l->vmax] : NULL;
    PAR
    for (size_t i = 0; i < n; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        if (wdec) pi = pi * decay;
        else if (l2) gi = gi + wd * pi;
        T mi = m[i] * b1 + omb1 * gi;
        T r = gi - mi;
        T si = var[i] * b2 + omb2 * r * r;
        si = si + eps;
        m[i] = mi;
        var[i] = si;
        T den;
        if (ams) {
            T vm = vmax[i];
            vm = (vm > si || vm != vm) ? vm : si;
            vmax[i] = vm;
            den = SQRT(vm) / bc2s + eps;
        } else {
            den = SQRT(si) / bc2s + eps;
        }
        if (!rectify) pi = pi + nss * mi / den;
        else if (sma_ok) pi = pi + nk * mi / (SQRT(si) + eps);
        else if (sgd_ok) pi = pi + nk * mi;
        p[i] = pi;
    }
}

#define LAMB_CHUNK 4096

/* lamb pass 1: moments, and per-chunk Σθ², Σr² for the trust ratio (deterministic order). */
static void FN(cpu_lamb)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                         T *restrict p, const T *restrict g, void *const *st, size_t n, double *part)
{
    const T wd = (T)c->weight_decay, b1 = (T)c->beta1, omb1 = (T)(1 - c->beta1), b2 = (T)c->beta2,
            omb2 = (T)(1 - c->beta2), eps = (T)c->eps, bc2s = (T)s->bc2_sqrt, bc1 = (T)s->bc1;
    const int maxi = c->maximize, has_wd = c->weight_decay != 0, adapt = c->weight_decay != 0 || c->always_adapt;
    T *restrict m = st[l->m], *restrict v = st[l->v];
    size_t nch = (n + LAMB_CHUNK - 1) / LAMB_CHUNK;
    _Pragma("omp parallel for if (n >= QT_OPTIM_OMP_MIN) schedule(static)")
    for (size_t ch = 0; ch < nch; ch++) {
        size_t lo = ch * LAMB_CHUNK, hi = lo + LAMB_CHUNK < n ? lo + LAMB_CHUNK : n;
        double sw = 0, su = 0;
        for (size_t i = lo; i < hi; i++) {
            T gi = maxi ? -g[i] : g[i];
            T mi = m[i] * b1 + omb1 * gi;
            T vi = v[i] * b2 + omb2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            T u = mi / bc1 / (SQRT(vi) / bc2s + eps);
            if (has_wd) u = u + wd * p[i];
            sw += (double)p[i] * (double)p[i];
            su += (double)u * (double)u;
        }
        part[2 * ch] = sw;
        part[2 * ch + 1] = su;
    }
    double ratio = 1.0;
    if (adapt) {
        double sw = 0, su = 0;
        for (size_t ch = 0; ch < nch; ch++) sw += part[2 * ch], su += part[2 * ch + 1];
        double wn = sqrt(sw), un = sqrt(su);
        ratio = wn > 0 ? (un > 0 ? wn / un : 1.0) : 1.0;
        if (c->trust_clip && ratio > 1.0) ratio = 1.0;
    }
    const T tr = (T)ratio, nlr = (T)(-s->lr);
    PAR
    for (size_t i = 0; i < n; i++) {
        T u = m[i] / bc1 / (SQRT(v[i]) / bc2s + eps);
        if (has_wd) u = u + wd * p[i];
        if (adapt) u = u * tr;
        p[i] = p[i] + nlr * u;
    }
}

/* Dispatch one tensor of this element type. */
static qt_status_t FN(cpu_update)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, void *param,
                                  const void *grad, void *const *st, size_t n)
{
    qt_optim_layout_t l;
    qt_optim_layout(c, &l);
    T *p = param;
    const T *g = grad;
    switch (c->kind) {
    case QT_OPTIM_SGD: FN(cpu_sgd)(c, s, &l, p, g, st, n); break;
    case QT_OPTIM_ADAM:
    case QT_OPTIM_ADAMW:
    case QT_OPTIM_ADALR: FN(cpu_adam)(c, s, &l, p, g, st, n); break;
    case QT_OPTIM_RADAM: FN(cpu_radam)(c, s, &l, p, g, st, n); break;
    case QT_OPTIM_RMSPROP: FN(cpu_rmsprop)(c, s, &l, p, g, st, n); break;
    case QT_OPTIM_ADAGRAD: FN(cpu_adagrad)(c, s, &l, p, g, st, n); break;
    case QT_OPTIM_ADABELIEF: FN(cpu_adabelief)(c, s, &l, p, g, st, n); break;
    case QT_OPTIM_LAMB: {
        size_t nch = (n + LAMB_CHUNK - 1) / LAMB_CHUNK;
        double *part = qt_alloc(2 * nch * sizeof(double));
        if (!part) return qt_fail(QT_ERR_NOMEM, "lamb: out of memory");
        FN(cpu_lamb)(c, s, &l, p, g, st, n, part);
        qt_free(part);
        break;
    }
    default: return qt_fail(QT_ERR_ARG, "cpu optimizer: unknown kind %d", (int)c->kind);
    }
    return QT_OK;
}

#undef CAT_
#undef CAT
#undef FN
#undef PAR
#undef LAMB_CHUNK
