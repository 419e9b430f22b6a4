/* op_pool.c: Pooling (max, avg, sum, lp; 1-D, 2-D, 3-D, channels first; global; valid or
 * full convention), its shape inference, forward and backward on kernels/cpu/pool.c. */
#include "engine/threadpool.h"
#include "op.h"

#include <stddef.h>
#include <stdio.h>

#include "cpu/conv.h"
#include "error.h"

enum pool_convention { POOL_VALID, POOL_FULL, POOL_SAME };
enum pool_layout { PLAYOUT_NONE, PLAYOUT_NCW, PLAYOUT_NCHW, PLAYOUT_NCDHW };

struct pool_param {
	struct mx_shape kernel, stride, pad;
	int pool_type;          /* enum cpu_pool_type */
	int global_pool;
	int cudnn_off;
	int pooling_convention; /* enum pool_convention */
	int p_value;            /* index into pool_p_values: 0 None, else the value */
	int count_include_pad;  /* index into pool_tristate: 0 None (true), odd true, even false */
	int layout;
};

static const char *const pool_types[] = {"max", "avg", "sum", "lp", NULL};
_Static_assert(CPU_POOL_MAX == 0 && CPU_POOL_AVG == 1 && CPU_POOL_SUM == 2 && CPU_POOL_LP == 3,
	       "pool_types follows enum cpu_pool_type");
static const char *const pool_conventions[] = {"valid", "full", "same", NULL};
static const char *const pool_p_values[] = {"None", "1", "2", "3", NULL};
/* MXNet's optional<bool>: None, then the spellings of true and false it (and .conf) accept */
static const char *const pool_tristate[] = {"None", "True", "False", "true", "false", "1", "0", NULL};
static const char *const pool_layouts[] = {"None", "NCW", "NCHW", "NCDHW", "NWC", "NHWC", "NDHWC", NULL};

static const struct param_spec pool_params[] = {
	{"kernel", PARAM_SHAPE, offsetof(struct pool_param, kernel), 0, "()", NULL, 1, 1e30,
	 "window size: (w,), (h, w) or (d, h, w); not needed with global_pool"},
	{"pool_type", PARAM_ENUM, offsetof(struct pool_param, pool_type), 0, "max", pool_types, 0, 0,
	 "max, avg, sum or lp"},
	{"global_pool", PARAM_BOOL, offsetof(struct pool_param, global_pool), 0, "False", NULL, 0, 0,
	 "pool over the whole input (kernel, stride and pad are ignored)"},
	{"cudnn_off", PARAM_BOOL, offsetof(struct pool_param, cudnn_off), 0, "False", NULL, 0, 0,
	 "accepted for MXNet compatibility; no effect on the CPU"},
	{"pooling_convention", PARAM_ENUM, offsetof(struct pool_param, pooling_convention), 0, "valid",
	 pool_conventions, 0, 0, "valid: output floor((x + 2p - k) / s) + 1; full: ceil instead"},
	{"stride", PARAM_SHAPE, offsetof(struct pool_param, stride), 0, "()", NULL, 1, 1e30,
	 "stride per spatial dimension; () is 1 for each"},
	{"pad", PARAM_SHAPE, offsetof(struct pool_param, pad), 0, "()", NULL, 0, 1e30,
	 "padding on both sides per spatial dimension; () is 0 for each"},
	{"p_value", PARAM_ENUM, offsetof(struct pool_param, p_value), 0, "None", pool_p_values, 0, 0,
	 "p of lp pooling: 1, 2 or 3"},
	{"count_include_pad", PARAM_ENUM, offsetof(struct pool_param, count_include_pad), 0, "None",
	 pool_tristate, 0, 0, "avg: divide by the window including padding (None: True)"},
	{"layout", PARAM_ENUM, offsetof(struct pool_param, layout), 0, "None", pool_layouts, 0, 0,
	 "NCW, NCHW or NCDHW (None: the one that fits the data); channels-last is not supported"},
	PARAM_END,
};

static int pool_tuple_ok(const char *key, const struct mx_shape *t, const struct mx_shape *kernel)
{
	char a[64], b[64];
	if (t->ndim != 0 && kernel->ndim != 0 && t->ndim != kernel->ndim)
		return mx_error(MX_ERR_INVALID, "%s %s has %d dimensions but kernel %s has %d", key,
				shape_str(t, a, sizeof a), t->ndim, shape_str(kernel, b, sizeof b),
				kernel->ndim);
	if (t->ndim > 3)
		return mx_error(MX_ERR_INVALID, "%s %s: only 1-D, 2-D and 3-D pooling exist", key,
				shape_str(t, a, sizeof a));
	return MX_OK;
}

