/* op_elemwise_sum.c: add_n (ElementWiseSum), the sum of num_args same-shaped inputs.
 * The graph also uses it to add up the gradients of an entry with several consumers. */
#include "op.h"

#include <stddef.h>

#include "cpu/kernels.h"
#include "error.h"

#define ADD_N_MAX_ARGS 128

struct add_n_param {
	int num_args;
};

static const struct param_spec add_n_params[] = {
	{"num_args", PARAM_INT, offsetof(struct add_n_param, num_args), 0, NULL, NULL, 1,
	 ADD_N_MAX_ARGS, "number of inputs"},
	PARAM_END,
};

static int add_n_check_param(void *param)
{
	const struct add_n_param *p = param;
	if (p->num_args < 1 || p->num_args > ADD_N_MAX_ARGS)
		return mx_error(MX_ERR_INVALID, "num_args must be given, in [1, %d], got %d",
				ADD_N_MAX_ARGS, p->num_args);
	return MX_OK;
}

_Static_assert(ADD_N_MAX_ARGS <= OP_MAX_VARIADIC, "op_variadic_inputs names every input");

static int add_n_list_inputs(const void *param, const char **names, int max)
{
	return op_variadic_inputs(((const struct add_n_param *)param)->num_args, names, max);
}

/* Unknown input shapes (gradients not yet inferred) take the first known one. */
static int add_n_infer_shape(const void *param, struct mx_shape *in, int n_in,
			     struct mx_shape *out, int n_out)
{
	int known = -1;
	char a[96], b[96];
	for (int i = 0; i < n_in; i++) {
		if (in[i].ndim == 0)
			continue;
		if (known < 0)
			known = i;
		else if (!shape_equal(&in[i], &in[known]))
			return mx_error(MX_ERR_SHAPE, "arg%d %s does not match arg%d %s: all inputs "
					"must have the same shape", i, shape_str(&in[i], a, sizeof a),
					known, shape_str(&in[known], b, sizeof b));
	}
	if (known < 0)
		return mx_error(MX_ERR_SHAPE, "no input shape is known");
	for (int i = 0; i < n_in; i++)
		in[i] = in[known];
	out[0] = in[known];
	return MX_OK;
}

/* If the output shares some input's memory, start from that input so nothing is read
 * after it is overwritten. */
static int add_n_forward_cpu(const struct op_ctx *ctx, const void *param,
			     struct mx_tensor *const *in, struct mx_tensor *const *out,
			     const enum op_req *req)
{
	const struct add_n_param *p = param;
	float *y = tensor_f32(out[0]);
	int64_t n = shape_size(&out[0]->shape);
	int first = -1, acc = req[0] == OP_REQ_ADD;
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	for (int i = 0; i < p->num_args && !acc; i++)
		if (in[i]->data == out[0]->data)
			first = i;
	if (first < 0 && p->num_args >= 2) {
		cpu_add(y, tensor_f32(in[0]), tensor_f32(in[1]), n, acc);
		for (int i = 2; i < p->num_args; i++)
			cpu_assign(y, tensor_f32(in[i]), n, 1);
		return MX_OK;
	}
	if (first < 0)
		first = 0;
	cpu_assign(y, tensor_f32(in[first]), n, acc);
	for (int i = 0; i < p->num_args; i++)
		if (i != first)
			cpu_assign(y, tensor_f32(in[i]), n, 1);
	return MX_OK;
}

/* Every input's gradient is the output's gradient. Input 0's goes last: it may share
 * the output gradient's memory. */
static int add_n_backward_cpu(const struct op_ctx *ctx, const void *param,
			      struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			      struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			      const enum op_req *req)
{
	const struct add_n_param *p = param;
	int64_t n = shape_size(&out_grad[0]->shape);
	for (int i = p->num_args - 1; i >= 0; i--)
		if (req[i] != OP_REQ_NULL)
			cpu_assign(tensor_f32(in_grad[i]), tensor_f32(out_grad[0]), n,
				   req[i] == OP_REQ_ADD);
	return MX_OK;
}

static const char *const add_n_aliases[] = {"ElementWiseSum", "elemwise_sum", NULL};

const struct op_desc op_elemwise_sum = {
	.name = "add_n",
	.aliases = add_n_aliases,
	.params = add_n_params,
	.param_size = sizeof(struct add_n_param),
	.check_param = add_n_check_param,
	.list_inputs = add_n_list_inputs,
	.n_data_inputs = -1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = add_n_infer_shape,
	.forward = {[MX_DEV_CPU] = add_n_forward_cpu},
	.backward = {[MX_DEV_CPU] = add_n_backward_cpu},
	.bw_in = 0,
	.bw_out = 0,
	.flags = OP_INPLACE | OP_BW_INPLACE,
};
