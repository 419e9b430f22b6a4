/* op_dropout.c: Dropout (inverted: kept units are scaled by 1/(1-p) in training, so
 * inference is the identity), with its mask as a hidden second output. */
#include "engine/threadpool.h"
#include "op.h"

#include <stddef.h>

#include "cpu/kernels.h"
#include "error.h"

enum dropout_mode { DROPOUT_TRAINING, DROPOUT_ALWAYS };

struct dropout_param {
	float p;
	int mode;
	struct mx_shape axes;
	int cudnn_off;
};

static const char *const dropout_modes[] = {"training", "always", NULL};

static const struct param_spec dropout_params[] = {
	{"p", PARAM_FLOAT, offsetof(struct dropout_param, p), 0, "0.5", NULL, 0, 1,
	 "fraction of units dropped, in [0, 1)"},
	{"mode", PARAM_ENUM, offsetof(struct dropout_param, mode), 0, "training", dropout_modes, 0, 0,
	 "training: drop only in training; always: also in inference"},
	{"axes", PARAM_SHAPE, offsetof(struct dropout_param, axes), 0, "()", NULL, 0, 0,
	 "axes sharing one mask (variational dropout); only () is supported"},
	{"cudnn_off", PARAM_BOOL, offsetof(struct dropout_param, cudnn_off), 0, "False", NULL, 0, 0,
	 "accepted for MXNet compatibility; no effect"},
	PARAM_END,
};

static int dropout_check_param(void *param)
{
	const struct dropout_param *p = param;
	if (!(p->p >= 0.0f && p->p < 1.0f))
		return mx_error(MX_ERR_INVALID, "p = %g is out of range [0, 1)", p->p);
	if (p->axes.ndim != 0)
		return mx_error(MX_ERR_INVALID, "axes: only () is supported (one mask per element)");
	return MX_OK;
}

static const char *const dropout_inputs[] = {"data", NULL};

static int dropout_infer_shape(const void *param, struct mx_shape *in, int n_in,
			       struct mx_shape *out, int n_out)
{
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	out[0] = in[0];
	out[1] = in[0];
	return MX_OK;
}

/* dst = a * mask over contiguous ranges, one per piece of ctx->pool. */
struct mul_job {
	int64_t n;
	int pieces;
	const float *a, *mask;
	float *dst;
	int accumulate;
};

static void mul_piece(void *arg, int i)
{
	const struct mul_job *j = arg;
	int64_t lo, hi;
	threadpool_range(j->n, j->pieces, i, &lo, &hi);
	cpu_mul(j->dst + lo, j->a + lo, j->mask + lo, hi - lo, j->accumulate);
}

static void mul_split(const struct op_ctx *ctx, float *dst, const float *a, const float *mask,
		      int64_t n, int accumulate)
{
	struct mul_job j = {.n = n, .a = a, .mask = mask, .dst = dst, .accumulate = accumulate};
	j.pieces = threadpool_pieces(ctx->pool, n, THREADPOOL_GRAIN);
	threadpool_run(ctx->pool, j.pieces, mul_piece, &j);
}

/* The mask is drawn on the calling thread, in element order, so it is the same function of
 * the generator's state whatever the thread count (xoshiro cannot jump ahead by n draws);
 * only applying it is split. */
static int dropout_forward_cpu(const struct op_ctx *ctx, const void *param,
			       struct mx_tensor *const *in, struct mx_tensor *const *out,
			       const enum op_req *req)
{
	const struct dropout_param *p = param;
	int64_t n = shape_size(&in[0]->shape);
	if (!ctx->is_train && p->mode != DROPOUT_ALWAYS) {
		if (req[0] != OP_REQ_NULL)
			cpu_assign(tensor_f32(out[0]), tensor_f32(in[0]), n, req[0] == OP_REQ_ADD);
		return MX_OK;
	}
	if (!ctx->rng || !out[1])
		return mx_error(MX_ERR_INTERNAL, "Dropout: no random generator or mask in training");
	cpu_dropout_mask(tensor_f32(out[1]), n, p->p, ctx->rng);
	if (req[0] != OP_REQ_NULL)
		mul_split(ctx, tensor_f32(out[0]), tensor_f32(in[0]), tensor_f32(out[1]), n,
			  req[0] == OP_REQ_ADD);
	return MX_OK;
}

/* dx = dy * mask (the mask already holds 0 or 1/(1-p)). */
static int dropout_backward_cpu(const struct op_ctx *ctx, const void *param,
				struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
				struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
				const enum op_req *req)
{
	if (req[0] != OP_REQ_NULL)
		mul_split(ctx, tensor_f32(in_grad[0]), tensor_f32(out_grad[0]), tensor_f32(out[1]),
			  shape_size(&out_grad[0]->shape), req[0] == OP_REQ_ADD);
	return MX_OK;
}

static const char *const dropout_aliases[] = {"dropout", NULL};

const struct op_desc op_dropout = {
	.name = "Dropout",
	.aliases = dropout_aliases,
	.params = dropout_params,
	.param_size = sizeof(struct dropout_param),
	.check_param = dropout_check_param,
	.inputs = dropout_inputs,
	.n_data_inputs = 1,
	.n_outputs = 2,
	.n_visible_outputs = 1,
	.infer_shape = dropout_infer_shape,
	.forward = {[MX_DEV_CPU] = dropout_forward_cpu},
	.backward = {[MX_DEV_CPU] = dropout_backward_cpu},
	.bw_in = 0,
	.bw_out = 1u << 1, /* the mask */
	.flags = OP_INPLACE | OP_BW_INPLACE | OP_RANDOM,
};
