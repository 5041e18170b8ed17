/*
 * main.c: imapd's entry point, kept thin so the rest links into tests.
 */
int	imapd_main(int argc, char **argv);

int
main(int argc, char **argv)
{
	return imapd_main(argc, argv);
}
