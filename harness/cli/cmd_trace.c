/* cmd_trace.c — `quintet trace optim`: runs one optimizer (impl/optim) on one test
 * problem and prints the trajectory as CSV, header `step,x0,x1,…,loss`, one row at step
 * 0, every --every steps and at the last step; values with 17 significant digits so a
 * double round-trips. Every optimizer option is settable by its PyTorch name
 * (--lr, --betas 0.9,0.99, --weight-decay, --momentum, --nesterov, --amsgrad, …; '-' or
 * '_' both work; booleans as a bare flag or with true/false), parsed by args.h like every
 * other command. Example:
 *   quintet trace optim --optimizer adam --lr 0.001 --betas 0.9,0.99 --eps 1e-8 \
 *       --problem rosenbrock --x0 -1.2,1.0 --steps 5000 --dtype f64 --every 100
 * Bad input: a message on stderr and exit status 2. `quintet trace optim --help`. */
#include "cli/args.h"
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/optim.h"
#include "testing/optim_problems.h"
#include "quintet/tensor.h"

/* The options: the trace's own, then every optimizer option under its PyTorch name (those
 * of the chosen optimizer are accepted; qt_optim_config_set says which are not). */
static const qt_opt_t opts[] = {
    {"optimizer", "NAME", "sgd adam adamw radam rmsprop adagrad adabelief lamb adalr (default adam)"},
    {"problem", "NAME", "quadratic_deep rosenbrock rosenbrock_noisy logreg mlp (default rosenbrock)"},
    {"dim", "N", "problem dimension (rosenbrock n-d, quadratic_deep, logreg)"},
    {"noise", "S", "noise scale of stochastic problems (quadratic_deep default 0 here)"},
    {"seed", "N", "data/noise seed (default 1)"},
    {"x0", "A,B,...", "start point (dim values; default: the problem's)"},
    {"steps", "N", "optimizer steps (default 1000)"},
    {"every", "N", "print every N steps (default 1)"},
    {"dtype", "f32|f64", "parameter precision (default f64)"},
    {"backend", "NAME", "a backend with optimizer ops, see quintet env (default cpu; ref: f64 only)"},
    {"schedule", "NAME", "constant step exponential warmup_cosine (default constant)"},
    {"step-size", "N", "step schedule: steps between decays"},
    {"gamma", "G", "step / exponential schedules: decay factor"},
    {"warmup", "W", "warmup_cosine: warmup steps"},
    {"start-factor", "S", "warmup_cosine: first warmup factor"},
    {"t-max", "T", "warmup_cosine: cosine length (default steps - warmup)"},
    {"eta-min", "E", "warmup_cosine: final learning rate"},
#define N_TRACE_OPTS 17 /* the entries above; the optimizer options follow */
    {"lr", "X", "learning rate"},
    {"betas", "B1,B2", "Adam-family coefficients"},
    {"eps", "E", "denominator term"},
    {"weight-decay", "W", "weight decay"},
    {"momentum", "M", "momentum factor (sgd, rmsprop)"},
    {"dampening", "D", "sgd: dampening of momentum"},
    {"nesterov", "[BOOL]", "sgd: Nesterov momentum"},
    {"amsgrad", "[BOOL]", "adam, adamw, adabelief: AMSGrad variant"},
    {"maximize", "[BOOL]", "maximize the objective"},
    {"alpha", "A", "rmsprop: smoothing constant"},
    {"centered", "[BOOL]", "rmsprop: centered variant"},
    {"lr-decay", "D", "adagrad: learning-rate decay"},
    {"initial-accumulator-value", "V", "adagrad: initial accumulator"},
    {"decoupled-weight-decay", "[BOOL]", "radam: decoupled weight decay"},
    {"weight-decouple", "[BOOL]", "adabelief: decoupled weight decay"},
    {"fixed-decay", "[BOOL]", "adabelief: fixed decay"},
    {"rectify", "[BOOL]", "adabelief: rectification"},
    {"degenerated-to-sgd", "[BOOL]", "adabelief: SGD steps when rectification is off"},
    {"trust-clip", "[BOOL]", "lamb: clip the trust ratio"},
    {"always-adapt", "[BOOL]", "lamb: adapt also without weight decay"},
};
#define N_OPTS ((int)(sizeof opts / sizeof opts[0]))

