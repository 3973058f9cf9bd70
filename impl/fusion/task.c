/* task.c — the synthetic multimodal tasks of quintet/fusion.h (redundant, unique,
 * synergy, mixed over text / image / audio), their Bayes accuracies per modality subset,
 * and the test-time corruptions the suite measures robustness with (a missing modality:
 * zeros; noise: Gaussian of a multiple of each modality's RMS). Everything is drawn from
 * Philox: the world (prototypes, hidden permutation) from the world seed, a sample i of
 * split s from counters (i, slot) of stream 1000 + s, so any n gives the same first samples.
 * Tests: tests/fusion/test_fusion.c. */
#include <math.h>
#include <string.h>

#include "quintet/fusion.h"
#include "quintet/rng.h"

#define N_SYM 16   /* symbols per modality: 0..7 markers, 8..15 background */
#define N_MARK 8

static const char *task_names[QT_FUSION_TASK_COUNT] = {"redundant", "unique", "synergy", "mixed"};
static const char *mod_names[QT_FUSION_TASK_MODS] = {"text", "image", "audio"};
static const int mod_len[QT_FUSION_TASK_MODS] = {6, 4, 8};
static const int mod_feat[QT_FUSION_TASK_MODS] = {12, 20, 6};
static const double mod_scale[QT_FUSION_TASK_MODS] = {1.0, 4.0, 0.25};
static const double mod_offset[QT_FUSION_TASK_MODS] = {0.0, 0.0, 2.0};

const char *qt_fusion_task_name(qt_fusion_task_t t) { return (unsigned)t < QT_FUSION_TASK_COUNT ? task_names[t] : "?"; }

qt_status_t qt_fusion_task_parse(const char *s, qt_fusion_task_t *out)
{
    QT_CHECK_ARG(s && out, "task name and output must not be NULL");
    for (int i = 0; i < QT_FUSION_TASK_COUNT; i++)
        if (!strcmp(s, task_names[i])) { *out = (qt_fusion_task_t)i; return QT_OK; }
    return qt_fail(QT_ERR_ARG, "unknown fusion task '%s' (redundant, unique, synergy, mixed)", s);
}

const char *qt_fusion_modality_name(int m) { return m >= 0 && m < QT_FUSION_TASK_MODS ? mod_names[m] : "?"; }

void qt_fusion_task_shape(qt_fusion_config_t *cfg)
{
    if (!cfg) return;
    cfg->n_mod = QT_FUSION_TASK_MODS;
    for (int m = 0; m < QT_FUSION_TASK_MODS; m++) { cfg->len[m] = mod_len[m]; cfg->feat[m] = mod_feat[m]; }
    cfg->classes = 2;
}

double qt_fusion_task_bayes(qt_fusion_task_t t, unsigned s)
{
    int text = s & 1, image = (s >> 1) & 1, audio = (s >> 2) & 1;
    switch (t) {
    case QT_FUSION_TASK_REDUNDANT: return (text || image || audio) ? 1.0 : 0.5;
    case QT_FUSION_TASK_UNIQUE: return image ? 1.0 : 0.5;
    case QT_FUSION_TASK_SYNERGY: return text && image ? 1.0 : 0.5;
    case QT_FUSION_TASK_MIXED: return text && image ? 1.0 : audio ? 0.75 : 0.5;
    default: return NAN;
    }
}

void qt_fusion_data_free(qt_fusion_data_t *d)
{
    if (!d) return;
    for (int m = 0; m < QT_FUSION_MAX_MOD; m++) qt_tensor_free(&d->x[m]);
    qt_tensor_free(&d->y);
    memset(d, 0, sizeof *d);
}

