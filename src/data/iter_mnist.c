/* iter_mnist.c: the "mnist" iterator: MNIST / Fashion-MNIST idx files (raw or gzip), with
 * the keys of MXNet's MNISTIter (formats.md section 7).
 *
 * Both files are read whole at open and kept as bytes; a batch converts its rows to float
 * (pixel * scale; MXNet's 1/256 by default, so inputs equal MNISTIter's). Differences from
 * MNISTIter, all on purpose: the magic, the dimensions and the exact file length are
 * checked; gzip files are read directly; the order is reshuffled every epoch as a pure
 * function of (seed, epoch); and the last partial batch is kept, filled by wrapping to the
 * start of the epoch's order, with pad = the number of filler rows (MNISTIter drops it). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/iter.h"
#include "error.h"
#include "fileio.h"
#include "log.h"

#define IDX_IMAGES_MAGIC 0x00000803u   /* unsigned bytes, 3 dims */
#define IDX_LABELS_MAGIC 0x00000801u   /* unsigned bytes, 1 dim */
#define MNIST_PATH_MAX 1024
#define NO_MAX 1e30   /* an upper bound of 1e30 means none (param.c) */

struct mnist_param {
	char image[MNIST_PATH_MAX];
	char label[MNIST_PATH_MAX];
	int batch_size;
	int shuffle;
	int flat;
	int seed;
	int silent;
	int num_parts;
	int part_index;
	float scale;
};

#define P(field) offsetof(struct mnist_param, field)
static const struct param_spec mnist_params[] = {
	{"image", PARAM_STRING, P(image), MNIST_PATH_MAX, NULL, NULL, 0, 0,
	 "idx3 images file, raw or .gz (train-images-idx3-ubyte.gz)"},
	{"label", PARAM_STRING, P(label), MNIST_PATH_MAX, "", NULL, 0, 0,
	 "idx1 labels file, raw or .gz (train-labels-idx1-ubyte.gz); empty: no labels (all 0), for prediction"},
	{"batch_size", PARAM_INT, P(batch_size), 0, NULL, NULL, 1, NO_MAX, "examples per batch"},
	{"shuffle", PARAM_BOOL, P(shuffle), 0, "False", NULL, 0, 0,
	 "reshuffle every epoch; the order depends only on seed and epoch"},
	{"flat", PARAM_BOOL, P(flat), 0, "False", NULL, 0, 0,
	 "data shape (batch, rows*cols) instead of (batch, 1, rows, cols)"},
	{"seed", PARAM_INT, P(seed), 0, "0", NULL, 0, 0, "random seed of the shuffle"},
	{"silent", PARAM_BOOL, P(silent), 0, "False", NULL, 0, 0, "do not log what was loaded"},
	{"num_parts", PARAM_INT, P(num_parts), 0, "1", NULL, 1, NO_MAX,
	 "split the examples into this many contiguous parts (one per worker)"},
	{"part_index", PARAM_INT, P(part_index), 0, "0", NULL, 0, NO_MAX, "the part this iterator reads"},
	{"scale", PARAM_FLOAT, P(scale), 0, "0.00390625", NULL, 0, 0,
	 "multiplies each pixel byte; MXNet's MNISTIter uses 1/256"},
	PARAM_END,
};
#undef P

struct mnist_iter {
	struct mnist_param param;
	unsigned char *image_file, *label_file;   /* whole decompressed files; owned */
	const unsigned char *pixels, *labels;     /* this part's first example in them */
	int64_t n;                                /* examples in this part */
	int rows, cols;
	int64_t *order;                           /* this epoch's order of [0, n) */
	int64_t pos;                              /* next position in order */
};

static uint32_t read_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads a whole file, gzip-compressed or not, into a new buffer (*bytes, freed by the
 * caller). *compressed tells which, so messages can say which byte offsets they mean.
 * Returns MX_OK, MX_ERR_IO naming the file and the reason, or MX_ERR_FORMAT for a damaged
 * gzip stream. */
