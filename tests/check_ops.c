/* check_ops.c: the operators: numeric gradient checks at random shapes, forward and
 * backward against PyTorch's numbers (tests/fixtures/ops, from tests/peer/make_op_fixtures.py),
 * in-place and accumulating variants, and the error messages users see. */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "net/op.h"
#include "param.h"
#include "rng.h"
#include "testutil.h"

#include "gradcheck.h"

/* ---------------------------------------------------------------- gradient tests */

START_TEST(fc_gradients_match_central_differences_at_random_shapes)
{
	struct mx_rng r;
	double worst = 0;
	rng_seed(&r, 11);
	for (int trial = 0; trial < 4; trial++) {
		struct op_run run;
		char hidden[16];
		int no_bias = trial == 1, flatten = trial != 3, ndim = trial >= 2 ? 3 : 2;
		struct mx_shape shapes[3] = {random_shape(&r, ndim, 5)};
		const char *kv[] = {"num_hidden", hidden, "no_bias", no_bias ? "True" : "False",
				    "flatten", flatten ? "True" : "False", NULL};
		snprintf(hidden, sizeof hidden, "%u", 1 + rng_below(&r, 6));
		run_setup(&run, &op_fully_connected, kv, shapes, &r);
		ck_assert_int_eq(run.n_in, no_bias ? 2 : 3);
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		check_req_add(&run);
		run_free(&run);
	}
	report("FullyConnected", worst);
}
END_TEST

static const char *const act_names[] = {"relu", "sigmoid", "tanh", "softrelu", "softsign"};

START_TEST(activation_gradients_match_central_differences_for_every_act_type)
{
	struct mx_rng r;
	const char *act = act_names[_i];
	double worst = 0;
	rng_seed(&r, 20 + _i);
	for (int trial = 0; trial < 3; trial++) {
		struct op_run run;
		struct mx_shape shapes[1] = {random_shape(&r, 2 + trial % 2, 6)};
		const char *kv[] = {"act_type", act, NULL};
		float *x;
		run_setup(&run, &op_activation, kv, shapes, &r);
		/* keep relu's kink out of the finite difference's reach */
		x = tensor_f32(run.in[0]);
		for (int64_t i = 0; i < shape_size(&shapes[0]); i++) {
			x[i] *= 3.0f;
			if (fabsf(x[i]) < 0.01f)
				x[i] = 0.5f;
		}
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		check_req_add(&run);
		run_free(&run);
	}
	{
		char what[64];
		snprintf(what, sizeof what, "Activation(%s)", act);
		report(what, worst);
	}
}
END_TEST

START_TEST(flatten_gradient_is_the_output_gradient_reshaped)
{
	struct mx_rng r;
	double worst = 0;
	rng_seed(&r, 30);
	for (int trial = 0; trial < 3; trial++) {
		struct op_run run;
		struct mx_shape shapes[1] = {random_shape(&r, 2 + trial, 4)};
		run_setup(&run, &op_flatten, NULL, shapes, &r);
		ck_assert_int_eq(run.out[0]->shape.ndim, 2);
		ck_assert_int_eq(run.out[0]->shape.dim[0], shapes[0].dim[0]);
		ck_assert_int_eq(shape_size(&run.out[0]->shape), shape_size(&shapes[0]));
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		check_req_add(&run);
		run_free(&run);
	}
	report("Flatten", worst);
}
END_TEST

START_TEST(dropout_with_a_fixed_mask_has_gradient_dy_times_mask)
{
	struct mx_rng r;
	double worst = 0;
	rng_seed(&r, 40);
	for (int trial = 0; trial < 3; trial++) {
		struct op_run run;
		struct mx_shape shapes[1] = {random_shape(&r, 2 + trial % 2, 6)};
		const char *kv[] = {"p", "0.4", "mode", "always", NULL};
		const float *mask, *dy, *dx;
		run_setup(&run, &op_dropout, kv, shapes, &r);
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		mask = tensor_f32(run.out[1]);
		dy = tensor_f32(run.out_grad[0]);
		dx = tensor_f32(run.in_grad[0]);
		for (int64_t i = 0; i < shape_size(&shapes[0]); i++)
			ck_assert_float_eq(dx[i], dy[i] * mask[i]);
		check_req_add(&run);
		run_free(&run);
	}
	report("Dropout(mode=always)", worst);
}
END_TEST

START_TEST(add_n_gradients_match_central_differences_for_one_to_four_inputs)
{
	struct mx_rng r;
	double worst = 0;
	rng_seed(&r, 50);
	for (int nargs = 1; nargs <= 4; nargs++) {
		struct op_run run;
		char num[8];
		struct mx_shape shapes[4] = {{0}};
		const char *kv[] = {"num_args", num, NULL};
		snprintf(num, sizeof num, "%d", nargs);
		shapes[nargs - 1] = random_shape(&r, 2, 5); /* the others are inferred from it */
		run_setup(&run, &op_elemwise_sum, kv, shapes, &r);
		ck_assert_int_eq(run.n_in, nargs);
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		check_req_add(&run);
		run_free(&run);
	}
	report("add_n", worst);
}
END_TEST

