/* op_conv.c: Convolution (1-D, 2-D, 3-D, channels first, grouped, dilated), its shape
 * inference, forward and backward on kernels/cpu/conv.c. */
#include "engine/threadpool.h"
#include "op.h"

#include <stddef.h>
#include <stdio.h>

#include "cpu/conv.h"
#include "error.h"

enum conv_layout { LAYOUT_NONE, LAYOUT_NCW, LAYOUT_NCHW, LAYOUT_NCDHW, LAYOUT_NHWC, LAYOUT_NDHWC };

struct conv_param {
	struct mx_shape kernel, stride, dilate, pad;
	int num_filter;
	int num_group;
	int64_t workspace;
	int no_bias;
	int cudnn_tune;
	int cudnn_off;
	int layout;
};

static const char *const conv_layouts[] = {"None", "NCW", "NCHW", "NCDHW", "NHWC", "NDHWC", NULL};
static const char *const conv_tunes[] = {"None", "off", "limited_workspace", "fastest", NULL};

static const struct param_spec conv_params[] = {
	{"kernel", PARAM_SHAPE, offsetof(struct conv_param, kernel), 0, NULL, NULL, 1, 1e30,
	 "kernel size: (w,), (h, w) or (d, h, w)"},
	{"stride", PARAM_SHAPE, offsetof(struct conv_param, stride), 0, "()", NULL, 1, 1e30,
	 "stride per spatial dimension; () is 1 for each"},
	{"dilate", PARAM_SHAPE, offsetof(struct conv_param, dilate), 0, "()", NULL, 1, 1e30,
	 "dilation per spatial dimension; () is 1 for each"},
	{"pad", PARAM_SHAPE, offsetof(struct conv_param, pad), 0, "()", NULL, 0, 1e30,
	 "zero padding on both sides per spatial dimension; () is 0 for each"},
	{"num_filter", PARAM_INT, offsetof(struct conv_param, num_filter), 0, NULL, NULL, 1, 1e30,
	 "number of output channels"},
	{"num_group", PARAM_INT, offsetof(struct conv_param, num_group), 0, "1", NULL, 1, 1e30,
	 "split channels and filters into this many independent groups"},
	{"workspace", PARAM_INT64, offsetof(struct conv_param, workspace), 0, "1024", NULL, 0, 1e30,
	 "accepted for MXNet compatibility (MB); the CPU kernels size their own scratch"},
	{"no_bias", PARAM_BOOL, offsetof(struct conv_param, no_bias), 0, "False", NULL, 0, 0,
	 "leave out the bias"},
	{"cudnn_tune", PARAM_ENUM, offsetof(struct conv_param, cudnn_tune), 0, "None", conv_tunes, 0, 0,
	 "accepted for MXNet compatibility; no effect on the CPU"},
	{"cudnn_off", PARAM_BOOL, offsetof(struct conv_param, cudnn_off), 0, "False", NULL, 0, 0,
	 "accepted for MXNet compatibility; no effect on the CPU"},
	{"layout", PARAM_ENUM, offsetof(struct conv_param, layout), 0, "None", conv_layouts, 0, 0,
	 "NCW, NCHW or NCDHW (None: the one that fits the kernel); channels-last is not supported"},
	PARAM_END,
};

/* A stride/dilate/pad tuple is () or one entry per kernel dimension. */
static int check_tuple(const char *key, const struct mx_shape *t, const struct mx_shape *kernel)
{
	char a[64], b[64];
	if (t->ndim != 0 && t->ndim != kernel->ndim)
		return mx_error(MX_ERR_INVALID, "%s %s has %d dimensions but kernel %s has %d", key,
				shape_str(t, a, sizeof a), t->ndim, shape_str(kernel, b, sizeof b),
				kernel->ndim);
	return MX_OK;
}

