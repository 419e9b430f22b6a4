/* ndarray_io.c: MXNet NDArray list files (.params, mx.nd.save), byte-compatible with
 * MXNet 1.x (formats.md section 5).
 *
 * Loading takes two passes over the file. The first reads every record header and the
 * names, checking each length against the bytes left in the file before it is trusted
 * (so a corrupt length never turns into a huge allocation) and seeking over the data.
 * The second allocates the tensors and reads their data. Problems that are not about the
 * file's structure (sparse storage, an unsupported dtype, too many dimensions) are
 * reported after the names are known, so the message names the array. */
#include "net/ndarray_io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ndarray_io.c reads and writes little-endian files with host-order data"
#endif

#define LIST_MAGIC UINT64_C(0x112)
#define NDARRAY_V1_MAGIC 0xF993FAC8u
#define NDARRAY_V2_MAGIC 0xF993FAC9u
#define NDARRAY_V3_MAGIC 0xF993FACAu
/* A shape with more dimensions than this is taken as corruption, not as a real array. */
#define NDIM_SANE 32

enum { STYPE_UNDEFINED = -1, STYPE_DEFAULT = 0, STYPE_ROW_SPARSE = 1, STYPE_CSR = 2 };

/* mshadow type flags 0..12 (formats.md 5.3); mxtrain tensors hold 0..6. */
static const struct {
	const char *name;
	int bytes;
} mshadow_types[] = {
	{"float32", 4}, {"float64", 8}, {"float16", 2}, {"uint8", 1}, {"int32", 4},
	{"int8", 1},    {"int64", 8},   {"bool", 1},    {"int16", 2}, {"uint16", 2},
	{"uint32", 4},  {"uint64", 8},  {"bfloat16", 2},
};
#define N_MSHADOW_TYPES ((int)(sizeof mshadow_types / sizeof mshadow_types[0]))

/* One record as the first pass found it. */
struct record {
	int none;               /* no shape: a default-constructed NDArray */
	int stype;
	int dtype;
	int ndim;               /* as in the file (may exceed MX_MAX_NDIM: reported later) */
	int64_t dim[MX_MAX_NDIM];
	uint64_t data_offset;   /* dense data starts here */
	uint64_t data_bytes;
};

struct reader {
	int fd;
	const char *path;
	uint64_t off;           /* where the next read starts */
	uint64_t size;          /* file size */
	int array;              /* the array being read, or -1 (list header, names) */
};

/* " array 3" or "" for messages. */
static const char *array_label(const struct reader *r, char *buf, size_t size)
{
	if (r->array < 0)
		buf[0] = 0;
	else
		snprintf(buf, size, " array %d", r->array);
	return buf;
}

