/* check_core.c: the shared core: shapes, tensors, the storage pool, parameter tables,
 * the random generator and the engine's contract. */
#include <stddef.h>
#include <string.h>

#include "engine/engine.h"
#include "param.h"
#include "pool.h"
#include "rng.h"
#include "testutil.h"

START_TEST(shape_size_and_text_follow_the_dims)
{
	struct mx_shape s = shape_make(3, 2L, 3L, 4L), u = {0};
	char buf[64];
	ck_assert_int_eq(shape_size(&s), 24);
	ck_assert_str_eq(shape_str(&s, buf, sizeof buf), "(2,3,4)");
	ck_assert_int_eq(shape_size(&u), 0);
	ck_assert_str_eq(shape_str(&u, buf, sizeof buf), "(?)");
	ck_assert(!shape_equal(&s, &u));
}
END_TEST

START_TEST(a_reshape_shares_bytes_and_keeps_storage_alive)
{
	struct mx_shape s = shape_make(2, 2L, 3L), r = shape_make(1, 6L), bad = shape_make(1, 7L);
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU), *v;
	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 6; i++)
		tensor_f32(t)[i] = (float)i;
	v = tensor_reshape(t, &r);
	ck_assert_ptr_nonnull(v);
	tensor_free(t);
	ck_assert_float_eq(tensor_f32(v)[5], 5.0f);
	ck_assert_ptr_null(tensor_reshape(v, &bad));
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "cannot reshape (6) to (7)"));
	tensor_free(v);
}
END_TEST

START_TEST(the_pool_reuses_freed_blocks_and_hands_them_out_zeroed)
{
	struct mx_shape s = shape_make(1, 1000L);
	struct mx_tensor *a = tensor_new(&s, MX_F32, MX_CPU), *b;
	void *first = a->data;
	size_t in_use = pool_bytes_in_use(MX_CPU);
	tensor_fill(a, 3.0f);
	tensor_free(a);
	ck_assert_uint_lt(pool_bytes_in_use(MX_CPU), in_use);
	b = tensor_new(&s, MX_F32, MX_CPU);
	ck_assert_ptr_eq(b->data, first);
	ck_assert_float_eq(tensor_f32(b)[999], 0.0f);
	tensor_free(b);
}
END_TEST

struct sample {
	int n;
	float f;
	int flag;
	char s[8];
	int e;
	struct mx_shape k;
};
static const char *const colors[] = {"red", "green", NULL};
static const struct param_spec sample_params[] = {
	{"num_hidden", PARAM_INT, offsetof(struct sample, n), 0, NULL, NULL, 1, 1e9, "required"},
	{"lr", PARAM_FLOAT, offsetof(struct sample, f), 0, "0.5", NULL, 0, 10, ""},
	{"no_bias", PARAM_BOOL, offsetof(struct sample, flag), 0, "False", NULL, 0, 0, ""},
	{"name", PARAM_STRING, offsetof(struct sample, s), 8, "x", NULL, 0, 0, ""},
	{"color", PARAM_ENUM, offsetof(struct sample, e), 0, "green", colors, 0, 0, ""},
	{"kernel", PARAM_SHAPE, offsetof(struct sample, k), 0, "()", NULL, 1, 1e9, ""},
	PARAM_END,
};

START_TEST(params_take_defaults_and_parse_each_type)
{
	struct sample p;
	char buf[64];
	memset(&p, 0, sizeof p);
	param_defaults(sample_params, &p);
	ck_assert_float_eq(p.f, 0.5f);
	ck_assert_int_eq(p.e, 1);
	ck_assert_int_eq(p.k.ndim, 0);
	ck_ok(param_set(sample_params, &p, "num_hidden", "128"));
	ck_ok(param_set(sample_params, &p, "no_bias", "True"));
	ck_ok(param_set(sample_params, &p, "color", "red"));
	ck_ok(param_set(sample_params, &p, "kernel", "(3, 5)"));
	ck_assert_int_eq(p.n, 128);
	ck_assert_int_eq(p.flag, 1);
	ck_assert_int_eq(p.e, 0);
	ck_assert_int_eq(p.k.ndim, 2);
	ck_assert_int_eq(p.k.dim[1], 5);
	param_format(&sample_params[5], &p, buf, sizeof buf);
	ck_assert_str_eq(buf, "(3, 5)");
	param_format(&sample_params[2], &p, buf, sizeof buf);
	ck_assert_str_eq(buf, "True");
}
END_TEST