static int conv_check_param(void *param)
{
	const struct conv_param *p = param;
	static const int layout_ndim[] = {0, 1, 2, 3, 2, 3};
	char a[64];
	int rc;
	if (p->kernel.ndim < 1 || p->kernel.ndim > 3)
		return p->kernel.ndim ? mx_error(MX_ERR_INVALID, "kernel %s: only 1-D, 2-D and 3-D "
						 "convolution exist", shape_str(&p->kernel, a, sizeof a))
				      : mx_error(MX_ERR_INVALID, "kernel must be given, e.g. kernel = (3, 3)");
	if ((rc = check_tuple("stride", &p->stride, &p->kernel)) ||
	    (rc = check_tuple("dilate", &p->dilate, &p->kernel)) ||
	    (rc = check_tuple("pad", &p->pad, &p->kernel)))
		return rc;
	if (p->num_filter <= 0)
		return mx_error(MX_ERR_INVALID, "num_filter must be given and > 0, got %d", p->num_filter);
	if (p->num_group <= 0 || p->num_filter % p->num_group)
		return mx_error(MX_ERR_INVALID, "num_filter %d is not divisible by num_group %d",
				p->num_filter, p->num_group);
	if (p->layout == LAYOUT_NHWC || p->layout == LAYOUT_NDHWC)
		return mx_error(MX_ERR_INVALID, "layout %s is not supported: only channels-first NCW, "
				"NCHW and NCDHW", conv_layouts[p->layout]);
	if (p->layout != LAYOUT_NONE && layout_ndim[p->layout] != p->kernel.ndim)
		return mx_error(MX_ERR_INVALID, "layout %s does not fit kernel %s (%d-D)",
				conv_layouts[p->layout], shape_str(&p->kernel, a, sizeof a),
				p->kernel.ndim);
	return MX_OK;
}

static int conv_list_inputs(const void *param, const char **names, int max)
{
	static const char *const all[] = {"data", "weight", "bias"};
	const struct conv_param *p = param;
	int n = p->no_bias ? 2 : 3;
	for (int i = 0; i < n && i < max; i++)
		names[i] = all[i];
	return n < max ? n : max;
}

/* The kernels' geometry for data of shape `data` (already checked): spatial dimensions
 * right-aligned into (depth, height, width), the missing ones of size 1. */
static void conv_geometry(const struct conv_param *p, const struct mx_shape *data,
			  struct cpu_conv_shape *s)
{
	int nd = p->kernel.ndim, first = 3 - nd;
	s->batch = data->dim[0];
	s->channels = data->dim[1];
	s->filters = p->num_filter;
	s->groups = p->num_group;
	for (int i = 0; i < 3; i++) {
		int j = i - first; /* index into the parameter tuples, < 0 for a missing dimension */
		s->in[i] = j < 0 ? 1 : data->dim[2 + j];
		s->kernel[i] = j < 0 ? 1 : p->kernel.dim[j];
		s->stride[i] = j < 0 || !p->stride.ndim ? 1 : p->stride.dim[j];
		s->dilate[i] = j < 0 || !p->dilate.ndim ? 1 : p->dilate.dim[j];
		s->pad[i] = j < 0 || !p->pad.ndim ? 0 : p->pad.dim[j];
		s->out[i] = (s->in[i] + 2 * s->pad[i] - s->dilate[i] * (s->kernel[i] - 1) - 1) /
				    s->stride[i] + 1;
	}
}

/* "5x5" from the spatial entries [first, 3) of a. */
static char *dims_str(const int64_t *a, int first, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = first; i < 3 && n < size; i++)
		n += snprintf(buf + n, size - n, i > first ? "x%lld" : "%lld", (long long)a[i]);
	return buf;
}

