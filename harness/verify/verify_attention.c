/* verify_attention.c — `quintet verify attention`: every attention backend of the registry
 * (quintet/attention.h) against the ref oracle for every variant (dense, window, lsh,
 * dynamic) × causal × shared_qk × key-padding mask, plus factorised LSH hashing, on shapes
 * with T not a multiple of the cpu tiles (QT_ATTN_BR/BC = 64 queries/keys), D not a
 * multiple of 8, T = 1 and D = 1. Inputs Q, K, V ~ N(0,1) (Philox streams 1-3 under the
 * run's seed); the mask pads every 5th key of even batches and the second half of odd ones.
 * Driver and output: harness/cli/cmd_verify.c. Run: build/quintet verify attention. */
#include <stdio.h>
#include <string.h>

#include "quintet/attention.h"
#include "verify/verify.h"

/* float32 tiles with online softmax and a polynomial exp2 against the double oracle:
 * the cpu backend's relative Frobenius error is ~3e-7 (tests/attention asserts <= 2e-6);
 * per value the error is a few hundred float ulps of the output's scale (an output is a
 * convex combination of V rows, so its scale is that of V). */
const qt_tol_t qt_verify_tol_attn = {"attn-f32", 2e-5, 2e-5, 0.0,
                                           "f32 output: online-softmax tiles + polynomial exp2 vs double; ~1e-6 seen"};
static const qt_tol_t *const tols[] = {&qt_verify_tol_attn, NULL};

/* The shapes (B, H, T, D) of each size. */
static const int64_t quick_shapes[][4] = {{1, 1, 1, 8}, {2, 1, 49, 13}, {1, 2, 65, 1}, {2, 2, 100, 40}, {1, 3, 131, 64}};
static const int64_t full_shapes[][4] = {{1, 2, 257, 72}, {2, 2, 1000, 64}, {1, 2, 2047, 128}};

/* Configuration `flags` (bit 0 causal, 1 shared_qk, 2 mask, 3 factorised hashing) of variant v
 * for sequence length T: windows, buckets and chunks small enough that patterns are sparse. */
static qt_attn_config_t make_cfg(qt_attn_variant_t v, int flags, int64_t T, uint64_t seed)
{
    qt_attn_config_t c;
    qt_attn_config_init(&c, v);
    c.causal = flags & 1;
    c.shared_qk = (flags >> 1) & 1;
    c.w_left = T >= 500 ? 100 : 11;
    c.w_right = T >= 500 ? 37 : 6;
    c.dilation = v == QT_ATTN_WINDOW ? 3 : 2;
    c.n_buckets = T >= 500 ? 16 : 6;
    c.n_hashes = 3;
    c.chunk = T >= 500 ? 64 : 20;
    if (flags & 8) {
        c.n_buckets = 12;
        c.bucket_factor = 2;
    }
    c.seed = seed;
    return c;
}

/* "B=…" text of a case. */
static void describe(char *buf, size_t size, const qt_attn_config_t *c, const int64_t *s, int mask)
{
    int len = snprintf(buf, size, "BHTD=%lld,%lld,%lld,%lld%s%s%s", (long long)s[0], (long long)s[1], (long long)s[2],
                       (long long)s[3], c->causal ? " causal" : "", c->shared_qk ? " shared_qk" : "", mask ? " mask" : "");
    if (len < 0 || (size_t)len >= size) return;
    if (c->variant == QT_ATTN_WINDOW || c->variant == QT_ATTN_DYNAMIC)
        len += snprintf(buf + len, size - (size_t)len, " w=%d/%d dil=%d", c->w_left, c->w_right, c->dilation);
    if ((c->variant == QT_ATTN_LSH || c->variant == QT_ATTN_DYNAMIC) && (size_t)len < size)
        len += snprintf(buf + len, size - (size_t)len, " nb=%d%s nh=%d", c->n_buckets, c->bucket_factor ? "(f2)" : "",
                        c->n_hashes);
    if (c->variant == QT_ATTN_LSH && (size_t)len < size) snprintf(buf + len, size - (size_t)len, " chunk=%d", c->chunk);
}

/* One forward of backend be with host inputs t[0..2] and mask, the output copied back to the
 * host tensor t[4] (device backends get copies of the inputs, as ggml's test-backend-ops). */
static qt_status_t run_on(qt_backend_t *be, const qt_attn_config_t *c, qt_tensor_t *t, const qt_tensor_t *mask)
{
    qt_tensor_t dev[5];
    const qt_tensor_t *use[5];
    const qt_tensor_t *host[5] = {&t[0], &t[1], &t[2], mask, &t[4]};
    qt_status_t s = QT_OK;
    for (int i = 0; i < 5; i++) {
        memset(&dev[i], 0, sizeof dev[i]);
        use[i] = NULL;
    }
    for (int i = 0; i < 5 && s == QT_OK; i++) s = qt_verify_place(be, host[i], &dev[i], &use[i]);
    if (s == QT_OK) s = qt_attn_forward(be, c, use[0], use[1], use[2], use[3], (qt_tensor_t *)use[4]);
    if (s == QT_OK) s = qt_backend_synchronize(be);
    if (s == QT_OK && use[4] != &t[4]) s = qt_tensor_copy(be, &t[4], use[4]);
    if (s == QT_OK) s = qt_backend_synchronize(be);
    for (int i = 0; i < 5; i++) qt_tensor_free(&dev[i]);
    return s;
}

