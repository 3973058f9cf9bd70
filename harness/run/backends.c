/* backends.c — `quintet env`'s backend table: every backend of the registry (backend.h),
 * whether it can run on this machine (and why not), and for every technique whether it
 * implements it and what it supports, asked through the registry and each technique's own
 * supports() (so the answer is the library's own; nothing here names a backend). */
#include "run/backends.h"

#include <stdio.h>

#include "quintet/attention.h"
#include "quintet/backend.h"
#include "quintet/optim.h"
#include "quintet/sparse.h"

/* Attention: the variants instance be implements in f32. */
static void attention_detail(FILE *f, qt_backend_t *be)
{
    for (int v = 0; v < QT_ATTN_VARIANT_COUNT; v++) {
        qt_attn_config_t cfg;
        qt_attn_config_init(&cfg, (qt_attn_variant_t)v);
        int ok = qt_attn_supports(be, &cfg, NULL, NULL, NULL, NULL, NULL, NULL, 0);
        fprintf(f, " %s%s", qt_attn_variant_name((qt_attn_variant_t)v), ok ? "" : "(no)");
    }
}

/* Optimizers: the ones instance be runs (torch defaults), per dtype. */
static void optim_detail(FILE *f, qt_backend_t *be)
{
    for (int dt = QT_F32; dt <= QT_F64; dt++) {
        fprintf(f, "%s%s:", dt == QT_F32 ? " " : "; ", qt_dtype_name((qt_dtype_t)dt));
        int any = 0;
        for (int k = 0; k < QT_OPTIM_COUNT; k++) {
            qt_optim_config_t c;
            if (qt_optim_config_default((qt_optim_kind_t)k, &c) != QT_OK ||
                !qt_optim_supports(be, &c, (qt_dtype_t)dt, NULL, 0))
                continue;
            fprintf(f, " %s", qt_optim_kind_name((qt_optim_kind_t)k));
            any = 1;
        }
        if (!any) fprintf(f, " (none)");
    }
}

/* Sparse: every matmul path instance be runs in f32, and why not where it does not. */
static void sparse_detail(FILE *f, qt_backend_t *be)
{
    for (int p = 0; p < QT_SPMM_COUNT; p++) {
        char why[256];
        int ok = qt_sparse_supports(be, (qt_spmm_path_t)p, NULL, NULL, NULL, why, sizeof why);
        if (ok) fprintf(f, " %s", qt_spmm_path_name((qt_spmm_path_t)p));
        else fprintf(f, " %s(no: %s)", qt_spmm_path_name((qt_spmm_path_t)p), why);
    }
}

/* What one technique's detail printer looks like; NULL: "implemented" is all it says. */
typedef void (*detail_fn)(FILE *f, qt_backend_t *be);
static const detail_fn details[QT_TECH_COUNT] = {[QT_TECH_ATTENTION] = attention_detail,
                                                 [QT_TECH_OPTIM] = optim_detail,
                                                 [QT_TECH_SPARSE] = sparse_detail};

/* One backend: availability, then a line per technique. */
static void backend_rows(FILE *f, const qt_backend_iface_t *iface)
{
    char why[256];
    int avail = qt_backend_iface_available(iface, why, sizeof why);
    qt_backend_t *be = NULL;
    if (avail && qt_backend_init_iface(&be, iface, NULL) != QT_OK) {
        avail = 0;
        snprintf(why, sizeof why, "%s", qt_last_error());
    }
    if (avail)
        fprintf(f, "  %-6s available on %s, %d thread%s — %s\n", iface->name, qt_device_name(be->device), be->threads,
                be->threads == 1 ? "" : "s", iface->description);
    else
        fprintf(f, "  %-6s NOT AVAILABLE: %s — %s\n", iface->name, why, iface->description);
    for (int t = 0; t < QT_TECH_COUNT; t++) {
        fprintf(f, "         %-10s", qt_technique_name((qt_technique_t)t));
        if (!iface->ops[t]) fprintf(f, " no: not implemented by %s", iface->name);
        else if (!be) fprintf(f, " implemented (cannot run here)");
        else if (details[t]) details[t](f, be);
        else fprintf(f, " implemented");
        fputc('\n', f);
    }
    qt_backend_free(be);
}

/* The whole table. */
void qt_backends_print(FILE *f)
{
    for (int i = 0; i < qt_backend_count(); i++) backend_rows(f, qt_backend_iface_get(i));
#ifndef QT_HAVE_CUDA
    fprintf(f, "  cuda   not built: nvcc or the CUDA runtime libraries were not found at build time\n");
#endif
}
