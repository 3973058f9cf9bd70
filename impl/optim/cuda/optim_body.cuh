/* optim_body.cuh — the fused optimizer kernels of the cuda backend, written once and included
 * by optim.cu for each element type (as impl/optim/cpu_body.h is for the cpu backend): T
 * (float/double), VEC (float4/double2: 16-byte loads), W (elements per VEC), SFX (f32/f64), and
 * the correctly rounded, never-contracted arithmetic ADD, MUL, DIV, SQRT (__fadd_rn … /
 * __dadd_rn …), so every element is computed with the same operations in the same order as
 * cpu_body.h (compiled without FMA contraction): results equal the cpu backend's bit for bit
 * (LAMB: up to its trust ratio, whose norms are summed in another order, as cpu's differ from
 * ref's).
 *
 * Every optimizer of optim.h in one element function (elem), the optimizer a kernel argument
 * (uniform across the grid, so the branch costs nothing next to the memory traffic). State
 * slots are passed by ROLE, mapped from the slot layout on the host (roles()): r1, r2, r3 =
 * sgd {buf}; adam, adamw, adalr, adabelief {m, v, vmax | eta}; radam, lamb {m, v};
 * rmsprop {square_avg, buf, grad_avg}; adagrad {sum}; absent roles are NULL and never touched.
 * Each element's parameter, gradient and state are read once and written once.
 * Kernel versions (side by side, llm.c style; QT_CUDA_OPTIM_KERNEL=1|2|3 picks one, default 3):
 *   v1  one launch per tensor, one element per thread, grid-stride: any alignment (not lamb);
 *   v2  one launch per tensor, W elements per thread through 16-byte loads when every pointer
 *       of the tensor is 16-byte aligned, a v1 tail for the last n mod W (not lamb);
 *   v3  multi-tensor: up to QT_MT_MAX tensors per launch, cut into chunks of QT_MT_CHUNK
 *       elements or fewer (halved down to 4096 until a group has ≥ 16 chunks per SM, so
 *       that small steps fill the GPU); a block takes chunks (grid-stride over the chunk list), each chunk vectorised
 *       as v2 where its tensor is aligned. LAMB: pass 1 (moments, Σθ² and Σr² per chunk in
 *       double, block-reduced in a fixed order), one block per tensor sums its chunks in order
 *       into the trust ratio, pass 2 (update): three launches per group of tensors.
 * Per-step scalars come from qt_optim_step_info_t (double, computed once on the host) and are
 * rounded once to T, exactly as cpu_body.h rounds them. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SFX)

/* The scalars of one step, rounded to T (names as in cpu_body.h). */
typedef struct {
    int kind, maxi;
    T wd, decay, w1, b1, omb1, b2, omb2, bc1, bc2s, eps, nss, lr, nlr; /* shared */
    T mu, damp1;                                                      /* sgd, rmsprop */
    T bc2p, rr;                                                       /* radam */
    T alpha, oma;                                                     /* rmsprop */
    T nk;                                                             /* adabelief */
    int has_wd, l2, dec, ams, eta, mom, cen, first, nest, rect, mode, adapt;
} FN(cuda_optim_args_t);

/* The tensors of one v3 launch. */
typedef struct {
    int n;                        /* tensors */
    size_t chunk;                 /* elements per chunk (a multiple of W) */
    int chunk0[QT_MT_MAX + 1];    /* first chunk of each tensor; chunk0[n] = chunks in all */
    int vec[QT_MT_MAX];           /* 1: every pointer of the tensor 16-byte aligned */
    size_t len[QT_MT_MAX];        /* elements */
    T *p[QT_MT_MAX];
    const T *g[QT_MT_MAX];
    T *r1[QT_MT_MAX], *r2[QT_MT_MAX], *r3[QT_MT_MAX];
} FN(cuda_mt_list_t);

/* torch's lerp, as qt_lerp_f / qt_lerp_d. */
static __device__ __forceinline__ T FN(lerp)(T self, T end, T w)
{
    return (w < (T)0.5 && w > (T)-0.5) ? ADD(self, MUL(w, ADD(end, -self)))
                                       : ADD(end, -MUL(ADD(end, -self), ADD((T)1, -w)));
}

