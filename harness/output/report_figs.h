/* report_figs.h — the figures `quintet report --figures DIR` includes: every .png, .svg and
 * .pdf file directly in DIR, by name, one per stem (name without extension) in the format the
 * report's dialect takes best (LaTeX: pdf > png, SVG it cannot include; HTML and Markdown:
 * svg > png > pdf), each with the path the report links (relative to the report file's folder
 * when the report goes to a file, else DIR/name as given) and the path to read it from. */
#ifndef QUINTET_REPORT_FIGS_H
#define QUINTET_REPORT_FIGS_H

#include <stddef.h>

#include "quintet/status.h"
#include "output/report_fmt.h"

typedef struct {
    char *name; /* file name, e.g. "attention_scaling.png" */
    char *file; /* DIR/name, to read */
    char *link; /* what the report refers to */
} qt_fig_t;

typedef struct {
    qt_fig_t *f;
    size_t n;
} qt_figs_t;

/* The figures of dir for a report written to out_path (NULL: standard output).
 * QT_ERR_ARG when dir is not a readable folder. */
qt_status_t qt_figs_find(const char *dir, const char *out_path, qt_doc_dialect_t dialect, qt_figs_t *out);
/* Free what qt_figs_find returned. */
void qt_figs_free(qt_figs_t *figs);

#endif
