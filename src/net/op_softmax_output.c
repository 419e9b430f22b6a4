/* op_softmax_output.c: SoftmaxOutput, a loss head: softmax forward, and in backward the
 * cross-entropy gradient (softmax - onehot(label)) with MXNet's scaling options. */
#include "engine/threadpool.h"
#include "op.h"

#include <stddef.h>

#include "cpu/kernels.h"
#include "error.h"

enum sm_norm { SM_NORM_NULL, SM_NORM_BATCH, SM_NORM_VALID };

struct sm_param {
	float grad_scale;
	float ignore_label;
	int multi_output;
	int use_ignore;
	int preserve_shape;
	int normalization;
	int out_grad;
	float smooth_alpha;
};

static const char *const sm_norms[] = {"null", "batch", "valid", NULL};

static const struct param_spec sm_params[] = {
	{"grad_scale", PARAM_FLOAT, offsetof(struct sm_param, grad_scale), 0, "1", NULL, 0, 0,
	 "scale the gradient by this"},
	{"ignore_label", PARAM_FLOAT, offsetof(struct sm_param, ignore_label), 0, "-1", NULL, 0, 0,
	 "label whose rows get no gradient when use_ignore is set"},
	{"multi_output", PARAM_BOOL, offsetof(struct sm_param, multi_output), 0, "False", NULL, 0, 0,
	 "softmax over axis 1 of (N, C, ...) with labels (N, ...)"},
	{"use_ignore", PARAM_BOOL, offsetof(struct sm_param, use_ignore), 0, "False", NULL, 0, 0,
	 "give rows labelled ignore_label zero gradient"},
	{"preserve_shape", PARAM_BOOL, offsetof(struct sm_param, preserve_shape), 0, "False", NULL, 0, 0,
	 "softmax over the last axis, keeping the leading axes"},
	{"normalization", PARAM_ENUM, offsetof(struct sm_param, normalization), 0, "null", sm_norms, 0, 0,
	 "divide the gradient by 1 (null), the batch size (batch) or the non-ignored labels (valid)"},
	{"out_grad", PARAM_BOOL, offsetof(struct sm_param, out_grad), 0, "False", NULL, 0, 0,
	 "multiply the gradient by the output's gradient, when there is one"},
	{"smooth_alpha", PARAM_FLOAT, offsetof(struct sm_param, smooth_alpha), 0, "0", NULL, 0, 1,
	 "label smoothing: move this much target mass off the label, spread over the others"},
	PARAM_END,
};

static const char *const sm_inputs[] = {"data", "label", NULL};

/* The data as MXNet's (outer, classes, inner) block: multi_output (N, C, rest),
 * preserve_shape (leading, last, 1), otherwise (N, prod(rest), 1). */
static void sm_layout(const struct sm_param *p, const struct mx_shape *data, int64_t *outer,
		      int64_t *classes, int64_t *inner)
{
	int64_t size = shape_size(data);
	if (p->multi_output) {
		*outer = data->dim[0];
		*classes = data->ndim > 1 ? data->dim[1] : 1;
		*inner = *outer > 0 && *classes > 0 ? size / (*outer * *classes) : 0;
	} else if (p->preserve_shape) {
		*classes = data->dim[data->ndim - 1];
		*outer = *classes ? size / *classes : 0;
		*inner = 1;
	} else {
		*outer = data->dim[0];
		*classes = *outer ? size / *outer : 0;
		*inner = 1;
	}
}

static int sm_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			  int n_out)
{
	const struct sm_param *p = param;
	const struct mx_shape *data = &in[0];
	struct mx_shape label = {0};
	int64_t outer, classes, inner;
	char a[96], b[96], c[96];
	if (data->ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	if ((p->multi_output || p->preserve_shape) && data->ndim < 2)
		return mx_error(MX_ERR_SHAPE, "data %s: %s needs at least 2 axes",
				shape_str(data, a, sizeof a),
				p->multi_output ? "multi_output" : "preserve_shape");
	sm_layout(p, data, &outer, &classes, &inner);
	if (p->multi_output) {
		/* (N, rest...): the data's shape without axis 1. */
		label.ndim = data->ndim - 1;
		label.dim[0] = data->dim[0];
		for (int i = 2; i < data->ndim; i++)
			label.dim[i - 1] = data->dim[i];
	} else if (p->preserve_shape) {
		label.ndim = data->ndim - 1;
		for (int i = 0; i + 1 < data->ndim; i++)
			label.dim[i] = data->dim[i];
	} else {
		label = shape_make(1, data->dim[0]);
	}
	/* A label of another shape with one entry per row is fine ((N, 1), or MXNet's
	 * flattened (N, H*W) for multi_output), as long as it starts with N. */
	if (in[1].ndim == 0)
		in[1] = label;
	else if (shape_size(&in[1]) != outer * inner || in[1].dim[0] != label.dim[0])
		return mx_error(MX_ERR_SHAPE, "label %s does not match data %s: expected label %s",
				shape_str(&in[1], a, sizeof a), shape_str(data, b, sizeof b),
				shape_str(&label, c, sizeof c));
	out[0] = *data;
	return MX_OK;
}

/* Rows are independent: pieces of ctx->pool take contiguous runs of the outer index. */
struct sm_job {
	int64_t outer, classes, inner;
	int pieces;
	const float *x, *label, *ograd; /* forward: x; backward: x is the softmax */
	float *dst;
	float scale, alpha, ignore;
	int use_ignore, accumulate;
};

/* Softmax costs an expf per entry, so smaller arrays than a plain loop's are worth a fork. */
static int sm_pieces(const struct op_ctx *ctx, const struct sm_job *j)
{
	int n = threadpool_pieces(ctx->pool, j->outer * j->classes * j->inner, THREADPOOL_GRAIN / 8);
	return n < j->outer ? n : (int)j->outer;
}

static void sm_forward_piece(void *arg, int i)
{
	const struct sm_job *j = arg;
	int64_t o0, o1, at;
	threadpool_range(j->outer, j->pieces, i, &o0, &o1);
	at = o0 * j->classes * j->inner;
	cpu_softmax(j->x + at, j->dst + at, o1 - o0, j->classes, j->inner);
}

static int sm_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			  struct mx_tensor *const *out, const enum op_req *req)
{
	struct sm_job j = {0};
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	if (req[0] == OP_REQ_ADD)
		return mx_error(MX_ERR_INTERNAL, "SoftmaxOutput: cannot add its output to an array");
	sm_layout(param, &in[0]->shape, &j.outer, &j.classes, &j.inner);
	j.pieces = sm_pieces(ctx, &j);
	j.x = tensor_f32(in[0]);
	j.dst = tensor_f32(out[0]);
	threadpool_run(ctx->pool, j.pieces, sm_forward_piece, &j);
	return MX_OK;
}

