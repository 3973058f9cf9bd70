/* tile_softmax.cuh — the f32 SIMT tile step shared by attn_flash.cu's v2 kernel and attn_lsh.cu's
 * gather kernel (LSH, dynamic): given the 64×64 score tile Ss (row stride 65, masked scores
 * -inf) of a 256-thread block, the online-softmax update of the running max Ms, sum Ls and
 * rescale factor As of each row (4 threads per row, 16 columns each; a row with no key yet keeps
 * max -inf and contributes exp(-inf) = 0), then O ← O·alpha + P·V for the block's 4 rows × DC
 * column groups per thread (thread (tx, ty) holds rows ty·4…ty·4+3, columns tx + 16·dc).
 * Validated with its callers by tests/attention/test_attention_cuda.c and cuda-attn-bench. */
#ifndef QUINTET_ATTN_TILE_SOFTMAX_CUH
#define QUINTET_ATTN_TILE_SOFTMAX_CUH

template <int BC, int DC, int DP>
__device__ __forceinline__ void qt_attn_tile_softmax_pv(float *Ss, float *Ms, float *Ls, float *As,
                                                        const float *Vs, float (&o)[4][DC], int tid, int tx,
                                                        int ty)
{
    static_assert(BC == 64, "4 threads per row, 16 columns each");
    { /* online softmax: 4 threads per row, 16 columns each */
        int row = tid >> 2, part = tid & 3;
        float *srow = Ss + row * (BC + 1) + part * 16;
        float mx = -INFINITY;
#pragma unroll
        for (int j = 0; j < 16; j++) mx = fmaxf(mx, srow[j]);
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        float mold = Ms[row], mnew = fmaxf(mold, mx), mu = mnew == -INFINITY ? 0.f : mnew;
        float sum = 0.f;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            float p = expf(srow[j] - mu);
            srow[j] = p;
            sum += p;
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        __syncwarp();
        if (part == 0) {
            float al = expf(mold - mu);
            As[row] = al;
            Ls[row] = Ls[row] * al + sum;
            Ms[row] = mnew;
        }
    }
    __syncthreads();
    /* O = O·alpha + P V */
#pragma unroll
    for (int r = 0; r < 4; r++) {
        float al = As[ty * 4 + r];
#pragma unroll
        for (int dc = 0; dc < DC; dc++) o[r][dc] *= al;
    }
#pragma unroll 4
    for (int j = 0; j < BC; j++) {
        float pv[4];
#pragma unroll
        for (int r = 0; r < 4; r++) pv[r] = Ss[(ty * 4 + r) * (BC + 1) + j];
#pragma unroll
        for (int dc = 0; dc < DC; dc++) {
            float vv = Vs[j * DP + tx + 16 * dc];
#pragma unroll
            for (int r = 0; r < 4; r++) o[r][dc] = fmaf(pv[r], vv, o[r][dc]);
        }
    }
}

#endif
