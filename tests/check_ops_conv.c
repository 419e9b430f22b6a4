/* check_ops_conv.c: Convolution and Pooling: numeric gradient checks at random shapes,
 * forward and backward against PyTorch and MXNet 1.9.1 (tests/fixtures/conv, from
 * tests/peer/make_conv_fixtures.py), batched against per-image kernels, shapes, flops,
 * and the error messages users see; and the operators of convolutional networks split
 * over a thread pool against one thread. */
#include <float.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "cpu/conv.h"
#include "engine/threadpool.h"
#include "net/op.h"
#include "param.h"
#include "rng.h"
#include "testutil.h"

#include "gradcheck.h"

/* gradcheck.h's loader reads FIXTURES/ops/<base>.txt; ours live beside, in conv/. */
static void conv_fixture_load(const char *name, struct fixture *fx)
{
	char base[128];
	snprintf(base, sizeof base, "../conv/%s", name);
	fixture_load(base, fx);
}

/* Distinct values, at least 2/n apart, in random order in [lo, lo + 2): max pooling's
 * finite differences go wrong where two inputs of a window lie within eps of each other. */
static void fill_distinct(struct mx_tensor *t, struct mx_rng *r, float lo)
{
	int64_t n = shape_size(&t->shape);
	int64_t *idx = malloc(n * sizeof *idx);
	float *x = tensor_f32(t);
	for (int64_t i = 0; i < n; i++)
		idx[i] = i;
	rng_shuffle(r, idx, n);
	for (int64_t i = 0; i < n; i++)
		x[i] = lo + 2.0f * (float)idx[i] / (float)n;
	free(idx);
}

static void kv_describe(const char *op, const char *const *kv, char *buf, size_t size)
{
	size_t n = snprintf(buf, size, "%s(", op);
	for (int i = 0; kv[i] && n < size; i += 2)
		n += snprintf(buf + n, size - n, "%s%s=%s", i ? "," : "", kv[i], kv[i + 1]);
	if (n < size)
		snprintf(buf + n, size - n, ")");
}

/* ---------------------------------------------------------------- convolution gradients */

/* One convolution configuration; data shapes are drawn at random around it. */
struct conv_case {
	const char *kv[16];
	int nd;            /* spatial dimensions */
	int groups;
	int64_t extent[3]; /* dilated kernel extent minus twice the pad, per spatial dim */
};

static const struct conv_case conv_cases[] = {
	{{"kernel", "(3, 3)", "num_filter", "random", NULL}, 2, 1, {3, 3}},
	{{"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", "num_filter", "random", NULL}, 2, 1, {1, 1}},
	{{"kernel", "(2, 3)", "stride", "(2, 1)", "pad", "(1, 0)", "dilate", "(2, 1)", "num_filter", "random",
	  NULL}, 2, 1, {1, 3}},
	{{"kernel", "(3, 3)", "dilate", "(2, 2)", "pad", "(2, 2)", "num_filter", "random", NULL}, 2, 1, {1, 1}},
	{{"kernel", "(3, 3)", "num_group", "2", "no_bias", "True", "pad", "(1, 1)", "num_filter", "random",
	  NULL}, 2, 2, {1, 1}},
	{{"kernel", "(3, 3)", "num_group", "3", "num_filter", "random", NULL}, 2, 3, {3, 3}},
	{{"kernel", "(1, 1)", "num_filter", "random", NULL}, 2, 1, {1, 1}},
	{{"kernel", "(1, 1)", "no_bias", "True", "num_group", "2", "num_filter", "random", NULL}, 2, 2, {1, 1}},
	{{"kernel", "(1, 1)", "stride", "(2, 2)", "num_filter", "random", NULL}, 2, 1, {1, 1}},
	{{"kernel", "(3,)", "stride", "(2,)", "pad", "(1,)", "num_filter", "random", NULL}, 1, 1, {1}},
	{{"kernel", "(2, 2, 2)", "pad", "(1, 0, 1)", "num_filter", "random", NULL}, 3, 1, {0, 2, 0}},
};

START_TEST(convolution_gradients_match_central_differences_at_random_shapes)
{
	const struct conv_case *c = &conv_cases[_i];
	struct mx_rng r;
	double worst = 0;
	char what[160], filters[16];
	rng_seed(&r, 200 + _i);
	for (int trial = 0; trial < 3; trial++) {
		struct op_run run;
		const char *kv[16];
		struct mx_shape shapes[3] = {{0}};
		int g = c->groups;
		int64_t channels = g * (1 + rng_below(&r, 2)), k = g * (1 + rng_below(&r, 2));
		snprintf(filters, sizeof filters, "%lld", (long long)k);
		for (int i = 0; i < 16; i++)
			kv[i] = c->kv[i] && !strcmp(c->kv[i], "random") ? filters : c->kv[i];
		shapes[0].ndim = c->nd + 2;
		shapes[0].dim[0] = 1 + rng_below(&r, 2);
		shapes[0].dim[1] = channels;
		for (int i = 0; i < c->nd; i++) {
			int64_t min = c->extent[i] < 1 ? 1 : c->extent[i];
			shapes[0].dim[2 + i] = min + rng_below(&r, c->nd == 3 ? 2 : 4);
		}
		run_setup(&run, &op_convolution, kv, shapes, &r);
		worst = fmax(worst, grad_check(&run, NULL, 2e-3, 2e-3));
		check_req_add(&run);
		run_free(&run);
	}
	kv_describe("Convolution", c->kv, what, sizeof what);
	report(what, worst);
}
END_TEST

/* The kernels take several images per GEMM (chunks) or one; both must give one image's
 * numbers. 300 small images need more than one chunk, forward and backward. */
static const struct cpu_conv_shape batched_cases[] = {
	{.batch = 300, .channels = 4, .filters = 6, .groups = 2, .in = {1, 6, 5}, .out = {1, 4, 5},
	 .kernel = {1, 3, 3}, .stride = {1, 1, 1}, .pad = {0, 0, 1}, .dilate = {1, 1, 1}},
	{.batch = 300, .channels = 3, .filters = 4, .groups = 1, .in = {1, 5, 4}, .out = {1, 5, 4},
	 .kernel = {1, 1, 1}, .stride = {1, 1, 1}, .pad = {0, 0, 0}, .dilate = {1, 1, 1}},
	{.batch = 300, .channels = 2, .filters = 3, .groups = 1, .in = {1, 7, 6}, .out = {1, 3, 3},
	 .kernel = {1, 3, 2}, .stride = {1, 2, 3}, .pad = {0, 1, 1}, .dilate = {1, 2, 2}},
};

