/* cpu.c — the "cpu" attention backend: dispatch, dense and (dilated) sliding-window
 * attention. Algorithm: FlashAttention-style tiling with online softmax
 * (cpu_tile.h): a tile of QT_ATTN_BR queries streams the key blocks its pattern can
 * reach ([t0 - w_left, t1 - 1 + w_right]; all keys for dense, up to the diagonal when
 * causal), masking only the blocks that straddle a window edge, the diagonal or a
 * padded key. Memory is O(threads · (D + BC) · BR) floats beyond the tensors
 * (plus B·H·T·D for the normalised keys when shared_qk): O(T·D), never O(T²).
 * A dilated window splits into `dilation` independent contiguous windows, one per
 * residue class of positions mod dilation (strided row views; no copies).
 * Parallelism: OpenMP over (b·h, residue class, span of query tiles), dynamic schedule, heavy
 * (late, causal) spans first; a dense head whose K and V pass 1 MiB is worked in spans of 4
 * tiles that share each key block (read once from L3 for the four, cpu_window.c). The window driver lives in cpu_window.c, compiled twice: with
 * the tile of cpu_tile.h (window, dynamic) and, in cpu_dense.c, with its narrow instance
 * (dense); LSH and dynamic live in cpu_lsh.c. DENSE runs on AMX tiles (bf16x6 split products,
 * cpu_amx.c) where the CPU has them (QT_ATTN_AMX=0|1|emu|auto).
 * Run: make test; the attention_scaling suite times it. */
#include "cpu_tile.h"
#include "quintet/counters.h"

/* The cpu backend's forward (arguments validated by qt_attn_forward): normalise keys if shared,
 * run the variant, count. */
static qt_status_t cpu_forward(qt_backend_t *be, const qt_attn_config_t *cfg, const qt_tensor_t *q, const qt_tensor_t *k,
                               const qt_tensor_t *v, const qt_tensor_t *mask, qt_tensor_t *out)
{
    qt_attn_cpu_call_t c = {.cfg = cfg, .q = q->data, .v = v->data, .o = out->data, .threads = be->threads};
    qt_attn_dims_of(q, &c.d);
    int64_t T = c.d.T, D = c.d.D, BH = c.d.B * c.d.H;
    c.mask = mask ? mask->data : NULL;
    float *kn = NULL;
    if (cfg->shared_qk) {
        kn = qt_alloc((size_t)(BH * T * D) * sizeof(float));
        if (!kn) return qt_fail(QT_ERR_NOMEM, "normalised keys (%lld floats)", (long long)(BH * T * D));
#pragma omp parallel for schedule(static) num_threads(c.threads)
        for (int64_t bh = 0; bh < BH; bh++) qt_attn_normalize_rows(c.q + bh * T * D, kn + bh * T * D, T, D);
        c.k = kn;
    } else {
        c.k = k->data;
    }
    long long flops = 0, pairs = 0;
    qt_status_t s;
    switch (cfg->variant) {
    case QT_ATTN_DENSE: { /* the AMX kernel where QT_ATTN_AMX and the CPU allow it (cpu_amx.c), else FMA */
        int done = 0;
        s = qt_attn_cpu_dense_amx(&c, &pairs, &done);
        if (s == QT_OK && !done) s = qt_attn_cpu_window_narrow(&c, 1, &pairs);
        break;
    }
    case QT_ATTN_WINDOW: s = qt_attn_cpu_window(&c, 0, &pairs); break;
    case QT_ATTN_LSH: s = qt_attn_cpu_lsh(&c, &flops, &pairs); break;
    case QT_ATTN_DYNAMIC: s = qt_attn_cpu_dynamic(&c, &flops, &pairs); break;
    default: s = qt_fail(QT_ERR_ARG, "unknown attention variant %d", (int)cfg->variant);
    }
    qt_free(kn);
    int64_t n = BH * T * D;
    qt_counter_add(QT_CTR_FLOPS, flops + 4LL * D * pairs);
    qt_counter_add(QT_CTR_ATTN_PAIRS, pairs);
    qt_counter_add(QT_CTR_BYTES_READ, (cfg->shared_qk ? 2 : 3) * n * (int64_t)sizeof(float));
    qt_counter_add(QT_CTR_BYTES_WRITTEN, n * (int64_t)sizeof(float));
    return s;
}

/* Every variant is implemented, in f32. */
static int cpu_supports(const qt_backend_t *be, const qt_attn_config_t *cfg, qt_dtype_t dt)
{
    (void)be;
    return cfg && (unsigned)cfg->variant < QT_ATTN_VARIANT_COUNT && dt == QT_F32;
}

/* The ops table the cpu backend lists (impl/backends/host/host.c): tiled online-softmax
 * attention, OpenMP over heads and query tiles, SIMD micro-kernels. */
const qt_attn_ops_t qt_attn_ops_cpu = {
    .supports = cpu_supports,
    .forward = cpu_forward,
    .lsh_buckets = qt_attn_cpu_lsh_buckets,
};
