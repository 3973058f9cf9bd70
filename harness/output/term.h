/* term.h — keeping text from a database from driving the terminal.
 *
 * A database is input: a host name, CPU model, message or parameter text may hold escape
 * sequences (ESC ] 0 ; ... BEL sets the window title, ESC [ 2 J clears the screen, and worse).
 * qt_term_guard_stdio() replaces stdout and stderr by streams that pass every byte to the same
 * descriptors except the control characters: C0 other than newline and tab, DEL, and the C1
 * controls of UTF-8 (U+0080-U+009F), each written as '?'. Other UTF-8 text (a CPU model's ®)
 * passes unchanged. The commands that print what a database holds (show, history, compare) call
 * it first; `plot` writes its labels through its own stricter filter (plot_data.c).
 * Tested through the real binary in tests/harness/test_hostile.c (`make test`). */
#ifndef QUINTET_TERM_H
#define QUINTET_TERM_H

/* Route stdout and stderr through the control-character filter (idempotent; on failure the
 * streams stay as they were). */
void qt_term_guard_stdio(void);

#endif