static int read_fully(int fd, void *buf, size_t n, uint64_t off)
{
	char *p = buf;
	while (n > 0) {
		ssize_t got = pread(fd, p, n, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

/* Checks that n more bytes exist; what names them in the message. */
static int need(struct reader *r, uint64_t n, const char *what)
{
	char lab[32];
	if (n > r->size - r->off)
		return mx_error(MX_ERR_FORMAT, "%s: truncated at byte %" PRIu64 ":%s needs %" PRIu64
				" bytes for %s, %" PRIu64 " left", r->path, r->off,
				array_label(r, lab, sizeof lab), n, what, r->size - r->off);
	return MX_OK;
}

static int read_bytes(struct reader *r, void *buf, uint64_t n, const char *what)
{
	int rc = need(r, n, what);
	if (rc)
		return rc;
	if (read_fully(r->fd, buf, n, r->off))
		return mx_error(MX_ERR_IO, "%s: read error at byte %" PRIu64 ": %s", r->path, r->off,
				strerror(errno ? errno : EIO));
	r->off += n;
	return MX_OK;
}

static int read_u32(struct reader *r, uint32_t *v, const char *what)
{
	unsigned char b[4];
	int rc = read_bytes(r, b, 4, what);
	if (!rc)
		*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return rc;
}

static int read_i32(struct reader *r, int32_t *v, const char *what)
{
	uint32_t u;
	int rc = read_u32(r, &u, what);
	if (!rc)
		*v = (int32_t)u;
	return rc;
}

static int read_u64(struct reader *r, uint64_t *v, const char *what)
{
	uint32_t lo, hi;
	int rc = read_u32(r, &lo, what);
	if (!rc)
		rc = read_u32(r, &hi, what);
	if (!rc)
		*v = (uint64_t)hi << 32 | lo;
	return rc;
}

static int corrupt(const struct reader *r, uint64_t at, const char *fmt, const char *detail)
{
	char lab[32];
	return mx_error(MX_ERR_FORMAT, "%s: byte %" PRIu64 ":%s: %s%s", r->path, at,
			array_label(r, lab, sizeof lab), fmt, detail ? detail : "");
}

/* Reads a shape: ndim (already read, at byte at) then ndim dims, i64 (wide) or u32.
 * Stores up to MX_MAX_NDIM dims and the element count in *count; a negative dim sets
 * *unknown (numpy semantics: unknown size). Dims whose product overflows are corrupt. */
static int read_dims(struct reader *r, uint64_t at, int64_t ndim, int wide, struct record *rec,
		     uint64_t *count, int *unknown)
{
	char msg[96];
	uint64_t n = 1;
	*unknown = 0;
	if (ndim > NDIM_SANE) {
		snprintf(msg, sizeof msg, "%" PRId64, ndim);
		return corrupt(r, at, "corrupt shape: ndim ", msg);
	}
	rec->ndim = (int)ndim;
	for (int i = 0; i < ndim; i++) {
		int64_t d;
		uint64_t dim_at = r->off;
		int rc;
		if (wide) {
			uint64_t u;
			rc = read_u64(r, &u, "a shape dimension");
			d = (int64_t)u;
		} else {
			uint32_t u;
			rc = read_u32(r, &u, "a shape dimension");
			d = u;
		}
		if (rc)
			return rc;
		if (d < 0) {
			*unknown = 1;
			continue;
		}
		if (i < MX_MAX_NDIM)
			rec->dim[i] = d;
		/* Any count above the file size is impossible anyway; stop before overflow. */
		if (d > 0 && n > (UINT64_MAX >> 1) / (uint64_t)d) {
			snprintf(msg, sizeof msg, "%" PRId64 " makes the size overflow", d);
			return corrupt(r, dim_at, "corrupt shape: dimension ", msg);
		}
		n *= (uint64_t)d;
	}
	*count = n;
	return MX_OK;
}

/* Reads "i32 ndim + ndim x i64" (TShape). */
static int read_tshape(struct reader *r, struct record *rec, int *ndim_out, uint64_t *count,
		       int *unknown)
{
	int32_t ndim;
	uint64_t at = r->off;
	int rc = read_i32(r, &ndim, "a shape's ndim");
	if (rc)
		return rc;
	*ndim_out = ndim;
	if (ndim < 0) {
		*unknown = 1;
		*count = 0;
		rec->ndim = 0;
		return MX_OK;
	}
	return read_dims(r, at, ndim, 1, rec, count, unknown);
}

/* Bytes for count elements of type flag dtype, checked against the file's remaining size. */
static int data_size(struct reader *r, int dtype, uint64_t count, const char *what, uint64_t *bytes)
{
	char lab[32];
	uint64_t left = r->size - r->off;
	if (dtype < 0 || dtype >= N_MSHADOW_TYPES)
		return corrupt(r, r->off - 4, "unknown type flag", NULL);
	if (count > left / (uint64_t)mshadow_types[dtype].bytes)
		return mx_error(MX_ERR_FORMAT, "%s: truncated at byte %" PRIu64 ":%s needs %" PRIu64
				" bytes for %s (%" PRIu64 " x %s), %" PRIu64 " left", r->path, r->off,
				array_label(r, lab, sizeof lab),
				count > UINT64_MAX / 8 ? UINT64_MAX : count * mshadow_types[dtype].bytes,
				what, count, mshadow_types[dtype].name, left);
	*bytes = count * (uint64_t)mshadow_types[dtype].bytes;
	return MX_OK;
}

static int read_ctx_and_type(struct reader *r, int32_t *dtype)
{
	int32_t dev_type, dev_id;
	int rc = read_i32(r, &dev_type, "the context");
	if (!rc)
		rc = read_i32(r, &dev_id, "the context");
	if (!rc)
		rc = read_i32(r, dtype, "the type flag");
	if (!rc && (*dtype < 0 || *dtype >= N_MSHADOW_TYPES)) {
		char msg[32];
		snprintf(msg, sizeof msg, "%d", *dtype);
		return corrupt(r, r->off - 4, "unknown type flag ", msg);
	}
	return rc;
}

/* First pass over one record: fills rec and leaves r->off after its data. */
static int scan_record(struct reader *r, struct record *rec)
{
	uint32_t magic;
	uint64_t count = 0, sparse_count = 0;
	int unknown = 0, ndim, rc;
	int32_t stype = STYPE_DEFAULT, dtype;
	int version;
	memset(rec, 0, sizeof *rec);

	if ((rc = read_u32(r, &magic, "the record magic")))
		return rc;
	if (magic == NDARRAY_V2_MAGIC || magic == NDARRAY_V3_MAGIC) {
		version = magic == NDARRAY_V2_MAGIC ? 2 : 3;
		uint64_t at = r->off;
		int naux;
		if ((rc = read_i32(r, &stype, "the storage type")))
			return rc;
		if (stype < STYPE_UNDEFINED || stype > STYPE_CSR) {
			char msg[32];
			snprintf(msg, sizeof msg, "%d", stype);
			return corrupt(r, at, "unknown storage type ", msg);
		}
		naux = stype == STYPE_ROW_SPARSE ? 1 : stype == STYPE_CSR ? 2 : 0;
		if (naux) {
			struct record tmp;
			int sparse_ndim;
			if ((rc = read_tshape(r, &tmp, &sparse_ndim, &sparse_count, &unknown)))
				return rc;
		}
		if ((rc = read_tshape(r, rec, &ndim, &count, &unknown)))
			return rc;
		/* V2 (legacy shape semantics): ndim 0 is "none". V3 (numpy semantics): an
		 * unknown shape is "none" and ndim 0 is a scalar, read here as shape (1). */
		if (version == 2 ? ndim <= 0 : (ndim < 0 || unknown)) {
			rec->none = 1;
			return MX_OK;
		}
		if (unknown)
			return corrupt(r, at, "negative dimension in shape", NULL);
		if (ndim == 0) {
			rec->ndim = 1;
			rec->dim[0] = 1;
			count = 1;
		}
		if ((rc = read_ctx_and_type(r, &dtype)))
			return rc;
		rec->stype = stype;
		rec->dtype = dtype;
		if (naux) {
			/* Skip over a sparse array so that its name can be read and reported. */
			uint64_t aux_bytes[2], aux_count[2], total;
			int32_t aux_type[2];
			for (int i = 0; i < naux; i++) {
				struct record tmp;
				int aux_ndim;
				if ((rc = read_i32(r, &aux_type[i], "a sparse aux type")))
					return rc;
				if (aux_type[i] < 0 || aux_type[i] >= N_MSHADOW_TYPES)
					return corrupt(r, r->off - 4, "unknown sparse aux type", NULL);
				if ((rc = read_tshape(r, &tmp, &aux_ndim, &aux_count[i], &unknown)))
					return rc;
			}
			if ((rc = data_size(r, dtype, sparse_count, "sparse values", &total)))
				return rc;
			r->off += total;
			for (int i = 0; i < naux; i++) {
				if ((rc = data_size(r, aux_type[i], aux_count[i], "sparse indices",
						    &aux_bytes[i])))
					return rc;
				r->off += aux_bytes[i];
			}
			return MX_OK;
		}
	} else {
		uint64_t at = r->off - 4;
		if (magic == NDARRAY_V1_MAGIC) {
			if ((rc = read_tshape(r, rec, &ndim, &count, &unknown)))
				return rc;
		} else {
			/* Pre-V1 files: the first word is the ndim of a shape with u32 dims. */
			if (magic > NDIM_SANE) {
				char msg[64];
				snprintf(msg, sizeof msg, "0x%08" PRIx32 " (not a known record magic, "
					 "nor a legacy ndim)", magic);
				return corrupt(r, at, "corrupt record: first word ", msg);
			}
			ndim = (int)magic;
			if ((rc = read_dims(r, at, ndim, 0, rec, &count, &unknown)))
				return rc;
		}
		if (ndim <= 0) {
			rec->none = 1;
			return MX_OK;
		}
		if (unknown)
			return corrupt(r, at, "negative dimension in shape", NULL);
		if ((rc = read_ctx_and_type(r, &dtype)))
			return rc;
		rec->dtype = dtype;
	}
	if ((rc = data_size(r, rec->dtype, count, "its data", &rec->data_bytes)))
		return rc;
	rec->data_offset = r->off;
	r->off += rec->data_bytes;
	return MX_OK;
}

/* A reason array rec cannot become an mxtrain tensor, or NULL. */
static const char *unsupported(const struct record *rec, char *buf, size_t size)
{
	if (rec->none)
		return NULL;
	if (rec->stype != STYPE_DEFAULT) {
		if (rec->stype == STYPE_UNDEFINED)
			snprintf(buf, size, "storage type undefined (-1) on an array with a shape");
		else
			snprintf(buf, size, "sparse arrays are not supported (storage type %s)",
				 rec->stype == STYPE_ROW_SPARSE ? "row_sparse" : "csr");
		return buf;
	}
	if (rec->dtype > MX_I64) {
		snprintf(buf, size, "dtype %s is not supported (float32, float64, float16, uint8, "
			 "int32, int8 and int64 are)", mshadow_types[rec->dtype].name);
		return buf;
	}
	if (rec->ndim > MX_MAX_NDIM) {
		snprintf(buf, size, "%d dimensions are not supported (at most %d)", rec->ndim, MX_MAX_NDIM);
		return buf;
	}
	return NULL;
}

struct ndarray_list *ndarray_list_new(void)
{
	struct ndarray_list *l = calloc(1, sizeof *l);
	if (!l)
		mx_error(MX_ERR_NOMEM, "out of memory");
	return l;
}

void ndarray_list_free(struct ndarray_list *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->n; i++) {
		tensor_free(l->arrays[i]);
		if (l->names)
			free(l->names[i]);
	}
	free(l->arrays);
	free(l->names);
	free(l);
}

int ndarray_list_add(struct ndarray_list *l, const char *name, struct mx_tensor *t)
{
	struct mx_tensor **arrays = realloc(l->arrays, (size_t)(l->n + 1) * sizeof *arrays);
	char *copy = NULL;
	if (!arrays)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	l->arrays = arrays;
	/* Names are all or nothing in the file: once one is named, unnamed ones get "". */
	if (name || l->names) {
		char **names = realloc(l->names, (size_t)(l->n + 1) * sizeof *names);
		if (!names)
			return mx_error(MX_ERR_NOMEM, "out of memory");
		if (!l->names)
			for (int i = 0; i < l->n; i++)
				if (!(names[i] = strdup(""))) {
					while (i-- > 0)
						free(names[i]);
					free(names);
					return mx_error(MX_ERR_NOMEM, "out of memory");
				}
		l->names = names;
		if (!(copy = strdup(name ? name : "")))
			return mx_error(MX_ERR_NOMEM, "out of memory");
		l->names[l->n] = copy;
	}
	l->arrays[l->n++] = t;
	return MX_OK;
}

int ndarray_list_find(const struct ndarray_list *l, const char *name)
{
	if (!l->names)
		return -1;
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return i;
	return -1;
}

static int load_fd(struct reader *r, struct ndarray_list **out)
{
	struct record *recs = NULL;
	struct ndarray_list *l = NULL;
	char **names = NULL;
	uint64_t magic, reserved, n, m = 0;
	int rc, i;

	if ((rc = read_u64(r, &magic, "the list header")))
		return rc;
	if (magic != LIST_MAGIC)
		return mx_error(MX_ERR_FORMAT, "%s: byte 0: not an MXNet NDArray file (magic 0x%" PRIx64
				", want 0x112)", r->path, magic);
	if ((rc = read_u64(r, &reserved, "the list header")) || (rc = read_u64(r, &n, "the array count")))
		return rc;
	/* Every record takes at least 4 bytes; this bounds the allocation below. */
	if (n > (r->size - r->off) / 4 || n > INT32_MAX)
		return mx_error(MX_ERR_FORMAT, "%s: byte 16: corrupt array count %" PRIu64 " (the file has "
				"%" PRIu64 " bytes left)", r->path, n, r->size - r->off);
	recs = calloc(n ? n : 1, sizeof *recs);
	if (!recs)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	for (i = 0; i < (int)n; i++) {
		r->array = i;
		if ((rc = scan_record(r, &recs[i])))
			goto done;
	}
	r->array = -1;
	uint64_t names_at = r->off;
	if ((rc = read_u64(r, &m, "the name count")))
		goto done;
	if (m != 0 && m != n) {
		rc = mx_error(MX_ERR_FORMAT, "%s: byte %" PRIu64 ": corrupt name count %" PRIu64 " (want 0 "
			      "or %" PRIu64 ")", r->path, names_at, m, n);
		goto done;
	}
	if (m) {
		names = calloc(m, sizeof *names);
		if (!names) {
			rc = mx_error(MX_ERR_NOMEM, "out of memory");
			goto done;
		}
		for (i = 0; i < (int)m; i++) {
			uint64_t len;
			char what[48];
			snprintf(what, sizeof what, "the name of array %d", i);
			if ((rc = read_u64(r, &len, what)) || (rc = need(r, len, what)))
				goto done;
			if (!(names[i] = malloc(len + 1))) {
				rc = mx_error(MX_ERR_NOMEM, "out of memory");
				goto done;
			}
			if ((rc = read_bytes(r, names[i], len, what)))
				goto done;
			names[i][len] = 0;
		}
	}
	for (i = 0; i < (int)n; i++) {
		char why[160];
		if (unsupported(&recs[i], why, sizeof why)) {
			rc = mx_error(MX_ERR_FORMAT, "%s: array %d%s%s%s: %s", r->path, i, names ? " (" : "",
				      names ? names[i] : "", names ? ")" : "", why);
			goto done;
		}
	}

	if (!(l = ndarray_list_new())) {
		rc = MX_ERR_NOMEM;
		goto done;
	}
	if (!(l->arrays = calloc(n ? n : 1, sizeof *l->arrays))) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}
	l->names = names;
	names = NULL;
	l->n = (int)n;
	for (i = 0; i < (int)n; i++) {
		/* A "none" array becomes a tensor with an unknown shape (ndim 0) and no data. */
		struct mx_shape shape = {0};
		struct mx_tensor *t;
		if (!recs[i].none) {
			shape.ndim = recs[i].ndim;
			memcpy(shape.dim, recs[i].dim, sizeof shape.dim);
		}
		t = tensor_new(&shape, recs[i].none ? MX_F32 : recs[i].dtype, MX_CPU);
		if (!t) {
			rc = mx_error_prefix(MX_ERR_NOMEM, "%s: array %d", r->path, i);
			goto done;
		}
		l->arrays[i] = t;
		if (recs[i].data_bytes && read_fully(r->fd, t->data, recs[i].data_bytes, recs[i].data_offset)) {
			rc = mx_error(MX_ERR_IO, "%s: read error at byte %" PRIu64 ": array %d: %s", r->path,
				      recs[i].data_offset, i, strerror(errno ? errno : EIO));
			goto done;
		}
	}
	*out = l;
	l = NULL;
	rc = MX_OK;
done:
	if (names)
		for (i = 0; i < (int)m; i++)
			free(names[i]);
	free(names);
	free(recs);
	ndarray_list_free(l);
	return rc;
}

int ndarray_list_load(const char *path, struct ndarray_list **out)
{
	struct reader r = {.path = path, .array = -1};
	struct stat st;
	int rc;
	*out = NULL;
	r.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0)
		return mx_error(MX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(r.fd, &st) || !S_ISREG(st.st_mode)) {
		rc = mx_error(MX_ERR_IO, "%s: not a regular file", path);
	} else {
		r.size = (uint64_t)st.st_size;
		rc = load_fd(&r, out);
	}
	close(r.fd);
	return rc;
}

