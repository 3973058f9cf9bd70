/* attn_lsh.cu — LSH (Reformer) and dynamic (window ∪ same-bucket) attention forward on the GPU,
 * with the semantics of quintet/attention.h, in four steps, all on the device:
 *
 *   hash    bucket = first maximum of [xR ; -xR], the projection the f32 FMA chain over d in
 *           order from 0 (one rounding per step), exactly as ref.c's loop. Never build this
 *           file with --use_fast_math: fmaf is explicit, so the chain is exact either way.
 *             hash v1: one thread per row, the rotation read through the read-only cache.
 *             hash v2: 64 rows × 64 columns per block in shared memory, each thread 4 rows ×
 *                      4 columns (every chain still in d order), the first-maximum rule as
 *                      (value, index) order across threads; heads × rounds in one launch.
 *   sort    CUB DeviceRadixSort::SortPairs of the composite key (side, b·h, round, bucket) with
 *           the positions as values: one stable radix sort gives every (b, h, round)'s order by
 *           (bucket, position), as common.c's counting sort; then each position's chunk
 *           (rank / chunk) and each bucket's first rank (a lower bound per bucket).
 *   attend  gathered 64-query × 64-key f32 tiles (SIMT FFMA, exact expf; Q, K, V rows gathered
 *           by position into shared memory, the head size zero-padded to 16, 32, 64 or 128),
 *           online softmax; one kernel, three modes:
 *             LSH  block = (chunk tile, round, b·h): its queries (sorted ranks of one chunk)
 *                  against the key ranks of that chunk and the one before; invalid pairs
 *                  (padding, causal) -inf; the duplicate-count correction s - log count(i, j),
 *                  count = rounds in which j falls in i's chunk window; writes the round's
 *                  normalised output and log-sum-exp per query position.
 *             WIN  dynamic's window pass: 64 consecutive queries against the key range their
 *                  dilated windows span; leaves each query's unnormalised state (m, l, O).
 *             DYN  dynamic's round r: the queries of one bucket against the keys of the same
 *                  bucket, skipping pairs inside the window or already matched in an earlier
 *                  round (so each key of window ∪ buckets counts once); updates the state.
 *   combine LSH: O = Σ_r exp(lse_r - logsumexp lse) o_r (zeros when every round is empty), with
 *           shared_qk's self rule as one more term (v_i, s_ii) when some round had no other key;
 *           DYN: O / l (zeros for an empty set); written as f32, bf16 or f16.
 * shared_qk: keys are the unit-normalised queries (attn_normalize, the norm in double), both
 * sides hash the queries, and in LSH a query never attends to itself but through the self rule.
 * Inputs are f32 (the ops table converts bf16/f16 first, qt_cuda_attn_to_f32). Launch interface
 * and workspace: attn_cuda.h. Checked by tests/attention/cuda_attn_bench.cu (hashing bucket for
 * bucket) and through the library by `quintet verify attention --backend cuda` and
 * tests/attention/test_attention_cuda.c (skip without a GPU). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include <cub/device/device_radix_sort.cuh>

#include "attn_cuda.h"
#include "tile_softmax.cuh"

/* ---------------------------------------------------------------- hashing */

__global__ void attn_lsh_hash_v1(const float *__restrict__ x, long long x_bstride, int T, int D,
                                 const float *__restrict__ rotT, int half, int scale, int *buckets,
                                 long long bk_bstride)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
    if (t >= T) return;
    const float *row = x + b * x_bstride + (long long)t * D;
    float best = -INFINITY;
    int arg = 0;
    for (int side = 0; side < 2; side++)
        for (int c = 0; c < half; c++) {
            const float *r = rotT + (long long)c * D;
            float p = 0.0f;
            for (int d = 0; d < D; d++) p = fmaf(row[d], __ldg(r + d), p);
            float val = side ? -p : p;
            if (val > best) {
                best = val;
                arg = side * half + c;
            }
        }
    buckets[b * bk_bstride + t] += scale * arg;
}

/* (val, idx) beats (best, arg) under "first maximum in index order" */
__device__ __forceinline__ bool hash_better(float v, int i, float best, int arg)
{
    return v > best || (v == best && i < arg);
}

/* grid (ceil(T/64), nb, nz): block z uses x + (z / zdiv)·x_zstride, rotT + z·rot_zstride,
 * buckets + z·bk_zstride (the forward: z = head·n_hashes + round, zdiv = n_hashes). */
