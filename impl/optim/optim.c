/* optim.c — the optimizer core: configs by torch's option names and defaults,
 * hyperparameter validation, schedules, the optimizer object on a backend instance
 * (state allocated on its device through it; one step = per-step scalars once on the
 * host + one ops->update call per tensor, counters) and bitwise checkpoints (device state
 * copied through the host). Formulas: quintet/optim.h. Tests:
 * tests/optim/test_optim.c (make test). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "optim_internal.h"
#include "quintet/counters.h"

static const char *const kind_names[QT_OPTIM_COUNT] = {"sgd",     "adam",      "adamw", "radam", "rmsprop",
                                                       "adagrad", "adabelief", "lamb",  "adalr"};

/* Options each kind accepts (space-separated torch names). */
static const char *const kind_options[QT_OPTIM_COUNT] = {
    "lr momentum dampening nesterov weight_decay maximize",
    "lr betas eps weight_decay amsgrad maximize",
    "lr betas eps weight_decay amsgrad maximize",
    "lr betas eps weight_decay decoupled_weight_decay maximize",
    "lr alpha eps weight_decay momentum centered maximize",
    "lr lr_decay weight_decay initial_accumulator_value eps maximize",
    "lr betas eps weight_decay amsgrad weight_decouple fixed_decay rectify degenerated_to_sgd maximize",
    "lr betas eps weight_decay trust_clip always_adapt maximize",
    "lr betas eps weight_decay maximize",
};

/* Name of an optimizer kind ("?" when out of range). */
const char *qt_optim_kind_name(qt_optim_kind_t k)
{
    return (k >= 0 && k < QT_OPTIM_COUNT) ? kind_names[k] : "?";
}

/* Parse an optimizer name (case-insensitive). */
qt_status_t qt_optim_kind_parse(const char *s, qt_optim_kind_t *out)
{
    QT_CHECK_ARG(s && out, "optimizer name must not be NULL");
    for (int k = 0; k < QT_OPTIM_COUNT; k++)
        if (strcasecmp(s, kind_names[k]) == 0) {
            *out = (qt_optim_kind_t)k;
            return QT_OK;
        }
    return qt_fail(QT_ERR_ARG, "unknown optimizer '%s' (sgd, adam, adamw, radam, rmsprop, adagrad, adabelief, "
                               "lamb, adalr)", s);
}

/* Defaults of torch.optim (adabelief: adabelief-pytorch 0.2.x; lamb: timm-style, see optim.h). */
qt_status_t qt_optim_config_default(qt_optim_kind_t k, qt_optim_config_t *c)
{
    QT_CHECK_ARG(c != NULL, "config must not be NULL");
    QT_CHECK_ARG(k >= 0 && k < QT_OPTIM_COUNT, "optimizer kind %d out of range", (int)k);
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->lr = 1e-3;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    switch (k) {
    case QT_OPTIM_SGD: break;
    case QT_OPTIM_ADAMW: c->weight_decay = 1e-2; break;
    case QT_OPTIM_RMSPROP:
        c->lr = 1e-2;
        c->alpha = 0.99;
        break;
    case QT_OPTIM_ADAGRAD:
        c->lr = 1e-2;
        c->eps = 1e-10;
        break;
    case QT_OPTIM_ADABELIEF:
        c->eps = 1e-16;
        c->weight_decouple = 1;
        c->rectify = 1;
        c->degenerated_to_sgd = 1;
        break;
    case QT_OPTIM_LAMB:
        c->eps = 1e-6;
        c->weight_decay = 1e-2;
        c->always_adapt = 1;
        break;
    default: break;
    }
    return QT_OK;
}

/* 1 when `key` is in kind k's option list. */
int qt_optim_has_option(qt_optim_kind_t k, const char *key)
{
    if (k < 0 || k >= QT_OPTIM_COUNT || !key || !*key) return 0;
    const char *p = kind_options[k];
    size_t n = strlen(key);
    while (*p) {
        size_t w = strcspn(p, " ");
        if (w == n && strncmp(p, key, n) == 0) return 1;
        p += w;
        while (*p == ' ') p++;
    }
    return 0;
}

/* Parse a finite double. */
static qt_status_t parse_double(const char *key, const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !isfinite(d))
        return qt_fail(QT_ERR_ARG, "option %s: '%s' is not a finite number", key, v);
    *out = d;
    return QT_OK;
}

/* Parse a boolean (true/false/1/0/yes/no/on/off). */
static qt_status_t parse_bool(const char *key, const char *v, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = 1, QT_OK;
        if (strcasecmp(v, no[i]) == 0) return *out = 0, QT_OK;
    }
    return qt_fail(QT_ERR_ARG, "option %s: '%s' is not a boolean (true/false)", key, v);
}