/* Adam's first half (adam, adamw, adalr, radam): decay (decoupled, into pi) or L2 (into gi),
 * m = lerp(m, g, 1−β₁), v = β₂v + (1−β₂)g², stored in r1, r2 and returned in mi, vi. */
static __device__ __forceinline__ void FN(adam_moments)(const FN(cuda_optim_args_t) &a, T &pi, T &gi, T &r1, T &r2,
                                                        T &mi, T &vi)
{
    pi = a.dec ? MUL(pi, a.decay) : pi;
    gi = a.l2 ? ADD(gi, MUL(a.wd, pi)) : gi;
    mi = FN(lerp)(r1, gi, a.w1);
    vi = ADD(MUL(r2, a.b2), MUL(MUL(a.omb2, gi), gi));
    r1 = mi;
    r2 = vi;
}

/* LAMB's update direction r = m̂/(√v̂ + eps) + wd·θ. */
static __device__ __forceinline__ T FN(lamb_dir)(const FN(cuda_optim_args_t) &a, T p, T m, T v)
{
    T u = DIV(DIV(m, a.bc1), ADD(DIV(SQRT(v), a.bc2s), a.eps));
    return a.has_wd ? ADD(u, MUL(a.wd, p)) : u;
}

/* One element of every optimizer but LAMB (cpu_body.h's loop bodies, operation for operation). */
static __device__ __forceinline__ void FN(elem)(const FN(cuda_optim_args_t) &a, T &p, T g, T &r1, T &r2, T &r3)
{
    T gi = a.maxi ? -g : g, pi = p;
    switch (a.kind) {
    case QT_OPTIM_SGD:
        gi = a.has_wd ? ADD(gi, MUL(a.wd, pi)) : gi;
        if (a.mom) {
            T b = a.first ? gi : ADD(MUL(r1, a.mu), MUL(a.damp1, gi));
            r1 = b;
            gi = a.nest ? ADD(gi, MUL(a.mu, b)) : b;
        }
        p = ADD(pi, MUL(a.nlr, gi));
        break;
    case QT_OPTIM_ADAM:
    case QT_OPTIM_ADAMW:
    case QT_OPTIM_ADALR: {
        T mi, vi;
        FN(adam_moments)(a, pi, gi, r1, r2, mi, vi);
        if (a.eta) {
            T e = MUL(DIV((T)1, ADD(DIV(SQRT(vi), a.bc2s), a.eps)), a.lr);
            r3 = e;
            p = ADD(pi, -MUL(e, DIV(mi, a.bc1)));
        } else {
            if (a.ams) {
                T vm = r3;
                vm = (vm > vi || vm != vm) ? vm : vi;
                r3 = vm;
                vi = vm;
            }
            p = ADD(pi, DIV(MUL(a.nss, mi), ADD(DIV(SQRT(vi), a.bc2s), a.eps)));
        }
        break;
    }
    case QT_OPTIM_RADAM: {
        T mi, vi;
        FN(adam_moments)(a, pi, gi, r1, r2, mi, vi);
        T x = MUL(DIV(mi, a.bc1), a.lr);
        p = ADD(pi, -(a.rect ? MUL(MUL(x, MUL(DIV((T)1, ADD(SQRT(vi), a.eps)), a.bc2p)), a.rr) : x));
        break;
    }
    case QT_OPTIM_RMSPROP: {
        gi = a.has_wd ? ADD(gi, MUL(a.wd, pi)) : gi;
        T sqi = ADD(MUL(r1, a.alpha), MUL(MUL(a.oma, gi), gi));
        r1 = sqi;
        T avg;
        if (a.cen) {
            T gai = FN(lerp)(r3, gi, a.oma);
            r3 = gai;
            avg = ADD(SQRT(ADD(sqi, MUL(-gai, gai))), a.eps);
        } else {
            avg = ADD(SQRT(sqi), a.eps);
        }
        if (a.mom) {
            T b = ADD(MUL(r2, a.mu), DIV(gi, avg));
            r2 = b;
            p = ADD(pi, MUL(a.nlr, b));
        } else {
            p = ADD(pi, DIV(MUL(a.nlr, gi), avg));
        }
        break;
    }
    case QT_OPTIM_ADAGRAD: {
        gi = a.has_wd ? ADD(gi, MUL(a.wd, pi)) : gi;
        T si = ADD(r1, MUL(gi, gi));
        r1 = si;
        p = ADD(pi, DIV(MUL(a.nlr, gi), ADD(SQRT(si), a.eps))); /* nlr holds −clr */
        break;
    }
    case QT_OPTIM_ADABELIEF: {
        pi = a.dec ? MUL(pi, a.decay) : pi;
        gi = a.l2 ? ADD(gi, MUL(a.wd, pi)) : gi;
        T mi = ADD(MUL(r1, a.b1), MUL(a.omb1, gi));
        T r = ADD(gi, -mi);
        T si = ADD(MUL(r2, a.b2), MUL(MUL(a.omb2, r), r));
        si = ADD(si, a.eps);
        r1 = mi;
        r2 = si;
        T sd = si;
        if (a.ams) {
            T vm = r3;
            vm = (vm > si || vm != vm) ? vm : si;
            r3 = vm;
            sd = vm;
        }
        if (a.mode == 0) pi = ADD(pi, DIV(MUL(a.nss, mi), ADD(DIV(SQRT(sd), a.bc2s), a.eps)));
        else if (a.mode == 1) pi = ADD(pi, DIV(MUL(a.nk, mi), ADD(SQRT(si), a.eps)));
        else if (a.mode == 2) pi = ADD(pi, MUL(a.nk, mi));
        p = pi;
        break;
    }
    default: break;
    }
}