static int read_whole_file(const char *path, unsigned char **bytes, size_t *size, int *compressed)
{
	unsigned char *buf = NULL;
	size_t len = 0, cap = 1 << 16;
	gzFile gz;
	int rc;

	*bytes = NULL;
	if ((rc = file_gz_open(path, &gz)))
		return rc;
	for (;;) {
		int got, errnum;
		if (!buf || len == cap) {
			unsigned char *bigger;
			if (buf)
				cap *= 2;
			if (!(bigger = realloc(buf, cap))) {
				rc = mx_error(MX_ERR_NOMEM, "%s: out of memory after %zu bytes", path, len);
				goto done;
			}
			buf = bigger;
		}
		got = gzread(gz, buf + len, (unsigned)(cap - len < INT_MAX ? cap - len : INT_MAX));
		if (got > 0) {
			len += got;
			continue;
		}
		/* 0 with an error set is a damaged gzip stream (zlib: "unexpected end of file") */
		gzerror(gz, &errnum);
		if (errnum == Z_ERRNO) {
			rc = mx_error(MX_ERR_IO, "%s: read error after byte %zu: %s", path, len, strerror(errno));
			goto done;
		}
		if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
			rc = mx_error(MX_ERR_FORMAT, "%s: bad gzip data after byte %zu (uncompressed): %s", path, len,
				      file_gz_reason(gz));
			goto done;
		}
		break;
	}
	*compressed = !gzdirect(gz);
done:
	gzclose(gz);
	if (rc) {
		free(buf);
		return rc;
	}
	*bytes = buf;
	*size = len;
	return MX_OK;
}

/* Checks an idx file's header and length: magic, ndim dimensions > 0, and exactly
 * header + product(dims) bytes. Fills dims. Returns MX_OK or MX_ERR_FORMAT naming the
 * file and the byte offset. */
static int check_idx(const char *path, const unsigned char *bytes, size_t size, int compressed,
		     uint32_t magic, int ndim, uint32_t *dims)
{
	const char *what = magic == IDX_IMAGES_MAGIC ? "images" : "labels";
	const char *at = compressed ? " (uncompressed)" : "";
	size_t header = 4 + 4 * (size_t)ndim;
	uint64_t payload = 1;
	uint32_t got;

	if (size < 4)
		return mx_error(MX_ERR_FORMAT, "%s: truncated at byte %zu%s, inside the %zu-byte idx header", path,
				size, at, header);
	got = read_be32(bytes);
	if (got != magic) {
		const char *hint = "";
		if (got == IDX_LABELS_MAGIC)
			hint = " (this is a labels file; is it given as image?)";
		else if (got == IDX_IMAGES_MAGIC)
			hint = " (this is an images file; is it given as label?)";
		return mx_error(MX_ERR_FORMAT, "%s: bad magic 0x%08x at byte 0, expected 0x%08x for idx %s%s", path,
				got, magic, what, hint);
	}
	if (size < header)
		return mx_error(MX_ERR_FORMAT, "%s: truncated at byte %zu%s, inside the %zu-byte idx header", path,
				size, at, header);
	for (int d = 0; d < ndim; d++) {
		dims[d] = read_be32(bytes + 4 + 4 * d);
		if (dims[d] == 0 || dims[d] > INT32_MAX)
			return mx_error(MX_ERR_FORMAT, "%s: dimension %d is %u (at byte %d); it must be in [1, %d]", path,
					d, dims[d], 4 + 4 * d, INT32_MAX);
		if (payload > ((uint64_t)1 << 40) / dims[d])
			return mx_error(MX_ERR_FORMAT, "%s: the header's dimensions ask for more than 2^40 bytes", path);
		payload *= dims[d];
	}
	if (size - header < payload)
		return mx_error(MX_ERR_FORMAT,
				"%s: truncated at byte %zu%s; the header (%u %s) needs %llu bytes", path, size, at,
				dims[0], what, (unsigned long long)(header + payload));
	if (size - header > payload)
		return mx_error(MX_ERR_FORMAT, "%s: %llu bytes of trailing data after byte %llu%s (header: %u %s)",
				path, (unsigned long long)(size - header - payload),
				(unsigned long long)(header + payload), at, dims[0], what);
	return MX_OK;
}

static void mnist_close(void *impl)
{
	struct mnist_iter *m = impl;
	if (!m)
		return;
	free(m->image_file);
	free(m->label_file);
	free(m->order);
	free(m);
}

static void mnist_shapes(void *impl, struct mx_shape *data, struct mx_shape *label);

