/* test_attention.c — correctness of impl/attention (quintet/attention.h): every
 * backend against the ref oracle for every variant on fresh random inputs, pattern
 * identities (window >= T is dense, LSH with all keys in one chunk is dense, dynamic
 * covers its window), causality, empty rows, odd sizes, bad arguments, the registry
 * and the counters. Inputs are N(0,1) from Philox with a fresh seed per process
 * (QT_TEST_SEED replays). Run: make test, or build/tests/attention/test_attention. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/attention.h"
#include "testing/cmp.h"
#include "quintet/counters.h"
#include "quintet/rng.h"
#include "test_util.h"
#include "verify/verify.h"

/* Comparison of a float output with a float reference output (testing/cmp.h), each value
 * judged by qt_verify_tol_attn, the tolerance of `quintet verify attention`. */
static qt_cmp_t compare(const qt_tensor_t *a, const qt_tensor_t *ref)
{
    qt_cmp_t c;
    qt_cmp_init(&c);
    qt_cmp_add(&c, a->data, QT_F32, ref->data, QT_F32, (size_t)qt_tensor_numel(ref), &qt_verify_tol_attn, NULL);
    return c;
}

/* Relative Frobenius error of a float output against a float reference output. */
static double rel_fro(const qt_tensor_t *a, const qt_tensor_t *ref)
{
    qt_cmp_t c = compare(a, ref);
    return qt_cmp_rel_fro(&c);
}

/* Q, K, V, two outputs and a padding mask of one problem. */
typedef struct {
    qt_tensor_t q, k, v, o1, o2, mask;
} prob_t;

/* Fresh N(0,1) inputs; the mask pads every 5th key of batch 0 and keys >= T/2 of batch 1. */
static void prob_init(prob_t *p, int64_t B, int64_t H, int64_t T, int64_t D, uint64_t salt)
{
    int64_t s4[4] = {B, H, T, D}, s2[2] = {B, T};
    uint64_t seed = qt_test_seed() ^ (salt * 0x9E3779B97F4A7C15ull);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&p->q, QT_F32, 4, s4), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&p->k, QT_F32, 4, s4), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&p->v, QT_F32, 4, s4), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&p->o1, QT_F32, 4, s4), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&p->o2, QT_F32, 4, s4), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&p->mask, QT_F32, 2, s2), QT_OK);
    qt_tensor_fill_normal(&p->q, seed, 1, 0, 1);
    qt_tensor_fill_normal(&p->k, seed, 2, 0, 1);
    qt_tensor_fill_normal(&p->v, seed, 3, 0, 1);
    float *m = p->mask.data;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            m[b * T + t] = (b % 2 == 0) ? (t % 5 != 4) : (t < (T + 1) / 2);
}

/* Release a problem. */
static void prob_free(prob_t *p)
{
    qt_tensor_free(&p->q); qt_tensor_free(&p->k); qt_tensor_free(&p->v);
    qt_tensor_free(&p->o1); qt_tensor_free(&p->o2); qt_tensor_free(&p->mask);
}

/* A configuration with small windows/chunks so that patterns are really sparse at T ~ 100. */
static qt_attn_config_t small_cfg(qt_attn_variant_t v, int causal, int shared, uint64_t seed)
{
    qt_attn_config_t c;
    qt_attn_config_init(&c, v);
    c.causal = causal;
    c.shared_qk = shared;
    c.w_left = 11;
    c.w_right = 6;
    c.dilation = v == QT_ATTN_WINDOW ? 3 : 2;
    c.n_buckets = 6;
    c.n_hashes = 3;
    c.chunk = 20;
    c.seed = seed;
    return c;
}

/* Every non-ref backend against ref for one shape, all variants, causal, shared_qk,
 * mask; factor > 0 hashes into 12 = factor × 12/factor factorised buckets; factor < 0: dense
 * only, plain, causal and masked (a shape too long for the oracle to run everything). */