/* LAMB pass 1 on one element: moments; adds θ² and r² to the thread's sums. */
static __device__ __forceinline__ void FN(lamb1)(const FN(cuda_optim_args_t) &a, T p, T g, T &m, T &v, double &sw,
                                                 double &su)
{
    T gi = a.maxi ? -g : g;
    m = ADD(MUL(m, a.b1), MUL(a.omb1, gi));
    v = ADD(MUL(v, a.b2), MUL(MUL(a.omb2, gi), gi));
    T u = FN(lamb_dir)(a, p, m, v);
    sw += (double)p * (double)p;
    su += (double)u * (double)u;
}

/* LAMB pass 2 on one element (tr: the tensor's trust ratio in T). */
static __device__ __forceinline__ void FN(lamb2)(const FN(cuda_optim_args_t) &a, T &p, T m, T v, T tr)
{
    T u = FN(lamb_dir)(a, p, m, v);
    u = a.adapt ? MUL(u, tr) : u;
    p = ADD(p, MUL(a.nlr, u));
}

/* Element i of one tensor through elem (roles loaded only when present). */
static __device__ __forceinline__ void FN(elem_at)(const FN(cuda_optim_args_t) &a, T *p, const T *g, T *r1, T *r2,
                                                   T *r3, size_t i)
{
    T pi = p[i], x1 = r1 ? r1[i] : (T)0, x2 = r2 ? r2[i] : (T)0, x3 = r3 ? r3[i] : (T)0;
    FN(elem)(a, pi, g[i], x1, x2, x3);
    p[i] = pi;
    if (r1) r1[i] = x1;
    if (r2) r2[i] = x2;
    if (r3) r3[i] = x3;
}

/* Vector i (W elements) of one tensor through elem. */
static __device__ __forceinline__ void FN(elem_vec)(const FN(cuda_optim_args_t) &a, T *p, const T *g, T *r1, T *r2,
                                                    T *r3, size_t i)
{
    VEC pv = ((VEC *)p)[i], gv = ((const VEC *)g)[i], v1 = pv, v2 = pv, v3 = pv;
    if (r1) v1 = ((VEC *)r1)[i];
    if (r2) v2 = ((VEC *)r2)[i];
    if (r3) v3 = ((VEC *)r3)[i];
    T *pe = (T *)&pv, *ge = (T *)&gv, *e1 = (T *)&v1, *e2 = (T *)&v2, *e3 = (T *)&v3;
#pragma unroll
    for (int k = 0; k < W; k++) FN(elem)(a, pe[k], ge[k], e1[k], e2[k], e3[k]);
    ((VEC *)p)[i] = pv;
    if (r1) ((VEC *)r1)[i] = v1;
    if (r2) ((VEC *)r2)[i] = v2;
    if (r3) ((VEC *)r3)[i] = v3;
}

/* v1: one element per thread over [0, n) of one tensor. */
static __global__ void FN(optim_v1)(FN(cuda_optim_args_t) a, T *p, const T *g, T *r1, T *r2, T *r3, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        FN(elem_at)(a, p, g, r1, r2, r3, i);
}

