/* op_fc.c: FullyConnected (y = x W^T + b), its shape inference, forward and backward. */
#include "engine/threadpool.h"
#include "op.h"

#include <stddef.h>

#include "cpu/kernels.h"
#include "error.h"

struct fc_param {
	int num_hidden;
	int no_bias;
	int flatten;
};

static const struct param_spec fc_params[] = {
	{"num_hidden", PARAM_INT, offsetof(struct fc_param, num_hidden), 0, NULL, NULL, 1, 1e30,
	 "number of output units"},
	{"no_bias", PARAM_BOOL, offsetof(struct fc_param, no_bias), 0, "False", NULL, 0, 0,
	 "leave out the bias"},
	{"flatten", PARAM_BOOL, offsetof(struct fc_param, flatten), 0, "True", NULL, 0, 0,
	 "flatten data to (N, rest) first; otherwise apply to the last axis"},
	PARAM_END,
};

static int fc_check_param(void *param)
{
	const struct fc_param *p = param;
	if (p->num_hidden <= 0)
		return mx_error(MX_ERR_INVALID, "num_hidden must be given and > 0, got %d", p->num_hidden);
	return MX_OK;
}

static int fc_list_inputs(const void *param, const char **names, int max)
{
	static const char *const all[] = {"data", "weight", "bias"};
	const struct fc_param *p = param;
	int n = p->no_bias ? 2 : 3;
	for (int i = 0; i < n && i < max; i++)
		names[i] = all[i];
	return n < max ? n : max;
}

/* Rows and features of the data as the layer sees it: (N, prod(rest)) when flattening,
 * (prod(leading), last) otherwise. */
static void fc_rows_cols(const struct fc_param *p, const struct mx_shape *data, int64_t *rows,
			 int64_t *cols)
{
	int64_t size = shape_size(data);
	if (p->flatten) {
		*rows = data->dim[0];
		*cols = *rows ? size / *rows : 0;
	} else {
		*cols = data->dim[data->ndim - 1];
		*rows = *cols ? size / *cols : 0;
	}
}

static int fc_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			  int n_out)
{
	const struct fc_param *p = param;
	char a[96], b[96], c[96];
	int64_t rows, cols;
	struct mx_shape weight, bias = shape_make(1, (int64_t)p->num_hidden);
	if (n_in != (p->no_bias ? 2 : 3) || n_out != 1)
		return mx_error(MX_ERR_INTERNAL, "FullyConnected: %d inputs, %d outputs", n_in, n_out);
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	fc_rows_cols(p, &in[0], &rows, &cols);
	weight = shape_make(2, (int64_t)p->num_hidden, cols);
	if (in[1].ndim == 0)
		in[1] = weight;
	else if (!shape_equal(&in[1], &weight))
		return mx_error(MX_ERR_SHAPE, "data %s does not match weight %s: expected weight %s",
				shape_str(&in[0], a, sizeof a), shape_str(&in[1], b, sizeof b),
				shape_str(&weight, c, sizeof c));
	if (!p->no_bias) {
		if (in[2].ndim == 0)
			in[2] = bias;
		else if (!shape_equal(&in[2], &bias))
			return mx_error(MX_ERR_SHAPE, "bias %s does not match num_hidden %d: expected bias %s",
					shape_str(&in[2], a, sizeof a), p->num_hidden,
					shape_str(&bias, c, sizeof c));
	}
	if (p->flatten) {
		out[0] = shape_make(2, in[0].dim[0], (int64_t)p->num_hidden);
	} else {
		out[0] = in[0];
		out[0].dim[out[0].ndim - 1] = p->num_hidden;
	}
	return MX_OK;
}

/* The pieces of one FC call, split over the op's thread pool: forward and the data
 * gradient by batch rows, the weight and bias gradients by output features (each piece
 * owns its rows of dW, so nothing needs summing across threads). */
struct fc_job {
	const struct fc_param *p;
	const float *x, *w, *b, *dy;
	float *y, *dx, *dw, *db;
	int64_t rows, cols;
	int pieces;
	int add_y, add_dx, add_dw, add_db;
};