static void check_backends_f(int64_t B, int64_t H, int64_t T, int64_t D, uint64_t salt, int factor)
{
    prob_t p;
    prob_init(&p, B, H, T, D, salt);
    qt_backend_t *ref = qt_test_backend("ref");
    for (int bi = 0; bi < qt_backend_count(); bi++) {
        qt_backend_t *be = qt_test_host_backend_at(bi, QT_TECH_ATTENTION);
        if (!be) continue;
        if (be == ref) continue;
        for (int v = 0; v < QT_ATTN_VARIANT_COUNT; v++)
            for (int flags = 0; flags < 8; flags++) {
                if (factor < 0 && (v != QT_ATTN_DENSE || (flags != 0 && flags != 1 && flags != 5))) continue;
                qt_attn_config_t c = small_cfg((qt_attn_variant_t)v, flags & 1, (flags >> 1) & 1, qt_test_seed() + salt);
                const qt_tensor_t *mask = (flags & 4) ? &p.mask : NULL;
                if (factor > 0) { c.n_buckets = 12; c.bucket_factor = factor; }
                if (!qt_attn_supports(be, &c, NULL, NULL, NULL, NULL, NULL, NULL, 0)) continue;
                CU_ASSERT_EQUAL_FATAL(qt_attn_forward(ref, &c, &p.q, &p.k, &p.v, mask, &p.o1), QT_OK);
                CU_ASSERT_EQUAL_FATAL(qt_attn_forward(be, &c, &p.q, &p.k, &p.v, mask, &p.o2), QT_OK);
                qt_cmp_t cmp = compare(&p.o2, &p.o1);
                double e = qt_cmp_rel_fro(&cmp);
                /* float32 tiles with online softmax and a polynomial exp2 against double
                 * accumulation: relative Frobenius error <= 2e-6 (observed ~3e-7), and no
                 * value outside qt_verify_tol_attn (harness/verify/verify_attention.c says why). */
                CU_ASSERT(e <= 2e-6);
                CU_ASSERT_EQUAL(cmp.wrong, 0);
                if (!(e <= 2e-6))
                    printf("\n  %s %s T=%lld D=%lld causal=%d shared=%d mask=%d: rel error %.3g\n", qt_backend_name(be),
                           qt_attn_variant_name(c.variant), (long long)T, (long long)D, c.causal, c.shared_qk,
                           mask != NULL, e);
            }
    }
    prob_free(&p);
}

/* check_backends_f without factorised hashing. */
static void check_backends(int64_t B, int64_t H, int64_t T, int64_t D, uint64_t salt)
{
    check_backends_f(B, H, T, D, salt, 0);
}

/* cpu (and any other backend) matches the oracle on tile-straddling sizes. */
static void test_backends_match_ref(void)
{
    check_backends(2, 2, 100, 40, 1);
    check_backends(1, 3, 131, 64, 2);
    check_backends(1, 1, 150, 24, 14); /* one head: the cpu backend splits it across threads */
    /* K and V of a head pass 1 MiB (2·T·D·4 bytes): the cpu dense kernel reads each key block
     * once for a group of query tiles (cpu_window.c group_tiles), a partial last tile included */
    check_backends_f(1, 2, 2100, 64, 15, -1);
}

/* Factorised hashing (bucket = h1 + f·h2) on every backend, both factor orders. */
static void test_factorised_buckets(void)
{
    check_backends_f(1, 2, 120, 16, 15, 2);
    check_backends_f(1, 2, 120, 16, 16, 6);
}

/* T = 1, T not a multiple of any tile, D not a multiple of 8 (or 1). */
static void test_odd_sizes(void)
{
    check_backends(1, 1, 1, 8, 3);
    check_backends(2, 1, 49, 13, 4);
    check_backends(1, 2, 65, 1, 5);
}

/* A window covering the whole sequence is dense (both backends, causal or not). */
static void test_window_ge_T_is_dense(void)
{
    int64_t T = 77;
    prob_t p;
    prob_init(&p, 1, 2, T, 24, 6);
    for (int bi = 0; bi < qt_backend_count(); bi++) {
        qt_backend_t *be = qt_test_host_backend_at(bi, QT_TECH_ATTENTION);
        if (!be) continue;
        for (int causal = 0; causal < 2; causal++) {
            qt_attn_config_t dense = small_cfg(QT_ATTN_DENSE, causal, 0, 1), win = small_cfg(QT_ATTN_WINDOW, causal, 0, 1);
            win.w_left = (int)T;
            win.w_right = (int)T + 5;
            win.dilation = 1;
            CU_ASSERT_EQUAL_FATAL(qt_attn_forward(be, &dense, &p.q, &p.k, &p.v, &p.mask, &p.o1), QT_OK);
            CU_ASSERT_EQUAL_FATAL(qt_attn_forward(be, &win, &p.q, &p.k, &p.v, &p.mask, &p.o2), QT_OK);
            /* same key sets; tiles visit the same keys: equal to float rounding (<= 1e-6) */
            CU_ASSERT(rel_fro(&p.o2, &p.o1) <= 1e-6);
        }
    }
    prob_free(&p);
}

/* LSH with every key in one chunk is dense. n_buckets must be even >= 2, so "one
 * bucket" is realised as chunk >= T: the single chunk holds all keys whatever the
 * buckets, every round sees every key, the duplicate-count correction divides each
 * key by n_hashes, and the log-sum-exp combination returns exactly dense. Separate
 * Q/K (shared_qk would exclude self by Reformer's rule). */
