/* common.c — the fusion module's graph, written once for every backend (quintet/fusion.h
 * documents the model): configuration names and checks, the parameter layout (one flat
 * tensor) and the activation layout (one work tensor: activations, then their gradients,
 * same offsets), parameter initialisation, dispatch (qt_fusion_supports), and the forward and
 * hand-written backward passes as sequences of the backend's primitive kernels
 * (internal.h; ref.c and cpu.c implement them). The graph itself does no arithmetic on
 * tensor data, so a device backend runs it unchanged; a dry run (no backend) counts FLOPs.
 * Tests: tests/fusion/test_fusion.c (make test). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "quintet/counters.h"
#include "quintet/rng.h"

static const char *strategy_names[QT_FUSION_STRATEGY_COUNT] = {"early", "late_avg", "late_learned",
                                                                "gated", "cross",    "hybrid"};

/* Strategy name. */
const char *qt_fusion_strategy_name(qt_fusion_strategy_t s)
{
    return (unsigned)s < QT_FUSION_STRATEGY_COUNT ? strategy_names[s] : "?";
}

/* Parse a strategy name. */
qt_status_t qt_fusion_strategy_parse(const char *s, qt_fusion_strategy_t *out)
{
    QT_CHECK_ARG(s && out, "strategy name and output must not be NULL");
    for (int i = 0; i < QT_FUSION_STRATEGY_COUNT; i++)
        if (!strcmp(s, strategy_names[i])) { *out = (qt_fusion_strategy_t)i; return QT_OK; }
    return qt_fail(QT_ERR_ARG, "unknown fusion strategy '%s' (early, late_avg, late_learned, gated, cross, hybrid)", s);
}

/* Check a configuration. */
qt_status_t qt_fusion_config_check(const qt_fusion_config_t *c)
{
    QT_CHECK_ARG(c != NULL, "fusion config must not be NULL");
    QT_CHECK_ARG(c->n_mod >= 1 && c->n_mod <= QT_FUSION_MAX_MOD, "n_mod %d must be in 1..%d", c->n_mod,
                 QT_FUSION_MAX_MOD);
    for (int m = 0; m < c->n_mod; m++) {
        QT_CHECK_ARG(c->len[m] >= 1, "modality %d is empty: len %d must be >= 1", m, c->len[m]);
        QT_CHECK_ARG(c->feat[m] >= 1, "modality %d has feat %d, must be >= 1", m, c->feat[m]);
    }
    QT_CHECK_ARG(c->classes >= 2, "classes %d must be >= 2", c->classes);
    QT_CHECK_ARG(c->d >= 1 && c->d_ff >= 1, "d %d and d_ff %d must be >= 1", c->d, c->d_ff);
    QT_CHECK_ARG((unsigned)c->strategy < QT_FUSION_STRATEGY_COUNT, "unknown fusion strategy %d", (int)c->strategy);
    QT_CHECK_ARG(c->n_mod >= 2 || (c->strategy != QT_FUSION_CROSS && c->strategy != QT_FUSION_HYBRID),
                 "strategy %s needs at least 2 modalities", strategy_names[c->strategy]);
    return QT_OK;
}

/* ------------------------------------------------------------- layouts */

typedef struct { int64_t W, b; } lin_t;  /* parameter offsets */
typedef struct { int64_t g, b; } lnp_t;
typedef struct { lin_t l1, l2; } head_t;
typedef struct { lin_t lin; lnp_t ln; int64_t emb, pos; } enc_t;
typedef struct { lnp_t lnq, lnk, ln2; lin_t q, k, v, o, f1, f2; } blk_t;

typedef struct { int64_t xn, xs, z, a, u, us, h; } enc_act_t; /* activation offsets */
typedef struct { int64_t A, As, S, Ss, Q, K, V, P, O, ao, y1, n2, n2s, f1, g1, f2, y2; } blk_act_t;
typedef struct { int64_t f, g, o; } head_act_t;

#define MAXPAIR (QT_FUSION_MAX_MOD * (QT_FUSION_MAX_MOD - 1))

typedef struct {
    const qt_fusion_config_t *cfg;
    int M, pairs, pa[MAXPAIR], pb[MAXPAIR]; /* pair k: target pa[k] ← source pb[k] */
    int cross, has_late, n_blk;
    /* parameters */
    int64_t n_params;
    enc_t enc[QT_FUSION_MAX_MOD];
    blk_t blk[MAXPAIR];
    head_t head[1 + QT_FUSION_MAX_MOD]; /* 0: the fusion head; 1 + m: modality m's (late, hybrid) */
    lin_t gate;
    int64_t mixa;
    /* activations for batch B */
    int64_t B, n_act;
    enc_act_t ea[QT_FUSION_MAX_MOD];
    blk_act_t ba[MAXPAIR];
    head_act_t ha[1 + QT_FUSION_MAX_MOD];
    int64_t psum, zc, hl, gs, gg, gf, zero, lg, mixo, logits;
} plan_t;

/* Reserve n elements of a layout. */
static int64_t take(int64_t *top, int64_t n)
{
    int64_t o = *top;
    *top += n;
    return o;
}

