/* op_reshape.c: Reshape, the same bytes under another shape, with MXNet's special codes in
 * `shape`: 0 copy an axis, -1 infer one axis, -2 copy the rest, -3 merge two axes, -4 split
 * one axis in two; `reverse` applies them from the right. */
#include "op.h"

#include <stddef.h>

#include "error.h"

struct reshape_param {
	struct mx_shape shape;
	int reverse;
	struct mx_shape target_shape;
	int keep_highest;
};

static const struct param_spec reshape_params[] = {
	{"shape", PARAM_SHAPE, offsetof(struct reshape_param, shape), 0, "()", NULL, 0, 0,
	 "the new shape; 0 copies an axis, -1 infers one, -2 copies the rest, -3 merges two, "
	 "-4 splits one into the next two values (one may be -1)"},
	{"reverse", PARAM_BOOL, offsetof(struct reshape_param, reverse), 0, "False", NULL, 0, 0,
	 "match the special codes from the right"},
	{"target_shape", PARAM_SHAPE, offsetof(struct reshape_param, target_shape), 0, "()", NULL, 0, 0,
	 "deprecated: the new shape, 0 for the one inferred axis (use shape)"},
	{"keep_highest", PARAM_BOOL, offsetof(struct reshape_param, keep_highest), 0, "False", NULL,
	 0, 0, "deprecated, with target_shape: keep the first axis"},
	PARAM_END,
};

static const char *const reshape_inputs[] = {"data", NULL};

static void reverse_dims(int64_t *d, int n)
{
	for (int i = 0, j = n - 1; i < j; i++, j--) {
		int64_t t = d[i];
		d[i] = d[j];
		d[j] = t;
	}
}

/* MXNet's InferReshapeShape (src/operator/tensor/matrix_op-inl.h), with errors instead of
 * CHECKs. `src` is the data's shape, `codes` the shape parameter. */
static int reshape_codes(const struct mx_shape *codes, const struct mx_shape *src, int reverse,
			 struct mx_shape *out)
{
	int64_t code[MX_MAX_NDIM], dim[MX_MAX_NDIM], res[3 * MX_MAX_NDIM]; /* each code adds <= 2 axes, -2 <= n_dim */
	int n_code = codes->ndim, n_dim = src->ndim, n = 0, at = 0, infer = -1;
	char a[96], b[96];
	shape_str(codes, a, sizeof a);
	shape_str(src, b, sizeof b);
	for (int i = 0; i < n_code; i++)
		code[i] = codes->dim[i];
	for (int i = 0; i < n_dim; i++)
		dim[i] = src->dim[i];
	if (reverse) {
		reverse_dims(code, n_code);
		reverse_dims(dim, n_dim);
	}
	for (int i = 0; i < n_code; i++) {
		int64_t c = code[i];
		if (c == 0) {
			if (at >= n_dim)
				return mx_error(MX_ERR_SHAPE, "shape %s: 0 copies an axis, but data %s has no "
						"axis left to copy", a, b);
			res[n++] = dim[at++];
		} else if (c == -1) {
			if (infer >= 0)
				return mx_error(MX_ERR_SHAPE, "shape %s: only one axis can be inferred (-1)", a);
			infer = n;
			res[n++] = 1;
			at++;
		} else if (c == -2) {
			while (at < n_dim)
				res[n++] = dim[at++];
		} else if (c == -3) {
			if (at + 1 >= n_dim)
				return mx_error(MX_ERR_SHAPE, "shape %s: -3 merges two axes, but data %s has "
						"fewer left", a, b);
			res[n++] = dim[at] * dim[at + 1];
			at += 2;
		} else if (c == -4) {
			int64_t d0, d1, d2;
			if (i + 2 >= n_code)
				return mx_error(MX_ERR_SHAPE, "shape %s: -4 must be followed by two values", a);
			if (at >= n_dim)
				return mx_error(MX_ERR_SHAPE, "shape %s: -4 splits an axis, but data %s has "
						"none left", a, b);
			d0 = dim[at++];
			d1 = code[++i];
			d2 = code[++i];
			if (d1 == -1 && d2 == -1)
				return mx_error(MX_ERR_SHAPE, "shape %s: -4's two values cannot both be -1", a);
			if (d1 == -1 && d2 > 0)
				d1 = d0 / d2;
			if (d2 == -1 && d1 > 0)
				d2 = d0 / d1;
			if (d1 <= 0 || d2 <= 0 || d1 * d2 != d0)
				return mx_error(MX_ERR_SHAPE, "shape %s: -4 cannot split axis %lld of data %s "
						"into %lld x %lld", a, (long long)d0, b, (long long)d1,
						(long long)d2);
			res[n++] = d1;
			res[n++] = d2;
		} else if (c > 0) {
			res[n++] = c;
			at++;
		} else {
			return mx_error(MX_ERR_SHAPE, "shape %s: %lld is not a size or one of the codes "
					"0, -1, -2, -3, -4", a, (long long)c);
		}
	}
	if (n > MX_MAX_NDIM)
		return mx_error(MX_ERR_SHAPE, "shape %s gives more than %d axes", a, MX_MAX_NDIM);
	if (infer >= 0) {
		int64_t known = 1;
		for (int i = 0; i < n; i++)
			known *= res[i];
		res[infer] = known ? shape_size(src) / known : 0;
	}
	if (reverse)
		reverse_dims(res, n);
	out->ndim = n;
	for (int i = 0; i < n; i++)
		out->dim[i] = res[i];
	return MX_OK;
}

