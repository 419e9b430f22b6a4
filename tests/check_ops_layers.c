/* check_ops_layers.c: the layer operators of convolutional networks (BatchNorm, LRN,
 * LeakyReLU, Concat, elemwise_add, Reshape, SoftmaxActivation, the regression outputs):
 * numeric gradient checks at random shapes, forward and backward against PyTorch and
 * MXNet 1.9.1 (tests/fixtures/layers, from tests/peer/make_layer_fixtures.py), in-place and
 * accumulating variants, and the error messages users see. */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "net/op.h"
#include "param.h"
#include "rng.h"
#include "testutil.h"

#include "gradcheck.h"

/* ---------------------------------------------------------------- helpers */

/* Loads tests/fixtures/layers/<name>.txt (gradcheck.h's loader starts in fixtures/ops). */
static void layer_fixture(const char *name, struct fixture *fx)
{
	char base[96];
	snprintf(base, sizeof base, "../layers/%s", name);
	fixture_load(base, fx);
}

static struct mx_shape fixture_shape(const struct fixture *fx, const char *name)
{
	struct mx_shape s;
	fixture_get(fx, name, &s);
	return s;
}

/* Copies fixture array `name` into t, which must have as many values. */
static void load_into(const struct fixture *fx, const char *name, struct mx_tensor *t)
{
	struct mx_shape s;
	const float *v = fixture_get(fx, name, &s);
	ck_assert_msg(shape_size(&s) == shape_size(&t->shape), "fixture %s: %lld values for %lld", name,
		      (long long)shape_size(&s), (long long)shape_size(&t->shape));
	memcpy(t->data, v, tensor_bytes(t));
}

/* t against fixture array `name`, to 1e-4 relative (and 1e-5 absolute near zero). */
static void expect_fixture(const char *file, const struct fixture *fx, const char *name,
			   const struct mx_tensor *t)
{
	struct mx_shape s;
	const float *want = fixture_get(fx, name, &s);
	char label[96];
	snprintf(label, sizeof label, "%s: %s", file, name);
	ck_assert_msg(shape_size(&s) == shape_size(&t->shape), "%s: size %lld, want %lld", label,
		      (long long)shape_size(&t->shape), (long long)shape_size(&s));
	check_close(label, tensor_f32(t), want, shape_size(&s), 1e-5, 1e-4);
}

/* Backward with req ADD on top of a known value gives that value plus what req WRITE
 * wrote (for ops whose forward only writes). */
static void check_backward_add(struct op_run *r)
{
	float *want[MAX_IO] = {0};
	run_backward(r);
	for (int i = 0; i < r->n_in; i++) {
		if (r->bw_req[i] == OP_REQ_NULL)
			continue;
		want[i] = copy_floats(r->in_grad[i]);
		for (int64_t j = 0; j < shape_size(&r->in[i]->shape); j++)
			want[i][j] += 0.25f;
		tensor_fill(r->in_grad[i], 0.25f);
		r->bw_req[i] = OP_REQ_ADD;
	}
	run_backward(r);
	for (int i = 0; i < r->n_in; i++) {
		if (!want[i])
			continue;
		check_close("accumulated gradient", tensor_f32(r->in_grad[i]), want[i],
			    shape_size(&r->in[i]->shape), 1e-6, 1e-6);
		r->bw_req[i] = OP_REQ_WRITE;
		free(want[i]);
	}
}

/* Keeps values at least `gap` away from zero (a kink's finite difference is meaningless). */
static void away_from_zero(struct mx_tensor *t, float gap)
{
	float *x = tensor_f32(t);
	for (int64_t i = 0; i < shape_size(&t->shape); i++)
		if (fabsf(x[i]) < gap)
			x[i] = x[i] < 0 ? -gap - 0.05f : gap + 0.05f;
}

static struct mx_shape shape_between(struct mx_rng *r, int ndim, int lo, int hi)
{
	struct mx_shape s = {0};
	s.ndim = ndim;
	for (int i = 0; i < ndim; i++)
		s.dim[i] = lo + rng_below(r, (uint32_t)(hi - lo + 1));
	return s;
}

static void describe(char *buf, size_t size, const char *op, const char *const *kv)
{
	size_t n = snprintf(buf, size, "%s(", op);
	for (int i = 0; kv && kv[i] && n < size; i += 2)
		n += snprintf(buf + n, size - n, "%s%s=%s", i ? "," : "", kv[i], kv[i + 1]);
	if (n < size)
		snprintf(buf + n, size - n, ")");
}

/* ---------------------------------------------------------------- BatchNorm gradients */

/* Moving variances must be positive; auxiliary states get no gradient (as the executor
 * asks for none). */
static void bn_prepare(struct op_run *r)
{
	float *var = tensor_f32(r->in[4]);
	for (int64_t i = 0; i < shape_size(&r->in[4]->shape); i++)
		var[i] = 0.5f + fabsf(var[i]);
	r->bw_req[3] = r->bw_req[4] = OP_REQ_NULL;
}

static const struct {
	const char *kv[10];
	int ndim;
	int is_train;
} bn_cases[] = {
	{{"fix_gamma", "False", NULL}, 4, 1},
	{{"fix_gamma", "True", NULL}, 4, 1},
	{{"fix_gamma", "False", "use_global_stats", "True", NULL}, 4, 1},
	{{"fix_gamma", "True", "use_global_stats", "True", NULL}, 3, 1},
	{{"fix_gamma", "False", NULL}, 2, 1},
	{{"fix_gamma", "False", "axis", "-1", "eps", "0.01", NULL}, 3, 1},
	{{"fix_gamma", "False", "axis", "0", NULL}, 3, 1},
	{{"fix_gamma", "False", NULL}, 4, 0}, /* inference: the moving statistics */
};

START_TEST(batchnorm_gradients_match_central_differences_in_every_mode)
{
	struct mx_rng r;
	double worst = 0;
	char what[128];
	rng_seed(&r, 300 + _i);
	for (int trial = 0; trial < 2; trial++) {
		struct op_run run;
		struct mx_shape shapes[5] = {shape_between(&r, bn_cases[_i].ndim, 2, 4)};
		const float *dgamma;
		run_setup(&run, &op_batch_norm, bn_cases[_i].kv, shapes, &r);
		bn_prepare(&run);
		run.ctx.is_train = bn_cases[_i].is_train;
		worst = fmax(worst, grad_check(&run, NULL, 3e-3, 3e-3));
		dgamma = tensor_f32(run.in_grad[1]);
		if (!strcmp(bn_cases[_i].kv[1], "True"))
			for (int64_t c = 0; c < shape_size(&run.in[1]->shape); c++)
				ck_assert_float_eq(dgamma[c], 0.0f);
		check_req_add(&run);
		run_free(&run);
	}
	describe(what, sizeof what, bn_cases[_i].is_train ? "BatchNorm" : "BatchNorm[inference]",
		 bn_cases[_i].kv);
	report(what, worst);
}
END_TEST

/* ---------------------------------------------------------------- LRN, LeakyReLU */

