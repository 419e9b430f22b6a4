/* testutil.h: helpers shared by the Check suites. */
#ifndef MX_TESTUTIL_H
#define MX_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "tensor.h"

/* Fails the test with the library's error message when rc is not MX_OK. */
#define ck_ok(expr) do { int rc_ = (expr); \
	ck_assert_msg(rc_ == 0, "%s failed (%d): %s", #expr, rc_, mx_error_message()); } while (0)

/* Compares two float arrays with absolute + relative tolerance; names the first bad index. */
static inline void check_close(const char *label, const float *got, const float *want, long n,
			       double atol, double rtol)
{
	for (long i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]);
		ck_assert_msg(d <= atol + rtol * fabs(want[i]) && !isnan(got[i]),
			      "%s[%ld]: got %.9g, want %.9g (|diff| %.3g)", label, i, got[i], want[i], d);
	}
}

/* Runs a suite and returns the process exit status (Check prints its summary line). */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- a scratch folder for the files a test writes ---------------------------------------
 * As a checked fixture, tcase_add_checked_fixture(tc, make_tmpdir, remove_tmpdir), each test
 * gets a new one; a program can also make one for all its tests with tmpdir_create. */

static char tmpdir[256];   /* /tmp/<test source file's name>.XXXXXX once made */

/* Makes tmpdir, named after the test program's source file. Returns 0, or -1 with errno
 * set. */
static inline int tmpdir_create(void)
{
	const char *name = strrchr(__BASE_FILE__, '/') ? strrchr(__BASE_FILE__, '/') + 1 : __BASE_FILE__;
	const char *dot = strrchr(name, '.');
	snprintf(tmpdir, sizeof tmpdir, "/tmp/%.*s.XXXXXX", (int)(dot ? dot - name : (long)strlen(name)), name);
	return mkdtemp(tmpdir) ? 0 : -1;
}

/* Removes tmpdir and everything in it. Returns 0, or non-zero if rm failed. */
static inline int tmpdir_remove(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd);
}

static inline void make_tmpdir(void)
{
	ck_assert_msg(tmpdir_create() == 0, "cannot make %s: %s", tmpdir, strerror(errno));
}

static inline void remove_tmpdir(void)
{
	ck_assert_msg(tmpdir_remove() == 0, "cannot remove %s", tmpdir);
}

/* "<tmpdir>/<name>", in one of 8 buffers used in turn (so up to 8 paths can be live). */
static inline char *tmp_path(const char *name)
{
	static char buf[8][512];
	static int k;
	char *p = buf[k++ & 7];
	snprintf(p, 512, "%s/%s", tmpdir, name);
	return p;
}

static inline int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Reads a whole file; returns its bytes, NUL-terminated (the caller frees them), and its
 * size. Fails the test if the file cannot be read. */
static inline unsigned char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;
	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n + 1);
	ck_assert_int_eq(fread(buf, 1, n, f), n);
	buf[n] = 0;
	fclose(f);
	*size = (size_t)n;
	return buf;
}

/* Writes size bytes to path (replacing it); fails the test on any error. */
static inline void spit(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
	ck_assert_int_eq(fwrite(data, 1, size, f), size);
	ck_assert_int_eq(fclose(f), 0);
}

static inline void spit_text(const char *path, const char *text)
{
	spit(path, text, strlen(text));
}

#endif