/* The deprecated target_shape: 0 marks the one axis to infer; keep_highest keeps axis 0. */
static void reshape_target(const struct reshape_param *p, const struct mx_shape *src,
			   struct mx_shape *out)
{
	int zeros = 0, infer = 0;
	int64_t known = 1;
	*out = p->target_shape;
	if (p->keep_highest)
		out->dim[0] = src->dim[0];
	for (int i = p->keep_highest ? 1 : 0; i < out->ndim; i++)
		if (out->dim[i] == 0) {
			zeros++;
			infer = i;
		}
	if (zeros != 1)
		return;
	out->dim[infer] = 1;
	known = shape_size(out);
	out->dim[infer] = known ? shape_size(src) / known : 0;
}

/* The new shape must hold exactly the data's values: MXNet 1.9.1 lets shape=(7) turn
 * (2,3,4) into (7) (and a -1 that does not divide, into a smaller array); mxtrain refuses
 * both, naming the two shapes. */
static int reshape_infer_shape(const void *param, struct mx_shape *in, int n_in,
			       struct mx_shape *out, int n_out)
{
	const struct reshape_param *p = param;
	struct mx_shape s;
	const struct mx_shape *given = p->shape.ndim ? &p->shape : &p->target_shape;
	char a[96], b[96], c[96];
	int rc, bad;
	if (in[0].ndim <= 0)
		return mx_error(MX_ERR_SHAPE, "data shape is unknown");
	if (p->shape.ndim) {
		if ((rc = reshape_codes(&p->shape, &in[0], p->reverse, &s)))
			return rc;
	} else if (p->target_shape.ndim) {
		reshape_target(p, &in[0], &s);
	} else {
		return mx_error(MX_ERR_SHAPE, "Reshape needs shape (or the deprecated target_shape)");
	}
	bad = s.ndim == 0 || shape_size(&s) != shape_size(&in[0]);
	for (int i = 0; i < s.ndim; i++)
		bad |= s.dim[i] < 0;
	if (bad)
		return mx_error(MX_ERR_SHAPE, "cannot reshape data %s (%lld elements) to %s (%lld "
				"elements) given by %s=%s", shape_str(&in[0], a, sizeof a),
				(long long)shape_size(&in[0]), shape_str(&s, b, sizeof b),
				(long long)shape_size(&s), p->shape.ndim ? "shape" : "target_shape",
				shape_str(given, c, sizeof c));
	out[0] = s;
	return MX_OK;
}

static const char *const reshape_aliases[] = {"reshape", NULL};

const struct op_desc op_reshape = {
	.name = "Reshape",
	.aliases = reshape_aliases,
	.params = reshape_params,
	.param_size = sizeof(struct reshape_param),
	.inputs = reshape_inputs,
	.n_data_inputs = 1,
	.n_outputs = 1,
	.n_visible_outputs = 1,
	.infer_shape = reshape_infer_shape,
	.forward = {[MX_DEV_CPU] = op_copy_forward_cpu},
	.backward = {[MX_DEV_CPU] = op_copy_backward_cpu},
	.bw_in = 0,
	.bw_out = 0,
	.flags = OP_INPLACE | OP_BW_INPLACE,
};
