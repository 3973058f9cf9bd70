/* report_fmt.c — Markdown, HTML and LaTeX writers of `quintet report` (contract in
 * report_fmt.h). Escaping: Markdown backslash-escapes the characters that would start markup
 * (and `|` in tables; `_` only at a word's edge, where it could start emphasis); HTML escapes
 * & < > " '; LaTeX escapes \ { } _ % & # $ ^ ~ < > | and breaks "--" ligatures.
 * Tested by tests/harness/test_report.c (`make test`). */
#include "output/report_fmt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* "md" / "html" / "tex". */
qt_status_t qt_doc_dialect(const char *name, qt_doc_dialect_t *out)
{
    static const char *const names[] = {"md", "html", "tex"};
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) {
            *out = (qt_doc_dialect_t)i;
            return QT_OK;
        }
    return qt_fail(QT_ERR_ARG, "unknown format '%s' (expected md, html or tex)", name ? name : "");
}

/* 1 when c is a letter or digit (a word character for Markdown's emphasis rules). */
static int word_char(int c)
{
    return c && (isalnum((unsigned char)c) || (unsigned char)c >= 0x80);
}

/* Markdown text; in a table newlines become spaces and '|' is escaped. A '<' is escaped when it
 * could open an HTML tag or autolink. */
static void md_text(FILE *f, const char *s, int in_table)
{
    for (const char *p = s; p && *p; p++) {
        char c = *p;
        if (c == '\n' || c == '\r') { fputc(in_table ? ' ' : '\n', f); continue; }
        if (c == '_' && p > s && word_char(p[-1]) && word_char(p[1])) { fputc(c, f); continue; }
        int start = p == s; /* '#' and '>' only start markup at the beginning of a block */
        if (strchr("\\`*_[]", c) || (c == '|' && in_table) || ((c == '#' || c == '>') && start) ||
            (c == '<' && (isalpha((unsigned char)p[1]) || strchr("/!?", p[1] ? p[1] : ' '))))
            fputc('\\', f);
        fputc(c, f);
    }
}

/* HTML text (also safe inside a quoted attribute). */
static void html_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* LaTeX text: every special character escaped, newlines as spaces. */
static void tex_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        char c = *s;
        if (strchr("_%&#${}", c)) fprintf(f, "\\%c", c);
        else if (c == '\\') fputs("\\textbackslash{}", f);
        else if (c == '^') fputs("\\textasciicircum{}", f);
        else if (c == '~') fputs("\\textasciitilde{}", f);
        else if (c == '<') fputs("\\textless{}", f);
        else if (c == '>') fputs("\\textgreater{}", f);
        else if (c == '|') fputs("\\textbar{}", f);
        else if (c == '-' && s[1] == '-') fputs("-{}", f);
        else if (c == '\n' || c == '\r') fputc(' ', f);
        else fputc(c, f);
    }
}

/* Escaped text in the document's dialect. */
void qt_doc_text(qt_doc_t *d, const char *s)
{
    if (d->dialect == QT_DOC_MD) md_text(d->f, s, d->n_cols > 0);
    else if (d->dialect == QT_DOC_HTML) html_text(d->f, s);
    else tex_text(d->f, s);
}

/* Begin: title and, unless a fragment, the preamble. */
void qt_doc_begin(qt_doc_t *d, FILE *f, qt_doc_dialect_t dialect, int fragment, const char *title)
{
    memset(d, 0, sizeof *d);
    d->f = f;
    d->dialect = dialect;
    d->fragment = fragment;
    if (dialect == QT_DOC_MD) {
        fputs("# ", f);
        md_text(f, title, 0);
        fputs("\n\n", f);
    } else if (dialect == QT_DOC_HTML) {
        if (!fragment) {
            fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
            html_text(f, title);
            fputs("</title>\n<style>\n"
                  "body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1280px; }\n"
                  "table { border-collapse: collapse; margin: 1em 0; font-size: 90%; max-width: 100%; }\n"
                  "th, td { padding: 0.2em 0.6em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top;"
                  " overflow-wrap: anywhere; }\n"
                  "th { border-bottom: 2px solid #444; }\n"
                  "td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }\n"
                  "td.regression { color: #b00; font-weight: bold; }\n"
                  "td.improvement { color: #070; }\n"
                  "figure { margin: 1em 0; } figure img { max-width: 100%; }\n"
                  "</style>\n</head>\n<body>\n", f);
        }
        fputs("<h1>", f);
        html_text(f, title);
        fputs("</h1>\n", f);
    } else {
        if (!fragment)
            fputs("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
                  "\\usepackage[landscape,margin=1.5cm]{geometry}\n\\usepackage{booktabs,longtable,graphicx}\n"
                  "\\begin{document}\n", f);
        fputs("\\section*{", f);
        tex_text(f, title);
        fputs("}\n\n", f);
    }
}

