/* op_batchnorm.c: BatchNorm over one axis (channels), with batch statistics in training
 * and the moving averages (auxiliary states) otherwise; as MXNet 1.9.1's CPU operator. */
#include "engine/threadpool.h"
#include "op.h"

#include <math.h>
#include <stddef.h>

#include "cpu/layers.h"
#include "error.h"

struct bn_param {
	float eps;
	float momentum;
	int fix_gamma;
	int use_global_stats;
	int output_mean_var;
	int axis;
	int cudnn_off;
	char min_calib_range[32];
	char max_calib_range[32];
};

static const struct param_spec bn_params[] = {
	{"eps", PARAM_FLOAT, offsetof(struct bn_param, eps), 0, "0.001", NULL, 0, 0,
	 "added to the variance before its square root"},
	{"momentum", PARAM_FLOAT, offsetof(struct bn_param, momentum), 0, "0.9", NULL, 0, 0,
	 "moving = moving * momentum + batch * (1 - momentum)"},
	{"fix_gamma", PARAM_BOOL, offsetof(struct bn_param, fix_gamma), 0, "True", NULL, 0, 0,
	 "use 1 for gamma and give it no gradient"},
	{"use_global_stats", PARAM_BOOL, offsetof(struct bn_param, use_global_stats), 0, "False",
	 NULL, 0, 0, "normalize with the moving averages in training too, and leave them alone"},
	{"output_mean_var", PARAM_BOOL, offsetof(struct bn_param, output_mean_var), 0, "False", NULL,
	 0, 0, "also output the mean and the inverse standard deviation (as MXNet's CPU kernel)"},
	{"axis", PARAM_INT, offsetof(struct bn_param, axis), 0, "1", NULL, 0, 0,
	 "the channel axis (negative counts from the end)"},
	{"cudnn_off", PARAM_BOOL, offsetof(struct bn_param, cudnn_off), 0, "False", NULL, 0, 0,
	 "accepted for MXNet compatibility; no effect"},
	{"min_calib_range", PARAM_STRING, offsetof(struct bn_param, min_calib_range), 32, "None",
	 NULL, 0, 0, "quantization calibration; accepted for MXNet compatibility, no effect"},
	{"max_calib_range", PARAM_STRING, offsetof(struct bn_param, max_calib_range), 32, "None",
	 NULL, 0, 0, "quantization calibration; accepted for MXNet compatibility, no effect"},
	PARAM_END,
};

static int bn_check_param(void *param)
{
	const struct bn_param *p = param;
	if (!(p->eps > 0.0f))
		return mx_error(MX_ERR_INVALID, "eps = %g must be > 0", p->eps);
	if (!(p->momentum >= 0.0f && p->momentum <= 1.0f))
		return mx_error(MX_ERR_INVALID, "momentum = %g is out of range [0, 1]", p->momentum);
	return MX_OK;
}

static const char *const bn_inputs[] = {"data", "gamma", "beta", "moving_mean", "moving_var",
					NULL};

/* The data as (outer, channels, inner) around the channel axis. Returns -1 when the axis
 * is outside the data's dimensions. */
static int bn_layout(const struct bn_param *p, const struct mx_shape *s, int64_t *outer,
		     int64_t *channels, int64_t *inner)
{
	int axis = p->axis < 0 ? s->ndim + p->axis : p->axis;
	if (axis < 0 || axis >= s->ndim)
		return -1;
	*outer = *inner = 1;
	for (int i = 0; i < axis; i++)
		*outer *= s->dim[i];
	for (int i = axis + 1; i < s->ndim; i++)
		*inner *= s->dim[i];
	*channels = s->dim[axis];
	return axis;
}