static void test_lsh_one_chunk_is_dense(void)
{
    int64_t T = 90;
    prob_t p;
    prob_init(&p, 2, 2, T, 32, 7);
    for (int bi = 0; bi < qt_backend_count(); bi++) {
        qt_backend_t *be = qt_test_host_backend_at(bi, QT_TECH_ATTENTION);
        if (!be) continue;
        for (int causal = 0; causal < 2; causal++) {
            qt_attn_config_t dense = small_cfg(QT_ATTN_DENSE, causal, 0, 1), lsh = small_cfg(QT_ATTN_LSH, causal, 0, 9);
            lsh.chunk = (int)T;
            lsh.n_buckets = 2;
            lsh.n_hashes = 3;
            CU_ASSERT_EQUAL_FATAL(qt_attn_forward(be, &dense, &p.q, &p.k, &p.v, &p.mask, &p.o1), QT_OK);
            CU_ASSERT_EQUAL_FATAL(qt_attn_forward(be, &lsh, &p.q, &p.k, &p.v, &p.mask, &p.o2), QT_OK);
            /* float rounding of the per-round merge: <= 1e-6 */
            CU_ASSERT(rel_fro(&p.o2, &p.o1) <= 1e-6);
        }
    }
    prob_free(&p);
}

/* Perturb position pos of the tensors of batch 0 head 0 (those listed) with new draws. */
static void perturb(prob_t *p, int64_t pos, int which, uint64_t salt)
{
    int64_t D = p->q.shape[3];
    qt_tensor_t *ts[3] = {&p->q, &p->k, &p->v};
    for (int t = 0; t < 3; t++)
        if (which & (1 << t)) {
            float *row = (float *)ts[t]->data + pos * D;
            for (int64_t d = 0; d < D; d++) row[d] = 3.0f * (float)qt_rng_normal(qt_test_seed(), 100 + salt, (uint64_t)d);
        }
}

/* Causal attention never looks ahead: perturbing position p leaves rows < p unchanged
 * exactly (masked keys contribute exactly 0). LSH: only V is perturbed, because a new
 * q/k moves position p in the bucket sort and legitimately shifts the chunk boundaries
 * of the rounds (a property of Reformer's sort-and-chunk, documented in attention.h). */
static void test_causal_no_future(void)
{
    int64_t T = 120, D = 16, pos = 70;
    for (int bi = 0; bi < qt_backend_count(); bi++) {
        qt_backend_t *be = qt_test_host_backend_at(bi, QT_TECH_ATTENTION);
        if (!be) continue;
        for (int v = 0; v < QT_ATTN_VARIANT_COUNT; v++)
            for (int shared = 0; shared < 2; shared++) {
                prob_t p;
                prob_init(&p, 1, 1, T, D, 8);
                qt_attn_config_t c = small_cfg((qt_attn_variant_t)v, 1, shared, 3);
                c.w_left = 40;
                CU_ASSERT_EQUAL_FATAL(qt_attn_forward(be, &c, &p.q, &p.k, &p.v, NULL, &p.o1), QT_OK);
                perturb(&p, pos, v == QT_ATTN_LSH ? 4 : 7, (uint64_t)v);
                CU_ASSERT_EQUAL_FATAL(qt_attn_forward(be, &c, &p.q, &p.k, &p.v, NULL, &p.o2), QT_OK);
                CU_ASSERT_EQUAL(memcmp(p.o1.data, p.o2.data, (size_t)(pos * D) * sizeof(float)), 0);
                /* and the perturbation is visible from row pos on (the test is not vacuous) */
                CU_ASSERT_NOT_EQUAL(memcmp(p.o1.data, p.o2.data, (size_t)(T * D) * sizeof(float)), 0);
                prob_free(&p);
            }
    }
}

/* The dynamic pattern contains its window: its mass_recall is at least the window's;
 * dense recalls everything; recall and rel_error behave at the extremes. */
