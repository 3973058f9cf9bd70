/* cpu_body.h — the fused update loops of the cpu optimizer backend, written once
 * and included by cpu.c for each element type: T (float/double), SFX (f32/f64),
 * SQRT, LERP. Each optimizer reads parameter, gradient and state once and writes
 * parameter and state once, per element, in one OpenMP loop (LAMB: two loops, the
 * trust ratio needs both norms first). Options that decide which state arrays are
 * stored (amsgrad, momentum buffer, centered, adalr's step size) are compile-time
 * arguments of always-inlined kernels, so every loop body is branch-free and
 * vectorisable (the sqrt needs -fno-math-errno to vectorise: see cpu.c). Per-element
 * arithmetic is in the same order as ref.c, so cpu/f64 and ref agree to the last bit
 * except where LAMB's norms are summed in a different order (per-chunk lane sums here).
 * Scalars come from qt_optim_step_info_t (double) and are rounded once to T. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SFX)
#define PAR _Pragma("omp parallel for if (n >= QT_OPTIM_OMP_MIN) num_threads(nt) schedule(static)")
#define INL static inline __attribute__((always_inline))
/* Run `call` (which uses lo_, hi_) on [0, n): one range per OpenMP thread for large n
 * (nt threads: the backend instance's count, a variable in the caller's scope).
 * The parallel region sits here, around a call with constant option arguments, so the
 * always-inlined kernel is specialised inside the outlined region. */
#define RUN_RANGES(n, call)                                      \
    do {                                                         \
        if ((n) >= QT_OPTIM_OMP_MIN) {                           \
            _Pragma("omp parallel num_threads(nt)") {            \
                size_t lo_, hi_;                                 \
                qt_optim_thread_range((n), &lo_, &hi_);          \
                call;                                            \
            }                                                    \
        } else {                                                 \
            size_t lo_ = 0, hi_ = (n);                           \
            call;                                                \
        }                                                        \
    } while (0)

/* sgd kernels; mom: a momentum buffer exists. sgd_k: one plain loop over [lo, hi); sgd_k2: the
 * two halves of [lo, hi) advance together, each through its own restrict pointers (one core keeps
 * twice the memory streams in flight). Which is faster depends on the machine: cpu.c's
 * sgd_style_choose picks by timed trials. Per element the arithmetic is the same. */
#define SGD_EL(P, G, B, i)                                   \
    do {                                                     \
        T gi = maxi ? -(G)[i] : (G)[i];                      \
        gi = has_wd ? gi + wd * (P)[i] : gi;                 \
        if (mom) {                                           \
            T b = first ? gi : (B)[i] * mu + damp1 * gi;     \
            (B)[i] = b;                                      \
            gi = nest ? gi + mu * b : b;                     \
        }                                                    \
        (P)[i] = (P)[i] + nlr * gi;                          \
    } while (0)
#define SGD_SCALARS                                                                                           \
    const T wd = (T)c->weight_decay, mu = (T)c->momentum, damp1 = (T)(1 - c->dampening), nlr = (T)(-s->lr); \
    const int first = s->t == 1, has_wd = c->weight_decay != 0, nest = c->nesterov, maxi = c->maximize
INL void FN(sgd_k)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, T *restrict p, const T *restrict g,
                   T *restrict buf, size_t lo, size_t hi, const int mom)
{
    SGD_SCALARS;
    for (size_t i = lo; i < hi; i++) SGD_EL(p, g, buf, i);
}
INL void FN(sgd_k2)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, T *restrict p, const T *restrict g,
                    T *restrict buf, size_t lo, size_t hi, const int mom)
{
    SGD_SCALARS;
    const size_t half = ((hi - lo) / 2) & ~(size_t)15, n2 = hi - lo - half;
    T *restrict p1 = p + lo, *restrict p2 = p + lo + half;
    const T *restrict g1 = g + lo, *restrict g2 = g + lo + half;
    T *restrict b1 = mom ? buf + lo : NULL, *restrict b2 = mom ? buf + lo + half : NULL;
    for (size_t i = 0; i < half; i++) {
        SGD_EL(p1, g1, b1, i);
        SGD_EL(p2, g2, b2, i);
    }
    for (size_t i = half; i < n2; i++) SGD_EL(p2, g2, b2, i);
}
#undef SGD_SCALARS
#undef SGD_EL

/* sgd: optional L2 decay, momentum (first step: b = g), nesterov; halves: sgd_k2's loop. */
static void FN(cpu_sgd)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                        T *p, const T *g, void *const *st, size_t n, int nt, int halves)
{
    T *buf = l->buf >= 0 ? st[l->buf] : NULL;
    if (halves && buf) RUN_RANGES(n, FN(sgd_k2)(c, s, p, g, buf, lo_, hi_, 1));
    else if (halves) RUN_RANGES(n, FN(sgd_k2)(c, s, p, g, NULL, lo_, hi_, 0));
    else if (buf) RUN_RANGES(n, FN(sgd_k)(c, s, p, g, buf, lo_, hi_, 1));
    else RUN_RANGES(n, FN(sgd_k)(c, s, p, g, NULL, lo_, hi_, 0));
}