/* One SoftmaxOutput configuration: its keys, the data shape and how to score its loss. */
struct sm_case {
	const char *kv[12];
	int ndim;
	int64_t dim[4];
	struct ce_loss ce;
	int ignore_some; /* label some rows with ignore_label */
};

/* CE(outer, classes, inner, grad_scale, ignore_label, other fields) */
#define CE(o, c, i, s, ig, ...) {.outer = o, .classes = c, .inner = i, .scale = s, .ignore = ig, __VA_ARGS__}
static const struct sm_case sm_cases[] = {
	{{NULL}, 2, {4, 5}, CE(4, 5, 1, 1, -1, .normalization = 0), 0},
	{{"normalization", "batch", NULL}, 2, {6, 3}, CE(6, 3, 1, 1, -1, .normalization = 1), 0},
	{{"grad_scale", "2.5", NULL}, 2, {3, 7}, CE(3, 7, 1, 2.5, -1, .alpha = 0), 0},
	{{"use_ignore", "True", "normalization", "valid", NULL}, 2, {7, 4},
	 CE(7, 4, 1, 1, -1, .use_ignore = 1, .normalization = 2), 1},
	{{"use_ignore", "True", "ignore_label", "2", NULL}, 2, {6, 4},
	 CE(6, 4, 1, 1, 2, .use_ignore = 1), 1},
	{{"smooth_alpha", "0.3", NULL}, 2, {5, 6}, CE(5, 6, 1, 1, -1, .alpha = 0.3), 0},
	{{"smooth_alpha", "0.1", "normalization", "batch", NULL}, 2, {5, 6},
	 CE(5, 6, 1, 1, -1, .alpha = 0.1, .normalization = 1), 0},
	{{"multi_output", "True", "normalization", "valid", NULL}, 4, {2, 3, 2, 2},
	 CE(2, 3, 4, 1, -1, .normalization = 2, .multi_output = 1), 0},
	{{"multi_output", "True", "use_ignore", "True", NULL}, 3, {3, 4, 3},
	 CE(3, 4, 3, 1, -1, .use_ignore = 1, .multi_output = 1), 1},
	{{"multi_output", "True", "normalization", "batch", NULL}, 3, {2, 3, 5},
	 CE(2, 3, 5, 1, -1, .normalization = 1, .multi_output = 1), 0},
	{{"preserve_shape", "True", NULL}, 3, {2, 3, 4}, CE(6, 4, 1, 1, -1, .normalization = 0), 0},
	{{"preserve_shape", "True", "normalization", "batch", NULL}, 3, {2, 3, 4},
	 CE(6, 4, 1, 1, -1, .normalization = 1), 0},
};
#undef CE

START_TEST(softmax_output_gradient_is_the_cross_entropy_gradient)
{
	const struct sm_case *c = &sm_cases[_i];
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[2] = {{0}};
	float *label;
	int64_t n_label;
	double worst;
	char what[96] = "SoftmaxOutput(";
	rng_seed(&r, 60 + _i);
	shapes[0].ndim = c->ndim;
	memcpy(shapes[0].dim, c->dim, sizeof c->dim);
	run_setup(&run, &op_softmax_output, c->kv, shapes, &r);
	ck_assert_int_eq(run.bw_req[1], OP_REQ_NULL); /* a label gets no gradient */
	n_label = shape_size(&run.in[1]->shape);
	ck_assert_int_eq(n_label, c->ce.outer * c->ce.inner);
	label = tensor_f32(run.in[1]);
	for (int64_t i = 0; i < n_label; i++) {
		label[i] = (float)rng_below(&r, (uint32_t)c->ce.classes);
		if (c->ignore_some && i % 3 == 1)
			label[i] = (float)c->ce.ignore;
	}
	fill_uniform(run.in[0], &r, 2.0f);
	worst = grad_check(&run, &c->ce, 2e-3, 2e-3);
	check_req_add(&run);
	if (c->ignore_some) {
		/* ignored rows: exactly zero */
		const float *dx = tensor_f32(run.in_grad[0]);
		run_backward(&run);
		for (int64_t o = 0; o < c->ce.outer; o++)
			for (int64_t i = 0; i < c->ce.inner; i++)
				if ((int)label[o * c->ce.inner + i] == c->ce.ignore)
					for (int64_t k = 0; k < c->ce.classes; k++)
						ck_assert_float_eq(dx[(o * c->ce.classes + k) * c->ce.inner + i], 0.0f);
	}
	for (int i = 0; c->kv[i]; i += 2)
		snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s=%s", i ? "," : "",
			 c->kv[i], c->kv[i + 1]);
	strcat(what, ")");
	report(what, worst);
	run_free(&run);
}
END_TEST