static void test_dynamic_covers_window(void)
{
    prob_t p;
    prob_init(&p, 2, 2, 150, 32, 9);
    for (int causal = 0; causal < 2; causal++) {
        qt_attn_config_t w = small_cfg(QT_ATTN_WINDOW, causal, 0, 5), dyn = small_cfg(QT_ATTN_DYNAMIC, causal, 0, 5),
                         dense = small_cfg(QT_ATTN_DENSE, causal, 0, 5);
        w.dilation = dyn.dilation = 2;
        qt_attn_accuracy_t aw, ad, an;
        CU_ASSERT_EQUAL_FATAL(qt_attn_accuracy(&w, &p.q, &p.k, &p.v, &p.mask, NULL, 1, &aw), QT_OK);
        CU_ASSERT_EQUAL_FATAL(qt_attn_accuracy(&dyn, &p.q, &p.k, &p.v, &p.mask, NULL, 1, &ad), QT_OK);
        CU_ASSERT(ad.mass_recall >= aw.mass_recall - 1e-12); /* supersets recall more, per row */
        CU_ASSERT(ad.mass_recall > aw.mass_recall);          /* buckets add keys outside the window */
        CU_ASSERT(aw.mass_recall > 0 && ad.mass_recall <= 1 + 1e-12);
        CU_ASSERT(isnan(aw.rel_error));                      /* no output given */
        CU_ASSERT_EQUAL(aw.rows, 2 * 2 * 150);
        CU_ASSERT_EQUAL_FATAL(qt_attn_forward(qt_test_backend("cpu"), &dense, &p.q, &p.k, &p.v, &p.mask, &p.o1), QT_OK);
        CU_ASSERT_EQUAL_FATAL(qt_attn_accuracy(&dense, &p.q, &p.k, &p.v, &p.mask, &p.o1, 7, &an), QT_OK);
        CU_ASSERT(fabs(an.mass_recall - 1.0) < 1e-12);
        CU_ASSERT(an.rel_error < 2e-6); /* cpu dense vs double dense on sampled rows */
        CU_ASSERT_EQUAL(an.rows, 2 * 2 * ((150 + 6) / 7));
    }
    prob_free(&p);
}

/* A query whose keys are all padding outputs zeros (PyTorch SDPA gives NaN). */
static void test_all_masked_rows_are_zero(void)
{
    int64_t T = 60, D = 8;
    prob_t p;
    prob_init(&p, 2, 1, T, D, 10);
    float *m = p.mask.data;
    for (int64_t t = 0; t < T; t++) m[T + t] = 0.0f; /* batch 1: every key padded */
    m[0] = 0.0f;                                     /* batch 0, causal: query 0 has no key */
    for (int bi = 0; bi < qt_backend_count(); bi++)
        for (int v = 0; v < QT_ATTN_VARIANT_COUNT && qt_test_host_backend_at(bi, QT_TECH_ATTENTION); v++) {
            qt_attn_config_t c = small_cfg((qt_attn_variant_t)v, 1, 0, 2);
            CU_ASSERT_EQUAL_FATAL(qt_attn_forward(qt_test_host_backend_at(bi, QT_TECH_ATTENTION), &c, &p.q, &p.k, &p.v, &p.mask, &p.o1), QT_OK);
            const float *o = p.o1.data;
            int bad = 0;
            for (int64_t i = 0; i < T * D; i++) bad += o[T * D + i] != 0.0f;
            for (int64_t d = 0; d < D; d++) bad += o[d] != 0.0f;
            for (int64_t i = 0; i < 2 * T * D; i++) bad += isnan(o[i]);
            CU_ASSERT_EQUAL(bad, 0);
        }
    prob_free(&p);
}

