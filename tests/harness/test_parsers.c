/* test_parsers.c — the option parser (args.c) and case parameters (params.c):
 * accepted forms, canonical round trips, and every rejection path. */
#include <string.h>

#include "cli/args.h"
#include "run/params.h"
#include "test_util.h"

static const qt_opt_t opts[] = {
    {"db", "PATH", "database"},
    {"all", NULL, "flag"},
    {"seed", "S", "seed"},
};

/* --name value, --name=value, flags, positionals, "--" and -h. */
static void test_args_forms(void)
{
    char *argv[] = {"suite1", "--db", "x.db", "--seed=7", "--all", "-5", "--", "--not-an-option", "-h"};
    qt_args_t a;
    CU_ASSERT_EQUAL_FATAL(qt_args_parse(opts, 3, 9, argv, &a), QT_OK);
    CU_ASSERT_STRING_EQUAL(qt_args_get(opts, 3, &a, "db"), "x.db");
    CU_ASSERT_STRING_EQUAL(qt_args_get(opts, 3, &a, "seed"), "7");
    CU_ASSERT_STRING_EQUAL(qt_args_get(opts, 3, &a, "all"), "1");
    CU_ASSERT_EQUAL(a.n_pos, 4); /* suite1, -5, --not-an-option, -h (after --) */
    CU_ASSERT_STRING_EQUAL(a.pos[2], "--not-an-option");
    CU_ASSERT_EQUAL(a.help, 0);
}

/* "[BOOL]" options (optional boolean value) and '_' spelled for '-'. */
static void test_args_optional_bool(void)
{
    static const qt_opt_t bopts[] = {{"amsgrad", "[BOOL]", "flag"}, {"nesterov", "[BOOL]", "flag"},
                                     {"weight-decay", "W", "value"}, {"maximize", "[BOOL]", "flag"}};
    char *argv[] = {"--amsgrad", "--nesterov", "false", "--weight_decay", "0.1", "--maximize=off", "pos"};
    qt_args_t a;
    CU_ASSERT_EQUAL_FATAL(qt_args_parse(bopts, 4, 7, argv, &a), QT_OK);
    CU_ASSERT_STRING_EQUAL(qt_args_get(bopts, 4, &a, "amsgrad"), "1");
    CU_ASSERT_STRING_EQUAL(qt_args_get(bopts, 4, &a, "nesterov"), "false");
    CU_ASSERT_STRING_EQUAL(qt_args_get(bopts, 4, &a, "weight-decay"), "0.1");
    CU_ASSERT_STRING_EQUAL(qt_args_get(bopts, 4, &a, "maximize"), "off");
    CU_ASSERT_EQUAL(a.n_pos, 1); /* "pos" is not a boolean word: it stays positional */
    char *tail[] = {"--amsgrad"};
    CU_ASSERT_EQUAL_FATAL(qt_args_parse(bopts, 4, 1, tail, &a), QT_OK);
    CU_ASSERT_STRING_EQUAL(qt_args_get(bopts, 4, &a, "amsgrad"), "1");
}

/* Unknown options, missing values, values on flags, short options. */
static void test_args_errors(void)
{
    qt_args_t a;
    char *unknown[] = {"--nope"}, *missing[] = {"--db"}, *flagval[] = {"--all=1"}, *shortopt[] = {"-x"};
    CU_ASSERT_EQUAL(qt_args_parse(opts, 3, 1, unknown, &a), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "unknown option"));
    CU_ASSERT_EQUAL(qt_args_parse(opts, 3, 1, missing, &a), QT_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(qt_last_error(), "needs a value"));
    CU_ASSERT_EQUAL(qt_args_parse(opts, 3, 1, flagval, &a), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_args_parse(opts, 3, 1, shortopt, &a), QT_ERR_ARG);
    long long v;
    unsigned long long u;
    double d;
    CU_ASSERT_EQUAL(qt_args_int("n", "12x", 0, 100, &v), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_args_int("n", "101", 0, 100, &v), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_args_int("n", "99", 0, 100, &v), QT_OK);
    CU_ASSERT_EQUAL(v, 99);
    CU_ASSERT_EQUAL(qt_args_u64("s", "-1", &u), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_args_u64("s", "0x10", &u), QT_OK);
    CU_ASSERT_EQUAL(u, 16);
    CU_ASSERT_EQUAL(qt_args_double("x", "nan", &d), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_args_double("x", "1e-3", &d), QT_OK);
}

/* Canonical text round trip and typed lookups. */
static void test_params_round_trip(void)
{
    qt_params_t p = {0}, q;
    CU_ASSERT_EQUAL(qt_params_set_int(&p, "T", 2048), QT_OK);
    CU_ASSERT_EQUAL(qt_params_set_double(&p, "frac", 0.95), QT_OK);
    CU_ASSERT_EQUAL(qt_params_set_str(&p, "mode", "causal"), QT_OK);
    CU_ASSERT_EQUAL(qt_params_set_int(&p, "T", 4096), QT_OK); /* replaces, keeps order */
    char text[256];
    qt_params_format(&p, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "T=4096,frac=0.95,mode=causal");
    CU_ASSERT_EQUAL(qt_params_parse(text, &q), QT_OK);
    CU_ASSERT(qt_params_equal_except(&p, &q, NULL));
    CU_ASSERT_EQUAL(qt_params_int(&q, "T", 0), 4096);
    CU_ASSERT_DOUBLE_EQUAL(qt_params_double(&q, "frac", 0), 0.95, 1e-12);
    CU_ASSERT_EQUAL(qt_params_int(&q, "mode", -1), -1); /* not a number: default */
    qt_params_set_int(&q, "T", 1);
    CU_ASSERT(qt_params_equal_except(&p, &q, "T"));
    CU_ASSERT(!qt_params_equal_except(&p, &q, NULL));
    /* a too-small buffer still terminates and reports the needed length */
    char small[8];
    CU_ASSERT_EQUAL(qt_params_format(&p, small, sizeof small), strlen(text));
    CU_ASSERT_EQUAL(strlen(small), sizeof small - 1);
}

/* Malformed parameter texts are rejected with QT_ERR_FORMAT. */
static void test_params_rejects(void)
{
    qt_params_t q;
    const char *bad[] = {"T", "T=1,", "=3", "T=1,,D=2", "bad key=1", "k=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CU_ASSERT_EQUAL(qt_params_parse(bad[i], &q), QT_ERR_FORMAT);
    CU_ASSERT_EQUAL(qt_params_parse("", &q), QT_OK);
    CU_ASSERT_EQUAL(q.n, 0);
    qt_params_t p = {0};
    CU_ASSERT_EQUAL(qt_params_set_str(&p, "k", "a,b"), QT_ERR_ARG);
    CU_ASSERT_EQUAL(qt_params_set_str(&p, NULL, "x"), QT_ERR_ARG);
}

QT_TEST_MAIN("harness/parsers", {"args forms", test_args_forms}, {"args errors", test_args_errors},
             {"args optional booleans", test_args_optional_bool},
             {"params round trip", test_params_round_trip}, {"params rejects", test_params_rejects})