/* Set one option by torch name. */
qt_status_t qt_optim_config_set(qt_optim_config_t *c, const char *key_in, const char *v)
{
    QT_CHECK_ARG(c && key_in && v, "config_set: NULL argument");
    char key[48];
    size_t n = strlen(key_in);
    QT_CHECK_ARG(n > 0 && n < sizeof key, "option name '%s' has a bad length", key_in);
    for (size_t i = 0; i <= n; i++) key[i] = key_in[i] == '-' ? '_' : key_in[i];
    if (!qt_optim_has_option(c->kind, key))
        return qt_fail(QT_ERR_ARG, "optimizer %s has no option '%s' (options: %s)", qt_optim_kind_name(c->kind),
                       key_in, kind_options[c->kind]);
    if (strcmp(key, "betas") == 0) {
        char tmp[128];
        QT_CHECK_ARG(strlen(v) < sizeof tmp, "betas '%s' too long", v);
        strcpy(tmp, v);
        char *comma = strchr(tmp, ',');
        QT_CHECK_ARG(comma != NULL, "betas '%s' must be two numbers 'b1,b2'", v);
        *comma = 0;
        double b1 = 0, b2 = 0;
        QT_TRY(parse_double("betas", tmp, &b1));
        QT_TRY(parse_double("betas", comma + 1, &b2));
        c->beta1 = b1;
        c->beta2 = b2;
        return QT_OK;
    }
    static const struct {
        const char *name;
        size_t off;
    } dbl[] = {{"lr", offsetof(qt_optim_config_t, lr)},
               {"eps", offsetof(qt_optim_config_t, eps)},
               {"weight_decay", offsetof(qt_optim_config_t, weight_decay)},
               {"momentum", offsetof(qt_optim_config_t, momentum)},
               {"dampening", offsetof(qt_optim_config_t, dampening)},
               {"alpha", offsetof(qt_optim_config_t, alpha)},
               {"lr_decay", offsetof(qt_optim_config_t, lr_decay)},
               {"initial_accumulator_value", offsetof(qt_optim_config_t, initial_accumulator_value)}},
      bln[] = {{"nesterov", offsetof(qt_optim_config_t, nesterov)},
               {"amsgrad", offsetof(qt_optim_config_t, amsgrad)},
               {"maximize", offsetof(qt_optim_config_t, maximize)},
               {"centered", offsetof(qt_optim_config_t, centered)},
               {"decoupled_weight_decay", offsetof(qt_optim_config_t, decoupled_weight_decay)},
               {"weight_decouple", offsetof(qt_optim_config_t, weight_decouple)},
               {"fixed_decay", offsetof(qt_optim_config_t, fixed_decay)},
               {"rectify", offsetof(qt_optim_config_t, rectify)},
               {"degenerated_to_sgd", offsetof(qt_optim_config_t, degenerated_to_sgd)},
               {"trust_clip", offsetof(qt_optim_config_t, trust_clip)},
               {"always_adapt", offsetof(qt_optim_config_t, always_adapt)}};
    for (size_t i = 0; i < sizeof dbl / sizeof dbl[0]; i++)
        if (strcmp(key, dbl[i].name) == 0) return parse_double(key, v, (double *)((char *)c + dbl[i].off));
    for (size_t i = 0; i < sizeof bln / sizeof bln[0]; i++)
        if (strcmp(key, bln[i].name) == 0) return parse_bool(key, v, (int *)((char *)c + bln[i].off));
    return qt_fail(QT_ERR_INTERNAL, "option '%s' listed but not handled", key);
}

/* Validate hyperparameters: torch's checks, plus eps > 0 and finiteness. */
qt_status_t qt_optim_config_check(const qt_optim_config_t *c)
{
    QT_CHECK_ARG(c != NULL, "config must not be NULL");
    QT_CHECK_ARG(c->kind >= 0 && c->kind < QT_OPTIM_COUNT, "optimizer kind %d out of range", (int)c->kind);
    const char *name = qt_optim_kind_name(c->kind);
    QT_CHECK_ARG(isfinite(c->lr) && c->lr >= 0, "%s: invalid learning rate lr=%g (must be >= 0)", name, c->lr);
    QT_CHECK_ARG(isfinite(c->weight_decay) && c->weight_decay >= 0,
                 "%s: invalid weight_decay=%g (must be >= 0)", name, c->weight_decay);
    if (qt_optim_has_option(c->kind, "eps"))
        QT_CHECK_ARG(isfinite(c->eps) && c->eps > 0, "%s: invalid eps=%g (must be > 0)", name, c->eps);
    if (qt_optim_has_option(c->kind, "betas")) {
        QT_CHECK_ARG(c->beta1 >= 0 && c->beta1 < 1, "%s: invalid beta parameter at index 0: %g (must be in [0, 1))",
                     name, c->beta1);
        QT_CHECK_ARG(c->beta2 >= 0 && c->beta2 < 1, "%s: invalid beta parameter at index 1: %g (must be in [0, 1))",
                     name, c->beta2);
    }
    if (qt_optim_has_option(c->kind, "momentum"))
        QT_CHECK_ARG(isfinite(c->momentum) && c->momentum >= 0, "%s: invalid momentum=%g (must be >= 0)", name,
                     c->momentum);
    if (c->kind == QT_OPTIM_SGD) {
        QT_CHECK_ARG(isfinite(c->dampening), "sgd: dampening=%g must be finite", c->dampening);
        QT_CHECK_ARG(!c->nesterov || (c->momentum > 0 && c->dampening == 0),
                     "sgd: Nesterov momentum requires a momentum > 0 and zero dampening (momentum=%g, dampening=%g)",
                     c->momentum, c->dampening);
    }
    if (c->kind == QT_OPTIM_RMSPROP)
        QT_CHECK_ARG(c->alpha >= 0 && c->alpha <= 1, "rmsprop: invalid alpha=%g (must be in [0, 1])", c->alpha);
    if (c->kind == QT_OPTIM_ADAGRAD) {
        QT_CHECK_ARG(isfinite(c->lr_decay) && c->lr_decay >= 0, "adagrad: invalid lr_decay=%g (must be >= 0)",
                     c->lr_decay);
        QT_CHECK_ARG(isfinite(c->initial_accumulator_value) && c->initial_accumulator_value >= 0,
                     "adagrad: invalid initial_accumulator_value=%g (must be >= 0)", c->initial_accumulator_value);
    }
    return QT_OK;
}