static lin_t take_lin(int64_t *top, int64_t in, int64_t out)
{
    lin_t l = {take(top, in * out), 0};
    l.b = take(top, out);
    return l;
}

static lnp_t take_ln(int64_t *top, int64_t d)
{
    lnp_t l = {take(top, d), 0};
    l.b = take(top, d);
    return l;
}

static head_t take_head(int64_t *top, int64_t in, const qt_fusion_config_t *c)
{
    head_t h = {take_lin(top, in, c->d_ff), {0, 0}};
    h.l2 = take_lin(top, c->d_ff, c->classes);
    return h;
}

static head_act_t take_head_act(int64_t *top, int64_t B, const qt_fusion_config_t *c, int64_t o)
{
    head_act_t h = {take(top, B * c->d_ff), 0, o};
    h.g = take(top, B * c->d_ff);
    if (o < 0) h.o = take(top, B * c->classes);
    return h;
}

/* The parameter layout of a checked config, and the activations of batch B (B 0: none). */
static void plan_make(plan_t *p, const qt_fusion_config_t *c, int64_t B)
{
    memset(p, 0, sizeof *p);
    p->cfg = c;
    p->M = c->n_mod;
    p->cross = c->strategy == QT_FUSION_CROSS || c->strategy == QT_FUSION_HYBRID;
    p->has_late = c->strategy == QT_FUSION_LATE_AVG || c->strategy == QT_FUSION_LATE_LEARNED ||
              c->strategy == QT_FUSION_HYBRID;
    if (p->cross)
        for (int a = 0; a < p->M; a++)
            for (int b = 0; b < p->M; b++)
                if (a != b) { p->pa[p->pairs] = a; p->pb[p->pairs] = b; p->pairs++; }
    p->n_blk = p->cross ? (c->shared_cross ? 1 : p->pairs) : 0;
    int64_t d = c->d, *t = &p->n_params;
    for (int m = 0; m < p->M; m++) {
        p->enc[m].lin = take_lin(t, c->feat[m], d);
        p->enc[m].ln = take_ln(t, d);
        p->enc[m].emb = take(t, d);
        p->enc[m].pos = take(t, (int64_t)c->len[m] * d);
    }
    for (int k = 0; k < p->n_blk; k++) {
        blk_t *bk = &p->blk[k];
        bk->lnq = take_ln(t, d);
        bk->lnk = take_ln(t, d);
        bk->q = take_lin(t, d, d);
        bk->k = take_lin(t, d, d);
        bk->v = take_lin(t, d, d);
        bk->o = take_lin(t, d, d);
        bk->ln2 = take_ln(t, d);
        bk->f1 = take_lin(t, d, c->d_ff);
        bk->f2 = take_lin(t, c->d_ff, d);
    }
    int has_head0 = c->strategy != QT_FUSION_LATE_AVG && c->strategy != QT_FUSION_LATE_LEARNED;
    int64_t in0 = c->strategy == QT_FUSION_EARLY ? p->M * d : c->strategy == QT_FUSION_GATED ? d : p->pairs * d;
    if (has_head0) p->head[0] = take_head(t, in0, c);
    if (p->has_late)
        for (int m = 0; m < p->M; m++) p->head[1 + m] = take_head(t, d, c);
    if (c->strategy == QT_FUSION_GATED) p->gate = take_lin(t, p->M * d, p->M);
    if (c->strategy == QT_FUSION_LATE_LEARNED) p->mixa = take(t, p->M);
    if (B <= 0) return;
    /* activations */
    p->B = B;
    t = &p->n_act;
    for (int m = 0; m < p->M; m++) {
        int64_t rows = B * c->len[m];
        enc_act_t *e = &p->ea[m];
        if (c->normalize) { e->xn = take(t, rows * c->feat[m]); e->xs = take(t, 2 * rows); }
        e->z = take(t, rows * d);
        e->a = take(t, rows * d);
        e->u = take(t, rows * d);
        e->us = take(t, 2 * rows);
        e->h = take(t, rows * d);
    }
    p->psum = take(t, B * p->M * d);
    for (int k = 0; k < p->pairs; k++) {
        int64_t ra = B * c->len[p->pa[k]], rb = B * c->len[p->pb[k]];
        blk_act_t *a = &p->ba[k];
        a->A = take(t, ra * d); a->As = take(t, 2 * ra);
        a->S = take(t, rb * d); a->Ss = take(t, 2 * rb);
        a->Q = take(t, ra * d); a->K = take(t, rb * d); a->V = take(t, rb * d);
        a->P = take(t, B * c->len[p->pa[k]] * c->len[p->pb[k]]);
        a->O = take(t, ra * d); a->ao = take(t, ra * d); a->y1 = take(t, ra * d);
        a->n2 = take(t, ra * d); a->n2s = take(t, 2 * ra);
        a->f1 = take(t, ra * c->d_ff); a->g1 = take(t, ra * c->d_ff);
        a->f2 = take(t, ra * d); a->y2 = take(t, ra * d);
    }
    p->zc = take(t, B * (p->pairs > p->M ? p->pairs : p->M) * d);
    if (has_head0) p->ha[0] = take_head_act(t, B, c, -1);
    if (p->has_late) { /* the M heads' logits as one (M, B, C) block, for mixing */
        p->hl = take(t, p->M * B * c->classes);
        for (int m = 0; m < p->M; m++) p->ha[1 + m] = take_head_act(t, B, c, p->hl + m * B * c->classes);
    }
    p->gs = take(t, B * p->M);
    p->gg = take(t, B * p->M);
    p->gf = take(t, B * d);
    p->zero = take(t, p->M);
    p->lg = take(t, B * p->M);
    p->mixo = take(t, B * c->classes);
    p->logits = c->strategy == QT_FUSION_HYBRID ? take(t, B * c->classes) : p->has_late ? p->mixo : p->ha[0].o;
}