__global__ __launch_bounds__(256) void attn_lsh_hash_v2(const float *__restrict__ x, long long x_bstride,
                                                        long long x_zstride, int zdiv, int T, int D,
                                                        const float *__restrict__ rotT, long long rot_zstride,
                                                        int half, int scale, int *buckets, long long bk_bstride,
                                                        long long bk_zstride)
{
    extern __shared__ float smh[];
    const int DP = D + 1;
    float *Xs = smh, *Rs = smh + 64 * DP;
    int z = blockIdx.z, t0 = blockIdx.x * 64, b = blockIdx.y, tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;
    const float *xb = x + b * x_bstride + (long long)(z / zdiv) * x_zstride;
    const float *rz = rotT + (long long)z * rot_zstride;
    for (int e = tid; e < 64 * D; e += 256) {
        int r = e / D, d = e % D;
        Xs[r * DP + d] = t0 + r < T ? xb[(long long)(t0 + r) * D + d] : 0.f;
    }
    float best[4];
    int arg[4];
#pragma unroll
    for (int r = 0; r < 4; r++) best[r] = -INFINITY, arg[r] = 0;
    for (int c0 = 0; c0 < half; c0 += 64) {
        __syncthreads();
        for (int e = tid; e < 64 * D; e += 256) {
            int cc = e / D, d = e % D;
            Rs[cc * DP + d] = c0 + cc < half ? rz[(long long)(c0 + cc) * D + d] : 0.f;
        }
        __syncthreads();
        float acc[4][4];
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int cc = 0; cc < 4; cc++) acc[r][cc] = 0.f;
        for (int d = 0; d < D; d++) {
            float xv[4], rv[4];
#pragma unroll
            for (int r = 0; r < 4; r++) xv[r] = Xs[(ty * 4 + r) * DP + d];
#pragma unroll
            for (int cc = 0; cc < 4; cc++) rv[cc] = Rs[(tx + 16 * cc) * DP + d];
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int cc = 0; cc < 4; cc++) acc[r][cc] = fmaf(xv[r], rv[cc], acc[r][cc]);
        }
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int cc = 0; cc < 4; cc++) {
                int col = c0 + tx + 16 * cc;
                if (col >= half) continue;
                if (hash_better(acc[r][cc], col, best[r], arg[r])) best[r] = acc[r][cc], arg[r] = col;
                if (hash_better(-acc[r][cc], half + col, best[r], arg[r])) best[r] = -acc[r][cc], arg[r] = half + col;
            }
    }
    /* the 16 threads of a row group are 16 consecutive lanes of one warp */
#pragma unroll
    for (int r = 0; r < 4; r++) {
#pragma unroll
        for (int o = 1; o < 16; o <<= 1) {
            float ob = __shfl_xor_sync(0xffffffffu, best[r], o);
            int oa = __shfl_xor_sync(0xffffffffu, arg[r], o);
            if (hash_better(ob, oa, best[r], arg[r])) best[r] = ob, arg[r] = oa;
        }
        int t = t0 + ty * 4 + r;
        if (tx == 0 && t < T) buckets[b * bk_bstride + (long long)z * bk_zstride + t] += scale * arg[r];
    }
}

static int hash_v2(const float *x, int nb, long long x_bstride, long long x_zstride, int zdiv, int nz, int T, int D,
                   const float *rotT, long long rot_zstride, int half, int scale, int *buckets, long long bk_bstride,
                   long long bk_zstride, cudaStream_t st)
{
    size_t smem = (size_t)2 * 64 * (D + 1) * sizeof(float);
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(attn_lsh_hash_v2, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return (int)e;
    }
    dim3 grid((T + 63) / 64, nb, nz);
    attn_lsh_hash_v2<<<grid, 256, smem, st>>>(x, x_bstride, x_zstride, zdiv, T, D, rotT, rot_zstride, half, scale,
                                              buckets, bk_bstride, bk_zstride);
    return (int)cudaGetLastError();
}

extern "C" int qt_cuda_attn_lsh_hash(int version, const float *x, int nb, long long x_bstride, int T, int D,
                                     const float *rotT, int half, int scale, int *buckets, long long bk_bstride,
                                     void *stream)
{
    if (!x || !rotT || !buckets || nb < 1 || nb > 65535 || T < 1 || D < 1 || half < 1) return -1;
    cudaStream_t st = (cudaStream_t)stream;
    if (version == 2) {
        if (D > 16384) return -1;
        return hash_v2(x, nb, x_bstride, 0, 1, 1, T, D, rotT, 0, half, scale, buckets, bk_bstride, 0, st);
    }
    if (version != 1) return -1;
    dim3 grid((T + 127) / 128, nb);
    attn_lsh_hash_v1<<<grid, 128, 0, st>>>(x, x_bstride, T, D, rotT, half, scale, buckets, bk_bstride);
    return (int)cudaGetLastError();
}