static int conv_infer_shape(const void *param, struct mx_shape *in, int n_in, struct mx_shape *out,
			    int n_out)
{
	const struct conv_param *p = param;
	struct cpu_conv_shape s;
	struct mx_shape weight, bias = shape_make(1, (int64_t)p->num_filter);
	char a[96], b[96], c[96];
	int nd = p->kernel.ndim, first = 3 - nd;
	if (n_in != (p->no_bias ? 2 : 3) || n_out != 1)
		return mx_error(MX_ERR_INTERNAL, "Convolution: %d inputs, %d outputs", n_in, n_out);
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	if (in[0].ndim != nd + 2)
		return mx_error(MX_ERR_SHAPE, "data %s is %d-D but kernel %s needs %d-D data (%s)",
				shape_str(&in[0], a, sizeof a), in[0].ndim,
				shape_str(&p->kernel, b, sizeof b), nd + 2,
				nd == 1 ? "N, C, W" : nd == 2 ? "N, C, H, W" : "N, C, D, H, W");
	for (int i = 0; i < in[0].ndim; i++)
		if (in[0].dim[i] <= 0)
			return mx_error(MX_ERR_SHAPE, "data %s has an empty dimension",
					shape_str(&in[0], a, sizeof a));
	if (in[0].dim[1] % p->num_group)
		return mx_error(MX_ERR_SHAPE, "data %s has %lld channels, not divisible by num_group %d",
				shape_str(&in[0], a, sizeof a), (long long)in[0].dim[1], p->num_group);
	conv_geometry(p, &in[0], &s);
	for (int i = first; i < 3; i++) {
		if (s.dilate[i] * (s.kernel[i] - 1) + 1 > s.in[i] + 2 * s.pad[i]) {
			char ext[64], padded[64], pad[64];
			int64_t e[3], pi[3];
			for (int j = 0; j < 3; j++) {
				e[j] = s.dilate[j] * (s.kernel[j] - 1) + 1;
				pi[j] = s.in[j] + 2 * s.pad[j];
			}
			dims_str(e, first, ext, sizeof ext);
			return mx_error(MX_ERR_SHAPE, "kernel %s%s%s is larger than data %s padded by %s to %s",
					shape_str(&p->kernel, a, sizeof a), p->dilate.ndim ? " dilated to " : "",
					p->dilate.ndim ? ext : "", shape_str(&in[0], b, sizeof b),
					p->pad.ndim ? shape_str(&p->pad, pad, sizeof pad) : "()",
					dims_str(pi, first, padded, sizeof padded));
		}
	}
	weight.ndim = nd + 2;
	weight.dim[0] = p->num_filter;
	weight.dim[1] = in[0].dim[1] / p->num_group;
	for (int i = 0; i < nd; i++)
		weight.dim[2 + i] = p->kernel.dim[i];
	if (in[1].ndim == 0)
		in[1] = weight;
	else if (!shape_equal(&in[1], &weight))
		return mx_error(MX_ERR_SHAPE, "weight %s does not match data %s: expected weight %s",
				shape_str(&in[1], a, sizeof a), shape_str(&in[0], b, sizeof b),
				shape_str(&weight, c, sizeof c));
	if (!p->no_bias) {
		if (in[2].ndim == 0)
			in[2] = bias;
		else if (!shape_equal(&in[2], &bias))
			return mx_error(MX_ERR_SHAPE, "bias %s does not match num_filter %d: expected bias %s",
					shape_str(&in[2], a, sizeof a), p->num_filter,
					shape_str(&bias, c, sizeof c));
	}
	out[0].ndim = nd + 2;
	out[0].dim[0] = s.batch;
	out[0].dim[1] = p->num_filter;
	for (int i = 0; i < nd; i++)
		out[0].dim[2 + i] = s.out[first + i];
	return MX_OK;
}

static size_t conv_workspace(const void *param, const struct mx_shape *in, int n_in)
{
	struct cpu_conv_shape s;
	if (n_in < 1 || in[0].ndim != ((const struct conv_param *)param)->kernel.ndim + 2)
		return 0;
	conv_geometry(param, &in[0], &s);
	return cpu_conv_scratch_bytes(&s);
}

static double conv_flops(const void *param, const struct mx_shape *in, int n_in,
			 const struct mx_shape *out, int n_out)
{
	const struct conv_param *p = param;
	double kernel = 1;
	for (int i = 0; i < p->kernel.ndim; i++)
		kernel *= (double)p->kernel.dim[i];
	/* 2 * N * K * (C / groups) * kernel * output pixels; shape_size(out) is N * K * pixels */
	return 2.0 * (double)shape_size(&out[0]) * (double)(in[0].dim[1] / p->num_group) * kernel;
}

/* ---- the batch split over ctx->pool ----
 * Images are independent, so each piece convolves a contiguous run of images with its own
 * im2col scratch: the executor's workspace for piece 0 when it is large enough, otherwise
 * the running thread's cpu_conv_scratch (a thread runs one piece at a time). OpenBLAS is
 * single-threaded inside the pieces (the thread policy in engine/threadpool.h).
 * Backward's weight and bias gradients are sums over images: piece 0 writes (or adds) its
 * sums in place, pieces 1.. write theirs to blocks of `partial` (the caller's
 * cpu_conv_partials), and a second pass adds those blocks in piece order, so one thread
 * count always gives the same bits. One piece is exactly the single-threaded call. */

/* Multiply-adds below which a piece is not worth a fork (about 10 us of sgemm). */
#define CONV_SPLIT_MACS (1 << 19)

