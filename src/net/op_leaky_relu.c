/* op_leaky_relu.c: LeakyReLU, MXNet's family of rectifiers with a negative side: leaky,
 * prelu (a learnable slope per channel), rrelu (a random slope in training), elu, selu and
 * gelu. */
#include "op.h"

#include <stddef.h>

#include "cpu/layers.h"
#include "error.h"

enum leaky_act { ACT_LEAKY, ACT_PRELU, ACT_RRELU, ACT_ELU, ACT_SELU, ACT_GELU };

struct leaky_param {
	int act_type;
	float slope;
	float lower_bound;
	float upper_bound;
};

static const char *const leaky_acts[] = {"leaky", "prelu", "rrelu", "elu", "selu", "gelu", NULL};

static const struct param_spec leaky_params[] = {
	{"act_type", PARAM_ENUM, offsetof(struct leaky_param, act_type), 0, "leaky", leaky_acts, 0, 0,
	 "leaky, prelu (learnable per-channel slope gamma), rrelu (random slope), elu, selu, gelu"},
	{"slope", PARAM_FLOAT, offsetof(struct leaky_param, slope), 0, "0.25", NULL, 0, 0,
	 "slope of the negative side (leaky), or elu's alpha"},
	{"lower_bound", PARAM_FLOAT, offsetof(struct leaky_param, lower_bound), 0, "0.125", NULL, 0, 0,
	 "rrelu: smallest random slope"},
	{"upper_bound", PARAM_FLOAT, offsetof(struct leaky_param, upper_bound), 0, "0.334", NULL, 0, 0,
	 "rrelu: largest random slope"},
	PARAM_END,
};

static int leaky_check_param(void *param)
{
	const struct leaky_param *p = param;
	if (p->act_type == ACT_RRELU && !(p->lower_bound >= 0.0f && p->lower_bound < p->upper_bound))
		return mx_error(MX_ERR_INVALID, "rrelu needs 0 <= lower_bound < upper_bound, got %g and %g",
				p->lower_bound, p->upper_bound);
	return MX_OK;
}

static int leaky_list_inputs(const void *param, const char **names, int max)
{
	static const char *const all[] = {"data", "gamma"};
	const struct leaky_param *p = param;
	int n = p && p->act_type == ACT_PRELU ? 2 : 1;
	for (int i = 0; i < n && i < max; i++)
		names[i] = all[i];
	return n < max ? n : max;
}

/* prelu's gamma: one slope per channel (axis 1), or (1,): one slope for all. */
static int leaky_infer_shape(const void *param, struct mx_shape *in, int n_in,
			     struct mx_shape *out, int n_out)
{
	const struct leaky_param *p = param;
	char a[96], b[96], c[96];
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	if (p->act_type == ACT_PRELU) {
		struct mx_shape g;
		if (in[0].ndim < 2)
			return mx_error(MX_ERR_SHAPE, "prelu: data %s needs a channel axis (N, C, ...)",
					shape_str(&in[0], a, sizeof a));
		g = shape_make(1, in[0].dim[1]);
		if (in[1].ndim == 0)
			in[1] = g;
		else if (!shape_equal(&in[1], &g) && !(in[1].ndim == 1 && in[1].dim[0] == 1))
			return mx_error(MX_ERR_SHAPE, "gamma %s does not match data %s: expected gamma %s "
					"(one slope per channel) or (1)", shape_str(&in[1], a, sizeof a),
					shape_str(&in[0], b, sizeof b), shape_str(&g, c, sizeof c));
	}
	out[0] = in[0];
	return MX_OK;
}

static void channel_layout(const struct mx_shape *s, int64_t *outer, int64_t *channels,
			   int64_t *inner)
{
	*outer = s->dim[0];
	*channels = s->dim[1];
	*inner = 1;
	for (int i = 2; i < s->ndim; i++)
		*inner *= s->dim[i];
}

static enum cpu_leaky kernel_act(int act)
{
	return act == ACT_ELU ? CPU_ELU : act == ACT_SELU ? CPU_SELU : act == ACT_GELU ? CPU_GELU
									  : CPU_LEAKY;
}