/* adam / adamw kernel (ams: keep max of v) and adalr (eta: store the step size). */
INL void FN(adam_k)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, T *restrict p, const T *restrict g,
                    T *restrict m, T *restrict v, T *restrict aux, size_t lo, size_t hi, const int ams, const int eta)
{
    const T wd = (T)c->weight_decay, decay = (T)(1 - s->lr * c->weight_decay), w1 = (T)(1 - c->beta1),
            b2 = (T)c->beta2, omb2 = (T)(1 - c->beta2), bc2s = (T)s->bc2_sqrt, eps = (T)c->eps,
            nss = (T)(-s->step_size), lr = (T)s->lr, bc1 = (T)s->bc1;
    const int maxi = c->maximize, adamw = c->kind == QT_OPTIM_ADAMW, l2 = c->weight_decay != 0 && !adamw,
              dec = c->weight_decay != 0 && adamw;
    for (size_t i = lo; i < hi; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        pi = dec ? pi * decay : pi;
        gi = l2 ? gi + wd * pi : gi;
        T mi = LERP(m[i], gi, w1);
        T vi = v[i] * b2 + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (eta) {
            T e = (T)1 / (SQRT(vi) / bc2s + eps) * lr;
            aux[i] = e;
            p[i] = pi + (T)-1 * (e * (mi / bc1));
        } else {
            if (ams) {
                T vm = aux[i];
                vm = (vm > vi || vm != vm) ? vm : vi;
                aux[i] = vm;
                vi = vm;
            }
            p[i] = pi + nss * mi / (SQRT(vi) / bc2s + eps);
        }
    }
}

/* adam, adamw (decoupled decay), adalr (per-parameter step size kept in the state). */
static void FN(cpu_adam)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                         T *p, const T *g, void *const *st, size_t n, int nt)
{
    T *m = st[l->m], *v = st[l->v];
    if (l->eta >= 0) {
        T *eta = st[l->eta];
        RUN_RANGES(n, FN(adam_k)(c, s, p, g, m, v, eta, lo_, hi_, 0, 1));
    } else if (l->vmax >= 0) {
        T *vmax = st[l->vmax];
        RUN_RANGES(n, FN(adam_k)(c, s, p, g, m, v, vmax, lo_, hi_, 1, 0));
    } else {
        RUN_RANGES(n, FN(adam_k)(c, s, p, g, m, v, NULL, lo_, hi_, 0, 0));
    }
}

/* radam: rectified when ρₜ > 5, else un-normalised momentum step. */
static void FN(cpu_radam)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                          T *restrict p, const T *restrict g, void *const *st, size_t n, int nt)
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
        pi = dec ? pi * decay : pi;
        gi = l2 ? gi + wd * pi : gi;
        T mi = LERP(m[i], gi, w1);
        T vi = v[i] * b2 + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        T x = mi / bc1 * lr;
        T xr = x * ((T)1 / (SQRT(vi) + eps) * bc2p) * r;
        p[i] = pi + (T)-1 * (rect ? xr : x);
    }
}

/* rmsprop kernel; mom: momentum buffer, cen: centered (grad_avg). */
INL void FN(rmsprop_k)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, T *restrict p, const T *restrict g,
                       T *restrict sq, T *restrict buf, T *restrict ga, size_t lo, size_t hi, const int mom,
                       const int cen)
{
    const T wd = (T)c->weight_decay, alpha = (T)c->alpha, oma = (T)(1 - c->alpha), eps = (T)c->eps,
            mu = (T)c->momentum, nlr = (T)(-s->lr);
    const int maxi = c->maximize, has_wd = c->weight_decay != 0;
    for (size_t i = lo; i < hi; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        gi = has_wd ? gi + wd * pi : gi;
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
        if (mom) {
            T b = buf[i] * mu + (T)1 * gi / avg;
            buf[i] = b;
            p[i] = pi + nlr * b;
        } else {
            p[i] = pi + nlr * gi / avg;
        }
    }
}