struct conv_job {
	const struct op_ctx *ctx;
	struct cpu_conv_shape s; /* the whole batch */
	int pieces, sum_pieces;
	const float *x, *w, *b, *dy;
	float *y, *dx, *dw, *db;
	int acc_y, acc_dx, acc_dw, acc_db;
	int64_t dw_size, db_size; /* floats of dw and db (0 when not wanted) */
	float *partial;           /* pieces - 1 blocks of dw_size + db_size floats */
	int failed;               /* a piece found no scratch (atomic) */
};

/* Floats of one image with `channels` channels of spatial size d. */
static int64_t image_floats(int64_t channels, const int64_t *d)
{
	return channels * d[0] * d[1] * d[2];
}

static int conv_pieces(const struct op_ctx *ctx, const struct cpu_conv_shape *s)
{
	int64_t macs = s->batch * image_floats(s->filters, s->out) * (s->channels / s->groups) *
		       s->kernel[0] * s->kernel[1] * s->kernel[2];
	int n = threadpool_pieces(ctx->pool, macs, CONV_SPLIT_MACS);
	return n < s->batch ? n : (int)s->batch;
}

/* Piece i's images [*n0, *n0 + s->batch) as a geometry of their own, and its scratch in
 * *scratch (NULL when it needs none). Returns 0, or -1 with j->failed set when out of memory. */
static int conv_piece(struct conv_job *j, int i, struct cpu_conv_shape *s, int64_t *n0,
		      float **scratch)
{
	const struct op_ctx *ctx = j->ctx;
	int64_t n1;
	size_t need;
	threadpool_range(j->s.batch, j->pieces, i, n0, &n1);
	*s = j->s;
	s->batch = n1 - *n0;
	need = cpu_conv_scratch_bytes(s);
	*scratch = NULL;
	if (!need)
		return 0;
	if (i == 0 && ctx->workspace && ctx->workspace_bytes >= need)
		*scratch = ctx->workspace;
	else if (!(*scratch = cpu_conv_scratch(need))) {
		__atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
		return -1;
	}
	return 0;
}

static void conv_forward_piece(void *arg, int i)
{
	struct conv_job *j = arg;
	struct cpu_conv_shape s;
	int64_t n0;
	float *scratch;
	if (conv_piece(j, i, &s, &n0, &scratch))
		return;
	cpu_conv_forward(&s, j->x + n0 * image_floats(s.channels, s.in), j->w, j->b,
			 j->y + n0 * image_floats(s.filters, s.out), j->acc_y, scratch);
}

static int conv_forward_cpu(const struct op_ctx *ctx, const void *param,
			    struct mx_tensor *const *in, struct mx_tensor *const *out,
			    const enum op_req *req)
{
	const struct conv_param *p = param;
	struct conv_job j = {.ctx = ctx};
	if (req[0] == OP_REQ_NULL)
		return MX_OK;
	conv_geometry(p, &in[0]->shape, &j.s);
	j.pieces = conv_pieces(ctx, &j.s);
	j.x = tensor_f32(in[0]);
	j.w = tensor_f32(in[1]);
	j.b = p->no_bias ? NULL : tensor_f32(in[2]);
	j.y = tensor_f32(out[0]);
	j.acc_y = req[0] == OP_REQ_ADD;
	threadpool_run(ctx->pool, j.pieces, conv_forward_piece, &j);
	if (j.failed)
		return mx_error(MX_ERR_NOMEM, "Convolution: out of memory for %zu bytes of scratch",
				cpu_conv_scratch_bytes(&j.s));
	return MX_OK;
}

static void conv_backward_piece(void *arg, int i)
{
	struct conv_job *j = arg;
	struct cpu_conv_shape s;
	int64_t n0;
	float *scratch, *dw = j->dw, *db = j->db;
	int acc_dw = j->acc_dw, acc_db = j->acc_db;
	if (conv_piece(j, i, &s, &n0, &scratch))
		return;
	if (i > 0) {
		float *block = j->partial + (i - 1) * (j->dw_size + j->db_size);
		dw = dw ? block : NULL;
		db = db ? block + j->dw_size : NULL;
		acc_dw = acc_db = 0;
	}
	cpu_conv_backward(&s, j->x + n0 * image_floats(s.channels, s.in), j->w,
			  j->dy + n0 * image_floats(s.filters, s.out),
			  j->dx ? j->dx + n0 * image_floats(s.channels, s.in) : NULL, j->acc_dx, dw,
			  acc_dw, db, acc_db, scratch);
}