START_TEST(lrn_gradients_match_central_differences_for_several_window_sizes)
{
	static const char *const sizes[] = {"1", "3", "5"}, *const betas[] = {"0.75", "0.6", "0.75"};
	struct mx_rng r;
	double worst = 0;
	rng_seed(&r, 320);
	for (int trial = 0; trial < 3; trial++) {
		struct op_run run;
		struct mx_shape shapes[1] = {shape_between(&r, 4 - (trial == 1), 1, 4)};
		const char *kv[] = {"nsize", sizes[trial], "alpha", "0.5", "beta", betas[trial],
				    "knorm", trial ? "1" : "2", NULL};
		shapes[0].dim[1] = 3 + trial * 2; /* enough channels for the window */
		run_setup(&run, &op_lrn, kv, shapes, &r);
		fill_uniform(run.in[0], &r, 2.0f);
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		check_backward_add(&run);
		run_free(&run);
	}
	report("LRN(nsize=1,3,5)", worst);
}
END_TEST

static const struct {
	const char *kv[8];
	int shared_gamma; /* prelu with gamma (1,) */
} leaky_cases[] = {
	{{"act_type", "leaky", "slope", "0.1", NULL}, 0},
	{{"act_type", "prelu", NULL}, 0},
	{{"act_type", "prelu", NULL}, 1},
	{{"act_type", "rrelu", NULL}, 0},
	{{"act_type", "elu", "slope", "0.7", NULL}, 0},
	{{"act_type", "selu", NULL}, 0},
	{{"act_type", "gelu", NULL}, 0},
};

START_TEST(leaky_relu_gradients_match_central_differences_for_every_act_type)
{
	struct mx_rng r;
	double worst = 0;
	char what[96];
	rng_seed(&r, 330 + _i);
	for (int trial = 0; trial < 3; trial++) {
		struct op_run run;
		struct mx_shape shapes[2] = {shape_between(&r, 2 + trial, 1, 4)};
		if (leaky_cases[_i].shared_gamma)
			shapes[1] = shape_make(1, 1L);
		run_setup(&run, &op_leaky_relu, leaky_cases[_i].kv, shapes, &r);
		fill_uniform(run.in[0], &r, 2.0f);
		away_from_zero(run.in[0], 0.01f);
		if (run.n_in == 2) /* prelu: slopes in [0, 0.5) */
			for (int64_t c = 0; c < shape_size(&run.in[1]->shape); c++)
				tensor_f32(run.in[1])[c] = 0.25f + 0.25f * tensor_f32(run.in[1])[c];
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		if (strcmp(leaky_cases[_i].kv[1], "rrelu"))
			check_req_add(&run);
		else
			check_backward_add(&run);
		run_free(&run);
	}
	describe(what, sizeof what, leaky_cases[_i].shared_gamma ? "LeakyReLU[gamma (1)]" : "LeakyReLU",
		 leaky_cases[_i].kv);
	report(what, worst);
}
END_TEST

START_TEST(rrelu_draws_slopes_in_its_bounds_in_training_and_uses_their_mean_otherwise)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[1] = {shape_make(2, 50L, 40L)};
	const char *kv[] = {"act_type", "rrelu", "lower_bound", "0.1", "upper_bound", "0.3", NULL};
	const float *x, *y;
	double sum = 0;
	int n_neg = 0;
	rng_seed(&r, 340);
	run_setup(&run, &op_leaky_relu, kv, shapes, &r);
	away_from_zero(run.in[0], 0.01f);
	run_forward(&run);
	x = tensor_f32(run.in[0]);
	y = tensor_f32(run.out[0]);
	for (int i = 0; i < 2000; i++) {
		if (x[i] > 0) {
			ck_assert_float_eq(y[i], x[i]);
			continue;
		}
		ck_assert(y[i] / x[i] >= 0.1f - 1e-6f && y[i] / x[i] < 0.3f + 1e-6f);
		sum += y[i] / x[i];
		n_neg++;
	}
	ck_assert_msg(fabs(sum / n_neg - 0.2) < 0.01, "mean slope %g", sum / n_neg);
	run.ctx.is_train = 0;
	run.ctx.rng = NULL;
	run_forward(&run);
	for (int i = 0; i < 2000; i++)
		ck_assert_float_eq_tol(y[i], x[i] > 0 ? x[i] : 0.2f * x[i], 1e-7);
	run_free(&run);
}
END_TEST

/* ---------------------------------------------------------------- Concat, add, Reshape */

START_TEST(concat_gradients_match_central_differences_on_every_axis)
{
	static const char *const dims[] = {"0", "1", "2", "3", "-1", "-3"};
	struct mx_rng r;
	double worst = 0;
	char what[64];
	int axis = _i < 4 ? _i : 4 + atoi(dims[_i]);
	rng_seed(&r, 350 + _i);
	for (int nargs = 1; nargs <= 3; nargs++) {
		struct op_run run;
		struct mx_shape base = shape_between(&r, 4, 1, 3), shapes[3];
		char num[8];
		const char *kv[] = {"num_args", num, "dim", dims[_i], NULL};
		int64_t total = 0;
		snprintf(num, sizeof num, "%d", nargs);
		for (int k = 0; k < nargs; k++) {
			shapes[k] = base;
			shapes[k].dim[axis] = 1 + rng_below(&r, 3);
			total += shapes[k].dim[axis];
		}
		run_setup(&run, &op_concat, kv, shapes, &r);
		ck_assert_int_eq(run.n_in, nargs);
		base.dim[axis] = total;
		ck_assert(shape_equal(&run.out[0]->shape, &base));
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		check_req_add(&run);
		run_free(&run);
	}
	snprintf(what, sizeof what, "Concat(dim=%s)", dims[_i]);
	report(what, worst);
}
END_TEST

START_TEST(concat_forward_puts_the_inputs_side_by_side_along_dim)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[2] = {shape_make(2, 2L, 1L), shape_make(2, 2L, 2L)};
	const char *kv[] = {"num_args", "2", NULL};
	const float want[] = {1, 10, 11, 2, 12, 13};
	rng_seed(&r, 355);
	run_setup(&run, &op_concat, kv, shapes, &r);
	memcpy(run.in[0]->data, (float[]){1, 2}, 2 * sizeof(float));
	memcpy(run.in[1]->data, (float[]){10, 11, 12, 13}, 4 * sizeof(float));
	run_forward(&run);
	check_close("concat", tensor_f32(run.out[0]), want, 6, 0, 0);
	run_free(&run);
}
END_TEST

START_TEST(elemwise_add_gradients_are_the_output_gradient_for_both_sides)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[2] = {{0}, shape_make(3, 2L, 3L, 4L)};
	double worst;
	rng_seed(&r, 360);
	run_setup(&run, &op_elemwise_add, NULL, shapes, &r);
	ck_assert(shape_equal(&run.in[0]->shape, &shapes[1]));
	run_forward(&run);
	for (int i = 0; i < 24; i++)
		ck_assert_float_eq(tensor_f32(run.out[0])[i],
				   tensor_f32(run.in[0])[i] + tensor_f32(run.in[1])[i]);
	worst = grad_check(&run, NULL, 2e-3, 2e-3);
	check_close("d lhs", tensor_f32(run.in_grad[0]), tensor_f32(run.out_grad[0]), 24, 0, 0);
	check_close("d rhs", tensor_f32(run.in_grad[1]), tensor_f32(run.out_grad[0]), 24, 0, 0);
	check_req_add(&run);
	run_free(&run);
	report("elemwise_add", worst);
}
END_TEST