/* "key=value" tokens of the kind's options, space-separated, values re-readable by config_set. */
size_t qt_optim_config_format(const qt_optim_config_t *c, char *buf, size_t size)
{
    char out[1024];
    size_t len = 0;
    out[0] = 0;
    const char *p = kind_options[c->kind];
    while (*p) {
        size_t w = strcspn(p, " ");
        char key[48];
        snprintf(key, sizeof key, "%.*s", (int)w, p);
        char val[64];
        if (strcmp(key, "betas") == 0) snprintf(val, sizeof val, "%.17g,%.17g", c->beta1, c->beta2);
        else {
            static const char *const dkeys[] = {"lr", "eps", "weight_decay", "momentum", "dampening", "alpha",
                                                "lr_decay", "initial_accumulator_value"};
            const double dv[] = {c->lr,    c->eps,   c->weight_decay, c->momentum, c->dampening,
                                 c->alpha, c->lr_decay, c->initial_accumulator_value};
            static const char *const bkeys[] = {"nesterov",    "amsgrad",         "maximize",           "centered",
                                                "decoupled_weight_decay", "weight_decouple", "fixed_decay",
                                                "rectify",     "degenerated_to_sgd", "trust_clip", "always_adapt"};
            const int bv[] = {c->nesterov,        c->amsgrad,     c->maximize, c->centered,
                              c->decoupled_weight_decay, c->weight_decouple, c->fixed_decay, c->rectify,
                              c->degenerated_to_sgd, c->trust_clip, c->always_adapt};
            val[0] = 0;
            for (size_t i = 0; i < sizeof dkeys / sizeof dkeys[0]; i++)
                if (strcmp(key, dkeys[i]) == 0) snprintf(val, sizeof val, "%.17g", dv[i]);
            for (size_t i = 0; i < sizeof bkeys / sizeof bkeys[0]; i++)
                if (strcmp(key, bkeys[i]) == 0) snprintf(val, sizeof val, "%s", bv[i] ? "true" : "false");
        }
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s=%s", len ? " " : "", key, val);
        if (len >= sizeof out) len = sizeof out - 1;
        p += w;
        while (*p == ' ') p++;
    }
    if (buf && size) snprintf(buf, size, "%s", out);
    return len;
}

/* Slot layout per kind (see qt_optim_state for the order). */
int qt_optim_layout(const qt_optim_config_t *c, qt_optim_layout_t *l)
{
    qt_optim_layout_t x = {-1, -1, -1, -1, -1, -1};
    int n = 0;
    switch (c->kind) {
    case QT_OPTIM_SGD:
        if (c->momentum != 0) x.buf = n++;
        break;
    case QT_OPTIM_ADAM:
    case QT_OPTIM_ADAMW:
    case QT_OPTIM_ADABELIEF:
        x.m = n++;
        x.v = n++;
        if (c->amsgrad) x.vmax = n++;
        break;
    case QT_OPTIM_RADAM:
    case QT_OPTIM_LAMB:
        x.m = n++;
        x.v = n++;
        break;
    case QT_OPTIM_RMSPROP:
        x.v = n++;
        if (c->momentum > 0) x.buf = n++;
        if (c->centered) x.gavg = n++;
        break;
    case QT_OPTIM_ADAGRAD: x.v = n++; break;
    case QT_OPTIM_ADALR:
        x.m = n++;
        x.v = n++;
        x.eta = n++;
        break;
    default: break;
    }
    if (l) *l = x;
    return n;
}

/* Number of state slots. */
int qt_optim_slots(const qt_optim_config_t *c) { return c ? qt_optim_layout(c, NULL) : 0; }

