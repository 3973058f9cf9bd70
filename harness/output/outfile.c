/* outfile.c — regular output files written whole or not at all (contract in outfile.h). */
#include "output/outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What kind of file st describes, in words, for a refusal. */
static const char *kind(const struct stat *st)
{
    return S_ISLNK(st->st_mode) ? "a symbolic link" : S_ISDIR(st->st_mode) ? "a folder"
           : S_ISFIFO(st->st_mode) ? "a FIFO (named pipe)" : S_ISCHR(st->st_mode) ? "a character device"
           : S_ISBLK(st->st_mode) ? "a block device" : S_ISSOCK(st->st_mode) ? "a socket" : "not a regular file";
}

/* Absent or a regular file (not followed through a link). */
qt_status_t qt_outfile_check(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return QT_OK;
        return qt_fail(QT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    if (S_ISREG(st.st_mode)) return QT_OK;
    return qt_fail(QT_ERR_IO, "refusing to write %s: it is %s, and quintet writes output to regular files only "
                              "(remove it or name another path)", path, kind(&st));
}

/* A temporary file beside the path, mode as a new file would get (0666 less the umask). */
qt_status_t qt_outfile_open(qt_outfile_t *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (strlen(path) + 8 > sizeof o->tmp) return qt_fail(QT_ERR_IO, "output path too long (%zu bytes)", strlen(path));
    QT_TRY(qt_outfile_check(path));
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        qt_status_t r = qt_fail(QT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        o->tmp[0] = '\0';
        return r;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || !(o->f = fdopen(fd, "w"))) {
        qt_status_t r = qt_fail(QT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(o->tmp);
        o->tmp[0] = '\0';
        return r;
    }
    return QT_OK;
}

/* Everything written, or nothing at the path. */
qt_status_t qt_outfile_commit(qt_outfile_t *o)
{
    if (!o->f) return qt_fail(QT_ERR_IO, "cannot write %s: not open", o->path);
    int err = 0;
    if (fflush(o->f) != 0 || ferror(o->f)) err = errno ? errno : EIO;
    if (!err && fsync(fileno(o->f)) != 0 && errno != EINVAL) err = errno;
    if (fclose(o->f) != 0 && !err) err = errno ? errno : EIO;
    o->f = NULL;
    qt_status_t r = err ? QT_OK : qt_outfile_check(o->path); /* a link or FIFO put there meanwhile */
    if (!err && r == QT_OK && rename(o->tmp, o->path) != 0) err = errno;
    if (err || r != QT_OK) {
        unlink(o->tmp);
        o->tmp[0] = '\0';
        return r != QT_OK ? r : qt_fail(QT_ERR_IO, "writing %s failed: %s; nothing was written there", o->path,
                                        strerror(err));
    }
    o->tmp[0] = '\0';
    return QT_OK;
}

/* Close and remove the temporary file. */
void qt_outfile_abort(qt_outfile_t *o)
{
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp[0]) unlink(o->tmp);
    o->tmp[0] = '\0';
}