START_TEST(batched_convolution_matches_one_image_at_a_time)
{
	const struct cpu_conv_shape *batch = &batched_cases[_i];
	struct cpu_conv_shape one = *batch;
	struct mx_rng r;
	int64_t N = batch->batch, K = batch->filters;
	int64_t in_size = batch->channels * batch->in[1] * batch->in[2];
	int64_t out_size = K * batch->out[1] * batch->out[2];
	int64_t w_size = K * batch->channels / batch->groups * batch->kernel[1] * batch->kernel[2];
	float *x = malloc(N * in_size * sizeof(float)), *w = malloc(w_size * sizeof(float));
	float *b = malloc(K * sizeof(float)), *dy = malloc(N * out_size * sizeof(float));
	float *y = malloc(N * out_size * sizeof(float)), *y1 = malloc(out_size * sizeof(float));
	float *dx = malloc(N * in_size * sizeof(float)), *dx1 = malloc(in_size * sizeof(float));
	float *dw = malloc(w_size * sizeof(float)), *dw1 = calloc(w_size, sizeof(float));
	float *db = malloc(K * sizeof(float)), *db1 = calloc(K, sizeof(float));
	float *scratch;
	one.batch = 1;
	rng_seed(&r, 300 + _i);
	for (int64_t i = 0; i < N * in_size; i++)
		x[i] = rng_uniform(&r) - 0.5f;
	for (int64_t i = 0; i < N * out_size; i++)
		dy[i] = rng_uniform(&r) - 0.5f;
	for (int64_t i = 0; i < w_size; i++)
		w[i] = rng_uniform(&r) - 0.5f;
	for (int64_t i = 0; i < K; i++)
		b[i] = rng_uniform(&r);
	ck_assert_uint_gt(cpu_conv_scratch_bytes(batch), cpu_conv_scratch_bytes(&one));
	scratch = cpu_conv_scratch(cpu_conv_scratch_bytes(batch));
	ck_assert_ptr_nonnull(scratch);
	cpu_conv_forward(batch, x, w, b, y, 0, scratch);
	cpu_conv_backward(batch, x, w, dy, dx, 0, dw, 0, db, 0, scratch);
	for (int64_t n = 0; n < N; n++) {
		cpu_conv_forward(&one, x + n * in_size, w, b, y1, 0, scratch);
		check_close("image's output", y + n * out_size, y1, out_size, 1e-5, 1e-5);
		/* the weight and bias gradients accumulate over images */
		cpu_conv_backward(&one, x + n * in_size, w, dy + n * out_size, dx1, 0, dw1, 1, db1, 1,
				  scratch);
		check_close("image's data gradient", dx + n * in_size, dx1, in_size, 1e-5, 1e-5);
	}
	check_close("weight gradient", dw, dw1, w_size, 1e-4, 1e-4);
	check_close("bias gradient", db, db1, K, 1e-4, 1e-4);
	free(x), free(w), free(b), free(dy), free(y), free(y1), free(dx), free(dx1), free(dw), free(dw1);
	free(db), free(db1);
}
END_TEST

START_TEST(convolution_without_a_data_gradient_still_gives_weight_and_bias_gradients)
{
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[3] = {shape_make(4, 3L, 1L, 8L, 8L)};
	const char *kv[] = {"kernel", "(5, 5)", "num_filter", "4", NULL};
	float *dw, *db;
	struct mx_tensor *dx;
	rng_seed(&r, 310);
	run_setup(&run, &op_convolution, kv, shapes, &r);
	fill_uniform(run.out_grad[0], &r, 1.0f);
	run_forward(&run);
	run_backward(&run);
	dw = copy_floats(run.in_grad[1]);
	db = copy_floats(run.in_grad[2]);
	dx = run.in_grad[0];
	run.in_grad[0] = NULL; /* the first layer: nobody wants its data gradient */
	run.bw_req[0] = OP_REQ_NULL;
	tensor_fill(run.in_grad[1], 7.0f);
	tensor_fill(run.in_grad[2], 7.0f);
	run_backward(&run);
	check_close("dw without dx", tensor_f32(run.in_grad[1]), dw, 100, 0, 0);
	check_close("db without dx", tensor_f32(run.in_grad[2]), db, 4, 0, 0);
	run.in_grad[0] = dx;
	run.bw_req[0] = OP_REQ_WRITE;
	free(dw);
	free(db);
	run_free(&run);
}
END_TEST

/* ---------------------------------------------------------------- pooling gradients */

static const char *const pool_type_kv[][5] = {
	{"pool_type", "max", NULL}, {"pool_type", "avg", NULL}, {"pool_type", "sum", NULL},
	{"pool_type", "lp", "p_value", "1"}, {"pool_type", "lp", "p_value", "2"},
	{"pool_type", "lp", "p_value", "3"},
};

/* Window settings crossed with every pool type; the last ones pad, which avg counts or
 * not (count_include_pad), and the first is global. */
static const char *const pool_window_kv[][12] = {
	{"global_pool", "True", NULL},
	{"kernel", "(2, 2)", "stride", "(2, 2)", NULL},
	{"kernel", "(3, 2)", "stride", "(2, 1)", "pooling_convention", "full", NULL},
	{"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", NULL},
	{"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", "pooling_convention", "full", NULL},
	{"kernel", "(2, 3)", "stride", "(3, 2)", "pad", "(1, 1)", "pooling_convention", "full",
	 "count_include_pad", "False", NULL},
	{"kernel", "(3,)", "stride", "(2,)", "pad", "(1,)", "pooling_convention", "full", NULL},
	{"kernel", "(2, 2, 2)", "pad", "(1, 0, 1)", "stride", "(2, 1, 2)", NULL},
};
#define N_POOL_WINDOWS ((int)(sizeof pool_window_kv / sizeof pool_window_kv[0]))