/* Streams read/written per element and FLOPs per element of one step. */
void qt_optim_work(const qt_optim_config_t *c, qt_dtype_t dt, size_t n, double *bytes_read, double *bytes_written,
                   double *flops)
{
    double r = 2, w = 1, f = 2; /* param and grad read, param written, θ − lr·g */
    int wd = c->weight_decay != 0;
    switch (c->kind) {
    case QT_OPTIM_SGD:
        if (c->momentum != 0) r += 1, w += 1, f += 3 + (c->nesterov ? 2 : 0);
        break;
    case QT_OPTIM_ADAM:
    case QT_OPTIM_ADAMW:
        r += 2, w += 2, f = 13;
        if (c->amsgrad) r += 1, w += 1, f += 1;
        break;
    case QT_OPTIM_RADAM: r += 2, w += 2, f = 14; break;
    case QT_OPTIM_RMSPROP:
        r += 1, w += 1, f = 7;
        if (c->momentum > 0) r += 1, w += 1, f += 3;
        if (c->centered) r += 1, w += 1, f += 5;
        break;
    case QT_OPTIM_ADAGRAD: r += 1, w += 1, f = 6; break;
    case QT_OPTIM_ADABELIEF:
        r += 2, w += 2, f = 16;
        if (c->amsgrad) r += 1, w += 1, f += 2;
        break;
    case QT_OPTIM_LAMB: r = 7, w = 3, f = 24; break; /* pass 1: θ,g,m,v → m,v; pass 2: θ,m,v → θ */
    case QT_OPTIM_ADALR: r += 2, w += 3, f = 14; break;
    default: break;
    }
    if (wd) f += 2;
    double es = (double)qt_dtype_size(dt);
    if (bytes_read) *bytes_read = r * es * (double)n;
    if (bytes_written) *bytes_written = w * es * (double)n;
    if (flops) *flops = f * (double)n;
}

/* ------------------------------------------------------------- schedules */

static const char *const sched_names[QT_SCHED_COUNT] = {"constant", "step", "exponential", "warmup_cosine"};

/* Name of a schedule kind. */
const char *qt_sched_kind_name(qt_sched_kind_t k) { return (k >= 0 && k < QT_SCHED_COUNT) ? sched_names[k] : "?"; }

/* Parse a schedule name. */
qt_status_t qt_sched_kind_parse(const char *s, qt_sched_kind_t *out)
{
    QT_CHECK_ARG(s && out, "schedule name must not be NULL");
    for (int k = 0; k < QT_SCHED_COUNT; k++)
        if (strcasecmp(s, sched_names[k]) == 0) return *out = (qt_sched_kind_t)k, QT_OK;
    return qt_fail(QT_ERR_ARG, "unknown schedule '%s' (constant, step, exponential, warmup_cosine)", s);
}

/* A constant schedule with sensible defaults in the unused fields. */
qt_schedule_t qt_schedule_constant(void)
{
    qt_schedule_t s = {QT_SCHED_CONSTANT, 1, 1.0, 0, 1.0, 1, 0.0};
    return s;
}

/* Validate a schedule. */
qt_status_t qt_schedule_check(const qt_schedule_t *s)
{
    QT_CHECK_ARG(s != NULL, "schedule must not be NULL");
    switch (s->kind) {
    case QT_SCHED_CONSTANT: return QT_OK;
    case QT_SCHED_STEP:
        QT_CHECK_ARG(s->step_size > 0, "step schedule: step_size=%lld must be > 0", (long long)s->step_size);
        QT_CHECK_ARG(isfinite(s->gamma) && s->gamma > 0, "step schedule: gamma=%g must be > 0", s->gamma);
        return QT_OK;
    case QT_SCHED_EXPONENTIAL:
        QT_CHECK_ARG(isfinite(s->gamma) && s->gamma > 0, "exponential schedule: gamma=%g must be > 0", s->gamma);
        return QT_OK;
    case QT_SCHED_WARMUP_COSINE:
        QT_CHECK_ARG(s->warmup >= 0, "warmup_cosine: warmup=%lld must be >= 0", (long long)s->warmup);
        QT_CHECK_ARG(s->start_factor > 0 && s->start_factor <= 1,
                     "warmup_cosine: start_factor=%g must be in (0, 1] (torch LinearLR)", s->start_factor);
        QT_CHECK_ARG(s->t_max > 0, "warmup_cosine: t_max=%lld must be > 0", (long long)s->t_max);
        QT_CHECK_ARG(isfinite(s->eta_min) && s->eta_min >= 0, "warmup_cosine: eta_min=%g must be >= 0", s->eta_min);
        return QT_OK;
    default: return qt_fail(QT_ERR_ARG, "schedule kind %d out of range", (int)s->kind);
    }
}

/* Closed-form learning rate of step t. */
double qt_schedule_lr(const qt_schedule_t *s, double base, int64_t t)
{
    if (!s || t < 0) return base;
    switch (s->kind) {
    case QT_SCHED_STEP: return base * pow(s->gamma, (double)(t / s->step_size));
    case QT_SCHED_EXPONENTIAL: return base * pow(s->gamma, (double)t);
    case QT_SCHED_WARMUP_COSINE:
        if (t < s->warmup)
            return base * (s->start_factor + (1.0 - s->start_factor) * (double)t / (double)s->warmup);
        return s->eta_min +
               (base - s->eta_min) * (1.0 + cos(M_PI * (double)(t - s->warmup) / (double)s->t_max)) / 2.0;
    default: return base;
    }
}

/* ------------------------------------------------------------- optimizer */

/* Support of c in dt by instance be, with the reason when not. */
int qt_optim_supports(const qt_backend_t *be, const qt_optim_config_t *c, qt_dtype_t dt, char *why, size_t why_size)
{
    const qt_optim_ops_t *ops = qt_backend_ops(be, QT_TECH_OPTIM);
    const char *reason = !be ? "no backend instance" : !c ? "no config" : !ops ? "the backend has no optimizer ops"
                         : !ops->supports(be, c, dt) ? "supports() is 0 for this optimizer and dtype" : NULL;
    if (why && why_size)
        snprintf(why, why_size, "%s%s%s", reason ? qt_backend_name(be) : "", reason ? ": " : "", reason ? reason : "");
    return reason == NULL;
}