/* ---------------------------------------------------------------- forward behaviour */

START_TEST(softmax_output_forward_rows_sum_to_one_along_the_class_axis)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[2] = {shape_make(3, 2L, 3L, 4L)};
	const char *kv[] = {"multi_output", "True", NULL};
	const float *y;
	rng_seed(&r, 70);
	run_setup(&run, &op_softmax_output, kv, shapes, &r);
	fill_uniform(run.in[0], &r, 200.0f); /* large logits: e^x alone would overflow */
	run_forward(&run);
	y = tensor_f32(run.out[0]);
	for (int n = 0; n < 2; n++)
		for (int i = 0; i < 4; i++) {
			double sum = 0;
			for (int c = 0; c < 3; c++) {
				float v = y[(n * 3 + c) * 4 + i];
				ck_assert(v >= 0 && v <= 1);
				sum += v;
			}
			ck_assert_double_eq_tol(sum, 1.0, 1e-6);
		}
	run_free(&run);
}
END_TEST

START_TEST(dropout_in_training_zeroes_about_p_and_scales_the_rest)
{
	struct mx_rng r, replay;
	struct op_run run;
	struct mx_shape shapes[1] = {shape_make(2, 100L, 100L)};
	const char *kv[] = {"p", "0.3", NULL};
	const float *x, *y, *mask;
	int64_t dropped = 0;
	const float scale = 1.0f / 0.7f;
	rng_seed(&r, 80);
	run_setup(&run, &op_dropout, kv, shapes, &r);
	run_forward(&run);
	x = tensor_f32(run.in[0]);
	y = tensor_f32(run.out[0]);
	mask = tensor_f32(run.out[1]);
	rng_seed(&replay, 1234); /* run_forward's seed: the mask is drawn in element order */
	for (int64_t i = 0; i < 10000; i++) {
		float want = rng_uniform(&replay) < 0.7f ? scale : 0.0f;
		ck_assert_float_eq(mask[i], want);
		ck_assert_float_eq(y[i], x[i] * want);
		dropped += mask[i] == 0.0f;
	}
	ck_assert_msg(dropped > 2800 && dropped < 3200, "dropped %ld of 10000 with p = 0.3", (long)dropped);
	run_free(&run);
}
END_TEST

START_TEST(dropout_in_inference_is_the_identity_and_leaves_mask_and_rng_alone)
{
	struct mx_rng r, before;
	struct op_run run;
	struct mx_shape shapes[1] = {shape_make(2, 4L, 5L)};
	const char *kv[] = {"p", "0.5", NULL};
	rng_seed(&r, 81);
	run_setup(&run, &op_dropout, kv, shapes, &r);
	tensor_fill(run.out[1], 7.0f);
	run.ctx.is_train = 0;
	rng_seed(&run.rng, 5);
	before = run.rng;
	ck_ok(op_dropout.forward[MX_DEV_CPU](&run.ctx, run.param, run.in, run.out, run.fw_req));
	ck_assert(!memcmp(&before, &run.rng, sizeof before));
	check_close("inference output", tensor_f32(run.out[0]), tensor_f32(run.in[0]), 20, 0, 0);
	for (int i = 0; i < 20; i++)
		ck_assert_float_eq(tensor_f32(run.out[1])[i], 7.0f);
	run_free(&run);
}
END_TEST

START_TEST(dropout_mode_always_drops_in_inference_too)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[1] = {shape_make(2, 50L, 40L)};
	const char *kv[] = {"p", "0.5", "mode", "always", NULL};
	int64_t dropped = 0;
	rng_seed(&r, 82);
	run_setup(&run, &op_dropout, kv, shapes, &r);
	run.ctx.is_train = 0;
	run_forward(&run);
	for (int64_t i = 0; i < 2000; i++) {
		float m = tensor_f32(run.out[1])[i];
		ck_assert(m == 0.0f || m == 2.0f);
		ck_assert_float_eq(tensor_f32(run.out[0])[i], tensor_f32(run.in[0])[i] * m);
		dropped += m == 0.0f;
	}
	ck_assert_msg(dropped > 900 && dropped < 1100, "dropped %ld of 2000 with p = 0.5", (long)dropped);
	run_free(&run);
}
END_TEST

START_TEST(add_n_forward_sums_its_inputs)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[3] = {shape_make(2, 3L, 4L), {0}, shape_make(2, 3L, 4L)};
	const char *kv[] = {"num_args", "3", NULL};
	float want[12];
	struct mx_tensor *out;
	rng_seed(&r, 90);
	run_setup(&run, &op_elemwise_sum, kv, shapes, &r);
	run_forward(&run);
	for (int i = 0; i < 12; i++) {
		want[i] = tensor_f32(run.in[0])[i] + tensor_f32(run.in[1])[i] + tensor_f32(run.in[2])[i];
		ck_assert_float_eq_tol(tensor_f32(run.out[0])[i], want[i], 1e-6);
	}
	/* the output on the last input's memory (the planner may pick any input) */
	out = run.out[0];
	run.out[0] = run.in[2];
	run_forward(&run);
	check_close("sum written over arg2", tensor_f32(run.in[2]), want, 12, 1e-6, 1e-6);
	run.out[0] = out;
	run_free(&run);
}
END_TEST

