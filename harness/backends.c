/* backends.c — `quintet env`'s backend table: every backend of the one registry
 * (backend.h) × every technique it has ops for, and what it supports on this build and
 * machine, asked through the library's own supports() (qt_attn_supports,
 * qt_sparse_supports), so the answer is the library's; unsupported entries say why, and a
 * backend that cannot run here says why instead. Optimizers still have their own registry
 * (optim.h) until they move onto the backend model. Run: build/quintet env. */
#include "backends.h"

#include <stdio.h>

#include "quintet/attention.h"
#include "quintet/backend.h"
#include "quintet/optim.h"
#include "quintet/sparse.h"

/* One entry: the name, or the name with the reason it is not supported. */
static void entry(FILE *f, const char *name, int ok, const char *why)
{
    if (ok) fprintf(f, " %s", name);
    else fprintf(f, " %s(no: %s)", name, why);
}

/* Attention: which variants instance be implements. */
static void attention_row(FILE *f, const qt_backend_t *be)
{
    fprintf(f, "  attention  %-5s", qt_backend_name(be));
    for (int v = 0; v < QT_ATTN_VARIANT_COUNT; v++) {
        qt_attn_config_t cfg;
        char why[256];
        qt_attn_config_init(&cfg, (qt_attn_variant_t)v);
        int ok = qt_attn_supports(be, &cfg, NULL, NULL, NULL, NULL, NULL, why, sizeof why);
        entry(f, qt_attn_variant_name((qt_attn_variant_t)v), ok, why);
    }
    fprintf(f, "\n");
}

/* Sparse: which matmul paths instance be runs (f32). */
static void sparse_row(FILE *f, const qt_backend_t *be)
{
    fprintf(f, "  sparse     %-5s", qt_backend_name(be));
    for (int p = 0; p < QT_SPMM_COUNT; p++) {
        char why[256];
        int ok = qt_sparse_supports(be, (qt_spmm_path_t)p, NULL, NULL, NULL, why, sizeof why);
        entry(f, qt_spmm_path_name((qt_spmm_path_t)p), ok, why);
    }
    fprintf(f, "\n");
}

/* Optimizers: which optimizers and dtypes each backend runs. */
static void optim_backends(FILE *f)
{
    for (int i = 0; i < qt_optim_backend_count(); i++) {
        const qt_optim_backend_t *be = qt_optim_backend_get(i);
        for (int dt = QT_F32; dt <= QT_F64; dt++) {
            fprintf(f, "  optim      %-5s %s:", be->name, qt_dtype_name((qt_dtype_t)dt));
            int any = 0;
            for (int k = 0; k < QT_OPTIM_COUNT; k++) {
                qt_optim_config_t c;
                if (qt_optim_config_default((qt_optim_kind_t)k, &c) != QT_OK || !be->supports(&c, (qt_dtype_t)dt))
                    continue;
                fprintf(f, " %s", qt_optim_kind_name((qt_optim_kind_t)k));
                any = 1;
            }
            fprintf(f, "%s\n", any ? "" : " (none)");
        }
    }
}

/* The whole table: per registered backend, its description, then a row per technique. */
void qt_backends_print(FILE *f)
{
    for (int i = 0; i < qt_backend_count(); i++) {
        const qt_backend_iface_t *iface = qt_backend_iface_get(i);
        char why[256] = "";
        qt_backend_t *be = NULL;
        if (!qt_backend_iface_available(iface, why, sizeof why) || qt_backend_init(&be, iface->name, NULL) != QT_OK) {
            fprintf(f, "  %-10s %-5s not available here: %s\n", "backend", iface->name, why[0] ? why : qt_last_error());
            continue;
        }
        fprintf(f, "  %-10s %-5s on %s — %s\n", "backend", iface->name, qt_device_name(be->device), iface->description);
        for (int t = 0; t < QT_TECH_COUNT; t++) {
            if (!qt_backend_ops(be, (qt_technique_t)t)) {
                if (t != QT_TECH_OPTIM) fprintf(f, "  %-10s %-5s (no ops)\n", qt_technique_name((qt_technique_t)t), iface->name);
                continue;
            }
            if (t == QT_TECH_ATTENTION) attention_row(f, be);
            else if (t == QT_TECH_SPARSE) sparse_row(f, be);
        }
        qt_backend_free(be);
    }
    optim_backends(f);
#ifndef QT_HAVE_CUDA
    fprintf(f, "  cuda       (none: built without CUDA, nvcc not found)\n");
#endif
}
