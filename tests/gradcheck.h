/* gradcheck.h: shared by the operator suites: text fixtures (named float arrays made by
 * tests/peer/make_op_fixtures.py), running one operator on its own, and checking its
 * backward against central differences. Everything is static and may go unused. */
#ifndef MX_GRADCHECK_H
#define MX_GRADCHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "net/op.h"
#include "param.h"
#include "rng.h"
#include "testutil.h"

#pragma GCC diagnostic ignored "-Wunused-function"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

#define MAX_IO 8

/* ---------------------------------------------------------------- fixtures */

/* A fixture file: named float arrays (see make_op_fixtures.py for the format). */
struct fixture {
	int n;
	char name[16][16];
	struct mx_shape shape[16];
	float *data[16];
};

static void fixture_load(const char *base, struct fixture *fx)
{
	char path[512], line[256];
	FILE *f;
	snprintf(path, sizeof path, "%s/ops/%s.txt", FIXTURES, base);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open fixture %s", path);
	memset(fx, 0, sizeof *fx);
	while (fscanf(f, " %255s", line) == 1) {
		struct mx_shape *s;
		int64_t size;
		if (line[0] == '#') {
			ck_assert(fgets(line, sizeof line, f) != NULL);
			continue;
		}
		ck_assert_msg(fx->n < 16 && strlen(line) < 16, "%s: too many arrays or long name", path);
		snprintf(fx->name[fx->n], 16, "%s", line);
		s = &fx->shape[fx->n];
		ck_assert_msg(fscanf(f, "%d", &s->ndim) == 1 && s->ndim >= 0 && s->ndim <= MX_MAX_NDIM,
			      "%s: bad ndim for %s", path, line);
		for (int i = 0; i < s->ndim; i++)
			ck_assert(fscanf(f, "%" SCNd64, &s->dim[i]) == 1);
		size = s->ndim ? shape_size(s) : 1;
		fx->data[fx->n] = malloc(size * sizeof(float));
		for (int64_t i = 0; i < size; i++)
			ck_assert_msg(fscanf(f, "%f", &fx->data[fx->n][i]) == 1, "%s: short array %s", path, line);
		fx->n++;
	}
	fclose(f);
}

static const float *fixture_get(const struct fixture *fx, const char *name, struct mx_shape *shape)
{
	for (int i = 0; i < fx->n; i++)
		if (!strcmp(fx->name[i], name)) {
			if (shape)
				*shape = fx->shape[i];
			return fx->data[i];
		}
	ck_abort_msg("fixture has no array %s", name);
	return NULL;
}

static void fixture_free(struct fixture *fx)
{
	for (int i = 0; i < fx->n; i++)
		free(fx->data[i]);
}

/* ---------------------------------------------------------------- running one op */

/* One operator instance with its arrays: inputs filled with uniform [-1, 1) (labels 0),
 * outputs, and gradients. Backward is asked for every input that is not a label. */
struct op_run {
	const struct op_desc *op;
	void *param;
	int n_in, n_out, n_vis;
	struct mx_tensor *in[MAX_IO], *out[MAX_IO], *in_grad[MAX_IO], *out_grad[MAX_IO];
	enum op_req fw_req[MAX_IO], bw_req[MAX_IO];
	struct mx_rng rng;     /* the op's generator, reseeded before every forward */
	struct op_ctx ctx;
};

/* Parses NULL-terminated key, value pairs into a new parameter struct. */
static void *parse_param(const struct op_desc *op, const char *const *kv)
{
	void *p = op_param_new(op);
	ck_assert(p != NULL);
	for (int i = 0; kv && kv[i]; i += 2)
		ck_ok(param_set(op->params, p, kv[i], kv[i + 1]));
	if (op->check_param)
		ck_ok(op->check_param(p));
	return p;
}

static struct mx_tensor *new_tensor(const struct mx_shape *s)
{
	struct mx_tensor *t = tensor_new(s, MX_F32, MX_CPU);
	ck_assert_msg(t != NULL, "tensor_new: %s", mx_error_message());
	return t;
}

