/* cli.h — the quintet commands. Each command is `int qt_cmd_NAME(int argc, char **argv)`
 * with argv[0] the first argument after the command name; it returns the process
 * exit code: 0 success, 1 runtime failure (or a regression / failed case),
 * 2 bad usage (unknown command, option, suite or value), 130 interrupted. */
#ifndef QUINTET_CLI_H
#define QUINTET_CLI_H

int qt_cli_main(int argc, char **argv);

int qt_cmd_list(int argc, char **argv);
int qt_cmd_run(int argc, char **argv);
int qt_cmd_show(int argc, char **argv);
int qt_cmd_compare(int argc, char **argv);
int qt_cmd_history(int argc, char **argv);
int qt_cmd_report(int argc, char **argv);
int qt_cmd_env(int argc, char **argv);
int qt_cmd_import(int argc, char **argv);
int qt_cmd_plot(int argc, char **argv);
int qt_cmd_verify(int argc, char **argv);
/* `quintet trace optim ...`: argv[0] is "optim" (the word after `trace`). */
int qt_cmd_trace(int argc, char **argv);

/* Default database path. */
#define QT_DEFAULT_DB "results/quintet.db"

#endif
