/* verify.h — `quintet verify`: every non-reference backend of every technique checked
 * against the technique's ref backend (the oracle) on fresh random inputs, counting the
 * values outside a stated tolerance (like ggml's test-backend-ops and nccl-tests' #wrong).
 *
 * The driver (harness/cli/cmd_verify.c) owns the options, the output (table, CSV, JSON), the
 * summary and the exit code. Each technique is one small file with one job, its case list
 * (harness/verify/verify_attention.c, verify_optim.c, verify_sparse.c): it asks the driver for
 * backend instances of its technique (qt_verify_backends: every registered backend but the
 * oracle that implements the technique and can run here, never named), asks each one's
 * supports(), runs the case on the instance's device, copies the outputs back to the host
 * (as ggml's test-backend-ops does) and reports every case through qt_verify_case /
 * qt_verify_skip / qt_verify_error with a qt_cmp_t (testing/cmp.h) and the qt_tol_t it was
 * judged by. Adding a technique: write verify_<name>.c defining a qt_verify_technique_t and
 * add it to the list in cmd_verify.c.
 * Tests: tests/harness/test_verify.c (make test). */
#ifndef QUINTET_VERIFY_H
#define QUINTET_VERIFY_H

#include <stdint.h>

#include "quintet/backend.h"
#include "quintet/fusion.h"
#include "testing/cmp.h"
#include "quintet/optim.h"
#include "quintet/tensor.h"

typedef enum { QT_VERIFY_QUICK = 0, QT_VERIFY_FULL } qt_verify_size_t;
typedef enum { QT_VERIFY_TABLE = 0, QT_VERIFY_CSV, QT_VERIFY_JSON } qt_verify_format_t;

typedef struct qt_verify qt_verify_t; /* the driver's state during a run */

/* One technique's verification. */
typedef struct {
    const char *name;             /* "attention", "optim", "sparse" */
    qt_technique_t tech;          /* its ops in the backend registry */
    const qt_tol_t *const *tols;  /* the tolerances its cases use, NULL-terminated */
    void (*run)(qt_verify_t *v);  /* every case, reported through the calls below */
} qt_verify_technique_t;

extern const qt_verify_technique_t qt_verify_attention, qt_verify_optim, qt_verify_sparse, qt_verify_fusion;

typedef struct {
    const qt_verify_technique_t *const *techs; /* what to verify */
    int n_techs;
    const char *backend;       /* only this backend (NULL: all but the oracle) */
    uint64_t seed;             /* inputs: Philox streams under this seed */
    qt_verify_size_t size;
    qt_verify_format_t format; /* written to stdout; the summary line goes to stdout for the
                                  table, to stderr for CSV and JSON */
    const qt_backend_iface_t *const *extra; /* backends the registry does not hold, verified as if
                                               it did (a test's fake backends); may be NULL */
    int n_extra;
} qt_verify_opts_t;

typedef struct {
    int64_t cases, wrong_values, wrong_cases, skipped;
} qt_verify_summary_t;

/* Run every technique of o; fills *sum (may be NULL) and returns the exit code:
 * 0 nothing wrong, 1 a wrong value or a failed call. */
int qt_verify_run(const qt_verify_opts_t *o, qt_verify_summary_t *sum);

/* ---- for the technique files ---- */
uint64_t qt_verify_seed(const qt_verify_t *v);
qt_verify_size_t qt_verify_size(const qt_verify_t *v);
/* 1 when backend `name` is to be verified in this run (not the oracle, matches --backend). */
int qt_verify_wants(const qt_verify_t *v, const char *name);
/* Instances of the backends to verify for the current technique: every registered backend
 * (then every extra) that is not the oracle, passes --backend and implements the technique;
 * one that cannot run on this machine gets a skipped row with the reason instead. Fills
 * out[0..max) and returns how many; release them with qt_verify_backends_free. */
int qt_verify_backends(qt_verify_t *v, qt_backend_t **out, int max);
void qt_verify_backends_free(qt_backend_t **bes, int n);
/* The oracle's instance (ref), owned by the driver; NULL when it could not be made. */
qt_backend_t *qt_verify_oracle(qt_verify_t *v);
/* Operands for a backend: when be runs on the host, *use = host (no copy); otherwise a copy of
 * host on be's device in *dev and *use = dev. Free dev with qt_tensor_free (a no-op when unused). */