static int leaky_forward_cpu(const struct op_ctx *ctx, const void *param,
			     struct mx_tensor *const *in, struct mx_tensor *const *out,
			     const enum op_req *req)
{
	const struct leaky_param *p = param;
	const float *x = tensor_f32(in[0]);
	float *y = tensor_f32(out[0]);
	int64_t n = shape_size(&in[0]->shape);
	int acc = req[0] == OP_REQ_ADD;
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	if (p->act_type == ACT_PRELU) {
		int64_t outer, channels, inner;
		channel_layout(&in[0]->shape, &outer, &channels, &inner);
		cpu_prelu_forward(x, tensor_f32(in[1]), y, outer, channels, inner,
				  shape_size(&in[1]->shape) == 1 && channels != 1, acc);
	} else if (p->act_type == ACT_RRELU) {
		/* backward reads each slope back from the written output */
		if (acc)
			return mx_error(MX_ERR_INTERNAL, "LeakyReLU(rrelu): cannot add its output to an array");
		if (ctx->is_train && !ctx->rng)
			return mx_error(MX_ERR_INTERNAL, "LeakyReLU(rrelu): no random generator in training");
		cpu_rrelu_forward(x, y, n, p->lower_bound, p->upper_bound, ctx->is_train ? ctx->rng : NULL,
				  0);
	} else {
		cpu_leaky_forward(kernel_act(p->act_type), x, y, n, p->slope, acc);
	}
	return MX_OK;
}

static int leaky_backward_cpu(const struct op_ctx *ctx, const void *param,
			      struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			      struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			      const enum op_req *req)
{
	const struct leaky_param *p = param;
	const float *x = tensor_f32(in[0]), *dy = tensor_f32(out_grad[0]);
	float *dx = req[0] != OP_REQ_NULL ? tensor_f32(in_grad[0]) : NULL;
	int64_t n = shape_size(&in[0]->shape);
	if (p->act_type == ACT_PRELU) {
		int64_t outer, channels, inner;
		float *dgamma = req[1] != OP_REQ_NULL ? tensor_f32(in_grad[1]) : NULL;
		channel_layout(&in[0]->shape, &outer, &channels, &inner);
		cpu_prelu_backward(x, tensor_f32(in[1]), dy, dx, dgamma, outer, channels, inner,
				   shape_size(&in[1]->shape) == 1 && channels != 1,
				   req[0] == OP_REQ_ADD, req[1] == OP_REQ_ADD);
	} else if (!dx) {
		return MX_OK;
	} else if (p->act_type == ACT_RRELU) {
		cpu_rrelu_backward(x, tensor_f32(out[0]), dy, dx, n, req[0] == OP_REQ_ADD);
	} else {
		cpu_leaky_backward(kernel_act(p->act_type), x, dy, dx, n, p->slope, req[0] == OP_REQ_ADD);
	}
	return MX_OK;
}

/* A compare and a multiply; elu and selu add an exponential, gelu an erf and an exponential
 * (each counted as 4). */
static double leaky_flops(const void *param, const struct mx_shape *in, int n_in,
			  const struct mx_shape *out, int n_out)
{
	const struct leaky_param *p = param;
	double per = p->act_type == ACT_GELU ? 12.0 : p->act_type == ACT_ELU || p->act_type == ACT_SELU
							      ? 7.0 : 2.0;
	return per * (double)shape_size(&in[0]);
}

static const char *const leaky_aliases[] = {"leakyrelu", NULL};

/* OP_RANDOM for rrelu's slopes; the other act_types draw nothing. bw_out: rrelu's slopes
 * are read back from the output. */
const struct op_desc op_leaky_relu = {
	.name = "LeakyReLU",
	.aliases = leaky_aliases,
	.params = leaky_params,
	.param_size = sizeof(struct leaky_param),
	.check_param = leaky_check_param,
	.list_inputs = leaky_list_inputs,
	.n_data_inputs = 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = leaky_infer_shape,
	.forward = {[MX_DEV_CPU] = leaky_forward_cpu},
	.backward = {[MX_DEV_CPU] = leaky_backward_cpu},
	.bw_in = 1u << 0 | 1u << 1, /* data, and prelu's gamma */
	.bw_out = 1u << 0,
	.flags = OP_BW_INPLACE | OP_RANDOM,
	.flops = leaky_flops,
};