/* ---------------------------------------------------------------- sort bookkeeping */

/* keys[i] = segment·n_buckets + bucket[i], vals[i] = position (i mod T); segment = i / T. */
__global__ void attn_lsh_keys(const int *bucket, long long n, int T, int nbk, unsigned *keys, int *vals)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long seg = i / T;
        keys[i] = (unsigned)(seg * nbk + bucket[i]);
        vals[i] = (int)(i - seg * T);
    }
}

/* chunk[seg·T + pos] = rank / chunk for the sorted positions. */
__global__ void attn_lsh_chunks(const int *sorted, long long n, int T, int chunk, int *chunkof)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long seg = i / T;
        int rank = (int)(i - seg * T);
        chunkof[seg * T + sorted[i]] = rank / chunk;
    }
}

/* offs[seg·(nb+1) + b] = first rank of bucket b in segment seg (nb: T), by lower bound. */
__global__ void attn_lsh_offsets(const unsigned *keys_sorted, int nseg, int T, int nbk, int *offs)
{
    long long n = (long long)nseg * (nbk + 1);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long seg = i / (nbk + 1);
        int b = (int)(i - seg * (nbk + 1));
        if (b == nbk) { offs[i] = T; continue; }
        const unsigned *k = keys_sorted + seg * T;
        unsigned want = (unsigned)(seg * nbk + b);
        int lo = 0, hi = T;
        while (lo < hi) {
            int mid = (lo + hi) >> 1;
            if (k[mid] < want) lo = mid + 1; else hi = mid;
        }
        offs[i] = lo;
    }
}

#define G_BR 64 /* queries per tile */
#define G_BC 64 /* keys per tile */

/* DYNAMIC: tiles[s·(nb+1) + b] = query tiles of buckets < b in q-segment s (buckets without
 * keys have none). One thread per segment. */
__global__ void attn_dyn_tiles(const int *oq, const int *ok, int nseg, int nbk, int *tiles)
{
    int s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= nseg) return;
    const int *q = oq + (long long)s * (nbk + 1), *k = ok + (long long)s * (nbk + 1);
    int *t = tiles + (long long)s * (nbk + 1), acc = 0;
    for (int b = 0; b < nbk; b++) {
        t[b] = acc;
        if (k[b + 1] > k[b]) acc += (q[b + 1] - q[b] + G_BR - 1) / G_BR;
    }
    t[nbk] = acc;
}

/* ---------------------------------------------------------------- gathered tiles */

enum { M_LSH = 0, M_WIN = 1, M_DYN = 2 };

struct gather_args {
    const float *q, *k, *v, *mask;
    int B, H, T, D, causal;
    float scale;
    int NH, nbk, chunk, round, shared; /* shared: shared_qk (LSH: a key is never its own query's) */
    int wl, wr, dil; /* window in positions' units of dil; wr = 0 when causal */
    const int *bucket, *sorted, *chunkof, *offs, *tiles; /* [side][b·h][round][...] */
    long long side;                                      /* b·h·NH·T: the key side's offset */
    float *acc_o, *acc_m, *acc_l; /* LSH: o_r [NH][BH][T][D], lse_r [NH][BH][T]; else state */
};