static const struct {
	int64_t data[4];
	const char *kv[6];
	int ndim;
	int64_t want[6];
} reshape_cases[] = {
	{{4, 3, 2, 5}, {"shape", "(0, -1)", NULL}, 2, {4, 30}},
	{{4, 3, 2, 5}, {"shape", "(-3, -2)", NULL}, 3, {12, 2, 5}},
	{{4, 3, 2, 5}, {"shape", "(-4, 2, -1, -3, 0)", NULL}, 4, {2, 2, 6, 5}},
	{{4, 3, 2, 5}, {"shape", "(-1, 0)", "reverse", "True", NULL}, 2, {24, 5}},
	{{4, 3, 2, 5}, {"shape", "(-2, 1)", NULL}, 5, {4, 3, 2, 5, 1}},
	{{4, 3, 2, 5}, {"target_shape", "(0, 10)", NULL}, 2, {12, 10}},
};

START_TEST(reshape_codes_give_mxnet_shapes_and_pass_the_gradient_through)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[1] = {shape_make(4, reshape_cases[_i].data[0], reshape_cases[_i].data[1],
						reshape_cases[_i].data[2], reshape_cases[_i].data[3])};
	struct mx_shape want = {.ndim = reshape_cases[_i].ndim};
	char what[96], got[96];
	double worst;
	memcpy(want.dim, reshape_cases[_i].want, sizeof want.dim);
	rng_seed(&r, 370 + _i);
	run_setup(&run, &op_reshape, reshape_cases[_i].kv, shapes, &r);
	describe(what, sizeof what, "Reshape", reshape_cases[_i].kv);
	ck_assert_msg(shape_equal(&run.out[0]->shape, &want), "%s gave %s", what,
		      shape_str(&run.out[0]->shape, got, sizeof got));
	worst = grad_check(&run, NULL, 2e-3, 2e-3);
	check_close("reshaped", tensor_f32(run.out[0]), tensor_f32(run.in[0]), 120, 0, 0);
	check_req_add(&run);
	run_free(&run);
	report(what, worst);
}
END_TEST

/* ---------------------------------------------------------------- softmax, regression */

START_TEST(softmax_activation_gradients_match_central_differences_in_both_modes)
{
	static const char *const modes[] = {"instance", "channel"};
	struct mx_rng r;
	double worst = 0;
	char what[64];
	rng_seed(&r, 380 + _i);
	for (int trial = 0; trial < 3; trial++) {
		struct op_run run;
		struct mx_shape shapes[1] = {shape_between(&r, 2 + trial, 1, 4)};
		const char *kv[] = {"mode", modes[_i], NULL};
		run_setup(&run, &op_softmax_activation, kv, shapes, &r);
		fill_uniform(run.in[0], &r, 3.0f);
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		check_backward_add(&run);
		run_free(&run);
	}
	snprintf(what, sizeof what, "SoftmaxActivation(mode=%s)", modes[_i]);
	report(what, worst);
}
END_TEST

/* The loss each regression head differentiates, times grad_scale / values per sample:
 * linear 1/2 (y - label)^2, logistic cross-entropy, MAE |y - label|. */
static double regression_loss(const struct op_run *r, int kind, double scale)
{
	const float *y = tensor_f32(r->out[0]), *label = tensor_f32(r->in[1]);
	int64_t n = shape_size(&r->out[0]->shape);
	double loss = 0, per_sample = (double)n / r->out[0]->shape.dim[0];
	for (int64_t i = 0; i < n; i++) {
		double d = (double)y[i] - label[i];
		if (kind == 0)
			loss += 0.5 * d * d;
		else if (kind == 1)
			loss -= label[i] * log((double)y[i]) + (1 - label[i]) * log(1 - (double)y[i]);
		else
			loss += fabs(d);
	}
	return loss * scale / per_sample;
}

static const struct op_desc *const reg_ops[] = {&op_linear_regression_output,
						&op_logistic_regression_output,
						&op_mae_regression_output};

START_TEST(regression_output_gradients_match_their_losses)
{
	const double eps = 1e-3;
	struct mx_rng r;
	double worst = 0;
	char what[64];
	rng_seed(&r, 390 + _i);
	for (int trial = 0; trial < 3; trial++) {
		struct op_run run;
		struct mx_shape shapes[2] = {shape_between(&r, 1 + trial, 1, 4)};
		const char *kv[] = {"grad_scale", trial == 1 ? "2.5" : "1", NULL};
		float *x, *label;
		const float *g;
		int64_t n;
		if (trial == 0)
			shapes[0] = shape_make(2, 5L, 1L); /* label (5) */
		run_setup(&run, reg_ops[_i], kv, shapes, &r);
		ck_assert_int_eq(run.bw_req[1], OP_REQ_NULL);
		n = shape_size(&shapes[0]);
		x = tensor_f32(run.in[0]);
		label = tensor_f32(run.in[1]);
		for (int64_t j = 0; j < n; j++) {
			label[j] = _i == 1 ? (float)rng_below(&r, 2) : 2.0f * rng_uniform(&r) - 1.0f;
			if (_i == 2 && fabsf(x[j] - label[j]) < 0.01f) /* MAE's kink */
				x[j] = label[j] + 0.1f;
		}
		run_forward(&run);
		run_backward(&run);
		g = tensor_f32(run.in_grad[0]);
		for (int64_t j = 0; j < n; j++) {
			float saved = x[j];
			double plus, minus, numeric, err;
			x[j] = saved + (float)eps;
			run_forward(&run);
			plus = regression_loss(&run, _i, trial == 1 ? 2.5 : 1);
			x[j] = saved - (float)eps;
			run_forward(&run);
			minus = regression_loss(&run, _i, trial == 1 ? 2.5 : 1);
			x[j] = saved;
			numeric = (plus - minus) / (2 * eps);
			err = fabs(numeric - g[j]);
			worst = fmax(worst, err);
			ck_assert_msg(err <= 2e-3 + 2e-3 * fabs(numeric), "%s [%ld]: backward %.7g, numeric %.7g",
				      reg_ops[_i]->name, (long)j, g[j], numeric);
		}
		run_forward(&run);
		check_req_add(&run);
		run_free(&run);
	}
	snprintf(what, sizeof what, "%s", reg_ops[_i]->name);
	report(what, worst);
}
END_TEST

/* ---------------------------------------------------------------- in place */

/* With the output on input 0's memory (OP_INPLACE), or the input gradient on the output
 * gradient's (OP_BW_INPLACE), the numbers must not change. */