static int mnist_open(const void *param, void **impl)
{
	const struct mnist_param *p = param;
	struct mnist_iter *m = calloc(1, sizeof *m);
	size_t image_size, label_size;
	uint32_t image_dims[3], label_dims[1];
	int64_t start, end;
	int rc, compressed = 0;

	*impl = NULL;
	if (!m)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	m->param = *p;
	if ((rc = iter_check_part(p->part_index, p->num_parts)))
		goto fail;
	if ((rc = read_whole_file(p->image, &m->image_file, &image_size, &compressed)) ||
	    (rc = check_idx(p->image, m->image_file, image_size, compressed, IDX_IMAGES_MAGIC, 3, image_dims)))
		goto fail;
	if (!p->label[0]) {
		/* No labels: a zero label per image (an idx1 body of zeros after an 8-byte header). */
		label_dims[0] = image_dims[0];
		if (!(m->label_file = calloc(8 + (size_t)image_dims[0], 1))) {
			rc = mx_error(MX_ERR_NOMEM, "out of memory");
			goto fail;
		}
	} else if ((rc = read_whole_file(p->label, &m->label_file, &label_size, &compressed)) ||
		   (rc = check_idx(p->label, m->label_file, label_size, compressed, IDX_LABELS_MAGIC, 1, label_dims))) {
		goto fail;
	}
	if (image_dims[0] != label_dims[0]) {
		rc = mx_error(MX_ERR_FORMAT, "%s has %u images but %s has %u labels", p->image, image_dims[0], p->label,
			      label_dims[0]);
		goto fail;
	}
	m->rows = (int)image_dims[1];
	m->cols = (int)image_dims[2];
	iter_part_range(image_dims[0], p->num_parts, p->part_index, &start, &end);
	m->n = end - start;
	if (m->n <= 0) {
		rc = mx_error(MX_ERR_INVALID, "part %d of %d of %s is empty (%u examples)", p->part_index, p->num_parts,
			      p->image, image_dims[0]);
		goto fail;
	}
	m->pixels = m->image_file + 16 + start * m->rows * m->cols;
	m->labels = m->label_file + 8 + start;
	m->order = malloc(m->n * sizeof *m->order);
	if (!m->order) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory for %lld indices", (long long)m->n);
		goto fail;
	}
	m->pos = m->n;   /* no epoch until reset */
	if (!p->silent) {
		struct mx_shape data, label;
		char text[64];
		mnist_shapes(m, &data, &label);
		mx_debug("MNISTIter: load %lld images (part %d of %d) from %s, shuffle=%d, shape=%s", (long long)m->n,
			p->part_index, p->num_parts, p->image, p->shuffle, shape_str(&data, text, sizeof text));
	}
	*impl = m;
	return MX_OK;
fail:
	mnist_close(m);
	return rc;
}

static void mnist_shapes(void *impl, struct mx_shape *data, struct mx_shape *label)
{
	const struct mnist_iter *m = impl;
	int64_t b = m->param.batch_size;
	if (m->param.flat)
		*data = shape_make(2, b, (int64_t)m->rows * m->cols);
	else
		*data = shape_make(4, b, (int64_t)1, (int64_t)m->rows, (int64_t)m->cols);
	*label = shape_make(1, b);
}

static int mnist_reset(void *impl, int epoch)
{
	struct mnist_iter *m = impl;
	iter_epoch_order(m->order, m->n, m->param.shuffle, m->param.seed, epoch);
	m->pos = 0;
	return MX_OK;
}

static int mnist_next(void *impl, struct mx_tensor *data, struct mx_tensor *label, int *pad)
{
	struct mnist_iter *m = impl;
	int64_t b = m->param.batch_size, pixels = (int64_t)m->rows * m->cols;
	float *x = tensor_f32(data), *y = tensor_f32(label), scale = m->param.scale;

	if (m->pos >= m->n)
		return MX_END;
	for (int64_t r = 0; r < b; r++) {
		int64_t i = m->order[(m->pos + r) % m->n];   /* past the end: wrap to the start */
		const unsigned char *src = m->pixels + i * pixels;
		float *dst = x + r * pixels;
		for (int64_t k = 0; k < pixels; k++)
			dst[k] = (float)src[k] * scale;
		y[r] = (float)m->labels[i];
	}
	*pad = iter_batch_pad(m->pos, b, m->n);
	m->pos += b;
	return MX_OK;
}

static long mnist_num_examples(void *impl) { return (long)((struct mnist_iter *)impl)->n; }

const struct iter_kind iter_mnist = {
	.name = "mnist",
	.params = mnist_params,
	.param_size = sizeof(struct mnist_param),
	.open = mnist_open,
	.close = mnist_close,
	.shapes = mnist_shapes,
	.reset = mnist_reset,
	.next = mnist_next,
	.num_examples = mnist_num_examples,
};
