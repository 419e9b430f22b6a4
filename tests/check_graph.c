/* check_graph.c: graph construction, shape inference (and its errors), automatic
 * backward and the executor, checked against a hand-written reference MLP and against
 * finite differences through the whole bound graph; the memory plan of every shipped
 * conf; the engine priorities of the executor and the updater. */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "net/conf.h"
#include "net/executor.h"
#include "net/graph.h"
#include "net/plan.h"
#include "net/timing.h"
#include "net/trainer.h"
#include "net/updater.h"
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


/* ---- the memory plan of the shipped confs ---- */

struct conf_net {
	struct graph *g;        /* with its backward nodes */
	const char *names[2];   /* data, and the label when there is one */
	struct mx_shape shapes[2];
	int n;
};

/* Loads confs/NAME.conf's network at a batch size. Returns false (nothing to free) when
 * its input shapes cannot be known here: the mnist and imagerec iterators read them from
 * their data files, which may not be installed. */
static bool load_conf_net(const char *name, int batch, struct conf_net *net)
{
	char path[1024];
	struct mx_conf *c = NULL;
	int labels[4];
	memset(net, 0, sizeof *net);
	snprintf(path, sizeof path, FIXTURES "/../../confs/%s.conf", name);
	ck_ok(conf_load(path, NULL, 0, &c));
	if (timing_input_shapes(&c->train, "data.train", &net->shapes[0], &net->shapes[1])) {
		conf_free(c);
		return false;
	}
	ck_ok(conf_build_graph(c, &net->g));
	conf_free(c);
	ck_ok(graph_build_backward(net->g));
	net->shapes[0].dim[0] = net->shapes[1].dim[0] = batch;
	net->names[0] = "data";
	net->n = 1;
	if (graph_list_vars(net->g, NODE_LABEL, labels, 4) > 0) {
		net->names[1] = net->g->nodes[labels[0]].name;
		net->n = 2;
	}
	return true;
}

/* What makes a plan safe to run with any number of engine workers: each entry's group
 * lives from before its writer runs to after its last reader ran; an in-place output
 * joins the group of the input it overwrites, and only its last reader overwrites it;
 * groups that live at the same time never share a byte; groups that share a byte share
 * an engine piece. (ck_abort_msg on failure only: each ck_assert that passes sends a
 * mark to the test runner, and there are many thousands of pairs here.) */
static void check_plan(const char *label, const struct graph *g, int n_nodes, const struct mem_plan *p)
{
	int *last_reader = calloc(g->n_entries + 1, sizeof *last_reader);
	for (int i = 0; i < n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j].node >= 0)
				last_reader[graph_entry_id(g, g->nodes[i].inputs[j])] = i;
	for (int i = 0; i < n_nodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		for (int j = 0; j < n->n_inputs; j++) {
			int e, gr;
			if (n->inputs[j].node < 0)
				continue;
			e = graph_entry_id(g, n->inputs[j]);
			gr = p->group[e];
			if (gr >= 0 && (p->start[gr] >= i || p->end[gr] < i))
				ck_abort_msg("%s: %s reads entry %d outside its group's life [%d, %d]", label, n->name, e,
					     p->start[gr], p->end[gr]);
		}
		for (int j = 0; j < n->n_outputs; j++) {
			int e = n->entry_base + j, gr = p->group[e];
			if (gr < 0)
				continue;
			if (p->start[gr] > i || p->end[gr] < i)
				ck_abort_msg("%s: %s writes outside its group's life", label, n->name);
			if (p->inplace[e] && (j != 0 || gr != p->group[graph_entry_id(g, n->inputs[0])]))
				ck_abort_msg("%s: %s in place but not in its input's group", label, n->name);
			if (p->inplace[e] && last_reader[graph_entry_id(g, n->inputs[0])] != i)
				ck_abort_msg("%s: %s overwrites its input, which node %d reads later", label, n->name,
					     last_reader[graph_entry_id(g, n->inputs[0])]);
		}
	}
	for (int a = 0; a < p->n_groups; a++) {
		if (p->offset[a] % 64 || p->offset[a] + p->bytes[a] > p->total_bytes)
			ck_abort_msg("%s: group %d at %zu (%zu bytes) outside the arena of %zu", label, a, p->offset[a],
				     p->bytes[a], p->total_bytes);
		for (int b = a + 1; b < p->n_groups; b++) {
			bool share_bytes = p->bytes[a] && p->bytes[b] && p->offset[a] < p->offset[b] + p->bytes[b] &&
					   p->offset[b] < p->offset[a] + p->bytes[a];
			bool live_together = !(p->end[a] < p->start[b] || p->end[b] < p->start[a]);
			if (share_bytes && live_together)
				ck_abort_msg("%s: groups %d [%d, %d] and %d [%d, %d] live together on shared bytes", label,
					     a, p->start[a], p->end[a], b, p->start[b], p->end[b]);
			if (share_bytes && (p->piece_first[a] >= p->piece_first[b] + p->piece_count[b] ||
					    p->piece_first[b] >= p->piece_first[a] + p->piece_count[a]))
				ck_abort_msg("%s: groups %d and %d share bytes but no engine piece", label, a, b);
		}
	}
	free(last_reader);
}

