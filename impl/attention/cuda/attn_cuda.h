/* attn_cuda.h — the CUDA attention kernels' launch interface (impl/attention/cuda/*.cu),
 * free of quintet types so that the standalone driver tests/attention/cuda_attn_bench.cu can
 * build the kernels with plain nvcc. Semantics: quintet/attention.h (dense and window: key set,
 * causal, key-padding mask, a fully masked row outputs zeros).
 *
 * Positions are handled per residue class of the dilation: a dilated window
 * { j = i + m·dil : -w_left <= m <= w_right } only pairs positions with i ≡ j (mod dil), so the
 * kernels run, for each residue c, a contiguous window [ii - w_left, ii + w_right] over the
 * subsequence c, c+dil, c+2·dil, … (dense: dil 1, window ±T). Every tile a block visits
 * intersects its queries' windows; tiles wholly inside skip the per-element checks.
 *
 * Versions (qt_cuda_attn_forward's `version`):
 *   1  naive: one thread per query row, online softmax, f32 (validation baseline)
 *   2  tiled: 64×64 Q/K/V tiles in shared memory, SIMT FFMA, exact expf, f32
 *   3  tensor cores: FlashAttention-2 layout, mma.sync m16n8k16 bf16/f16 → f32, 4 warps × 16
 *      query rows, 64-key tiles double-buffered through cp.async, online softmax in registers
 *   4  as 3 with 8 warps (128 query rows per block: half the K/V traffic per flop)
 *   5  warps of 32 query rows (each K/V fragment used twice), 4 warps, fast softmax
 *   6  D 64: 5 with 8 warps; D 128: 3 with the fast softmax
 *   7–10  longer key tiles, 8 or 2 warps, per-warp tile skipping (attn_flash.cu's comment)
 *   11…19  Hopper wgmma (sm_90a, attn_wgmma.cu): warpgroups of 64 query rows, K/V in shared
 *      memory in the 128-byte-swizzled layout, SS-wgmma for QKᵀ, RS-wgmma for PV; 13 on with
 *      FlashAttention-3's intra-warpgroup overlap, 16 on warp-specialised (attn_wgmma.cu's comment) */
#ifndef QUINTET_ATTN_CUDA_H
#define QUINTET_ATTN_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

enum { QT_CUDA_ATTN_F32 = 0, QT_CUDA_ATTN_BF16 = 1, QT_CUDA_ATTN_F16 = 2 };

typedef struct {
    const void *q, *k, *v; /* (B, H, T, D) contiguous, element type `dtype` */
    void *o;               /* (B, H, T, D), same type */
    const float *mask;     /* (B, T): 0 = padding; NULL = none */
    int B, H, T, D;
    int causal;
    int w_left, w_right; /* in units of dil; dense: w_left = w_right = T */
    int dil;             /* >= 1 */
    int dtype;           /* QT_CUDA_ATTN_* */
    float scale;         /* 1/sqrt(D) */
} qt_cuda_attn_args_t;

/* 1 when `version` runs args' dtype and D (2: D ∈ {16, 32, 64, 128}, f32; 3…10: D ∈ {64, 128},
 * bf16/f16; 1: D <= 128, f32; 11…19: as 3…10 when built for sm_90a and device 0 is cc 9.0). */
int qt_cuda_attn_version_supports(int version, int dtype, int D);
/* The version the library runs for a dtype and head size (the fastest validated one; 0 = none). */
int qt_cuda_attn_default_version(int dtype, int D);
/* Launch `version` on `stream` (a cudaStream_t; NULL = default stream). Returns 0 or a
 * cudaError_t value (the launch's; errors of the work itself surface at synchronisation);
 * -1 when the version does not support the arguments. */
int qt_cuda_attn_forward(int version, const qt_cuda_attn_args_t *a, void *stream);
/* attn_wgmma.cu's part of the two above (versions 11…19); callers use the two above. */
int qt_cuda_attn_wgmma_supports(int version, int dtype, int D);
int qt_cuda_attn_wgmma_forward(int version, const qt_cuda_attn_args_t *a, void *stream);

/* LSH hashing exactly as attention.h defines it (fmaf chain over d in order, first maximum of
 * [p; -p], compiled without fast-math): for batch b < nb and row t < T of x + b·x_bstride (f32,
 * row stride D), buckets[b·bk_bstride + t] += scale · argmax, with the rotation rotT given
 * transposed (half rows of D floats, on the device). version 1: a thread per row; 2: 64 × 64
 * tiles in shared memory (attn_lsh.cu). */
int qt_cuda_attn_lsh_hash(int version, const float *x, int nb, long long x_bstride, int T, int D, const float *rotT,
                          int half, int scale, int *buckets, long long bk_bstride, void *stream);

/* LSH (dynamic = 0) or DYNAMIC (dynamic = 1) forward, attn_lsh.cu: hashing, the sort by
 * (bucket, position) and the attention all on the device. */
typedef struct {
    const float *q, *k, *v; /* (B, H, T, D) f32, contiguous (callers convert bf16/f16 first) */
    void *o;                /* (B, H, T, D), element type odtype */
    int odtype;             /* QT_CUDA_ATTN_* */
    const float *mask;      /* (B, T): 0 = padding; NULL = none */
    int B, H, T, D;         /* D <= 128 */
    int causal;
    float scale;            /* 1/sqrt(D) */
    int dynamic;
    int shared_qk;          /* keys = unit-normalised queries (k may be NULL) */
    int n_hashes, n_buckets, factor, chunk; /* chunk: LSH only */
    int w_left, w_right, dil;               /* DYNAMIC's window */
    /* rotations on the device: head h, round r at rot + (h·n_hashes + r)·cols·D, cols·D floats
     * in qt_attn_lsh_rotation's layout (cols = n_buckets/2, or f/2 + n_buckets/f/2) */
    const float *rot;
} qt_cuda_lsh_args_t;
/* Bytes of device workspace the forward needs (0: arguments not supported). */
size_t qt_cuda_attn_lsh_workspace(const qt_cuda_lsh_args_t *a);
/* Queue the forward on `stream`: 0, a cudaError_t value, or -1 (arguments not supported, or
 * ws_bytes too small). */
int qt_cuda_attn_lsh_forward(const qt_cuda_lsh_args_t *a, void *ws, size_t ws_bytes, void *stream);
/* y = x with every row of D unit-normalised (shared_qk's keys; norm in double as common.c),
 * element type dtype in and out, on `stream`. */
int qt_cuda_attn_normalize(const void *x, int dtype, long long rows, int D, void *y, void *stream);
/* y[i] = (float)x[i], x of element type dtype (QT_CUDA_ATTN_*), on `stream`. */
int qt_cuda_attn_to_f32(const void *x, int dtype, long long n, float *y, void *stream);

#ifdef __cplusplus
}
#endif
#endif