static void check_in_place(const struct op_desc *op, const char *const *kv, struct mx_shape *shapes)
{
	struct mx_rng r;
	struct op_run run;
	float *want_y, *want_dx;
	struct mx_tensor *alias;
	int64_t n;
	rng_seed(&r, 400);
	run_setup(&run, op, kv, shapes, &r);
	if (op == &op_batch_norm)
		bn_prepare(&run);
	fill_uniform(run.out_grad[0], &r, 1.0f);
	n = shape_size(&run.out[0]->shape);
	run_forward(&run);
	run_backward(&run);
	want_y = copy_floats(run.out[0]);
	want_dx = copy_floats(run.in_grad[0]);
	if (op->flags & OP_INPLACE) {
		struct mx_tensor *x = new_tensor(&run.in[0]->shape), *x_saved = run.in[0];
		struct mx_tensor *saved_out = run.out[0];
		tensor_copy(x, run.in[0]);
		alias = tensor_reshape(x, &run.out[0]->shape);
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
		struct mx_tensor *saved_in_grad = run.in_grad[0];
		tensor_copy(dy, run.out_grad[0]);
		alias = tensor_reshape(dy, &run.in[0]->shape);
		run.out_grad[0] = dy;
		run.in_grad[0] = alias;
		run.bw_req[0] = OP_REQ_INPLACE;
		run_backward(&run);
		check_close("in-place backward", tensor_f32(alias), want_dx,
			    shape_size(&run.in[0]->shape), 0, 0);
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
	const char *bn[] = {"fix_gamma", "False", NULL}, *leaky[] = {"slope", "0.1", NULL};
	const char *gelu[] = {"act_type", "gelu", NULL}, *prelu[] = {"act_type", "prelu", NULL};
	const char *rrelu[] = {"act_type", "rrelu", NULL}, *chan[] = {"mode", "channel", NULL};
	const char *reshape[] = {"shape", "(0, -3, -2)", NULL};
	struct mx_shape four[5] = {shape_make(4, 2L, 3L, 2L, 4L)};
	struct mx_shape two[2] = {shape_make(3, 2L, 3L, 4L), shape_make(3, 2L, 3L, 4L)};
	struct mx_shape one[2] = {shape_make(2, 4L, 5L)};
	check_in_place(&op_batch_norm, bn, four);
	check_in_place(&op_leaky_relu, leaky, four);
	check_in_place(&op_leaky_relu, gelu, four);
	check_in_place(&op_leaky_relu, prelu, four);
	check_in_place(&op_leaky_relu, rrelu, four);
	check_in_place(&op_elemwise_add, NULL, two);
	check_in_place(&op_reshape, reshape, four);
	check_in_place(&op_softmax_activation, NULL, four);
	check_in_place(&op_softmax_activation, chan, four);
	check_in_place(&op_linear_regression_output, NULL, one);
	check_in_place(&op_logistic_regression_output, NULL, one);
	check_in_place(&op_mae_regression_output, NULL, one);
}
END_TEST

/* ---------------------------------------------------------------- against PyTorch */

/* One BatchNorm fixture: inputs x, gamma, beta, moving_mean, moving_var and dy; checks y,
 * dx, dgamma, dbeta, and the moving averages new_mean/new_var when the file has them. */
static void bn_fixture(const char *file, const char *const *kv, int is_train)
{
	struct fixture fx;
	struct op_run run;
	struct mx_shape shapes[5] = {{0}};
	struct mx_rng r;
	int has_backward;
	layer_fixture(file, &fx);
	shapes[0] = fixture_shape(&fx, "x");
	rng_seed(&r, 1);
	run_setup(&run, &op_batch_norm, kv, shapes, &r);
	run.ctx.is_train = is_train;
	run.bw_req[3] = run.bw_req[4] = OP_REQ_NULL;
	load_into(&fx, "x", run.in[0]);
	load_into(&fx, "gamma", run.in[1]);
	load_into(&fx, "beta", run.in[2]);
	load_into(&fx, "moving_mean", run.in[3]);
	load_into(&fx, "moving_var", run.in[4]);
	has_backward = fx.n > 6;
	run_forward(&run);
	expect_fixture(file, &fx, "y", run.out[0]);
	if (has_backward) {
		load_into(&fx, "dy", run.out_grad[0]);
		run_backward(&run);
		expect_fixture(file, &fx, "dx", run.in_grad[0]);
		expect_fixture(file, &fx, "dgamma", run.in_grad[1]);
		expect_fixture(file, &fx, "dbeta", run.in_grad[2]);
	}
	for (int i = 0; i < fx.n; i++)
		if (!strcmp(fx.name[i], "new_mean")) {
			expect_fixture(file, &fx, "new_mean", run.in[3]);
			expect_fixture(file, &fx, "new_var", run.in[4]);
		}
	if (!is_train || (kv && kv[2] && !strcmp(kv[2], "use_global_stats"))) {
		/* the moving averages are left alone */
		expect_fixture(file, &fx, "moving_mean", run.in[3]);
		expect_fixture(file, &fx, "moving_var", run.in[4]);
	}
	run_free(&run);
	fixture_free(&fx);
}

START_TEST(batchnorm_matches_pytorch_in_training_and_with_global_statistics)
{
	const char *train[] = {"fix_gamma", "False", NULL};
	const char *global[] = {"fix_gamma", "False", "use_global_stats", "True", NULL};
	bn_fixture("bn_train", train, 1);
	bn_fixture("bn_train_2d", train, 1);
	bn_fixture("bn_global", global, 1);
}
END_TEST

/* A one-input op against a fixture with x, y, dy, dx (and gamma, dgamma for prelu). */
static void unary_fixture(const struct op_desc *op, const char *file, const char *const *kv)
{
	struct fixture fx;
	struct op_run run;
	struct mx_shape shapes[2] = {{0}};
	struct mx_rng r;
	layer_fixture(file, &fx);
	shapes[0] = fixture_shape(&fx, "x");
	if (op == &op_leaky_relu && !strcmp(kv[1], "prelu"))
		shapes[1] = fixture_shape(&fx, "gamma");
	rng_seed(&r, 1);
	run_setup(&run, op, kv, shapes, &r);
	load_into(&fx, "x", run.in[0]);
	if (run.n_in == 2)
		load_into(&fx, "gamma", run.in[1]);
	load_into(&fx, "dy", run.out_grad[0]);
	run_forward(&run);
	run_backward(&run);
	expect_fixture(file, &fx, "y", run.out[0]);
	expect_fixture(file, &fx, "dx", run.in_grad[0]);
	if (run.n_in == 2)
		expect_fixture(file, &fx, "dgamma", run.in_grad[1]);
	run_free(&run);
	fixture_free(&fx);
}

START_TEST(lrn_matches_pytorch_local_response_norm_with_alpha_over_nsize)
{
	const char *five[] = {"nsize", "5", "alpha", "0.3", "beta", "0.75", "knorm", "2", NULL};
	const char *three[] = {"nsize", "3", "alpha", "0.8", "beta", "0.6", "knorm", "1.5", NULL};
	unary_fixture(&op_lrn, "lrn_5", five);
	unary_fixture(&op_lrn, "lrn_3", three);
	unary_fixture(&op_lrn, "lrn_mx", five); /* MXNet's own LRN: the same convention */
}
END_TEST

START_TEST(leaky_relu_family_matches_pytorch)
{
	const char *leaky[] = {"act_type", "leaky", "slope", "0.1", NULL};
	const char *elu[] = {"act_type", "elu", "slope", "0.7", NULL};
	const char *selu[] = {"act_type", "selu", NULL}, *gelu[] = {"act_type", "gelu", NULL};
	const char *prelu[] = {"act_type", "prelu", NULL};
	unary_fixture(&op_leaky_relu, "leaky", leaky);
	unary_fixture(&op_leaky_relu, "elu", elu);
	unary_fixture(&op_leaky_relu, "selu", selu);
	unary_fixture(&op_leaky_relu, "gelu", gelu);
	unary_fixture(&op_leaky_relu, "prelu", prelu);
	unary_fixture(&op_leaky_relu, "prelu_shared", prelu);
}
END_TEST

START_TEST(softmax_activation_matches_pytorch_softmax)
{
	const char *instance[] = {"mode", "instance", NULL}, *channel[] = {"mode", "channel", NULL};
	unary_fixture(&op_softmax_activation, "softmax_instance", instance);
	unary_fixture(&op_softmax_activation, "softmax_channel", channel);
}
END_TEST

START_TEST(concat_matches_pytorch_cat_on_dims_0_to_3)
{
	char file[16], num[16], dim[16], name[16];
	struct fixture fx;
	struct op_run run;
	struct mx_shape shapes[4] = {{0}};
	struct mx_rng r;
	const char *kv[] = {"num_args", num, "dim", dim, NULL};
	int n = 0;
	snprintf(file, sizeof file, "cat_d%d", _i);
	snprintf(dim, sizeof dim, "%d", _i);
	layer_fixture(file, &fx);
	for (int i = 0; i < fx.n; i++)
		n += fx.name[i][0] == 'x';
	snprintf(num, sizeof num, "%d", n);
	for (int k = 0; k < n; k++) {
		snprintf(name, sizeof name, "x%d", k);
		shapes[k] = fixture_shape(&fx, name);
	}
	rng_seed(&r, 1);
	run_setup(&run, &op_concat, kv, shapes, &r);
	for (int k = 0; k < n; k++) {
		snprintf(name, sizeof name, "x%d", k);
		load_into(&fx, name, run.in[k]);
	}
	load_into(&fx, "dy", run.out_grad[0]);
	run_forward(&run);
	run_backward(&run);
	expect_fixture(file, &fx, "y", run.out[0]);
	for (int k = 0; k < n; k++) {
		snprintf(name, sizeof name, "dx%d", k);
		expect_fixture(file, &fx, name, run.in_grad[k]);
	}
	run_free(&run);
	fixture_free(&fx);
}
END_TEST

/* ---------------------------------------------------------------- against MXNet */

START_TEST(batchnorm_moving_averages_and_gradients_match_mxnet_after_a_training_step)
{
	const char *train[] = {"fix_gamma", "False", NULL};
	const char *fix[] = {"momentum", "0.8", NULL};
	const char *global[] = {"fix_gamma", "False", "use_global_stats", "True", NULL};
	const char *axis[] = {"fix_gamma", "False", "axis", "-1", "eps", "0.0001", NULL};
	bn_fixture("bn_mx_train", train, 1);
	bn_fixture("bn_mx_fix_gamma", fix, 1);
	bn_fixture("bn_mx_global", global, 1);
	bn_fixture("bn_mx_axis", axis, 1);
	bn_fixture("bn_mx_infer", train, 0);
}
END_TEST

START_TEST(batchnorm_keeps_the_batch_mean_and_inverse_std_as_mxnet_does)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[5] = {shape_make(4, 3L, 2L, 4L, 5L)};
	const float *x, *mean, *invstd;
	rng_seed(&r, 410);
	run_setup(&run, &op_batch_norm, NULL, shapes, &r);
	bn_prepare(&run);
	run_forward(&run);
	x = tensor_f32(run.in[0]);
	mean = tensor_f32(run.out[1]);
	invstd = tensor_f32(run.out[2]);
	for (int c = 0; c < 2; c++) {
		double s = 0, ss = 0;
		for (int n = 0; n < 3; n++)
			for (int i = 0; i < 20; i++)
				s += x[(n * 2 + c) * 20 + i];
		s /= 60;
		for (int n = 0; n < 3; n++)
			for (int i = 0; i < 20; i++)
				ss += pow(x[(n * 2 + c) * 20 + i] - s, 2);
		ck_assert_double_eq_tol(mean[c], s, 1e-6);
		ck_assert_double_eq_tol(invstd[c], 1 / sqrt(ss / 60 + 1e-3), 1e-5);
	}
	run_free(&run);
}
END_TEST