qt_status_t qt_verify_place(qt_backend_t *be, const qt_tensor_t *host, qt_tensor_t *dev, const qt_tensor_t **use);

/* One case compared: variant, backend, parameters, the comparison and its tolerance. */
void qt_verify_case(qt_verify_t *v, const char *variant, const char *backend, const char *params,
                    const qt_cmp_t *cmp, const qt_tol_t *tol);
/* One case not run: the backend does not support it (reason says why). */
void qt_verify_skip(qt_verify_t *v, const char *variant, const char *backend, const char *params,
                    const char *reason);
/* One supported case whose call failed (message: qt_last_error()); counts as `values` wrong. */
void qt_verify_error(qt_verify_t *v, const char *variant, const char *backend, const char *params, int64_t values,
                     const char *message);

/* ---- shared with tests/attention, tests/optim and tests/sparse (one definition) ---- */
/* The option sets every optimizer is verified (and tested) with. */
typedef struct {
    qt_optim_kind_t kind;
    const char *kv[12]; /* "key", "value", ..., NULL */
} qt_verify_optset_t;
extern const qt_verify_optset_t qt_verify_optsets[];
extern const int qt_verify_n_optsets;
/* Config of option set k (QT_ERR_ARG when an option does not apply). */
qt_status_t qt_verify_optset_config(int k, qt_optim_config_t *c);
/* `steps` steps on backend instance be in dtype dt over n_tensors (1..64) parameter tensors of
 * sizes[i] elements: parameters uniform with mean 0, fresh gradients uniform with mean 0.3
 * each step (so moments build up), variance 1, all rounded to float so f32 and f64 runs see identical inputs; the final
 * parameters are written as double to out[i] (sizes[i] each; a device backend's are copied
 * back to the host after each step, qt_optim_step_host). */
qt_status_t qt_verify_optim_run(const qt_optim_config_t *c, const qt_schedule_t *s, qt_backend_t *be,
                                qt_dtype_t dt, int steps, uint64_t seed, int n_tensors, const size_t *sizes,
                                double *const *out);
/* A (M,K) ~ N(0,1) with a fraction sp of zeros: uniform (each entry) or structured (whole
 * columns, the same units off across the batch); all zero only when sp >= 1. */
void qt_verify_sparse_fill(float *A, int64_t M, int64_t K, double sp, int structured, uint64_t seed);
/* The tolerance of every attention backend's f32 output against the oracle's. */
extern const qt_tol_t qt_verify_tol_attn;
/* The tolerance of every sparse matmul path against ref DENSE (per-value dot-product bound). */
extern const qt_tol_t qt_verify_tol_spmm;

/* ---- fusion (verify_fusion.c; also tests/fusion) ---- */
/* One forward + backward of model cfg on backend be over a batch of B: parameters from
 * qt_fusion_init_params(seed) plus N(0, 0.05²) (so no LayerNorm γ is exactly 1 and no weight
 * of the mixer exactly 0), inputs N(0, 1) and labels uniform, all rounded to f32 on the host
 * then converted to be's dtype, so every backend sees identical values; outputs back on the
 * host as doubles: logits (B·C), *loss, grads (qt_fusion_n_params). params_out (may be NULL)
 * receives the f32-rounded parameters used. */
qt_status_t qt_verify_fusion_run(qt_backend_t *be, const qt_fusion_config_t *cfg, int64_t B, uint64_t seed,
                                 double *logits, double *loss, double *grads, double *params_out);
/* The same loss at given parameters (doubles, rounded to be's dtype): for finite differences. */
qt_status_t qt_verify_fusion_loss(qt_backend_t *be, const qt_fusion_config_t *cfg, int64_t B, uint64_t seed,
                                  const double *params, double *loss);
/* The tolerance of every fusion backend against the oracle (logits, loss, gradients). */
extern const qt_tol_t qt_verify_tol_fusion;

#endif