/* In-place: with the output on input 0's memory (OP_INPLACE), or the input gradient on
 * the output gradient's (OP_BW_INPLACE), the numbers must not change. */
static void check_in_place(const struct op_desc *op, const char *const *kv, struct mx_shape *shapes)
{
	struct mx_rng r;
	struct op_run run;
	float *want_y, *want_dx;
	struct mx_tensor *saved_out, *saved_in_grad, *alias;
	int64_t n;
	rng_seed(&r, 100);
	run_setup(&run, op, kv, shapes, &r);
	fill_uniform(run.out_grad[0], &r, 1.0f);
	n = shape_size(&run.out[0]->shape);
	run_forward(&run);
	run_backward(&run);
	want_y = copy_floats(run.out[0]);
	want_dx = copy_floats(run.in_grad[0]);
	if (op->flags & OP_INPLACE) {
		struct mx_tensor *x = new_tensor(&run.in[0]->shape), *x_saved = run.in[0];
		tensor_copy(x, run.in[0]);
		alias = tensor_reshape(x, &run.out[0]->shape);
		saved_out = run.out[0];
		run.in[0] = x;
		run.out[0] = alias;
		run.fw_req[0] = OP_REQ_INPLACE;
		run_forward(&run);
		check_close("in-place forward", tensor_f32(alias), want_y, n, 0, 0);
		run.in[0] = x_saved;
		run.out[0] = saved_out;
		run.fw_req[0] = OP_REQ_WRITE;
		tensor_free(alias);
		tensor_free(x);
		run_forward(&run);
	}
	if (op->flags & OP_BW_INPLACE) {
		struct mx_tensor *dy = new_tensor(&run.out_grad[0]->shape), *dy_saved = run.out_grad[0];
		tensor_copy(dy, run.out_grad[0]);
		alias = tensor_reshape(dy, &run.in[0]->shape);
		saved_in_grad = run.in_grad[0];
		run.out_grad[0] = dy;
		run.in_grad[0] = alias;
		run.bw_req[0] = OP_REQ_INPLACE;
		run_backward(&run);
		check_close("in-place backward", tensor_f32(alias), want_dx, shape_size(&run.in[0]->shape),
			    0, 0);
		run.out_grad[0] = dy_saved;
		run.in_grad[0] = saved_in_grad;
		tensor_free(alias);
		tensor_free(dy);
	}
	free(want_y);
	free(want_dx);
	run_free(&run);
}

START_TEST(in_place_forward_and_backward_give_the_same_numbers)
{
	const char *relu[] = {"act_type", "relu", NULL}, *tanh_kv[] = {"act_type", "tanh", NULL};
	const char *softsign[] = {"act_type", "softsign", NULL};
	const char *drop[] = {"mode", "always", NULL}, *sum2[] = {"num_args", "2", NULL};
	struct mx_shape one[1] = {shape_make(3, 2L, 3L, 4L)};
	struct mx_shape two[2] = {shape_make(2, 3L, 5L), shape_make(2, 3L, 5L)};
	struct mx_shape sm[2] = {shape_make(2, 4L, 6L)};
	check_in_place(&op_activation, relu, one);
	check_in_place(&op_activation, tanh_kv, one);
	check_in_place(&op_activation, softsign, one);
	check_in_place(&op_flatten, NULL, one);
	check_in_place(&op_dropout, drop, one);
	check_in_place(&op_elemwise_sum, sum2, two);
	check_in_place(&op_softmax_output, NULL, sm);
}
END_TEST

/* ---------------------------------------------------------------- against PyTorch */