template <int DM, int MODE>
__global__ __launch_bounds__(256) void attn_gather_kernel(gather_args a)
{
    constexpr int DP = DM + 1, DC = DM / 16, BR = G_BR, BC = G_BC;
    extern __shared__ float smg[];
    float *Qs = smg, *Ks = Qs + BR * DP, *Vs = Ks + BC * DP, *Ss = Vs + BC * DP;
    float *Ms = Ss + BR * (BC + 1), *Ls = Ms + BR, *As = Ls + BR;
    int *qpos = (int *)(As + BR), *kpos = qpos + BR, *qmeta = kpos + BC, *kmeta = qmeta + a.NH * BR;
    const int T = a.T, D = a.D, NH = a.NH, tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;
    const int bh = blockIdx.z, b = bh / a.H, r = MODE == M_LSH ? (int)blockIdx.y : a.round;
    const int nmeta = MODE == M_LSH ? NH : MODE == M_DYN ? r : 0;
    const size_t head = (size_t)bh * T * D;
    const float *Q = a.q + head, *K = a.k + head, *V = a.v + head;
    const float *mrow = a.mask ? a.mask + (size_t)b * T : nullptr;
    const long long seg = ((long long)bh * NH + r) * T;                /* q side, this round */
    const int *sq = a.sorted + seg, *sk = a.sorted + a.side + seg;
    /* the block's queries (a0.. in rank or position) and its key range [klo, khi) */
    int a0, nq, klo, khi;
    if (MODE == M_LSH) {
        int L = a.chunk, per = ((L < T ? L : T) + BR - 1) / BR, it = blockIdx.x;
        int c0 = it / per * L;
        a0 = c0 + it % per * BR;
        int qhi = c0 + L < T ? c0 + L : T;
        if (a0 >= qhi) return;
        nq = qhi - a0 < BR ? qhi - a0 : BR;
        klo = c0 - L > 0 ? c0 - L : 0;
        khi = qhi;
    } else if (MODE == M_WIN) {
        a0 = blockIdx.x * BR;
        if (a0 >= T) return;
        nq = T - a0 < BR ? T - a0 : BR;
        long long lo = (long long)a0 - (long long)a.wl * a.dil, hi = (long long)a0 + nq - 1 + (long long)a.wr * a.dil + 1;
        klo = lo > 0 ? (int)lo : 0;
        khi = hi < T ? (int)hi : T;
    } else {
        const int *tl = a.tiles + ((long long)bh * NH + r) * (a.nbk + 1);
        const int *oq = a.offs + ((long long)bh * NH + r) * (a.nbk + 1);
        const int *ok = oq + a.side / T * (a.nbk + 1);
        int it = blockIdx.x;
        if (it >= tl[a.nbk]) return;
        int lo = 0, hi = a.nbk; /* tl[lo] <= it < tl[lo + 1] */
        while (hi - lo > 1) {
            int mid = (lo + hi) >> 1;
            if (tl[mid] <= it) lo = mid; else hi = mid;
        }
        a0 = oq[lo] + (it - tl[lo]) * BR;
        nq = oq[lo + 1] - a0 < BR ? oq[lo + 1] - a0 : BR;
        klo = ok[lo];
        khi = ok[lo + 1];
    }
    if (tid < BR) {
        int p = MODE == M_WIN ? a0 + (tid < nq ? tid : 0) : sq[a0 + (tid < nq ? tid : 0)];
        qpos[tid] = p;
        for (int rr = 0; rr < nmeta; rr++)
            qmeta[rr * BR + tid] = MODE == M_LSH ? a.chunkof[((long long)bh * NH + rr) * T + p]
                                                 : a.bucket[((long long)bh * NH + rr) * T + p];
        if (MODE == M_DYN) {
            Ms[tid] = a.acc_m[(size_t)bh * T + p];
            Ls[tid] = a.acc_l[(size_t)bh * T + p];
        } else {
            Ms[tid] = -INFINITY;
            Ls[tid] = 0.f;
        }
    }
    __syncthreads();
    for (int e = tid; e < BR * DM; e += 256) {
        int rr = e / DM, d = e % DM;
        Qs[rr * DP + d] = d < D && rr < nq ? Q[(size_t)qpos[rr] * D + d] : 0.f;
    }
    float o[4][DC];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int dc = 0; dc < DC; dc++) {
            int d = tx + 16 * dc;
            o[i][dc] = MODE == M_DYN && d < D ? a.acc_o[(head + (size_t)qpos[ty * 4 + i] * D) + d] : 0.f;
        }
    const long long wlo = -(long long)a.wl * a.dil, whi = (long long)a.wr * a.dil;
    for (int k0 = klo; k0 < khi; k0 += BC) {
        int nk = khi - k0 < BC ? khi - k0 : BC;
        __syncthreads(); /* the previous tile's readers are done */
        if (tid < BC) {
            int p = MODE == M_WIN ? k0 + (tid < nk ? tid : 0) : sk[k0 + (tid < nk ? tid : 0)];
            kpos[tid] = p;
            for (int rr = 0; rr < nmeta; rr++)
                kmeta[rr * BC + tid] = MODE == M_LSH ? a.chunkof[a.side + ((long long)bh * NH + rr) * T + p]
                                                     : a.bucket[a.side + ((long long)bh * NH + rr) * T + p];
        }
        __syncthreads();
        for (int e = tid; e < BC * DM; e += 256) {
            int j = e / DM, d = e % DM;
            bool in = d < D && j < nk;
            Ks[j * DP + d] = in ? K[(size_t)kpos[j] * D + d] : 0.f;
            Vs[j * DP + d] = in ? V[(size_t)kpos[j] * D + d] : 0.f;
        }
        __syncthreads();
        float s[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int cc = 0; cc < 4; cc++) s[i][cc] = 0.f;
#pragma unroll 8
        for (int d = 0; d < DM; d++) {
            float qv[4], kv[4];
#pragma unroll
            for (int i = 0; i < 4; i++) qv[i] = Qs[(ty * 4 + i) * DP + d];
#pragma unroll
            for (int cc = 0; cc < 4; cc++) kv[cc] = Ks[(tx + 16 * cc) * DP + d];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int cc = 0; cc < 4; cc++) s[i][cc] = fmaf(qv[i], kv[cc], s[i][cc]);
        }
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int cc = 0; cc < 4; cc++) {
                int ai = ty * 4 + i, j = tx + 16 * cc, qp = qpos[ai], kp = kpos[j];
                bool ok = ai < nq && j < nk && (!mrow || mrow[kp] != 0.f) && (!a.causal || kp <= qp) &&
                          !(MODE == M_LSH && a.shared && kp == qp);
                float val = s[i][cc] * a.scale;
                long long diff = (long long)kp - qp;
                bool inwin = diff >= wlo && diff <= whi && diff % a.dil == 0;
                if (MODE == M_WIN) ok = ok && inwin;
                if (MODE == M_DYN) {
                    ok = ok && !inwin;
                    for (int rr = 0; rr < nmeta && ok; rr++) ok = qmeta[rr * BR + ai] != kmeta[rr * BC + j];
                }
                if (MODE == M_LSH && ok) {
                    int cnt = 0;
                    for (int rr = 0; rr < nmeta; rr++) cnt += (unsigned)(qmeta[rr * BR + ai] - kmeta[rr * BC + j]) <= 1u;
                    if (cnt > 1) val -= logf((float)cnt);
                }
                Ss[ai * (BC + 1) + j] = ok ? val : -INFINITY;
            }
        __syncthreads();
        qt_attn_tile_softmax_pv<BC, DC, DP>(Ss, Ms, Ls, As, Vs, o, tid, tx, ty);
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int ai = ty * 4 + i;
        if (ai >= nq) continue;
        int qp = qpos[ai];
        float m = Ms[ai], l = Ls[ai];
        if (MODE == M_LSH) {
            size_t row = ((size_t)r * a.B * a.H + bh) * T + qp;
            float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
            for (int dc = 0; dc < DC; dc++)
                if (tx + 16 * dc < D) a.acc_o[row * D + tx + 16 * dc] = o[i][dc] * inv;
            if (tx == 0) a.acc_l[row] = l > 0.f ? m + logf(l) : -INFINITY;
        } else {
#pragma unroll
            for (int dc = 0; dc < DC; dc++)
                if (tx + 16 * dc < D) a.acc_o[head + (size_t)qp * D + tx + 16 * dc] = o[i][dc];
            if (tx == 0) {
                a.acc_m[(size_t)bh * T + qp] = m;
                a.acc_l[(size_t)bh * T + qp] = l;
            }
        }
    }
}

