/* tensor.h: shapes, dtypes, device contexts and ref-counted n-d arrays.
 *
 * A tensor is a view (shape, dtype, data pointer) on a ref-counted storage block that
 * comes from the per-device pool (pool.h). Several tensors may share one storage
 * (reshapes, planned memory); the storage goes back to the pool with its last view. */
#ifndef MX_TENSOR_H
#define MX_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define MX_MAX_NDIM 6

struct mx_shape {
	int ndim;                 /* 0: unknown (not yet inferred) */
	int64_t dim[MX_MAX_NDIM];
};

/* dtype codes are mshadow's, so .params files carry them unchanged (formats.md 5.3). */
enum mx_dtype { MX_F32 = 0, MX_F64 = 1, MX_F16 = 2, MX_U8 = 3, MX_I32 = 4, MX_I8 = 5, MX_I64 = 6 };
/* device codes are MXNet's (formats.md 5.2). */
enum mx_dev_type { MX_DEV_CPU = 1, MX_DEV_GPU = 2 };

struct mx_context {
	int dev_type;
	int dev_id;
};
static const struct mx_context MX_CPU = {MX_DEV_CPU, 0};

struct mx_storage;
struct engine_var;

struct mx_tensor {
	struct mx_shape shape;
	int dtype;
	struct mx_context ctx;
	void *data;                 /* first element, inside storage */
	struct mx_storage *storage; /* owned reference */
	struct engine_var *var;     /* the engine variable that guards these bytes, or NULL;
	                               not owned (the executor that set it frees it) */
};

struct mx_shape shape_make(int ndim, ...);   /* shape_make(2, 100L, 784L): dims are int64_t */
int64_t shape_size(const struct mx_shape *s); /* product of dims; 0 for an unknown shape */
int shape_equal(const struct mx_shape *a, const struct mx_shape *b);
/* Writes "(100,784)" (or "(?)" for unknown) into buf; returns buf. */
char *shape_str(const struct mx_shape *s, char *buf, size_t size);
size_t dtype_size(int dtype);   /* 0 for an unknown code */
const char *dtype_name(int dtype);

/* Returns a new zero-filled tensor on ctx; NULL (with error set) if out of memory.
 * The caller frees it with tensor_free(). */
struct mx_tensor *tensor_new(const struct mx_shape *shape, int dtype, struct mx_context ctx);
/* Returns a new view of base's bytes with another shape of the same size (a reshape);
 * it holds its own reference to the storage. NULL if the sizes differ. */
struct mx_tensor *tensor_reshape(const struct mx_tensor *base, const struct mx_shape *shape);
/* Returns a new view over bytes [offset, offset + size(shape) * dtype) of storage. */
struct mx_tensor *tensor_on_storage(struct mx_storage *storage, size_t offset,
				    const struct mx_shape *shape, int dtype);
void tensor_free(struct mx_tensor *t);     /* NULL is fine */
size_t tensor_bytes(const struct mx_tensor *t);
void tensor_copy(struct mx_tensor *dst, const struct mx_tensor *src); /* same size, any shape */
void tensor_fill(struct mx_tensor *t, float value);                    /* float32 only */
static inline float *tensor_f32(const struct mx_tensor *t) { return (float *)t->data; }

#endif
