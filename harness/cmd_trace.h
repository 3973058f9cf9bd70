/* cmd_trace.h — `quintet trace optim ...`: run one optimizer on one problem and print
 * the trajectory as CSV (step,x0,x1,…,loss). See cmd_trace.c for the options. */
#ifndef QUINTET_CMD_TRACE_H
#define QUINTET_CMD_TRACE_H

/* argv[0] is "optim" (the word after `trace`). Returns 0 on success, 2 on bad usage
 * (message on stderr), 1 when the run itself failed. */
int qt_cmd_trace(int argc, char **argv);

#endif
