/* tensor.c: shapes and tensor views over pooled storage. */
#include "tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pool.h"

struct mx_shape shape_make(int ndim, ...)
{
	struct mx_shape s = {0};
	va_list ap;
	va_start(ap, ndim);
	s.ndim = ndim;
	for (int i = 0; i < ndim && i < MX_MAX_NDIM; i++)
		s.dim[i] = va_arg(ap, int64_t);
	va_end(ap);
	return s;
}

int64_t shape_size(const struct mx_shape *s)
{
	int64_t n = 1;
	if (s->ndim <= 0)
		return 0;
	for (int i = 0; i < s->ndim; i++)
		n *= s->dim[i];
	return n;
}

int shape_equal(const struct mx_shape *a, const struct mx_shape *b)
{
	if (a->ndim != b->ndim)
		return 0;
	for (int i = 0; i < a->ndim; i++)
		if (a->dim[i] != b->dim[i])
			return 0;
	return 1;
}

char *shape_str(const struct mx_shape *s, char *buf, size_t size)
{
	size_t n = 0;
	if (s->ndim <= 0) {
		snprintf(buf, size, "(?)");
		return buf;
	}
	n += snprintf(buf + n, size - n, "(");
	for (int i = 0; i < s->ndim && n < size; i++)
		n += snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)s->dim[i]);
	if (n < size)
		snprintf(buf + n, size - n, ")");
	return buf;
}

size_t dtype_size(int dtype)
{
	switch (dtype) {
	case MX_F32: case MX_I32: return 4;
	case MX_F64: case MX_I64: return 8;
	case MX_F16: return 2;
	case MX_U8: case MX_I8: return 1;
	default: return 0;
	}
}

const char *dtype_name(int dtype)
{
	static const char *const names[] = {"float32", "float64", "float16", "uint8", "int32", "int8", "int64"};
	return dtype >= 0 && dtype <= MX_I64 ? names[dtype] : "unknown";
}

struct mx_tensor *tensor_on_storage(struct mx_storage *storage, size_t offset,
				    const struct mx_shape *shape, int dtype)
{
	struct mx_tensor *t = calloc(1, sizeof *t);
	if (!t) {
		mx_error(MX_ERR_NOMEM, "out of memory");
		return NULL;
	}
	t->shape = *shape;
	t->dtype = dtype;
	t->ctx = storage->ctx;
	t->storage = storage;
	t->data = (char *)storage->data + offset;
	storage_retain(storage);
	return t;
}

struct mx_tensor *tensor_new(const struct mx_shape *shape, int dtype, struct mx_context ctx)
{
	size_t bytes = (size_t)shape_size(shape) * dtype_size(dtype);
	struct mx_storage *s = storage_alloc(ctx, bytes ? bytes : 1);
	struct mx_tensor *t;
	if (!s)
		return NULL;
	t = tensor_on_storage(s, 0, shape, dtype);
	storage_release(s);
	return t;
}

struct mx_tensor *tensor_reshape(const struct mx_tensor *base, const struct mx_shape *shape)
{
	struct mx_tensor *t;
	if (shape_size(shape) != shape_size(&base->shape)) {
		char a[64], b[64];
		mx_error(MX_ERR_SHAPE, "cannot reshape %s to %s", shape_str(&base->shape, a, sizeof a),
			 shape_str(shape, b, sizeof b));
		return NULL;
	}
	t = tensor_on_storage(base->storage, (char *)base->data - (char *)base->storage->data, shape,
			      base->dtype);
	if (t)
		t->var = base->var;
	return t;
}

void tensor_free(struct mx_tensor *t)
{
	if (!t)
		return;
	storage_release(t->storage);
	free(t);
}

size_t tensor_bytes(const struct mx_tensor *t) { return (size_t)shape_size(&t->shape) * dtype_size(t->dtype); }

void tensor_copy(struct mx_tensor *dst, const struct mx_tensor *src)
{
	if (dst->data != src->data)
		memcpy(dst->data, src->data, tensor_bytes(src));
}

void tensor_fill(struct mx_tensor *t, float value)
{
	float *p = tensor_f32(t);
	int64_t n = shape_size(&t->shape);
	for (int64_t i = 0; i < n; i++)
		p[i] = value;
}