START_TEST(pooling_gradients_match_central_differences_for_every_type_and_convention)
{
	const char *const *type = pool_type_kv[_i / N_POOL_WINDOWS];
	const char *const *window = pool_window_kv[_i % N_POOL_WINDOWS];
	const char *kv[16];
	struct mx_rng r;
	struct op_run run;
	struct mx_shape shapes[1] = {{0}};
	int n = 0, nd = 2;
	double worst;
	char what[200];
	for (int i = 0; type[i]; i++)
		kv[n++] = type[i];
	for (int i = 0; window[i]; i++)
		kv[n++] = window[i];
	kv[n] = NULL;
	if (!strcmp(window[1], "(3,)"))
		nd = 1;
	else if (!strcmp(window[1], "(2, 2, 2)"))
		nd = 3;
	rng_seed(&r, 400 + _i);
	shapes[0].ndim = nd + 2;
	shapes[0].dim[0] = 2;
	shapes[0].dim[1] = 2;
	for (int i = 0; i < nd; i++)
		shapes[0].dim[2 + i] = 3 + rng_below(&r, nd == 3 ? 2 : 4);
	if (nd == 2) /* wide enough for the 2x2 kernel's four windows at a time, and a tail */
		shapes[0].dim[3] = 9 + rng_below(&r, 4);
	run_setup(&run, &op_pooling, kv, shapes, &r);
	/* lp with p 2 or 3: positive inputs keep the p-th root away from 0, where it is steep */
	fill_distinct(run.in[0], &r, type[2] && strcmp(type[3], "1") ? 0.5f : -1.0f);
	worst = grad_check(&run, NULL, 2e-3, 2e-3);
	check_req_add(&run);
	run_free(&run);
	kv_describe("Pooling", kv, what, sizeof what);
	report(what, worst);
}
END_TEST

/* ---------------------------------------------------------------- against PyTorch, MXNet */

static void compare_conv(const char *file, const char *const *kv)
{
	struct fixture fx;
	struct op_run run;
	struct mx_shape xs, ws, ys, shapes[3] = {{0}};
	struct mx_rng r;
	int has_bias;
	conv_fixture_load(file, &fx);
	fixture_get(&fx, "x", &xs);
	fixture_get(&fx, "w", &ws);
	fixture_get(&fx, "y", &ys);
	shapes[0] = xs;
	rng_seed(&r, 1);
	run_setup(&run, &op_convolution, kv, shapes, &r);
	has_bias = run.n_in == 3;
	ck_assert_msg(shape_equal(&run.in[1]->shape, &ws), "%s: inferred weight shape", file);
	ck_assert_msg(shape_equal(&run.out[0]->shape, &ys), "%s: inferred output shape", file);
	memcpy(run.in[0]->data, fixture_get(&fx, "x", NULL), tensor_bytes(run.in[0]));
	memcpy(run.in[1]->data, fixture_get(&fx, "w", NULL), tensor_bytes(run.in[1]));
	if (has_bias)
		memcpy(run.in[2]->data, fixture_get(&fx, "b", NULL), tensor_bytes(run.in[2]));
	memcpy(run.out_grad[0]->data, fixture_get(&fx, "dy", NULL), tensor_bytes(run.out_grad[0]));
	run_forward(&run);
	run_backward(&run);
	check_close(file, tensor_f32(run.out[0]), fixture_get(&fx, "y", NULL), shape_size(&ys), 1e-5, 1e-4);
	check_close("dx", tensor_f32(run.in_grad[0]), fixture_get(&fx, "dx", NULL), shape_size(&xs),
		    1e-5, 1e-4);
	check_close("dw", tensor_f32(run.in_grad[1]), fixture_get(&fx, "dw", NULL), shape_size(&ws),
		    1e-5, 1e-4);
	if (has_bias)
		check_close("db", tensor_f32(run.in_grad[2]), fixture_get(&fx, "db", NULL),
			    shape_size(&run.in[2]->shape), 1e-5, 1e-4);
	run_free(&run);
	fixture_free(&fx);
}

static const struct {
	const char *file;
	const char *kv[16];
} conv_refs[] = {
	{"conv_basic", {"kernel", "(3, 3)", "num_filter", "4", NULL}},
	{"conv_stride_pad", {"kernel", "(3, 2)", "stride", "(2, 3)", "pad", "(1, 2)", "num_filter", "5", NULL}},
	{"conv_dilate", {"kernel", "(3, 3)", "pad", "(1, 1)", "dilate", "(2, 2)", "num_filter", "3", NULL}},
	{"conv_group", {"kernel", "(3, 3)", "pad", "(1, 1)", "num_group", "2", "num_filter", "6", NULL}},
	{"conv_1x1_nobias", {"kernel", "(1, 1)", "no_bias", "True", "num_filter", "3", NULL}},
	{"conv_1d", {"kernel", "(3,)", "stride", "(2,)", "pad", "(1,)", "num_filter", "4", NULL}},
	{"conv_3d", {"kernel", "(3, 3, 2)", "stride", "(1, 2, 1)", "pad", "(1, 0, 1)", "num_filter", "3",
		     NULL}},
	{"conv_5x5", {"kernel", "(5, 5)", "num_filter", "8", NULL}},
	{"conv_mx_group_dilate", {"kernel", "(3, 3)", "stride", "(2, 2)", "dilate", "(2, 2)", "pad",
				  "(2, 2)", "num_filter", "6", "num_group", "2", NULL}},
};

START_TEST(convolution_forward_and_backward_match_pytorch_and_mxnet)
{
	compare_conv(conv_refs[_i].file, conv_refs[_i].kv);
}
END_TEST

