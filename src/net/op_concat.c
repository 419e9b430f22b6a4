/* op_concat.c: Concat, num_args arrays joined along one axis (Inception's branches, a
 * ResNet's skip joined to its block). */
#include "op.h"

#include <stddef.h>

#include "cpu/layers.h"
#include "error.h"

#define CONCAT_MAX_ARGS 128

struct concat_param {
	int num_args;
	int dim;
};

static const struct param_spec concat_params[] = {
	{"num_args", PARAM_INT, offsetof(struct concat_param, num_args), 0, NULL, NULL, 1,
	 CONCAT_MAX_ARGS, "number of inputs"},
	{"dim", PARAM_INT, offsetof(struct concat_param, dim), 0, "1", NULL, 0, 0,
	 "the axis to join along (negative counts from the end)"},
	PARAM_END,
};

static int concat_check_param(void *param)
{
	const struct concat_param *p = param;
	if (p->num_args < 1 || p->num_args > CONCAT_MAX_ARGS)
		return mx_error(MX_ERR_INVALID, "num_args must be given, in [1, %d], got %d",
				CONCAT_MAX_ARGS, p->num_args);
	return MX_OK;
}

_Static_assert(CONCAT_MAX_ARGS <= OP_MAX_VARIADIC, "op_variadic_inputs names every input");

static int concat_list_inputs(const void *param, const char **names, int max)
{
	return op_variadic_inputs(((const struct concat_param *)param)->num_args, names, max);
}

/* Every input must have the same number of axes and agree on all of them but dim. */
static int concat_infer_shape(const void *param, struct mx_shape *in, int n_in,
			      struct mx_shape *out, int n_out)
{
	const struct concat_param *p = param;
	int axis;
	char a[96], b[96];
	for (int i = 0; i < n_in; i++)
		if (in[i].ndim <= 0)
			return mx_error(MX_ERR_SHAPE, "the shape of arg%d is unknown", i);
	axis = p->dim < 0 ? in[0].ndim + p->dim : p->dim;
	if (axis < 0 || axis >= in[0].ndim)
		return mx_error(MX_ERR_SHAPE, "dim %d is outside arg0 %s", p->dim,
				shape_str(&in[0], a, sizeof a));
	out[0] = in[0];
	for (int i = 1; i < n_in; i++) {
		int ok = in[i].ndim == in[0].ndim;
		for (int d = 0; ok && d < in[0].ndim; d++)
			ok = d == axis || in[i].dim[d] == in[0].dim[d];
		if (!ok)
			return mx_error(MX_ERR_SHAPE, "arg%d %s does not match arg0 %s: all inputs must "
					"have the same shape except along dim %d", i,
					shape_str(&in[i], a, sizeof a), shape_str(&in[0], b, sizeof b),
					p->dim);
		out[0].dim[axis] += in[i].dim[axis];
	}
	return MX_OK;
}

/* Each input as rows: (prod of the axes before dim) rows of (its dim * the axes after).
 * The shapes come from the inputs, or from their gradients where an input is absent.
 * Returns the row count, or -1 when an input's shape cannot be told. */
static int64_t concat_rows(const struct concat_param *p, struct mx_tensor *const *in,
			   struct mx_tensor *const *like, int64_t *row)
{
	const struct mx_shape *s0 = NULL;
	int64_t outer = 1, inner = 1;
	int axis;
	for (int k = 0; k < p->num_args && !s0; k++)
		s0 = in[k] ? &in[k]->shape : like && like[k] ? &like[k]->shape : NULL;
	if (!s0)
		return -1;
	axis = p->dim < 0 ? s0->ndim + p->dim : p->dim;
	for (int d = 0; d < axis; d++)
		outer *= s0->dim[d];
	for (int d = axis + 1; d < s0->ndim; d++)
		inner *= s0->dim[d];
	for (int k = 0; k < p->num_args; k++) {
		const struct mx_shape *s = in[k] ? &in[k]->shape : like && like[k] ? &like[k]->shape : NULL;
		if (!s)
			return -1;
		row[k] = s->dim[axis] * inner;
	}
	return outer;
}

static int concat_forward_cpu(const struct op_ctx *ctx, const void *param,
			      struct mx_tensor *const *in, struct mx_tensor *const *out,
			      const enum op_req *req)
{
	const struct concat_param *p = param;
	const float *src[CONCAT_MAX_ARGS];
	int64_t row[CONCAT_MAX_ARGS], outer;
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	outer = concat_rows(p, in, NULL, row);
	if (outer < 0)
		return mx_error(MX_ERR_INTERNAL, "Concat: an input is missing");
	for (int k = 0; k < p->num_args; k++)
		src[k] = tensor_f32(in[k]);
	cpu_concat(src, row, p->num_args, tensor_f32(out[0]), outer, req[0] == OP_REQ_ADD);
	return MX_OK;
}

static int concat_backward_cpu(const struct op_ctx *ctx, const void *param,
			       struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			       struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			       const enum op_req *req)
{
	const struct concat_param *p = param;
	float *dst[CONCAT_MAX_ARGS];
	int64_t row[CONCAT_MAX_ARGS], outer;
	int acc[CONCAT_MAX_ARGS];
	outer = concat_rows(p, in, in_grad, row);
	if (outer < 0)
		return mx_error(MX_ERR_INTERNAL, "Concat: backward without the inputs' shapes");
	for (int k = 0; k < p->num_args; k++) {
		dst[k] = req[k] != OP_REQ_NULL ? tensor_f32(in_grad[k]) : NULL;
		acc[k] = req[k] == OP_REQ_ADD;
	}
	cpu_split(tensor_f32(out_grad[0]), dst, row, acc, p->num_args, outer);
	return MX_OK;
}

static const char *const concat_aliases[] = {"concat", NULL};

/* Backward needs only the inputs' shapes (to split the gradient), but a gradient that
 * nobody wants has no array to tell its shape, so it declares every input. */
const struct op_desc op_concat = {
	.name = "Concat",
	.aliases = concat_aliases,
	.params = concat_params,
	.param_size = sizeof(struct concat_param),
	.check_param = concat_check_param,
	.list_inputs = concat_list_inputs,
	.n_data_inputs = -1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = concat_infer_shape,
	.forward = {[MX_DEV_CPU] = concat_forward_cpu},
	.backward = {[MX_DEV_CPU] = concat_backward_cpu},
	.bw_in = OP_BW_ALL,
	.bw_out = 0,
};