/* adagrad's initial accumulator value in n elements of dt at host address p. */
static void fill_value(void *p, qt_dtype_t dt, size_t n, double value)
{
    for (size_t j = 0; j < n; j++) {
        if (dt == QT_F64) ((double *)p)[j] = value;
        else ((float *)p)[j] = (float)value;
    }
}

/* Zeroed state on be's device; adagrad's sum starts at initial_accumulator_value (filled on
 * the host and copied when the device is not the host). */
static qt_status_t alloc_state(qt_optim_t *o)
{
    o->n_slots = qt_optim_slots(&o->cfg);
    if (o->n_slots == 0) return QT_OK;
    o->state = qt_calloc((size_t)o->n_tensors * (size_t)o->n_slots * sizeof(qt_tensor_t));
    if (!o->state) return qt_fail(QT_ERR_NOMEM, "optimizer state table: out of memory");
    for (int i = 0; i < o->n_tensors; i++)
        for (int k = 0; k < o->n_slots; k++) {
            int64_t n = (int64_t)o->sizes[i];
            QT_TRY(qt_tensor_zeros(&o->state[i * o->n_slots + k], o->be, o->dtype, 1, &n));
        }
    if (o->cfg.kind != QT_OPTIM_ADAGRAD || o->cfg.initial_accumulator_value == 0) return QT_OK;
    for (int i = 0; i < o->n_tensors; i++) {
        qt_tensor_t *sum = &o->state[i * o->n_slots];
        if (qt_tensor_on_host(sum)) {
            fill_value(sum->data, o->dtype, o->sizes[i], o->cfg.initial_accumulator_value);
            continue;
        }
        qt_tensor_t h;
        int64_t n = (int64_t)o->sizes[i];
        QT_TRY(qt_tensor_init(&h, o->dtype, 1, &n));
        fill_value(h.data, o->dtype, o->sizes[i], o->cfg.initial_accumulator_value);
        qt_status_t st = qt_tensor_copy(o->be, sum, &h);
        if (st == QT_OK) st = qt_backend_synchronize(o->be);
        qt_tensor_free(&h);
        QT_TRY(st);
    }
    return QT_OK;
}

/* Validate and set up an optimizer. */
qt_status_t qt_optim_init(qt_optim_t *o, qt_backend_t *be, const qt_optim_config_t *cfg, const qt_schedule_t *sched,
                          qt_dtype_t dt, int n_tensors, const size_t *sizes)
{
    QT_CHECK_ARG(o != NULL, "optimizer must not be NULL");
    memset(o, 0, sizeof *o);
    QT_CHECK_ARG(be != NULL, "optim_init: NULL backend instance (make one with qt_backend_init)");
    QT_CHECK_ARG(cfg && sizes, "optim_init: NULL config or sizes");
    QT_TRY(qt_optim_config_check(cfg));
    qt_schedule_t s = sched ? *sched : qt_schedule_constant();
    QT_TRY(qt_schedule_check(&s));
    QT_CHECK_ARG(dt == QT_F32 || dt == QT_F64, "optim_init: dtype %s must be f32 or f64", qt_dtype_name(dt));
    QT_CHECK_ARG(n_tensors > 0, "optim_init: n_tensors=%d must be > 0", n_tensors);
    char why[160];
    if (!qt_optim_supports(be, cfg, dt, why, sizeof why))
        return qt_fail(QT_ERR_UNSUPPORTED, "cannot run %s in %s on %s", qt_optim_kind_name(cfg->kind),
                       qt_dtype_name(dt), why);
    for (int i = 0; i < n_tensors; i++)
        QT_CHECK_ARG(sizes[i] > 0, "optim_init: tensor %d has 0 elements", i);
    o->cfg = *cfg;
    o->sched = s;
    o->be = be;
    o->ops = qt_backend_ops(be, QT_TECH_OPTIM);
    o->dtype = dt;
    o->n_tensors = n_tensors;
    o->sizes = qt_alloc((size_t)n_tensors * sizeof(size_t));
    if (!o->sizes) return qt_fail(QT_ERR_NOMEM, "optim_init: out of memory");
    memcpy(o->sizes, sizes, (size_t)n_tensors * sizeof(size_t));
    o->last_lr = NAN;
    qt_status_t st = alloc_state(o);
    if (st != QT_OK) qt_optim_free(o);
    return st;
}

/* Release an optimizer. */
void qt_optim_free(qt_optim_t *o)
{
    if (!o) return;
    if (o->state)
        for (int i = 0; i < o->n_tensors * o->n_slots; i++) qt_tensor_free(&o->state[i]);
    qt_free(o->state);
    if (o->staging)
        for (int i = 0; i < 2 * o->n_tensors; i++) qt_tensor_free(&o->staging[i]);
    qt_free(o->staging);
    qt_free(o->sizes);
    memset(o, 0, sizeof *o);
}