START_TEST(every_shipped_conf_gets_a_plan_that_keeps_live_entries_apart)
{
	const int batches[] = {1, 7, 64};
	int planned = 0, synthetic = 0;
	DIR *dir = opendir(FIXTURES "/../../confs");
	struct dirent *de;
	ck_assert(dir != NULL);
	while ((de = readdir(dir))) {
		char name[256];
		size_t len = strlen(de->d_name);
		if (len < 6 || len >= sizeof name || strcmp(de->d_name + len - 5, ".conf"))
			continue;
		memcpy(name, de->d_name, len - 5);
		name[len - 5] = 0;
		for (int b = 0; b < 3; b++) {
			struct conf_net net;
			if (!load_conf_net(name, batches[b], &net)) {
				/* only the confs that read Fashion-MNIST files may lack their data */
				ck_assert_msg(!strncmp(name, "fmnist", 6), "%s: %s", name, mx_error_message());
				continue;
			}
			synthetic += b == 0 && strncmp(name, "fmnist", 6) != 0;
			for (int train = 0; train < 2; train++)
				for (unsigned flags = 0; flags < 4; flags++) {
					char label[300];
					struct mem_plan *p;
					snprintf(label, sizeof label, "%s batch %d %s flags %u", name, batches[b],
						 train ? "training" : "inference", flags);
					ck_ok(executor_plan(net.g, net.names, net.shapes, net.n, train, flags, &p));
					check_plan(label, net.g, train ? net.g->n_nodes : net.g->n_forward, p);
					ck_assert_msg(flags & PLAN_COSHARE || p->n_pieces == p->n_groups,
						      "%s: without co-sharing each group is one piece", label);
					plan_free(p);
					planned++;
				}
			graph_free(net.g);
		}
	}
	closedir(dir);
	/* cifar-resnet20, alexnet, vgg16, inception-bn and resnet50 need no data files */
	ck_assert_int_ge(synthetic, 5);
	ck_assert_int_ge(planned, 5 * 3 * 8);
}
END_TEST

/* MXNet 1.9.1's figures (tests/bench/memory.sh, MB of debug_str()'s "Total N MB
 * allocated") for the same symbol JSON at batch 64. ResNet-50's inference figure is
 * the one of the same graph (MXNET_SUBGRAPH_BACKEND=NONE): by default MXNet's MKLDNN
 * build fuses each residual unit's last convolution with its sum into one operator and
 * needs 453 MB, which no plan of the unfused graph can reach (tests/bench/README.md). */
START_TEST(large_nets_at_batch_64_need_no_more_memory_than_mxnet)
{
	const struct {
		const char *conf;
		double train_mb, inference_mb;
	} cases[] = {{"vgg16", 4855, 1820}, {"inception-bn", 2797, 335}, {"resnet50", 5244, 600}};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct conf_net net;
		struct plan_sizes train, infer;
		ck_assert(load_conf_net(cases[c].conf, 64, &net));
		ck_ok(executor_plan_sizes(net.g, net.names, net.shapes, net.n, 1, &train));
		ck_ok(executor_plan_sizes(net.g, net.names, net.shapes, net.n, 0, &infer));
		ck_assert_msg(train.internal[3] / 1048576.0 <= cases[c].train_mb, "%s training: %.1f MB, MXNet %g MB",
			      cases[c].conf, train.internal[3] / 1048576.0, cases[c].train_mb);
		ck_assert_msg(infer.internal[3] / 1048576.0 <= cases[c].inference_mb,
			      "%s inference: %.1f MB, MXNet %g MB", cases[c].conf, infer.internal[3] / 1048576.0,
			      cases[c].inference_mb);
		/* the bounds: both strategies <= 0.5x of no sharing (training), 0.25x (inference) */
		ck_assert_uint_le(2 * train.internal[3], train.internal[0]);
		ck_assert_uint_le(4 * infer.internal[3], infer.internal[0]);
		graph_free(net.g);
	}
}
END_TEST

