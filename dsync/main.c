/*
 * main.c: dsync's entry point, kept thin so every command links into tests.
 */
#include "dsync_cli.h"

int
main(int argc, char **argv)
{
	return dsync_main(argc, argv);
}
