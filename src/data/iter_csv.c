/* iter_csv.c: the "csv" iterator: rows of comma-separated numbers, with the keys of
 * MXNet's CSVIter (data_csv, data_shape, label_csv, label_shape, batch_size, round_batch)
 * and the shuffle, seed, num_parts and part_index of the mnist iterator.
 *
 * Memory. MXNet's CSVIter streams the file; this one reads it whole at open into one
 * float array (the data file's rows x prod(data_shape) floats, plus the label file's rows
 * x prod(label_shape) when there is one), for three reasons: a float takes 4 bytes where
 * its text takes at least 2 and usually 5 to 12, so the array is smaller than the file;
 * CSV is a format for small tabular sets (a set of a few GB belongs in RecordIO); and
 * shuffling and num_parts need to reach any row. The file is parsed while it is read, so
 * its text is never held whole; with num_parts > 1 the whole file is parsed and only this
 * part's rows are kept. Files may be gzip-compressed.
 *
 * Parsing. A row is one line: values parsed with strtof, separated by commas, blanks
 * around them ignored, "\r\n" line ends accepted. Each row must hold exactly
 * prod(data_shape) values (prod(label_shape) in the label file); a value that is not a
 * whole finite number, a blank line between rows or a row-count mismatch between the two
 * files is an error naming FILE:LINE. Blank lines at the end of a file are ignored.
 *
 * Batches. As mnist: each epoch restarts at the first row (in the order of seed and epoch
 * when shuffled); with round_batch the last partial batch is filled from the start of
 * the epoch's order, without it the filler rows are zeros; pad counts them either way.
 * (MXNet's round_batch instead carries the overflow into the next epoch, and without it
 * leaves the previous batch's rows in place.) */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/iter.h"
#include "error.h"
#include "fileio.h"
#include "log.h"

#define CSV_PATH_MAX 1024
#define CSV_CHUNK (1 << 16)
#define CSV_MAX_ROW_VALUES INT32_MAX
#define NO_MAX 1e30   /* an upper bound of 1e30 means none (param.c) */

struct csv_param {
	char data_csv[CSV_PATH_MAX];
	struct mx_shape data_shape;
	char label_csv[CSV_PATH_MAX];
	struct mx_shape label_shape;
	int batch_size;
	int round_batch;
	int shuffle;
	int seed;
	int num_parts;
	int part_index;
};

#define P(field) offsetof(struct csv_param, field)
static const struct param_spec csv_params[] = {
	{"data_csv", PARAM_STRING, P(data_csv), CSV_PATH_MAX, NULL, NULL, 0, 0,
	 "data file: one example per line, comma-separated numbers, raw or .gz"},
	{"data_shape", PARAM_SHAPE, P(data_shape), 0, NULL, NULL, 1, NO_MAX,
	 "shape of one example, without the batch; a line holds prod(data_shape) values"},
	{"label_csv", PARAM_STRING, P(label_csv), CSV_PATH_MAX, "", NULL, 0, 0,
	 "label file, one line per data line; empty (or NULL): every label is 0"},
	{"label_shape", PARAM_SHAPE, P(label_shape), 0, "(1,)", NULL, 1, NO_MAX,
	 "shape of one example's label; (1,) gives labels of shape (batch_size)"},
	{"batch_size", PARAM_INT, P(batch_size), 0, NULL, NULL, 1, NO_MAX, "examples per batch"},
	{"round_batch", PARAM_BOOL, P(round_batch), 0, "True", NULL, 0, 0,
	 "fill the last partial batch from the start of the epoch; False: with zeros"},
	{"shuffle", PARAM_BOOL, P(shuffle), 0, "False", NULL, 0, 0,
	 "reshuffle every epoch; the order depends only on seed and epoch"},
	{"seed", PARAM_INT, P(seed), 0, "0", NULL, 0, 0, "random seed of the shuffle"},
	{"num_parts", PARAM_INT, P(num_parts), 0, "1", NULL, 1, NO_MAX,
	 "split the rows into this many contiguous parts (one per worker)"},
	{"part_index", PARAM_INT, P(part_index), 0, "0", NULL, 0, NO_MAX, "the part this iterator reads"},
	PARAM_END,
};
#undef P

/* One file's rows, parsed: rows x width floats. */
struct csv_table {
	float *values;   /* owned */
	int64_t rows;
	int64_t width;
};

struct csv_iter {
	struct csv_param param;
	struct csv_table data, label;   /* label.values NULL: no label file, labels 0 */
	int64_t label_width;            /* prod(label_shape) */
	int64_t n;                      /* rows in this part */
	int64_t *order;                 /* this epoch's order of [0, n) */
	int64_t pos;                    /* next position in order */
};