/* ---- the engine: planned runs with workers, priorities ---- */

/* A gate: a task that holds the engine's only worker until released, so that every task
 * pushed meanwhile waits and the worker then picks them by priority alone. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, open;
};

static int gate_task(void *arg)
{
	struct gate *gt = arg;
	pthread_mutex_lock(&gt->lock);
	gt->started = true;
	pthread_cond_broadcast(&gt->cond);
	while (!gt->open)
		pthread_cond_wait(&gt->cond, &gt->lock);
	pthread_mutex_unlock(&gt->lock);
	return MX_OK;
}

static void gate_close(struct engine *e, struct gate *gt, struct engine_var *v)
{
	pthread_mutex_init(&gt->lock, NULL);
	pthread_cond_init(&gt->cond, NULL);
	gt->started = gt->open = false;
	ck_ok(engine_push(e, gate_task, gt, NULL, NULL, 0, &v, 1, 0, "gate"));
	pthread_mutex_lock(&gt->lock);
	while (!gt->started)
		pthread_cond_wait(&gt->cond, &gt->lock);
	pthread_mutex_unlock(&gt->lock);
}

static void gate_open(struct gate *gt)
{
	pthread_mutex_lock(&gt->lock);
	gt->open = true;
	pthread_cond_broadcast(&gt->cond);
	pthread_mutex_unlock(&gt->lock);
}

/* data -> fc1 -> relu1 -> fc2 -> relu2 -> fc3 -> SoftmaxOutput: six parameters. */
static struct graph *three_layers(void)
{
	struct graph *g = graph_new();
	int x = graph_add_variable(g, "data", NODE_DATA), sm;
	x = add(g, "fc", "fc1", "num_hidden", "6", x);
	x = add(g, "Activation", "relu1", "act_type", "relu", x);
	x = add(g, "fc", "fc2", "num_hidden", "6", x);
	x = add(g, "Activation", "relu2", "act_type", "relu", x);
	x = add(g, "fc", "fc3", "num_hidden", "3", x);
	sm = add(g, "SoftmaxOutput", "softmax", NULL, NULL, x);
	ck_ok(graph_set_heads(g, &(struct graph_entry){sm, 0}, 1));
	ck_ok(graph_build_backward(g));
	return g;
}

struct training {
	struct engine *e;
	struct executor *ex;
	struct updater *u;
	struct mx_rng rng;
};

static const char *const params[] = {"fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "fc3_weight", "fc3_bias"};

/* Binds g for training on e with the plan flags, same weights and data every time, and
 * an SGD updater with momentum. */
static void start_training(struct training *t, struct graph *g, struct engine *e, unsigned flags)
{
	const char *names[2] = {"data", "softmax_label"};
	struct mx_shape shapes[2] = {shape_make(2, (int64_t)N, (int64_t)D), shape_make(1, (int64_t)N)};
	struct solver_param sp;
	struct mx_rng fillr;
	t->e = e;
	rng_seed(&t->rng, 3);
	rng_seed(&fillr, 9);
	ck_ok(executor_bind_planned(g, e, MX_CPU, names, shapes, 2, 1, NULL, &t->rng, flags, &t->ex));
	fill(executor_var(t->ex, "data"), &fillr, 1);
	for (int i = 0; i < N; i++)
		tensor_f32(executor_var(t->ex, "softmax_label"))[i] = (float)(i % C);
	for (int i = 0; i < 6; i++) {
		struct mx_tensor *w = executor_var(t->ex, params[i]);
		if (w)
			fill(w, &fillr, 0.5f);
	}
	param_defaults(solver_params, &sp);
	sp.lr = 0.1f;
	sp.momentum = 0.9f;
	ck_ok(updater_create(&sp, g, t->ex, e, N, 10, &t->u));
}

static void train_steps(struct training *t, int steps)
{
	for (int s = 0; s < steps; s++) {
		ck_ok(executor_forward(t->ex, 1));
		ck_ok(executor_backward(t->ex));
		ck_ok(updater_push(t->u));
	}
}

static void stop_training(struct training *t)
{
	updater_free(t->u);
	executor_free(t->ex);
}

static void assert_same_weights(struct training *a, struct training *b, const char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		struct mx_tensor *x = executor_var(a->ex, names[i]), *y = executor_var(b->ex, names[i]);
		ck_assert_msg(!memcmp(x->data, y->data, tensor_bytes(x)), "%s differs", names[i]);
	}
	ck_assert_mem_eq(tensor_f32(executor_output(a->ex, 0)), tensor_f32(executor_output(b->ex, 0)),
			 N * C * sizeof(float));
}