START_TEST(params_reject_bad_values_naming_the_key)
{
	struct sample p;
	param_defaults(sample_params, &p);
	ck_assert_int_eq(param_set(sample_params, &p, "num_hiden", "3"), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "unknown key \"num_hiden\" (did you mean \"num_hidden\"?)");
	ck_assert_int_eq(param_set(sample_params, &p, "zzzzzz", "3"), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "unknown key \"zzzzzz\"");
	ck_assert_int_eq(param_set(sample_params, &p, "num_hidden", "abc"), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "num_hidden: expected an integer, got \"abc\"");
	ck_assert_int_eq(param_set(sample_params, &p, "num_hidden", "0"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "num_hidden = 0 is out of range"));
	ck_assert_int_eq(param_set(sample_params, &p, "lr", "11"), MX_ERR_INVALID);
	ck_assert_int_eq(param_set(sample_params, &p, "no_bias", "maybe"), MX_ERR_INVALID);
	ck_assert_int_eq(param_set(sample_params, &p, "name", "waytoolong"), MX_ERR_INVALID);
	ck_assert_int_eq(param_set(sample_params, &p, "color", "gren"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "(did you mean \"green\"?)"));
	ck_assert_int_eq(param_set(sample_params, &p, "kernel", "(3, x)"), MX_ERR_INVALID);
	ck_assert_int_eq(param_set(sample_params, &p, "kernel", "(0)"), MX_ERR_INVALID);
}
END_TEST

START_TEST(the_rng_is_deterministic_and_roughly_standard)
{
	struct mx_rng a, b;
	double sum = 0, sq = 0;
	int64_t idx[100], seen[100] = {0};
	rng_seed(&a, 42);
	rng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_eq(rng_u64(&a), rng_u64(&b));
	for (int i = 0; i < 100000; i++) {
		float x = rng_normal(&a), u = rng_uniform(&b);
		sum += x;
		sq += x * x;
		ck_assert(u >= 0.0f && u < 1.0f);
	}
	ck_assert_double_lt(fabs(sum / 100000), 0.02);
	ck_assert_double_lt(fabs(sq / 100000 - 1.0), 0.03);
	for (int i = 0; i < 100; i++)
		idx[i] = i;
	rng_shuffle(&a, idx, 100);
	for (int i = 0; i < 100; i++)
		seen[idx[i]]++;
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(seen[i], 1);
}
END_TEST

static int order[8], n_order;
static int record(void *arg)
{
	order[n_order++] = *(int *)arg;
	return *(int *)arg == 99 ? mx_error(MX_ERR_FORMAT, "task failed on purpose") : MX_OK;
}
static int cleaned;
static void count_cleanup(void *arg) { cleaned++; }

START_TEST(the_engine_runs_tasks_in_order_and_reports_errors_at_the_next_wait)
{
	struct engine *e = engine_create(ENGINE_NAIVE, 1);
	struct engine_var *v = engine_var_new(e), *w = engine_var_new(e);
	int one = 1, two = 2, bad = 99;
	n_order = cleaned = 0;
	ck_ok(engine_push(e, record, &one, count_cleanup, NULL, 0, &v, 1, 0, "first"));
	ck_ok(engine_push(e, record, &two, count_cleanup, &v, 1, &w, 1, 0, "second"));
	ck_ok(engine_wait_var(e, w));
	ck_assert_int_eq(n_order, 2);
	ck_assert_int_eq(order[0], 1);
	ck_assert_int_eq(order[1], 2);
	ck_ok(engine_push(e, record, &bad, count_cleanup, NULL, 0, &v, 1, 0, "layer fc9"));
	ck_assert_int_eq(engine_wait_all(e), MX_ERR_FORMAT);
	ck_assert_str_eq(mx_error_message(), "layer fc9: task failed on purpose");
	ck_ok(engine_wait_all(e)); /* reported once */
	ck_assert_int_eq(cleaned, 3);
	engine_var_free(e, v);
	engine_var_free(e, w);
	engine_free(e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, shape_size_and_text_follow_the_dims);
	tcase_add_test(tc, a_reshape_shares_bytes_and_keeps_storage_alive);
	tcase_add_test(tc, the_pool_reuses_freed_blocks_and_hands_them_out_zeroed);
	tcase_add_test(tc, params_take_defaults_and_parse_each_type);
	tcase_add_test(tc, params_reject_bad_values_naming_the_key);
	tcase_add_test(tc, the_rng_is_deterministic_and_roughly_standard);
	tcase_add_test(tc, the_engine_runs_tasks_in_order_and_reports_errors_at_the_next_wait);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