static void fc_forward_piece(void *arg, int i)
{
	const struct fc_job *j = arg;
	int64_t a, b, m = j->p->num_hidden;
	threadpool_range(j->rows, j->pieces, i, &a, &b);
	if (b > a)
		cpu_fc_forward(j->x + a * j->cols, j->w, j->b, j->y + a * m, b - a, j->cols, m, j->add_y);
}

static int fc_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			  struct mx_tensor *const *out, const enum op_req *req)
{
	const struct fc_param *p = param;
	struct fc_job j = {.p = p};
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	fc_rows_cols(p, &in[0]->shape, &j.rows, &j.cols);
	j.x = tensor_f32(in[0]);
	j.w = tensor_f32(in[1]);
	j.b = p->no_bias ? NULL : tensor_f32(in[2]);
	j.y = tensor_f32(out[0]);
	j.add_y = req[0] == OP_REQ_ADD;
	j.pieces = threadpool_size(ctx->pool);
	threadpool_run(ctx->pool, j.pieces, fc_forward_piece, &j);
	return MX_OK;
}

static void fc_backward_piece(void *arg, int i)
{
	const struct fc_job *j = arg;
	int64_t a, b, m = j->p->num_hidden;
	threadpool_range(m, j->pieces, i, &a, &b);
	if (j->dw && b > a)
		cpu_fc_backward_weight_rows(j->dy, j->x, j->dw, j->rows, j->cols, m, a, b, j->add_dw);
	if (j->db && b > a) {
		for (int64_t f = a; f < b; f++)
			if (!j->add_db)
				j->db[f] = 0.0f;
		for (int64_t r = 0; r < j->rows; r++) {
			const float *restrict row = j->dy + r * m;
			float *restrict db = j->db;
			for (int64_t f = a; f < b; f++)
				db[f] += row[f];
		}
	}
	threadpool_range(j->rows, j->pieces, i, &a, &b);
	if (j->dx && b > a)
		cpu_fc_backward_data(j->dy + a * m, j->w, j->dx + a * j->cols, b - a, j->cols, m, j->add_dx);
}

static int fc_backward_cpu(const struct op_ctx *ctx, const void *param,
			   struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			   struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			   const enum op_req *req)
{
	const struct fc_param *p = param;
	struct fc_job j = {.p = p};
	fc_rows_cols(p, &in[0]->shape, &j.rows, &j.cols);
	j.dy = tensor_f32(out_grad[0]);
	j.x = tensor_f32(in[0]);
	j.w = tensor_f32(in[1]);
	j.dw = req[1] != OP_REQ_NULL ? tensor_f32(in_grad[1]) : NULL;
	j.db = !p->no_bias && req[2] != OP_REQ_NULL ? tensor_f32(in_grad[2]) : NULL;
	j.dx = req[0] != OP_REQ_NULL ? tensor_f32(in_grad[0]) : NULL;
	j.add_dw = req[1] == OP_REQ_ADD;
	j.add_db = !p->no_bias && req[2] == OP_REQ_ADD;
	j.add_dx = req[0] == OP_REQ_ADD;
	j.pieces = threadpool_size(ctx->pool);
	threadpool_run(ctx->pool, j.pieces, fc_backward_piece, &j);
	return MX_OK;
}

static double fc_flops(const void *param, const struct mx_shape *in, int n_in, const struct mx_shape *out,
		       int n_out)
{
	const struct fc_param *p = param;
	int64_t rows, cols;
	fc_rows_cols(p, &in[0], &rows, &cols);
	return 2.0 * (double)rows * (double)cols * (double)p->num_hidden;
}

static const char *const fc_aliases[] = {"fc", "fullyconnected", NULL};

const struct op_desc op_fully_connected = {
	.name = "FullyConnected",
	.aliases = fc_aliases,
	.params = fc_params,
	.param_size = sizeof(struct fc_param),
	.check_param = fc_check_param,
	.list_inputs = fc_list_inputs,
	.n_data_inputs = 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = fc_infer_shape,
	.forward = {[MX_DEV_CPU] = fc_forward_cpu},
	.backward = {[MX_DEV_CPU] = fc_backward_cpu},
	.bw_in = 1u << 0 | 1u << 1, /* data for the weight gradient, weight for the data's */
	.flops = fc_flops,
	.bw_out = 0,
};