/* Buffered little-endian writer over a FILE. */
static void put_u32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> 8 * i);
}

static void put_u64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> 8 * i);
}

static int write_u64(FILE *f, uint64_t v)
{
	unsigned char b[8];
	put_u64(b, v);
	return fwrite(b, 1, 8, f) == 8 ? 0 : -1;
}

/* Writes one V2 dense record. Returns 0, -1 on a write error, or an mx_status (> 0) for
 * an array that cannot be written. */
static int write_record(FILE *f, const struct mx_tensor *t, int index, const char *name)
{
	unsigned char head[4 + 4 + 4 + 8 * MX_MAX_NDIM + 8 + 4];
	size_t n = 0;
	if (t->shape.ndim <= 0 || t->shape.ndim > MX_MAX_NDIM)
		return mx_error(MX_ERR_INVALID, "array %d (%s): cannot save an array with no shape",
				index, name ? name : "unnamed");
	if (t->ctx.dev_type != MX_DEV_CPU)
		return mx_error(MX_ERR_INVALID, "array %d (%s): cannot save from device %d; copy it to "
				"the CPU first", index, name ? name : "unnamed", t->ctx.dev_type);
	if (!dtype_size(t->dtype))
		return mx_error(MX_ERR_INVALID, "array %d (%s): unknown dtype %d", index,
				name ? name : "unnamed", t->dtype);
	put_u32(head + n, NDARRAY_V2_MAGIC), n += 4;
	put_u32(head + n, STYPE_DEFAULT), n += 4;
	put_u32(head + n, (uint32_t)t->shape.ndim), n += 4;
	for (int i = 0; i < t->shape.ndim; i++)
		put_u64(head + n, (uint64_t)t->shape.dim[i]), n += 8;
	put_u32(head + n, MX_DEV_CPU), n += 4;
	put_u32(head + n, 0), n += 4;
	put_u32(head + n, (uint32_t)t->dtype), n += 4;
	if (fwrite(head, 1, n, f) != n)
		return -1;
	n = tensor_bytes(t);
	return n && fwrite(t->data, 1, n, f) != n ? -1 : 0;
}

static int write_list(FILE *f, const struct ndarray_list *l)
{
	int rc;
	if (write_u64(f, LIST_MAGIC) || write_u64(f, 0) || write_u64(f, (uint64_t)l->n))
		return -1;
	for (int i = 0; i < l->n; i++)
		if ((rc = write_record(f, l->arrays[i], i, l->names ? l->names[i] : NULL)))
			return rc;
	if (write_u64(f, l->names ? (uint64_t)l->n : 0))
		return -1;
	for (int i = 0; l->names && i < l->n; i++) {
		size_t len = strlen(l->names[i]);
		if (write_u64(f, len) || fwrite(l->names[i], 1, len, f) != len)
			return -1;
	}
	return 0;
}

int ndarray_list_save(const char *path, const struct ndarray_list *l)
{
	struct file_writer w;
	int rc;
	if ((rc = file_writer_open(&w, path, "wb")))
		return rc;
	/* write_list's -1 (a failed write) is left in the stream for commit to report */
	if ((rc = write_list(w.f, l)) > 0) {
		mx_error_prefix(rc, "%s", path);
		file_writer_abort(&w);
		return rc;
	}
	return file_writer_commit(&w);
}
