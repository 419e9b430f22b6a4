/* check_graph.c: graph construction, shape inference (and its errors), automatic
 * backward and the executor, checked against a hand-written reference MLP and against
 * finite differences through the whole bound graph. */
#include <string.h>

#include "engine/engine.h"
#include "net/executor.h"
#include "net/graph.h"
#include "net/plan.h"
#include "testutil.h"

#define N 4   /* batch */
#define D 5   /* input features */
#define H 6   /* hidden */
#define C 3   /* classes */

static int add(struct graph *g, const char *type, const char *name, const char *key, const char *value,
	       int input)
{
	const char *keys[1] = {key}, *values[1] = {value};
	struct graph_entry in = {input, 0};
	int id = graph_add_op(g, op_find(type), name, keys, values, key ? 1 : 0, &in, 1, "t.conf:1");
	ck_assert_msg(id >= 0, "%s", mx_error_message());
	return id;
}

/* data -> fc1(H) -> relu -> fc2(C) -> SoftmaxOutput */
static struct graph *mlp(void)
{
	struct graph *g = graph_new();
	int x = graph_add_variable(g, "data", NODE_DATA), sm;
	x = add(g, "fc", "fc1", "num_hidden", "6", x);
	x = add(g, "Activation", "relu1", "act_type", "relu", x);
	x = add(g, "FullyConnected", "fc2", "num_hidden", "3", x);
	sm = add(g, "SoftmaxOutput", "softmax", NULL, NULL, x);
	ck_ok(graph_set_heads(g, &(struct graph_entry){sm, 0}, 1));
	return g;
}

static void fill(struct mx_tensor *t, struct mx_rng *r, float scale)
{
	for (int64_t i = 0; i < shape_size(&t->shape); i++)
		tensor_f32(t)[i] = (rng_uniform(r) * 2 - 1) * scale;
}

struct bound {
	struct graph *g;
	struct engine *e;
	struct executor *ex;
	struct mx_rng rng;
};

static void bind_mlp(struct bound *b, struct graph *g, int train)
{
	const char *names[2] = {"data", "softmax_label"};
	struct mx_shape shapes[2] = {shape_make(2, (int64_t)N, (int64_t)D), shape_make(1, (int64_t)N)};
	b->g = g;
	b->e = engine_create(ENGINE_NAIVE, 1);
	rng_seed(&b->rng, 7);
	if (train)
		ck_ok(graph_build_backward(g));
	ck_ok(executor_bind(g, b->e, MX_CPU, names, shapes, 2, train, NULL, &b->rng, &b->ex));
	fill(executor_var(b->ex, "data"), &b->rng, 1);
	fill(executor_var(b->ex, "fc1_weight"), &b->rng, 0.5f);
	fill(executor_var(b->ex, "fc1_bias"), &b->rng, 0.5f);
	fill(executor_var(b->ex, "fc2_weight"), &b->rng, 0.5f);
	fill(executor_var(b->ex, "fc2_bias"), &b->rng, 0.5f);
	for (int i = 0; i < N; i++)
		tensor_f32(executor_var(b->ex, "softmax_label"))[i] = (float)(i % C);
}

static void unbind(struct bound *b)
{
	executor_free(b->ex);
	engine_free(b->e);
	graph_free(b->g);
}

/* The reference: the same MLP in plain double loops, with its gradients written out by
 * hand (softmax cross-entropy summed over the batch, MXNet's normalization "null"). */
