/* op_regression.c: the regression loss heads LinearRegressionOutput (identity, squared
 * error), LogisticRegressionOutput (sigmoid, cross-entropy) and MAERegressionOutput
 * (identity, absolute error), with MXNet's gradient scaling. */
#include "op.h"

#include <stddef.h>

#include "cpu/kernels.h"
#include "cpu/layers.h"
#include "error.h"

struct reg_param {
	float grad_scale;
};

static const struct param_spec reg_params[] = {
	{"grad_scale", PARAM_FLOAT, offsetof(struct reg_param, grad_scale), 0, "1", NULL, 0, 0,
	 "scale the gradient by this (it is also divided by the values per sample)"},
	PARAM_END,
};

static const char *const reg_inputs[] = {"data", "label", NULL};

/* As MXNet: the label defaults to the data's shape, or (N) for (N, 1) data; a given label
 * must start with N and have as many values as the data. */
static int reg_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			   int n_out)
{
	const struct mx_shape *data = &in[0];
	struct mx_shape label;
	char a[96], b[96], c[96];
	if (data->ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	label = data->ndim == 2 && data->dim[1] == 1 ? shape_make(1, data->dim[0]) : *data;
	if (in[1].ndim == 0)
		in[1] = label;
	else if (in[1].dim[0] != data->dim[0] || shape_size(&in[1]) != shape_size(data))
		return mx_error(MX_ERR_SHAPE, "label %s does not match data %s: expected label %s",
				shape_str(&in[1], a, sizeof a), shape_str(data, b, sizeof b),
				shape_str(&label, c, sizeof c));
	out[0] = *data;
	return MX_OK;
}

static int linear_forward_cpu(const struct op_ctx *ctx, const void *param,
			      struct mx_tensor *const *in, struct mx_tensor *const *out,
			      const enum op_req *req)
{
	if (req[0] == OP_REQ_ADD)
		return mx_error(MX_ERR_INTERNAL, "regression output: cannot add its output to an array");
	if (req[0] != OP_REQ_NULL)
		cpu_assign(tensor_f32(out[0]), tensor_f32(in[0]), shape_size(&in[0]->shape), 0);
	return MX_OK;
}

static int logistic_forward_cpu(const struct op_ctx *ctx, const void *param,
				struct mx_tensor *const *in, struct mx_tensor *const *out,
				const enum op_req *req)
{
	if (req[0] == OP_REQ_ADD)
		return mx_error(MX_ERR_INTERNAL, "regression output: cannot add its output to an array");
	if (req[0] != OP_REQ_NULL)
		cpu_act_forward(CPU_ACT_SIGMOID, tensor_f32(in[0]), tensor_f32(out[0]),
				shape_size(&in[0]->shape), 0);
	return MX_OK;
}

/* dx = grad_scale / (values per sample) * (out - label), or its sign for MAE. The
 * values per sample are the label's (size / its first axis), as MXNet's
 * regression_output-inl.h. */
static int reg_backward(enum cpu_regression kind, const void *param, struct mx_tensor *const *in,
			struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			const enum op_req *req)
{
	const struct reg_param *p = param;
	const struct mx_shape *label = &in[1]->shape;
	float per_sample;
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	per_sample = label->dim[0] ? (float)(shape_size(label) / label->dim[0]) : 1.0f;
	cpu_regression_backward(kind, tensor_f32(out[0]), tensor_f32(in[1]), tensor_f32(in_grad[0]),
				shape_size(&out[0]->shape), p->grad_scale / per_sample,
				req[0] == OP_REQ_ADD);
	return MX_OK;
}

static int linear_backward_cpu(const struct op_ctx *ctx, const void *param,
			       struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			       struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			       const enum op_req *req)
{
	return reg_backward(CPU_REG_LINEAR, param, in, out, in_grad, req);
}

static int logistic_backward_cpu(const struct op_ctx *ctx, const void *param,
				 struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
				 struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
				 const enum op_req *req)
{
	return reg_backward(CPU_REG_LOGISTIC, param, in, out, in_grad, req);
}

static int mae_backward_cpu(const struct op_ctx *ctx, const void *param,
			    struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			    struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			    const enum op_req *req)
{
	return reg_backward(CPU_REG_MAE, param, in, out, in_grad, req);
}

static const char *const linear_aliases[] = {"linearregressionoutput", NULL};
static const char *const logistic_aliases[] = {"logisticregressionoutput", NULL};
static const char *const mae_aliases[] = {"maeregressionoutput", NULL};

const struct op_desc op_linear_regression_output = {
	.name = "LinearRegressionOutput",
	.aliases = linear_aliases,
	.params = reg_params,
	.param_size = sizeof(struct reg_param),
	.inputs = reg_inputs,
	.n_data_inputs = 1,
	.label_mask = 1u << 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = reg_infer_shape,
	.forward = {[MX_DEV_CPU] = linear_forward_cpu},
	.backward = {[MX_DEV_CPU] = linear_backward_cpu},
	.bw_in = 1u << 1,  /* the label */
	.bw_out = 1u << 0, /* the output */
	.flags = OP_LOSS | OP_INPLACE,
};

const struct op_desc op_logistic_regression_output = {
	.name = "LogisticRegressionOutput",
	.aliases = logistic_aliases,
	.params = reg_params,
	.param_size = sizeof(struct reg_param),
	.inputs = reg_inputs,
	.n_data_inputs = 1,
	.label_mask = 1u << 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = reg_infer_shape,
	.forward = {[MX_DEV_CPU] = logistic_forward_cpu},
	.backward = {[MX_DEV_CPU] = logistic_backward_cpu},
	.bw_in = 1u << 1,
	.bw_out = 1u << 0,
	.flags = OP_LOSS | OP_INPLACE,
};

const struct op_desc op_mae_regression_output = {
	.name = "MAERegressionOutput",
	.aliases = mae_aliases,
	.params = reg_params,
	.param_size = sizeof(struct reg_param),
	.inputs = reg_inputs,
	.n_data_inputs = 1,
	.label_mask = 1u << 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = reg_infer_shape,
	.forward = {[MX_DEV_CPU] = linear_forward_cpu},
	.backward = {[MX_DEV_CPU] = mae_backward_cpu},
	.bw_in = 1u << 1,
	.bw_out = 1u << 0,
	.flags = OP_LOSS | OP_INPLACE,
};