/* The per-step scalars, in the order torch's Python code evaluates them. */
static void step_info(const qt_optim_config_t *c, int64_t t, double lr, qt_optim_step_info_t *s)
{
    memset(s, 0, sizeof *s);
    double step = (double)t, b1 = c->beta1, b2 = c->beta2;
    s->t = t;
    s->lr = lr;
    s->bc1 = 1 - pow(b1, step);
    s->bc2 = 1 - pow(b2, step);
    s->step_size = lr / s->bc1;
    s->bc2_sqrt = sqrt(s->bc2);
    s->decay = 1 - lr * c->weight_decay;
    if (c->kind == QT_OPTIM_ADABELIEF && c->fixed_decay) s->decay = 1.0 - c->weight_decay;
    if (c->kind == QT_OPTIM_RADAM) {
        double rho_inf = 2 / (1 - b2) - 1;
        double rho_t = rho_inf - 2 * step * pow(b2, step) / s->bc2;
        s->radam_rect = rho_t > 5.0;
        s->radam_rect_r = pow((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5);
        s->radam_bc2_pow = pow(s->bc2, 0.5);
    }
    if (c->kind == QT_OPTIM_ADAGRAD) s->clr = lr / (1 + (step - 1) * c->lr_decay);
    if (c->kind == QT_OPTIM_ADABELIEF && c->rectify) {
        double beta2_t = pow(b2, step);
        double n_max = 2 / (1 - b2) - 1;
        double n_sma = n_max - 2 * step * beta2_t / (1 - beta2_t);
        s->ab_sma_ok = n_sma >= 5;
        if (n_sma >= 5)
            s->ab_step_size = sqrt((1 - beta2_t) * (n_sma - 4) / (n_max - 4) * (n_sma - 2) / n_sma * n_max / (n_max - 2)) /
                              (1 - pow(b1, step));
        else if (c->degenerated_to_sgd)
            s->ab_step_size = 1.0 / (1 - pow(b1, step));
        else
            s->ab_step_size = -1;
    }
}

/* One optimizer step over all tensors. */
qt_status_t qt_optim_step(qt_optim_t *o, qt_tensor_t *const *params, const qt_tensor_t *const *grads)
{
    QT_CHECK_ARG(o && o->ops, "optim_step: optimizer not initialised");
    QT_CHECK_ARG(params && grads, "optim_step: NULL params or grads");
    for (int i = 0; i < o->n_tensors; i++) {
        char what[48];
        snprintf(what, sizeof what, "optim_step: param %d", i);
        QT_TRY(qt_tensor_check_on(params[i], what, o->dtype, -1, o->be->device));
        snprintf(what, sizeof what, "optim_step: grad %d", i);
        QT_TRY(qt_tensor_check_on(grads[i], what, o->dtype, -1, o->be->device));
        QT_CHECK_ARG(qt_tensor_numel(params[i]) == (int64_t)o->sizes[i] && qt_tensor_numel(grads[i]) == (int64_t)o->sizes[i],
                     "optim_step: tensor %d: param has %lld and grad %lld elements, the optimizer %zu", i,
                     (long long)qt_tensor_numel(params[i]), (long long)qt_tensor_numel(grads[i]), o->sizes[i]);
    }
    double lr = qt_schedule_lr(&o->sched, o->cfg.lr, o->step);
    qt_optim_step_info_t s;
    step_info(&o->cfg, o->step + 1, lr, &s);
    size_t total = 0;
    for (int i = 0; i < o->n_tensors; i++) total += o->sizes[i];
    if (o->ops->update_many)
        QT_TRY(o->ops->update_many(o->be, &o->cfg, &s, o->n_tensors, params, grads, o->state));
    else
        for (int i = 0; i < o->n_tensors; i++) {
            qt_tensor_t *st[QT_OPTIM_MAX_SLOTS] = {NULL};
            for (int k = 0; k < o->n_slots; k++) st[k] = &o->state[(size_t)i * o->n_slots + k];
            QT_TRY(o->ops->update(o->be, &o->cfg, &s, params[i], grads[i], st));
        }
    o->step++;
    o->last_lr = lr;
    double br, bw, fl;
    qt_optim_work(&o->cfg, o->dtype, total, &br, &bw, &fl);
    qt_counter_add(QT_CTR_OPT_STEPS, 1);
    qt_counter_add(QT_CTR_PARAMS_UPDATED, (long long)total);
    qt_counter_add(QT_CTR_FLOPS, (long long)fl);
    qt_counter_add(QT_CTR_BYTES_READ, (long long)br);
    qt_counter_add(QT_CTR_BYTES_WRITTEN, (long long)bw);
    return QT_OK;
}

/* One step on host arrays (staged through the device when the backend is not on the host). */
qt_status_t qt_optim_step_host(qt_optim_t *o, void *const *params, const void *const *grads)
{
    QT_CHECK_ARG(o && o->ops, "optim_step_host: optimizer not initialised");
    QT_CHECK_ARG(params && grads, "optim_step_host: NULL params or grads");
    int nt = o->n_tensors, dev = !qt_device_is_host(o->be->device);
    for (int i = 0; i < nt; i++)
        QT_CHECK_ARG(params[i] && grads[i], "optim_step_host: tensor %d has a NULL param or grad", i);
    if (dev && !o->staging) {
        o->staging = qt_calloc(2 * (size_t)nt * sizeof(qt_tensor_t));
        if (!o->staging) return qt_fail(QT_ERR_NOMEM, "optim_step_host: out of memory");
        for (int i = 0; i < 2 * nt; i++) {
            int64_t n = (int64_t)o->sizes[i % nt];
            QT_TRY(qt_tensor_alloc(&o->staging[i], o->be, o->dtype, 1, &n));
        }
    }
    /* host[0..nt) params, host[nt..2nt) grads; use[]: what the step gets */
    qt_tensor_t *host = qt_calloc(2 * (size_t)nt * (sizeof(qt_tensor_t) + sizeof(qt_tensor_t *)));
    if (!host) return qt_fail(QT_ERR_NOMEM, "optim_step_host: out of memory");
    qt_tensor_t **use = (qt_tensor_t **)(host + 2 * nt);
    qt_status_t st = QT_OK;
    for (int i = 0; i < 2 * nt && st == QT_OK; i++) {
        int64_t n = (int64_t)o->sizes[i % nt];
        st = qt_tensor_wrap(&host[i], i < nt ? params[i] : (void *)grads[i - nt], o->dtype, 1, &n);
        use[i] = dev ? &o->staging[i] : &host[i];
        if (st == QT_OK && dev) st = qt_tensor_copy(o->be, use[i], &host[i]);
    }
    if (st == QT_OK) st = qt_optim_step(o, use, (const qt_tensor_t *const *)(use + nt));
    for (int i = 0; dev && i < nt && st == QT_OK; i++) st = qt_tensor_copy(o->be, &host[i], use[i]);
    if (st == QT_OK && dev) st = qt_backend_synchronize(o->be);
    qt_free(host);
    return st;
}

/* lr of the next step. */
double qt_optim_lr(const qt_optim_t *o) { return o ? qt_schedule_lr(&o->sched, o->cfg.lr, o->step) : NAN; }

/* State slot k of tensor i. */
qt_tensor_t *qt_optim_state(const qt_optim_t *o, int i, int k)
{
    if (!o || !o->state || i < 0 || i >= o->n_tensors || k < 0 || k >= o->n_slots) return NULL;
    return &o->state[(size_t)i * o->n_slots + k];
}

/* ----------------------------------------------------------- checkpoints */

#define CKPT_MAGIC "QTOPTIM1"
#define CKPT_VERSION 1u

typedef struct {
    char magic[8];
    uint32_t version, kind, dtype, n_tensors, n_slots, cfg_size, sched_size, pad;
    int64_t step;
    double last_lr;
} ckpt_header_t;

/* Copy state slot k of tensor i to host memory h (to_state 0) or from it (1), through the
 * optimizer's backend, synchronized. */
static qt_status_t state_transfer(const qt_optim_t *o, int i, int k, void *h, int to_state)
{
    qt_tensor_t *st = &o->state[(size_t)i * o->n_slots + k], ht;
    int64_t n = (int64_t)o->sizes[i];
    QT_TRY(qt_tensor_wrap(&ht, h, o->dtype, 1, &n));
    QT_TRY(to_state ? qt_tensor_copy(o->be, st, &ht) : qt_tensor_copy(o->be, &ht, st));
    return qt_backend_synchronize(o->be);
}

/* Serialise header, config, schedule, sizes and state. */
qt_status_t qt_optim_save(const qt_optim_t *o, void **buf, size_t *len)
{
    QT_CHECK_ARG(o && o->ops && buf && len, "optim_save: NULL argument or uninitialised optimizer");
    size_t es = qt_dtype_size(o->dtype), total = sizeof(ckpt_header_t) + sizeof o->cfg + sizeof o->sched +
                                                 (size_t)o->n_tensors * sizeof(uint64_t);
    for (int i = 0; i < o->n_tensors; i++) total += (size_t)o->n_slots * o->sizes[i] * es;
    unsigned char *p = qt_alloc(total);
    if (!p) return qt_fail(QT_ERR_NOMEM, "optim_save: %zu bytes: out of memory", total);
    ckpt_header_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CKPT_MAGIC, 8);
    h.version = CKPT_VERSION;
    h.kind = (uint32_t)o->cfg.kind;
    h.dtype = (uint32_t)o->dtype;
    h.n_tensors = (uint32_t)o->n_tensors;
    h.n_slots = (uint32_t)o->n_slots;
    h.cfg_size = (uint32_t)sizeof o->cfg;
    h.sched_size = (uint32_t)sizeof o->sched;
    h.step = o->step;
    h.last_lr = o->last_lr;
    size_t off = 0;
    memcpy(p + off, &h, sizeof h), off += sizeof h;
    memcpy(p + off, &o->cfg, sizeof o->cfg), off += sizeof o->cfg;
    memcpy(p + off, &o->sched, sizeof o->sched), off += sizeof o->sched;
    for (int i = 0; i < o->n_tensors; i++) {
        uint64_t n = o->sizes[i];
        memcpy(p + off, &n, sizeof n), off += sizeof n;
    }
    for (int i = 0; i < o->n_tensors; i++)
        for (int k = 0; k < o->n_slots; k++) {
            qt_status_t st = state_transfer(o, i, k, p + off, 0);
            if (st != QT_OK) {
                qt_free(p);
                return st;
            }
            off += o->sizes[i] * es;
        }
    *buf = p;
    *len = total;
    return QT_OK;
}