static int pool_check_param(void *param)
{
	const struct pool_param *p = param;
	int rc;
	if (!p->global_pool && p->kernel.ndim == 0)
		return mx_error(MX_ERR_INVALID, "kernel must be given unless global_pool is set, e.g. "
				"kernel = (2, 2)");
	if ((rc = pool_tuple_ok("kernel", &p->kernel, &p->kernel)) ||
	    (rc = pool_tuple_ok("stride", &p->stride, &p->kernel)) ||
	    (rc = pool_tuple_ok("pad", &p->pad, &p->kernel)))
		return rc;
	if (p->pooling_convention == POOL_SAME)
		return mx_error(MX_ERR_INVALID, "pooling_convention same is not supported: use valid or full");
	if (p->pool_type == CPU_POOL_LP && p->p_value == 0)
		return mx_error(MX_ERR_INVALID, "pool_type lp needs p_value (1, 2 or 3)");
	if (p->layout > PLAYOUT_NCDHW)
		return mx_error(MX_ERR_INVALID, "layout %s is not supported: only channels-first NCW, "
				"NCHW and NCDHW", pool_layouts[p->layout]);
	return MX_OK;
}

static const char *const pool_inputs[] = {"data", NULL};

static int64_t tuple_at(const struct mx_shape *t, int j, int64_t def)
{
	return t->ndim ? t->dim[j] : def;
}

/* The kernel's geometry for data of shape `data` (already checked), spatial dimensions
 * right-aligned into (depth, height, width) as for convolution. */
static void pool_geometry(const struct pool_param *p, const struct mx_shape *data,
			  struct cpu_pool_shape *s)
{
	int nd = data->ndim - 2, first = 3 - nd;
	s->batch = data->dim[0];
	s->channels = data->dim[1];
	for (int i = 0; i < 3; i++) {
		int j = i - first;
		s->in[i] = j < 0 ? 1 : data->dim[2 + j];
		if (j < 0 || p->global_pool) {
			s->kernel[i] = s->in[i];
			s->stride[i] = 1;
			s->pad[i] = 0;
		} else {
			s->kernel[i] = p->kernel.dim[j];
			s->stride[i] = tuple_at(&p->stride, j, 1);
			s->pad[i] = tuple_at(&p->pad, j, 0);
		}
		if (p->global_pool) {
			s->out[i] = 1;
		} else {
			int64_t span = s->in[i] + 2 * s->pad[i] - s->kernel[i];
			s->out[i] = (p->pooling_convention == POOL_FULL ? (span + s->stride[i] - 1) : span) /
					    s->stride[i] + 1;
		}
	}
	s->type = (enum cpu_pool_type)p->pool_type;
	s->count_include_pad = p->count_include_pad == 0 || p->count_include_pad % 2 == 1;
	s->p_value = p->p_value; /* index i of pool_p_values is p = i */
}

static int pool_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			    int n_out)
{
	static const int layout_ndim[] = {0, 3, 4, 5};
	const struct pool_param *p = param;
	struct cpu_pool_shape s;
	char a[96], b[96], c[64], d[64];
	int nd, first;
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	nd = in[0].ndim - 2;
	first = 3 - nd;
	if (nd < 1 || nd > 3)
		return mx_error(MX_ERR_SHAPE, "data %s: pooling needs 3-D, 4-D or 5-D data (N, C, ...)",
				shape_str(&in[0], a, sizeof a));
	if (p->layout != PLAYOUT_NONE && layout_ndim[p->layout] != in[0].ndim)
		return mx_error(MX_ERR_SHAPE, "layout %s does not fit data %s", pool_layouts[p->layout],
				shape_str(&in[0], a, sizeof a));
	if (!p->global_pool && p->kernel.ndim != nd)
		return mx_error(MX_ERR_SHAPE, "data %s is %d-D but kernel %s needs %d-D data",
				shape_str(&in[0], a, sizeof a), in[0].ndim,
				shape_str(&p->kernel, b, sizeof b), p->kernel.ndim + 2);
	for (int i = 0; i < in[0].ndim; i++)
		if (in[0].dim[i] <= 0)
			return mx_error(MX_ERR_SHAPE, "data %s has an empty dimension",
					shape_str(&in[0], a, sizeof a));
	pool_geometry(p, &in[0], &s);
	for (int i = first; i < 3; i++)
		if (s.kernel[i] > s.in[i] + 2 * s.pad[i]) {
			size_t n = 0;
			for (int j = first; j < 3; j++)
				n += snprintf(d + n, sizeof d - n, j > first ? "x%lld" : "%lld",
					      (long long)(s.in[j] + 2 * s.pad[j]));
			return mx_error(MX_ERR_SHAPE, "kernel %s is larger than data %s padded by %s to %s",
					shape_str(&p->kernel, a, sizeof a), shape_str(&in[0], b, sizeof b),
					p->pad.ndim ? shape_str(&p->pad, c, sizeof c) : "()", d);
		}
	out[0] = in[0];
	for (int i = 0; i < nd; i++)
		out[0].dim[2 + i] = s.out[first + i];
	return MX_OK;
}

