/* junit.c — JUnit XML writer (contract in junit.h). */
#include "output/junit.h"

/* Escape for XML 1.0 text and attribute values. */
void qt_junit_escape(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') fputc('?', f);
            else fputc(*p, f);
        }
    }
}

/* Document and suite header. */
void qt_junit_begin(FILE *f, const char *suite, int tests, int failures, int skipped)
{
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"", f);
    qt_junit_escape(f, suite);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\">\n", tests, failures, skipped);
}

/* One test case. */
void qt_junit_case(FILE *f, const char *classname, const char *name, const char *failure, const char *detail,
                   const char *skipped)
{
    fputs("    <testcase classname=\"", f);
    qt_junit_escape(f, classname);
    fputs("\" name=\"", f);
    qt_junit_escape(f, name);
    if (!failure && !skipped) {
        fputs("\"/>\n", f);
        return;
    }
    fputs("\">\n", f);
    if (failure) {
        fputs("      <failure message=\"", f);
        qt_junit_escape(f, failure);
        fputs("\" type=\"regression\">", f);
        qt_junit_escape(f, detail);
        fputs("</failure>\n", f);
    }
    if (skipped) {
        fputs("      <skipped message=\"", f);
        qt_junit_escape(f, skipped);
        fputs("\"/>\n", f);
    }
    fputs("    </testcase>\n", f);
}

/* Close the suite and the document. */
void qt_junit_end(FILE *f)
{
    fputs("  </testsuite>\n</testsuites>\n", f);
}
