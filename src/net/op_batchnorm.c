/* op_batchnorm.c: BatchNorm over one axis (channels), with batch statistics in training
 * and the moving averages (auxiliary states) otherwise; as MXNet 1.9.1's CPU operator. */
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

/* Training (and not use_global_stats): batch mean and biased variance; the moving averages
 * move towards them here in forward (MXNet 1.9.1's CPU kernel does it in backward, with the
 * same numbers, so one training step gives MXNet's moving_mean/var). Otherwise the moving
 * averages. Outputs 1 and 2 keep the mean and the inverse standard deviation
 * 1/sqrt(var + eps) that backward uses (MXNet's CPU layout, also what output_mean_var shows). */
static int bn_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			  struct mx_tensor *const *out, const enum op_req *req)
{
	const struct bn_param *p = param;
	int64_t outer, channels, inner;
	float *mean, *invstd;
	const float *gamma = p->fix_gamma ? NULL : tensor_f32(in[1]);
	if (!out[1] || !out[2])
		return mx_error(MX_ERR_INTERNAL, "BatchNorm: no arrays for the saved mean and variance");
	if (bn_layout(p, &in[0]->shape, &outer, &channels, &inner) < 0)
		return mx_error(MX_ERR_INTERNAL, "BatchNorm: bad axis %d", p->axis);
	mean = tensor_f32(out[1]);
	invstd = tensor_f32(out[2]);
	if (ctx->is_train && !p->use_global_stats) {
		float *moving_mean = tensor_f32(in[3]), *moving_var = tensor_f32(in[4]);
		const float keep = p->momentum, take = 1.0f - p->momentum;
		cpu_bn_mean_var(tensor_f32(in[0]), mean, invstd, outer, channels, inner);
		for (int64_t c = 0; c < channels; c++) {
			moving_mean[c] = moving_mean[c] * keep + mean[c] * take;
			moving_var[c] = moving_var[c] * keep + invstd[c] * take;
			invstd[c] = (float)(1.0 / sqrt((double)invstd[c] + p->eps));
		}
	} else {
		const float *moving_mean = tensor_f32(in[3]), *moving_var = tensor_f32(in[4]);
		for (int64_t c = 0; c < channels; c++) {
			mean[c] = moving_mean[c];
			invstd[c] = (float)(1.0 / sqrt((double)moving_var[c] + p->eps));
		}
	}
	if (req[0] != OP_REQ_NULL)
		cpu_bn_forward(tensor_f32(in[0]), tensor_f32(out[0]), mean, invstd, gamma,
			       tensor_f32(in[2]), outer, channels, inner, req[0] == OP_REQ_ADD);
	return MX_OK;
}

/* Only the output's gradient flows back: the mean and variance outputs get none, as in
 * MXNet. With fix_gamma, gamma's gradient is 0. Moving averages get no gradient. */
static int bn_backward_cpu(const struct op_ctx *ctx, const void *param,
			   struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			   struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			   const enum op_req *req)
{
	const struct bn_param *p = param;
	int64_t outer, channels, inner;
	const float *gamma = p->fix_gamma ? NULL : tensor_f32(in[1]);
	float *dx = req[0] != OP_REQ_NULL ? tensor_f32(in_grad[0]) : NULL;
	float *dgamma = req[1] != OP_REQ_NULL && !p->fix_gamma ? tensor_f32(in_grad[1]) : NULL;
	float *dbeta = req[2] != OP_REQ_NULL ? tensor_f32(in_grad[2]) : NULL;
	if (bn_layout(p, &in[0]->shape, &outer, &channels, &inner) < 0)
		return mx_error(MX_ERR_INTERNAL, "BatchNorm: bad axis %d", p->axis);
	if (p->fix_gamma && (req[1] == OP_REQ_WRITE || req[1] == OP_REQ_INPLACE))
		tensor_fill(in_grad[1], 0.0f);
	cpu_bn_backward(tensor_f32(in[0]), tensor_f32(out_grad[0]), tensor_f32(out[1]),
			tensor_f32(out[2]), gamma, dx, dgamma, dbeta, outer, channels, inner,
			ctx->is_train && !p->use_global_stats, req[0] == OP_REQ_ADD,
			req[1] == OP_REQ_ADD, req[2] == OP_REQ_ADD);
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
	.flags = OP_BW_INPLACE,
	.flops = bn_flops,
};