int64_t qt_fusion_n_params(const qt_fusion_config_t *cfg)
{
    if (qt_fusion_config_check(cfg) != QT_OK) return 0;
    plan_t p;
    plan_make(&p, cfg, 0);
    return p.n_params;
}

int64_t qt_fusion_work_size(const qt_fusion_config_t *cfg, int64_t B)
{
    if (qt_fusion_config_check(cfg) != QT_OK || B <= 0) return 0;
    plan_t p;
    plan_make(&p, cfg, B);
    return 2 * p.n_act; /* activations, then their gradients */
}

/* ------------------------------------------------------------ the graph */

/* A run of the graph: kernels (NULL: dry run counting FLOPs), bases of params, grads, the
 * activations (act) and their gradients (dact), in elements of size es. */
typedef struct {
    qt_backend_t *be;
    const struct qt_fusion_kernels *k;
    plan_t p;
    size_t es;
    qt_dtype_t dt;
    char *P, *G, *act, *dact;
    double flops;
} run_t;

#define AP(r, o) ((void *)((r)->act + (size_t)(o) * (r)->es))
#define DP(r, o) ((void *)((r)->dact + (size_t)(o) * (r)->es))
#define PP(r, o) ((void *)((r)->P + (size_t)(o) * (r)->es))
#define GP(r, o) ((void *)((r)->G + (size_t)(o) * (r)->es))

/* Linear forward/backward through the kernels, counting FLOPs. */
static void lin_f(run_t *r, const void *x, int64_t rows, int64_t in, lin_t l, int64_t out, void *y)
{
    r->flops += 2.0 * rows * in * out;
    if (r->k) r->k->linear_fwd(r->be, x, rows, in, PP(r, l.W), PP(r, l.b), out, y);
}

static void lin_b(run_t *r, const void *x, int64_t rows, int64_t in, lin_t l, int64_t out, const void *dy, void *dx)
{
    r->flops += (dx ? 4.0 : 2.0) * rows * in * out;
    if (r->k) r->k->linear_bwd(r->be, x, rows, in, PP(r, l.W), out, dy, dx, GP(r, l.W), GP(r, l.b));
}

/* The head on input x (B, in), output at ha.o. */
static void head_f(run_t *r, int h, const void *x, int64_t in)
{
    const qt_fusion_config_t *c = r->p.cfg;
    head_t *hp = &r->p.head[h];
    head_act_t *ha = &r->p.ha[h];
    lin_f(r, x, r->p.B, in, hp->l1, c->d_ff, AP(r, ha->f));
    if (r->k) r->k->gelu_fwd(r->be, AP(r, ha->f), AP(r, ha->g), r->p.B * c->d_ff);
    lin_f(r, AP(r, ha->g), r->p.B, c->d_ff, hp->l2, c->classes, AP(r, ha->o));
}

static void head_b(run_t *r, int h, const void *x, int64_t in, void *dx)
{
    const qt_fusion_config_t *c = r->p.cfg;
    head_t *hp = &r->p.head[h];
    head_act_t *ha = &r->p.ha[h];
    lin_b(r, AP(r, ha->g), r->p.B, c->d_ff, hp->l2, c->classes, DP(r, ha->o), DP(r, ha->g));
    if (r->k) r->k->gelu_bwd(r->be, AP(r, ha->f), DP(r, ha->g), DP(r, ha->f), r->p.B * c->d_ff);
    lin_b(r, x, r->p.B, in, hp->l1, c->d_ff, DP(r, ha->f), dx);
}


/* Forward of the whole graph on inputs x[m] (device pointers). Summaries: p_m at
 * psum + m·B·d (M blocks of (B, d)); EARLY and GATED also pool into zc as (B, M·d) rows
 * ([p_1; …; p_M]); CROSS pools block q's output into zc columns q·d of (B, pairs·d). */
