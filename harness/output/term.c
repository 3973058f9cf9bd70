/* term.c — stdout and stderr without terminal control characters (contract in term.h). */
#include "output/term.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* One filtered descriptor: pending is a 0xC2 lead byte held until the next byte tells whether it
 * starts a C1 control. */
typedef struct {
    int fd;
    int pending;
} term_t;

/* write(2) all of buf[0..n); -1 on error. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fopencookie write function: filter and pass on. */
static ssize_t term_write(void *cookie, const char *buf, size_t size)
{
    term_t *t = cookie;
    char out[4096];
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (n + 2 > sizeof out) {
            if (write_all(t->fd, out, n)) return -1;
            n = 0;
        }
        if (t->pending) {
            t->pending = 0;
            if (c >= 0x80 && c <= 0x9f) {
                out[n++] = '?';
                continue;
            }
            out[n++] = (char)0xc2;
        }
        if (c == 0xc2) t->pending = 1;
        else out[n++] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
    }
    if (n && write_all(t->fd, out, n)) return -1;
    return (ssize_t)size;
}

/* fopencookie close function: write a held lead byte. */
static int term_close(void *cookie)
{
    term_t *t = cookie;
    if (t->pending) {
        t->pending = 0;
        return write_all(t->fd, "\xc2", 1);
    }
    return 0;
}

/* Replace *stream (stdout or stderr, descriptor fd) by a filtered stream with the given buffering. */
static void guard(FILE **stream, term_t *t, int fd, int mode)
{
    fflush(*stream);
    t->fd = fd;
    t->pending = 0;
    cookie_io_functions_t io = {.read = NULL, .write = term_write, .seek = NULL, .close = term_close};
    FILE *f = fopencookie(t, "w", io);
    if (!f) return;
    setvbuf(f, NULL, mode, BUFSIZ);
    *stream = f;
}

/* Filter stdout (line-buffered on a terminal, else fully) and stderr (unbuffered), once. */
void qt_term_guard_stdio(void)
{
    static term_t out, err;
    static int done;
    if (done) return;
    done = 1;
    guard(&stdout, &out, STDOUT_FILENO, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF);
    guard(&stderr, &err, STDERR_FILENO, _IONBF);
}