static void fill_uniform(struct mx_tensor *t, struct mx_rng *r, float scale)
{
	float *x = tensor_f32(t);
	for (int64_t i = 0; i < shape_size(&t->shape); i++)
		x[i] = (2.0f * rng_uniform(r) - 1.0f) * scale;
}

/* data_shapes[i] is input i's shape (ndim 0: let the op infer it). */
static void run_setup(struct op_run *r, const struct op_desc *op, const char *const *kv,
		      const struct mx_shape *data_shapes, struct mx_rng *fill)
{
	const char *names[MAX_IO];
	struct mx_shape in[MAX_IO], out[MAX_IO];
	memset(r, 0, sizeof *r);
	r->op = op;
	r->param = parse_param(op, kv);
	r->n_in = op_input_names(op, r->param, names, MAX_IO);
	r->n_out = op->n_outputs;
	r->n_vis = op->n_visible_outputs;
	memset(out, 0, sizeof out);
	for (int i = 0; i < r->n_in; i++)
		in[i] = data_shapes[i];
	ck_ok(op->infer_shape(r->param, in, r->n_in, out, r->n_out));
	for (int i = 0; i < r->n_in; i++) {
		int is_label = op->label_mask >> i & 1;
		r->in[i] = new_tensor(&in[i]);
		r->in_grad[i] = new_tensor(&in[i]);
		if (!is_label)
			fill_uniform(r->in[i], fill, 1.0f);
		r->bw_req[i] = is_label ? OP_REQ_NULL : OP_REQ_WRITE;
	}
	for (int i = 0; i < r->n_out; i++) {
		r->out[i] = new_tensor(&out[i]);
		r->out_grad[i] = new_tensor(&out[i]);
		r->fw_req[i] = OP_REQ_WRITE;
	}
	r->ctx.is_train = 1;
	r->ctx.rng = &r->rng;
	r->ctx.dev = MX_CPU;
}

static void run_forward(struct op_run *r)
{
	rng_seed(&r->rng, 1234);
	ck_ok(r->op->forward[MX_DEV_CPU](&r->ctx, r->param, r->in, r->out, r->fw_req));
}

static void run_backward(struct op_run *r)
{
	struct mx_tensor *const *og = (r->op->flags & OP_LOSS) ? NULL : r->out_grad;
	ck_ok(r->op->backward[MX_DEV_CPU](&r->ctx, r->param, og, r->in, r->out, r->in_grad,
					  r->bw_req));
}

static void run_free(struct op_run *r)
{
	for (int i = 0; i < r->n_in; i++) {
		tensor_free(r->in[i]);
		tensor_free(r->in_grad[i]);
	}
	for (int i = 0; i < r->n_out; i++) {
		tensor_free(r->out[i]);
		tensor_free(r->out_grad[i]);
	}
	free(r->param);
}

static float *copy_floats(const struct mx_tensor *t)
{
	size_t bytes = shape_size(&t->shape) * sizeof(float);
	float *c = malloc(bytes);
	memcpy(c, t->data, bytes);
	return c;
}

/* ---------------------------------------------------------------- numeric gradients */

/* How SoftmaxOutput's loss is scored: cross-entropy against the (smoothed) one-hot label,
 * in MXNet's (outer, classes, inner) layout, times grad_scale / norm. */
struct ce_loss {
	int64_t outer, classes, inner;
	double scale;
	double alpha;
	int use_ignore;
	int ignore;
	int normalization; /* 0 null, 1 batch, 2 valid */
	int multi_output;  /* null and batch then also divide by inner, as MXNet does */
};

static double loss_sum_out_r(const struct op_run *r)
{
	double loss = 0;
	for (int o = 0; o < r->n_vis; o++) {
		const float *y = tensor_f32(r->out[o]), *w = tensor_f32(r->out_grad[o]);
		for (int64_t i = 0; i < shape_size(&r->out[o]->shape); i++)
			loss += (double)y[i] * w[i];
	}
	return loss;
}

