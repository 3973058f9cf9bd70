/* cuda_attn_bench.cu — standalone driver for the CUDA attention kernels (impl/attention/cuda):
 * validates every kernel version against a double-precision CPU reference on fresh random
 * inputs (outputs poisoned with NaN first, so an unwritten element fails), then times the
 * versions that passed with CUDA events (2 warm-ups, median of N) on the issue's shapes, next
 * to the machine's measured ceilings (cuBLAS bf16 GEMM 8192³, device-to-device copy). Also
 * checks the LSH hashing kernel bucket for bucket against a host loop identical to ref.c's.
 *
 *   make cuda-attn-bench && build/cuda-attn-bench [results.csv] [--quick] [--targets] [--versions 11,13]
 *   (--versions: only those kernel versions, v13…v19 only so; --targets: validate v5, v7, v10…v12 in bf16 on the small shapes, then time only the issue's two
 *   target shapes, causal window W1024 T65536 D64 and dense B1 H16 T16384 D128, and dense D128
 *   causal and dense D64 at T16384, the other shapes the default version is chosen on)
 *   (or: nvcc -O3 -gencode=arch=compute_90a,code=sm_90a -DQT_ATTN_SM90A -Iimpl/attention/cuda impl/attention/cuda/attn_*.cu
 *        tests/attention/cuda_attn_bench.cu -lcublas -o cuda-attn-bench)
 *
 * Exit status: 0 when every validation passed, 1 otherwise, 77 when there is no GPU (said
 * why). Semantics checked: quintet/attention.h (dense, window with dilation and causal,
 * key-padding mask, fully masked rows output zeros). Tolerances (relative Frobenius error):
 * f32 1e-5, bf16 and f16 2e-2, per the issue. */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <algorithm>
#include <vector>

#include "attn_cuda.h"

#define CK(x)                                                                                              \
    do {                                                                                                   \
        cudaError_t e_ = (x);                                                                              \
        if (e_ != cudaSuccess) {                                                                           \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));            \
            exit(2);                                                                                       \
        }                                                                                                  \
    } while (0)

static FILE *csv;
static int failures;
#define QT_ATTN_MAXV 19       /* the highest kernel version (attn_flash.cu, attn_wgmma.cu) */
static const bool *only_versions; /* --targets / --versions: validate and time these versions only */