static const struct {
	const char *file;
	const char *kv[16];
} pool_refs[] = {
	{"pool_max_2x2", {"kernel", "(2, 2)", "stride", "(2, 2)", NULL}},
	{"pool_max_3x3_s2_p1", {"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", NULL}},
	{"pool_max_full", {"kernel", "(3, 3)", "stride", "(2, 2)", "pooling_convention", "full", NULL}},
	{"pool_avg_pad", {"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", "pool_type", "avg", NULL}},
	{"pool_avg_pad_exclude", {"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", "pool_type",
				  "avg", "count_include_pad", "False", NULL}},
	{"pool_avg_full", {"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", "pool_type", "avg",
			   "pooling_convention", "full", NULL}},
	{"pool_sum", {"kernel", "(2, 3)", "stride", "(1, 2)", "pool_type", "sum", NULL}},
	{"pool_global_avg", {"global_pool", "True", "pool_type", "avg", NULL}},
	{"pool_max_1d", {"kernel", "(3,)", "stride", "(2,)", "pad", "(1,)", NULL}},
	{"pool_avg_3d", {"kernel", "(2, 2, 2)", "stride", "(2, 2, 2)", "pool_type", "avg", NULL}},
	{"pool_mx_lp1", {"kernel", "(2, 2)", "stride", "(2, 2)", "pad", "(1, 1)", "pool_type", "lp",
			 "p_value", "1", NULL}},
	{"pool_mx_lp2", {"kernel", "(2, 2)", "stride", "(2, 2)", "pad", "(1, 1)", "pool_type", "lp",
			 "p_value", "2", NULL}},
	{"pool_mx_lp3", {"kernel", "(2, 2)", "stride", "(2, 2)", "pad", "(1, 1)", "pool_type", "lp",
			 "p_value", "3", NULL}},
	{"pool_mx_full_edge_max", {"kernel", "(2, 2)", "stride", "(3, 3)", "pad", "(1, 1)",
				   "pooling_convention", "full", NULL}},
	{"pool_mx_full_edge_avg", {"kernel", "(2, 2)", "stride", "(3, 3)", "pad", "(1, 1)", "pool_type",
				   "avg", "pooling_convention", "full", NULL}},
	{"pool_mx_full_avg_exclude", {"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)",
				      "pool_type", "avg", "pooling_convention", "full",
				      "count_include_pad", "False", NULL}},
	{"pool_mx_ties_2x2", {"kernel", "(2, 2)", "stride", "(2, 2)", NULL}},
	{"pool_mx_ties_3x3", {"kernel", "(3, 3)", "stride", "(1, 1)", NULL}},
	{"pool_mx_ties_pad", {"kernel", "(2, 2)", "stride", "(1, 1)", "pad", "(1, 1)", NULL}},
	{"pool_mx_global_sum", {"kernel", "(2, 2)", "pad", "(1, 1)", "global_pool", "True", "pool_type",
				"sum", NULL}},
	{"pool_mx_1d_full_max", {"kernel", "(3,)", "stride", "(2,)", "pooling_convention", "full", NULL}},
};

START_TEST(pooling_forward_and_backward_match_pytorch_and_mxnet)
{
	const char *file = pool_refs[_i].file;
	struct fixture fx;
	struct op_run run;
	struct mx_shape xs, ys, shapes[1];
	struct mx_rng r;
	conv_fixture_load(file, &fx);
	fixture_get(&fx, "x", &xs);
	fixture_get(&fx, "y", &ys);
	shapes[0] = xs;
	rng_seed(&r, 1);
	run_setup(&run, &op_pooling, pool_refs[_i].kv, shapes, &r);
	ck_assert_msg(shape_equal(&run.out[0]->shape, &ys), "%s: inferred output shape", file);
	memcpy(run.in[0]->data, fixture_get(&fx, "x", NULL), tensor_bytes(run.in[0]));
	memcpy(run.out_grad[0]->data, fixture_get(&fx, "dy", NULL), tensor_bytes(run.out_grad[0]));
	run_forward(&run);
	run_backward(&run);
	check_close(file, tensor_f32(run.out[0]), fixture_get(&fx, "y", NULL), shape_size(&ys), 1e-5, 1e-4);
	check_close("dx", tensor_f32(run.in_grad[0]), fixture_get(&fx, "dx", NULL), shape_size(&xs),
		    1e-5, 1e-4);
	run_free(&run);
	fixture_free(&fx);
}
END_TEST

/* ---------------------------------------------------------------- shapes, flops, names */

static void infer(const struct op_desc *op, const char *const *kv, struct mx_shape *in, int n_in,
		  struct mx_shape *out)
{
	void *p = parse_param(op, kv);
	ck_ok(op->infer_shape(p, in, n_in, out, 1));
	free(p);
}

START_TEST(lenet_shapes_flops_and_workspace_are_inferred)
{
	const char *c1[] = {"kernel", "(5, 5)", "num_filter", "20", NULL};
	const char *c2[] = {"kernel", "(5, 5)", "num_filter", "50", NULL};
	const char *pool[] = {"kernel", "(2, 2)", "stride", "(2, 2)", NULL};
	struct mx_shape in[3] = {shape_make(4, 64L, 1L, 28L, 28L)}, out[1];
	struct mx_shape w1 = shape_make(4, 20L, 1L, 5L, 5L), b1 = shape_make(1, 20L);
	struct mx_shape y1 = shape_make(4, 64L, 20L, 24L, 24L), p1 = shape_make(4, 64L, 20L, 12L, 12L);
	struct mx_shape y2 = shape_make(4, 64L, 50L, 8L, 8L), w2 = shape_make(4, 50L, 20L, 5L, 5L);
	void *p = parse_param(&op_convolution, c1), *q = parse_param(&op_pooling, pool);
	infer(&op_convolution, c1, in, 3, out);
	ck_assert(shape_equal(&in[1], &w1));
	ck_assert(shape_equal(&in[2], &b1));
	ck_assert(shape_equal(&out[0], &y1));
	/* 2 * N * K * C * kh * kw * Ho * Wo */
	ck_assert_double_eq(op_convolution.flops(p, in, 3, out, 1), 2.0 * 64 * 20 * 1 * 25 * 576);
	ck_assert_uint_gt(op_convolution.workspace(p, in, 3), 0);
	in[0] = out[0];
	infer(&op_pooling, pool, in, 1, out);
	ck_assert(shape_equal(&out[0], &p1));
	ck_assert_double_eq(op_pooling.flops(q, in, 1, out, 1), 64.0 * 20 * 144 * 4);
	in[0] = out[0];
	in[1].ndim = in[2].ndim = 0;
	infer(&op_convolution, c2, in, 3, out);
	ck_assert(shape_equal(&in[1], &w2));
	ck_assert(shape_equal(&out[0], &y2));
	free(p);
	free(q);
}
END_TEST

