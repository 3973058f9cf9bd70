/* optim_body.cuh — the fused optimizer kernels of the cuda backend, written once and
 * included by cuda.cu for each element type (as impl/optim/cpu_body.h is for the cpu
 * backend): T (float/double), VEC (float4/double2: 16-byte loads), W (elements per VEC),
 * SFX (f32/f64), and the correctly rounded, never-contracted arithmetic ADD, MUL, DIV, SQRT
 * (__fadd_rn … / __dadd_rn …), so every element is computed with the same operations in the
 * same order as cpu_body.h (which is compiled without FMA contraction): the cuda backend's
 * results equal the cpu backend's bit for bit.
 *
 * One kernel per optimizer, one pass: each element's parameter, gradient and state are read
 * once and written once. Kernel versions (kept side by side, llm.c style):
 *   v1  one element per thread, grid-stride loop: any alignment;
 *   v2  W elements per thread through 16-byte vector loads and stores (float4 / double2) when
 *       every pointer is 16-byte aligned, a v1 tail for the last n mod W elements.
 * Per-step scalars come from qt_optim_step_info_t (double, computed once on the host) and are
 * rounded once to T, exactly as cpu_body.h rounds them. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SFX)

/* The scalars of one step, rounded to T (names as in cpu_body.h). */
typedef struct {
    T wd, decay, w1, b2, omb2, bc2s, eps, nss; /* adam, adamw */
    T mu, damp1, nlr;                           /* sgd */
    int maxi, has_wd, l2, dec, ams, mom, first, nest;
} FN(cuda_optim_args_t);

/* torch's lerp, as qt_lerp_f / qt_lerp_d. */
static __device__ __forceinline__ T FN(lerp)(T self, T end, T w)
{
    return (w < (T)0.5 && w > (T)-0.5) ? ADD(self, MUL(w, ADD(end, -self)))
                                       : ADD(end, -MUL(ADD(end, -self), ADD((T)1, -w)));
}

/* sgd, one element: optional L2 decay, momentum (first step: b = g), nesterov. */
static __device__ __forceinline__ void FN(sgd_elem)(FN(cuda_optim_args_t) a, T *p, T g, T *buf)
{
    T gi = a.maxi ? -g : g;
    gi = a.has_wd ? ADD(gi, MUL(a.wd, *p)) : gi;
    if (a.mom) {
        T b = a.first ? gi : ADD(MUL(*buf, a.mu), MUL(a.damp1, gi));
        *buf = b;
        gi = a.nest ? ADD(gi, MUL(a.mu, b)) : b;
    }
    *p = ADD(*p, MUL(a.nlr, gi));
}

/* adam / adamw, one element (ams: keep the max of v in vmax). */
static __device__ __forceinline__ void FN(adam_elem)(FN(cuda_optim_args_t) a, T *p, T g, T *m, T *v, T *vmax)
{
    T gi = a.maxi ? -g : g, pi = *p;
    pi = a.dec ? MUL(pi, a.decay) : pi;
    gi = a.l2 ? ADD(gi, MUL(a.wd, pi)) : gi;
    T mi = FN(lerp)(*m, gi, a.w1);
    T vi = ADD(MUL(*v, a.b2), MUL(MUL(a.omb2, gi), gi));
    *m = mi;
    *v = vi;
    if (a.ams) {
        T vm = *vmax;
        vm = (vm > vi || vm != vm) ? vm : vi;
        *vmax = vm;
        vi = vm;
    }
    *p = ADD(pi, DIV(MUL(a.nss, mi), ADD(DIV(SQRT(vi), a.bc2s), a.eps)));
}

/* v1: one element per thread over [lo, n). */
static __global__ void FN(sgd_v1)(FN(cuda_optim_args_t) a, T *__restrict__ p, const T *__restrict__ g,
                                  T *__restrict__ buf, size_t lo, size_t n)
{
    for (size_t i = lo + blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        T pi = p[i];
        FN(sgd_elem)(a, &pi, g[i], a.mom ? &buf[i] : NULL);
        p[i] = pi;
    }
}

static __global__ void FN(adam_v1)(FN(cuda_optim_args_t) a, T *__restrict__ p, const T *__restrict__ g,
                                   T *__restrict__ m, T *__restrict__ v, T *__restrict__ vmax, size_t lo, size_t n)
{
    for (size_t i = lo + blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        T pi = p[i], mi = m[i], vi = v[i];
        FN(adam_elem)(a, &pi, g[i], &mi, &vi, a.ams ? &vmax[i] : NULL);
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}

/* v2: W elements per thread through 16-byte loads; nv = n / W vectors. */
static __global__ void FN(sgd_v2)(FN(cuda_optim_args_t) a, VEC *__restrict__ p, const VEC *__restrict__ g,
                                  VEC *__restrict__ buf, size_t nv)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < nv; i += (size_t)gridDim.x * blockDim.x) {
        VEC pv = p[i], gv = g[i], bv = pv;
        if (a.mom) bv = buf[i];
        T *pe = (T *)&pv, *ge = (T *)&gv, *be = (T *)&bv;
#pragma unroll
        for (int k = 0; k < W; k++) FN(sgd_elem)(a, &pe[k], ge[k], a.mom ? &be[k] : NULL);
        p[i] = pv;
        if (a.mom) buf[i] = bv;
    }
}