/* Bad arguments return an error status with a message, never crash. */
static void test_bad_arguments(void)
{
    prob_t p;
    prob_init(&p, 1, 2, 16, 8, 11);
    qt_backend_t *ref = qt_test_backend("ref"), *cpu = qt_test_backend("cpu");
    qt_tensor_t zero_d, short_k;
    int64_t sz[4] = {1, 2, 16, 0}, sk[4] = {1, 2, 15, 8};
    qt_tensor_init(&zero_d, QT_F32, 4, sz);
    qt_tensor_init(&short_k, QT_F32, 4, sk);
    qt_tensor_fill_normal(&short_k, 1, 1, 0, 1);
    struct {
        const char *what;
        qt_attn_config_t c;
        const qt_tensor_t *q, *k, *v, *mask;
        qt_tensor_t *out;
    } cases[16];
    int n = 0;
    qt_attn_config_t ok_w = small_cfg(QT_ATTN_WINDOW, 0, 0, 1), ok_l = small_cfg(QT_ATTN_LSH, 0, 0, 1);
#define ADD(w, cfg, Q, K, V, M, O) cases[n++] = (__typeof__(cases[0])){w, cfg, Q, K, V, M, O}
    qt_attn_config_t c = ok_w; c.w_left = 0;
    ADD("w_left = 0", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    c = ok_w; c.w_right = -1;
    ADD("w_right < 0", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    c = ok_w; c.dilation = 0;
    ADD("dilation 0", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    c = ok_l; c.n_buckets = 7;
    ADD("odd n_buckets", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    c = ok_l; c.n_buckets = 0;
    ADD("n_buckets < 2", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    c = ok_l; c.n_hashes = 0;
    ADD("n_hashes 0", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    c = ok_l; c.chunk = 0;
    ADD("chunk 0", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    c = ok_l; c.n_buckets = 12; c.bucket_factor = 3;
    ADD("odd bucket_factor", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    c = ok_l; c.n_buckets = 18; c.bucket_factor = 6;
    ADD("odd n_buckets/bucket_factor", c, &p.q, &p.k, &p.v, NULL, &p.o1);
    ADD("D = 0", ok_w, &zero_d, &zero_d, &zero_d, NULL, &p.o1);
    ADD("null q", ok_w, NULL, &p.k, &p.v, NULL, &p.o1);
    ADD("null k without shared_qk", ok_w, &p.q, NULL, &p.v, NULL, &p.o1);
    ADD("mismatched k", ok_w, &p.q, &short_k, &p.v, NULL, &p.o1);
    ADD("mask shape", ok_w, &p.q, &p.k, &p.v, &p.q, &p.o1);
#undef ADD
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 2; b++) {
            qt_clear_error();
            qt_status_t s = qt_attn_forward(b ? cpu : ref, &cases[i].c, cases[i].q, cases[i].k, cases[i].v,
                                            cases[i].mask, cases[i].out);
            CU_ASSERT_NOT_EQUAL(s, QT_OK);
            CU_ASSERT(strlen(qt_last_error()) > 0);
            if (s == QT_OK) printf("\n  accepted: %s\n", cases[i].what);
        }
    qt_attn_config_t bad_variant = ok_w;
    bad_variant.variant = QT_ATTN_VARIANT_COUNT;
    CU_ASSERT_NOT_EQUAL(qt_attn_forward(cpu, &bad_variant, &p.q, &p.k, &p.v, NULL, &p.o1), QT_OK);
    CU_ASSERT_NOT_EQUAL(qt_attn_forward(cpu, NULL, &p.q, &p.k, &p.v, NULL, &p.o1), QT_OK);
    CU_ASSERT_NOT_EQUAL(qt_attn_forward(cpu, &ok_w, &p.q, &p.k, &p.v, NULL, NULL), QT_OK);
    CU_ASSERT_NOT_EQUAL(qt_attn_forward(cpu, &ok_w, &p.q, &p.k, &p.v, NULL, &p.q), QT_OK); /* aliasing */
    /* shared_qk ignores K: NULL is fine there */
    qt_attn_config_t sh = ok_w;
    sh.shared_qk = 1;
    CU_ASSERT_EQUAL(qt_attn_forward(cpu, &sh, &p.q, NULL, &p.v, NULL, &p.o1), QT_OK);
    qt_attn_variant_t v;
    CU_ASSERT_NOT_EQUAL(qt_attn_variant_parse("sparse", &v), QT_OK);
    CU_ASSERT_EQUAL(qt_attn_variant_parse("lsh", &v), QT_OK);
    CU_ASSERT_EQUAL(v, QT_ATTN_LSH);
    qt_tensor_free(&zero_d);
    qt_tensor_free(&short_k);
    prob_free(&p);
}

/* Attention through the registry: ref and cpu have attention ops; a backend refuses operands
 * that live on another device, naming both; cpu is deterministic. */
static void test_registry_and_determinism(void)
{
    CU_ASSERT_PTR_NOT_NULL(qt_backend_ops(qt_test_backend("ref"), QT_TECH_ATTENTION));
    qt_backend_t *cpu = qt_test_backend("cpu");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cpu);
    prob_t p;
    prob_init(&p, 2, 2, 200, 32, 12);
    for (int v = 0; v < QT_ATTN_VARIANT_COUNT; v++) {
        qt_attn_config_t c = small_cfg((qt_attn_variant_t)v, 0, 0, 4);
        CU_ASSERT(qt_attn_supports(cpu, &c, NULL, NULL, NULL, NULL, NULL, NULL, 0));
        CU_ASSERT_EQUAL_FATAL(qt_attn_forward(cpu, &c, &p.q, &p.k, &p.v, &p.mask, &p.o1), QT_OK);
        CU_ASSERT_EQUAL_FATAL(qt_attn_forward(cpu, &c, &p.q, &p.k, &p.v, &p.mask, &p.o2), QT_OK);
        CU_ASSERT_EQUAL(memcmp(p.o1.data, p.o2.data, (size_t)qt_tensor_numel(&p.o1) * sizeof(float)), 0);
    }
    /* q claimed to live on cuda:0 (never dereferenced: the call must stop before) */
    qt_tensor_t on_gpu;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_wrap_on(&on_gpu, qt_device_cuda(0), p.q.data, QT_F32, 4, p.q.shape), QT_OK);
    qt_attn_config_t c = small_cfg(QT_ATTN_DENSE, 0, 0, 4);
    char why[256];
    CU_ASSERT_FALSE(qt_attn_supports(cpu, &c, &on_gpu, &p.k, &p.v, NULL, &p.o1, why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "cuda:0"));
    CU_ASSERT_EQUAL(qt_attn_forward(cpu, &c, &on_gpu, &p.k, &p.v, NULL, &p.o1), QT_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "q lives on cuda:0"));
    prob_free(&p);
}

/* The LSH bucket rule of attention.h, computed independently here in double: the bucket a
 * backend reports must be a maximiser of [xR ; -xR] up to float rounding (|gap| ≤ 1e-4·scale
 * counts as a tie both sides may break differently), and every host backend's buckets must
 * equal the oracle's bit for bit (the f32 FMA-chain rule makes them reproducible). */
static void test_lsh_buckets_match(void)
{
    int64_t B = 2, H = 3, T = 157, D = 37;
    prob_t p;
    prob_init(&p, B, H, T, D, 14);
    qt_attn_config_t c = small_cfg(QT_ATTN_LSH, 0, 0, qt_test_seed() + 5);
    c.n_buckets = 10;
    int64_t bs[4] = {B, H, c.n_hashes, T};
    qt_tensor_t ref_b, be_b;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&ref_b, QT_I32, 4, bs), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&be_b, QT_I32, 4, bs), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_attn_lsh_buckets(qt_test_backend("ref"), &c, &p.q, &ref_b), QT_OK);
    const int32_t *rb = ref_b.data;
    int half = c.n_buckets / 2, not_max = 0;
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int r = 0; r < c.n_hashes; r++)
            for (int64_t t = 0; t < T; t++) {
                const float *x = (const float *)p.q.data + (bh * T + t) * D;
                double val[64], best = -INFINITY;
                uint64_t stream = (uint64_t)(bh % H) * 4096u + (uint64_t)r;
                for (int b = 0; b < half; b++) {
                    double s = 0;
                    for (int64_t d = 0; d < D; d++)
                        s += (double)x[d] * (float)qt_rng_normal(c.seed, stream, (uint64_t)(b * D + d));
                    val[b] = s;
                    val[half + b] = -s;
                }
                for (int b = 0; b < 2 * half; b++) best = val[b] > best ? val[b] : best;
                int got = rb[(bh * c.n_hashes + r) * T + t];
                not_max += got < 0 || got >= 2 * half || val[got] < best - 1e-4 * fabs(best);
            }
    CU_ASSERT_EQUAL(not_max, 0);
    for (int bi = 1; bi < qt_backend_count(); bi++) {
        qt_backend_t *be = qt_test_host_backend_at(bi, QT_TECH_ATTENTION);
        if (!be) continue;
        memset(be_b.data, 0xff, (size_t)qt_tensor_numel(&be_b) * 4);
        CU_ASSERT_EQUAL_FATAL(qt_attn_lsh_buckets(be, &c, &p.q, &be_b), QT_OK);
        CU_ASSERT_EQUAL(memcmp(be_b.data, ref_b.data, (size_t)qt_tensor_numel(&be_b) * 4), 0);
    }
    /* shape and dtype errors */
    CU_ASSERT_EQUAL(qt_attn_lsh_buckets(qt_test_backend("cpu"), &c, &p.q, &p.o1), QT_ERR_SHAPE);
    qt_tensor_free(&ref_b);
    qt_tensor_free(&be_b);
    prob_free(&p);
}

