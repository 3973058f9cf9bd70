/* backends.c — `quintet env`'s backend table: for each technique, each backend of
 * its registry and what it supports on this build and machine (asked through the
 * registry's supports(), so the answer is the library's own). */
#include "run/backends.h"

#include <stdio.h>

#include "quintet/attention.h"
#include "quintet/optim.h"

/* Attention: which variants each backend implements. */
static void attention_backends(FILE *f)
{
    for (int i = 0; i < qt_attn_backend_count(); i++) {
        const qt_attn_backend_t *be = qt_attn_backend_get(i);
        fprintf(f, "  attention  %-5s", be->name);
        for (int v = 0; v < QT_ATTN_VARIANT_COUNT; v++) {
            qt_attn_config_t cfg;
            qt_attn_config_init(&cfg, (qt_attn_variant_t)v);
            fprintf(f, " %s%s", qt_attn_variant_name((qt_attn_variant_t)v), be->supports(&cfg) ? "" : "(no)");
        }
        fprintf(f, "  — %s\n", be->description);
    }
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

/* The whole table. */
void qt_backends_print(FILE *f)
{
    attention_backends(f);
    optim_backends(f);
#ifndef QT_HAVE_CUDA
    fprintf(f, "  cuda       (none: built without CUDA, nvcc not found)\n");
#endif
}
