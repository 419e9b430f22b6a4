/* op_elemwise_add.c: elemwise_add, lhs + rhs of one shape (Python's a + b on symbols; a
 * ResNet's shortcut). */
#include "op.h"

#include "cpu/kernels.h"
#include "error.h"

static const struct param_spec add_params[] = {PARAM_END};
static const char *const add_inputs[] = {"lhs", "rhs", NULL};

/* An unknown side (a gradient not yet inferred) takes the other's shape. */
static int add_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			   int n_out)
{
	char a[96], b[96];
	if (in[0].ndim <= 0 && in[1].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "the shapes of lhs and rhs are unknown");
	if (in[0].ndim <= 0)
		in[0] = in[1];
	else if (in[1].ndim <= 0)
		in[1] = in[0];
	else if (!shape_equal(&in[0], &in[1]))
		return mx_error(MX_ERR_SHAPE, "lhs %s does not match rhs %s: both must have the same "
				"shape", shape_str(&in[0], a, sizeof a), shape_str(&in[1], b, sizeof b));
	out[0] = in[0];
	return MX_OK;
}

static int add_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			   struct mx_tensor *const *out, const enum op_req *req)
{
	if (req[0] != OP_REQ_NULL)
		cpu_add(tensor_f32(out[0]), tensor_f32(in[0]), tensor_f32(in[1]),
			shape_size(&out[0]->shape), req[0] == OP_REQ_ADD);
	return MX_OK;
}

/* Both gradients are the output's; lhs's goes last, as it may share out_grad's memory. */
static int add_backward_cpu(const struct op_ctx *ctx, const void *param,
			    struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			    struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			    const enum op_req *req)
{
	int64_t n = shape_size(&out_grad[0]->shape);
	for (int i = 1; i >= 0; i--)
		if (req[i] != OP_REQ_NULL)
			cpu_assign(tensor_f32(in_grad[i]), tensor_f32(out_grad[0]), n,
				   req[i] == OP_REQ_ADD);
	return MX_OK;
}

static double add_flops(const void *param, const struct mx_shape *in, int n_in,
			const struct mx_shape *out, int n_out)
{
	return (double)shape_size(&in[0]);
}

static const char *const add_aliases[] = {"_plus", "_add", "_Plus", NULL};

const struct op_desc op_elemwise_add = {
	.name = "elemwise_add",
	.aliases = add_aliases,
	.params = add_params,
	.param_size = 0,
	.inputs = add_inputs,
	.n_data_inputs = 2,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = add_infer_shape,
	.forward = {[MX_DEV_CPU] = add_forward_cpu},
	.backward = {[MX_DEV_CPU] = add_backward_cpu},
	.bw_in = 0,
	.bw_out = 0,
	.flags = OP_INPLACE | OP_BW_INPLACE,
	.flops = add_flops,
};