/* Counters: dense cpu scores at least every pair and does at least the useful flops. */
static void test_counters(void)
{
    int64_t B = 1, H = 2, T = 96, D = 16;
    prob_t p;
    prob_init(&p, B, H, T, D, 13);
    qt_attn_config_t c = small_cfg(QT_ATTN_DENSE, 0, 0, 1);
    long long f0 = qt_counter_get(QT_CTR_FLOPS), p0 = qt_counter_get(QT_CTR_ATTN_PAIRS),
              r0 = qt_counter_get(QT_CTR_BYTES_READ);
    CU_ASSERT_EQUAL_FATAL(qt_attn_forward(qt_test_backend("cpu"), &c, &p.q, &p.k, &p.v, NULL, &p.o1), QT_OK);
    CU_ASSERT(qt_counter_get(QT_CTR_ATTN_PAIRS) - p0 >= B * H * T * T);
    CU_ASSERT(qt_counter_get(QT_CTR_FLOPS) - f0 >= (long long)qt_attn_useful_flops(&c, B, H, T, D));
    CU_ASSERT_EQUAL(qt_counter_get(QT_CTR_BYTES_READ) - r0, 3 * B * H * T * D * 4);
    CU_ASSERT_DOUBLE_EQUAL(qt_attn_useful_flops(&c, B, H, T, D), 4.0 * B * H * T * T * D, 1e-6);
    c.causal = 1;
    CU_ASSERT_DOUBLE_EQUAL(qt_attn_useful_flops(&c, B, H, T, D), 2.0 * B * H * T * T * D, 1e-6);
    prob_free(&p);
}