__device__ __forceinline__ void store_out(void *o, size_t i, float x, int dtype)
{
    if (dtype == QT_CUDA_ATTN_BF16) ((__nv_bfloat16 *)o)[i] = __float2bfloat16_rn(x);
    else if (dtype == QT_CUDA_ATTN_F16) ((__half *)o)[i] = __float2half_rn(x);
    else ((float *)o)[i] = x;
}

/* LSH: one warp per (b·h, position) (grid-stride): the rounds combined with log-sum-exp weights.
 * shared_qk (shared != 0): a query that found no other valid key in some round attends to itself
 * once more, as one term (v_i, s_ii) (the self rule; n_self rounds of s_ii - log n_self each). */
struct lsh_self {
    const float *q, *kn, *v, *mask;
    int T, H;
    float scale;
};
__global__ void attn_lsh_combine(const float *o_r, const float *lse_r, int NH, long long rows, int D, void *out,
                                 int dtype, lsh_self self, int shared)
{
    int lane = threadIdx.x & 31;
    long long step = ((long long)gridDim.x * blockDim.x) >> 5;
    for (long long w = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5; w < rows; w += step) {
        float big = -INFINITY, sii = -INFINITY;
        int nself = 0;
        for (int r = 0; r < NH; r++) {
            float l = lse_r[r * rows + w];
            big = fmaxf(big, l);
            nself += l == -INFINITY;
        }
        long long b = w / self.T / self.H, pos = w % self.T;
        if (shared && nself > 0 && (!self.mask || self.mask[b * self.T + pos] != 0.f)) {
            float dot = 0.f;
            for (int d = lane; d < D; d += 32) dot += self.q[(size_t)w * D + d] * self.kn[(size_t)w * D + d];
            for (int o = 16; o; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
            sii = dot * self.scale;
            big = fmaxf(big, sii);
        }
        float tot = 0.f;
        if (big != -INFINITY) {
            for (int r = 0; r < NH; r++) tot += expf(lse_r[r * rows + w] - big);
            if (sii != -INFINITY) tot += expf(sii - big);
            tot = big + logf(tot);
        }
        for (int d = lane; d < D; d += 32) {
            float acc = 0.f;
            if (big != -INFINITY) {
                for (int r = 0; r < NH; r++) {
                    float l = lse_r[r * rows + w];
                    if (l != -INFINITY) acc += expf(l - tot) * o_r[((size_t)r * rows + w) * D + d];
                }
                if (sii != -INFINITY) acc += expf(sii - tot) * self.v[(size_t)w * D + d];
            }
            store_out(out, (size_t)w * D + d, acc, dtype);
        }
    }
}

/* DYNAMIC: O / l, zeros for an empty key set. */
__global__ void attn_dyn_finish(const float *acc_o, const float *acc_l, long long n, int D, void *out, int dtype)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float l = acc_l[i / D];
        store_out(out, i, l > 0.f ? acc_o[i] / l : 0.f, dtype);
    }
}

