/* op_flatten.c: Flatten, (N, d1, d2, ...) -> (N, d1 * d2 * ...); the bytes do not move. */
#include "op.h"

#include "error.h"

static const struct param_spec flatten_params[] = {PARAM_END};
static const char *const flatten_inputs[] = {"data", NULL};

static int flatten_infer_shape(const void *param, struct mx_shape *in, int n_in,
			       struct mx_shape *out, int n_out)
{
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	out[0] = shape_make(2, in[0].dim[0], in[0].dim[0] ? shape_size(&in[0]) / in[0].dim[0] : 0);
	return MX_OK;
}

static const char *const flatten_aliases[] = {"flatten", NULL};

const struct op_desc op_flatten = {
	.name = "Flatten",
	.aliases = flatten_aliases,
	.params = flatten_params,
	.param_size = 0,
	.inputs = flatten_inputs,
	.n_data_inputs = 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = flatten_infer_shape,
	.forward = {[MX_DEV_CPU] = op_copy_forward_cpu},
	.backward = {[MX_DEV_CPU] = op_copy_backward_cpu},
	.bw_in = 0,
	.bw_out = 0,
	.flags = OP_INPLACE | OP_BW_INPLACE,
};