/* v2: W elements per thread over nv vectors of one aligned tensor (the tail runs v1). */
static __global__ void FN(optim_v2)(FN(cuda_optim_args_t) a, T *p, const T *g, T *r1, T *r2, T *r3, size_t nv)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < nv; i += (size_t)gridDim.x * blockDim.x)
        FN(elem_vec)(a, p, g, r1, r2, r3, i);
}

/* The tensor of chunk c (linear: at most QT_MT_MAX, the same for the whole block). */
static __device__ __forceinline__ int FN(mt_tensor)(const FN(cuda_mt_list_t) &L, int c)
{
    int t = 0;
    while (t + 1 < L.n && c >= L.chunk0[t + 1]) t++;
    return t;
}

/* v3: chunks of many tensors; mode 0 = elem, 1 = LAMB pass 1 (partials in part), 2 = LAMB
 * pass 2 (trust ratios in ratio). */
static __global__ void FN(optim_v3)(FN(cuda_optim_args_t) a, FN(cuda_mt_list_t) L, int mode, double *part,
                                    const double *ratio)
{
    __shared__ double red[2][32];
    for (int c = blockIdx.x; c < L.chunk0[L.n]; c += gridDim.x) {
        const int t = FN(mt_tensor)(L, c);
        const size_t lo = (size_t)(c - L.chunk0[t]) * L.chunk, hi = lo + L.chunk < L.len[t] ? lo + L.chunk : L.len[t];
        T *p = L.p[t], *r1 = L.r1[t], *r2 = L.r2[t], *r3 = L.r3[t];
        const T *g = L.g[t];
        const size_t vlo = lo / W, vhi = L.vec[t] ? hi / W : vlo; /* lo is a multiple of W */
        if (mode == 0) {
            for (size_t i = vlo + threadIdx.x; i < vhi; i += blockDim.x) FN(elem_vec)(a, p, g, r1, r2, r3, i);
            for (size_t i = vhi * W + threadIdx.x; i < hi; i += blockDim.x) FN(elem_at)(a, p, g, r1, r2, r3, i);
        } else if (mode == 1) {
            double sw = 0, su = 0;
            for (size_t i = vlo + threadIdx.x; i < vhi; i += blockDim.x) {
                VEC pv = ((const VEC *)p)[i], gv = ((const VEC *)g)[i], mv = ((VEC *)r1)[i], vv = ((VEC *)r2)[i];
                T *pe = (T *)&pv, *ge = (T *)&gv, *me = (T *)&mv, *ve = (T *)&vv;
#pragma unroll
                for (int k = 0; k < W; k++) FN(lamb1)(a, pe[k], ge[k], me[k], ve[k], sw, su);
                ((VEC *)r1)[i] = mv;
                ((VEC *)r2)[i] = vv;
            }
            for (size_t i = vhi * W + threadIdx.x; i < hi; i += blockDim.x) FN(lamb1)(a, p[i], g[i], r1[i], r2[i], sw, su);
            /* block reduction in a fixed order: warps by shuffles, then warp 0 */
            for (int o = 16; o > 0; o >>= 1) {
                sw += __shfl_down_sync(0xffffffffu, sw, o);
                su += __shfl_down_sync(0xffffffffu, su, o);
            }
            if ((threadIdx.x & 31) == 0) red[0][threadIdx.x >> 5] = sw, red[1][threadIdx.x >> 5] = su;
            __syncthreads();
            if (threadIdx.x == 0) {
                double w = 0, u = 0;
                for (int k = 0; k < (int)(blockDim.x >> 5); k++) w += red[0][k], u += red[1][k];
                part[2 * c] = w;
                part[2 * c + 1] = u;
            }
            __syncthreads();
        } else {
            const T tr = (T)ratio[t];
            for (size_t i = vlo + threadIdx.x; i < vhi; i += blockDim.x) {
                VEC pv = ((VEC *)p)[i], mv = ((const VEC *)r1)[i], vv = ((const VEC *)r2)[i];
                T *pe = (T *)&pv, *me = (T *)&mv, *ve = (T *)&vv;
#pragma unroll
                for (int k = 0; k < W; k++) FN(lamb2)(a, pe[k], me[k], ve[k], tr);
                ((VEC *)p)[i] = pv;
            }
            for (size_t i = vhi * W + threadIdx.x; i < hi; i += blockDim.x) FN(lamb2)(a, p[i], r1[i], r2[i], tr);
        }
    }
}

