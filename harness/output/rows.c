/* rows.c — the row model written as aligned text, CSV or JSON (rows.h). */
#include "output/rows.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "output/output.h"
#include "quintet/status.h"

/* Format name. */
qt_status_t qt_fmt_parse(const char *s, qt_fmt_t *out)
{
    static const char *const names[] = {"table", "csv", "json"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (qt_fmt_t)i;
            return QT_OK;
        }
    return qt_fail(QT_ERR_ARG, "unknown format '%s' (expected table, csv or json)", s ? s : "");
}

/* Start. */
void qt_rows_init(qt_rows_t *r, qt_fmt_t fmt, const qt_col_t *cols, int n_cols)
{
    r->cols = cols;
    r->n_cols = n_cols;
    r->fmt = fmt;
    r->rows = 0;
}

/* The header line of the text and CSV forms. */
static void rows_header(const qt_rows_t *r)
{
    int first = 1;
    for (int c = 0; c < r->n_cols; c++) {
        const qt_col_t *col = &r->cols[c];
        if (!(col->in & (1u << r->fmt))) continue;
        if (!first) putchar(r->fmt == QT_FMT_CSV ? ',' : ' ');
        first = 0;
        if (r->fmt == QT_FMT_CSV) fputs(col->name, stdout);
        else printf("%*s", col->type == QT_CELL_TEXT ? -col->width : col->width, col->name);
    }
    putchar('\n');
}

/* One row. */
void qt_rows_add(qt_rows_t *r, const qt_cell_t *cells)
{
    if (r->rows == 0 && r->fmt != QT_FMT_JSON) rows_header(r);
    if (r->fmt == QT_FMT_JSON) printf("%s\n    {", r->rows ? "," : "");
    int first = 1;
    for (int c = 0; c < r->n_cols; c++) {
        const qt_col_t *col = &r->cols[c];
        const qt_cell_t *v = &cells[c];
        if (!(col->in & (1u << r->fmt))) continue;
        if (!first) fputs(r->fmt == QT_FMT_CSV ? "," : r->fmt == QT_FMT_JSON ? ", " : " ", stdout);
        first = 0;
        if (r->fmt == QT_FMT_JSON) printf("\"%s\": ", col->name);
        if (col->type == QT_CELL_INT) {
            if (r->fmt == QT_FMT_TABLE) printf("%*lld", col->width, v->i);
            else printf("%lld", v->i);
        } else if (col->type == QT_CELL_NUMS) {
            if (r->fmt == QT_FMT_JSON) putchar('[');
            for (int k = 0; k < v->n_nums; k++) {
                if (k) fputs(r->fmt == QT_FMT_JSON ? ", " : " ", stdout);
                if (r->fmt == QT_FMT_JSON) qt_out_json_num(v->nums[k]);
                else printf("%.9g", v->nums[k]);
            }
            if (r->fmt == QT_FMT_JSON) putchar(']');
        } else if (col->type == QT_CELL_NUM) {
            if (r->fmt == QT_FMT_JSON) qt_out_json_num(v->num);
            else if (r->fmt == QT_FMT_CSV) {
                if (isfinite(v->num)) printf("%.9g", v->num);
            } else if (!isfinite(v->num)) {
                printf("%*s\u2013", col->width > 1 ? col->width - 1 : 0, ""); /* "–": bytes ≠ columns */
            } else {
                char f[24];
                snprintf(f, sizeof f, "%%*%s", col->num_fmt ? col->num_fmt : ".9g");
                printf(f, col->width, v->num);
            }
        } else {
            const char *t = v->text ? v->text : "";
            if (r->fmt == QT_FMT_JSON) qt_out_json_str(t);
            else if (r->fmt == QT_FMT_CSV) qt_out_csv_field(t);
            else printf("%*s", -col->width, t);
        }
    }
    if (r->fmt == QT_FMT_JSON) putchar('}');
    else putchar('\n');
    r->rows++;
}