static void reference(struct executor *ex, double *prob, double *dw1, double *db1, double *dw2, double *db2)
{
	const float *x = tensor_f32(executor_var(ex, "data")), *w1 = tensor_f32(executor_var(ex, "fc1_weight")),
		    *b1 = tensor_f32(executor_var(ex, "fc1_bias")), *w2 = tensor_f32(executor_var(ex, "fc2_weight")),
		    *b2 = tensor_f32(executor_var(ex, "fc2_bias")), *y = tensor_f32(executor_var(ex, "softmax_label"));
	double h[N][H], z[N][C], dz[N][C], dh[N][H];
	memset(dw1, 0, sizeof(double) * H * D);
	memset(db1, 0, sizeof(double) * H);
	memset(dw2, 0, sizeof(double) * C * H);
	memset(db2, 0, sizeof(double) * C);
	for (int n = 0; n < N; n++) {
		double m = -1e30, s = 0;
		for (int j = 0; j < H; j++) {
			double a = b1[j];
			for (int i = 0; i < D; i++)
				a += (double)x[n * D + i] * w1[j * D + i];
			h[n][j] = a > 0 ? a : 0;
		}
		for (int k = 0; k < C; k++) {
			z[n][k] = b2[k];
			for (int j = 0; j < H; j++)
				z[n][k] += h[n][j] * w2[k * H + j];
			m = z[n][k] > m ? z[n][k] : m;
		}
		for (int k = 0; k < C; k++)
			s += exp(z[n][k] - m);
		for (int k = 0; k < C; k++) {
			prob[n * C + k] = exp(z[n][k] - m) / s;
			dz[n][k] = prob[n * C + k] - (k == (int)y[n]);
		}
		for (int j = 0; j < H; j++) {
			dh[n][j] = 0;
			for (int k = 0; k < C; k++)
				dh[n][j] += dz[n][k] * w2[k * H + j];
			if (h[n][j] <= 0)
				dh[n][j] = 0;
		}
		for (int k = 0; k < C; k++) {
			db2[k] += dz[n][k];
			for (int j = 0; j < H; j++)
				dw2[k * H + j] += dz[n][k] * h[n][j];
		}
		for (int j = 0; j < H; j++) {
			db1[j] += dh[n][j];
			for (int i = 0; i < D; i++)
				dw1[j * D + i] += dh[n][j] * x[n * D + i];
		}
	}
}

static void check_against(const char *label, const float *got, const double *want, int n)
{
	float w[64];
	for (int i = 0; i < n; i++)
		w[i] = (float)want[i];
	check_close(label, got, w, n, 1e-5, 1e-5);
}

START_TEST(an_mlp_forward_and_backward_match_a_hand_written_reference)
{
	struct bound b;
	double prob[N * C], dw1[H * D], db1[H], dw2[C * H], db2[C];
	bind_mlp(&b, mlp(), 1);
	ck_ok(executor_forward(b.ex, 1));
	ck_ok(executor_backward(b.ex));
	ck_ok(engine_wait_all(b.e));
	reference(b.ex, prob, dw1, db1, dw2, db2);
	check_against("softmax", tensor_f32(executor_output(b.ex, 0)), prob, N * C);
	check_against("fc1_weight grad", tensor_f32(executor_grad(b.ex, "fc1_weight")), dw1, H * D);
	check_against("fc1_bias grad", tensor_f32(executor_grad(b.ex, "fc1_bias")), db1, H);
	check_against("fc2_weight grad", tensor_f32(executor_grad(b.ex, "fc2_weight")), dw2, C * H);
	check_against("fc2_bias grad", tensor_f32(executor_grad(b.ex, "fc2_bias")), db2, C);
	ck_assert_ptr_null(executor_grad(b.ex, "data"));
	ck_assert_ptr_null(executor_grad(b.ex, "softmax_label"));
	unbind(&b);
}
END_TEST

START_TEST(shapes_are_inferred_for_weights_labels_and_outputs)
{
	struct bound b;
	const struct mx_shape *s;
	struct graph *g = mlp();
	bind_mlp(&b, g, 0);
	s = executor_shapes(b.ex);
	ck_assert(shape_equal(&executor_var(b.ex, "fc1_weight")->shape, &(struct mx_shape){2, {H, D}}));
	ck_assert(shape_equal(&executor_var(b.ex, "fc2_bias")->shape, &(struct mx_shape){1, {C}}));
	ck_assert(shape_equal(&executor_var(b.ex, "softmax_label")->shape, &(struct mx_shape){1, {N}}));
	ck_assert(shape_equal(&s[graph_entry_id(g, g->heads[0])], &(struct mx_shape){2, {N, C}}));
	ck_assert_int_eq(graph_list_vars(g, NODE_ARG, NULL, 0), 4);
	unbind(&b);
}
END_TEST