/* Restore from a buffer made by qt_optim_save. */
qt_status_t qt_optim_load(qt_optim_t *o, const void *buf, size_t len)
{
    QT_CHECK_ARG(o && o->ops && buf, "optim_load: NULL argument or uninitialised optimizer");
    const unsigned char *p = buf;
    ckpt_header_t h;
    if (len < sizeof h) return qt_fail(QT_ERR_FORMAT, "optimizer checkpoint truncated (%zu bytes)", len);
    memcpy(&h, p, sizeof h);
    if (memcmp(h.magic, CKPT_MAGIC, 8) != 0) return qt_fail(QT_ERR_FORMAT, "not an optimizer checkpoint (bad magic)");
    if (h.version != CKPT_VERSION || h.cfg_size != sizeof o->cfg || h.sched_size != sizeof o->sched)
        return qt_fail(QT_ERR_FORMAT, "optimizer checkpoint version %u / layout not supported", h.version);
    if (h.kind != (uint32_t)o->cfg.kind || h.dtype != (uint32_t)o->dtype || h.n_tensors != (uint32_t)o->n_tensors)
        return qt_fail(QT_ERR_SHAPE, "checkpoint is %s/%s with %u tensors, optimizer is %s/%s with %d",
                       qt_optim_kind_name((qt_optim_kind_t)h.kind), h.dtype == QT_F64 ? "f64" : "f32", h.n_tensors,
                       qt_optim_kind_name(o->cfg.kind), qt_dtype_name(o->dtype), o->n_tensors);
    size_t off = sizeof h;
    qt_optim_config_t cfg;
    qt_schedule_t sched;
    if (len < off + sizeof cfg + sizeof sched + (size_t)h.n_tensors * 8)
        return qt_fail(QT_ERR_FORMAT, "optimizer checkpoint truncated");
    memcpy(&cfg, p + off, sizeof cfg), off += sizeof cfg;
    memcpy(&sched, p + off, sizeof sched), off += sizeof sched;
    QT_TRY(qt_optim_config_check(&cfg));
    QT_TRY(qt_schedule_check(&sched));
    if ((uint32_t)qt_optim_slots(&cfg) != h.n_slots || h.n_slots != (uint32_t)o->n_slots)
        return qt_fail(QT_ERR_SHAPE, "checkpoint has %u state slots per tensor, optimizer %d", h.n_slots, o->n_slots);
    size_t es = qt_dtype_size(o->dtype), need = off + (size_t)h.n_tensors * 8;
    for (int i = 0; i < o->n_tensors; i++) {
        uint64_t n;
        memcpy(&n, p + off + (size_t)i * 8, 8);
        if (n != o->sizes[i])
            return qt_fail(QT_ERR_SHAPE, "checkpoint tensor %d has %llu elements, optimizer %zu", i,
                           (unsigned long long)n, o->sizes[i]);
        need += (size_t)h.n_slots * n * es;
    }
    if (len != need) return qt_fail(QT_ERR_FORMAT, "optimizer checkpoint is %zu bytes, expected %zu", len, need);
    off += (size_t)h.n_tensors * 8;
    for (int i = 0; i < o->n_tensors; i++)
        for (int k = 0; k < o->n_slots; k++) {
            QT_TRY(state_transfer(o, i, k, (void *)(p + off), 1));
            off += o->sizes[i] * es;
        }
    o->cfg = cfg;
    o->sched = sched;
    o->step = h.step;
    o->last_lr = h.last_lr;
    return QT_OK;
}