__device__ __forceinline__ float load_in(const void *x, size_t i, int dtype)
{
    return dtype == QT_CUDA_ATTN_BF16 ? __bfloat162float(((const __nv_bfloat16 *)x)[i])
           : dtype == QT_CUDA_ATTN_F16 ? __half2float(((const __half *)x)[i])
                                       : ((const float *)x)[i];
}

/* y[r] = x[r] / |x[r]| per row of D (the norm accumulated in double, as common.c's
 * qt_attn_normalize_rows; a zero row stays zero), element type dtype in and out. */
__global__ void attn_normalize(const void *x, int dtype, long long rows, int D, void *y)
{
    for (long long r = blockIdx.x * (long long)blockDim.x + threadIdx.x; r < rows; r += (long long)gridDim.x * blockDim.x) {
        double s = 0;
        for (int d = 0; d < D; d++) {
            double e = load_in(x, (size_t)r * D + d, dtype);
            s += e * e;
        }
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.f;
        for (int d = 0; d < D; d++) store_out(y, (size_t)r * D + d, load_in(x, (size_t)r * D + d, dtype) * inv, dtype);
    }
}

extern "C" int qt_cuda_attn_normalize(const void *x, int dtype, long long rows, int D, void *y, void *stream)
{
    if (!x || !y || rows < 0 || D < 1) return -1;
    long long blocks = (rows + 127) / 128;
    attn_normalize<<<(unsigned)(blocks < 8192 ? (blocks > 0 ? blocks : 1) : 8192), 128, 0, (cudaStream_t)stream>>>(
        x, dtype, rows, D, y);
    return (int)cudaGetLastError();
}

/* bf16/f16 → f32 */
__global__ void attn_to_f32(const void *x, int dtype, long long n, float *y)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        y[i] = load_in(x, (size_t)i, dtype);
}

extern "C" int qt_cuda_attn_to_f32(const void *x, int dtype, long long n, float *y, void *stream)
{
    if (!x || !y || n < 0) return -1;
    long long blocks = (n + 255) / 256;
    attn_to_f32<<<(unsigned)(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096), 256, 0, (cudaStream_t)stream>>>(x, dtype, n, y);
    return (int)cudaGetLastError();
}

/* ---------------------------------------------------------------- the forward */

/* Workspace carve-up (each piece 256-byte aligned). */
struct lsh_ws {
    int *bucket, *vals, *sorted, *chunkof, *offs, *tiles;
    unsigned *keys, *keys_sorted; /* composite (side, b·h, round, bucket) */
    float *acc_o, *acc_m, *acc_l;
    float *kn; /* shared_qk: the unit-normalised queries (the keys) */
    void *cub;
    size_t cub_bytes, total;
};

static size_t align_up(size_t x) { return (x + 255) & ~(size_t)255; }

static int end_bit_of(long long maxkey)
{
    int bits = 1;
    while ((1LL << bits) <= maxkey) bits++;
    return bits;
}

