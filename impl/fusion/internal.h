/* internal.h — private to impl/fusion: the primitive kernels a backend provides to the
 * fusion graph of common.c (quintet/fusion.h documents the model). Every pointer is an
 * address on the backend's device holding elements of the backend's dtype (f64 for ref,
 * f32 for cpu); sizes are element counts. Row-major throughout.
 * Backward kernels ACCUMULATE into their gradient outputs (+=), so a value used twice
 * (a residual and a branch) gets both contributions; the graph zeroes gradients first. */
#ifndef QUINTET_FUSION_INTERNAL_H
#define QUINTET_FUSION_INTERNAL_H

#include <stdint.h>

#include "quintet/fusion.h"

typedef void *qt_fp;        /* device pointer to the backend's elements */
typedef const void *qt_cfp; /* the same, read-only */

struct qt_fusion_kernels {
    /* y (rows, out) = x (rows, in) Wᵀ + b, W (out, in). */
    void (*linear_fwd)(qt_backend_t *be, qt_cfp x, int64_t rows, int64_t in, qt_cfp W, qt_cfp b, int64_t out,
                       qt_fp y);
    /* dx += dy W (dx may be NULL), dW += dyᵀ x, db += Σ_rows dy. */
    void (*linear_bwd)(qt_backend_t *be, qt_cfp x, int64_t rows, int64_t in, qt_cfp W, int64_t out, qt_cfp dy,
                       qt_fp dx, qt_fp dW, qt_fp db);
    /* y = GELU(x); dx += dy·GELU'(x). */
    void (*gelu_fwd)(qt_backend_t *be, qt_cfp x, qt_fp y, int64_t n);
    void (*gelu_bwd)(qt_backend_t *be, qt_cfp x, qt_cfp dy, qt_fp dx, int64_t n);
    /* LayerNorm over rows of dim (g, b NULL: no affine); stats (2·rows) = mean, rstd per row. */
    void (*ln_fwd)(qt_backend_t *be, qt_cfp x, int64_t rows, int64_t dim, qt_cfp g, qt_cfp b, qt_fp y, qt_fp stats);
    /* dx += …, dg += Σ dy·x̂, db += Σ dy. */
    void (*ln_bwd)(qt_backend_t *be, qt_cfp x, int64_t rows, int64_t dim, qt_cfp g, qt_cfp stats, qt_cfp dy,
                   qt_fp dx, qt_fp dg, qt_fp db);
    /* Per batch b: p = softmax(q kᵀ/√d) (Lq, Lk), o = p v; q (B, Lq, d), k, v (B, Lk, d). */
    void (*attn_fwd)(qt_backend_t *be, qt_cfp q, qt_cfp k, qt_cfp v, int64_t B, int64_t Lq, int64_t Lk, int64_t d,
                     qt_fp o, qt_fp p);
    /* dq, dk, dv += the gradients given do; dp is scratch of B·Lq·Lk elements. */
    void (*attn_bwd)(qt_backend_t *be, qt_cfp q, qt_cfp k, qt_cfp v, qt_cfp p, qt_cfp dout, int64_t B, int64_t Lq,
                     int64_t Lk, int64_t d, qt_fp dq, qt_fp dk, qt_fp dv, qt_fp dp);
    /* y[b·ldy + j] = mean_t x[b, t, j] (x (B, L, d)); backward dx[b, t, j] += dy[b·ldy + j]/L. */
    void (*pool_fwd)(qt_backend_t *be, qt_cfp x, int64_t B, int64_t L, int64_t d, qt_fp y, int64_t ldy);
    void (*pool_bwd)(qt_backend_t *be, qt_cfp dy, int64_t ldy, int64_t B, int64_t L, int64_t d, qt_fp dx);
    /* h[b, t] = u[b, t] + e + pos[t]; backward du += dh, de += Σ_{b,t} dh, dpos[t] += Σ_b dh. */
    void (*embed_fwd)(qt_backend_t *be, qt_cfp u, int64_t B, int64_t L, int64_t d, qt_cfp e, qt_cfp pos, qt_fp h);
    void (*embed_bwd)(qt_backend_t *be, qt_cfp dh, int64_t B, int64_t L, int64_t d, qt_fp du, qt_fp de,
                      qt_fp dpos);
    /* y = a + b; dst += src (n elements). */
    void (*add)(qt_backend_t *be, qt_cfp a, qt_cfp b, qt_fp y, int64_t n);
    void (*acc)(qt_backend_t *be, qt_cfp src, qt_fp dst, int64_t n);
    /* Softmax mixing of M vectors of n: g[b, m] = softmax_m(s[b·lds + m]) (lds 0: one score
     * row for the whole batch), y[b, j] = Σ_m g[b, m] x[b·sb + m·sm + j]. Backward: dx += …,
     * ds[b·lds + m] += … (ds NULL: scores are constants). */
    void (*mix_fwd)(qt_backend_t *be, qt_cfp s, int64_t lds, qt_cfp x, int64_t sb, int64_t sm, int64_t B, int64_t M,
                    int64_t n, qt_fp y, qt_fp g);
    void (*mix_bwd)(qt_backend_t *be, int64_t lds, qt_cfp x, int64_t sb, int64_t sm, int64_t B, int64_t M, int64_t n,
                    qt_cfp g, qt_cfp dy, qt_fp dx, qt_fp ds);
    /* Mean softmax cross-entropy of logits (B, C) against labels (i32, device); dlogits (may be
     * NULL) = (softmax − onehot)/B (overwritten); *loss, *correct written on the host when not
     * NULL (a device backend then waits for its queue: both NULL, nothing comes back). */
    void (*xent)(qt_backend_t *be, qt_cfp logits, const int32_t *labels, int64_t B, int64_t C, double *loss,
                 int64_t *correct, qt_fp dlogits);
    /* dst row r = src row idx[r] (r < n), rows of row_bytes bytes (a multiple of 4); idx i32 on
     * the device: batches gathered from a data set kept on the device (train.c). */
    void (*gather)(qt_backend_t *be, const void *src, int64_t row_bytes, const int32_t *idx, int64_t n, void *dst);
    /* The first error the kernels met since the last call (a failed library call, a launch),
     * then cleared; NULL for backends whose kernels cannot fail (ref, cpu). */
    qt_status_t (*status)(qt_backend_t *be);
};

/* The host backends' gather (plain memcpy per row; ref.c and cpu.c). */
void qt_fusion_host_gather(qt_backend_t *be, const void *src, int64_t row_bytes, const int32_t *idx, int64_t n,
                           void *dst);

/* Host elements of dtype dt (f32 or f64) from doubles / to doubles. */
void qt_fusion_host_store(void *dst, qt_dtype_t dt, const double *src, int64_t n);
void qt_fusion_host_load(double *dst, const void *src, qt_dtype_t dt, int64_t n);

#endif