START_TEST(regression_outputs_match_mxnet)
{
	static const struct {
		const struct op_desc *op;
		const char *file;
		const char *kv[4];
	} cases[] = {
		{&op_linear_regression_output, "linear_mx", {"grad_scale", "2", NULL}},
		{&op_logistic_regression_output, "logistic_mx", {NULL}},
		{&op_mae_regression_output, "mae_mx", {"grad_scale", "0.5", NULL}},
		{&op_linear_regression_output, "linear_mx_3d", {NULL}},
	};
	for (int k = 0; k < 4; k++) {
		struct fixture fx;
		struct op_run run;
		struct mx_shape shapes[2] = {{0}};
		struct mx_rng r;
		layer_fixture(cases[k].file, &fx);
		shapes[0] = fixture_shape(&fx, "x");
		rng_seed(&r, 1);
		run_setup(&run, cases[k].op, cases[k].kv, shapes, &r);
		{
			struct mx_shape ls = fixture_shape(&fx, "label");
			ck_assert_msg(shape_equal(&run.in[1]->shape, &ls), "%s: label shape", cases[k].file);
		}
		load_into(&fx, "x", run.in[0]);
		load_into(&fx, "label", run.in[1]);
		run_forward(&run);
		run_backward(&run);
		expect_fixture(cases[k].file, &fx, "y", run.out[0]);
		expect_fixture(cases[k].file, &fx, "dx", run.in_grad[0]);
		run_free(&run);
		fixture_free(&fx);
	}
}
END_TEST

/* reshape_mx.txt: "<data> key=value... -> <shape or error>" per line. MXNet 1.9.1 lets a
 * Reshape change the number of values ((2,3,4) with shape (7) gives (7)); mxtrain refuses. */