static int lsh_layout(const qt_cuda_lsh_args_t *a, char *base, lsh_ws *w)
{
    long long BH = (long long)a->B * a->H, n = 2 * BH * a->n_hashes * a->T;
    long long nseg = 2 * BH * a->n_hashes;
    size_t off = 0;
    auto take = [&](size_t bytes) -> void * {
        void *p = base ? base + off : nullptr;
        off += align_up(bytes);
        return p;
    };
    w->bucket = (int *)take(n * sizeof(int));
    w->keys = (unsigned *)take(n * sizeof(unsigned));
    w->keys_sorted = (unsigned *)take(n * sizeof(unsigned));
    w->vals = (int *)take(n * sizeof(int));
    w->sorted = (int *)take(n * sizeof(int));
    w->chunkof = (int *)take(n * sizeof(int));
    w->offs = (int *)take(nseg * (a->n_buckets + 1) * sizeof(int));
    w->tiles = (int *)take(nseg / 2 * (a->n_buckets + 1) * sizeof(int));
    size_t rows = (size_t)BH * a->T;
    if (a->dynamic) {
        w->acc_o = (float *)take(rows * a->D * sizeof(float));
        w->acc_m = (float *)take(rows * sizeof(float));
        w->acc_l = (float *)take(rows * sizeof(float));
    } else {
        w->acc_o = (float *)take(rows * a->n_hashes * a->D * sizeof(float));
        w->acc_m = nullptr;
        w->acc_l = (float *)take(rows * a->n_hashes * sizeof(float));
    }
    w->kn = a->shared_qk ? (float *)take(rows * a->D * sizeof(float)) : nullptr;
    w->cub_bytes = 0;
    int bits = end_bit_of(nseg * a->n_buckets);
    cudaError_t e = cub::DeviceRadixSort::SortPairs(nullptr, w->cub_bytes, (const unsigned *)nullptr, (unsigned *)nullptr,
                                                    (const int *)nullptr, (int *)nullptr, (int)n, 0, bits);
    if (e != cudaSuccess) return (int)e;
    w->cub = take(w->cub_bytes);
    w->total = off;
    return 0;
}

static int lsh_args_ok(const qt_cuda_lsh_args_t *a)
{
    if (!a || !a->q || (!a->k && !a->shared_qk) || !a->v || !a->o || !a->rot || a->B < 1 || a->H < 1 || a->T < 1 || a->D < 1 ||
        a->D > 128 || a->n_hashes < 1 || a->n_hashes > 64 || a->n_buckets < 2 || (a->n_buckets & 1) ||
        (!a->dynamic && a->chunk < 1) || (a->dynamic && (a->dil < 1 || a->w_left < 1 || a->w_right < 0)))
        return 0;
    long long BH = (long long)a->B * a->H;
    long long n = 2 * BH * a->n_hashes * a->T;
    if (BH > 65535 || a->B > 65535 || (long long)a->H * a->n_hashes > 65535 || n >= (1LL << 31) || 2 * BH * a->n_hashes * a->n_buckets >= (1LL << 30)) return 0;
    if ((long long)a->T * a->D * BH * a->n_hashes >= (1LL << 40)) return 0;
    return 1;
}

extern "C" size_t qt_cuda_attn_lsh_workspace(const qt_cuda_lsh_args_t *a)
{
    if (!lsh_args_ok(a)) return 0;
    lsh_ws w;
    if (lsh_layout(a, nullptr, &w)) return 0;
    return w.total;
}

template <int DM, int MODE>
static int launch_gather(const gather_args &g, dim3 grid, cudaStream_t st)
{
    size_t smem = ((size_t)(G_BR + 2 * G_BC) * (DM + 1) + G_BR * (G_BC + 1) + 3 * G_BR) * sizeof(float) +
                  (size_t)(G_BR + G_BC) * (1 + g.NH) * sizeof(int);
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(attn_gather_kernel<DM, MODE>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)smem);
        if (e != cudaSuccess) return (int)e;
    }
    attn_gather_kernel<DM, MODE><<<grid, 256, smem, st>>>(g);
    return (int)cudaGetLastError();
}

template <int MODE> static int launch_gather_d(const gather_args &g, dim3 grid, cudaStream_t st)
{
    if (g.D <= 16) return launch_gather<16, MODE>(g, grid, st);
    if (g.D <= 32) return launch_gather<32, MODE>(g, grid, st);
    if (g.D <= 64) return launch_gather<64, MODE>(g, grid, st);
    return launch_gather<128, MODE>(g, grid, st);
}

static unsigned grid1(long long n, int threads)
{
    long long b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 8192 ? 8192 : b);
}