/* rmsprop: plain, centered, with momentum. */
static void FN(cpu_rmsprop)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                            T *p, const T *g, void *const *st, size_t n, int nt)
{
    T *sq = st[l->v], *buf = l->buf >= 0 ? st[l->buf] : NULL, *ga = l->gavg >= 0 ? st[l->gavg] : NULL;
    if (buf && ga) RUN_RANGES(n, FN(rmsprop_k)(c, s, p, g, sq, buf, ga, lo_, hi_, 1, 1));
    else if (buf) RUN_RANGES(n, FN(rmsprop_k)(c, s, p, g, sq, buf, NULL, lo_, hi_, 1, 0));
    else if (ga) RUN_RANGES(n, FN(rmsprop_k)(c, s, p, g, sq, NULL, ga, lo_, hi_, 0, 1));
    else RUN_RANGES(n, FN(rmsprop_k)(c, s, p, g, sq, NULL, NULL, lo_, hi_, 0, 0));
}

/* adagrad with lr_decay. */
static void FN(cpu_adagrad)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                            T *restrict p, const T *restrict g, void *const *st, size_t n, int nt)
{
    const T wd = (T)c->weight_decay, eps = (T)c->eps, nclr = (T)(-s->clr);
    const int maxi = c->maximize, has_wd = c->weight_decay != 0;
    T *restrict sum = st[l->v];
    PAR
    for (size_t i = 0; i < n; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        gi = has_wd ? gi + wd * pi : gi;
        T si = sum[i] + (T)1 * gi * gi;
        sum[i] = si;
        p[i] = pi + nclr * gi / (SQRT(si) + eps);
    }
}

/* adabelief kernel; ams: keep max of s. */
INL void FN(adabelief_k)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, T *restrict p,
                         const T *restrict g, T *restrict m, T *restrict var, T *restrict vmax, size_t lo, size_t hi,
                         const int ams, const int mode)
{
    const T wd = (T)c->weight_decay, decay = (T)s->decay, b1 = (T)c->beta1, omb1 = (T)(1 - c->beta1),
            b2 = (T)c->beta2, omb2 = (T)(1 - c->beta2), eps = (T)c->eps, bc2s = (T)s->bc2_sqrt,
            nss = (T)(-s->step_size), nk = (T)(-s->ab_step_size * s->lr);
    const int maxi = c->maximize, wdec = c->weight_decouple, l2 = !c->weight_decouple && c->weight_decay != 0;
    for (size_t i = lo; i < hi; i++) {
        T gi = maxi ? -g[i] : g[i], pi = p[i];
        pi = wdec ? pi * decay : pi;
        gi = l2 ? gi + wd * pi : gi;
        T mi = m[i] * b1 + omb1 * gi;
        T r = gi - mi;
        T si = var[i] * b2 + omb2 * r * r;
        si = si + eps;
        m[i] = mi;
        var[i] = si;
        T sd = si;
        if (ams) {
            T vm = vmax[i];
            vm = (vm > si || vm != vm) ? vm : si;
            vmax[i] = vm;
            sd = vm;
        }
        if (mode == 0) pi = pi + nss * mi / (SQRT(sd) / bc2s + eps); /* not rectified */
        else if (mode == 1) pi = pi + nk * mi / (SQRT(si) + eps);   /* rectified, N_sma >= 5 */
        else if (mode == 2) pi = pi + nk * mi;                      /* degenerated to SGD */
        p[i] = pi;                                                  /* mode 3: decay only */
    }
}

/* adabelief (adabelief-pytorch 0.2.x). */
static void FN(cpu_adabelief)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                              T *p, const T *g, void *const *st, size_t n, int nt)
{
    T *m = st[l->m], *var = st[l->v], *vmax = l->vmax >= 0 ? st[l->vmax] : NULL;
    int mode = !c->rectify ? 0 : s->ab_sma_ok ? 1 : s->ab_step_size > 0 ? 2 : 3;
#define AB_CASE(A, M) RUN_RANGES(n, FN(adabelief_k)(c, s, p, g, m, var, vmax, lo_, hi_, A, M))
    if (vmax) {
        if (mode == 0) AB_CASE(1, 0);
        else if (mode == 1) AB_CASE(1, 1);
        else if (mode == 2) AB_CASE(1, 2);
        else AB_CASE(1, 3);
    } else {
        if (mode == 0) AB_CASE(0, 0);
        else if (mode == 1) AB_CASE(0, 1);
        else if (mode == 2) AB_CASE(0, 2);
        else AB_CASE(0, 3);
    }
#undef AB_CASE
}

#define LAMB_CHUNK 4096
#define LAMB_LANES 16