START_TEST(output_sizes_follow_mxnet_for_stride_pad_dilate_and_conventions)
{
	struct {
		const struct op_desc *op;
		const char *kv[12];
		struct mx_shape in, want;
	} cases[] = {
		/* floor((H + 2p - d(k-1) - 1) / s) + 1 */
		{&op_convolution, {"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", "num_filter", "8", NULL},
		 shape_make(4, 2L, 3L, 224L, 223L), shape_make(4, 2L, 8L, 112L, 112L)},
		{&op_convolution, {"kernel", "(3, 3)", "dilate", "(3, 2)", "num_filter", "4", NULL},
		 shape_make(4, 1L, 3L, 10L, 10L), shape_make(4, 1L, 4L, 4L, 6L)},
		{&op_convolution, {"kernel", "(1, 1)", "stride", "(2, 2)", "num_filter", "4", NULL},
		 shape_make(4, 1L, 3L, 7L, 8L), shape_make(4, 1L, 4L, 4L, 4L)},
		{&op_convolution, {"kernel", "(5,)", "num_filter", "2", NULL},
		 shape_make(3, 4L, 3L, 9L), shape_make(3, 4L, 2L, 5L)},
		{&op_convolution, {"kernel", "(3, 3, 3)", "pad", "(1, 1, 1)", "num_filter", "2", NULL},
		 shape_make(5, 1L, 3L, 4L, 5L, 6L), shape_make(5, 1L, 2L, 4L, 5L, 6L)},
		/* valid: floor((x + 2p - k) / s) + 1; full: ceil */
		{&op_pooling, {"kernel", "(3, 3)", "stride", "(2, 2)", NULL},
		 shape_make(4, 1L, 1L, 8L, 7L), shape_make(4, 1L, 1L, 3L, 3L)},
		{&op_pooling, {"kernel", "(3, 3)", "stride", "(2, 2)", "pooling_convention", "full", NULL},
		 shape_make(4, 1L, 1L, 8L, 7L), shape_make(4, 1L, 1L, 4L, 3L)},
		{&op_pooling, {"kernel", "(2, 2)", NULL}, /* stride () is 1 */
		 shape_make(4, 1L, 1L, 5L, 5L), shape_make(4, 1L, 1L, 4L, 4L)},
		{&op_pooling, {"global_pool", "True", "kernel", "(3, 3)", "pad", "(1, 1)", NULL},
		 shape_make(4, 2L, 3L, 7L, 9L), shape_make(4, 2L, 3L, 1L, 1L)},
		{&op_pooling, {"global_pool", "True", NULL},
		 shape_make(3, 2L, 3L, 7L), shape_make(3, 2L, 3L, 1L)},
		{&op_pooling, {"kernel", "(2, 2, 2)", "stride", "(2, 2, 2)", NULL},
		 shape_make(5, 2L, 3L, 4L, 5L, 6L), shape_make(5, 2L, 3L, 2L, 2L, 3L)},
	};
	for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
		struct mx_shape in[3] = {cases[i].in}, out[1];
		char a[64], b[64];
		infer(cases[i].op, cases[i].kv, in, cases[i].op == &op_convolution ? 3 : 1, out);
		ck_assert_msg(shape_equal(&out[0], &cases[i].want), "case %d: got %s, want %s", i,
			      shape_str(&out[0], a, sizeof a), shape_str(&cases[i].want, b, sizeof b));
	}
}
END_TEST

START_TEST(operators_are_found_by_name_and_alias_and_list_their_inputs)
{
	const char *names[4];
	const char *kv[] = {"kernel", "(3, 3)", "num_filter", "8", "no_bias", "True", NULL};
	void *p = parse_param(&op_convolution, kv);
	ck_assert_ptr_eq(op_find("Convolution"), &op_convolution);
	ck_assert_ptr_eq(op_find("conv"), &op_convolution);
	ck_assert_ptr_eq(op_find("convolution"), &op_convolution);
	ck_assert_ptr_eq(op_find("Pooling"), &op_pooling);
	ck_assert_ptr_eq(op_find("pool"), &op_pooling);
	ck_assert_ptr_eq(op_find("pooling"), &op_pooling);
	ck_assert_int_eq(op_input_names(&op_convolution, p, names, 4), 2);
	ck_assert_str_eq(names[1], "weight");
	ck_ok(param_set(op_convolution.params, p, "no_bias", "False"));
	ck_assert_int_eq(op_input_names(&op_convolution, p, names, 4), 3);
	ck_assert_str_eq(names[2], "bias");
	ck_assert_int_eq(op_input_names(&op_pooling, NULL, names, 4), 1);
	ck_assert_int_eq(op_pooling.n_outputs, 1);
	/* MXNet's keys that only tune cuDNN or MKL-DNN are accepted */
	ck_ok(param_set(op_convolution.params, p, "workspace", "512"));
	ck_ok(param_set(op_convolution.params, p, "cudnn_tune", "limited_workspace"));
	ck_ok(param_set(op_convolution.params, p, "cudnn_off", "True"));
	ck_ok(param_set(op_convolution.params, p, "layout", "NCHW"));
	ck_ok(op_convolution.check_param(p));
	free(p);
}
END_TEST

/* ---------------------------------------------------------------- error paths */

static int infer_error(const struct op_desc *op, const char *const *kv, struct mx_shape data)
{
	const char *names[MAX_IO];
	struct mx_shape in[MAX_IO] = {data}, out[1];
	void *p = parse_param(op, kv);
	int rc = op->infer_shape(p, in, op_input_names(op, p, names, MAX_IO), out, 1);
	free(p);
	return rc;
}