static void graph_forward(run_t *r, const void *const *x)
{
    plan_t *p = &r->p;
    const qt_fusion_config_t *c = p->cfg;
    const struct qt_fusion_kernels *k = r->k;
    int64_t B = p->B, d = c->d, M = p->M, C = c->classes;
    for (int m = 0; m < M; m++) {
        enc_act_t *e = &p->ea[m];
        const enc_t *ep = &p->enc[m];
        int64_t L = c->len[m], rows = B * L;
        const void *xin = x[m];
        if (c->normalize) {
            if (k) k->ln_fwd(r->be, x[m], rows, c->feat[m], NULL, NULL, AP(r, e->xn), AP(r, e->xs));
            xin = AP(r, e->xn);
        }
        lin_f(r, xin, rows, c->feat[m], ep->lin, d, AP(r, e->z));
        if (!k) continue;
        k->gelu_fwd(r->be, AP(r, e->z), AP(r, e->a), rows * d);
        k->ln_fwd(r->be, AP(r, e->a), rows, d, PP(r, ep->ln.g), PP(r, ep->ln.b), AP(r, e->u), AP(r, e->us));
        k->embed_fwd(r->be, AP(r, e->u), B, L, d, PP(r, ep->emb), PP(r, ep->pos), AP(r, e->h));
        k->pool_fwd(r->be, AP(r, e->h), B, L, d, AP(r, p->psum + m * B * d), d);
        if (c->strategy == QT_FUSION_EARLY || c->strategy == QT_FUSION_GATED)
            k->pool_fwd(r->be, AP(r, e->h), B, L, d, AP(r, p->zc + m * d), M * d);
    }
    for (int q = 0; q < p->pairs; q++) {
        blk_act_t *a = &p->ba[q];
        const blk_t *bp = &p->blk[c->shared_cross ? 0 : q];
        int ia = p->pa[q], ib = p->pb[q];
        int64_t La = c->len[ia], Lb = c->len[ib], ra = B * La, rb = B * Lb;
        if (k) {
            k->ln_fwd(r->be, AP(r, p->ea[ia].h), ra, d, PP(r, bp->lnq.g), PP(r, bp->lnq.b), AP(r, a->A), AP(r, a->As));
            k->ln_fwd(r->be, AP(r, p->ea[ib].h), rb, d, PP(r, bp->lnk.g), PP(r, bp->lnk.b), AP(r, a->S), AP(r, a->Ss));
        }
        lin_f(r, AP(r, a->A), ra, d, bp->q, d, AP(r, a->Q));
        lin_f(r, AP(r, a->S), rb, d, bp->k, d, AP(r, a->K));
        lin_f(r, AP(r, a->S), rb, d, bp->v, d, AP(r, a->V));
        r->flops += 4.0 * B * La * Lb * d;
        if (k) k->attn_fwd(r->be, AP(r, a->Q), AP(r, a->K), AP(r, a->V), B, La, Lb, d, AP(r, a->O), AP(r, a->P));
        lin_f(r, AP(r, a->O), ra, d, bp->o, d, AP(r, a->ao));
        if (k) {
            k->add(r->be, AP(r, p->ea[ia].h), AP(r, a->ao), AP(r, a->y1), ra * d);
            k->ln_fwd(r->be, AP(r, a->y1), ra, d, PP(r, bp->ln2.g), PP(r, bp->ln2.b), AP(r, a->n2), AP(r, a->n2s));
        }
        lin_f(r, AP(r, a->n2), ra, d, bp->f1, c->d_ff, AP(r, a->f1));
        if (k) k->gelu_fwd(r->be, AP(r, a->f1), AP(r, a->g1), ra * c->d_ff);
        lin_f(r, AP(r, a->g1), ra, c->d_ff, bp->f2, d, AP(r, a->f2));
        if (k) {
            k->add(r->be, AP(r, a->y1), AP(r, a->f2), AP(r, a->y2), ra * d);
            k->pool_fwd(r->be, AP(r, a->y2), B, La, d, AP(r, p->zc + q * d), p->pairs * d);
        }
    }
    if (c->strategy == QT_FUSION_EARLY) head_f(r, 0, AP(r, p->zc), M * d);
    if (c->strategy == QT_FUSION_GATED) {
        lin_f(r, AP(r, p->zc), B, M * d, p->gate, M, AP(r, p->gs));
        if (k) k->mix_fwd(r->be, AP(r, p->gs), M, AP(r, p->psum), d, B * d, B, M, d, AP(r, p->gf), AP(r, p->gg));
        head_f(r, 0, AP(r, p->gf), d);
    }
    if (p->cross) head_f(r, 0, AP(r, p->zc), p->pairs * d);
    if (p->has_late) {
        for (int m = 0; m < M; m++) head_f(r, 1 + m, AP(r, p->psum + m * B * d), d);
        int learned = c->strategy == QT_FUSION_LATE_LEARNED;
        if (k) {
            if (!learned) r->be->iface->memset0(r->be, AP(r, p->zero), (size_t)M * r->es);
            k->mix_fwd(r->be, learned ? PP(r, p->mixa) : AP(r, p->zero), 0, AP(r, p->hl), C, B * C, B, M, C,
                       AP(r, p->mixo), AP(r, p->lg));
        }
    }
    if (c->strategy == QT_FUSION_HYBRID && k) k->add(r->be, AP(r, p->ha[0].o), AP(r, p->mixo), AP(r, p->logits), B * C);
}

/* Backward of the whole graph from the logits' gradient at DP(logits); every gradient
 * accumulates (internal.h), dact and the parameter gradients were zeroed. */