static int bn_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			  int n_out)
{
	const struct bn_param *p = param;
	int64_t outer, channels, inner;
	struct mx_shape cs;
	char a[96], b[96], c[96];
	if (n_in != 5 || n_out != 3)
		return mx_error(MX_ERR_INTERNAL, "BatchNorm: %d inputs, %d outputs", n_in, n_out);
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	if (bn_layout(p, &in[0], &outer, &channels, &inner) < 0)
		return mx_error(MX_ERR_SHAPE, "axis %d is outside data %s", p->axis,
				shape_str(&in[0], a, sizeof a));
	cs = shape_make(1, channels);
	for (int i = 1; i < 5; i++) {
		if (in[i].ndim == 0)
			in[i] = cs;
		else if (!shape_equal(&in[i], &cs))
			return mx_error(MX_ERR_SHAPE, "%s %s does not match data %s: expected %s %s",
					bn_inputs[i], shape_str(&in[i], a, sizeof a),
					shape_str(&in[0], b, sizeof b), bn_inputs[i],
					shape_str(&cs, c, sizeof c));
	}
	out[0] = in[0];
	out[1] = cs;
	out[2] = cs;
	return MX_OK;
}

/* Channels are independent (statistics, normalization and gradients are per channel), so
 * pieces of ctx->pool take contiguous runs of channels. */
struct bn_job {
	const struct bn_param *p;
	int64_t outer, channels, inner;
	int pieces;
	int batch_stats; /* training with the batch's statistics */
	const float *x, *dy, *gamma, *beta;
	float *y, *dx, *dgamma, *dbeta;
	float *mean, *invstd, *moving_mean, *moving_var;
	int acc_y, acc_dx, acc_dgamma, acc_dbeta;
};

static int bn_pieces(const struct op_ctx *ctx, const struct bn_job *j)
{
	int n = threadpool_pieces(ctx->pool, j->outer * j->channels * j->inner, THREADPOOL_GRAIN);
	return n < j->channels ? n : (int)j->channels;
}

/* Training (and not use_global_stats): batch mean and biased variance; the moving averages
 * move towards them here in forward (MXNet 1.9.1's CPU kernel does it in backward, with the
 * same numbers, so one training step gives MXNet's moving_mean/var). Otherwise the moving
 * averages. Outputs 1 and 2 keep the mean and the inverse standard deviation
 * 1/sqrt(var + eps) that backward uses (MXNet's CPU layout, also what output_mean_var shows). */
static void bn_forward_piece(void *arg, int i)
{
	const struct bn_job *j = arg;
	const struct bn_param *p = j->p;
	int64_t c0, c1;
	threadpool_range(j->channels, j->pieces, i, &c0, &c1);
	if (j->batch_stats) {
		const float keep = p->momentum, take = 1.0f - p->momentum;
		cpu_bn_mean_var(j->x, j->mean, j->invstd, j->outer, j->channels, j->inner, c0, c1);
		for (int64_t c = c0; c < c1; c++) {
			j->moving_mean[c] = j->moving_mean[c] * keep + j->mean[c] * take;
			j->moving_var[c] = j->moving_var[c] * keep + j->invstd[c] * take;
			j->invstd[c] = (float)(1.0 / sqrt((double)j->invstd[c] + p->eps));
		}
	} else {
		for (int64_t c = c0; c < c1; c++) {
			j->mean[c] = j->moving_mean[c];
			j->invstd[c] = (float)(1.0 / sqrt((double)j->moving_var[c] + p->eps));
		}
	}
	if (j->y)
		cpu_bn_forward(j->x, j->y, j->mean, j->invstd, j->gamma, j->beta, j->outer, j->channels,
			       j->inner, c0, c1, j->acc_y);
}

static int bn_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			  struct mx_tensor *const *out, const enum op_req *req)
{
	const struct bn_param *p = param;
	struct bn_job j = {.p = p};
	if (!out[1] || !out[2])
		return mx_error(MX_ERR_INTERNAL, "BatchNorm: no arrays for the saved mean and variance");
	if (bn_layout(p, &in[0]->shape, &j.outer, &j.channels, &j.inner) < 0)
		return mx_error(MX_ERR_INTERNAL, "BatchNorm: bad axis %d", p->axis);
	j.pieces = bn_pieces(ctx, &j);
	j.batch_stats = ctx->is_train && !p->use_global_stats;
	j.x = tensor_f32(in[0]);
	j.gamma = p->fix_gamma ? NULL : tensor_f32(in[1]);
	j.beta = tensor_f32(in[2]);
	j.moving_mean = tensor_f32(in[3]);
	j.moving_var = tensor_f32(in[4]);
	j.y = req[0] != OP_REQ_NULL ? tensor_f32(out[0]) : NULL;
	j.mean = tensor_f32(out[1]);
	j.invstd = tensor_f32(out[2]);
	j.acc_y = req[0] == OP_REQ_ADD;
	threadpool_run(ctx->pool, j.pieces, bn_forward_piece, &j);
	return MX_OK;
}

