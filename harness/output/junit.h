/* junit.h — JUnit XML (the format CI servers read test results from: Jenkins, GitLab, GitHub
 * actions' reporters) for `quintet compare --format junit` and `quintet ab --format junit`:
 * one <testsuite> of one <testcase> per compared row, a <failure> in each regressed one.
 * Text is XML-escaped (& < > " ' as entities; control characters XML 1.0 cannot carry become
 * '?'). Written to stdout. Tested by tests/harness/test_gate.c (escaping and a CLI run). */
#ifndef QUINTET_JUNIT_H
#define QUINTET_JUNIT_H

#include <stdio.h>

/* s XML-escaped into f (NULL reads as ""). */
void qt_junit_escape(FILE *f, const char *s);
/* <?xml ...?><testsuites><testsuite name=... tests=N failures=F skipped=S> */
void qt_junit_begin(FILE *f, const char *suite, int tests, int failures, int skipped);
/* One <testcase>; failure (may be NULL) adds <failure message=...>detail</failure>; skipped
 * (may be NULL) adds <skipped message=.../>. */
void qt_junit_case(FILE *f, const char *classname, const char *name, const char *failure, const char *detail,
                   const char *skipped);
/* </testsuite></testsuites> */
void qt_junit_end(FILE *f);

#endif
