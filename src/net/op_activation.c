/* op_activation.c: Activation (relu, sigmoid, tanh, softrelu, softsign), elementwise. */
#include "engine/threadpool.h"
#include "op.h"

#include <stddef.h>

#include "cpu/kernels.h"
#include "error.h"

struct act_param {
	int act_type; /* index into act_types, which follows enum cpu_act */
};

static const char *const act_types[] = {"relu", "sigmoid", "tanh", "softrelu", "softsign", NULL};
_Static_assert(CPU_ACT_RELU == 0 && CPU_ACT_SIGMOID == 1 && CPU_ACT_TANH == 2 &&
	       CPU_ACT_SOFTRELU == 3 && CPU_ACT_SOFTSIGN == 4, "act_types follows enum cpu_act");

static const struct param_spec act_params[] = {
	{"act_type", PARAM_ENUM, offsetof(struct act_param, act_type), 0, NULL, act_types, 0, 0,
	 "activation function: relu, sigmoid, tanh, softrelu or softsign"},
	PARAM_END,
};

static const char *const act_inputs[] = {"data", NULL};

static int act_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			   int n_out)
{
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	out[0] = in[0];
	return MX_OK;
}

/* Pieces of ctx->pool take contiguous ranges of the array. */
struct act_job {
	enum cpu_act act;
	int64_t n;
	int pieces;
	const float *src, *y; /* forward: x; backward: dy, and y */
	float *dst;
	int accumulate;
};

/* Elements worth a fork: fewer where each one calls libm (expf, tanhf, expm1f). */
static int64_t act_grain(enum cpu_act act, int backward)
{
	int libm = act == CPU_ACT_SOFTRELU ||
		   (!backward && (act == CPU_ACT_SIGMOID || act == CPU_ACT_TANH));
	return libm ? THREADPOOL_GRAIN / 8 : THREADPOOL_GRAIN;
}

static void act_forward_piece(void *arg, int i)
{
	const struct act_job *j = arg;
	int64_t a, b;
	threadpool_range(j->n, j->pieces, i, &a, &b);
	cpu_act_forward(j->act, j->src + a, j->dst + a, b - a, j->accumulate);
}

static int act_forward_cpu(const struct op_ctx *ctx, const void *param, struct mx_tensor *const *in,
			   struct mx_tensor *const *out, const enum op_req *req)
{
	const struct act_param *p = param;
	struct act_job j = {.act = (enum cpu_act)p->act_type, .n = shape_size(&in[0]->shape)};
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	j.pieces = threadpool_pieces(ctx->pool, j.n, act_grain(j.act, 0));
	j.src = tensor_f32(in[0]);
	j.dst = tensor_f32(out[0]);
	j.accumulate = req[0] == OP_REQ_ADD;
	threadpool_run(ctx->pool, j.pieces, act_forward_piece, &j);
	return MX_OK;
}

static void act_backward_piece(void *arg, int i)
{
	const struct act_job *j = arg;
	int64_t a, b;
	threadpool_range(j->n, j->pieces, i, &a, &b);
	cpu_act_backward(j->act, j->y + a, j->src + a, j->dst + a, b - a, j->accumulate);
}

/* Reads the output only (as MXNet does), so forward may run in place and the input's
 * memory is free once forward is done. */
static int act_backward_cpu(const struct op_ctx *ctx, const void *param,
			    struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			    struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			    const enum op_req *req)
{
	const struct act_param *p = param;
	struct act_job j = {.act = (enum cpu_act)p->act_type, .n = shape_size(&out[0]->shape)};
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	j.pieces = threadpool_pieces(ctx->pool, j.n, act_grain(j.act, 1));
	j.y = tensor_f32(out[0]);
	j.src = tensor_f32(out_grad[0]);
	j.dst = tensor_f32(in_grad[0]);
	j.accumulate = req[0] == OP_REQ_ADD;
	threadpool_run(ctx->pool, j.pieces, act_backward_piece, &j);
	return MX_OK;
}

static const char *const act_aliases[] = {"act", "activation", NULL};

const struct op_desc op_activation = {
	.name = "Activation",
	.aliases = act_aliases,
	.params = act_params,
	.param_size = sizeof(struct act_param),
	.inputs = act_inputs,
	.n_data_inputs = 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = act_infer_shape,
	.forward = {[MX_DEV_CPU] = act_forward_cpu},
	.backward = {[MX_DEV_CPU] = act_backward_cpu},
	.bw_in = 0,
	.bw_out = 1u << 0,
	.flags = OP_INPLACE | OP_BW_INPLACE,
};