static void bn_backward_piece(void *arg, int i)
{
	const struct bn_job *j = arg;
	int64_t c0, c1;
	threadpool_range(j->channels, j->pieces, i, &c0, &c1);
	cpu_bn_backward(j->x, j->dy, j->mean, j->invstd, j->gamma, j->dx, j->dgamma, j->dbeta,
			j->outer, j->channels, j->inner, c0, c1, j->batch_stats, j->acc_dx,
			j->acc_dgamma, j->acc_dbeta);
}

/* Only the output's gradient flows back: the mean and variance outputs get none, as in
 * MXNet. With fix_gamma, gamma's gradient is 0. Moving averages get no gradient. */
static int bn_backward_cpu(const struct op_ctx *ctx, const void *param,
			   struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			   struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			   const enum op_req *req)
{
	const struct bn_param *p = param;
	struct bn_job j = {.p = p};
	if (bn_layout(p, &in[0]->shape, &j.outer, &j.channels, &j.inner) < 0)
		return mx_error(MX_ERR_INTERNAL, "BatchNorm: bad axis %d", p->axis);
	if (p->fix_gamma && (req[1] == OP_REQ_WRITE || req[1] == OP_REQ_INPLACE))
		tensor_fill(in_grad[1], 0.0f);
	j.pieces = bn_pieces(ctx, &j);
	j.batch_stats = ctx->is_train && !p->use_global_stats;
	j.x = tensor_f32(in[0]);
	j.dy = tensor_f32(out_grad[0]);
	j.gamma = p->fix_gamma ? NULL : tensor_f32(in[1]);
	j.mean = tensor_f32(out[1]);
	j.invstd = tensor_f32(out[2]);
	j.dx = req[0] != OP_REQ_NULL ? tensor_f32(in_grad[0]) : NULL;
	j.dgamma = req[1] != OP_REQ_NULL && !p->fix_gamma ? tensor_f32(in_grad[1]) : NULL;
	j.dbeta = req[2] != OP_REQ_NULL ? tensor_f32(in_grad[2]) : NULL;
	j.acc_dx = req[0] == OP_REQ_ADD;
	j.acc_dgamma = req[1] == OP_REQ_ADD;
	j.acc_dbeta = req[2] == OP_REQ_ADD;
	threadpool_run(ctx->pool, j.pieces, bn_backward_piece, &j);
	return MX_OK;
}

/* Batch statistics (3 per element), then the normalization (2 per element). */
static double bn_flops(const void *param, const struct mx_shape *in, int n_in,
		       const struct mx_shape *out, int n_out)
{
	return 5.0 * (double)shape_size(&in[0]);
}

static const char *const bn_aliases[] = {"bn", "batchnorm", NULL};

const struct op_desc op_batch_norm = {
	.name = "BatchNorm",
	.aliases = bn_aliases,
	.params = bn_params,
	.param_size = sizeof(struct bn_param),
	.check_param = bn_check_param,
	.inputs = bn_inputs,
	.n_data_inputs = 1,
	.aux_mask = 1u << 3 | 1u << 4,
	.n_outputs = 3,
	.n_visible_outputs = 1,
	.infer_shape = bn_infer_shape,
	.forward = {[MX_DEV_CPU] = bn_forward_cpu},
	.backward = {[MX_DEV_CPU] = bn_backward_cpu},
	.bw_in = 1u << 0 | 1u << 1,  /* data, gamma */
	.bw_out = 1u << 1 | 1u << 2, /* the saved mean and inverse standard deviation */
	.flags = OP_INPLACE | OP_BW_INPLACE, /* in place only where backward does not read the data: inference */
	.flops = bn_flops,
};
