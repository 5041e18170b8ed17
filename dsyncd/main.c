/*
 * main.c: dsyncd's entry point, kept thin so the rest links into tests.
 */
#include "dsyncd.h"

int
main(int argc, char **argv)
{
	return dsyncd_main(argc, argv);
}