static __global__ void FN(adam_v2)(FN(cuda_optim_args_t) a, VEC *__restrict__ p, const VEC *__restrict__ g,
                                   VEC *__restrict__ m, VEC *__restrict__ v, VEC *__restrict__ vmax, size_t nv)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < nv; i += (size_t)gridDim.x * blockDim.x) {
        VEC pv = p[i], gv = g[i], mv = m[i], vv = v[i], xv = vv;
        if (a.ams) xv = vmax[i];
        T *pe = (T *)&pv, *ge = (T *)&gv, *me = (T *)&mv, *ve = (T *)&vv, *xe = (T *)&xv;
#pragma unroll
        for (int k = 0; k < W; k++) FN(adam_elem)(a, &pe[k], ge[k], &me[k], &ve[k], a.ams ? &xe[k] : NULL);
        p[i] = pv;
        m[i] = mv;
        v[i] = vv;
        if (a.ams) vmax[i] = xv;
    }
}

/* The step's scalars in T, rounded from double as cpu_body.h rounds them. */
static FN(cuda_optim_args_t) FN(cuda_optim_args)(const qt_optim_config_t *c, const qt_optim_step_info_t *s)
{
    FN(cuda_optim_args_t) a;
    memset(&a, 0, sizeof a);
    int adamw = c->kind == QT_OPTIM_ADAMW;
    a.wd = (T)c->weight_decay;
    a.decay = (T)(1 - s->lr * c->weight_decay);
    a.w1 = (T)(1 - c->beta1);
    a.b2 = (T)c->beta2;
    a.omb2 = (T)(1 - c->beta2);
    a.bc2s = (T)s->bc2_sqrt;
    a.eps = (T)c->eps;
    a.nss = (T)(-s->step_size);
    a.mu = (T)c->momentum;
    a.damp1 = (T)(1 - c->dampening);
    a.nlr = (T)(-s->lr);
    a.maxi = c->maximize;
    a.has_wd = c->weight_decay != 0;
    a.l2 = c->weight_decay != 0 && !adamw;
    a.dec = c->weight_decay != 0 && adamw;
    a.ams = c->amsgrad;
    a.mom = c->momentum != 0;
    a.first = s->t == 1;
    a.nest = c->nesterov;
    return a;
}

/* Queue one tensor's update on the stream: v2 over the aligned bulk and v1 over the tail, or
 * v1 over everything when a pointer is not 16-byte aligned. */
static void FN(cuda_optim_launch)(const qt_optim_config_t *c, const qt_optim_step_info_t *s, cudaStream_t stream,
                                  int max_blocks, T *p, const T *g, void *const *st, size_t n)
{
    FN(cuda_optim_args_t) a = FN(cuda_optim_args)(c, s);
    qt_optim_layout_t l;
    qt_optim_layout(c, &l);
    int sgd = c->kind == QT_OPTIM_SGD;
    T *s0 = (T *)(sgd ? (l.buf >= 0 ? st[l.buf] : NULL) : st[l.m]);
    T *s1 = sgd ? NULL : (T *)st[l.v], *s2 = !sgd && l.vmax >= 0 ? (T *)st[l.vmax] : NULL;
    const void *ptrs[5] = {p, g, s0, s1, s2};
    int aligned = 1;
    for (int k = 0; k < 5; k++) aligned &= ((uintptr_t)ptrs[k] % 16) == 0;
    const int threads = 256;
    size_t nv = aligned ? n / W : 0, lo = nv * W;
    if (nv > 0) {
        size_t want = (nv + threads - 1) / threads;
        int blocks = (int)(want < (size_t)max_blocks ? want : (size_t)max_blocks);
        if (sgd) FN(sgd_v2)<<<blocks, threads, 0, stream>>>(a, (VEC *)p, (const VEC *)g, (VEC *)s0, nv);
        else FN(adam_v2)<<<blocks, threads, 0, stream>>>(a, (VEC *)p, (const VEC *)g, (VEC *)s0, (VEC *)s1,
                                                         (VEC *)s2, nv);
    }
    if (lo < n) {
        size_t want = (n - lo + threads - 1) / threads;
        int blocks = (int)(want < (size_t)max_blocks ? want : (size_t)max_blocks);
        if (sgd) FN(sgd_v1)<<<blocks, threads, 0, stream>>>(a, p, g, s0, lo, n);
        else FN(adam_v1)<<<blocks, threads, 0, stream>>>(a, p, g, s0, s1, s2, lo, n);
    }
}

#undef CAT_
#undef CAT
#undef FN