/* The scalars in T, rounded from double as cpu_body.h rounds them. */
static FN(cuda_optim_args_t) FN(cuda_optim_args)(const qt_optim_config_t *c, const qt_optim_step_info_t *s)
{
    FN(cuda_optim_args_t) a;
    memset(&a, 0, sizeof a);
    const int k = c->kind, wd = c->weight_decay != 0;
    a.kind = k;
    a.maxi = c->maximize;
    a.wd = (T)c->weight_decay;
    a.b1 = (T)c->beta1;
    a.omb1 = (T)(1 - c->beta1);
    a.w1 = (T)(1 - c->beta1);
    a.b2 = (T)c->beta2;
    a.omb2 = (T)(1 - c->beta2);
    a.bc1 = (T)s->bc1;
    a.bc2s = (T)s->bc2_sqrt;
    a.eps = (T)c->eps;
    a.nss = (T)(-s->step_size);
    a.lr = (T)s->lr;
    a.nlr = (T)(-s->lr);
    a.mu = (T)c->momentum;
    a.damp1 = (T)(1 - c->dampening);
    a.has_wd = wd;
    a.mom = c->momentum != 0;
    a.first = s->t == 1;
    a.nest = c->nesterov;
    a.ams = c->amsgrad;
    switch (k) {
    case QT_OPTIM_ADAM:
    case QT_OPTIM_ADAMW:
    case QT_OPTIM_ADALR:
        a.decay = (T)(1 - s->lr * c->weight_decay);
        a.l2 = wd && k != QT_OPTIM_ADAMW;
        a.dec = wd && k == QT_OPTIM_ADAMW;
        a.eta = k == QT_OPTIM_ADALR;
        a.ams = c->amsgrad && k != QT_OPTIM_ADALR;
        break;
    case QT_OPTIM_RADAM:
        a.decay = (T)(1 - s->lr * c->weight_decay);
        a.dec = wd && c->decoupled_weight_decay;
        a.l2 = wd && !c->decoupled_weight_decay;
        a.bc2p = (T)s->radam_bc2_pow;
        a.rr = (T)s->radam_rect_r;
        a.rect = s->radam_rect;
        break;
    case QT_OPTIM_RMSPROP:
        a.alpha = (T)c->alpha;
        a.oma = (T)(1 - c->alpha);
        a.mom = c->momentum > 0;
        a.cen = c->centered;
        break;
    case QT_OPTIM_ADAGRAD: a.nlr = (T)(-s->clr); break;
    case QT_OPTIM_ADABELIEF:
        a.decay = (T)s->decay;
        a.dec = c->weight_decouple;
        a.l2 = !c->weight_decouple && wd;
        a.nk = (T)(-s->ab_step_size * s->lr);
        a.mode = !c->rectify ? 0 : s->ab_sma_ok ? 1 : s->ab_step_size > 0 ? 2 : 3;
        break;
    case QT_OPTIM_LAMB: a.adapt = wd || c->always_adapt; break;
    default: break;
    }
    return a;
}

/* Queue one step over n tensors (elements len[i]; state roles role[3i .. 3i+2]) with kernel
 * version `ver` (LAMB always v3: its norms need the chunk partials). */
