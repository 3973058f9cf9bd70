/* report_fmt.h — the three output dialects of `quintet report`: Markdown (for humans and CI
 * summaries), self-contained HTML (inline style, text escaped, PNG/SVG figures embedded as
 * data: URIs) and LaTeX (booktabs + longtable tables that compile in a paper; every special
 * character of the text escaped). The report says what to write (headings, paragraphs,
 * tables, figures) and this writer says how, escaping every piece of text it is given.
 * A fragment (fragment = 1) leaves out the document preamble and ending so the output can be
 * included in another document (\input in a paper needs \usepackage{booktabs,longtable,graphicx}). */
#ifndef QUINTET_REPORT_FMT_H
#define QUINTET_REPORT_FMT_H

#include <stdio.h>

#include "quintet/status.h"

typedef enum { QT_DOC_MD, QT_DOC_HTML, QT_DOC_TEX } qt_doc_dialect_t;

#define QT_DOC_MAX_COLS 16

typedef struct {
    FILE *f;
    qt_doc_dialect_t dialect;
    int fragment;
    int n_cols;                    /* columns of the open table, 0 when none */
    char align[QT_DOC_MAX_COLS + 1]; /* per column: l left, r right (numbers), p wrapped text */
} qt_doc_t;

/* "md", "html" or "tex" → dialect; QT_ERR_ARG naming the choices otherwise. */
qt_status_t qt_doc_dialect(const char *name, qt_doc_dialect_t *out);
/* Start a document on f (title escaped). */
void qt_doc_begin(qt_doc_t *d, FILE *f, qt_doc_dialect_t dialect, int fragment, const char *title);
/* Finish the document. */
void qt_doc_end(qt_doc_t *d);
/* A heading: level 1 section, 2 subsection. */
void qt_doc_heading(qt_doc_t *d, int level, const char *text);
/* A paragraph of plain text. */
void qt_doc_para(qt_doc_t *d, const char *text);
/* Start a table with n_cols columns (at most QT_DOC_MAX_COLS), align as in qt_doc_t, and a header row. */
void qt_doc_table_begin(qt_doc_t *d, int n_cols, const char *align, const char *const *head);
/* One row of n_cols cells (NULL cells are empty); numbers in e-notation of an 'r' column are typeset
 * as m x 10^e in LaTeX. */
void qt_doc_table_row(qt_doc_t *d, const char *const *cells);
/* End the table. */
void qt_doc_table_end(qt_doc_t *d);
/* A figure: link is the path the document refers to, file the path to read for embedding (HTML
 * embeds PNG and SVG; a PDF is linked), caption its text. */
void qt_doc_figure(qt_doc_t *d, const char *link, const char *file, const char *caption);
/* Escaped text of s in the document's dialect (no newline). */
void qt_doc_text(qt_doc_t *d, const char *s);

#endif