START_TEST(a_shape_mismatch_names_the_layer_its_inputs_and_their_shapes)
{
	struct graph *g = mlp();
	struct mx_shape *shapes = calloc(g->n_entries, sizeof *shapes);
	shapes[0] = shape_make(2, 4L, 5L);
	shapes[g->nodes[graph_find(g, "fc2_weight")].entry_base] = shape_make(2, 3L, 7L);
	ck_assert_int_eq(graph_infer_shapes(g, shapes), MX_ERR_SHAPE);
	ck_assert_msg(strstr(mx_error_message(), "t.conf:1: layer fc2 (FullyConnected)") &&
			      strstr(mx_error_message(), "(3,7)") && strstr(mx_error_message(), "(4,6)"),
		      "message: %s", mx_error_message());
	ck_assert_ptr_null(strchr(mx_error_message(), '\n'));
	free(shapes);
	graph_free(g);
}
END_TEST

START_TEST(bad_layer_parameters_name_the_place_and_the_key)
{
	struct graph *g = graph_new();
	const char *keys[1] = {"num_hiden"}, *values[1] = {"3"};
	int x = graph_add_variable(g, "data", NODE_DATA);
	ck_assert_int_eq(graph_add_op(g, op_find("fc"), "fc1", keys, values, 1, &(struct graph_entry){x, 0}, 1,
				      "net.conf:9"), -1);
	ck_assert_str_eq(mx_error_message(),
			 "net.conf:9: layer fc1 (FullyConnected): unknown key \"num_hiden\" (did you mean \"num_hidden\"?)");
	ck_assert_int_eq(graph_add_op(g, op_find("fc"), "fc1", NULL, NULL, 0, &(struct graph_entry){x, 0}, 1,
				      "net.conf:9"), -1);
	ck_assert_str_eq(mx_error_message(), "net.conf:9: layer fc1 (FullyConnected): missing required key \"num_hidden\"");
	graph_free(g);
}
END_TEST

START_TEST(training_needs_a_loss_layer_at_the_head)
{
	struct graph *g = graph_new();
	int x = graph_add_variable(g, "data", NODE_DATA);
	x = add(g, "fc", "fc1", "num_hidden", "3", x);
	ck_ok(graph_set_heads(g, &(struct graph_entry){x, 0}, 1));
	ck_assert_int_eq(graph_build_backward(g), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "layer fc1 (FullyConnected) is an output"));
	graph_free(g);
}
END_TEST