static qt_status_t FN(cuda_optim_run)(qt_backend_t *be, const qt_optim_config_t *c, const qt_optim_step_info_t *s,
                                      int ver, int n, T *const *p, const T *const *g, const size_t *len,
                                      T *const *role)
{
    const FN(cuda_optim_args_t) a = FN(cuda_optim_args)(c, s);
    cudaStream_t stream = QT_CUDA_CTX(be)->stream;
    const int threads = 256, lamb = c->kind == QT_OPTIM_LAMB;
    if (ver < 3 && !lamb) {
        for (int i = 0; i < n; i++) {
            T *r1 = role[3 * i], *r2 = role[3 * i + 1], *r3 = role[3 * i + 2];
            const void *ptrs[5] = {p[i], g[i], r1, r2, r3};
            int al = ver == 2;
            for (int k = 0; k < 5; k++) al &= ((uintptr_t)ptrs[k] % 16) == 0;
            size_t nv = al ? len[i] / W : 0;
            if (nv > 0) FN(optim_v2)<<<qt_cuda_blocks(be, nv, threads), threads, 0, stream>>>(a, p[i], g[i], r1, r2, r3, nv);
            if (nv * W < len[i]) /* v1 over the rest: the offset moves the pointers */
                FN(optim_v1)<<<qt_cuda_blocks(be, len[i] - nv * W, threads), threads, 0, stream>>>(
                    a, p[i] + nv * W, g[i] + nv * W, r1 ? r1 + nv * W : NULL, r2 ? r2 + nv * W : NULL,
                    r3 ? r3 + nv * W : NULL, len[i] - nv * W);
            QT_TRY(qt_cuda_launched(be, "optimizer kernel launch"));
        }
        return QT_OK;
    }
    for (int t0 = 0; t0 < n; t0 += QT_MT_MAX) { /* groups of QT_MT_MAX tensors, one launch each */
        FN(cuda_mt_list_t) L;
        memset(&L, 0, sizeof L);
        L.n = n - t0 < QT_MT_MAX ? n - t0 : QT_MT_MAX;
        /* Chunk size: QT_MT_CHUNK halved down to 4096 until the group has ≥ 16 chunks per SM:
         * with a fixed 65536, one tensor of 10M parameters made 153 blocks on 132 SMs (21 SMs
         * ran two in a row, the others idled half the step), and 100M made 1.4 waves. (LAMB's
         * norms sum the chunk partials in chunk order: the order, hence the rounding of the
         * norms, follows the chunk size, which depends only on the sizes and the GPU.) */
        size_t total = 0;
        for (int i = 0; i < L.n; i++) total += len[t0 + i];
        L.chunk = QT_MT_CHUNK;
        while (L.chunk > 4096 && total / L.chunk < 16 * (size_t)QT_CUDA_CTX(be)->sms) L.chunk /= 2;
        long long chunks = 0;
        for (int i = 0; i < L.n; i++) {
            int t = t0 + i;
            L.p[i] = p[t];
            L.g[i] = g[t];
            L.r1[i] = role[3 * t];
            L.r2[i] = role[3 * t + 1];
            L.r3[i] = role[3 * t + 2];
            L.len[i] = len[t];
            const void *ptrs[5] = {p[t], g[t], L.r1[i], L.r2[i], L.r3[i]};
            L.vec[i] = 1;
            for (int k = 0; k < 5; k++) L.vec[i] &= ((uintptr_t)ptrs[k] % 16) == 0;
            L.chunk0[i] = (int)chunks;
            chunks += (long long)((len[t] + L.chunk - 1) / L.chunk);
            if (chunks > INT32_MAX / 2)
                return qt_backend_fail(be, QT_ERR_SHAPE, "optimizer: %lld chunks of %zu elements in one group", chunks,
                                       L.chunk);
        }
        L.chunk0[L.n] = (int)chunks;
        if (chunks == 0) continue;
        int blocks = qt_cuda_blocks(be, (size_t)chunks * threads, threads);
        if (!lamb) {
            FN(optim_v3)<<<blocks, threads, 0, stream>>>(a, L, 0, NULL, NULL);
            QT_TRY(qt_cuda_launched(be, "optimizer kernel launch"));
            continue;
        }
        void *scr;
        QT_TRY(qt_cuda_scratch(be, (2 * (size_t)chunks + QT_MT_MAX) * sizeof(double), &scr));
        double *part = (double *)scr, *ratio = part + 2 * chunks;
        FN(optim_v3)<<<blocks, threads, 0, stream>>>(a, L, 1, part, NULL);
        qt_cuda_mt_chunks_t ch;
        memcpy(ch.c, L.chunk0, sizeof ch.c);
        qt_cuda_lamb_ratio<<<L.n, QT_LAMB_THREADS, 0, stream>>>(part, ch, a.adapt, c->trust_clip, ratio);
        FN(optim_v3)<<<blocks, threads, 0, stream>>>(a, L, 2, NULL, ratio);
        QT_TRY(qt_cuda_launched(be, "lamb kernel launch"));
    }
    return QT_OK;
}

#undef CAT_
#undef CAT
#undef FN