START_TEST(a_kernel_larger_than_the_padded_input_names_the_shapes)
{
	const char *conv[] = {"kernel", "(5, 5)", "num_filter", "4", NULL};
	const char *dilated[] = {"kernel", "(3, 3)", "dilate", "(3, 3)", "pad", "(1, 1)", "num_filter",
				 "4", NULL};
	const char *pool[] = {"kernel", "(5, 5)", "pad", "(1, 1)", NULL};
	ck_assert_int_eq(infer_error(&op_convolution, conv, shape_make(4, 2L, 3L, 4L, 9L)), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "kernel (5,5) is larger than data (2,3,4,9) padded by () to 4x9");
	ck_assert_int_eq(infer_error(&op_convolution, dilated, shape_make(4, 2L, 3L, 4L, 9L)), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(),
			 "kernel (3,3) dilated to 7x7 is larger than data (2,3,4,9) padded by (1,1) to 6x11");
	ck_assert_int_eq(infer_error(&op_pooling, pool, shape_make(4, 2L, 3L, 2L, 9L)), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "kernel (5,5) is larger than data (2,3,2,9) padded by (1,1) to 4x11");
}
END_TEST

START_TEST(channels_or_filters_not_divisible_by_num_group_are_rejected)
{
	const char *kv[] = {"kernel", "(3, 3)", "num_filter", "6", "num_group", "3", NULL};
	void *p = op_param_new(&op_convolution);
	ck_assert_int_eq(infer_error(&op_convolution, kv, shape_make(4, 2L, 10L, 8L, 8L)), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "data (2,10,8,8) has 10 channels, not divisible by num_group 3");
	ck_ok(param_set(op_convolution.params, p, "kernel", "(3, 3)"));
	ck_ok(param_set(op_convolution.params, p, "num_filter", "10"));
	ck_ok(param_set(op_convolution.params, p, "num_group", "4"));
	ck_assert_int_eq(op_convolution.check_param(p), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "num_filter 10 is not divisible by num_group 4");
	free(p);
}
END_TEST

START_TEST(layouts_other_than_channels_first_are_rejected)
{
	void *p = op_param_new(&op_convolution), *q = op_param_new(&op_pooling);
	const char *ncw[] = {"kernel", "(3, 3)", "num_filter", "2", "layout", "NCW", NULL};
	const char *pool[] = {"kernel", "(2, 2)", "layout", "NCDHW", NULL};
	ck_ok(param_set(op_convolution.params, p, "kernel", "(3, 3)"));
	ck_ok(param_set(op_convolution.params, p, "num_filter", "2"));
	ck_ok(param_set(op_convolution.params, p, "layout", "NHWC"));
	ck_assert_int_eq(op_convolution.check_param(p), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(),
			 "layout NHWC is not supported: only channels-first NCW, NCHW and NCDHW");
	ck_assert_int_eq(param_set(op_convolution.params, p, "layout", "NCHWC"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "layout: \"NCHWC\" is not one of None, NCW"));
	ck_ok(param_set(op_pooling.params, q, "kernel", "(2, 2)"));
	ck_ok(param_set(op_pooling.params, q, "layout", "NHWC"));
	ck_assert_int_eq(op_pooling.check_param(q), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(),
			 "layout NHWC is not supported: only channels-first NCW, NCHW and NCDHW");
	{
		void *r = op_param_new(&op_convolution);
		for (int i = 0; ncw[i]; i += 2)
			ck_ok(param_set(op_convolution.params, r, ncw[i], ncw[i + 1]));
		ck_assert_int_eq(op_convolution.check_param(r), MX_ERR_INVALID);
		ck_assert_str_eq(mx_error_message(), "layout NCW does not fit kernel (3,3) (2-D)");
		free(r);
	}
	ck_assert_int_eq(infer_error(&op_pooling, pool, shape_make(4, 1L, 2L, 8L, 8L)), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "layout NCDHW does not fit data (1,2,8,8)");
	free(p);
	free(q);
}
END_TEST

START_TEST(missing_or_inconsistent_parameters_are_rejected_with_their_values)
{
	void *p = op_param_new(&op_convolution), *q = op_param_new(&op_pooling);
	const char *conv[] = {"kernel", "(3, 3)", "num_filter", "4", NULL};
	struct mx_shape in[3] = {shape_make(4, 2L, 3L, 8L, 8L), shape_make(4, 4L, 2L, 3L, 3L)}, out[1];
	void *c = parse_param(&op_convolution, conv);
	ck_assert_int_eq(op_convolution.check_param(p), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "kernel must be given, e.g. kernel = (3, 3)");
	ck_ok(param_set(op_convolution.params, p, "kernel", "(3, 3)"));
	ck_assert_int_eq(op_convolution.check_param(p), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "num_filter must be given and > 0, got 0");
	ck_ok(param_set(op_convolution.params, p, "num_filter", "4"));
	ck_ok(param_set(op_convolution.params, p, "stride", "(2, 2, 2)"));
	ck_assert_int_eq(op_convolution.check_param(p), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "stride (2,2,2) has 3 dimensions but kernel (3,3) has 2");
	ck_assert_int_eq(param_set(op_convolution.params, p, "stride", "(0, 1)"), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "stride = 0 is out of range (must be >= 1)");
	ck_assert_int_eq(param_set(op_convolution.params, p, "num_filtre", "4"), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "unknown key \"num_filtre\" (did you mean \"num_filter\"?)");
	/* data of the wrong rank, weight of the wrong shape */
	ck_assert_int_eq(infer_error(&op_convolution, conv, shape_make(3, 2L, 3L, 8L)), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "data (2,3,8) is 3-D but kernel (3,3) needs 4-D data (N, C, H, W)");
	ck_assert_int_eq(op_convolution.infer_shape(c, in, 3, out, 1), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(),
			 "weight (4,2,3,3) does not match data (2,3,8,8): expected weight (4,3,3,3)");
	/* pooling */
	ck_assert_int_eq(op_pooling.check_param(q), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(),
			 "kernel must be given unless global_pool is set, e.g. kernel = (2, 2)");
	ck_ok(param_set(op_pooling.params, q, "kernel", "(2, 2)"));
	ck_ok(param_set(op_pooling.params, q, "pool_type", "lp"));
	ck_assert_int_eq(op_pooling.check_param(q), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "pool_type lp needs p_value (1, 2 or 3)");
	ck_assert_int_eq(param_set(op_pooling.params, q, "p_value", "4"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "p_value: \"4\" is not one of None, 1, 2, 3"));
	ck_assert_int_eq(param_set(op_pooling.params, q, "pool_type", "mean"), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "is not one of max, avg, sum, lp"));
	ck_ok(param_set(op_pooling.params, q, "pool_type", "max"));
	ck_ok(param_set(op_pooling.params, q, "pooling_convention", "same"));
	ck_assert_int_eq(op_pooling.check_param(q), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "pooling_convention same is not supported: use valid or full");
	ck_ok(param_set(op_pooling.params, q, "count_include_pad", "false"));
	free(p);
	free(q);
	free(c);
}
END_TEST

