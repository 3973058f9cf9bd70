/* rows.h — the one row model of the commands' result output: a table is a list of columns
 * (name, cell type, width and number format in the aligned text form, the formats it appears
 * in) and rows of cells, written as an aligned text table, CSV (RFC 4180 quoting, header
 * line) or JSON objects (one per row, keys = column names; the caller writes the enclosing
 * array). Rows are written as they are added, so commands stream straight from the store.
 * Used by `quintet show`; tested through tests/harness/test_cli.c (`make test`). */
#ifndef QUINTET_ROWS_H
#define QUINTET_ROWS_H

#include "quintet/status.h"

typedef enum { QT_FMT_TABLE, QT_FMT_CSV, QT_FMT_JSON } qt_fmt_t;
/* QT_CELL_NUMS: a list of numbers (the raw samples of `show --samples`): a JSON array, a CSV field of
 * space-separated values; not shown in the text table. */
typedef enum { QT_CELL_TEXT, QT_CELL_INT, QT_CELL_NUM, QT_CELL_NUMS } qt_cell_type_t;

/* Bits of qt_col_t.in: the formats a column appears in. */
#define QT_IN_TABLE (1u << QT_FMT_TABLE)
#define QT_IN_CSV (1u << QT_FMT_CSV)
#define QT_IN_JSON (1u << QT_FMT_JSON)
#define QT_IN_ALL (QT_IN_TABLE | QT_IN_CSV | QT_IN_JSON)

typedef struct {
    const char *name;
    qt_cell_type_t type;
    int width;           /* text form: text left-aligned, numbers right-aligned; 0 = no padding */
    const char *num_fmt; /* text form of a QT_CELL_NUM: printf conversion after the width, e.g. ".5g" */
    unsigned in;         /* QT_IN_* bits */
} qt_col_t;

typedef struct {
    const char *text; /* QT_CELL_TEXT (NULL reads as "") */
    long long i;      /* QT_CELL_INT */
    double num;       /* QT_CELL_NUM (JSON: null, CSV: empty, table: "–" when not finite) */
    const double *nums; /* QT_CELL_NUMS: n_nums values (NaN: null / "nan") */
    int n_nums;
} qt_cell_t;

typedef struct {
    const qt_col_t *cols;
    int n_cols;
    qt_fmt_t fmt;
    long rows; /* rows written so far */
} qt_rows_t;

/* Parse "table", "csv" or "json"; QT_ERR_ARG with a message otherwise. */
qt_status_t qt_fmt_parse(const char *s, qt_fmt_t *out);
/* Start a table of n_cols columns in format fmt (nothing is written yet). */
void qt_rows_init(qt_rows_t *r, qt_fmt_t fmt, const qt_col_t *cols, int n_cols);
/* Write one row (cells[i] belongs to cols[i]); the table and CSV headers come before the first. */
void qt_rows_add(qt_rows_t *r, const qt_cell_t *cells);

#endif