/* End: closing tags / \end{document}. */
void qt_doc_end(qt_doc_t *d)
{
    if (d->fragment) return;
    if (d->dialect == QT_DOC_HTML) fputs("</body>\n</html>\n", d->f);
    else if (d->dialect == QT_DOC_TEX) fputs("\\end{document}\n", d->f);
}

/* Heading of level 1 or 2 (under the title). */
void qt_doc_heading(qt_doc_t *d, int level, const char *text)
{
    level = level < 2 ? 1 : 2;
    if (d->dialect == QT_DOC_MD) fprintf(d->f, "%s ", level == 1 ? "##" : "###");
    else if (d->dialect == QT_DOC_HTML) fprintf(d->f, "<h%d>", level + 1);
    else fprintf(d->f, "\\%s*{", level == 1 ? "subsection" : "subsubsection");
    qt_doc_text(d, text);
    if (d->dialect == QT_DOC_MD) fputs("\n\n", d->f);
    else if (d->dialect == QT_DOC_HTML) fprintf(d->f, "</h%d>\n", level + 1);
    else fputs("}\n\n", d->f);
}

/* Paragraph. */
void qt_doc_para(qt_doc_t *d, const char *text)
{
    if (d->dialect == QT_DOC_HTML) fputs("<p>", d->f);
    qt_doc_text(d, text);
    fputs(d->dialect == QT_DOC_HTML ? "</p>\n" : "\n\n", d->f);
}


/* 1 when s is a number in e-notation ("1.5e-09"); *e points at the 'e'. */
static int e_notation(const char *s, const char **e)
{
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    int digits = 0;
    while (isdigit((unsigned char)*p) || *p == '.') digits += *p++ != '.';
    if (!digits || (*p != 'e' && *p != 'E')) return 0;
    *e = p++;
    if (*p == '-' || *p == '+') p++;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return *p == '\0';
}

/* A LaTeX cell: e-notation numbers in right-aligned columns as m\times10^{e}. */
static void tex_cell(qt_doc_t *d, int col, const char *s)
{
    const char *e;
    if (d->align[col] != 'r' || !s || !e_notation(s, &e)) {
        tex_text(d->f, s);
        return;
    }
    const char *x = e + 1;
    int neg = *x == '-';
    if (*x == '-' || *x == '+') x++;
    while (*x == '0' && x[1]) x++;
    fprintf(d->f, "$%.*s\\times10^{%s%s}$", (int)(e - s), s, neg ? "-" : "", x);
}

/* One row's cells in the table's dialect (header when head != 0). */
static void table_cells(qt_doc_t *d, const char *const *cells, int head)
{
    FILE *f = d->f;
    if (d->dialect == QT_DOC_MD) fputc('|', f);
    else if (d->dialect == QT_DOC_HTML) fputs("<tr>", f);
    for (int i = 0; i < d->n_cols; i++) {
        const char *c = cells[i] ? cells[i] : "";
        if (d->dialect == QT_DOC_MD) {
            fputc(' ', f);
            md_text(f, c, 1);
            fputs(" |", f);
        } else if (d->dialect == QT_DOC_HTML) {
            const char *tag = head ? "th" : "td";
            /* numbers align right; a verdict regression/improvement gets a class of its name */
            const char *cls = d->align[i] == 'r' ? "r"
                              : !head && (!strcmp(c, "regression") || !strcmp(c, "improvement")) ? c
                                                                                                  : NULL;
            if (cls) fprintf(f, "<%s class=\"%s\">", tag, cls);
            else fprintf(f, "<%s>", tag);
            html_text(f, c);
            fprintf(f, "</%s>", tag);
        } else {
            if (i) fputs(" & ", f);
            if (head) tex_text(f, c);
            else tex_cell(d, i, c);
        }
    }
    if (d->dialect == QT_DOC_MD) fputc('\n', f);
    else if (d->dialect == QT_DOC_HTML) fputs("</tr>\n", f);
    else fputs(" \\\\\n", f);
}

