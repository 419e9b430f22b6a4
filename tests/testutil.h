/* testutil.h: helpers shared by the Check suites. */
#ifndef MX_TESTUTIL_H
#define MX_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