/* ---- the AMX kernel of the cpu backend's DENSE (impl/attention/cpu_amx.c, bf16x6 split products) ---- */

/* Set QT_ATTN_AMX (NULL: unset). */
static void amx_env(const char *v)
{
    if (v) setenv("QT_ATTN_AMX", v, 1);
    else unsetenv("QT_ATTN_AMX");
}

/* One shape, the DENSE flag combinations in flag_set (bit causal + 2·shared_qk + 4·mask): ref, the FMA kernel
 * (QT_ATTN_AMX=0), the AMX kernel over emulated tiles (emu: TDPBF16PS as the SDM defines it, in
 * plain C, so it runs on every x86-64 AVX-512 build) and over the real tiles (1: where the CPU has
 * AMX; *hw = 0 there, -1 where skipped). Tolerance: the FMA kernel's (rel. Frobenius <= 2e-6, no
 * value outside qt_verify_tol_attn), and the AMX error at most 4× the FMA kernel's on the same
 * inputs (+1e-8 for outputs both get to within a few ulp), for both tile implementations. *worst
 * collects the largest errors: emu, FMA (rel. Frobenius), emu, FMA (max abs.), real vs ref, real vs emu. */
static qt_backend_t *amx_cpu; /* the cpu instance amx_case runs (NULL: the shared one, the default thread count) */
static void amx_case(int64_t B, int64_t H, int64_t T, int64_t D, unsigned flag_set, uint64_t salt, int *hw, double worst[6])
{
    prob_t p;
    prob_init(&p, B, H, T, D, salt);
    qt_tensor_t o3, o4;
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&o3, QT_F32, 4, p.q.shape), QT_OK);
    CU_ASSERT_EQUAL_FATAL(qt_tensor_init(&o4, QT_F32, 4, p.q.shape), QT_OK);
    qt_backend_t *ref = qt_test_backend("ref"), *cpu = amx_cpu ? amx_cpu : qt_test_backend("cpu");
    for (int flags = 0; flags < 8 && *hw >= -1; flags++) {
        if (!(flag_set >> flags & 1)) continue;
        qt_attn_config_t c = small_cfg(QT_ATTN_DENSE, flags & 1, (flags >> 1) & 1, qt_test_seed() + salt);
        const qt_tensor_t *mask = (flags & 4) ? &p.mask : NULL;
        CU_ASSERT_EQUAL_FATAL(qt_attn_forward(ref, &c, &p.q, &p.k, &p.v, mask, &p.o1), QT_OK);
        amx_env("0");
        CU_ASSERT_EQUAL_FATAL(qt_attn_forward(cpu, &c, &p.q, &p.k, &p.v, mask, &p.o2), QT_OK);
        amx_env("emu");
        qt_status_t s = qt_attn_forward(cpu, &c, &p.q, &p.k, &p.v, mask, &o3);
        if (s == QT_ERR_UNSUPPORTED) {
            printf("\n  skipped: %s\n", qt_last_error());
            *hw = -2;
            break;
        }
        CU_ASSERT_EQUAL_FATAL(s, QT_OK);
        qt_cmp_t cf = compare(&p.o2, &p.o1), ce = compare(&o3, &p.o1);
        double ef = qt_cmp_rel_fro(&cf), ee = qt_cmp_rel_fro(&ce);
        CU_ASSERT(ee <= 2e-6);
        CU_ASSERT_EQUAL(ce.wrong, 0);
        CU_ASSERT(ee <= 4 * ef + 1e-8);
        if (!(ee <= 2e-6 && ee <= 4 * ef + 1e-8))
            printf("\n  amx emu T=%lld D=%lld causal=%d shared=%d mask=%d: rel error %.3g (fma %.3g)\n", (long long)T,
                   (long long)D, c.causal, c.shared_qk, mask != NULL, ee, ef);
        worst[0] = fmax(worst[0], ee);
        worst[1] = fmax(worst[1], ef);
        worst[2] = fmax(worst[2], ce.max_abs);
        worst[3] = fmax(worst[3], cf.max_abs);
        if (*hw == -1) continue;
        amx_env("1");
        s = qt_attn_forward(cpu, &c, &p.q, &p.k, &p.v, mask, &o4);
        if (s == QT_ERR_UNSUPPORTED) {
            printf("\n  real AMX tiles skipped: %s\n", qt_last_error());
            *hw = -1;
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(s, QT_OK);
        *hw = 0;
        qt_cmp_t ch = compare(&o4, &p.o1), cd = compare(&o4, &o3);
        double eh = qt_cmp_rel_fro(&ch), ed = qt_cmp_rel_fro(&cd);
        CU_ASSERT(eh <= 2e-6);
        CU_ASSERT_EQUAL(ch.wrong, 0);
        CU_ASSERT(eh <= 4 * ef + 1e-8);
        /* real against emulated tiles: TDPBF16PS's accumulation inside an instruction need not follow
         * the SDM's pair order (H200 host's Xeon: 80% of outputs differ by a few ulp, max 5e-7 at T = 256),
         * so the same tolerance as against ref, and 1e-6 relative */
        CU_ASSERT_EQUAL(cd.wrong, 0);
        CU_ASSERT(ed <= 1e-6);
        worst[4] = fmax(worst[4], eh);
        worst[5] = fmax(worst[5], ed);
    }
    qt_tensor_free(&o3);
    qt_tensor_free(&o4);
    prob_free(&p);
}

