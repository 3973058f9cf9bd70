/* backends.h — print every technique's backends and what each supports here. */
#ifndef QUINTET_BACKENDS_H
#define QUINTET_BACKENDS_H

#include <stdio.h>

/* One line per technique and backend. */
void qt_backends_print(FILE *f);

#endif