/* Table header. */
void qt_doc_table_begin(qt_doc_t *d, int n_cols, const char *align, const char *const *head)
{
    if (n_cols > QT_DOC_MAX_COLS) n_cols = QT_DOC_MAX_COLS;
    d->n_cols = n_cols;
    for (int i = 0; i < n_cols; i++) d->align[i] = align && align[i] ? align[i] : 'l';
    d->align[n_cols] = '\0';
    if (d->dialect == QT_DOC_HTML) fputs("<table>\n<thead>\n", d->f);
    else if (d->dialect == QT_DOC_TEX) {
        fputs("\\begingroup\\footnotesize\n\\begin{longtable}{@{}", d->f);
        for (int i = 0; i < n_cols; i++)
            fputs(d->align[i] == 'p' ? "p{0.6\\linewidth}" : d->align[i] == 'r' ? "r" : "l", d->f);
        fputs("@{}}\n\\toprule\n", d->f);
    }
    table_cells(d, head, 1);
    if (d->dialect == QT_DOC_MD) {
        fputc('|', d->f);
        for (int i = 0; i < n_cols; i++) fputs(d->align[i] == 'r' ? "---:|" : "---|", d->f);
        fputc('\n', d->f);
    } else if (d->dialect == QT_DOC_HTML) fputs("</thead>\n<tbody>\n", d->f);
    else fputs("\\midrule\n\\endhead\n", d->f);
}

/* Table row. */
void qt_doc_table_row(qt_doc_t *d, const char *const *cells)
{
    table_cells(d, cells, 0);
}

/* Table end. */
void qt_doc_table_end(qt_doc_t *d)
{
    if (d->dialect == QT_DOC_MD) fputc('\n', d->f);
    else if (d->dialect == QT_DOC_HTML) fputs("</tbody>\n</table>\n", d->f);
    else fputs("\\bottomrule\n\\end{longtable}\n\\endgroup\n\n", d->f);
    d->n_cols = 0;
}

/* File name extension of path ("png", ...), "" when none. */
static const char *extension(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

/* Copy in's bytes to out base64-encoded. */
static void base64_copy(FILE *out, FILE *in)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char buf[3];
    size_t n;
    while ((n = fread(buf, 1, 3, in)) > 0) {
        unsigned v = (unsigned)buf[0] << 16 | (n > 1 ? (unsigned)buf[1] << 8 : 0) | (n > 2 ? buf[2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], n > 1 ? b64[v >> 6 & 63] : '=', n > 2 ? b64[v & 63] : '='};
        fwrite(q, 1, 4, out);
    }
}

/* An HTML figure: PNG and SVG embedded as data: URIs (linked when unreadable), a PDF linked. */
static void html_figure(qt_doc_t *d, const char *link, const char *file, const char *caption)
{
    FILE *f = d->f;
    const char *ext = extension(link);
    int pdf = !strcmp(ext, "pdf");
    FILE *in = pdf ? NULL : fopen(file, "rb");
    fputs(pdf ? "<figure><a href=\"" : "<figure><img alt=\"", f);
    html_text(f, pdf ? link : caption);
    if (pdf) {
        fputs("\">", f);
        html_text(f, caption);
        fputs(" (PDF)</a>", f);
    } else {
        fputs("\" src=\"", f);
        if (in) {
            fprintf(f, "data:image/%s;base64,", !strcmp(ext, "svg") ? "svg+xml" : "png");
            base64_copy(f, in);
            fclose(in);
        } else {
            html_text(f, link);
        }
        fputs("\">", f);
    }
    fputs("<figcaption>", f);
    html_text(f, caption);
    fputs("</figcaption></figure>\n", f);
}

/* Figure. */
void qt_doc_figure(qt_doc_t *d, const char *link, const char *file, const char *caption)
{
    const char *ext = extension(link);
    if (d->dialect == QT_DOC_HTML) {
        html_figure(d, link, file, caption);
    } else if (d->dialect == QT_DOC_MD) {
        fputs(strcmp(ext, "pdf") ? "![" : "[", d->f);
        md_text(d->f, caption, 0);
        fprintf(d->f, "](<%s>)\n\n", link);
    } else if (!strcmp(ext, "svg")) {
        fprintf(d->f, "%% %s: SVG, which pdflatex cannot include\n", link);
        tex_text(d->f, caption);
        fputs(" (SVG, not included)\n\n", d->f);
    } else {
        fprintf(d->f, "\\begin{figure}[htbp]\n\\centering\n"
                      "\\includegraphics[width=\\linewidth,height=0.8\\textheight,keepaspectratio]{%s}\n\\caption{",
                link);
        tex_text(d->f, caption);
        fputs("}\n\\end{figure}\n\n", d->f);
    }
}
