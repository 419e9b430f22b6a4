/* op_softmax_activation.c: SoftmaxActivation, a softmax with no loss attached: over all
 * of each sample's values (instance) or over axis 1 at each position (channel). */
#include "op.h"

#include <stddef.h>

#include "cpu/kernels.h"
#include "cpu/layers.h"
#include "error.h"

enum smact_mode { SMACT_INSTANCE, SMACT_CHANNEL };

struct smact_param {
	int mode;
};

static const char *const smact_modes[] = {"instance", "channel", NULL};

static const struct param_spec smact_params[] = {
	{"mode", PARAM_ENUM, offsetof(struct smact_param, mode), 0, "instance", smact_modes, 0, 0,
	 "instance: over each sample's values; channel: over axis 1 at each position"},
	PARAM_END,
};

static const char *const smact_inputs[] = {"data", NULL};

static int smact_infer_shape(const void *param, struct mx_shape *in, int n_in,
			     struct mx_shape *out, int n_out)
{
	const struct smact_param *p = param;
	char a[96];
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	if (p->mode == SMACT_CHANNEL && in[0].ndim < 2)
		return mx_error(MX_ERR_SHAPE, "mode channel: data %s needs a channel axis (N, C, ...)",
				shape_str(&in[0], a, sizeof a));
	out[0] = in[0];
	return MX_OK;
}

/* The data as softmax's (outer, classes, inner) block. */
static void smact_layout(const struct smact_param *p, const struct mx_shape *s, int64_t *outer,
			 int64_t *classes, int64_t *inner)
{
	int64_t size = shape_size(s);
	*outer = s->dim[0];
	if (p->mode == SMACT_CHANNEL) {
		*classes = s->dim[1];
		*inner = *outer && *classes ? size / (*outer * *classes) : 0;
	} else {
		*classes = *outer ? size / *outer : 0;
		*inner = 1;
	}
}

static int smact_forward_cpu(const struct op_ctx *ctx, const void *param,
			     struct mx_tensor *const *in, struct mx_tensor *const *out,
			     const enum op_req *req)
{
	int64_t outer, classes, inner;
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	if (req[0] == OP_REQ_ADD)
		return mx_error(MX_ERR_INTERNAL, "SoftmaxActivation: cannot add its output to an array "
				"(backward reads it)");
	smact_layout(param, &in[0]->shape, &outer, &classes, &inner);
	cpu_softmax(tensor_f32(in[0]), tensor_f32(out[0]), outer, classes, inner);
	return MX_OK;
}

static int smact_backward_cpu(const struct op_ctx *ctx, const void *param,
			      struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			      struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			      const enum op_req *req)
{
	int64_t outer, classes, inner;
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	smact_layout(param, &out[0]->shape, &outer, &classes, &inner);
	cpu_softmax_backward(tensor_f32(out[0]), tensor_f32(out_grad[0]), tensor_f32(in_grad[0]),
			     outer, classes, inner, req[0] == OP_REQ_ADD);
	return MX_OK;
}

/* max, subtract, exponential (counted as 4), sum, scale */
static double smact_flops(const void *param, const struct mx_shape *in, int n_in,
			  const struct mx_shape *out, int n_out)
{
	return 8.0 * (double)shape_size(&in[0]);
}

static const char *const smact_aliases[] = {"softmaxactivation", NULL};

const struct op_desc op_softmax_activation = {
	.name = "SoftmaxActivation",
	.aliases = smact_aliases,
	.params = smact_params,
	.param_size = sizeof(struct smact_param),
	.inputs = smact_inputs,
	.n_data_inputs = 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = smact_infer_shape,
	.forward = {[MX_DEV_CPU] = smact_forward_cpu},
	.backward = {[MX_DEV_CPU] = smact_backward_cpu},
	.bw_in = 0,
	.bw_out = 1u << 0, /* the softmax */
	.flags = OP_INPLACE | OP_BW_INPLACE,
	.flops = smact_flops,
};
