/* report_figs.c — find the figures of a folder for `quintet report --figures` (contract in
 * report_figs.h). Tested by tests/harness/test_report.c (`make test`). */
#define _DEFAULT_SOURCE /* realpath, DT_* */
#include "output/report_figs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rank of a file name's extension for the dialect: higher is preferred, 0 not a figure. */
static int rank(const char *name, qt_doc_dialect_t dialect)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    static const char *const ext[] = {"pdf", "png", "svg"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(dot + 1, ext[i])) return dialect == QT_DOC_TEX ? (i == 2 ? 1 : 3 - i) : i + 1;
    return 0;
}

/* 1 when a and b have the same stem (the name up to the last dot). */
static int same_stem(const char *a, const char *b)
{
    size_t la = (size_t)(strrchr(a, '.') - a), lb = (size_t)(strrchr(b, '.') - b);
    return la == lb && !strncmp(a, b, la);
}

/* qsort comparator of names. */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Path of target relative to folder from (both absolute and canonical, as realpath gives),
 * malloc'd: "../" for each folder of from below the common part, then the rest of target. */
static char *relative(const char *from, const char *target)
{
    size_t i = 0, common = 0; /* common: end of the last whole component both share */
    while (from[i] && from[i] == target[i]) {
        i++;
        if ((from[i] == '/' || !from[i]) && (target[i] == '/' || !target[i])) common = i;
    }
    size_t ups = 0;
    for (const char *p = from + common; *p; p++) ups += *p == '/' && p[1];
    const char *rest = target + common;
    while (*rest == '/') rest++;
    size_t len = ups * 3 + strlen(rest) + 2;
    char *r = malloc(len);
    if (!r) return NULL;
    r[0] = '\0';
    for (size_t k = 0; k < ups; k++) strcat(r, "../");
    strcat(r, *rest ? rest : ".");
    return r;
}

/* The link prefix for dir: dir itself, or dir relative to out_path's folder. */
static char *link_prefix(const char *dir, const char *out_path)
{
    char dreal[PATH_MAX], oreal[PATH_MAX], odir[PATH_MAX];
    if (!out_path) return strdup(dir);
    snprintf(odir, sizeof odir, "%s", out_path);
    char *slash = strrchr(odir, '/');
    if (!slash) snprintf(odir, sizeof odir, ".");
    else if (slash == odir) odir[1] = '\0';
    else *slash = '\0';
    if (!realpath(dir, dreal) || !realpath(odir, oreal)) return strdup(dir);
    return relative(oreal, dreal);
}

/* Collect, sort, keep the preferred file of each stem, and make the paths. */
qt_status_t qt_figs_find(const char *dir, const char *out_path, qt_doc_dialect_t dialect, qt_figs_t *out)
{
    QT_CHECK_ARG(dir && out, "folder and output must not be NULL");
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return qt_fail(QT_ERR_ARG, "--figures %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    qt_status_t st = QT_OK;
    for (struct dirent *e; st == QT_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !rank(e->d_name, dialect)) continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *nn);
            if (!nn) st = qt_fail(QT_ERR_NOMEM, "out of memory listing %s", dir);
            else names = nn;
        }
        if (st == QT_OK && !(names[n++] = strdup(e->d_name))) st = qt_fail(QT_ERR_NOMEM, "out of memory");
    }
    closedir(d);
    char *prefix = st == QT_OK ? link_prefix(dir, out_path) : NULL;
    if (st == QT_OK && !prefix) st = qt_fail(QT_ERR_NOMEM, "out of memory");
    if (st == QT_OK && n) qsort(names, n, sizeof *names, cmp_name);
    if (st == QT_OK && !(out->f = calloc(n + 1, sizeof *out->f))) st = qt_fail(QT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == QT_OK && i < n; i++) {
        size_t best = i; /* names of one stem are adjacent after sorting */
        while (i + 1 < n && same_stem(names[i + 1], names[best])) {
            i++;
            if (rank(names[i], dialect) > rank(names[best], dialect)) best = i;
        }
        qt_fig_t *f = &out->f[out->n++];
        size_t lf = strlen(dir) + strlen(names[best]) + 2, ll = strlen(prefix) + strlen(names[best]) + 2;
        f->name = strdup(names[best]);
        f->file = malloc(lf);
        f->link = malloc(ll);
        if (!f->name || !f->file || !f->link) { st = qt_fail(QT_ERR_NOMEM, "out of memory"); break; }
        snprintf(f->file, lf, "%s/%s", dir, names[best]);
        if (!strcmp(prefix, ".")) snprintf(f->link, ll, "%s", names[best]);
        else snprintf(f->link, ll, "%s/%s", prefix, names[best]);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(prefix);
    if (st != QT_OK) qt_figs_free(out);
    return st;
}

/* Free the list. */
void qt_figs_free(qt_figs_t *figs)
{
    for (size_t i = 0; figs->f && i < figs->n; i++) {
        free(figs->f[i].name);
        free(figs->f[i].file);
        free(figs->f[i].link);
    }
    free(figs->f);
    memset(figs, 0, sizeof *figs);
}
