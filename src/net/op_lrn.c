/* op_lrn.c: LRN, local response normalization across channels (AlexNet, Caffe, MXNet):
 * y = x / (knorm + alpha / nsize * sum of x^2 over nsize neighbouring channels)^beta. */
#include "op.h"

#include <stddef.h>

#include "cpu/layers.h"
#include "error.h"

struct lrn_param {
	float alpha;
	float beta;
	float knorm;
	int nsize;
};

static const struct param_spec lrn_params[] = {
	{"alpha", PARAM_FLOAT, offsetof(struct lrn_param, alpha), 0, "0.0001", NULL, 0, 0,
	 "scale of the sum of squares (divided by nsize, as MXNet and PyTorch)"},
	{"beta", PARAM_FLOAT, offsetof(struct lrn_param, beta), 0, "0.75", NULL, 0, 0,
	 "exponent of the normalizer"},
	{"knorm", PARAM_FLOAT, offsetof(struct lrn_param, knorm), 0, "2", NULL, 0, 0,
	 "constant added to the normalizer"},
	{"nsize", PARAM_INT, offsetof(struct lrn_param, nsize), 0, NULL, NULL, 1, 1e30,
	 "number of channels summed over, centred on each channel (odd)"},
	PARAM_END,
};

/* MXNet's own kernel refuses even sizes too (its MKL-DNN path gives other numbers). */
static int lrn_check_param(void *param)
{
	const struct lrn_param *p = param;
	if (p->nsize <= 0 || p->nsize % 2 == 0)
		return mx_error(MX_ERR_INVALID, "nsize must be given, odd and > 0, got %d", p->nsize);
	if (!(p->knorm > 0.0f) || !(p->alpha >= 0.0f))
		return mx_error(MX_ERR_INVALID, "knorm = %g must be > 0 and alpha = %g >= 0 (the "
				"normalizer must stay positive)", p->knorm, p->alpha);
	return MX_OK;
}

static const char *const lrn_inputs[] = {"data", NULL};

static int lrn_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			   int n_out)
{
	char a[96];
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	if (in[0].ndim < 2)
		return mx_error(MX_ERR_SHAPE, "data %s needs a channel axis (N, C, ...)",
				shape_str(&in[0], a, sizeof a));
	out[0] = in[0];
	out[1] = in[0];
	return MX_OK;
}

static void lrn_layout(const struct mx_shape *s, int64_t *outer, int64_t *channels, int64_t *inner)
{
	*outer = s->dim[0];
	*channels = s->dim[1];
	*inner = 1;
	for (int i = 2; i < s->ndim; i++)
		*inner *= s->dim[i];
}

/* Output 1 (hidden) keeps the normalizer for backward, as MXNet's tmp_norm. */
static int lrn_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			   struct mx_tensor *const *out, const enum op_req *req)
{
	const struct lrn_param *p = param;
	int64_t outer, channels, inner;
	if (!out[1])
		return mx_error(MX_ERR_INTERNAL, "LRN: no array for the normalizer");
	if (req[0] == OP_REQ_ADD)
		return mx_error(MX_ERR_INTERNAL, "LRN: cannot add its output to an array (backward "
				"reads it)");
	lrn_layout(&in[0]->shape, &outer, &channels, &inner);
	cpu_lrn_forward(tensor_f32(in[0]), tensor_f32(out[0]), tensor_f32(out[1]), outer, channels,
			inner, p->nsize, p->alpha, p->beta, p->knorm, 0);
	return MX_OK;
}

static int lrn_backward_cpu(const struct op_ctx *ctx, const void *param,
			    struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			    struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			    const enum op_req *req)
{
	const struct lrn_param *p = param;
	int64_t outer, channels, inner;
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	lrn_layout(&in[0]->shape, &outer, &channels, &inner);
	cpu_lrn_backward(tensor_f32(in[0]), tensor_f32(out[0]), tensor_f32(out[1]),
			 tensor_f32(out_grad[0]), tensor_f32(in_grad[0]), outer, channels, inner,
			 p->nsize, p->alpha, p->beta, req[0] == OP_REQ_ADD);
	return MX_OK;
}

/* nsize multiply-adds for the window, then the scale and the power (counted as 4). */
static double lrn_flops(const void *param, const struct mx_shape *in, int n_in,
			const struct mx_shape *out, int n_out)
{
	const struct lrn_param *p = param;
	return (2.0 * p->nsize + 6.0) * (double)shape_size(&in[0]);
}

static const char *const lrn_aliases[] = {"lrn", NULL};

const struct op_desc op_lrn = {
	.name = "LRN",
	.aliases = lrn_aliases,
	.params = lrn_params,
	.param_size = sizeof(struct lrn_param),
	.check_param = lrn_check_param,
	.inputs = lrn_inputs,
	.n_data_inputs = 1,
	.n_outputs = 2,
	.n_visible_outputs = 1,
	.infer_shape = lrn_infer_shape,
	.forward = {[MX_DEV_CPU] = lrn_forward_cpu},
	.backward = {[MX_DEV_CPU] = lrn_backward_cpu},
	.bw_in = 1u << 0,            /* data */
	.bw_out = 1u << 0 | 1u << 1, /* the output and the normalizer */
	.flops = lrn_flops,
};