static void sm_backward_piece(void *arg, int i)
{
	const struct sm_job *j = arg;
	int64_t o0, o1, at;
	threadpool_range(j->outer, j->pieces, i, &o0, &o1);
	at = o0 * j->classes * j->inner;
	cpu_softmax_output_grad(j->x + at, j->label + o0 * j->inner, j->ograd ? j->ograd + at : NULL,
				j->dst + at, o1 - o0, j->classes, j->inner, j->scale, j->alpha,
				j->use_ignore, j->ignore, j->accumulate);
}

/* MXNet's normalization (checked against MXNet 1.9.1): the gradient is divided by
 *   null:  1, or the positions per sample (inner) with multi_output;
 *   batch: the rows (outer), or samples times positions with multi_output;
 *   valid: the labels other than ignore_label, at least 1 (counted whether or not
 *          use_ignore is set, as MXNet does).
 * Labels are checked here: MXNet silently gives a wrong gradient for a label outside
 * [0, classes). */
static int sm_backward_cpu(const struct op_ctx *ctx, const void *param,
			   struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			   struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			   const enum op_req *req)
{
	const struct sm_param *p = param;
	const float *lab = tensor_f32(in[1]);
	struct sm_job j = {0};
	int64_t n_label, valid = 0;
	float norm;
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	sm_layout(p, &out[0]->shape, &j.outer, &j.classes, &j.inner);
	n_label = j.outer * j.inner;
	for (int64_t i = 0; i < n_label; i++) {
		int64_t k = (int64_t)lab[i];
		int ignored = k == (int64_t)p->ignore_label;
		valid += !ignored;
		if (!(p->use_ignore && ignored) && !(k >= 0 && k < j.classes))
			return mx_error(MX_ERR_INVALID, "label %g at index %lld is outside [0, %lld)",
					lab[i], (long long)i, (long long)j.classes);
	}
	if (p->normalization == SM_NORM_VALID)
		norm = valid > 0 ? (float)valid : 1.0f;
	else if (p->normalization == SM_NORM_BATCH)
		norm = (float)(p->multi_output ? j.outer * j.inner : j.outer);
	else
		norm = (float)(p->multi_output ? j.inner : 1);
	if (p->out_grad && out_grad && out_grad[0])
		j.ograd = tensor_f32(out_grad[0]);
	j.pieces = sm_pieces(ctx, &j);
	j.x = tensor_f32(out[0]);
	j.label = lab;
	j.dst = tensor_f32(in_grad[0]);
	j.scale = p->grad_scale / norm;
	j.alpha = p->smooth_alpha;
	j.use_ignore = p->use_ignore;
	j.ignore = p->ignore_label;
	j.accumulate = req[0] == OP_REQ_ADD;
	threadpool_run(ctx->pool, j.pieces, sm_backward_piece, &j);
	return MX_OK;
}

static const char *const sm_aliases[] = {"softmax", "softmaxoutput", "Softmax", NULL};

const struct op_desc op_softmax_output = {
	.name = "SoftmaxOutput",
	.aliases = sm_aliases,
	.params = sm_params,
	.param_size = sizeof(struct sm_param),
	.inputs = sm_inputs,
	.n_data_inputs = 1,
	.label_mask = 1u << 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = sm_infer_shape,
	.forward = {[MX_DEV_CPU] = sm_forward_cpu},
	.backward = {[MX_DEV_CPU] = sm_backward_cpu},
	.bw_in = 1u << 1,  /* the label */
	.bw_out = 1u << 0, /* the softmax */
	.flags = OP_LOSS | OP_INPLACE,
};