static void graph_backward(run_t *r, const void *const *x)
{
    plan_t *p = &r->p;
    const qt_fusion_config_t *c = p->cfg;
    const struct qt_fusion_kernels *k = r->k;
    int64_t B = p->B, d = c->d, M = p->M, C = c->classes;
    if (c->strategy == QT_FUSION_HYBRID && k) {
        k->acc(r->be, DP(r, p->logits), DP(r, p->ha[0].o), B * C);
        k->acc(r->be, DP(r, p->logits), DP(r, p->mixo), B * C);
    }
    if (p->has_late) {
        int learned = c->strategy == QT_FUSION_LATE_LEARNED;
        if (k)
            k->mix_bwd(r->be, 0, AP(r, p->hl), C, B * C, B, M, C, AP(r, p->lg), DP(r, p->mixo), DP(r, p->hl),
                       learned ? GP(r, p->mixa) : NULL);
        for (int m = 0; m < M; m++) head_b(r, 1 + m, AP(r, p->psum + m * B * d), d, DP(r, p->psum + m * B * d));
    }
    if (p->cross) head_b(r, 0, AP(r, p->zc), p->pairs * d, DP(r, p->zc));
    if (c->strategy == QT_FUSION_GATED) {
        head_b(r, 0, AP(r, p->gf), d, DP(r, p->gf));
        if (k)
            k->mix_bwd(r->be, M, AP(r, p->psum), d, B * d, B, M, d, AP(r, p->gg), DP(r, p->gf), DP(r, p->psum),
                       DP(r, p->gs));
        lin_b(r, AP(r, p->zc), B, M * d, p->gate, M, DP(r, p->gs), DP(r, p->zc));
    }
    if (c->strategy == QT_FUSION_EARLY) head_b(r, 0, AP(r, p->zc), M * d, DP(r, p->zc));
    for (int q = p->pairs - 1; q >= 0; q--) {
        blk_act_t *a = &p->ba[q];
        const blk_t *bp = &p->blk[c->shared_cross ? 0 : q];
        int ia = p->pa[q], ib = p->pb[q];
        int64_t La = c->len[ia], Lb = c->len[ib], ra = B * La, rb = B * Lb;
        if (k) {
            k->pool_bwd(r->be, DP(r, p->zc + q * d), p->pairs * d, B, La, d, DP(r, a->y2));
            k->acc(r->be, DP(r, a->y2), DP(r, a->y1), ra * d);
            k->acc(r->be, DP(r, a->y2), DP(r, a->f2), ra * d);
        }
        lin_b(r, AP(r, a->g1), ra, c->d_ff, bp->f2, d, DP(r, a->f2), DP(r, a->g1));
        if (k) k->gelu_bwd(r->be, AP(r, a->f1), DP(r, a->g1), DP(r, a->f1), ra * c->d_ff);
        lin_b(r, AP(r, a->n2), ra, d, bp->f1, c->d_ff, DP(r, a->f1), DP(r, a->n2));
        if (k) {
            k->ln_bwd(r->be, AP(r, a->y1), ra, d, PP(r, bp->ln2.g), AP(r, a->n2s), DP(r, a->n2), DP(r, a->y1),
                      GP(r, bp->ln2.g), GP(r, bp->ln2.b));
            k->acc(r->be, DP(r, a->y1), DP(r, p->ea[ia].h), ra * d);
            k->acc(r->be, DP(r, a->y1), DP(r, a->ao), ra * d);
        }
        lin_b(r, AP(r, a->O), ra, d, bp->o, d, DP(r, a->ao), DP(r, a->O));
        r->flops += 8.0 * B * La * Lb * d;
        if (k)
            k->attn_bwd(r->be, AP(r, a->Q), AP(r, a->K), AP(r, a->V), AP(r, a->P), DP(r, a->O), B, La, Lb, d,
                        DP(r, a->Q), DP(r, a->K), DP(r, a->V), DP(r, a->P));
        lin_b(r, AP(r, a->A), ra, d, bp->q, d, DP(r, a->Q), DP(r, a->A));
        lin_b(r, AP(r, a->S), rb, d, bp->k, d, DP(r, a->K), DP(r, a->S));
        lin_b(r, AP(r, a->S), rb, d, bp->v, d, DP(r, a->V), DP(r, a->S));
        if (k) {
            k->ln_bwd(r->be, AP(r, p->ea[ia].h), ra, d, PP(r, bp->lnq.g), AP(r, a->As), DP(r, a->A),
                      DP(r, p->ea[ia].h), GP(r, bp->lnq.g), GP(r, bp->lnq.b));
            k->ln_bwd(r->be, AP(r, p->ea[ib].h), rb, d, PP(r, bp->lnk.g), AP(r, a->Ss), DP(r, a->S),
                      DP(r, p->ea[ib].h), GP(r, bp->lnk.g), GP(r, bp->lnk.b));
        }
    }
    for (int m = 0; m < M; m++) {
        enc_act_t *e = &p->ea[m];
        const enc_t *ep = &p->enc[m];
        int64_t L = c->len[m], rows = B * L;
        if (k) {
            if (c->strategy == QT_FUSION_EARLY || c->strategy == QT_FUSION_GATED)
                k->pool_bwd(r->be, DP(r, p->zc + m * d), M * d, B, L, d, DP(r, e->h));
            k->pool_bwd(r->be, DP(r, p->psum + m * B * d), d, B, L, d, DP(r, e->h));
            k->embed_bwd(r->be, DP(r, e->h), B, L, d, DP(r, e->u), GP(r, ep->emb), GP(r, ep->pos));
            k->ln_bwd(r->be, AP(r, e->a), rows, d, PP(r, ep->ln.g), AP(r, e->us), DP(r, e->u), DP(r, e->a),
                      GP(r, ep->ln.g), GP(r, ep->ln.b));
            k->gelu_bwd(r->be, AP(r, e->z), DP(r, e->a), DP(r, e->z), rows * d);
        }
        lin_b(r, c->normalize ? AP(r, e->xn) : x[m], rows, c->feat[m], ep->lin, d, DP(r, e->z), NULL);
    }
}