/* One shape: inputs, then every configuration on every backend against ref. */
static void verify_shape(qt_verify_t *v, const int64_t *s, qt_backend_t *const *bes, int n_bes, uint64_t salt)
{
    uint64_t seed = qt_verify_seed(v) ^ (salt * 0x9E3779B97F4A7C15ull);
    int64_t s2[2] = {s[0], s[2]};
    qt_tensor_t t[6] = {{0}}; /* q, k, v, ref out, backend out, mask */
    int ok = 1;
    for (int i = 0; i < 5; i++) ok &= qt_tensor_init(&t[i], QT_F32, 4, s) == QT_OK;
    ok &= qt_tensor_init(&t[5], QT_F32, 2, s2) == QT_OK;
    for (int i = 0; ok && i < 3; i++) ok &= qt_tensor_fill_normal(&t[i], seed, (uint64_t)i + 1, 0, 1) == QT_OK;
    if (ok) {
        float *m = t[5].data;
        for (int64_t b = 0; b < s[0]; b++)
            for (int64_t j = 0; j < s[2]; j++) m[b * s[2] + j] = b % 2 == 0 ? (j % 5 != 4) : (j < (s[2] + 1) / 2);
    }
    qt_backend_t *ref = qt_verify_oracle(v);
    size_t n = (size_t)(s[0] * s[1] * s[2] * s[3]);
    for (int var = 0; var < QT_ATTN_VARIANT_COUNT; var++) {
        int hashed = var == QT_ATTN_LSH || var == QT_ATTN_DYNAMIC;
        for (int flags = 0; flags < (hashed ? 16 : 8); flags++) {
            qt_attn_config_t c = make_cfg((qt_attn_variant_t)var, flags, s[2], seed + 7);
            const qt_tensor_t *mask = (flags & 4) ? &t[5] : NULL;
            char params[160];
            describe(params, sizeof params, &c, s, mask != NULL);
            const char *name = qt_attn_variant_name(c.variant);
            int have_ref = 0;
            for (int b = 0; b < n_bes; b++) {
                const char *bname = qt_backend_name(bes[b]);
                char why[256];
                if (!ok) {
                    qt_verify_error(v, name, bname, params, (int64_t)n, "cannot allocate the inputs");
                    continue;
                }
                if (!qt_attn_supports(bes[b], &c, NULL, NULL, NULL, NULL, NULL, why, sizeof why)) {
                    qt_verify_skip(v, name, bname, params, why);
                    continue;
                }
                if (!have_ref && qt_attn_forward(ref, &c, &t[0], &t[1], &t[2], mask, &t[3]) != QT_OK) {
                    qt_verify_error(v, name, bname, params, (int64_t)n, qt_last_error());
                    continue;
                }
                have_ref = 1;
                memset(t[4].data, 0xff, n * sizeof(float)); /* NaN: every value must be written */
                if (run_on(bes[b], &c, t, mask) != QT_OK) {
                    qt_verify_error(v, name, bname, params, (int64_t)n, qt_last_error());
                    continue;
                }
                qt_cmp_t cmp;
                qt_cmp_init(&cmp);
                qt_cmp_add(&cmp, t[4].data, QT_F32, t[3].data, QT_F32, n, &qt_verify_tol_attn, NULL);
                qt_verify_case(v, name, bname, params, &cmp, &qt_verify_tol_attn);
            }
        }
    }
    for (int i = 0; i < 6; i++) qt_tensor_free(&t[i]);
}

/* Every shape of the run's size on every wanted backend (registry, then extras). */
static void run(qt_verify_t *v)
{
    qt_backend_t *bes[64];
    int n = qt_verify_backends(v, bes, 64);
    if (!n) return;
    uint64_t salt = 1;
    for (size_t i = 0; i < sizeof quick_shapes / sizeof quick_shapes[0]; i++) verify_shape(v, quick_shapes[i], bes, n, salt++);
    if (qt_verify_size(v) == QT_VERIFY_FULL)
        for (size_t i = 0; i < sizeof full_shapes / sizeof full_shapes[0]; i++) verify_shape(v, full_shapes[i], bes, n, salt++);
    qt_verify_backends_free(bes, n);
}

const qt_verify_technique_t qt_verify_attention = {"attention", QT_TECH_ATTENTION, tols, run};