static void torch_fc(const char *file, const char *const *kv)
{
	struct fixture fx;
	struct op_run run;
	struct mx_shape xs, ws, ys, shapes[3] = {{0}};
	struct mx_rng r;
	const float *x, *w, *y;
	int has_bias;
	fixture_load(file, &fx);
	x = fixture_get(&fx, "x", &xs);
	w = fixture_get(&fx, "w", &ws);
	y = fixture_get(&fx, "y", &ys);
	shapes[0] = xs;
	rng_seed(&r, 1);
	run_setup(&run, &op_fully_connected, kv, shapes, &r);
	has_bias = run.n_in == 3;
	ck_assert_msg(shape_equal(&run.in[1]->shape, &ws), "%s: inferred weight shape", file);
	ck_assert_msg(shape_equal(&run.out[0]->shape, &ys), "%s: inferred output shape", file);
	memcpy(run.in[0]->data, x, tensor_bytes(run.in[0]));
	memcpy(run.in[1]->data, w, tensor_bytes(run.in[1]));
	if (has_bias)
		memcpy(run.in[2]->data, fixture_get(&fx, "b", NULL), tensor_bytes(run.in[2]));
	memcpy(run.out_grad[0]->data, fixture_get(&fx, "dy", NULL), tensor_bytes(run.out_grad[0]));
	run_forward(&run);
	run_backward(&run);
	check_close(file, tensor_f32(run.out[0]), y, shape_size(&ys), 1e-5, 1e-5);
	check_close("dx", tensor_f32(run.in_grad[0]), fixture_get(&fx, "dx", NULL), shape_size(&xs), 1e-5, 1e-5);
	check_close("dw", tensor_f32(run.in_grad[1]), fixture_get(&fx, "dw", NULL), shape_size(&ws), 1e-5, 1e-5);
	if (has_bias)
		check_close("db", tensor_f32(run.in_grad[2]), fixture_get(&fx, "db", NULL),
			    shape_size(&run.in[2]->shape), 1e-5, 1e-5);
	{
		/* the first layer: no data gradient wanted, and no array for it */
		struct mx_tensor *dx = run.in_grad[0];
		run.in_grad[0] = NULL;
		run.bw_req[0] = OP_REQ_NULL;
		tensor_fill(run.in_grad[1], 0.0f);
		run_backward(&run);
		check_close("dw without dx", tensor_f32(run.in_grad[1]), fixture_get(&fx, "dw", NULL),
			    shape_size(&ws), 1e-5, 1e-5);
		run.in_grad[0] = dx;
	}
	run_free(&run);
	fixture_free(&fx);
}

START_TEST(fc_forward_and_backward_match_pytorch)
{
	const char *bias[] = {"num_hidden", "4", NULL};
	const char *nobias[] = {"num_hidden", "3", "no_bias", "True", NULL};
	const char *flat[] = {"num_hidden", "5", NULL};
	const char *noflat[] = {"num_hidden", "5", "flatten", "False", NULL};
	torch_fc("fc_bias", bias);
	torch_fc("fc_nobias", nobias);
	torch_fc("fc_flatten", flat);
	torch_fc("fc_noflatten", noflat);
}
END_TEST

START_TEST(activation_forward_and_backward_match_pytorch)
{
	const char *act = act_names[_i];
	char file[32];
	struct fixture fx;
	struct op_run run;
	struct mx_shape xs, shapes[1];
	struct mx_rng r;
	const char *kv[] = {"act_type", act, NULL};
	snprintf(file, sizeof file, "act_%s", act);
	fixture_load(file, &fx);
	fixture_get(&fx, "x", &xs);
	shapes[0] = xs;
	rng_seed(&r, 1);
	run_setup(&run, &op_activation, kv, shapes, &r);
	memcpy(run.in[0]->data, fixture_get(&fx, "x", NULL), tensor_bytes(run.in[0]));
	memcpy(run.out_grad[0]->data, fixture_get(&fx, "dy", NULL), tensor_bytes(run.in[0]));
	run_forward(&run);
	run_backward(&run);
	check_close(file, tensor_f32(run.out[0]), fixture_get(&fx, "y", NULL), shape_size(&xs), 1e-5, 1e-5);
	check_close("dx", tensor_f32(run.in_grad[0]), fixture_get(&fx, "dx", NULL), shape_size(&xs),
		    1e-5, 1e-5);
	run_free(&run);
	fixture_free(&fx);
}
END_TEST

START_TEST(softmax_output_matches_pytorch_softmax_and_cross_entropy)
{
	static const char *const files[] = {"softmax_ce_sum", "softmax_ce_mean"};
	static const char *const norms[] = {"null", "batch"};
	for (int k = 0; k < 2; k++) {
		struct fixture fx;
		struct op_run run;
		struct mx_shape xs, shapes[2] = {{0}};
		struct mx_rng r;
		const char *kv[] = {"normalization", norms[k], NULL};
		fixture_load(files[k], &fx);
		fixture_get(&fx, "x", &xs);
		shapes[0] = xs;
		rng_seed(&r, 1);
		run_setup(&run, &op_softmax_output, kv, shapes, &r);
		memcpy(run.in[0]->data, fixture_get(&fx, "x", NULL), tensor_bytes(run.in[0]));
		memcpy(run.in[1]->data, fixture_get(&fx, "label", NULL), tensor_bytes(run.in[1]));
		run_forward(&run);
		run_backward(&run);
		check_close(files[k], tensor_f32(run.out[0]), fixture_get(&fx, "y", NULL), shape_size(&xs),
			    1e-5, 1e-5);
		check_close("dx", tensor_f32(run.in_grad[0]), fixture_get(&fx, "dx", NULL),
			    shape_size(&xs), 1e-5, 1e-5);
		run_free(&run);
		fixture_free(&fx);
	}
}
END_TEST