/* FLOPs of one forward (dry run). */
double qt_fusion_flops(const qt_fusion_config_t *cfg, int64_t B)
{
    if (qt_fusion_config_check(cfg) != QT_OK || B <= 0) return 0;
    run_t r;
    memset(&r, 0, sizeof r);
    plan_make(&r.p, cfg, B);
    static char dummy; /* addresses are formed, never read, in a dry run */
    r.P = r.G = r.act = r.dact = &dummy;
    const void *x[QT_FUSION_MAX_MOD] = {&dummy, &dummy, &dummy, &dummy};
    graph_forward(&r, x);
    return r.flops;
}

/* ------------------------------------------------------------- dispatch */

qt_status_t qt_fusion_dtype(const qt_backend_t *be, qt_dtype_t *dt)
{
    QT_CHECK_ARG(be && dt, "fusion: backend and dtype output must not be NULL");
    const qt_fusion_ops_t *ops = qt_backend_ops(be, QT_TECH_FUSION);
    if (!ops) return qt_fail(QT_ERR_UNSUPPORTED, "backend %s has no fusion ops", qt_backend_name(be));
    *dt = ops->dtype;
    return QT_OK;
}

int qt_fusion_supports(const qt_backend_t *be, const qt_fusion_config_t *cfg, qt_dtype_t dt,
                       const qt_tensor_t *params, const qt_tensor_t *const *x, char *why, size_t why_size)
{
    char tmp[8];
    if (!why) { why = tmp; why_size = sizeof tmp; }
    if (!be) { snprintf(why, why_size, "no backend instance"); return 0; }
    const qt_fusion_ops_t *ops = qt_backend_ops(be, QT_TECH_FUSION);
    if (!ops) { snprintf(why, why_size, "backend %s has no fusion ops", qt_backend_name(be)); return 0; }
    if (dt != ops->dtype) {
        snprintf(why, why_size, "backend %s computes fusion in %s, not %s", qt_backend_name(be),
                 qt_dtype_name(ops->dtype), qt_dtype_name(dt));
        return 0;
    }
    if (cfg && qt_fusion_config_check(cfg) != QT_OK) { snprintf(why, why_size, "%s", qt_last_error()); return 0; }
    if (params && qt_tensor_device(params) != be->device) {
        snprintf(why, why_size, "params live on %s, backend %s on %s", qt_device_name(qt_tensor_device(params)),
                 qt_backend_name(be), qt_device_name(be->device));
        return 0;
    }
    for (int m = 0; x && cfg && m < cfg->n_mod; m++)
        if (x[m] && qt_tensor_device(x[m]) != be->device) {
            snprintf(why, why_size, "input %d lives on %s, backend %s on %s", m, qt_device_name(qt_tensor_device(x[m])),
                     qt_backend_name(be), qt_device_name(be->device));
            return 0;
        }
    return 1;
}

/* Validate one call's operands and set up a run (the batch from x[0]). */
static qt_status_t run_setup(run_t *r, qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                             const qt_tensor_t *const *x, qt_tensor_t *work)
{
    QT_CHECK_ARG(be && x, "fusion: backend and inputs must not be NULL");
    QT_TRY(qt_fusion_config_check(cfg));
    qt_dtype_t dt;
    QT_TRY(qt_fusion_dtype(be, &dt));
    char why[256];
    if (!qt_fusion_supports(be, cfg, dt, NULL, NULL, why, sizeof why)) return qt_fail(QT_ERR_UNSUPPORTED, "%s", why);
    QT_TRY(qt_tensor_check_on(params, "params", dt, 1, be->device));
    int64_t np = qt_fusion_n_params(cfg);
    if (params->shape[0] != np)
        return qt_fail(QT_ERR_SHAPE, "params has %lld elements, the model has %lld", (long long)params->shape[0],
                       (long long)np);
    int64_t B = 0;
    for (int m = 0; m < cfg->n_mod; m++) {
        char what[32];
        snprintf(what, sizeof what, "input %d", m);
        QT_TRY(qt_tensor_check_on(x[m], what, dt, 3, be->device));
        if (m == 0) B = x[m]->shape[0];
        if (x[m]->shape[0] != B || x[m]->shape[1] != cfg->len[m] || x[m]->shape[2] != cfg->feat[m])
            return qt_fail(QT_ERR_SHAPE, "input %d is (%lld, %lld, %lld), expected (%lld, %d, %d)", m,
                           (long long)x[m]->shape[0], (long long)x[m]->shape[1], (long long)x[m]->shape[2],
                           (long long)B, cfg->len[m], cfg->feat[m]);
    }
    QT_CHECK_ARG(B >= 1, "fusion: the batch is empty");
    QT_TRY(qt_tensor_check_on(work, "work", dt, 1, be->device));
    int64_t need = qt_fusion_work_size(cfg, B);
    if (work->shape[0] < need)
        return qt_fail(QT_ERR_SHAPE, "work has %lld elements, batch %lld needs %lld", (long long)work->shape[0],
                       (long long)B, (long long)need);
    memset(r, 0, sizeof *r);
    r->be = be;
    r->k = ((const qt_fusion_ops_t *)qt_backend_ops(be, QT_TECH_FUSION))->kernels;
    plan_make(&r->p, cfg, B);
    r->dt = dt;
    r->es = qt_dtype_size(dt);
    r->P = params->data;
    r->act = work->data;
    r->dact = r->act + (size_t)r->p.n_act * r->es;
    return QT_OK;
}