static double loss_ce(const struct op_run *r, const struct ce_loss *ce)
{
	const float *y = tensor_f32(r->out[0]), *label = tensor_f32(r->in[1]);
	double loss = 0, norm = 1, off = ce->alpha / (ce->classes - 1);
	int64_t valid = 0;
	for (int64_t o = 0; o < ce->outer; o++)
		for (int64_t i = 0; i < ce->inner; i++) {
			int k = (int)label[o * ce->inner + i];
			valid += k != ce->ignore;
			if (ce->use_ignore && k == ce->ignore)
				continue;
			for (int64_t c = 0; c < ce->classes; c++) {
				double t = c == k ? 1 - ce->alpha : off;
				loss -= t * log((double)y[(o * ce->classes + c) * ce->inner + i]);
			}
		}
	if (ce->normalization == 2)
		norm = valid ? (double)valid : 1.0;
	else if (ce->normalization == 1)
		norm = (double)(ce->outer * (ce->multi_output ? ce->inner : 1));
	else
		norm = (double)(ce->multi_output ? ce->inner : 1);
	return loss * ce->scale / norm;
}

static double run_loss(struct op_run *r, const struct ce_loss *ce)
{
	run_forward(r);
	return ce ? loss_ce(r, ce) : loss_sum_out_r(r);
}

/* Compares backward's gradient of every input it is asked for with central differences
 * of the loss, at up to max_points entries per input. Returns the largest |error|. */
static double grad_check(struct op_run *r, const struct ce_loss *ce, double atol, double rtol)
{
	const double eps = 1e-3;
	const int max_points = 48;
	struct mx_rng pick;
	double worst = 0;
	rng_seed(&pick, 99);
	for (int o = 0; o < r->n_vis; o++)
		fill_uniform(r->out_grad[o], &pick, 1.0f);
	run_forward(r);
	run_backward(r);
	for (int i = 0; i < r->n_in; i++) {
		int64_t n = shape_size(&r->in[i]->shape);
		float *x = tensor_f32(r->in[i]);
		const float *g = tensor_f32(r->in_grad[i]);
		if (r->bw_req[i] == OP_REQ_NULL)
			continue;
		for (int p = 0; p < (n < max_points ? n : max_points); p++) {
			int64_t j = n <= max_points ? p : (int64_t)rng_below(&pick, (uint32_t)n);
			float saved = x[j];
			double plus, minus, numeric, err;
			x[j] = saved + (float)eps;
			plus = run_loss(r, ce);
			x[j] = saved - (float)eps;
			minus = run_loss(r, ce);
			x[j] = saved;
			numeric = (plus - minus) / (2 * eps);
			err = fabs(numeric - g[j]);
			if (err > worst)
				worst = err;
			ck_assert_msg(err <= atol + rtol * fabs(numeric),
				      "%s: d loss / d input %d [%ld]: backward %.7g, numeric %.7g",
				      r->op->name, i, (long)j, g[j], numeric);
		}
	}
	run_forward(r);
	return worst;
}

/* Forward and backward again with req ADD on top of a known value must give that value
 * plus what they wrote with req WRITE (forward: not for loss heads, which only write). */
static void check_req_add(struct op_run *r)
{
	float *want[MAX_IO] = {0};
	if (!(r->op->flags & OP_LOSS)) {
		float *y;
		run_forward(r);
		y = copy_floats(r->out[0]);
		for (int64_t j = 0; j < shape_size(&r->out[0]->shape); j++)
			y[j] += 0.5f;
		tensor_fill(r->out[0], 0.5f);
		r->fw_req[0] = OP_REQ_ADD;
		run_forward(r);
		check_close("accumulated output", tensor_f32(r->out[0]), y, shape_size(&r->out[0]->shape),
			    1e-6, 1e-6);
		r->fw_req[0] = OP_REQ_WRITE;
		run_forward(r);
		free(y);
	}
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

/* The worst gradient error seen per operator, printed at the end of each test. */
static void report(const char *what, double worst)
{
	printf("gradient check %-40s max |backward - numeric| = %.3g\n", what, worst);
}

static struct mx_shape random_shape(struct mx_rng *r, int ndim, int max_dim)
{
	struct mx_shape s = {0};
	s.ndim = ndim;
	for (int i = 0; i < ndim; i++)
		s.dim[i] = 1 + rng_below(r, (uint32_t)max_dim);
	return s;
}

#endif