qt_status_t qt_fusion_task_make(qt_fusion_task_t t, double noise, uint64_t world, uint64_t split, int64_t n,
                                qt_fusion_data_t *out)
{
    QT_CHECK_ARG(out != NULL, "task: output must not be NULL");
    memset(out, 0, sizeof *out);
    QT_CHECK_ARG((unsigned)t < QT_FUSION_TASK_COUNT, "unknown fusion task %d", (int)t);
    QT_CHECK_ARG(n >= 1, "task: n %lld must be >= 1", (long long)n);
    QT_CHECK_ARG(noise >= 0 && isfinite(noise), "task: noise %g must be >= 0", noise);
    /* the hidden permutation π of the markers (Fisher-Yates) */
    int pi[N_MARK];
    for (int i = 0; i < N_MARK; i++) pi[i] = i;
    for (int i = N_MARK - 1; i > 0; i--) {
        int j = (int)(qt_rng_u32(world, 200, (uint64_t)i) % (uint32_t)(i + 1)), tmp = pi[i];
        pi[i] = pi[j];
        pi[j] = tmp;
    }
    out->n_mod = QT_FUSION_TASK_MODS;
    out->n = n;
    qt_status_t s = qt_tensor_init(&out->y, QT_I32, 1, &n);
    for (int m = 0; m < QT_FUSION_TASK_MODS && s == QT_OK; m++) {
        int64_t shape[3] = {n, mod_len[m], mod_feat[m]};
        s = qt_tensor_init(&out->x[m], QT_F32, 3, shape);
    }
    if (s != QT_OK) { qt_fusion_data_free(out); return s; }
    int32_t *y = out->y.data;
    uint64_t st = 1000 + split;
    for (int64_t i = 0; i < n; i++) {
#define U(slot) qt_rng_u32(world ^ 0xA5A5u, st, (uint64_t)i * 64u + (slot))
        int label = (int)(U(0) & 1u), mark[QT_FUSION_TASK_MODS];
        int a = (int)(U(1) % N_MARK), b = label ? pi[a] : (pi[a] + 1 + (int)(U(2) % (N_MARK - 1))) % N_MARK;
        switch (t) {
        case QT_FUSION_TASK_REDUNDANT: mark[0] = mark[1] = mark[2] = label; break;
        case QT_FUSION_TASK_UNIQUE: mark[0] = (int)(U(3) & 1u); mark[1] = label; mark[2] = (int)(U(4) & 1u); break;
        case QT_FUSION_TASK_SYNERGY: mark[0] = a; mark[1] = b; mark[2] = (int)(U(5) % N_MARK); break;
        default: /* MIXED */
            mark[0] = a; mark[1] = b; mark[2] = (U(6) & 1u) ? label : (int)(U(7) & 1u); break;
        }
        y[i] = label;
        for (int m = 0; m < QT_FUSION_TASK_MODS; m++) {
            int L = mod_len[m], F = mod_feat[m], where = (int)(U(8 + (uint64_t)m) % (uint32_t)L);
            float *x = (float *)out->x[m].data + i * L * F;
            for (int tk = 0; tk < L; tk++) {
                int sym = tk == where ? mark[m] : N_MARK + (int)(U(16 + (uint64_t)(m * 16 + tk)) % (N_SYM - N_MARK));
                for (int f = 0; f < F; f++) {
                    double proto = mod_scale[m] * qt_rng_normal(world, 100 + (uint64_t)m, (uint64_t)(sym * F + f)) +
                                   mod_offset[m];
                    double eps = qt_rng_normal(world ^ 0x5A5Au, 2000 + split * 16 + (uint64_t)m,
                                               (uint64_t)((i * L + tk) * F + f));
                    x[tk * F + f] = (float)(proto + noise * mod_scale[m] * eps);
                }
            }
        }
#undef U
    }
    return QT_OK;
}

qt_status_t qt_fusion_data_drop(qt_fusion_data_t *d, int m)
{
    QT_CHECK_ARG(d && m >= 0 && m < d->n_mod, "drop: modality %d out of range", m);
    memset(d->x[m].data, 0, (size_t)qt_tensor_numel(&d->x[m]) * sizeof(float));
    return QT_OK;
}

qt_status_t qt_fusion_data_add_noise(qt_fusion_data_t *d, double sigma, uint64_t seed, uint64_t stream)
{
    QT_CHECK_ARG(d && sigma >= 0, "add_noise: data must not be NULL and sigma >= 0");
    for (int m = 0; m < d->n_mod; m++) {
        float *x = d->x[m].data;
        int64_t n = qt_tensor_numel(&d->x[m]);
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
        double sd = sigma * sqrt(ss / (double)(n > 0 ? n : 1));
        for (int64_t i = 0; i < n; i++) x[i] += (float)(sd * qt_rng_normal(seed, stream * 16 + (uint64_t)m, (uint64_t)i));
    }
    return QT_OK;
}