/* Copy the logits out to a caller's (B, C) tensor. */
static qt_status_t logits_out(run_t *r, qt_tensor_t *logits)
{
    if (!logits) return QT_OK;
    QT_TRY(qt_tensor_check_on(logits, "logits", r->dt, 2, r->be->device));
    if (logits->shape[0] != r->p.B || logits->shape[1] != r->p.cfg->classes)
        return qt_fail(QT_ERR_SHAPE, "logits is (%lld, %lld), expected (%lld, %d)", (long long)logits->shape[0],
                       (long long)logits->shape[1], (long long)r->p.B, r->p.cfg->classes);
    return qt_backend_copy(r->be, logits->data, r->be->device, AP(r, r->p.logits), r->be->device,
                           (size_t)(r->p.B * r->p.cfg->classes) * r->es);
}

qt_status_t qt_fusion_forward(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                              const qt_tensor_t *const *x, qt_tensor_t *logits, qt_tensor_t *work)
{
    run_t r;
    QT_TRY(run_setup(&r, be, cfg, params, x, work));
    QT_CHECK_ARG(logits != NULL, "fusion forward: logits must not be NULL");
    const void *xp[QT_FUSION_MAX_MOD];
    for (int m = 0; m < cfg->n_mod; m++) xp[m] = x[m]->data;
    graph_forward(&r, xp);
    if (r.k->status) QT_TRY(r.k->status(be));
    qt_counter_add(QT_CTR_FLOPS, (long long)r.flops);
    return logits_out(&r, logits);
}

qt_status_t qt_fusion_backward(qt_backend_t *be, const qt_fusion_config_t *cfg, const qt_tensor_t *params,
                               const qt_tensor_t *const *x, const qt_tensor_t *labels, qt_tensor_t *grads,
                               qt_tensor_t *work, qt_tensor_t *logits, double *loss, int64_t *correct)
{
    run_t r;
    QT_TRY(run_setup(&r, be, cfg, params, x, work));
    QT_TRY(qt_tensor_check_on(labels, "labels", QT_I32, 1, be->device));
    if (labels->shape[0] != r.p.B)
        return qt_fail(QT_ERR_SHAPE, "labels has %lld entries, the batch %lld", (long long)labels->shape[0],
                       (long long)r.p.B);
    QT_TRY(qt_tensor_check_on(grads, "grads", params->dtype, 1, be->device));
    QT_CHECK_ARG(grads->shape[0] == params->shape[0], "grads has %lld elements, params %lld",
                 (long long)grads->shape[0], (long long)params->shape[0]);
    if (qt_device_is_host(be->device)) { /* labels are readable here: check their range */
        const int32_t *y = labels->data;
        for (int64_t i = 0; i < r.p.B; i++)
            if (y[i] < 0 || y[i] >= cfg->classes)
                return qt_fail(QT_ERR_ARG, "label %lld is %d, must be in [0, %d)", (long long)i, (int)y[i],
                               cfg->classes);
    }
    r.G = grads->data;
    const void *xp[QT_FUSION_MAX_MOD];
    for (int m = 0; m < cfg->n_mod; m++) xp[m] = x[m]->data;
    graph_forward(&r, xp);
    double l = 0;
    int64_t ok = 0;
    QT_TRY(be->iface->memset0(be, r.dact, (size_t)r.p.n_act * r.es));
    QT_TRY(be->iface->memset0(be, r.G, (size_t)r.p.n_params * r.es));
    r.k->xent(be, AP(&r, r.p.logits), labels->data, r.p.B, cfg->classes, loss ? &l : NULL, correct ? &ok : NULL,
              DP(&r, r.p.logits));
    graph_backward(&r, xp);
    if (r.k->status) QT_TRY(r.k->status(be));
    qt_counter_add(QT_CTR_FLOPS, (long long)r.flops);
    if (loss) *loss = l;
    if (correct) *correct = ok;
    return logits_out(&r, logits);
}

/* --------------------------------------------------------- host helpers */