/* ---------------------------------------------------------------- threads */

/* The operators of convolutional networks split their work over ctx->pool. Each case is
 * large enough to split into 3 pieces (convolution: 3 x 2^19 multiply-adds; elementwise
 * loops: 3 x 32k floats; softmax: 3 x 4k) except where noted; `exact` says the split
 * leaves every sum in its order, so the numbers must be identical to the bit. Otherwise
 * (convolution: its weight and bias gradients add up per piece, its GEMMs take other
 * chunks of images) they must agree to 1e-6 of each array's largest magnitude (sums of
 * hundreds of products cancel to values far below it; the differences seen are 4e-7). */
struct threaded_case {
	const struct op_desc *op;
	const char *kv[16];
	struct mx_shape data;
	int exact;
};

static const struct threaded_case threaded_cases[] = {
	{&op_convolution, {"kernel", "(3, 3)", "pad", "(1, 1)", "num_filter", "12", NULL},
	 {4, {9, 8, 16, 16}}, 0},
	/* 2 pieces at most: 1.25M multiply-adds */
	{&op_convolution, {"kernel", "(3, 3)", "stride", "(2, 2)", "num_group", "2", "num_filter", "16",
	 NULL}, {4, {9, 16, 24, 24}}, 0},
	{&op_convolution, {"kernel", "(1, 1)", "no_bias", "True", "num_filter", "32", NULL},
	 {4, {9, 32, 16, 16}}, 0},
	/* LeNet's second layer */
	{&op_convolution, {"kernel", "(5, 5)", "num_filter", "50", NULL}, {4, {10, 20, 12, 12}}, 0},
	/* fewer images than threads: 2 pieces */
	{&op_convolution, {"kernel", "(3, 3)", "pad", "(1, 1)", "num_filter", "16", NULL},
	 {4, {2, 16, 32, 32}}, 0},
	{&op_convolution, {"kernel", "(5,)", "stride", "(2,)", "num_filter", "24", NULL},
	 {3, {7, 32, 1000}}, 0},
	{&op_pooling, {"kernel", "(2, 2)", "stride", "(2, 2)", NULL}, {4, {9, 20, 24, 24}}, 1},
	{&op_pooling, {"kernel", "(3, 3)", "stride", "(2, 2)", "pad", "(1, 1)", "pool_type", "avg",
	 "pooling_convention", "full", "count_include_pad", "False", NULL}, {4, {9, 20, 24, 24}}, 1},
	{&op_activation, {"act_type", "relu", NULL}, {4, {9, 20, 24, 24}}, 1},
	{&op_activation, {"act_type", "sigmoid", NULL}, {2, {9, 12000}}, 1},
	{&op_batch_norm, {"fix_gamma", "False", NULL}, {4, {9, 20, 24, 24}}, 1},
	{&op_dropout, {"p", "0.3", NULL}, {2, {9, 20000}}, 1},
	{&op_softmax_output, {"normalization", "batch", NULL}, {2, {2000, 10}}, 1},
	{&op_softmax_output, {"multi_output", "True", NULL}, {3, {30, 10, 100}}, 1},
};

/* Every output, input gradient and input (BatchNorm moves its moving averages) of one run,
 * copied. */
struct run_arrays {
	int n;
	char name[3 * MAX_IO][24];
	float *data[3 * MAX_IO];
	int64_t size[3 * MAX_IO];
};

static void keep_array(struct run_arrays *a, const char *kind, int i, const struct mx_tensor *t)
{
	snprintf(a->name[a->n], sizeof a->name[0], "%s %d", kind, i);
	a->data[a->n] = copy_floats(t);
	a->size[a->n] = shape_size(&t->shape);
	a->n++;
}

/* Restores the inputs to `inputs`, runs forward and backward on `pool` (with req ADD onto
 * 0.5 and 0.25 when add), and keeps what came out in *a. */
static void run_on_pool(struct op_run *r, struct mx_threadpool *pool, float *const *inputs,
			int add, struct run_arrays *a)
{
	int loss = r->op->flags & OP_LOSS;
	r->ctx.pool = pool;
	for (int i = 0; i < r->n_in; i++)
		memcpy(r->in[i]->data, inputs[i], shape_size(&r->in[i]->shape) * sizeof(float));
	for (int i = 0; i < r->n_out; i++)
		tensor_fill(r->out[i], add && i == 0 && !loss ? 0.5f : 0.0f);
	r->fw_req[0] = add && !loss ? OP_REQ_ADD : OP_REQ_WRITE;
	run_forward(r);
	for (int i = 0; i < r->n_in; i++) {
		if (r->bw_req[i] == OP_REQ_NULL)
			continue;
		tensor_fill(r->in_grad[i], add ? 0.25f : 0.0f);
		r->bw_req[i] = add ? OP_REQ_ADD : OP_REQ_WRITE;
	}
	run_backward(r);
	memset(a, 0, sizeof *a);
	for (int i = 0; i < r->n_out; i++)
		keep_array(a, "output", i, r->out[i]);
	for (int i = 0; i < r->n_in; i++) {
		if (r->bw_req[i] != OP_REQ_NULL)
			keep_array(a, "input gradient", i, r->in_grad[i]);
		keep_array(a, "input", i, r->in[i]);
		if (r->bw_req[i] != OP_REQ_NULL)
			r->bw_req[i] = OP_REQ_WRITE;
	}
	r->fw_req[0] = OP_REQ_WRITE;
	r->ctx.pool = NULL;
}

static void run_arrays_free(struct run_arrays *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->data[i]);
}

