/* test_status.c — status codes and the thread-local error message (impl/core/status.c).
 * Run: make test. */
#include <string.h>

#include "quintet/status.h"
#include "test_util.h"

/* "<generic>: <detail>", and re-labelling a message with qt_fail(s, "%s", qt_last_error())
 * keeps its text (the detail is formatted before the buffer is rewritten). */
static void test_fail_message(void)
{
    CU_ASSERT_EQUAL(qt_fail(QT_ERR_ARG, "window %d must be > 0", -3), QT_ERR_ARG);
    CU_ASSERT_STRING_EQUAL(qt_last_error(), "invalid argument: window -3 must be > 0");
    CU_ASSERT_EQUAL(qt_fail(QT_ERR_FORMAT, "%s", qt_last_error()), QT_ERR_FORMAT);
    CU_ASSERT_STRING_EQUAL(qt_last_error(), "bad format: invalid argument: window -3 must be > 0");
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    qt_fail(QT_ERR_IO, "%s", big); /* truncated, still terminated */
    CU_ASSERT(strlen(qt_last_error()) < 512 && !strncmp(qt_last_error(), "i/o error: xxx", 14));
    qt_clear_error();
    CU_ASSERT_STRING_EQUAL(qt_last_error(), "");
    CU_ASSERT_STRING_EQUAL(qt_strerror(QT_OK), "ok");
}

QT_TEST_MAIN("status", {"fail message", test_fail_message})
