/* Temporary directories for the unit tests (include after <cmocka.h>). */
#ifndef ESP_TEST_TESTDIR_H
#define ESP_TEST_TESTDIR_H

/* Creates /tmp/esp-test-<name>-XXXXXX (mkdtemp's template) and returns its
 * path, which the caller frees; fails the test when it cannot. */
char *test_dir_make(const char *name);
/* Removes the files in dir, then dir (one level: the tests make no more). */
void test_dir_remove(const char *dir);

#endif
