/* cmd_trace.c — `quintet trace optim`: runs one optimizer (impl/optim) on one test
 * problem and prints the trajectory as CSV, header `step,x0,x1,…,loss`, one row at step
 * 0, every --every steps and at the last step; values with 17 significant digits so a
 * double round-trips. Every optimizer option is settable by its PyTorch name
 * (--lr, --betas 0.9,0.99, --weight-decay, --momentum, --nesterov, --amsgrad, …; '-' or
 * '_' both work; booleans as a bare flag or with true/false). Example:
 *   quintet trace optim --optimizer adam --lr 0.001 --betas 0.9,0.99 --eps 1e-8 \
 *       --problem rosenbrock --x0 -1.2,1.0 --steps 5000 --dtype f64 --every 100
 * Bad input: a message on stderr and exit status 2. `quintet trace optim --help`. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quintet/optim.h"
#include "quintet/optim_problems.h"
#include "quintet/tensor.h"

/* Print the usage text. */
static void trace_usage(FILE *f)
{
    fputs("usage: quintet trace optim [options]\n"
          "Runs one optimizer on one problem; prints CSV step,x0,x1,...,loss on stdout.\n"
          "  --optimizer NAME   sgd adam adamw radam rmsprop adagrad adabelief lamb adalr (default adam)\n"
          "  --problem NAME     quadratic_deep rosenbrock rosenbrock_noisy logreg mlp (default rosenbrock)\n"
          "  --dim N            problem dimension (rosenbrock n-d, quadratic_deep, logreg)\n"
          "  --noise S          noise scale of stochastic problems (quadratic_deep default 0 here)\n"
          "  --seed N           data/noise seed (default 1)\n"
          "  --x0 A,B,...       start point (dim values; default: the problem's)\n"
          "  --steps N          optimizer steps (default 1000)\n"
          "  --every N          print every N steps (default 1)\n"
          "  --dtype f32|f64    parameter precision (default f64)\n"
          "  --backend NAME     a backend with optimizer ops, see quintet env (default cpu; ref: f64 only)\n"
          "  --schedule NAME    constant step exponential warmup_cosine (default constant)\n"
          "  --step-size N --gamma G                  step / exponential schedules\n"
          "  --warmup W --start-factor S --t-max T --eta-min E   warmup_cosine\n"
          "optimizer options, PyTorch names (only those of the chosen optimizer are accepted):\n"
          "  --lr --betas B1,B2 --eps --weight-decay --momentum --dampening --nesterov --amsgrad\n"
          "  --maximize --alpha --centered --lr-decay --initial-accumulator-value\n"
          "  --decoupled-weight-decay --weight-decouple --fixed-decay --rectify --degenerated-to-sgd\n"
          "  --trust-clip --always-adapt\n"
          "booleans: --flag, --flag=true|false or --flag true|false. Defaults: torch.optim's.\n",
          f);
}

/* 1 when s reads as a boolean word. */
static int is_bool_word(const char *s)
{
    static const char *const w[] = {"true", "false", "1", "0", "yes", "no", "on", "off"};
    for (size_t i = 0; s && i < sizeof w / sizeof w[0]; i++)
        if (strcmp(s, w[i]) == 0) return 1;
    return 0;
}

/* Parse a long long in [lo, hi]. */
static int parse_ll(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "quintet trace optim: %s: '%s' is not an integer in [%lld, %lld]\n", opt, v, lo, hi);
        return 0;
    }
    *out = x;
    return 1;
}