/* A line reader over a raw or gzip file that never holds more than one chunk and one
 * line, and keeps the line number for messages. */
struct csv_reader {
	const char *path;
	gzFile gz;
	char *chunk;
	size_t chunk_len, chunk_pos;
	int eof;
	char *line;       /* the current line without its "\n", NUL-terminated */
	size_t line_len, line_cap;
	long line_no;     /* 1-based number of the current line */
};

static int reader_open(struct csv_reader *r, const char *path)
{
	int rc;
	memset(r, 0, sizeof *r);
	r->path = path;
	if ((rc = file_gz_open(path, &r->gz)))
		return rc;
	if (!(r->chunk = malloc(CSV_CHUNK)))
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", path);
	return MX_OK;
}

static void reader_close(struct csv_reader *r)
{
	if (r->gz)
		gzclose(r->gz);
	free(r->chunk);
	free(r->line);
}

static int line_append(struct csv_reader *r, const char *bytes, size_t n)
{
	if (r->line_len + n + 1 > r->line_cap) {
		size_t cap = r->line_cap ? r->line_cap : 256;
		char *bigger;
		while (cap < r->line_len + n + 1)
			cap *= 2;
		if (!(bigger = realloc(r->line, cap)))
			return mx_error(MX_ERR_NOMEM, "%s:%ld: out of memory for a line of %zu bytes", r->path,
					r->line_no + 1, r->line_len + n);
		r->line = bigger;
		r->line_cap = cap;
	}
	memcpy(r->line + r->line_len, bytes, n);
	r->line_len += n;
	r->line[r->line_len] = 0;
	return MX_OK;
}

/* Reads the next line into r->line. Returns MX_OK, MX_END after the last line, or an
 * error naming the file and line (a read error, damaged gzip data). */
static int reader_next(struct csv_reader *r)
{
	int rc;
	r->line_len = 0;
	if ((rc = line_append(r, "", 0)))
		return rc;
	for (;;) {
		const char *start, *nl;
		size_t take;
		if (r->chunk_pos == r->chunk_len) {
			int got, errnum;
			if (r->eof)
				break;
			got = gzread(r->gz, r->chunk, CSV_CHUNK);
			gzerror(r->gz, &errnum);
			if (errnum == Z_ERRNO)
				return mx_error(MX_ERR_IO, "%s: read error after line %ld: %s", r->path, r->line_no,
						strerror(errno));
			if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END))
				return mx_error(MX_ERR_FORMAT, "%s: bad gzip data after line %ld: %s", r->path, r->line_no,
						file_gz_reason(r->gz));
			if (got == 0) {
				r->eof = 1;
				break;
			}
			r->chunk_len = (size_t)got;
			r->chunk_pos = 0;
		}
		start = r->chunk + r->chunk_pos;
		nl = memchr(start, '\n', r->chunk_len - r->chunk_pos);
		take = nl ? (size_t)(nl - start) : r->chunk_len - r->chunk_pos;
		if ((rc = line_append(r, start, take)))
			return rc;
		r->chunk_pos += take + (nl != NULL);
		if (nl) {
			r->line_no++;
			return MX_OK;
		}
	}
	if (r->line_len == 0)
		return MX_END;
	r->line_no++;   /* a last line without "\n" */
	return MX_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Writes value k's text (up to 40 bytes, quoted) into buf for a message. */