static void add_floats(float *restrict dst, const float *restrict src, int64_t n)
{
	for (int64_t e = 0; e < n; e++)
		dst[e] += src[e];
}

/* Adds the partial blocks, in piece order, into dw and db: sum piece i of sum_pieces takes
 * its share [a, b) of a block's dw_size + db_size floats (dw's first, then db's). */
static void conv_sum_piece(void *arg, int i)
{
	const struct conv_job *j = arg;
	const int64_t block = j->dw_size + j->db_size;
	int64_t a, b;
	threadpool_range(block, j->sum_pieces, i, &a, &b);
	for (int k = 0; k < j->pieces - 1; k++) {
		const float *part = j->partial + k * block;
		int64_t mid = b < j->dw_size ? b : j->dw_size; /* dw: [a, mid) */
		if (a < mid)
			add_floats(j->dw + a, part + a, mid - a);
		mid = a > j->dw_size ? a : j->dw_size;         /* db: [mid, b) */
		if (mid < b)
			add_floats(j->db + (mid - j->dw_size), part + mid, b - mid);
	}
}

static int conv_backward_cpu(const struct op_ctx *ctx, const void *param,
			     struct mx_tensor *const *out_grad, struct mx_tensor *const *in,
			     struct mx_tensor *const *out, struct mx_tensor *const *in_grad,
			     const enum op_req *req)
{
	const struct conv_param *p = param;
	struct conv_job j = {.ctx = ctx};
	conv_geometry(p, &in[0]->shape, &j.s);
	j.pieces = conv_pieces(ctx, &j.s);
	j.x = tensor_f32(in[0]);
	j.w = tensor_f32(in[1]);
	j.dy = tensor_f32(out_grad[0]);
	if (req[0] != OP_REQ_NULL)
		j.dx = tensor_f32(in_grad[0]);
	if (req[1] != OP_REQ_NULL) {
		j.dw = tensor_f32(in_grad[1]);
		j.dw_size = shape_size(&in_grad[1]->shape);
	}
	if (!p->no_bias && req[2] != OP_REQ_NULL) {
		j.db = tensor_f32(in_grad[2]);
		j.db_size = p->num_filter;
	}
	j.acc_dx = req[0] == OP_REQ_ADD;
	j.acc_dw = req[1] == OP_REQ_ADD;
	j.acc_db = j.db && req[2] == OP_REQ_ADD;
	if (j.pieces > 1 && j.dw_size + j.db_size > 0) {
		size_t bytes = (size_t)(j.pieces - 1) * (j.dw_size + j.db_size) * sizeof(float);
		if (!(j.partial = cpu_conv_partials(bytes)))
			return mx_error(MX_ERR_NOMEM, "Convolution: out of memory for %zu bytes of "
					"partial weight gradients", bytes);
	}
	threadpool_run(ctx->pool, j.pieces, conv_backward_piece, &j);
	if (j.failed)
		return mx_error(MX_ERR_NOMEM, "Convolution: out of memory for %zu bytes of scratch",
				cpu_conv_scratch_bytes(&j.s));
	if (j.partial) {
		j.sum_pieces = threadpool_pieces(ctx->pool, j.dw_size + j.db_size, THREADPOOL_GRAIN);
		threadpool_run(ctx->pool, j.sum_pieces, conv_sum_piece, &j);
	}
	return MX_OK;
}

static const char *const conv_aliases[] = {"conv", "convolution", NULL};

const struct op_desc op_convolution = {
	.name = "Convolution",
	.aliases = conv_aliases,
	.params = conv_params,
	.param_size = sizeof(struct conv_param),
	.check_param = conv_check_param,
	.list_inputs = conv_list_inputs,
	.n_data_inputs = 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = conv_infer_shape,
	.forward = {[MX_DEV_CPU] = conv_forward_cpu},
	.backward = {[MX_DEV_CPU] = conv_backward_cpu},
	.bw_in = 1u << 0 | 1u << 1, /* data for the weight gradient, weight for the data's */
	.bw_out = 0,
	.workspace = conv_workspace,
	.flops = conv_flops,
};