/* Parse a finite double. */
static int parse_dbl(const char *opt, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || x != x) {
        fprintf(stderr, "quintet trace optim: %s: '%s' is not a number\n", opt, v);
        return 0;
    }
    *out = x;
    return 1;
}

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
            if (end == s || errno || (*end && *end != ',') || i >= d) {
                fprintf(stderr, "quintet trace optim: --x0 '%s' must be %d comma-separated numbers\n", a->x0, d);
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

/* Entry point: argv[0] = "optim". */
int qt_cmd_trace(int argc, char **argv)
{
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        trace_usage(stdout);
        return 0;
    }
    if (argc < 1 || strcmp(argv[0], "optim") != 0) {
        fprintf(stderr, "quintet trace: unknown target '%s' (only 'optim')\n", argc >= 1 ? argv[0] : "");
        return 2;
    }
    trace_args_t a = {"adam", "rosenbrock", NULL, "f64", "cpu", "constant", 0, 1000, 1, 1, 1, 0, 0,
                      0,      1.0,          1.0,  0.0,   0};
    /* pass 1: the optimizer name and --help, so options can be checked against it */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            trace_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--optimizer") == 0 && i + 1 < argc) a.optimizer = argv[i + 1];
        else if (strncmp(argv[i], "--optimizer=", 12) == 0) a.optimizer = argv[i] + 12;
    }
    qt_optim_kind_t kind;
    qt_optim_config_t cfg;
    if (qt_optim_kind_parse(a.optimizer, &kind) != QT_OK || qt_optim_config_default(kind, &cfg) != QT_OK) {
        fprintf(stderr, "quintet trace optim: %s\n", qt_last_error());
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "quintet trace optim: unexpected argument '%s' (see --help)\n", arg);
            return 2;
        }
        char name[64];
        const char *val = NULL, *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len == 0 || len >= sizeof name) {
            fprintf(stderr, "quintet trace optim: bad option '%s'\n", arg);
            return 2;
        }
        memcpy(name, arg + 2, len);
        name[len] = 0;
        for (char *c = name; *c; c++)
            if (*c == '_') *c = '-';
        if (eq) val = eq + 1;
        /* boolean optimizer flags may stand alone */
        char key[64];
        strcpy(key, name);
        for (char *c = key; *c; c++)
            if (*c == '-') *c = '_';
        static const char *const bools[] = {"nesterov", "amsgrad", "maximize", "centered", "decoupled_weight_decay",
                                            "weight_decouple", "fixed_decay", "rectify", "degenerated_to_sgd",
                                            "trust_clip", "always_adapt"};
        int is_bool = 0;
        for (size_t k = 0; k < sizeof bools / sizeof bools[0]; k++) is_bool |= strcmp(key, bools[k]) == 0;
        if (!val) {
            if (is_bool) {
                if (i + 1 < argc && is_bool_word(argv[i + 1])) val = argv[++i];
                else val = "true";
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                fprintf(stderr, "quintet trace optim: option --%s needs a value\n", name);
                return 2;
            }
        }
        long long ll;
        if (strcmp(name, "optimizer") == 0) continue;
        else if (strcmp(name, "problem") == 0) a.problem = val;
        else if (strcmp(name, "x0") == 0) a.x0 = val;
        else if (strcmp(name, "dtype") == 0) a.dtype = val;
        else if (strcmp(name, "backend") == 0) a.backend = val;
        else if (strcmp(name, "schedule") == 0) a.schedule = val;
        else if (strcmp(name, "dim") == 0) {
            if (!parse_ll("--dim", val, 1, 4096, &a.dim)) return 2;
        } else if (strcmp(name, "steps") == 0) {
            if (!parse_ll("--steps", val, 0, 1000000000LL, &a.steps)) return 2;
        } else if (strcmp(name, "every") == 0) {
            if (!parse_ll("--every", val, 1, 1000000000LL, &a.every)) return 2;
        } else if (strcmp(name, "seed") == 0) {
            if (!parse_ll("--seed", val, 0, 0x7fffffffffffffffLL, &a.seed)) return 2;
        } else if (strcmp(name, "step-size") == 0) {
            if (!parse_ll("--step-size", val, 1, 1000000000LL, &a.step_size)) return 2;
        } else if (strcmp(name, "warmup") == 0) {
            if (!parse_ll("--warmup", val, 0, 1000000000LL, &a.warmup)) return 2;
        } else if (strcmp(name, "t-max") == 0) {
            if (!parse_ll("--t-max", val, 1, 1000000000LL, &a.t_max)) return 2;
        } else if (strcmp(name, "noise") == 0) {
            if (!parse_dbl("--noise", val, &a.noise)) return 2;
            a.have_noise = 1;
        } else if (strcmp(name, "gamma") == 0) {
            if (!parse_dbl("--gamma", val, &a.gamma)) return 2;
        } else if (strcmp(name, "start-factor") == 0) {
            if (!parse_dbl("--start-factor", val, &a.start_factor)) return 2;
        } else if (strcmp(name, "eta-min") == 0) {
            if (!parse_dbl("--eta-min", val, &a.eta_min)) return 2;
        } else if (qt_optim_config_set(&cfg, key, val) != QT_OK) {
            fprintf(stderr, "quintet trace optim: --%s: %s\n", name, qt_last_error());
            return 2;
        }
        (void)ll;
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