static const char *field_text(const char *start, const char *end, char *buf, size_t size)
{
	size_t n = 0;
	while (start < end && is_blank(*start))
		start++;
	while (end > start && is_blank(end[-1]))
		end--;
	for (; start < end && *start && n + 5 < size; start++)
		buf[n++] = *start;
	if (start < end && n + 4 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = 0;
	return buf;
}

/* Parses one line of exactly `width` values into out. A blank line returns MX_END
 * (the caller decides whether it is allowed). Errors name FILE:LINE. */
static int parse_row(const struct csv_reader *r, int64_t width, float *out)
{
	const char *p = r->line, *end = r->line + r->line_len, *q;
	int64_t found = 1;
	char text[48];

	while (p < end && is_blank(*p))
		p++;
	if (p == end)
		return MX_END;
	for (q = p; (q = memchr(q, ',', end - q)); q++)
		found++;
	if (found != width)
		return mx_error(MX_ERR_FORMAT, "%s:%ld: expected %lld values, found %lld", r->path, r->line_no,
				(long long)width, (long long)found);
	for (int64_t k = 0; k < width; k++) {
		const char *field = p, *comma = memchr(p, ',', end - p);
		const char *stop = comma ? comma : end;
		char *after;
		float v;
		errno = 0;
		v = strtof(p, &after);
		if (after == p || after > stop) {
			return mx_error(MX_ERR_FORMAT, "%s:%ld: value %lld (\"%s\") is not a number", r->path, r->line_no,
					(long long)k + 1, field_text(field, stop, text, sizeof text));
		}
		p = after;
		while (p < stop && is_blank(*p))
			p++;
		if (p != stop)
			return mx_error(MX_ERR_FORMAT, "%s:%ld: value %lld (\"%s\") is not a number", r->path, r->line_no,
					(long long)k + 1, field_text(field, stop, text, sizeof text));
		if (!isfinite(v))
			return mx_error(MX_ERR_FORMAT, "%s:%ld: value %lld (\"%s\") is not a finite float", r->path,
					r->line_no, (long long)k + 1, field_text(field, stop, text, sizeof text));
		out[k] = v;
		p = stop + 1;
	}
	return MX_OK;
}

/* Reads every row of path into t (t->width values each). Returns MX_OK, MX_ERR_IO for a
 * file that cannot be read, MX_ERR_FORMAT naming FILE:LINE, or MX_ERR_NOMEM. */
static int read_table(const char *path, int64_t width, struct csv_table *t)
{
	struct csv_reader r;
	int64_t cap = 0;
	long blank_line = 0;   /* the first blank line since the last row, or 0 */
	int rc;

	t->values = NULL;
	t->rows = 0;
	t->width = width;
	if ((rc = reader_open(&r, path)))
		goto done;
	while ((rc = reader_next(&r)) == MX_OK) {
		if (t->rows == cap) {
			int64_t more = cap ? cap * 2 : 1024;
			float *bigger;
			if (more > (int64_t)(SIZE_MAX / 2 / sizeof(float)) / width ||
			    !(bigger = realloc(t->values, (size_t)more * width * sizeof(float)))) {
				rc = mx_error(MX_ERR_NOMEM, "%s:%ld: out of memory for %lld rows of %lld values", path,
					      r.line_no, (long long)more, (long long)width);
				goto done;
			}
			t->values = bigger;
			cap = more;
		}
		rc = parse_row(&r, width, t->values + t->rows * width);
		if (rc == MX_END) {
			if (!blank_line)
				blank_line = r.line_no;
			continue;
		}
		if (rc)
			goto done;
		if (blank_line) {
			rc = mx_error(MX_ERR_FORMAT, "%s:%ld: expected %lld values, found 0 (a blank line before line %ld)",
				      path, blank_line, (long long)width, r.line_no);
			goto done;
		}
		t->rows++;
	}
	if (rc != MX_END)
		goto done;
	rc = MX_OK;
	if (t->rows == 0)
		rc = mx_error(MX_ERR_FORMAT, "%s: no rows (%ld lines, all blank)", path, r.line_no);
done:
	reader_close(&r);
	if (rc) {
		free(t->values);
		t->values = NULL;
	}
	return rc;
}

/* Keeps rows [start, end) of t and gives the rest of the memory back. */
static void keep_rows(struct csv_table *t, int64_t start, int64_t end)
{
	float *smaller;
	if (!t->values)
		return;
	memmove(t->values, t->values + start * t->width, (size_t)(end - start) * t->width * sizeof(float));
	t->rows = end - start;
	if ((smaller = realloc(t->values, (size_t)t->rows * t->width * sizeof(float))))
		t->values = smaller;
}

/* The number of values one example's shape holds, or an error naming the key. */
static int shape_values(const char *key, const struct mx_shape *s, int64_t *count)
{
	int64_t n = 1;
	if (s->ndim < 1 || s->ndim >= MX_MAX_NDIM)
		return mx_error(MX_ERR_INVALID, "%s has %d dimensions; give 1 to %d, e.g. (3, 28, 28)", key, s->ndim,
				MX_MAX_NDIM - 1);
	for (int d = 0; d < s->ndim; d++) {
		if (s->dim[d] > CSV_MAX_ROW_VALUES / n)
			return mx_error(MX_ERR_INVALID, "%s asks for more than %d values per line", key,
					CSV_MAX_ROW_VALUES);
		n *= s->dim[d];
	}
	*count = n;
	return MX_OK;
}

static void csv_close(void *impl)
{
	struct csv_iter *c = impl;
	if (!c)
		return;
	free(c->data.values);
	free(c->label.values);
	free(c->order);
	free(c);
}

static int has_label_file(const struct csv_param *p)
{
	return p->label_csv[0] && strcmp(p->label_csv, "NULL");
}

static int csv_open(const void *param, void **impl)
{
	const struct csv_param *p = param;
	struct csv_iter *c = calloc(1, sizeof *c);
	int64_t width, start, end;
	int rc;

	*impl = NULL;
	if (!c)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	c->param = *p;
	if ((rc = iter_check_part(p->part_index, p->num_parts)))
		goto fail;
	if ((rc = shape_values("data_shape", &p->data_shape, &width)) ||
	    (rc = shape_values("label_shape", &p->label_shape, &c->label_width)))
		goto fail;
	if ((rc = read_table(p->data_csv, width, &c->data)))
		goto fail;
	if (has_label_file(p)) {
		if ((rc = read_table(p->label_csv, c->label_width, &c->label)))
			goto fail;
		if (c->label.rows != c->data.rows) {
			rc = mx_error(MX_ERR_FORMAT, "%s: %lld rows but %s has %lld", p->data_csv, (long long)c->data.rows,
				      p->label_csv, (long long)c->label.rows);
			goto fail;
		}
	}
	iter_part_range(c->data.rows, p->num_parts, p->part_index, &start, &end);
	if (end <= start) {
		rc = mx_error(MX_ERR_INVALID, "part %d of %d of %s is empty (%lld rows)", p->part_index, p->num_parts,
			      p->data_csv, (long long)c->data.rows);
		goto fail;
	}
	keep_rows(&c->data, start, end);
	keep_rows(&c->label, start, end);
	c->n = end - start;
	if (!(c->order = malloc(c->n * sizeof *c->order))) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory for %lld indices", (long long)c->n);
		goto fail;
	}
	c->pos = c->n;   /* no epoch until reset */
	mx_debug("CSVIter: load %lld rows (part %d of %d) of %lld values from %s (%.1f MB as float), shuffle=%d",
		 (long long)c->n, p->part_index, p->num_parts, (long long)width, p->data_csv,
		 (double)c->n * (width + (c->label.values ? c->label_width : 0)) * sizeof(float) / 1e6, p->shuffle);
	*impl = c;
	return MX_OK;
fail:
	csv_close(c);
	return rc;
}

