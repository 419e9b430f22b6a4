/* check_ops_conv.c: placeholder suite until issue 4's operators land. */
#include "testutil.h"
int main(void) { Suite *s = suite_create("check_ops_conv"); suite_add_tcase(s, tcase_create("none")); return run_suite(s); }