/* Odd T (not a multiple of the 32-query tile or 64-key block), T below one block, D 64 and 128, D
 * not a multiple of 32 (zero-padded), B·H > 1, spans of query tiles; the old QT_ATTN_AMX is restored after. */
static void test_amx_kernel(void)
{
    const char *old = getenv("QT_ATTN_AMX");
    char *saved = old ? strdup(old) : NULL;
    int hw = 1;
    double worst[6] = {0, 0, 0, 0, 0, 0};
    amx_case(2, 2, 100, 64, 0xFF, 21, &hw, worst);
    amx_case(1, 3, 131, 128, 0xFF, 22, &hw, worst);
    amx_case(1, 2, 20, 64, 0xFF, 23, &hw, worst);
    amx_case(2, 1, 77, 40, 0xFF, 24, &hw, worst);
    amx_case(1, 1, 70, 13, 0xFF, 25, &hw, worst);
    amx_case(1, 1, 257, 64, 0xFF, 26, &hw, worst);
    /* K and V past 1 MiB: the driver's spans of several query tiles (cpu_window.c group_tiles, where the backend has
     * threads: 2 to 4), so that a step scores one tile while it finishes another; causal with the padding mask */
    amx_case(1, 1, 1040, 128, 1u << 5, 27, &hw, worst);
    /* one thread: the kernel splits and runs one head at a time (cpu_amx.c); B·H > 1, every flag (the mask too) */
    qt_backend_params_t one = {.threads = 1};
    CU_ASSERT_EQUAL_FATAL(qt_backend_init(&amx_cpu, "cpu", &one), QT_OK);
    amx_case(2, 2, 100, 64, 0xFF, 28, &hw, worst);
    amx_case(1, 3, 257, 128, 0x0F, 29, &hw, worst);
    qt_backend_free(amx_cpu);
    amx_cpu = NULL;
    amx_env(saved);
    free(saved);
    if (hw > -2)
        printf("\n  AMX emulated vs ref: rel err <= %.3g, max |err| %.3g; FMA vs ref: %.3g, %.3g\n", worst[0], worst[2],
               worst[1], worst[3]);
    if (hw == 0) printf("  AMX real tiles vs ref: rel err <= %.3g; vs emulated: %.3g\n", worst[4], worst[5]);
}

QT_TEST_MAIN("attention", {"backends match ref", test_backends_match_ref}, {"odd sizes", test_odd_sizes},
             {"factorised buckets", test_factorised_buckets},
             {"window >= T is dense", test_window_ge_T_is_dense}, {"LSH one chunk is dense", test_lsh_one_chunk_is_dense},
             {"causal never sees the future", test_causal_no_future},
             {"dynamic covers window", test_dynamic_covers_window},
             {"all-masked rows are zero", test_all_masked_rows_are_zero}, {"bad arguments", test_bad_arguments},
             {"registry and determinism", test_registry_and_determinism}, {"LSH buckets match", test_lsh_buckets_match},
             {"counters", test_counters}, {"AMX kernel (bf16x6)", test_amx_kernel})
