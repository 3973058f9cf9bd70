/* main.c — entry point of the quintet program: dispatches to the commands in cli.c. */
#include "cli.h"

int main(int argc, char **argv) { return qt_cli_main(argc, argv); }