/* Save to a file. */
qt_status_t qt_optim_save_file(const qt_optim_t *o, const char *path)
{
    QT_CHECK_ARG(path != NULL, "optim_save_file: NULL path");
    void *buf;
    size_t len;
    QT_TRY(qt_optim_save(o, &buf, &len));
    FILE *f = fopen(path, "wb");
    if (!f) {
        qt_free(buf);
        return qt_fail(QT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    size_t wr = fwrite(buf, 1, len, f);
    int cl = fclose(f);
    qt_free(buf);
    if (wr != len || cl != 0) return qt_fail(QT_ERR_IO, "writing %s failed", path);
    return QT_OK;
}

/* Load from a file. */
qt_status_t qt_optim_load_file(qt_optim_t *o, const char *path)
{
    QT_CHECK_ARG(path != NULL, "optim_load_file: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) return qt_fail(QT_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return qt_fail(QT_ERR_IO, "cannot seek %s", path);
    }
    long sz = ftell(f);
    rewind(f);
    if (sz <= 0) {
        fclose(f);
        return qt_fail(QT_ERR_FORMAT, "%s is empty", path);
    }
    void *buf = qt_alloc((size_t)sz);
    if (!buf) {
        fclose(f);
        return qt_fail(QT_ERR_NOMEM, "reading %s: out of memory", path);
    }
    size_t rd = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    qt_status_t st = rd == (size_t)sz ? qt_optim_load(o, buf, (size_t)sz) : qt_fail(QT_ERR_IO, "short read on %s", path);
    qt_free(buf);
    return st;
}