static double pool_flops(const void *param, const struct mx_shape *in, int n_in,
			 const struct mx_shape *out, int n_out)
{
	struct cpu_pool_shape s;
	pool_geometry(param, &in[0], &s);
	/* one operation per input of each window */
	return (double)shape_size(&out[0]) * (double)(s.kernel[0] * s.kernel[1] * s.kernel[2]);
}

/* The batch's planes (image, channel) are independent, so pieces of ctx->pool take
 * contiguous runs of them: a run of planes is a geometry of batch `planes`, 1 channel. */
struct pool_job {
	struct cpu_pool_shape s; /* the whole batch */
	int pieces;
	const float *x, *dy;
	float *y, *dx;
	int accumulate;
};

static int pool_pieces(const struct op_ctx *ctx, const struct cpu_pool_shape *s)
{
	int64_t planes = s->batch * s->channels;
	int n = threadpool_pieces(ctx->pool, planes * s->in[0] * s->in[1] * s->in[2],
				  THREADPOOL_GRAIN);
	return n < planes ? n : (int)planes;
}

/* Piece i's planes as a geometry of their own, and the offsets of its first plane's input
 * and output. */
static void pool_piece(const struct pool_job *j, int i, struct cpu_pool_shape *s, int64_t *in_at,
		       int64_t *out_at)
{
	int64_t p0, p1;
	threadpool_range(j->s.batch * j->s.channels, j->pieces, i, &p0, &p1);
	*s = j->s;
	s->batch = p1 - p0;
	s->channels = 1;
	*in_at = p0 * s->in[0] * s->in[1] * s->in[2];
	*out_at = p0 * s->out[0] * s->out[1] * s->out[2];
}

static void pool_forward_piece(void *arg, int i)
{
	const struct pool_job *j = arg;
	struct cpu_pool_shape s;
	int64_t in_at, out_at;
	pool_piece(j, i, &s, &in_at, &out_at);
	cpu_pool_forward(&s, j->x + in_at, j->y + out_at, j->accumulate);
}

static int pool_forward_cpu(const struct op_ctx *ctx, const void *param,
			    struct mx_tensor *const *in, struct mx_tensor *const *out,
			    const enum op_req *req)
{
	struct pool_job j = {0};
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	pool_geometry(param, &in[0]->shape, &j.s);
	j.pieces = pool_pieces(ctx, &j.s);
	j.x = tensor_f32(in[0]);
	j.y = tensor_f32(out[0]);
	j.accumulate = req[0] == OP_REQ_ADD;
	threadpool_run(ctx->pool, j.pieces, pool_forward_piece, &j);
	return MX_OK;
}

static void pool_backward_piece(void *arg, int i)
{
	const struct pool_job *j = arg;
	struct cpu_pool_shape s;
	int64_t in_at, out_at;
	pool_piece(j, i, &s, &in_at, &out_at);
	cpu_pool_backward(&s, j->x + in_at, j->dy + out_at, j->dx + in_at, j->accumulate);
}

static int pool_backward_cpu(const struct op_ctx *ctx, const void *param,
			     struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			     struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			     const enum op_req *req)
{
	struct pool_job j = {0};
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	pool_geometry(param, &in[0]->shape, &j.s);
	j.pieces = pool_pieces(ctx, &j.s);
	j.x = tensor_f32(in[0]);
	j.dy = tensor_f32(out_grad[0]);
	j.dx = tensor_f32(in_grad[0]);
	j.accumulate = req[0] == OP_REQ_ADD;
	threadpool_run(ctx->pool, j.pieces, pool_backward_piece, &j);
	return MX_OK;
}

static const char *const pool_aliases[] = {"pool", "pooling", NULL};

const struct op_desc op_pooling = {
	.name = "Pooling",
	.aliases = pool_aliases,
	.params = pool_params,
	.param_size = sizeof(struct pool_param),
	.check_param = pool_check_param,
	.inputs = pool_inputs,
	.n_data_inputs = 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = pool_infer_shape,
	.forward = {[MX_DEV_CPU] = pool_forward_cpu},
	.backward = {[MX_DEV_CPU] = pool_backward_cpu},
	.bw_in = 1u << 0, /* max finds its argmax again, lp its norm; avg and sum need nothing */
	.bw_out = 0,
	.flops = pool_flops,
};
