/* Temporary directories for the unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp/util.h"
#include "testdir.h"

char *test_dir_make(const char *name)
{
	char *dir = xasprintf("/tmp/esp-test-%s-XXXXXX", name);
	if (!mkdtemp(dir))
		fail_msg("mkdtemp failed");
	return dir;
}

void test_dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		unlink(path);
		free(path);
	}
	closedir(d);
	rmdir(dir);
}