void qt_fusion_host_gather(qt_backend_t *be, const void *src, int64_t row_bytes, const int32_t *idx, int64_t n,
                           void *dst)
{
    (void)be;
    for (int64_t r = 0; r < n; r++)
        memcpy((char *)dst + r * row_bytes, (const char *)src + (int64_t)idx[r] * row_bytes, (size_t)row_bytes);
}

void qt_fusion_host_store(void *dst, qt_dtype_t dt, const double *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (dt == QT_F64) ((double *)dst)[i] = src[i];
        else ((float *)dst)[i] = (float)src[i];
    }
}

void qt_fusion_host_load(double *dst, const void *src, qt_dtype_t dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = dt == QT_F64 ? ((const double *)src)[i] : ((const float *)src)[i];
}

/* Fill [o, o+n) of w with U(±1/√in) (Linear) draws of stream `stream`, rounded to f32. */
static void init_uniform(double *w, int64_t o, int64_t n, double bound, uint64_t seed, uint64_t stream)
{
    for (int64_t i = 0; i < n; i++)
        w[o + i] = (float)(bound * (2.0 * qt_rng_uniform_f64(seed, stream, (uint64_t)i) - 1.0));
}

static void init_lin(double *w, lin_t l, int64_t in, int64_t out, uint64_t seed, uint64_t *stream)
{
    double bound = 1.0 / sqrt((double)in);
    init_uniform(w, l.W, in * out, bound, seed, (*stream)++);
    init_uniform(w, l.b, out, bound, seed, (*stream)++);
}

static void init_ln(double *w, lnp_t l, int64_t d)
{
    for (int64_t i = 0; i < d; i++) { w[l.g + i] = 1.0; w[l.b + i] = 0.0; }
}

static void init_normal(double *w, int64_t o, int64_t n, double std, uint64_t seed, uint64_t stream)
{
    for (int64_t i = 0; i < n; i++) w[o + i] = (float)(std * qt_rng_normal(seed, stream, (uint64_t)i));
}

qt_status_t qt_fusion_init_params(qt_backend_t *be, const qt_fusion_config_t *cfg, qt_tensor_t *params, uint64_t seed)
{
    QT_CHECK_ARG(be != NULL, "fusion init: backend must not be NULL");
    QT_TRY(qt_fusion_config_check(cfg));
    qt_dtype_t dt;
    QT_TRY(qt_fusion_dtype(be, &dt));
    QT_TRY(qt_tensor_check_on(params, "params", dt, 1, be->device));
    plan_t p;
    plan_make(&p, cfg, 0);
    QT_CHECK_ARG(params->shape[0] == p.n_params, "params has %lld elements, the model has %lld",
                 (long long)params->shape[0], (long long)p.n_params);
    double *w = qt_calloc((size_t)p.n_params * sizeof *w);
    void *h = qt_alloc((size_t)p.n_params * qt_dtype_size(dt));
    if (!w || !h) { qt_free(w); qt_free(h); return qt_fail(QT_ERR_NOMEM, "fusion init: %lld parameters", (long long)p.n_params); }
    uint64_t st = 1;
    int64_t d = cfg->d;
    for (int m = 0; m < p.M; m++) {
        init_lin(w, p.enc[m].lin, cfg->feat[m], d, seed, &st);
        init_ln(w, p.enc[m].ln, d);
        init_normal(w, p.enc[m].emb, d, 0.1, seed, st++);
        init_normal(w, p.enc[m].pos, (int64_t)cfg->len[m] * d, 0.1, seed, st++);
    }
    for (int k = 0; k < p.n_blk; k++) {
        blk_t *b = &p.blk[k];
        init_ln(w, b->lnq, d); init_ln(w, b->lnk, d); init_ln(w, b->ln2, d);
        init_lin(w, b->q, d, d, seed, &st); init_lin(w, b->k, d, d, seed, &st);
        init_lin(w, b->v, d, d, seed, &st); init_lin(w, b->o, d, d, seed, &st);
        init_lin(w, b->f1, d, cfg->d_ff, seed, &st); init_lin(w, b->f2, cfg->d_ff, d, seed, &st);
    }
    int64_t in0 = cfg->strategy == QT_FUSION_EARLY ? p.M * d : cfg->strategy == QT_FUSION_GATED ? d : p.pairs * d;
    for (int h0 = 0; h0 <= p.M; h0++) {
        if (h0 == 0 && (cfg->strategy == QT_FUSION_LATE_AVG || cfg->strategy == QT_FUSION_LATE_LEARNED)) continue;
        if (h0 > 0 && !p.has_late) break;
        init_lin(w, p.head[h0].l1, h0 ? d : in0, cfg->d_ff, seed, &st);
        init_lin(w, p.head[h0].l2, cfg->d_ff, cfg->classes, seed, &st);
    }
    if (cfg->strategy == QT_FUSION_GATED) init_lin(w, p.gate, p.M * d, p.M, seed, &st);
    /* mixa stays 0 (uniform weights at the start) */
    qt_fusion_host_store(h, dt, w, p.n_params);
    qt_status_t s = qt_backend_copy(be, params->data, be->device, h, qt_device_host(), (size_t)p.n_params * qt_dtype_size(dt));
    if (s == QT_OK) s = qt_backend_synchronize(be);
    qt_free(w);
    qt_free(h);
    return s;
}
