/* output.c — CSV and JSON output helpers (output.h). */
#include "output/output.h"

#include <math.h>
#include <stdio.h>

/* CSV field with quotes doubled. */
void qt_out_csv_field(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* JSON string. */
void qt_out_json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

/* JSON number (null for non-finite). */
void qt_out_json_num(double v)
{
    if (isfinite(v)) printf("%.9g", v);
    else printf("null");
}