/* The options PyTorch has no twin for, against MXNet 1.9.1's own SoftmaxOutput. */
START_TEST(softmax_output_options_match_mxnet)
{
	static const struct {
		const char *file;
		const char *kv[10];
	} cases[] = {
		{"softmax_mx_multi_batch", {"multi_output", "True", "use_ignore", "True",
					    "normalization", "batch", NULL}},
		{"softmax_mx_multi_null", {"multi_output", "True", NULL}},
		{"softmax_mx_preserve_batch", {"preserve_shape", "True", "normalization", "batch", NULL}},
		{"softmax_mx_smooth_valid", {"smooth_alpha", "0.2", "use_ignore", "True",
					     "normalization", "valid", "grad_scale", "3", NULL}},
	};
	for (int k = 0; k < 4; k++) {
		struct fixture fx;
		struct op_run run;
		struct mx_shape xs, ls, shapes[2] = {{0}};
		struct mx_rng r;
		fixture_load(cases[k].file, &fx);
		fixture_get(&fx, "x", &xs);
		fixture_get(&fx, "label", &ls);
		shapes[0] = xs;
		shapes[1] = ls;
		rng_seed(&r, 1);
		run_setup(&run, &op_softmax_output, cases[k].kv, shapes, &r);
		memcpy(run.in[0]->data, fixture_get(&fx, "x", NULL), tensor_bytes(run.in[0]));
		memcpy(run.in[1]->data, fixture_get(&fx, "label", NULL), tensor_bytes(run.in[1]));
		run_forward(&run);
		run_backward(&run);
		check_close(cases[k].file, tensor_f32(run.out[0]), fixture_get(&fx, "y", NULL),
			    shape_size(&xs), 1e-5, 1e-5);
		check_close("dx", tensor_f32(run.in_grad[0]), fixture_get(&fx, "dx", NULL),
			    shape_size(&xs), 1e-5, 1e-5);
		run_free(&run);
		fixture_free(&fx);
	}
}
END_TEST

/* ---------------------------------------------------------------- descriptors, shapes */

START_TEST(operators_are_found_by_mxnet_name_and_conf_alias)
{
	ck_assert_ptr_eq(op_find("FullyConnected"), &op_fully_connected);
	ck_assert_ptr_eq(op_find("fc"), &op_fully_connected);
	ck_assert_ptr_eq(op_find("act"), &op_activation);
	ck_assert_ptr_eq(op_find("Activation"), &op_activation);
	ck_assert_ptr_eq(op_find("Flatten"), &op_flatten);
	ck_assert_ptr_eq(op_find("Dropout"), &op_dropout);
	ck_assert_ptr_eq(op_find("SoftmaxOutput"), &op_softmax_output);
	ck_assert_ptr_eq(op_find("Softmax"), &op_softmax_output);
	ck_assert_ptr_eq(op_find("softmax"), &op_softmax_output);
	ck_assert_ptr_eq(op_find("add_n"), &op_elemwise_sum);
	ck_assert_ptr_eq(op_find("ElementWiseSum"), &op_elemwise_sum);
	ck_assert_ptr_eq(op_find("elemwise_sum"), &op_elemwise_sum);
	ck_assert_int_eq(op_dropout.n_outputs, 2);
	ck_assert_int_eq(op_dropout.n_visible_outputs, 1);
	ck_assert_uint_eq(op_softmax_output.label_mask, 2);
}
END_TEST

START_TEST(input_names_follow_mxnet_and_depend_on_parameters)
{
	const char *names[8];
	const char *fc_kv[] = {"num_hidden", "8", "no_bias", "True", NULL};
	const char *sum_kv[] = {"num_args", "12", NULL};
	void *p = parse_param(&op_fully_connected, fc_kv);
	void *q = parse_param(&op_elemwise_sum, sum_kv);
	const char *many[16];
	ck_assert_int_eq(op_input_names(&op_fully_connected, p, names, 8), 2);
	ck_assert_str_eq(names[0], "data");
	ck_assert_str_eq(names[1], "weight");
	ck_ok(param_set(op_fully_connected.params, p, "no_bias", "False"));
	ck_assert_int_eq(op_input_names(&op_fully_connected, p, names, 8), 3);
	ck_assert_str_eq(names[2], "bias");
	ck_assert_int_eq(op_input_names(&op_elemwise_sum, q, many, 16), 12);
	ck_assert_str_eq(many[0], "arg0");
	ck_assert_str_eq(many[11], "arg11");
	ck_assert_int_eq(op_num_data_inputs(&op_elemwise_sum, q), 12);
	ck_assert_int_eq(op_input_names(&op_softmax_output, NULL, names, 8), 2);
	ck_assert_str_eq(names[1], "label");
	free(p);
	free(q);
}
END_TEST