typedef struct {
    const char *optimizer, *problem, *x0, *dtype, *backend, *schedule;
    long long dim, steps, every, seed, step_size, warmup, t_max;
    double noise, gamma, start_factor, eta_min;
    int have_noise;
} trace_args_t;

/* Run the trace; returns the exit status. */
static int trace_run(const trace_args_t *a, const qt_optim_config_t *cfg, const qt_schedule_t *sched)
{
    qt_problem_kind_t pk;
    qt_dtype_t dt;
    if (qt_problem_kind_parse(a->problem, &pk) != QT_OK || qt_dtype_parse(a->dtype, &dt) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    qt_problem_t prob;
    double noise = a->have_noise ? a->noise : (pk == QT_PROB_QUADRATIC_DEEP ? 0.0 : -1.0);
    if (qt_problem_init(&prob, pk, (int)a->dim, noise, (uint64_t)a->seed) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    int d = prob.dim, rc = 0;
    double *x = calloc((size_t)d, sizeof *x), *g = calloc((size_t)d, sizeof *g);
    float *xf = calloc((size_t)d, sizeof *xf), *gf = calloc((size_t)d, sizeof *gf);
    qt_optim_t opt;
    memset(&opt, 0, sizeof opt);
    qt_backend_t *be = NULL;
    if (!x || !g || !xf || !gf) {
        fprintf(stderr, "quintet trace optim: out of memory\n");
        rc = 1;
        goto done;
    }
    qt_problem_x0(&prob, x);
    if (a->x0) {
        const char *s = a->x0;
        int i = 0;
        for (;;) {
            char *end;
            errno = 0;
            double v = strtod(s, &end);
            if (end == s || errno || !isfinite(v) || (*end && *end != ',') || i >= d) {
                fprintf(stderr, "quintet trace optim: --x0 '%s' must be %d comma-separated finite numbers\n", a->x0, d);
                rc = 2;
                goto done;
            }
            x[i++] = v;
            if (!*end) break;
            s = end + 1;
        }
        if (i != d) {
            fprintf(stderr, "quintet trace optim: --x0 has %d values, problem %s has dimension %d\n", i,
                    qt_problem_kind_name(pk), d);
            rc = 2;
            goto done;
        }
    }
    size_t n = (size_t)d;
    if (qt_backend_init(&be, a->backend, NULL) != QT_OK || qt_optim_init(&opt, be, cfg, sched, dt, 1, &n) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        rc = 2;
        goto done;
    }
    printf("step");
    for (int i = 0; i < d; i++) printf(",x%d", i);
    printf(",loss\n");
    for (long long t = 0;; t++) {
        if (t % a->every == 0 || t == a->steps) {
            double loss;
            if (qt_problem_loss(&prob, x, &loss) != QT_OK) {
                fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
                rc = 1;
                goto done;
            }
            printf("%lld", t);
            for (int i = 0; i < d; i++) printf(",%.17g", x[i]);
            printf(",%.17g\n", loss);
        }
        if (t == a->steps) break;
        if (qt_problem_grad(&prob, x, t, g, NULL) != QT_OK) {
            fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
            rc = 1;
            goto done;
        }
        qt_status_t st;
        if (dt == QT_F64) {
            void *pp[1] = {x};
            const void *gg[1] = {g};
            st = qt_optim_step_host(&opt, pp, gg);
        } else {
            for (int i = 0; i < d; i++) xf[i] = (float)x[i], gf[i] = (float)g[i];
            void *pp[1] = {xf};
            const void *gg[1] = {gf};
            st = qt_optim_step_host(&opt, pp, gg);
            for (int i = 0; i < d; i++) x[i] = xf[i];
        }
        if (st != QT_OK) {
            fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
            rc = 1;
            goto done;
        }
    }
done:
    qt_optim_free(&opt);
    qt_backend_free(be);
    qt_problem_free(&prob);
    free(x);
    free(g);
    free(xf);
    free(gf);
    return rc;
}

/* Value of option `name` parsed as an integer in [lo, hi] into *out (unchanged when absent). */
static int opt_int(const qt_args_t *pa, const char *name, long long lo, long long hi, long long *out)
{
    const char *v = qt_args_get(opts, N_OPTS, pa, name);
    char what[32];
    snprintf(what, sizeof what, "--%s", name);
    return !v || qt_args_int(what, v, lo, hi, out) == QT_OK;
}

/* Value of option `name` parsed as a finite number into *out; *given = 1 when present. */
static int opt_double(const qt_args_t *pa, const char *name, double *out, int *given)
{
    const char *v = qt_args_get(opts, N_OPTS, pa, name);
    char what[32];
    snprintf(what, sizeof what, "--%s", name);
    if (given) *given = v != NULL;
    return !v || qt_args_double(what, v, out) == QT_OK;
}

/* Entry point: argv[0] = "optim". */
int qt_cmd_trace(int argc, char **argv)
{
    static const char *const usage = "quintet trace optim [options]";
    static const char *const about =
        "Runs one optimizer on one problem; prints CSV step,x0,x1,...,loss on stdout.\n"
        "Optimizer options take PyTorch's names ('-' or '_'); only those of the chosen optimizer\n"
        "are accepted; defaults are torch.optim's. Booleans: --flag, --flag=true|false or\n"
        "--flag true|false.";
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        qt_args_usage(stdout, usage, about, opts, N_OPTS);
        return 0;
    }
    if (argc < 1 || strcmp(argv[0], "optim") != 0) {
        fprintf(stderr, "quintet trace: unknown target '%s' (only 'optim')\n", argc >= 1 ? argv[0] : "");
        return 2;
    }
    qt_args_t pa;
    if (qt_args_parse(opts, N_OPTS, argc - 1, argv + 1, &pa) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    if (pa.help) {
        qt_args_usage(stdout, usage, about, opts, N_OPTS);
        return 0;
    }
    if (pa.n_pos > 0) {
        fprintf(stderr, "quintet trace optim: unexpected argument '%s' (see --help)\n", pa.pos[0]);
        return 2;
    }
    trace_args_t a = {"adam", "rosenbrock", NULL, "f64", "cpu", "constant", 0, 1000, 1, 1, 1, 0, 0,
                      0,      1.0,          1.0,  0.0,   0};
    const char *const str_opts[] = {"optimizer", "problem", "x0", "dtype", "backend", "schedule"};
    const char **str_dst[] = {&a.optimizer, &a.problem, &a.x0, &a.dtype, &a.backend, &a.schedule};
    for (size_t i = 0; i < sizeof str_opts / sizeof str_opts[0]; i++) {
        const char *v = qt_args_get(opts, N_OPTS, &pa, str_opts[i]);
        if (v) *str_dst[i] = v;
    }
    const long long big = 1000000000LL;
    if (!opt_int(&pa, "dim", 1, 4096, &a.dim) || !opt_int(&pa, "steps", 0, big, &a.steps) ||
        !opt_int(&pa, "every", 1, big, &a.every) || !opt_int(&pa, "seed", 0, 0x7fffffffffffffffLL, &a.seed) ||
        !opt_int(&pa, "step-size", 1, big, &a.step_size) || !opt_int(&pa, "warmup", 0, big, &a.warmup) ||
        !opt_int(&pa, "t-max", 1, big, &a.t_max) || !opt_double(&pa, "noise", &a.noise, &a.have_noise) ||
        !opt_double(&pa, "gamma", &a.gamma, NULL) || !opt_double(&pa, "start-factor", &a.start_factor, NULL) ||
        !opt_double(&pa, "eta-min", &a.eta_min, NULL)) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    qt_optim_kind_t kind;
    qt_optim_config_t cfg;
    if (qt_optim_kind_parse(a.optimizer, &kind) != QT_OK || qt_optim_config_default(kind, &cfg) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    for (int i = N_TRACE_OPTS; i < N_OPTS; i++) {
        if (pa.value[i] && qt_optim_config_set(&cfg, opts[i].name, pa.value[i]) != QT_OK) {
            fprintf(stderr, "quintet trace optim: --%s: %s\n", opts[i].name, qt_last_error());
            return 2;
        }
    }
    if (qt_optim_config_check(&cfg) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    qt_schedule_t sched = qt_schedule_constant();
    if (qt_sched_kind_parse(a.schedule, &sched.kind) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    sched.step_size = a.step_size;
    sched.gamma = a.gamma;
    sched.warmup = a.warmup;
    sched.start_factor = a.start_factor;
    sched.t_max = a.t_max > 0 ? a.t_max : (a.steps - a.warmup > 0 ? a.steps - a.warmup : 1);
    sched.eta_min = a.eta_min;
    if (qt_schedule_check(&sched) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    return trace_run(&a, &cfg, &sched);
}
