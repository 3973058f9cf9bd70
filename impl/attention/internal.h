/* internal.h — private to impl/attention: the pieces ref.c and the cpu_*.c files
 * share so that both backends attend to exactly the same key sets: shapes, key
 * validity (causal, padding), window membership, unit-normalised keys and the LSH
 * plan (rotations, hashes, stable counting sort by (bucket, position)). The
 * contracts are the ones documented in quintet/attention.h. */
#ifndef QUINTET_ATTENTION_INTERNAL_H
#define QUINTET_ATTENTION_INTERNAL_H

#include <stdint.h>

#include "quintet/attention.h"


/* qt_attn_validate without the output tensor (for qt_attn_accuracy with out == NULL). */
qt_status_t qt_attn_validate_inputs(const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                                    const qt_tensor_t *v, const qt_tensor_t *mask);

/* (B, H, T, D) of a validated Q tensor. */
typedef struct {
    int64_t B, H, T, D;
} qt_attn_dims_t;
void qt_attn_dims_of(const qt_tensor_t *q, qt_attn_dims_t *d);

/* Effective right window extent: w_right, or 0 when causal. */
static inline int64_t qt_attn_wright(const qt_attn_config_t *cfg) { return cfg->causal ? 0 : cfg->w_right; }

/* 1 when key j lies in query i's (dilated) window. */
static inline int qt_attn_in_window(const qt_attn_config_t *cfg, int64_t i, int64_t j)
{
    int64_t diff = j - i, dil = cfg->dilation;
    if (diff < -(int64_t)cfg->w_left * dil || diff > qt_attn_wright(cfg) * dil) return 0;
    return diff % dil == 0;
}

/* 1 when key j is valid for query i: not padding (mask row of the batch, may be NULL)
 * and not in the future when causal. */
static inline int qt_attn_key_valid(const qt_attn_config_t *cfg, const float *mask_row, int64_t i, int64_t j)
{
    if (cfg->causal && j > i) return 0;
    return !mask_row || mask_row[j] != 0.0f;
}

/* out[r] = q[r] / |q[r]| for n rows of D floats (a zero row stays zero). */
void qt_attn_normalize_rows(const float *q, float *out, int64_t n, int64_t D);

/* LSH hashing and sorting of one (b, h): for round r and position p,
 * bq[r*T+p] / bk[r*T+p] is the bucket of query / key p; sq / sk[r*T+k] the position of
 * rank k in the stable sort by (bucket, position); cq / ck[r*T+p] the chunk of p, i.e.
 * its rank in that sort divided by the chunk length;
 * oq / ok[r*(n_buckets+1)+b] the first rank of bucket b (last entry T). With shared_qk
 * the key arrays alias the query arrays. */
typedef struct {
    int64_t T, D;
    int n_hashes, n_buckets, chunk, shared, factor;
    int *bq, *bk, *sq, *sk, *cq, *ck, *oq, *ok;
    float *rot;  /* the current round's rotation(s), transposed: up to n_buckets/2 rows of D */
    float *proj; /* the hasher's scratch: at least QT_ATTN_HASH_ROWS·D floats */
} qt_attn_lsh_plan_t;

/* A backend's hasher: bucket[t] += scale · argmax([x_t R ; -x_t R]) for the T rows of x
 * (row stride D), R given transposed (rotT: half rows of D), the projections and the tie
 * rule exactly as attention.h defines them. */
typedef void (*qt_attn_hash_fn)(const qt_attn_lsh_plan_t *p, const float *x, const float *rotT, int half,
                                int scale, int *bucket);
#define QT_ATTN_HASH_ROWS 16 /* rows a hasher may transpose at once into p->proj */

/* Round r's rotation(s) for head `head` (rows of x have D entries), transposed: rot[b·D + d] =
 * R[d][b] = normal #(b·D + d) of Philox(seed, stream head·4096 + r); with bucket_factor f the
 * f/2 columns of that stream are followed by the (n_buckets/f)/2 columns of stream + 2048.
 * rot holds at least D·cols floats; returns cols. The one definition every backend uses (the
 * cuda backend uploads it), so all draw the same rotations. */
int qt_attn_lsh_rotation(const qt_attn_config_t *cfg, int64_t head, int r, int64_t D, float *rot);

/* Allocate a plan for cfg and sequence length T, head size D (tracked memory). */
qt_status_t qt_attn_lsh_plan_init(qt_attn_lsh_plan_t *p, const qt_attn_config_t *cfg, int64_t T, int64_t D);
/* Hash (with the backend's hasher) and sort the T rows of q and k (row stride D) of head
 * `head` (k ignored when shared). Returns the flops spent hashing. */
long long qt_attn_lsh_plan_build(qt_attn_lsh_plan_t *p, const qt_attn_config_t *cfg, int64_t head,
                                 const float *q, const float *k, qt_attn_hash_fn hash);
/* qt_attn_lsh_buckets for a host backend with hasher `hash` (arguments validated). */
qt_status_t qt_attn_lsh_buckets_host(const qt_attn_config_t *cfg, const qt_tensor_t *x, qt_tensor_t *buckets,
                                     qt_attn_hash_fn hash);
/* Release a plan (safe on a zeroed one). */
void qt_attn_lsh_plan_free(qt_attn_lsh_plan_t *p);

/* LSH: number of rounds in which key j is in query i's chunk window (own or previous
 * chunk), whatever the masks. */
static inline int qt_attn_lsh_chunk_count(const qt_attn_lsh_plan_t *p, int64_t i, int64_t j)
{
    int n = 0;
    for (int r = 0; r < p->n_hashes; r++) {
        unsigned d = (unsigned)(p->cq[r * p->T + i] - p->ck[r * p->T + j]);
        n += d <= 1u;
    }
    return n;
}

/* DYNAMIC: first round in which query i and key j share a bucket, or n_hashes if none. */
static inline int qt_attn_dyn_first_round(const qt_attn_lsh_plan_t *p, int64_t i, int64_t j)
{
    int r = 0;
    while (r < p->n_hashes && p->bq[r * p->T + i] != p->bk[r * p->T + j]) r++;
    return r;
}

#endif