/* lamb pass 1 over one chunk: moments, and lane-wise Σθ², Σr² (fixed order: deterministic). */
INL void FN(lamb_chunk)(T *restrict p, const T *restrict g, T *restrict m, T *restrict v, size_t lo, size_t hi,
                        const T b1, const T omb1, const T b2, const T omb2, const T eps, const T bc2s, const T bc1,
                        const T wd, const int maxi, const int has_wd, double *sw, double *su)
{
    double aw[LAMB_LANES] = {0}, au[LAMB_LANES] = {0};
    size_t i = lo;
    for (; i + LAMB_LANES <= hi; i += LAMB_LANES)
        for (int k = 0; k < LAMB_LANES; k++) {
            T gi = maxi ? -g[i + k] : g[i + k];
            T mi = m[i + k] * b1 + omb1 * gi;
            T vi = v[i + k] * b2 + omb2 * gi * gi;
            m[i + k] = mi;
            v[i + k] = vi;
            T u = mi / bc1 / (SQRT(vi) / bc2s + eps);
            u = has_wd ? u + wd * p[i + k] : u;
            aw[k] += (double)p[i + k] * (double)p[i + k];
            au[k] += (double)u * (double)u;
        }
    for (int k = 0; i < hi; i++, k++) {
        T gi = maxi ? -g[i] : g[i];
        T mi = m[i] * b1 + omb1 * gi;
        T vi = v[i] * b2 + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        T u = mi / bc1 / (SQRT(vi) / bc2s + eps);
        u = has_wd ? u + wd * p[i] : u;
        aw[k] += (double)p[i] * (double)p[i];
        au[k] += (double)u * (double)u;
    }
    double w = 0, uu = 0;
    for (int k = 0; k < LAMB_LANES; k++) w += aw[k], uu += au[k];
    *sw = w;
    *su = uu;
}

/* lamb: pass 1 (moments, per-chunk norms), trust ratio, pass 2 (update). */
static void FN(cpu_lamb)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, const qt_optim_layout_t *l,
                         T *restrict p, const T *restrict g, void *const *st, size_t n, double *part, int nt)
{
    const T wd = (T)c->weight_decay, b1 = (T)c->beta1, omb1 = (T)(1 - c->beta1), b2 = (T)c->beta2,
            omb2 = (T)(1 - c->beta2), eps = (T)c->eps, bc2s = (T)s->bc2_sqrt, bc1 = (T)s->bc1;
    const int maxi = c->maximize, has_wd = c->weight_decay != 0, adapt = c->weight_decay != 0 || c->always_adapt;
    T *restrict m = st[l->m], *restrict v = st[l->v];
    size_t nch = (n + LAMB_CHUNK - 1) / LAMB_CHUNK;
    _Pragma("omp parallel for if (n >= QT_OPTIM_OMP_MIN) num_threads(nt) schedule(static)")
    for (size_t ch = 0; ch < nch; ch++) {
        size_t lo = ch * LAMB_CHUNK, hi = lo + LAMB_CHUNK < n ? lo + LAMB_CHUNK : n;
        FN(lamb_chunk)(p, g, m, v, lo, hi, b1, omb1, b2, omb2, eps, bc2s, bc1, wd, maxi, has_wd, &part[2 * ch],
                       &part[2 * ch + 1]);
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
        u = has_wd ? u + wd * p[i] : u;
        u = adapt ? u * tr : u;
        p[i] = p[i] + nlr * u;
    }
}

/* Dispatch one tensor of this element type. */
static qt_status_t FN(cpu_update)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, void *param,
                                  const void *grad, void *const *st, size_t n, int nt)
{
    qt_optim_layout_t l;
    qt_optim_layout(c, &l);
    T *p = param;
    const T *g = grad;
    switch (c->kind) {
    case QT_OPTIM_SGD: {
        int trial;
        const int halves = sgd_style_choose(n, nt, &trial);
        const double t0 = trial ? omp_wtime_or_zero() : 0.0;
        FN(cpu_sgd)(c, s, &l, p, g, st, n, nt, halves);
        if (trial) sgd_style_record(n, nt, halves, (omp_wtime_or_zero() - t0) / (double)n);
        break;
    }
    case QT_OPTIM_ADAM:
    case QT_OPTIM_ADAMW:
    case QT_OPTIM_ADALR: FN(cpu_adam)(c, s, &l, p, g, st, n, nt); break;
    case QT_OPTIM_RADAM: FN(cpu_radam)(c, s, &l, p, g, st, n, nt); break;
    case QT_OPTIM_RMSPROP: FN(cpu_rmsprop)(c, s, &l, p, g, st, n, nt); break;
    case QT_OPTIM_ADAGRAD: FN(cpu_adagrad)(c, s, &l, p, g, st, n, nt); break;
    case QT_OPTIM_ADABELIEF: FN(cpu_adabelief)(c, s, &l, p, g, st, n, nt); break;
    case QT_OPTIM_LAMB: {
        size_t nch = (n + LAMB_CHUNK - 1) / LAMB_CHUNK;
        double *part = qt_alloc(2 * nch * sizeof(double));
        if (!part) return qt_fail(QT_ERR_NOMEM, "lamb: out of memory");
        FN(cpu_lamb)(c, s, &l, p, g, st, n, part, nt);
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
#undef INL
#undef RUN_RANGES
#undef LAMB_CHUNK
#undef LAMB_LANES