START_TEST(pruning_for_prediction_keeps_only_what_the_heads_need)
{
	struct graph *g = mlp(), *p;
	int extra = add(g, "fc", "unused", "num_hidden", "2", graph_find(g, "relu1"));
	struct graph_entry head = {graph_find(g, "relu1"), 0};
	(void)extra;
	p = graph_prune(g, &head, 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(graph_find(p, "unused"), -1);
	ck_assert_int_eq(graph_find(p, "fc2"), -1);
	ck_assert_int_ge(graph_find(p, "fc1_weight"), 0);
	ck_assert_int_eq(p->n_nodes, p->n_forward);
	graph_free(p);
	graph_free(g);
}
END_TEST

/* data -> fc1 -> relu -> {fc2, fc3} -> add_n -> SoftmaxOutput: relu's output feeds two
 * layers, so its gradient is a sum. Checked by central differences of the loss. */
static double loss_of(struct bound *b)
{
	const float *p, *y = tensor_f32(executor_var(b->ex, "softmax_label"));
	double l = 0;
	ck_ok(executor_forward(b->ex, 1));
	ck_ok(engine_wait_all(b->e));
	p = tensor_f32(executor_output(b->ex, 0));
	for (int n = 0; n < N; n++)
		l -= log(p[n * C + (int)y[n]]);
	return l;
}

START_TEST(gradients_of_an_entry_used_twice_are_summed)
{
	struct bound b;
	struct graph *g = graph_new();
	const char *k[1] = {"num_args"}, *v[1] = {"2"};
	int x = graph_add_variable(g, "data", NODE_DATA), a, c, s, sm;
	x = add(g, "fc", "fc1", "num_hidden", "6", x);
	x = add(g, "Activation", "relu1", "act_type", "tanh", x);
	a = add(g, "fc", "fc2", "num_hidden", "3", x);
	c = add(g, "fc", "fc3", "num_hidden", "3", x);
	s = graph_add_op(g, op_find("ElementWiseSum"), "sum", k, v, 1,
			 (struct graph_entry[]){{a, 0}, {c, 0}}, 2, NULL);
	ck_assert_int_ge(s, 0);
	sm = add(g, "SoftmaxOutput", "softmax", NULL, NULL, s);
	ck_ok(graph_set_heads(g, &(struct graph_entry){sm, 0}, 1));
	bind_mlp(&b, g, 1);
	fill(executor_var(b.ex, "fc3_weight"), &b.rng, 0.5f);
	ck_ok(executor_forward(b.ex, 1));
	ck_ok(executor_backward(b.ex));
	ck_ok(engine_wait_all(b.e));
	{
		struct mx_tensor *w = executor_var(b.ex, "fc1_weight");
		float analytic[H * D];
		memcpy(analytic, tensor_f32(executor_grad(b.ex, "fc1_weight")), sizeof analytic);
		for (int i = 0; i < H * D; i++) {
			float keep = tensor_f32(w)[i];
			double lp, lm;
			tensor_f32(w)[i] = keep + 1e-2f;
			lp = loss_of(&b);
			tensor_f32(w)[i] = keep - 1e-2f;
			lm = loss_of(&b);
			tensor_f32(w)[i] = keep;
			ck_assert_msg(fabs((lp - lm) / 2e-2 - analytic[i]) < 2e-3, "fc1_weight[%d]: numeric %g analytic %g",
				      i, (lp - lm) / 2e-2, analytic[i]);
		}
	}
	unbind(&b);
}
END_TEST


/* A deeper net with in-place candidates (relu, dropout), a branch and a sum. */
static struct graph *deep_net(void)
{
	struct graph *g = graph_new();
	const char *k[1] = {"num_args"}, *v[1] = {"2"};
	int x = graph_add_variable(g, "data", NODE_DATA), a, c, s, sm;
	x = add(g, "fc", "fc1", "num_hidden", "6", x);
	x = add(g, "Activation", "relu1", "act_type", "relu", x);
	x = add(g, "Dropout", "drop1", "p", "0.3", x);
	x = add(g, "fc", "fc2", "num_hidden", "6", x);
	x = add(g, "Activation", "act2", "act_type", "sigmoid", x);
	a = add(g, "fc", "fc3", "num_hidden", "3", x);
	c = add(g, "fc", "fc4", "num_hidden", "3", x);
	s = graph_add_op(g, op_find("add_n"), "sum", k, v, 1, (struct graph_entry[]){{a, 0}, {c, 0}}, 2, NULL);
	sm = add(g, "SoftmaxOutput", "softmax", NULL, NULL, s);
	ck_ok(graph_set_heads(g, &(struct graph_entry){sm, 0}, 1));
	ck_ok(graph_build_backward(g));
	return g;
}

START_TEST(planned_and_unplanned_runs_give_identical_bits)
{
	const char *names[2] = {"data", "softmax_label"};
	struct mx_shape shapes[2] = {shape_make(2, (int64_t)N, (int64_t)D), shape_make(1, (int64_t)N)};
	const char *vars[] = {"fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "fc3_weight", "fc3_bias",
			      "fc4_weight", "fc4_bias"};
	struct graph *g = deep_net();
	struct engine *e = engine_create(ENGINE_NAIVE, 1);
	struct executor *ex[2];
	struct mx_rng rng[2];
	for (int k = 0; k < 2; k++) {
		struct mx_rng fillr;
		rng_seed(&rng[k], 3);
		rng_seed(&fillr, 9);
		ck_ok(executor_bind_planned(g, e, MX_CPU, names, shapes, 2, 1, NULL, &rng[k], k ? PLAN_INPLACE | PLAN_COSHARE : 0,
					    &ex[k]));
		fill(executor_var(ex[k], "data"), &fillr, 1);
		for (int i = 0; i < 8; i++)
			fill(executor_var(ex[k], vars[i]), &fillr, 0.5f);
		for (int i = 0; i < N; i++)
			tensor_f32(executor_var(ex[k], "softmax_label"))[i] = (float)(i % C);
		for (int step = 0; step < 2; step++) {
			ck_ok(executor_forward(ex[k], 1));
			ck_ok(executor_backward(ex[k]));
		}
		ck_ok(engine_wait_all(e));
	}
	{
		size_t planned, unplanned;
		executor_plan_bytes(ex[1], &planned, &unplanned);
		ck_assert_uint_lt(planned, unplanned);
	}
	ck_assert_mem_eq(tensor_f32(executor_output(ex[0], 0)), tensor_f32(executor_output(ex[1], 0)), N * C * sizeof(float));
	for (int i = 0; i < 8; i++) {
		struct mx_tensor *a = executor_grad(ex[0], vars[i]), *b = executor_grad(ex[1], vars[i]);
		ck_assert_msg(!memcmp(a->data, b->data, tensor_bytes(a)), "gradient of %s differs when planned", vars[i]);
	}
	executor_free(ex[0]);
	executor_free(ex[1]);
	engine_free(e);
	graph_free(g);
}
END_TEST

START_TEST(each_sharing_strategy_shrinks_the_plan_and_inference_needs_least)
{
	const char *names[2] = {"data", "softmax_label"};
	struct mx_shape shapes[2] = {shape_make(2, 32L, (int64_t)D), shape_make(1, 32L)};
	struct graph *g = deep_net();
	struct plan_sizes train, infer;
	ck_ok(executor_plan_sizes(g, names, shapes, 2, 1, &train));
	ck_ok(executor_plan_sizes(g, names, shapes, 2, 0, &infer));
	ck_assert_uint_lt(train.internal[PLAN_INPLACE], train.internal[0]);
	ck_assert_uint_lt(train.internal[PLAN_COSHARE], train.internal[0]);
	ck_assert_uint_le(train.internal[PLAN_INPLACE | PLAN_COSHARE], train.internal[PLAN_COSHARE]);
	ck_assert_uint_lt(infer.internal[3], infer.internal[0]);
	ck_assert_uint_lt(infer.internal[3], train.internal[3]);
	/* 4 fc layers: (6x5+6) + (6x6+6) + 2 x (3x6+3) floats */
	ck_assert_uint_eq(train.weights, (36 + 42 + 42) * sizeof(float));
	ck_assert_uint_eq(train.gradients, train.weights);
	graph_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("graph");
	TCase *tc = tcase_create("graph");
	tcase_add_test(tc, an_mlp_forward_and_backward_match_a_hand_written_reference);
	tcase_add_test(tc, shapes_are_inferred_for_weights_labels_and_outputs);
	tcase_add_test(tc, a_shape_mismatch_names_the_layer_its_inputs_and_their_shapes);
	tcase_add_test(tc, bad_layer_parameters_name_the_place_and_the_key);
	tcase_add_test(tc, training_needs_a_loss_layer_at_the_head);
	tcase_add_test(tc, pruning_for_prediction_keeps_only_what_the_heads_need);
	tcase_add_test(tc, gradients_of_an_entry_used_twice_are_summed);
	tcase_add_test(tc, planned_and_unplanned_runs_give_identical_bits);
	tcase_add_test(tc, each_sharing_strategy_shrinks_the_plan_and_inference_needs_least);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
