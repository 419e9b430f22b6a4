/* iter_synthetic.c: the "synthetic" iterator: random data and labels of a given shape, for
 * benchmarks and for networks without a dataset at hand (MXNet's SyntheticDataIter).
 *
 * Example i of epoch e is drawn from its own random stream, seeded from (seed, e, i), so an
 * epoch is the same whatever the batch size, the prefetching or where a resumed run
 * starts, and epochs differ from each other. Data are uniform in [-1, 1) as in MXNet's
 * benchmark iterator; labels are uniform integers in [0, num_classes). The last partial
 * batch is filled by wrapping to the start of the epoch, with pad = the filler rows. */
#include <stdint.h>
#include <stdlib.h>

#include "data/iter.h"
#include "error.h"
#include "rng.h"

#define NO_MAX 1e30   /* an upper bound of 1e30 means none (param.c) */

struct synthetic_param {
	int batch_size;
	struct mx_shape data_shape;   /* one example, without the batch dimension */
	int num_classes;
	int64_t num_examples;         /* 0: batch_size * 10 */
	int seed;
};

#define P(field) offsetof(struct synthetic_param, field)
static const struct param_spec synthetic_params[] = {
	{"batch_size", PARAM_INT, P(batch_size), 0, NULL, NULL, 1, NO_MAX, "examples per batch"},
	{"data_shape", PARAM_SHAPE, P(data_shape), 0, NULL, NULL, 1, NO_MAX,
	 "shape of one example, without the batch: (3, 224, 224)"},
	{"num_classes", PARAM_INT, P(num_classes), 0, "10", NULL, 1, NO_MAX, "labels are drawn from [0, num_classes)"},
	{"num_examples", PARAM_INT64, P(num_examples), 0, "0", NULL, 0, NO_MAX,
	 "examples in one epoch; 0: batch_size * 10"},
	{"seed", PARAM_INT, P(seed), 0, "0", NULL, 0, 0, "random seed; each (seed, epoch) pair gives its own data"},
	PARAM_END,
};
#undef P

struct synthetic_iter {
	struct synthetic_param param;
	int64_t n;          /* examples per epoch */
	int64_t per_example; /* floats in one example */
	int64_t pos;        /* next example of the epoch */
	uint64_t epoch_key; /* (seed, epoch) */
};

/* splitmix64's finaliser: a bijection that spreads nearby inputs over all 64 bits. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static int synthetic_open(const void *param, void **impl)
{
	const struct synthetic_param *p = param;
	struct synthetic_iter *s;
	int64_t per_example = 1;

	*impl = NULL;
	if (p->data_shape.ndim < 1 || p->data_shape.ndim >= MX_MAX_NDIM)
		return mx_error(MX_ERR_INVALID, "data_shape has %d dimensions; give 1 to %d, e.g. (3, 224, 224)",
				p->data_shape.ndim, MX_MAX_NDIM - 1);
	for (int d = 0; d < p->data_shape.ndim; d++) {
		if (p->data_shape.dim[d] > ((int64_t)1 << 40) / per_example)
			return mx_error(MX_ERR_INVALID, "data_shape asks for more than 2^40 values per example");
		per_example *= p->data_shape.dim[d];
	}
	if (!(s = calloc(1, sizeof *s)))
		return mx_error(MX_ERR_NOMEM, "out of memory");
	s->param = *p;
	s->n = p->num_examples ? p->num_examples : (int64_t)p->batch_size * 10;
	s->per_example = per_example;
	s->pos = s->n; /* no epoch until reset */
	*impl = s;
	return MX_OK;
}

static void synthetic_close(void *impl)
{
	free(impl);
}

static void synthetic_shapes(void *impl, struct mx_shape *data, struct mx_shape *label)
{
	const struct synthetic_iter *s = impl;
	*data = iter_batch_shape(s->param.batch_size, &s->param.data_shape);
	*label = shape_make(1, (int64_t)s->param.batch_size);
}

static int synthetic_reset(void *impl, int epoch)
{
	struct synthetic_iter *s = impl;
	s->epoch_key = mix64(iter_epoch_key(s->param.seed, epoch));
	s->pos = 0;
	return MX_OK;
}

static int synthetic_next(void *impl, struct mx_tensor *data, struct mx_tensor *label, int *pad)
{
	struct synthetic_iter *s = impl;
	int64_t b = s->param.batch_size;
	float *x = tensor_f32(data), *y = tensor_f32(label);

	if (s->pos >= s->n)
		return MX_END;
	for (int64_t r = 0; r < b; r++) {
		int64_t i = (s->pos + r) % s->n;   /* past the end: wrap to the start */
		struct mx_rng rng;
		float *dst = x + r * s->per_example;
		rng_seed(&rng, mix64(s->epoch_key + (uint64_t)i));
		y[r] = (float)rng_below(&rng, (uint32_t)s->param.num_classes);
		for (int64_t k = 0; k < s->per_example; k++)
			dst[k] = 2.0f * rng_uniform(&rng) - 1.0f;
	}
	*pad = iter_batch_pad(s->pos, b, s->n);
	s->pos += b;
	return MX_OK;
}

static long synthetic_num_examples(void *impl) { return (long)((struct synthetic_iter *)impl)->n; }

const struct iter_kind iter_synthetic = {
	.name = "synthetic",
	.params = synthetic_params,
	.param_size = sizeof(struct synthetic_param),
	.open = synthetic_open,
	.close = synthetic_close,
	.shapes = synthetic_shapes,
	.reset = synthetic_reset,
	.next = synthetic_next,
	.num_examples = synthetic_num_examples,
};