START_TEST(fc_infers_weight_bias_and_output_shapes)
{
	const char *kv[] = {"num_hidden", "256", NULL}, *kv2[] = {"num_hidden", "7", "flatten", "False", NULL};
	void *p = parse_param(&op_fully_connected, kv), *q = parse_param(&op_fully_connected, kv2);
	struct mx_shape in[3] = {shape_make(4, 100L, 1L, 28L, 28L)}, out[1] = {{0}};
	struct mx_shape want_w = shape_make(2, 256L, 784L), want_b = shape_make(1, 256L);
	struct mx_shape want_y = shape_make(2, 100L, 256L), want_y2 = shape_make(3, 2L, 3L, 7L);
	ck_ok(op_fully_connected.infer_shape(p, in, 3, out, 1));
	ck_assert(shape_equal(&in[1], &want_w));
	ck_assert(shape_equal(&in[2], &want_b));
	ck_assert(shape_equal(&out[0], &want_y));
	memset(in, 0, sizeof in);
	in[0] = shape_make(3, 2L, 3L, 4L);
	ck_ok(op_fully_connected.infer_shape(q, in, 3, out, 1));
	ck_assert(shape_equal(&out[0], &want_y2));
	want_w = shape_make(2, 7L, 4L);
	ck_assert(shape_equal(&in[1], &want_w));
	free(p);
	free(q);
}
END_TEST

START_TEST(softmax_output_infers_label_shapes)
{
	const char *multi[] = {"multi_output", "True", NULL};
	void *p = op_param_new(&op_softmax_output), *q = parse_param(&op_softmax_output, multi);
	struct mx_shape in[2] = {shape_make(2, 100L, 10L)}, out[1];
	struct mx_shape want = shape_make(1, 100L), want_multi = shape_make(3, 2L, 5L, 6L);
	struct mx_shape flat_label = shape_make(2, 2L, 30L);
	ck_ok(op_softmax_output.infer_shape(p, in, 2, out, 1));
	ck_assert(shape_equal(&in[1], &want));
	ck_assert(shape_equal(&out[0], &in[0]));
	in[0] = shape_make(4, 2L, 3L, 5L, 6L);
	in[1].ndim = 0;
	ck_ok(op_softmax_output.infer_shape(q, in, 2, out, 1));
	ck_assert(shape_equal(&in[1], &want_multi));
	in[1] = flat_label; /* MXNet's (N, H*W) label is accepted too */
	ck_ok(op_softmax_output.infer_shape(q, in, 2, out, 1));
	free(p);
	free(q);
}
END_TEST

/* ---------------------------------------------------------------- error paths */

START_TEST(unknown_keys_get_a_did_you_mean)
{
	void *p = op_param_new(&op_fully_connected);
	void *q = op_param_new(&op_softmax_output);
	ck_assert_int_eq(param_set(op_fully_connected.params, p, "num_hiden", "10"), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "unknown key \"num_hiden\" (did you mean \"num_hidden\"?)");
	ck_assert_int_eq(param_set(op_softmax_output.params, q, "normalisation", "batch"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "did you mean \"normalization\""));
	ck_assert_int_eq(param_set(op_softmax_output.params, q, "normalization", "batches"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "did you mean \"batch\""));
	free(p);
	free(q);
}
END_TEST

START_TEST(activation_rejects_an_unknown_act_type)
{
	void *p = op_param_new(&op_activation);
	ck_assert_int_eq(param_set(op_activation.params, p, "act_type", "rleu"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(),
		"act_type: \"rleu\" is not one of relu, sigmoid, tanh, softrelu, softsign"));
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "did you mean \"relu\""));
	free(p);
}
END_TEST