/* The first index where got differs from want: in its bits when exact, else by more than
 * 1e-6 of want's largest magnitude (*tol). -1 when none. (One Check assertion per float
 * would cost a write each.) */
static int64_t first_difference(const float *got, const float *want, int64_t n, int exact,
				double *tol)
{
	double scale = 0;
	for (int64_t e = 0; e < n; e++)
		scale = fmax(scale, fabs(want[e]));
	*tol = exact ? 0 : 1e-6 * scale;
	for (int64_t e = 0; e < n; e++)
		if (exact ? memcmp(&got[e], &want[e], sizeof(float)) != 0
			  : !(fabs((double)got[e] - want[e]) <= *tol))
			return e;
	return -1;
}

START_TEST(operators_split_over_2_or_3_threads_give_the_single_thread_numbers)
{
	const struct threaded_case *c = &threaded_cases[_i];
	struct mx_shape shapes[MAX_IO] = {c->data};
	struct op_run run;
	struct mx_rng r;
	float *inputs[MAX_IO] = {0};
	void *workspace = NULL;
	char what[160];
	rng_seed(&r, 700 + _i);
	run_setup(&run, c->op, c->kv, shapes, &r);
	kv_describe(c->op->name, c->kv, what, sizeof what);
	for (int i = 0; i < run.n_vis; i++)
		fill_uniform(run.out_grad[i], &r, 1.0f);
	for (int i = 0; i < run.n_in; i++) {
		if (c->op->label_mask >> i & 1) { /* labels in range */
			float *lab = tensor_f32(run.in[i]);
			for (int64_t j = 0; j < shape_size(&run.in[i]->shape); j++)
				lab[j] = (float)rng_below(&r, 10);
		}
		inputs[i] = copy_floats(run.in[i]);
	}
	if (c->op->workspace) { /* the executor's workspace: piece 0 takes it */
		struct mx_shape in_shapes[MAX_IO];
		for (int i = 0; i < run.n_in; i++)
			in_shapes[i] = run.in[i]->shape;
		run.ctx.workspace_bytes = c->op->workspace(run.param, in_shapes, run.n_in);
		workspace = run.ctx.workspace = malloc(run.ctx.workspace_bytes);
	}
	for (int add = 0; add <= 1; add++) {
		struct run_arrays want;
		run_on_pool(&run, NULL, inputs, add, &want);
		for (int threads = 2; threads <= 3; threads++) {
			struct mx_threadpool *pool = threadpool_create(threads);
			struct run_arrays got;
			ck_assert_ptr_nonnull(pool);
			run_on_pool(&run, pool, inputs, add, &got);
			ck_assert_int_eq(got.n, want.n);
			for (int k = 0; k < got.n; k++) {
				char label[256];
				double tol;
				snprintf(label, sizeof label, "%s, %d threads, %s, %s", what, threads,
					 add ? "req add" : "req write", got.name[k]);
				int64_t e = first_difference(got.data[k], want.data[k], got.size[k], c->exact, &tol);
				if (e >= 0 && c->exact)
					ck_abort_msg("%s[%lld]: got %.9g, want %.9g: not the same bits", label,
						     (long long)e, got.data[k][e], want.data[k][e]);
				else if (e >= 0)
					ck_abort_msg("%s[%lld]: got %.9g, want %.9g: |diff| > %.3g", label,
						     (long long)e, got.data[k][e], want.data[k][e], tol);
			}
			run_arrays_free(&got);
			threadpool_free(pool);
		}
		run_arrays_free(&want);
	}
	for (int i = 0; i < run.n_in; i++)
		free(inputs[i]);
	free(workspace);
	run.ctx.workspace = NULL;
	run_free(&run);
}
END_TEST

static Suite *conv_suite(void)
{
	Suite *s = suite_create("ops_conv");
	TCase *grad = tcase_create("gradients"), *ref = tcase_create("references");
	TCase *desc = tcase_create("descriptors"), *err = tcase_create("errors");
	int n_conv = sizeof conv_cases / sizeof conv_cases[0];
	int n_pool = (int)(sizeof pool_type_kv / sizeof pool_type_kv[0]) * N_POOL_WINDOWS;
	tcase_set_timeout(grad, 60);
	tcase_add_loop_test(grad, convolution_gradients_match_central_differences_at_random_shapes, 0, n_conv);
	tcase_add_loop_test(grad, batched_convolution_matches_one_image_at_a_time, 0,
			    (int)(sizeof batched_cases / sizeof batched_cases[0]));
	tcase_add_test(grad, convolution_without_a_data_gradient_still_gives_weight_and_bias_gradients);
	tcase_add_loop_test(grad, pooling_gradients_match_central_differences_for_every_type_and_convention,
			    0, n_pool);
	tcase_add_loop_test(ref, convolution_forward_and_backward_match_pytorch_and_mxnet, 0,
			    (int)(sizeof conv_refs / sizeof conv_refs[0]));
	tcase_add_loop_test(ref, pooling_forward_and_backward_match_pytorch_and_mxnet, 0,
			    (int)(sizeof pool_refs / sizeof pool_refs[0]));
	tcase_add_loop_test(grad, operators_split_over_2_or_3_threads_give_the_single_thread_numbers, 0,
			    (int)(sizeof threaded_cases / sizeof threaded_cases[0]));
	tcase_add_test(desc, lenet_shapes_flops_and_workspace_are_inferred);
	tcase_add_test(desc, output_sizes_follow_mxnet_for_stride_pad_dilate_and_conventions);
	tcase_add_test(desc, operators_are_found_by_name_and_alias_and_list_their_inputs);
	tcase_add_test(err, a_kernel_larger_than_the_padded_input_names_the_shapes);
	tcase_add_test(err, channels_or_filters_not_divisible_by_num_group_are_rejected);
	tcase_add_test(err, layouts_other_than_channels_first_are_rejected);
	tcase_add_test(err, missing_or_inconsistent_parameters_are_rejected_with_their_values);
	suite_add_tcase(s, grad);
	suite_add_tcase(s, ref);
	suite_add_tcase(s, desc);
	suite_add_tcase(s, err);
	return s;
}

int main(void) { return run_suite(conv_suite()); }
