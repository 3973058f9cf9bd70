"""gen_wgmma.py — writes wgmma.cuh beside it: the inline-PTX wgmma.mma_async wrappers that
attn_wgmma.cu uses (an m64nN f32 accumulator is N/2 registers a thread, each named as its own asm
operand, so the statements are generated). Run: python3 impl/attention/cuda/gen_wgmma.py"""
import os
out = []
P = out.append
P('''/* wgmma.cuh — inline-PTX wrappers for Hopper's warpgroup MMA (wgmma.mma_async, sm_90a only), as
 * attn_wgmma.cu uses them: D(64×N, f32, registers) (+)= A(64×16) · B(16×N), bf16 or f16 inputs.
 *   wgmma_op<N, F16>::ss(d, desc_a, desc_b, scale_d): A and B from shared memory (K-major both),
 *                                        scale_d 0: D = A·B, 1: D += A·B
 *   wgmma_op<N, F16>::rs(d, a, desc_b): A from registers (mma.sync's m16k16 A fragment per warp),
 *                                       B from shared memory MN-major (imm-trans-b 1), D += A·B
 * Accumulator layout (PTX ISA, "wgmma register fragments"): warp w of the warpgroup holds rows
 * 16w + lane/4 (d[4n], d[4n+1]) and 16w + lane/4 + 8 (d[4n+2], d[4n+3]), columns 8n + 2(lane%4) + {0, 1}.
 * Written by gen_wgmma.py (one asm statement per shape and type: the 32 or 64 operands must be
 * named one by one); do not edit by hand. Include only from files compiled for sm_90a. */
#pragma once
#include <stdint.h>

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\\n" ::"n"(N) : "memory"); }
/* keeps the compiler from moving accumulator reads/writes across wgmma fences and waits */
template <int R> __device__ __forceinline__ void wgmma_pin(float (&d)[R])
{
#pragma unroll
    for (int i = 0; i < R; i++) asm volatile("" : "+f"(d[i])::"memory");
}

template <int N, bool F16> struct wgmma_op;
''')
for N in (64, 128):
    R = N // 2
    for f16 in (False, True):
        t = 'f16' if f16 else 'bf16'
        dl = ', '.join('%%%d' % i for i in range(R))
        cons = ', '.join('"+f"(d[%d])' % i for i in range(R))
        P('template <> struct wgmma_op<%d, %s> {' % (N, 'true' if f16 else 'false'))
        P('    static __device__ __forceinline__ void ss(float (&d)[%d], uint64_t da, uint64_t db, int scale_d)' % R)
        P('    {')
        P('        asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %%%d, 0;\\n"' % (R + 2))
        P('                     "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {%s}, %%%d, %%%d, p, 1, 1, 0, 0;\\n}\\n"' % (N, t, t, dl, R, R + 1))
        P('                     : %s' % cons)
        P('                     : "l"(da), "l"(db), "r"(scale_d));')
        P('    }')
        P('    static __device__ __forceinline__ void rs(float (&d)[%d], const uint32_t (&a)[4], uint64_t db)' % R)
        P('    {')
        P('        asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %%%d, 0;\\n"' % (R + 5))
        P('                     "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {%s}, {%%%d, %%%d, %%%d, %%%d}, %%%d, p, 1, 1, 1;\\n}\\n"' % (N, t, t, dl, R, R + 1, R + 2, R + 3, R + 4))
        P('                     : %s' % cons)
        P('                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));')
        P('    }')
        P('};')
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'wgmma.cuh'), 'w').write('\n'.join(out) + '\n')