extern "C" int qt_cuda_attn_lsh_forward(const qt_cuda_lsh_args_t *a, void *ws, size_t ws_bytes, void *stream)
{
    if (!lsh_args_ok(a) || !ws) return -1;
    lsh_ws w;
    int rc = lsh_layout(a, (char *)ws, &w);
    if (rc) return rc;
    if (w.total > ws_bytes) return -1;
    cudaStream_t st = (cudaStream_t)stream;
    const int B = a->B, H = a->H, T = a->T, D = a->D, NH = a->n_hashes, nbk = a->n_buckets, f = a->factor;
    const long long BH = (long long)B * H, side = BH * NH * T, n = 2 * side, nseg = 2 * BH * NH;
    const int cols = f ? f / 2 + nbk / f / 2 : nbk / 2;
    cudaError_t e = cudaMemsetAsync(w.bucket, 0, (size_t)n * sizeof(int), st);
    if (e != cudaSuccess) return (int)e;
    const float *keys = a->k;
    if (a->shared_qk) { /* keys = unit-normalised queries; both sides hash the queries (one plan) */
        rc = qt_cuda_attn_normalize(a->q, QT_CUDA_ATTN_F32, BH * T, D, w.kn, st);
        if (rc) return rc;
        keys = w.kn;
    }
    /* hash: per side, one launch over heads × rounds (grid z = h·NH + r; the batch is grid y) */
    for (int s = 0; s < 2 && !rc; s++) {
        const float *x = s && !a->shared_qk ? a->k : a->q;
        int *bk = w.bucket + s * side;
        long long xs = (long long)H * T * D, bs = (long long)H * NH * T, rz = (long long)cols * D;
        if (f) {
            rc = hash_v2(x, B, xs, (long long)T * D, NH, H * NH, T, D, a->rot, rz, f / 2, 1, bk, bs, T, st);
            if (!rc)
                rc = hash_v2(x, B, xs, (long long)T * D, NH, H * NH, T, D, a->rot + (size_t)(f / 2) * D, rz,
                             nbk / f / 2, f, bk, bs, T, st);
        } else {
            rc = hash_v2(x, B, xs, (long long)T * D, NH, H * NH, T, D, a->rot, rz, cols, 1, bk, bs, T, st);
        }
    }
    if (rc) return rc;
    /* sort every (side, b·h, round) by (bucket, position) in one stable radix sort */
    attn_lsh_keys<<<grid1(n, 256), 256, 0, st>>>(w.bucket, n, T, nbk, w.keys, w.vals);
    size_t cb = w.cub_bytes;
    e = cub::DeviceRadixSort::SortPairs(w.cub, cb, w.keys, w.keys_sorted, w.vals, w.sorted, (int)n, 0,
                                        end_bit_of(nseg * nbk), st);
    if (e != cudaSuccess) return (int)e;
    gather_args g;
    g.q = a->q, g.k = keys, g.v = a->v, g.mask = a->mask, g.shared = a->shared_qk;
    g.B = B, g.H = H, g.T = T, g.D = D, g.causal = a->causal, g.scale = a->scale;
    g.NH = NH, g.nbk = nbk, g.chunk = a->chunk, g.round = 0;
    g.wl = a->w_left, g.wr = a->causal ? 0 : a->w_right, g.dil = a->dil > 0 ? a->dil : 1;
    g.bucket = w.bucket, g.sorted = w.sorted, g.chunkof = w.chunkof, g.offs = w.offs, g.tiles = w.tiles;
    g.side = side;
    g.acc_o = w.acc_o, g.acc_m = w.acc_m, g.acc_l = w.acc_l;
    if (!a->dynamic) {
        attn_lsh_chunks<<<grid1(n, 256), 256, 0, st>>>(w.sorted, n, T, a->chunk, w.chunkof);
        int L = a->chunk, per = ((L < T ? L : T) + G_BR - 1) / G_BR, nchunks = (T + L - 1) / L;
        rc = launch_gather_d<M_LSH>(g, dim3((unsigned)nchunks * per, NH, (unsigned)BH), st);
        if (rc) return rc;
        long long rows = BH * T;
        lsh_self self = {a->q, keys, a->v, a->mask, T, H, a->scale};
        attn_lsh_combine<<<grid1(rows * 32, 256), 256, 0, st>>>(w.acc_o, w.acc_l, NH, rows, D, a->o, a->odtype, self,
                                                               a->shared_qk);
        return (int)cudaGetLastError();
    }
    attn_lsh_offsets<<<grid1(nseg * (nbk + 1), 256), 256, 0, st>>>(w.keys_sorted, (int)nseg, T, nbk, w.offs);
    attn_dyn_tiles<<<grid1(nseg / 2, 128), 128, 0, st>>>(w.offs, w.offs + nseg / 2 * (nbk + 1), (int)(nseg / 2), nbk,
                                                         w.tiles);
    rc = launch_gather_d<M_WIN>(g, dim3((unsigned)((T + G_BR - 1) / G_BR), 1, (unsigned)BH), st);
    for (int r = 0; r < NH && !rc; r++) {
        g.round = r;
        rc = launch_gather_d<M_DYN>(g, dim3((unsigned)((T + G_BR - 1) / G_BR + nbk), 1, (unsigned)BH), st);
    }
    if (rc) return rc;
    attn_dyn_finish<<<grid1(BH * T * D, 256), 256, 0, st>>>(w.acc_o, w.acc_l, BH * T * D, D, a->o, a->odtype);
    return (int)cudaGetLastError();
}