/* ---- random numbers (splitmix64 → Box-Muller) ---- */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unif(void) { return ((rng_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static float rng_normal(void) { return (float)(sqrt(-2.0 * log(rng_unif())) * cos(6.283185307179586 * rng_unif())); }

static const char *dtype_name(int dt) { return dt == QT_CUDA_ATTN_F32 ? "f32" : dt == QT_CUDA_ATTN_BF16 ? "bf16" : "f16"; }
static size_t dtype_size(int dt) { return dt == QT_CUDA_ATTN_F32 ? 4 : 2; }

/* host floats → device element type; x is rounded in place to what the device sees */
static void *to_device(std::vector<float> &x, int dt)
{
    void *d;
    size_t n = x.size();
    CK(cudaMalloc(&d, n * dtype_size(dt)));
    if (dt == QT_CUDA_ATTN_F32) {
        CK(cudaMemcpy(d, x.data(), n * 4, cudaMemcpyHostToDevice));
    } else {
        std::vector<uint16_t> h(n);
        for (size_t i = 0; i < n; i++) {
            if (dt == QT_CUDA_ATTN_BF16) {
                __nv_bfloat16 b = __float2bfloat16_rn(x[i]);
                memcpy(&h[i], &b, 2);
                x[i] = __bfloat162float(b);
            } else {
                __half b = __float2half_rn(x[i]);
                memcpy(&h[i], &b, 2);
                x[i] = __half2float(b);
            }
        }
        CK(cudaMemcpy(d, h.data(), n * 2, cudaMemcpyHostToDevice));
    }
    return d;
}
static void from_device(std::vector<float> &x, const void *d, int dt)
{
    size_t n = x.size();
    if (dt == QT_CUDA_ATTN_F32) {
        CK(cudaMemcpy(x.data(), d, n * 4, cudaMemcpyDeviceToHost));
        return;
    }
    std::vector<uint16_t> h(n);
    CK(cudaMemcpy(h.data(), d, n * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; i++) {
        if (dt == QT_CUDA_ATTN_BF16) {
            __nv_bfloat16 b;
            memcpy(&b, &h[i], 2);
            x[i] = __bfloat162float(b);
        } else {
            __half b;
            memcpy(&b, &h[i], 2);
            x[i] = __half2float(b);
        }
    }
}

/* ---- the reference: exact attention in double for query position i of head bh ---- */
static void ref_row(const qt_cuda_attn_args_t *a, const float *Q, const float *K, const float *V, const float *mask,
                    int bh, int i, double *out)
{
    int D = a->D, T = a->T, b = bh / a->H, wr = a->causal ? 0 : a->w_right;
    size_t head = (size_t)bh * T * D;
    std::vector<double> s;
    std::vector<int> js;
    double mx = -INFINITY;
    for (int j = 0; j < T; j++) {
        int diff = j - i;
        if (diff % a->dil) continue;
        if (diff < -(long long)a->w_left * a->dil || diff > (long long)wr * a->dil) continue;
        if (mask && mask[(size_t)b * T + j] == 0.f) continue;
        double d = 0;
        for (int e = 0; e < D; e++) d += (double)Q[head + (size_t)i * D + e] * K[head + (size_t)j * D + e];
        d *= 1.0 / sqrt((double)D);
        s.push_back(d);
        js.push_back(j);
        mx = std::max(mx, d);
    }
    for (int e = 0; e < D; e++) out[e] = 0;
    if (s.empty()) return;
    double l = 0;
    for (size_t n = 0; n < s.size(); n++) {
        double p = exp(s[n] - mx);
        l += p;
        for (int e = 0; e < D; e++) out[e] += p * V[head + (size_t)js[n] * D + e];
    }
    for (int e = 0; e < D; e++) out[e] /= l;
}

struct problem {
    int B, H, T, D, causal, w_left, w_right, dil, masked, dtype;
    const char *variant; /* "dense" / "window" */
};

struct device_problem {
    qt_cuda_attn_args_t a;
    std::vector<float> q, k, v, mask;
    void *dq, *dk, *dv, *dout;
    float *dmask;
    size_t n;
    std::vector<double> ref; /* reference rows of the checked heads, computed once per problem */
    int ref_stride;
};

static void dp_make(device_problem &p, const problem &pr)
{
    memset(&p.a, 0, sizeof p.a);
    p.ref.clear();
    p.ref_stride = 0;
    qt_cuda_attn_args_t &a = p.a;
    a.B = pr.B, a.H = pr.H, a.T = pr.T, a.D = pr.D, a.causal = pr.causal, a.dtype = pr.dtype;
    bool dense = !strcmp(pr.variant, "dense");
    a.w_left = dense ? pr.T : pr.w_left;
    a.w_right = dense ? pr.T : pr.w_right;
    a.dil = dense ? 1 : pr.dil;
    a.scale = 1.0f / sqrtf((float)pr.D);
    p.n = (size_t)pr.B * pr.H * pr.T * pr.D;
    p.q.resize(p.n), p.k.resize(p.n), p.v.resize(p.n);
    for (size_t i = 0; i < p.n; i++) p.q[i] = rng_normal(), p.k[i] = rng_normal(), p.v[i] = rng_normal();
    p.dq = to_device(p.q, pr.dtype), p.dk = to_device(p.k, pr.dtype), p.dv = to_device(p.v, pr.dtype);
    CK(cudaMalloc(&p.dout, p.n * dtype_size(pr.dtype)));
    p.dmask = NULL;
    if (pr.masked) {
        /* batch 0: the first 5 keys and every 7th key padded (causal rows 0..4 fully masked);
         * batch 1 (if any): every key padded (all its rows output zeros); others: random 20% */
        p.mask.assign((size_t)pr.B * pr.T, 1.f);
        for (int b = 0; b < pr.B; b++)
            for (int j = 0; j < pr.T; j++) {
                float &m = p.mask[(size_t)b * pr.T + j];
                if (b == 0) m = (j < 5 || j % 7 == 3) ? 0.f : 1.f;
                else if (b == 1) m = 0.f;
                else m = rng_unif() < 0.2 ? 0.f : 1.f;
            }
        CK(cudaMalloc(&p.dmask, p.mask.size() * 4));
        CK(cudaMemcpy(p.dmask, p.mask.data(), p.mask.size() * 4, cudaMemcpyHostToDevice));
    }
    a.q = p.dq, a.k = p.dk, a.v = p.dv, a.o = p.dout, a.mask = p.dmask;
}
static void dp_free(device_problem &p)
{
    cudaFree(p.dq), cudaFree(p.dk), cudaFree(p.dv), cudaFree(p.dout);
    if (p.dmask) cudaFree(p.dmask);
}

/* Run `version`, compare rows (every row_stride-th of heads 0 and last) with the reference. */
static double check(device_problem &p, int version, int row_stride, int *unwritten)
{
    const qt_cuda_attn_args_t &a = p.a;
    CK(cudaMemset(p.dout, 0xFF, p.n * dtype_size(a.dtype))); /* NaN in every dtype */
    int rc = qt_cuda_attn_forward(version, &a, NULL);
    if (rc) { fprintf(stderr, "launch v%d: %d\n", version, rc); return INFINITY; }
    CK(cudaDeviceSynchronize());
    std::vector<float> out(p.n);
    from_device(out, p.dout, a.dtype);
    size_t nan = 0;
    for (size_t i = 0; i < p.n; i++) nan += out[i] != out[i];
    *unwritten = (int)std::min<size_t>(nan, 1 << 30);
    double num = 0, den = 0;
    int heads[2] = {0, a.B * a.H - 1}, nh = a.B * a.H > 1 ? 2 : 1, rows = (a.T + row_stride - 1) / row_stride;
    if (p.ref.empty() || p.ref_stride != row_stride) { /* the reference once per problem, for every version */
        p.ref.assign((size_t)nh * rows * a.D, 0.0);
        p.ref_stride = row_stride;
        for (int hh = 0; hh < nh; hh++)
            for (int i = 0, ri = 0; i < a.T; i += row_stride, ri++)
                ref_row(&a, p.q.data(), p.k.data(), p.v.data(), p.mask.empty() ? NULL : p.mask.data(), heads[hh], i,
                        &p.ref[((size_t)hh * rows + ri) * a.D]);
    }
    for (int hh = 0; hh < nh; hh++) {
        int bh = heads[hh];
        for (int i = 0, ri = 0; i < a.T; i += row_stride, ri++) {
            const double *r = &p.ref[((size_t)hh * rows + ri) * a.D];
            for (int e = 0; e < a.D; e++) {
                double o = out[((size_t)bh * a.T + i) * a.D + e];
                num += (o - r[e]) * (o - r[e]);
                den += r[e] * r[e];
            }
        }
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double useful_flops(const problem &pr)
{
    double bht = (double)pr.B * pr.H * pr.T * pr.D * 4;
    if (!strcmp(pr.variant, "dense")) return bht * pr.T * (pr.causal ? 0.5 : 1.0);
    int W = pr.w_left + (pr.causal ? 0 : pr.w_right) + 1;
    return bht * W;
}

static float time_version(device_problem &p, int version, int reps)
{
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int w = 0; w < 2; w++)
        if (qt_cuda_attn_forward(version, &p.a, NULL)) return -1;
    CK(cudaDeviceSynchronize());
    std::vector<float> ms;
    for (int r = 0; r < reps; r++) {
        CK(cudaEventRecord(e0));
        qt_cuda_attn_forward(version, &p.a, NULL);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float t;
        CK(cudaEventElapsedTime(&t, e0, e1));
        ms.push_back(t);
    }
    CK(cudaGetLastError());
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

static double gemm_ceiling, copy_ceiling; /* FLOP/s, bytes/s */

static void measure_ceilings(void)
{
    int n = 8192;
    void *A, *B, *C;
    CK(cudaMalloc(&A, (size_t)n * n * 2));
    CK(cudaMalloc(&B, (size_t)n * n * 2));
    CK(cudaMalloc(&C, (size_t)n * n * 2));
    std::vector<uint16_t> h((size_t)n * n);
    for (auto &x : h) {
        __nv_bfloat16 b = __float2bfloat16_rn(rng_normal());
        memcpy(&x, &b, 2);
    }
    CK(cudaMemcpy(A, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(B, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
    cublasHandle_t hd;
    cublasCreate(&hd);
    float alpha = 1, beta = 0;
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<float> ms;
    for (int r = 0; r < 13; r++) {
        CK(cudaEventRecord(e0));
        cublasStatus_t st = cublasGemmEx(hd, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, A, CUDA_R_16BF, n, B,
                                         CUDA_R_16BF, n, &beta, C, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F,
                                         CUBLAS_GEMM_DEFAULT);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        if (st != CUBLAS_STATUS_SUCCESS) { fprintf(stderr, "cublasGemmEx: %d\n", (int)st); break; }
        float t;
        CK(cudaEventElapsedTime(&t, e0, e1));
        if (r >= 3) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    gemm_ceiling = ms.empty() ? NAN : 2.0 * n * n * (double)n / (ms[ms.size() / 2] * 1e-3);
    ms.clear();
    size_t bytes = (size_t)n * n * 2;
    for (int r = 0; r < 13; r++) {
        CK(cudaEventRecord(e0));
        CK(cudaMemcpyAsync(C, A, bytes, cudaMemcpyDeviceToDevice));
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float t;
        CK(cudaEventElapsedTime(&t, e0, e1));
        if (r >= 3) ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    copy_ceiling = 2.0 * bytes / (ms[ms.size() / 2] * 1e-3);
    cublasDestroy(hd);
    cudaFree(A), cudaFree(B), cudaFree(C);
    printf("ceilings: cuBLAS bf16 GEMM 8192^3 %.1f TFLOP/s, device copy %.2f TB/s (read + write)\n",
           gemm_ceiling / 1e12, copy_ceiling / 1e12);
    if (csv) fprintf(csv, "ceiling,gemm_bf16_tflops,%.2f\nceiling,copy_tbs,%.3f\n", gemm_ceiling / 1e12, copy_ceiling / 1e12);
}

static void describe(char *buf, size_t n, const problem &pr)
{
    snprintf(buf, n, "%s B%d H%d T%d D%d causal%d wl%d wr%d dil%d mask%d %s", pr.variant, pr.B, pr.H, pr.T, pr.D,
             pr.causal, pr.w_left, pr.w_right, pr.dil, pr.masked, dtype_name(pr.dtype));
}

/* Validate every version that supports pr; time those listed in `timed` (0-terminated). */
static void run_case(const problem &pr, int row_stride, const int *timed, int reps)
{
    device_problem p;
    dp_make(p, pr);
    char desc[160];
    describe(desc, sizeof desc, pr);
    for (int v = 1; v <= QT_ATTN_MAXV; v++) {
        if (!qt_cuda_attn_version_supports(v, pr.dtype, pr.D)) continue;
        if (v > 12 && !(only_versions && only_versions[v])) continue; /* not yet run on a device: --versions */
        bool want_time = false;
        for (const int *t = timed; t && *t; t++) want_time |= *t == v;
        if (only_versions && !only_versions[v]) continue;
        if (v == 1 && (double)pr.T * pr.T * pr.B * pr.H > 4e9 && !want_time) continue; /* naive: too slow */
        int unwritten = 0;
        double err = check(p, v, row_stride, &unwritten);
        double tol = pr.dtype == QT_CUDA_ATTN_F32 ? 1e-5 : 2e-2;
        bool ok = err <= tol && unwritten == 0;
        if (!ok) failures++;
        printf("%-4s %-70s v%d rel_err %.2e (tol %.0e) nan %d\n", ok ? "ok" : "FAIL", desc, v, err, tol, unwritten);
        if (csv) fprintf(csv, "check,%s,v%d,%.3e,%d,%s\n", desc, v, err, unwritten, ok ? "ok" : "FAIL");
        if (ok && want_time) {
            float ms = time_version(p, v, reps);
            double fl = useful_flops(pr), tf = fl / (ms * 1e-3) / 1e12;
            printf("time %-70s v%d %9.3f ms %7.1f TFLOP/s %5.1f%% of GEMM\n", desc, v, ms, tf,
                   100 * tf * 1e12 / gemm_ceiling);
            if (csv) fprintf(csv, "time,%s,v%d,%.4f,%.2f,%.4f\n", desc, v, ms, tf, tf * 1e12 / gemm_ceiling);
        }
    }
    dp_free(p);
}

/* LSH hashing: device buckets must equal the host loop's (ref.c's) bit for bit. */
static void check_lsh(int B, int T, int D, int half)
{
    std::vector<float> x((size_t)B * T * D), rot((size_t)half * D);
    for (auto &e : x) e = rng_normal();
    for (auto &e : rot) e = rng_normal();
    /* a few exact ties: a zero row (every projection 0: bucket 0) and a duplicated column */
    for (int d = 0; d < D; d++) x[d] = 0.f;
    if (half > 1)
        for (int d = 0; d < D; d++) rot[(size_t)D + d] = rot[d];
    std::vector<int> host((size_t)B * T, 0), dev((size_t)B * T);
    for (size_t t = 0; t < (size_t)B * T; t++) {
        const float *row = &x[t * D];
        float best = -INFINITY;
        int arg = 0;
        for (int side = 0; side < 2; side++)
            for (int c = 0; c < half; c++) {
                float pr = 0.f;
                for (int d = 0; d < D; d++) pr = fmaf(row[d], rot[(size_t)c * D + d], pr);
                float val = side ? -pr : pr;
                if (val > best) best = val, arg = side * half + c;
            }
        host[t] = arg;
    }
    float *dx, *dr;
    int *db;
    CK(cudaMalloc(&dx, x.size() * 4));
    CK(cudaMalloc(&dr, rot.size() * 4));
    CK(cudaMalloc(&db, dev.size() * 4));
    CK(cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dr, rot.data(), rot.size() * 4, cudaMemcpyHostToDevice));
    for (int ver = 1; ver <= 2; ver++) {
        CK(cudaMemset(db, 0, dev.size() * 4));
        int rc = qt_cuda_attn_lsh_hash(ver, dx, B, (long long)T * D, T, D, dr, half, 1, db, T, NULL);
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(dev.data(), db, dev.size() * 4, cudaMemcpyDeviceToHost));
        size_t diff = 0;
        for (size_t t = 0; t < dev.size(); t++) diff += dev[t] != host[t];
        bool ok = rc == 0 && diff == 0;
        if (!ok) failures++;
        printf("%-4s lsh hash v%d B%d T%d D%d n_buckets %d: %zu of %zu buckets differ from the host loop\n",
               ok ? "ok" : "FAIL", ver, B, T, D, 2 * half, diff, dev.size());
        if (csv) fprintf(csv, "lsh,v%d B%d T%d D%d nb%d,%zu,%s\n", ver, B, T, D, 2 * half, diff, ok ? "ok" : "FAIL");
    }
    cudaFree(dx), cudaFree(dr), cudaFree(db);
}

int main(int argc, char **argv)
{
    int quick = 0, targets = 0;
    const char *csv_path = NULL;
    static bool pick[QT_ATTN_MAXV + 1];
    /* --targets: the versions timed; v13…v19 (built, not yet run on a device) only when --versions names them */
    int tv[QT_ATTN_MAXV + 2] = {5, 7, 10, 11, 12, 0};
    bool picked = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--targets")) targets = 1;
        else if (!strcmp(argv[i], "--versions") && i + 1 < argc) { /* e.g. --versions 11,13: only these */
            int k = 0;
            for (char *p = argv[++i]; *p;) {
                int v = (int)strtol(p, &p, 10);
                if (v >= 1 && v <= QT_ATTN_MAXV) pick[v] = true, tv[k++] = v;
                while (*p == ',') p++;
                if (*p && (*p < '0' || *p > '9')) p++;
            }
            tv[k] = 0;
            picked = true;
        } else csv_path = argv[i];
    }
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        printf("cuda-attn-bench: skipped: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 77;
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s, %d SMs, cc %d.%d, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.major, prop.minor,
           prop.l2CacheSize >> 20);
    if (csv_path) csv = fopen(csv_path, "w");
    if (csv) fprintf(csv, "kind,case,version,value,extra,status\n");
    measure_ceilings();

    static bool target_versions[QT_ATTN_MAXV + 1] = {false, false, false, false, false, true, false,
                                                     true,  false, false, true,  true,  true};
    if (targets) only_versions = target_versions;
    if (picked) only_versions = pick;
    /* ---- validation on small odd shapes ---- */
    const int dts[3] = {QT_CUDA_ATTN_F32, QT_CUDA_ATTN_BF16, QT_CUDA_ATTN_F16};
    const int Ds[3] = {32, 64, 128};
    for (int di = 0; di < 3; di++)
        for (int ti = 0; ti < 3; ti++) {
            int D = Ds[di], dt = dts[ti];
            if (dt != QT_CUDA_ATTN_F32 && D == 32) continue;
            if (targets && dt != QT_CUDA_ATTN_BF16) continue;
            problem cases[] = {
                {2, 3, 333, D, 0, 0, 0, 1, 0, dt, "dense"},
                {2, 3, 1029, D, 1, 0, 0, 1, 0, dt, "dense"},
                {3, 2, 517, D, 0, 0, 0, 1, 1, dt, "dense"},
                {3, 2, 517, D, 1, 0, 0, 1, 1, dt, "dense"},
                {2, 3, 1000, D, 0, 37, 21, 1, 0, dt, "window"},
                {2, 3, 1000, D, 1, 100, 0, 1, 0, dt, "window"},
                {3, 2, 777, D, 1, 50, 0, 3, 1, dt, "window"},
                {2, 2, 1111, D, 0, 100, 70, 2, 0, dt, "window"},
                {1, 2, 300, D, 0, 1, 0, 1, 0, dt, "window"},
            };
            for (auto &c : cases) run_case(c, 1, NULL, 0);
        }
    if (targets) {
        problem tt[] = {
            {1, 16, 65536, 64, 1, 1024, 0, 1, 0, QT_CUDA_ATTN_BF16, "window"},
            {1, 16, 16384, 128, 0, 0, 0, 1, 0, QT_CUDA_ATTN_BF16, "dense"},
            {1, 16, 16384, 128, 1, 0, 0, 1, 0, QT_CUDA_ATTN_BF16, "dense"}, /* the defaults' other cases */
            {1, 16, 16384, 64, 0, 0, 0, 1, 0, QT_CUDA_ATTN_BF16, "dense"},
        };
        for (auto &c : tt) run_case(c, c.T / 16, tv, quick ? 5 : 10); /* 16 sampled rows a head checked */
        printf("cuda-attn-bench: %d validation failure(s)\n", failures);
        if (csv) fclose(csv);
        return failures ? 1 : 0;
    }
    check_lsh(2, 1000, 64, 4);
    check_lsh(1, 777, 128, 32);
    check_lsh(3, 500, 64, 1);
    check_lsh(2, 3000, 64, 100); /* two column tiles of hash v2 */

    /* ---- timing on the issue's shapes (validated first on sampled rows) ---- */
    const int tc[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0}, tf32[] = {2, 0};
    int reps = quick ? 5 : 10;
    problem timing[] = {
        {1, 16, 16384, 128, 0, 0, 0, 1, 0, QT_CUDA_ATTN_BF16, "dense"},
        {1, 16, 16384, 128, 1, 0, 0, 1, 0, QT_CUDA_ATTN_BF16, "dense"},
        {1, 16, 16384, 64, 0, 0, 0, 1, 0, QT_CUDA_ATTN_BF16, "dense"},
        {1, 16, 16384, 128, 0, 0, 0, 1, 0, QT_CUDA_ATTN_F16, "dense"},
        {1, 16, 65536, 64, 1, 1024, 0, 1, 0, QT_CUDA_ATTN_BF16, "window"},
        {1, 16, 65536, 64, 1, 256, 0, 1, 0, QT_CUDA_ATTN_BF16, "window"},
        {1, 16, 65536, 64, 0, 512, 512, 1, 0, QT_CUDA_ATTN_BF16, "window"},
        {1, 16, 65536, 64, 1, 1024, 0, 2, 0, QT_CUDA_ATTN_BF16, "window"},
    };
    for (auto &c : timing) run_case(c, c.T / 64, tc, reps);
    problem tfp[] = {
        {1, 16, 4096, 128, 0, 0, 0, 1, 0, QT_CUDA_ATTN_F32, "dense"},
        {1, 16, 4096, 64, 0, 0, 0, 1, 0, QT_CUDA_ATTN_F32, "dense"},
    };
    for (auto &c : tfp) run_case(c, c.T / 64, tf32, 5);

    printf("cuda-attn-bench: %d validation failure(s)\n", failures);
    if (csv) fclose(csv);
    return failures ? 1 : 0;
}