START_TEST(planned_runs_on_two_workers_give_the_bits_of_unplanned_sequential_runs)
{
	const char *vars[] = {"fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "fc3_weight", "fc3_bias",
			      "fc4_weight", "fc4_bias"};
	struct graph *g = deep_net();
	struct engine *naive = engine_create(ENGINE_NAIVE, 1), *threaded = engine_create(ENGINE_THREADED, 2);
	struct training seq, par;
	start_training(&seq, g, naive, 0);
	start_training(&par, g, threaded, PLAN_INPLACE | PLAN_COSHARE);
	train_steps(&seq, 5);
	train_steps(&par, 5);
	ck_ok(engine_wait_all(naive));
	ck_ok(engine_wait_all(threaded));
	assert_same_weights(&seq, &par, vars, 8);
	stop_training(&seq);
	stop_training(&par);
	engine_free(naive);
	engine_free(threaded);
	graph_free(g);
}
END_TEST

/* With one worker held at a gate while two batches are pushed, the worker then runs
 * what is ready by priority: the first batch's updates in forward order (parameter i at
 * priority -i), and the second batch's forward as soon as its layer's weights are
 * updated, ahead of the later layers' updates (MXNet's order), not after all of them.
 * The weights are those of the naive engine, bit for bit. */
START_TEST(updates_run_first_layer_first_and_the_next_forward_overtakes_later_updates)
{
	struct graph *g = three_layers();
	struct engine *naive = engine_create(ENGINE_NAIVE, 1), *one = engine_create(ENGINE_THREADED, 1);
	struct engine_var *gate_var = engine_var_new(one);
	struct training ref, t;
	struct gate gt;
	int events[256], fc1 = graph_find(g, "fc1"), fc2 = graph_find(g, "fc2"), fc3 = graph_find(g, "fc3");
	int first_update[6], fc_second[3] = {-1, -1, -1}, fc_seen[3] = {0, 0, 0}, n_updates = 0;
	struct exec_trace trace = {.events = events, .cap = 256};
	start_training(&ref, g, naive, PLAN_INPLACE | PLAN_COSHARE);
	start_training(&t, g, one, PLAN_INPLACE | PLAN_COSHARE);
	executor_set_trace(t.ex, &trace);
	updater_set_trace(t.u, &trace);
	gate_close(one, &gt, gate_var);
	train_steps(&t, 2);
	gate_open(&gt);
	ck_ok(engine_wait_all(one));
	train_steps(&ref, 2);
	ck_ok(engine_wait_all(naive));
	assert_same_weights(&ref, &t, params, 6);

	ck_assert_int_le(atomic_load(&trace.n), 256);
	for (int k = 0; k < 6; k++)
		first_update[k] = -1;
	for (int k = 0; k < atomic_load(&trace.n); k++) {
		int ev = events[k], layer = ev == fc1 ? 0 : ev == fc2 ? 1 : ev == fc3 ? 2 : -1;
		if (ev < 0 && first_update[-1 - ev] < 0) {
			first_update[-1 - ev] = k;
			ck_assert_msg(-1 - ev == n_updates, "the update of %s ran %d-th", params[-1 - ev], n_updates + 1);
			n_updates++;
		}
		if (layer >= 0 && ++fc_seen[layer] == 2)
			fc_second[layer] = k;
	}
	ck_assert_int_eq(n_updates, 6);
	/* the second batch's fc1 runs once fc1's weight and bias are updated, before fc2's
	 * and fc3's updates; fc2 before fc3's */
	ck_assert_int_gt(fc_second[0], first_update[1]);
	ck_assert_int_lt(fc_second[0], first_update[2]);
	ck_assert_int_gt(fc_second[1], first_update[3]);
	ck_assert_int_lt(fc_second[1], first_update[4]);
	ck_assert_int_gt(fc_second[2], first_update[5]);
	stop_training(&ref);
	stop_training(&t);
	engine_var_free(one, gate_var);
	engine_free(naive);
	engine_free(one);
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
	tcase_add_test(tc, every_shipped_conf_gets_a_plan_that_keeps_live_entries_apart);
	tcase_add_test(tc, large_nets_at_batch_64_need_no_more_memory_than_mxnet);
	tcase_add_test(tc, planned_runs_on_two_workers_give_the_bits_of_unplanned_sequential_runs);
	tcase_add_test(tc, updates_run_first_layer_first_and_the_next_forward_overtakes_later_updates);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