START_TEST(fc_shape_mismatch_names_data_weight_and_the_expected_shape)
{
	const char *kv[] = {"num_hidden", "256", NULL};
	void *p = parse_param(&op_fully_connected, kv);
	struct mx_shape in[3] = {shape_make(2, 100L, 785L), shape_make(2, 256L, 784L)}, out[1];
	ck_assert_int_eq(op_fully_connected.infer_shape(p, in, 3, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(),
			 "data (100,785) does not match weight (256,784): expected weight (256,785)");
	in[0] = shape_make(2, 100L, 784L);
	in[2] = shape_make(1, 255L);
	ck_assert_int_eq(op_fully_connected.infer_shape(p, in, 3, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(),
			 "bias (255) does not match num_hidden 256: expected bias (256)");
	free(p);
}
END_TEST

START_TEST(num_hidden_zero_or_missing_is_rejected)
{
	void *p = op_param_new(&op_fully_connected);
	ck_assert_int_eq(param_set(op_fully_connected.params, p, "num_hidden", "0"), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "num_hidden = 0 is out of range (must be >= 1)");
	ck_assert_int_eq(op_fully_connected.check_param(p), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "num_hidden must be given and > 0, got 0");
	free(p);
}
END_TEST

START_TEST(other_bad_parameters_and_shapes_are_rejected_with_their_values)
{
	void *drop = op_param_new(&op_dropout);
	const char *kv[] = {"num_args", "2", NULL};
	void *sum = parse_param(&op_elemwise_sum, kv);
	void *sm = op_param_new(&op_softmax_output);
	struct mx_shape in[2] = {shape_make(2, 3L, 4L), shape_make(2, 3L, 5L)}, out[1];
	ck_ok(param_set(op_dropout.params, drop, "p", "1"));
	ck_assert_int_eq(op_dropout.check_param(drop), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "p = 1 is out of range [0, 1)");
	ck_assert_int_eq(param_set(op_dropout.params, drop, "mode", "sometimes"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "is not one of training, always"));
	ck_assert_int_eq(op_elemwise_sum.infer_shape(sum, in, 2, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(),
			 "arg1 (3,5) does not match arg0 (3,4): all inputs must have the same shape");
	in[0] = shape_make(2, 8L, 10L);
	in[1] = shape_make(1, 10L);
	ck_assert_int_eq(op_softmax_output.infer_shape(sm, in, 2, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(),
			 "label (10) does not match data (8,10): expected label (8)");
	free(drop);
	free(sum);
	free(sm);
}
END_TEST

START_TEST(softmax_output_backward_rejects_a_label_outside_the_classes)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[2] = {shape_make(2, 3L, 10L)};
	struct op_ctx ctx = {0};
	rng_seed(&r, 110);
	run_setup(&run, &op_softmax_output, NULL, shapes, &r);
	tensor_f32(run.in[1])[2] = 10.0f;
	run_forward(&run);
	ck_assert_int_eq(op_softmax_output.backward[MX_DEV_CPU](&ctx, run.param, NULL, run.in, run.out,
								 run.in_grad, run.bw_req),
			 MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "label 10 at index 2 is outside [0, 10)");
	run_free(&run);
}
END_TEST

static Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *grad = tcase_create("gradients"), *fwd = tcase_create("forward");
	TCase *torch = tcase_create("references"), *desc = tcase_create("descriptors");
	TCase *err = tcase_create("errors");
	int n_sm = sizeof sm_cases / sizeof sm_cases[0];
	tcase_set_timeout(grad, 60);
	tcase_add_test(grad, fc_gradients_match_central_differences_at_random_shapes);
	tcase_add_loop_test(grad, activation_gradients_match_central_differences_for_every_act_type, 0, 5);
	tcase_add_test(grad, flatten_gradient_is_the_output_gradient_reshaped);
	tcase_add_test(grad, dropout_with_a_fixed_mask_has_gradient_dy_times_mask);
	tcase_add_test(grad, add_n_gradients_match_central_differences_for_one_to_four_inputs);
	tcase_add_loop_test(grad, softmax_output_gradient_is_the_cross_entropy_gradient, 0, n_sm);
	tcase_add_test(fwd, softmax_output_forward_rows_sum_to_one_along_the_class_axis);
	tcase_add_test(fwd, dropout_in_training_zeroes_about_p_and_scales_the_rest);
	tcase_add_test(fwd, dropout_in_inference_is_the_identity_and_leaves_mask_and_rng_alone);
	tcase_add_test(fwd, dropout_mode_always_drops_in_inference_too);
	tcase_add_test(fwd, add_n_forward_sums_its_inputs);
	tcase_add_test(fwd, in_place_forward_and_backward_give_the_same_numbers);
	tcase_add_test(torch, fc_forward_and_backward_match_pytorch);
	tcase_add_loop_test(torch, activation_forward_and_backward_match_pytorch, 0, 5);
	tcase_add_test(torch, softmax_output_matches_pytorch_softmax_and_cross_entropy);
	tcase_add_test(torch, softmax_output_options_match_mxnet);
	tcase_add_test(desc, operators_are_found_by_mxnet_name_and_conf_alias);
	tcase_add_test(desc, input_names_follow_mxnet_and_depend_on_parameters);
	tcase_add_test(desc, fc_infers_weight_bias_and_output_shapes);
	tcase_add_test(desc, softmax_output_infers_label_shapes);
	tcase_add_test(err, unknown_keys_get_a_did_you_mean);
	tcase_add_test(err, activation_rejects_an_unknown_act_type);
	tcase_add_test(err, fc_shape_mismatch_names_data_weight_and_the_expected_shape);
	tcase_add_test(err, num_hidden_zero_or_missing_is_rejected);
	tcase_add_test(err, other_bad_parameters_and_shapes_are_rejected_with_their_values);
	tcase_add_test(err, softmax_output_backward_rejects_a_label_outside_the_classes);
	suite_add_tcase(s, grad);
	suite_add_tcase(s, fwd);
	suite_add_tcase(s, torch);
	suite_add_tcase(s, desc);
	suite_add_tcase(s, err);
	return s;
}

int main(void) { return run_suite(ops_suite()); }