START_TEST(reshape_special_codes_give_the_shapes_mxnet_infers)
{
	char path[512], line[256];
	FILE *f;
	int cases = 0;
	snprintf(path, sizeof path, "%s/layers/reshape_mx.txt", FIXTURES);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof line, f)) {
		char *arrow = strstr(line, " -> "), *tok, *save = NULL, want_text[64];
		struct mx_shape data, want, out[1], in[1];
		void *p;
		int rc;
		if (line[0] == '#' || !arrow)
			continue;
		*arrow = 0;
		ck_assert(sscanf(arrow + 4, "%63s", want_text) == 1);
		p = op_param_new(&op_reshape);
		tok = strtok_r(line, " ", &save);
		ck_ok(parse_shape(tok, &data));
		while ((tok = strtok_r(NULL, " ", &save))) {
			char *eq = strchr(tok, '=');
			ck_assert(eq != NULL);
			*eq = 0;
			ck_ok(param_set(op_reshape.params, p, tok, eq + 1));
		}
		in[0] = data;
		rc = op_reshape.infer_shape(p, in, 1, out, 1);
		if (!strcmp(want_text, "error")) {
			ck_assert_msg(rc == MX_ERR_SHAPE, "line %s: MXNet refuses, mxtrain gave a shape", line);
		} else {
			ck_ok(parse_shape(want_text, &want));
			if (shape_size(&want) != shape_size(&data)) {
				ck_assert_msg(rc == MX_ERR_SHAPE, "line %s: a size change must be refused", line);
				ck_assert_ptr_nonnull(strstr(mx_error_message(), "cannot reshape data"));
			} else {
				char got[96];
				ck_assert_msg(rc == MX_OK, "line %s -> %s: %s", line, want_text, mx_error_message());
				ck_assert_msg(shape_equal(&out[0], &want), "line %s: got %s, MXNet %s", line,
					      shape_str(&out[0], got, sizeof got), want_text);
			}
		}
		free(p);
		cases++;
	}
	fclose(f);
	ck_assert_int_ge(cases, 30);
}
END_TEST

/* ---------------------------------------------------------------- descriptors, speed */