static void csv_shapes(void *impl, struct mx_shape *data, struct mx_shape *label)
{
	const struct csv_iter *c = impl;
	const struct mx_shape *ds = &c->param.data_shape, *ls = &c->param.label_shape;
	int64_t b = c->param.batch_size;
	*data = iter_batch_shape(b, ds);
	/* As CSVIter: the default label_shape (1,) gives one label per example, (batch). */
	if (ls->ndim == 1 && ls->dim[0] == 1)
		*label = shape_make(1, b);
	else
		*label = iter_batch_shape(b, ls);
}

static int csv_reset(void *impl, int epoch)
{
	struct csv_iter *c = impl;
	iter_epoch_order(c->order, c->n, c->param.shuffle, c->param.seed, epoch);
	c->pos = 0;
	return MX_OK;
}

static int csv_next(void *impl, struct mx_tensor *data, struct mx_tensor *label, int *pad)
{
	struct csv_iter *c = impl;
	int64_t b = c->param.batch_size, dw = c->data.width, lw = c->label_width;
	float *x = tensor_f32(data), *y = tensor_f32(label);

	if (c->pos >= c->n)
		return MX_END;
	for (int64_t r = 0; r < b; r++) {
		int64_t at = c->pos + r, i;
		if (at >= c->n && !c->param.round_batch) {
			memset(x + r * dw, 0, dw * sizeof(float));
			memset(y + r * lw, 0, lw * sizeof(float));
			continue;
		}
		i = c->order[at % c->n];   /* past the end: wrap to the start */
		memcpy(x + r * dw, c->data.values + i * dw, dw * sizeof(float));
		if (c->label.values)
			memcpy(y + r * lw, c->label.values + i * lw, lw * sizeof(float));
		else
			memset(y + r * lw, 0, lw * sizeof(float));
	}
	*pad = iter_batch_pad(c->pos, b, c->n);
	c->pos += b;
	return MX_OK;
}

static long csv_num_examples(void *impl) { return (long)((struct csv_iter *)impl)->n; }

const struct iter_kind iter_csv = {
	.name = "csv",
	.params = csv_params,
	.param_size = sizeof(struct csv_param),
	.open = csv_open,
	.close = csv_close,
	.shapes = csv_shapes,
	.reset = csv_reset,
	.next = csv_next,
	.num_examples = csv_num_examples,
};
