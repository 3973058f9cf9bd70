/* output.h — machine-readable output helpers shared by the commands that print
 * results (show, compare): CSV fields (RFC 4180 quoting) and JSON strings and
 * numbers (non-finite numbers become null), written to stdout. */
#ifndef QUINTET_OUTPUT_H
#define QUINTET_OUTPUT_H

/* "text" with embedded quotes doubled. */
void qt_out_csv_field(const char *s);
/* A JSON string literal with quotes, backslashes and control characters escaped. */
void qt_out_json_str(const char *s);
/* A JSON number with 9 significant digits, or null when not finite. */
void qt_out_json_num(double v);

#endif