START_TEST(operators_are_found_by_mxnet_name_and_conf_alias)
{
	static const struct {
		const char *name;
		const struct op_desc *op;
	} names[] = {
		{"BatchNorm", &op_batch_norm}, {"bn", &op_batch_norm}, {"batchnorm", &op_batch_norm},
		{"LRN", &op_lrn}, {"lrn", &op_lrn}, {"LeakyReLU", &op_leaky_relu},
		{"leakyrelu", &op_leaky_relu}, {"Concat", &op_concat}, {"concat", &op_concat},
		{"elemwise_add", &op_elemwise_add}, {"_plus", &op_elemwise_add},
		{"_Plus", &op_elemwise_add}, {"_add", &op_elemwise_add}, {"Reshape", &op_reshape},
		{"reshape", &op_reshape}, {"SoftmaxActivation", &op_softmax_activation},
		{"softmaxactivation", &op_softmax_activation},
		{"LinearRegressionOutput", &op_linear_regression_output},
		{"LogisticRegressionOutput", &op_logistic_regression_output},
		{"MAERegressionOutput", &op_mae_regression_output},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		ck_assert_msg(op_find(names[i].name) == names[i].op, "op_find(\"%s\")", names[i].name);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		ck_assert_msg(!(names[i].op->flags & OP_INTERNAL), "%s is offered", names[i].name);
}
END_TEST

START_TEST(inputs_outputs_and_auxiliary_states_follow_mxnet)
{
	const char *names[8], *many[16];
	const char *prelu_kv[] = {"act_type", "prelu", NULL}, *cat_kv[] = {"num_args", "12", NULL};
	void *bn = op_param_new(&op_batch_norm), *leaky = op_param_new(&op_leaky_relu);
	void *prelu = parse_param(&op_leaky_relu, prelu_kv), *cat = parse_param(&op_concat, cat_kv);
	static const char *const bn_names[] = {"data", "gamma", "beta", "moving_mean", "moving_var"};
	ck_assert_int_eq(op_input_names(&op_batch_norm, bn, names, 8), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(names[i], bn_names[i]);
	ck_assert_uint_eq(op_batch_norm.aux_mask, 1u << 3 | 1u << 4);
	ck_assert_int_eq(op_batch_norm.n_outputs, 3);
	ck_assert_int_eq(op_batch_norm.n_visible_outputs, 1);
	ck_assert_int_eq(op_lrn.n_outputs, 2);
	ck_assert_int_eq(op_lrn.n_visible_outputs, 1);
	ck_assert_int_eq(op_input_names(&op_leaky_relu, leaky, names, 8), 1);
	ck_assert_int_eq(op_input_names(&op_leaky_relu, prelu, names, 8), 2);
	ck_assert_str_eq(names[1], "gamma");
	ck_assert_int_eq(op_num_data_inputs(&op_leaky_relu, prelu), 1);
	ck_assert_int_eq(op_input_names(&op_concat, cat, many, 16), 12);
	ck_assert_str_eq(many[11], "arg11");
	ck_assert_int_eq(op_num_data_inputs(&op_concat, cat), 12);
	ck_assert_int_eq(op_input_names(&op_elemwise_add, NULL, names, 8), 2);
	ck_assert_str_eq(names[0], "lhs");
	ck_assert_str_eq(names[1], "rhs");
	ck_assert_int_eq(op_input_names(&op_mae_regression_output, NULL, names, 8), 2);
	ck_assert_str_eq(names[1], "label");
	ck_assert_uint_eq(op_logistic_regression_output.label_mask, 2);
	ck_assert(op_linear_regression_output.flags & OP_LOSS);
	free(bn);
	free(leaky);
	free(prelu);
	free(cat);
}
END_TEST

START_TEST(shapes_of_weights_labels_and_outputs_are_inferred)
{
	const char *prelu_kv[] = {"act_type", "prelu", NULL}, *lrn_kv[] = {"nsize", "5", NULL};
	void *bn = op_param_new(&op_batch_norm), *prelu = parse_param(&op_leaky_relu, prelu_kv);
	void *lrn = parse_param(&op_lrn, lrn_kv), *reg = op_param_new(&op_linear_regression_output);
	struct mx_shape in[5] = {shape_make(4, 8L, 16L, 5L, 5L)}, out[3];
	struct mx_shape c16 = shape_make(1, 16L), n8 = shape_make(1, 8L);
	ck_ok(op_batch_norm.infer_shape(bn, in, 5, out, 3));
	for (int i = 1; i < 5; i++)
		ck_assert(shape_equal(&in[i], &c16));
	ck_assert(shape_equal(&out[0], &in[0]));
	ck_assert(shape_equal(&out[1], &c16) && shape_equal(&out[2], &c16));
	memset(in + 1, 0, 4 * sizeof in[0]);
	ck_ok(op_leaky_relu.infer_shape(prelu, in, 2, out, 1));
	ck_assert(shape_equal(&in[1], &c16));
	ck_ok(op_lrn.infer_shape(lrn, in, 1, out, 2));
	ck_assert(shape_equal(&out[1], &in[0]));
	in[0] = shape_make(2, 8L, 1L);
	in[1].ndim = 0;
	ck_ok(op_linear_regression_output.infer_shape(reg, in, 2, out, 1));
	ck_assert(shape_equal(&in[1], &n8)); /* (N, 1) data: label (N) */
	in[0] = shape_make(2, 8L, 3L);
	in[1].ndim = 0;
	ck_ok(op_linear_regression_output.infer_shape(reg, in, 2, out, 1));
	ck_assert(shape_equal(&in[1], &in[0]));
	free(bn);
	free(prelu);
	free(lrn);
	free(reg);
}
END_TEST

START_TEST(operators_that_compute_report_their_flops)
{
	const char *lrn_kv[] = {"nsize", "5", NULL};
	void *bn = op_param_new(&op_batch_norm), *lrn = parse_param(&op_lrn, lrn_kv);
	struct mx_shape in[5] = {shape_make(4, 2L, 3L, 4L, 5L)}, out[3] = {shape_make(4, 2L, 3L, 4L, 5L)};
	ck_assert_ptr_nonnull(op_batch_norm.flops);
	ck_assert_double_eq(op_batch_norm.flops(bn, in, 5, out, 3), 5.0 * 120);
	ck_assert_double_eq(op_lrn.flops(lrn, in, 1, out, 2), 16.0 * 120);
	ck_assert_ptr_nonnull(op_leaky_relu.flops);
	ck_assert_ptr_nonnull(op_softmax_activation.flops);
	ck_assert_ptr_nonnull(op_elemwise_add.flops);
	free(bn);
	free(lrn);
}
END_TEST

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Per-channel sums over contiguous planes: a (32, 64, 28, 28) batch (1.6 M values) takes
 * a few ms forward and backward on one core; the bound only catches a pathological loop
 * order (strided channel walks, a malloc per call). */
START_TEST(batchnorm_on_nchw_runs_over_contiguous_planes_quickly)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[5] = {shape_make(4, 32L, 64L, 28L, 28L)};
	const char *kv[] = {"fix_gamma", "False", NULL};
	double t0, fwd, bwd;
	rng_seed(&r, 420);
	run_setup(&run, &op_batch_norm, kv, shapes, &r);
	bn_prepare(&run);
	run_forward(&run);
	t0 = seconds();
	for (int i = 0; i < 3; i++)
		run_forward(&run);
	fwd = (seconds() - t0) / 3;
	t0 = seconds();
	for (int i = 0; i < 3; i++)
		run_backward(&run);
	bwd = (seconds() - t0) / 3;
	printf("BatchNorm (32,64,28,28): forward %.1f ms, backward %.1f ms\n", fwd * 1e3, bwd * 1e3);
	ck_assert_msg(fwd + bwd < 1.0, "forward %.3f s, backward %.3f s", fwd, bwd);
	run_free(&run);
}
END_TEST

/* ---------------------------------------------------------------- error paths */

START_TEST(concat_shape_mismatch_names_the_input_and_both_shapes)
{
	const char *kv[] = {"num_args", "3", NULL}, *kv0[] = {"num_args", "2", "dim", "5", NULL};
	void *p = parse_param(&op_concat, kv), *q = parse_param(&op_concat, kv0);
	struct mx_shape in[3] = {shape_make(4, 2L, 3L, 6L, 6L), shape_make(4, 2L, 5L, 6L, 6L),
				 shape_make(4, 2L, 4L, 5L, 6L)}, out[1];
	ck_assert_int_eq(op_concat.infer_shape(p, in, 3, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "arg2 (2,4,5,6) does not match arg0 (2,3,6,6): all "
			 "inputs must have the same shape except along dim 1");
	in[2] = shape_make(3, 2L, 4L, 6L);
	ck_assert_int_eq(op_concat.infer_shape(p, in, 3, out, 1), MX_ERR_SHAPE);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "arg2 (2,4,6) does not match arg0 (2,3,6,6)"));
	ck_assert_int_eq(op_concat.infer_shape(q, in, 2, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "dim 5 is outside arg0 (2,3,6,6)");
	in[2].ndim = 0;
	ck_assert_int_eq(op_concat.infer_shape(p, in, 3, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "the shape of arg2 is unknown");
	free(p);
	free(q);
}
END_TEST

START_TEST(reshape_to_an_impossible_shape_names_both_shapes)
{
	static const struct {
		const char *key, *value, *message;
	} cases[] = {
		{"shape", "(5, -1)", "cannot reshape data (2,3,4) (24 elements) to (5,4) (20 elements) "
				     "given by shape=(5,-1)"},
		{"shape", "(7,)", "cannot reshape data (2,3,4) (24 elements) to (7) (7 elements) given "
				  "by shape=(7)"},
		{"shape", "(-1, -1)", "shape (-1,-1): only one axis can be inferred (-1)"},
		{"shape", "(0, 0, 0, 0)", "shape (0,0,0,0): 0 copies an axis, but data (2,3,4) has no "
					  "axis left to copy"},
		{"shape", "(-3, -3)", "shape (-3,-3): -3 merges two axes, but data (2,3,4) has fewer left"},
		{"shape", "(-4, 5, -1, -2)", "shape (-4,5,-1,-2): -4 cannot split axis 2 of data (2,3,4) "
					     "into 5 x 0"},
		{"shape", "(-4, -1, -1, -2)", "shape (-4,-1,-1,-2): -4's two values cannot both be -1"},
		{"shape", "(2, -5)", "shape (2,-5): -5 is not a size or one of the codes 0, -1, -2, -3, -4"},
		{"target_shape", "(5, 0)", "cannot reshape data (2,3,4) (24 elements) to (5,4) (20 "
					   "elements) given by target_shape=(5,0)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		void *p = op_param_new(&op_reshape);
		struct mx_shape in[1] = {shape_make(3, 2L, 3L, 4L)}, out[1];
		ck_ok(param_set(op_reshape.params, p, cases[i].key, cases[i].value));
		ck_assert_int_eq(op_reshape.infer_shape(p, in, 1, out, 1), MX_ERR_SHAPE);
		ck_assert_str_eq(mx_error_message(), cases[i].message);
		free(p);
	}
	{
		void *p = op_param_new(&op_reshape);
		struct mx_shape in[1] = {shape_make(3, 2L, 3L, 4L)}, out[1];
		ck_assert_int_eq(op_reshape.infer_shape(p, in, 1, out, 1), MX_ERR_SHAPE);
		ck_assert_str_eq(mx_error_message(), "Reshape needs shape (or the deprecated target_shape)");
		free(p);
	}
}
END_TEST

START_TEST(bad_parameters_and_shapes_are_rejected_with_their_values)
{
	void *bn = op_param_new(&op_batch_norm), *lrn = op_param_new(&op_lrn);
	void *leaky = op_param_new(&op_leaky_relu), *reg = op_param_new(&op_mae_regression_output);
	void *add = op_param_new(&op_elemwise_add), *cat = op_param_new(&op_concat);
	const char *prelu_kv[] = {"act_type", "prelu", NULL};
	void *prelu = parse_param(&op_leaky_relu, prelu_kv);
	struct mx_shape in[5] = {shape_make(4, 2L, 3L, 4L, 4L), shape_make(1, 4L)}, out[3];

	ck_assert_int_eq(op_batch_norm.infer_shape(bn, in, 5, out, 3), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(),
			 "gamma (4) does not match data (2,3,4,4): expected gamma (3)");
	ck_ok(param_set(op_batch_norm.params, bn, "axis", "4"));
	in[1].ndim = 0;
	ck_assert_int_eq(op_batch_norm.infer_shape(bn, in, 5, out, 3), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "axis 4 is outside data (2,3,4,4)");
	ck_ok(param_set(op_batch_norm.params, bn, "momentum", "1.5"));
	ck_assert_int_eq(op_batch_norm.check_param(bn), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "momentum = 1.5 is out of range [0, 1]");

	ck_assert_int_eq(op_lrn.check_param(lrn), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "nsize must be given, odd and > 0, got 0");
	ck_ok(param_set(op_lrn.params, lrn, "nsize", "4"));
	ck_assert_int_eq(op_lrn.check_param(lrn), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "nsize must be given, odd and > 0, got 4");

	ck_assert_int_eq(param_set(op_leaky_relu.params, leaky, "act_type", "prleu"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(),
				     "is not one of leaky, prelu, rrelu, elu, selu, gelu"));
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "did you mean \"prelu\""));
	ck_ok(param_set(op_leaky_relu.params, leaky, "act_type", "rrelu"));
	ck_ok(param_set(op_leaky_relu.params, leaky, "lower_bound", "0.5"));
	ck_assert_int_eq(op_leaky_relu.check_param(leaky), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(),
			 "rrelu needs 0 <= lower_bound < upper_bound, got 0.5 and 0.334");
	in[1] = shape_make(1, 4L);
	ck_assert_int_eq(op_leaky_relu.infer_shape(prelu, in, 2, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "gamma (4) does not match data (2,3,4,4): expected "
			 "gamma (3) (one slope per channel) or (1)");

	in[0] = shape_make(2, 8L, 3L);
	in[1] = shape_make(1, 8L);
	ck_assert_int_eq(op_mae_regression_output.infer_shape(reg, in, 2, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "label (8) does not match data (8,3): expected label (8,3)");
	ck_assert_int_eq(op_elemwise_add.infer_shape(add, in, 2, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(),
			 "lhs (8,3) does not match rhs (8): both must have the same shape");
	ck_assert_int_eq(op_concat.check_param(cat), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "num_args must be given, in [1, 128], got 0");
	free(bn);
	free(lrn);
	free(leaky);
	free(reg);
	free(add);
	free(cat);
	free(prelu);
}
END_TEST

START_TEST(unknown_keys_get_a_did_you_mean)
{
	void *bn = op_param_new(&op_batch_norm), *rs = op_param_new(&op_reshape);
	ck_assert_int_eq(param_set(op_batch_norm.params, bn, "fix_gama", "False"), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "unknown key \"fix_gama\" (did you mean \"fix_gamma\"?)");
	ck_assert_int_eq(param_set(op_reshape.params, rs, "shap", "(0, -1)"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "did you mean \"shape\""));
	free(bn);
	free(rs);
}
END_TEST

static Suite *layers_suite(void)
{
	Suite *s = suite_create("ops_layers");
	TCase *grad = tcase_create("gradients"), *fwd = tcase_create("forward");
	TCase *torch = tcase_create("pytorch"), *mxnet = tcase_create("mxnet");
	TCase *desc = tcase_create("descriptors"), *err = tcase_create("errors");
	int n_bn = sizeof bn_cases / sizeof bn_cases[0];
	int n_leaky = sizeof leaky_cases / sizeof leaky_cases[0];
	int n_reshape = sizeof reshape_cases / sizeof reshape_cases[0];
	tcase_set_timeout(grad, 60);
	tcase_set_timeout(desc, 30);
	tcase_add_loop_test(grad, batchnorm_gradients_match_central_differences_in_every_mode, 0, n_bn);
	tcase_add_test(grad, lrn_gradients_match_central_differences_for_several_window_sizes);
	tcase_add_loop_test(grad, leaky_relu_gradients_match_central_differences_for_every_act_type, 0,
			    n_leaky);
	tcase_add_loop_test(grad, concat_gradients_match_central_differences_on_every_axis, 0, 6);
	tcase_add_test(grad, elemwise_add_gradients_are_the_output_gradient_for_both_sides);
	tcase_add_loop_test(grad, reshape_codes_give_mxnet_shapes_and_pass_the_gradient_through, 0,
			    n_reshape);
	tcase_add_loop_test(grad, softmax_activation_gradients_match_central_differences_in_both_modes,
			    0, 2);
	tcase_add_loop_test(grad, regression_output_gradients_match_their_losses, 0, 3);
	tcase_add_test(fwd, rrelu_draws_slopes_in_its_bounds_in_training_and_uses_their_mean_otherwise);
	tcase_add_test(fwd, concat_forward_puts_the_inputs_side_by_side_along_dim);
	tcase_add_test(fwd, batchnorm_keeps_the_batch_mean_and_inverse_std_as_mxnet_does);
	tcase_add_test(fwd, in_place_forward_and_backward_give_the_same_numbers);
	tcase_add_test(torch, batchnorm_matches_pytorch_in_training_and_with_global_statistics);
	tcase_add_test(torch, lrn_matches_pytorch_local_response_norm_with_alpha_over_nsize);
	tcase_add_test(torch, leaky_relu_family_matches_pytorch);
	tcase_add_test(torch, softmax_activation_matches_pytorch_softmax);
	tcase_add_loop_test(torch, concat_matches_pytorch_cat_on_dims_0_to_3, 0, 4);
	tcase_add_test(mxnet, batchnorm_moving_averages_and_gradients_match_mxnet_after_a_training_step);
	tcase_add_test(mxnet, regression_outputs_match_mxnet);
	tcase_add_test(mxnet, reshape_special_codes_give_the_shapes_mxnet_infers);
	tcase_add_test(desc, operators_are_found_by_mxnet_name_and_conf_alias);
	tcase_add_test(desc, inputs_outputs_and_auxiliary_states_follow_mxnet);
	tcase_add_test(desc, shapes_of_weights_labels_and_outputs_are_inferred);
	tcase_add_test(desc, operators_that_compute_report_their_flops);
	tcase_add_test(desc, batchnorm_on_nchw_runs_over_contiguous_planes_quickly);
	tcase_add_test(err, concat_shape_mismatch_names_the_input_and_both_shapes);
	tcase_add_test(err, reshape_to_an_impossible_shape_names_both_shapes);
	tcase_add_test(err, bad_parameters_and_shapes_are_rejected_with_their_values);
	tcase_add_test(err, unknown_keys_get_a_did_you_mean);
	suite_add_tcase(s, grad);
	suite_add_tcase(s, fwd);
	suite_add_tcase(s, torch);
	suite_add_tcase(s, mxnet);
	suite_add_tcase(s, desc);
	suite_add_tcase(s, err);
	return s;
}

int main(void) { return run_suite(layers_suite()); }
