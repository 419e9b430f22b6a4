/* recordio.c: MXNet's RecordIO (.rec), its index (.idx) and the IRHeader payload, byte for
 * byte as shared/spec/formats.md sections 1-3 describe them. */
#include "data/recordio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "log.h"

#define WINDOW_BYTES (256u << 10)  /* sequential read-ahead */
#define SCAN_FILL 4096             /* a scan reads one page around each header, not payloads */
#define SMALL_READ 4096            /* reads up to this size go through the window */

static const unsigned char magic_bytes[4] = {0x0a, 0x23, 0xd7, 0xce};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static long long align4(long long n) { return (n + 3) & ~3LL; }

/* ---- framing (formats.md 1.2-1.4) ------------------------------------------------------ */

typedef int (*emit_fn)(void *ctx, const void *p, size_t n);

/* Emits the parts of one record through emit: each aligned magic in the payload ends a part
 * (flag 1, then 2) and is dropped; the last part has flag 0 (no split) or 3, then padding. */
static int frame_record(const unsigned char *buf, size_t len, emit_fn emit, void *ctx)
{
	static const unsigned char zero[4];
	size_t lower = len & ~(size_t)3, start = 0;
	unsigned char head[8];
	memcpy(head, magic_bytes, 4);
	for (size_t i = 0; i < lower; i += 4) {
		if (memcmp(buf + i, magic_bytes, 4) != 0)
			continue;
		put32(head + 4, (start == 0 ? 1u : 2u) << 29 | (uint32_t)(i - start));
		if (emit(ctx, head, 8) || (i > start && emit(ctx, buf + start, i - start)))
			return -1;
		start = i + 4;
	}
	put32(head + 4, (start == 0 ? 0u : 3u) << 29 | (uint32_t)(len - start));
	if (emit(ctx, head, 8) || (len > start && emit(ctx, buf + start, len - start)))
		return -1;
	if (len & 3)
		return emit(ctx, zero, 4 - (len & 3));
	return 0;
}

size_t recordio_encoded_size(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t splits = 0, lower = len & ~(size_t)3;
	for (size_t i = 0; i < lower; i += 4)
		splits += memcmp(p + i, magic_bytes, 4) == 0;
	/* each split trades the 4 magic bytes for an 8-byte header */
	return 8 + 4 * splits + (size_t)align4((long long)len);
}

static int emit_memory(void *ctx, const void *p, size_t n)
{
	unsigned char **out = ctx;
	memcpy(*out, p, n);
	*out += n;
	return 0;
}

size_t recordio_encode(const void *buf, size_t len, unsigned char *out)
{
	unsigned char *at = out;
	frame_record(buf, len, emit_memory, &at);
	return (size_t)(at - out);
}

/* ---- writer ---------------------------------------------------------------------------- */

struct recordio_writer {
	struct file_writer file;   /* "<path>.tmp", renamed to path by close */
	long long pos;  /* bytes written so far: the next record's offset */
	int failed;     /* a write failed: close must not rename */
};

int recordio_writer_open(const char *path, struct recordio_writer **out)
{
	struct recordio_writer *w = calloc(1, sizeof *w);
	int rc;
	*out = NULL;
	if (!w)
		return mx_error(MX_ERR_NOMEM, "recordio_writer_open: %s: out of memory", path);
	if ((rc = file_writer_open(&w->file, path, "wb"))) {
		free(w);
		return rc;
	}
	setvbuf(w->file.f, NULL, _IOFBF, 1 << 18);
	*out = w;
	return MX_OK;
}

static int emit_file(void *ctx, const void *p, size_t n)
{
	struct recordio_writer *w = ctx;
	if (fwrite(p, 1, n, w->file.f) != n)
		return -1;
	w->pos += (long long)n;
	return 0;
}

int recordio_write(struct recordio_writer *w, const void *buf, size_t len)
{
	if (w->failed)
		return mx_error(MX_ERR_IO, "%s: an earlier write failed", w->file.tmp);
	if (len > RECORDIO_MAX_PART)
		return mx_error(MX_ERR_INVALID, "%s: record of %zu bytes is too long for RecordIO "
				"(at most %u bytes)", w->file.path, len, RECORDIO_MAX_PART);
	long long at = w->pos;
	errno = 0;
	if (frame_record(buf, len, emit_file, w)) {
		w->failed = 1;
		return mx_error(MX_ERR_IO, "%s: byte %lld: write failed: %s", w->file.tmp, at,
				strerror(errno ? errno : EIO));
	}
	return MX_OK;
}

long long recordio_writer_tell(const struct recordio_writer *w) { return w->pos; }

int recordio_writer_close(struct recordio_writer *w)
{
	int rc;
	if (!w)
		return MX_OK;
	if (w->failed) {
		rc = mx_error(MX_ERR_IO, "%s: not written: an earlier write failed", w->file.path);
		file_writer_abort(&w->file);
	} else {
		rc = file_writer_commit(&w->file);
	}
	free(w);
	return rc;
}

void recordio_writer_abort(struct recordio_writer *w)
{
	if (!w)
		return;
	file_writer_abort(&w->file);
	free(w);
}

/* ---- byte source: a file read with pread, optionally through a read-ahead window ------ */

struct window {
	unsigned char *data;
	size_t cap, len;
	long long off;  /* file offset of data[0] */
};

struct source {
	const char *path;
	int fd;
	long long size;     /* usable bytes (a multiple of 4) */
	struct window *win; /* NULL: plain pread, safe to share between threads */
	size_t fill;        /* bytes to read when the window is refilled */
};

static int pread_full(const struct source *s, long long off, unsigned char *dst, size_t n)
{
	while (n > 0) {
		ssize_t got = pread(s->fd, dst, n, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return mx_error(MX_ERR_IO, "%s: byte %lld: read failed: %s", s->path, off,
					strerror(errno));
		if (got == 0)
			return mx_error(MX_ERR_IO, "%s: byte %lld: the file shrank while being read",
					s->path, off);
		dst += got;
		off += got;
		n -= (size_t)got;
	}
	return MX_OK;
}

/* Copies [off, off+n) into dst; the caller has checked off + n <= s->size. */
static int src_read(const struct source *s, long long off, unsigned char *dst, size_t n)
{
	struct window *w = s->win;
	if (!w || n > SMALL_READ || n > w->cap)
		return pread_full(s, off, dst, n);
	if (off < w->off || off + (long long)n > w->off + (long long)w->len) {
		size_t want = s->fill > n ? s->fill : n;
		if (want > w->cap)
			want = w->cap;
		if ((long long)want > s->size - off)
			want = (size_t)(s->size - off);
		w->len = 0;
		if (pread_full(s, off, w->data, want))
			return MX_ERR_IO;
		w->off = off;
		w->len = want;
	}
	memcpy(dst, w->data + (off - w->off), n);
	return MX_OK;
}

/* dmlc's SeekRecordBegin: the first head (magic followed by a flag 0 or 1 length word) at or
 * after pos, scanning aligned words; a magic with another flag skips its length word too.
 * Returns limit when none starts before it. */
static int seek_head(const struct source *s, long long pos, long long limit, long long *head)
{
	unsigned char word[4];
	while (pos + 4 <= limit) {
		if (src_read(s, pos, word, 4))
			return MX_ERR_IO;
		pos += 4;
		if (le32(word) != RECORDIO_MAGIC)
			continue;
		if (pos + 4 > s->size)
			break;
		if (src_read(s, pos, word, 4))
			return MX_ERR_IO;
		pos += 4;
		if ((le32(word) >> 29) <= 1) {
			*head = pos - 8;
			return MX_OK;
		}
	}
	*head = limit;
	return MX_OK;
}

/* A fault in the file's bytes: where, and what, without the file name. */
struct fault {
	long long at;
	char what[200];
};

static int set_fault(struct fault *f, long long at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_fault(struct fault *f, long long at, const char *fmt, ...)
{
	va_list ap;
	f->at = at;
	va_start(ap, fmt);
	vsnprintf(f->what, sizeof f->what, fmt, ap);
	va_end(ap);
	return MX_ERR_FORMAT;
}

/* Grows *buf to hold need bytes, doubling but never past limit (the file size, which bounds
 * every record); need <= limit. */
static int grow(unsigned char **buf, size_t *cap, size_t need, size_t limit)
{
	if (need <= *cap && *buf)
		return MX_OK;
	size_t n = *cap * 2 < limit ? *cap * 2 : limit;
	if (n < need)
		n = need;
	if (n == 0)
		n = 1;
	unsigned char *p = realloc(*buf, n);
	if (!p)
		return mx_error(MX_ERR_NOMEM, "out of memory for a record of %zu bytes", need);
	*buf = p;
	*cap = n;
	return MX_OK;
}

/* Walks the logical record whose first part header is at start. With out != NULL the payload
 * is gathered into *out (grown, never beyond the file size), the magic put back between
 * parts. Returns MX_OK with *len and *next (the offset after its last part); MX_ERR_FORMAT
 * with f filled when the bytes are not a valid record; MX_ERR_IO or MX_ERR_NOMEM otherwise. */
static int walk_record(const struct source *s, long long start, unsigned char **out, size_t *cap,
		       size_t *len, long long *next, struct fault *f)
{
	long long at = start;
	size_t total = 0;
	int first = 1;
	for (;;) {
		unsigned char h[8];
		if (at + 8 > s->size) {
			if (!first && at == s->size)
				return set_fault(f, at, "the file ends inside the record that starts at "
						 "byte %lld (its last part is missing)", start);
			return set_fault(f, at, "truncated part header: the file ends at byte %lld",
					 s->size);
		}
		if (src_read(s, at, h, 8))
			return MX_ERR_IO;
		uint32_t magic = le32(h), cflag = le32(h + 4) >> 29, plen = le32(h + 4) & RECORDIO_MAX_PART;
		if (magic != RECORDIO_MAGIC)
			return first ? set_fault(f, at, "bad magic 0x%08x (expected 0x%08x)", magic,
						 RECORDIO_MAGIC)
				     : set_fault(f, at, "bad magic 0x%08x in a part of the record that "
						 "starts at byte %lld", magic, start);
		if (cflag > 3)
			return set_fault(f, at, "bad continuation flag %u (0-3 are valid)", cflag);
		if (first && cflag >= 2)
			return set_fault(f, at, "part with continuation flag %u (%s part) has no first "
					 "part before it", cflag, cflag == 2 ? "middle" : "last");
		if (!first && cflag <= 1)
			return set_fault(f, at, "part with continuation flag %u inside the record that "
					 "starts at byte %lld (expected 2 or 3)", cflag, start);
		if (at + 8 + align4(plen) > s->size)
			return set_fault(f, at, "part length %u runs past the end of the file "
					 "(%lld bytes)", plen, s->size);
		int more = cflag == 1 || cflag == 2;
		if (out) {
			int rc = grow(out, cap, total + plen + (more ? 4 : 0), (size_t)s->size);
			if (rc || (plen && src_read(s, at + 8, *out + total, plen)))
				return rc ? rc : MX_ERR_IO;
			if (more)
				memcpy(*out + total + plen, magic_bytes, 4);
		}
		total += plen + (more ? 4 : 0);
		at += 8 + align4(plen);
		first = 0;
		if (!more)
			break;
	}
	*len = total;
	*next = at;
	return MX_OK;
}

/* ---- reader ---------------------------------------------------------------------------- */

struct recordio_reader {
	char *path;
	int fd, strict;
	long long size;         /* usable bytes: the file size, rounded down to 4 when not strict */
	long long begin, end;   /* this part's range, boundaries moved to record heads */
	long long pos;          /* the next record head to read */
	long skipped;
	struct window win;
	unsigned char *rec;     /* the record recordio_read hands out */
	size_t rec_cap;
};

static struct source reader_source(struct recordio_reader *r, size_t fill)
{
	struct source s = {r->path, r->fd, r->size, &r->win, fill};
	return s;
}

void recordio_part_range(long long total, int part_index, int num_parts, long long *begin,
			 long long *end)
{
	if (num_parts < 1 || part_index < 0 || part_index >= num_parts || total <= 0) {
		*begin = *end = 0;
		return;
	}
	long long nstep = (total + num_parts - 1) / num_parts;
	nstep = align4(nstep);
	long long b = nstep * part_index, e = nstep * (part_index + 1);
	*begin = b < total ? b : total;
	*end = e < total ? e : total;
}

void recordio_reader_close(struct recordio_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->win.data);
	free(r->rec);
	free(r->path);
	free(r);
}

int recordio_reader_open_part(const char *path, int part_index, int num_parts, int strict,
			      struct recordio_reader **out)
{
	struct recordio_reader *r;
	struct stat st;
	int rc;
	*out = NULL;
	if (num_parts < 1 || part_index < 0 || part_index >= num_parts)
		return mx_error(MX_ERR_INVALID, "%s: part_index %d is not in [0, num_parts = %d)", path,
				part_index, num_parts);
	r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(path))) {
		free(r);
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", path);
	}
	r->strict = strict;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = mx_error(MX_ERR_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(r->fd, &st)) {
		rc = mx_error(MX_ERR_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = mx_error(MX_ERR_IO, "%s: not a regular file", path);
		goto fail;
	}
	r->size = (long long)st.st_size;
	if (r->size % 4) {
		long long usable = r->size & ~3LL;
		if (strict) {
			rc = mx_error(MX_ERR_FORMAT, "%s: byte %lld: file size %lld is not a multiple "
				      "of 4 (truncated, or not a RecordIO file)", path, usable, r->size);
			goto fail;
		}
		/* one warning for the file, from the part that covers its end */
		if (part_index == num_parts - 1)
			mx_warn("%s: byte %lld: file size %lld is not a multiple of 4; ignoring the "
				"last %lld bytes", path, usable, r->size, r->size - usable);
		r->size = usable;
	}
	r->win.cap = r->size < WINDOW_BYTES ? (size_t)r->size : WINDOW_BYTES;
	if (r->win.cap && !(r->win.data = malloc(r->win.cap))) {
		rc = mx_error(MX_ERR_NOMEM, "%s: out of memory", path);
		goto fail;
	}
	recordio_part_range(r->size, part_index, num_parts, &r->begin, &r->end);
	if (r->begin < r->end) {
		struct source s = reader_source(r, WINDOW_BYTES);
		/* dmlc moves a boundary only when it is not at the start or end of the file */
		if (r->end != r->size && (rc = seek_head(&s, r->end, r->size, &r->end)))
			goto fail;
		if (r->begin != 0 && (rc = seek_head(&s, r->begin, r->size, &r->begin)))
			goto fail;
		if (r->begin > r->end)  /* only in corrupt files */
			r->begin = r->end;
	}
	r->pos = r->begin;
	*out = r;
	return MX_OK;
fail:
	recordio_reader_close(r);
	return rc;
}

/* A fault in the record at start: the error (strict), or one warning, a skipped count and
 * *resume set to the next record head. */
static int reader_fault(struct recordio_reader *r, long long start, const struct fault *f,
			long long *resume)
{
	if (r->strict)
		return mx_error(MX_ERR_FORMAT, "%s: byte %lld: %s", r->path, f->at, f->what);
	struct source s = reader_source(r, WINDOW_BYTES);
	if (seek_head(&s, start + 4, r->end, resume))
		return MX_ERR_IO;
	r->skipped++;
	mx_warn("%s: byte %lld: %s; skipped the record at byte %lld, resuming at byte %lld",
		r->path, f->at, f->what, start, *resume);
	return MX_OK;
}

int recordio_read(struct recordio_reader *r, const unsigned char **data, size_t *len,
		  long long *offset)
{
	struct source s = reader_source(r, WINDOW_BYTES);
	struct fault f;
	long long next;
	int rc;
	while (r->pos < r->end) {
		rc = walk_record(&s, r->pos, &r->rec, &r->rec_cap, len, &next, &f);
		if (rc == MX_OK) {
			*data = r->rec ? r->rec : (const unsigned char *)"";
			if (offset)
				*offset = r->pos;
			r->pos = next;
			return MX_OK;
		}
		if (rc != MX_ERR_FORMAT || (rc = reader_fault(r, r->pos, &f, &next)))
			return rc;
		r->pos = next;
	}
	return MX_END;
}

int recordio_reader_scan(struct recordio_reader *r, long long **offsets, long *n)
{
	struct source s = reader_source(r, SCAN_FILL);
	long long pos = r->begin, next, *list = NULL;
	long count = 0, cap = 0;
	size_t len;
	struct fault f;
	int rc = MX_OK;
	while (pos < r->end) {
		rc = walk_record(&s, pos, NULL, NULL, &len, &next, &f);
		if (rc == MX_ERR_FORMAT) {
			if ((rc = reader_fault(r, pos, &f, &next)))
				break;
			pos = next;
			continue;
		}
		if (rc)
			break;
		if (count == cap) {
			/* a record takes at least 8 bytes, which bounds the list */
			long most = (long)((r->end - r->begin) / 8 + 1);
			long ncap = cap ? cap * 2 : 64;
			ncap = ncap < most ? ncap : most;
			long long *p = realloc(list, (size_t)ncap * sizeof *p);
			if (!p) {
				rc = mx_error(MX_ERR_NOMEM, "%s: out of memory", r->path);
				break;
			}
			list = p;
			cap = ncap;
		}
		list[count++] = pos;
		pos = next;
	}
	r->pos = r->begin;
	if (rc) {
		free(list);
		*offsets = NULL;
		*n = 0;
		return rc;
	}
	*offsets = list;
	*n = count;
	return MX_OK;
}

int recordio_reader_seek(struct recordio_reader *r, long long offset)
{
	if (offset < r->begin || offset > r->end)
		return mx_error(MX_ERR_INVALID, "%s: byte %lld: seek outside this reader's range "
				"[%lld, %lld)", r->path, offset, r->begin, r->end);
	if (offset % 4)
		return mx_error(MX_ERR_INVALID, "%s: byte %lld: seek to an offset that is not a "
				"multiple of 4 (not a record head)", r->path, offset);
	r->pos = offset;
	return MX_OK;
}

int recordio_reader_rewind(struct recordio_reader *r)
{
	r->pos = r->begin;
	return MX_OK;
}

int recordio_reader_read_at(const struct recordio_reader *r, long long offset, unsigned char **buf,
			    size_t *cap, size_t *len)
{
	struct source s = {r->path, r->fd, r->size, NULL, 0};
	struct fault f;
	long long next;
	int rc;
	if (offset < 0 || offset >= r->size)
		return mx_error(MX_ERR_INVALID, "%s: byte %lld: offset is outside the file (%lld bytes)",
				r->path, offset, r->size);
	if (offset % 4)
		return mx_error(MX_ERR_INVALID, "%s: byte %lld: offset is not a multiple of 4 (not a "
				"record head)", r->path, offset);
	rc = walk_record(&s, offset, buf, cap, len, &next, &f);
	if (rc == MX_ERR_FORMAT)
		return mx_error(rc, "%s: byte %lld: %s", r->path, f.at, f.what);
	if (rc == MX_OK && !*buf)
		rc = grow(buf, cap, 1, 1);
	return rc;
}

long recordio_reader_skipped(const struct recordio_reader *r) { return r->skipped; }

void recordio_reader_range(const struct recordio_reader *r, long long *begin, long long *end)
{
	*begin = r->begin;
	*end = r->end;
}

const char *recordio_reader_path(const struct recordio_reader *r) { return r->path; }

/* ---- index (.idx, formats.md 2) ------------------------------------------------------------- */

void recordio_index_free(struct recordio_index *idx)
{
	if (!idx)
		return;
	free(idx->keys);
	free(idx->offsets);
	idx->keys = NULL;
	idx->offsets = NULL;
	idx->n = 0;
}

/* Parses "key<TAB>offset" (any blanks between, trailing blanks allowed); 0 on success. */
static int parse_index_line(char *line, uint64_t *key, long long *offset)
{
	char *p = line, *endp;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	unsigned long long k = strtoull(p, &endp, 10);
	if (errno || endp == p || (*endp != '\t' && *endp != ' '))
		return -1;
	p = endp;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '-' && (*p < '0' || *p > '9'))
		return -1;
	long long o = strtoll(p, &endp, 10);
	if (errno || endp == p)
		return -1;
	while (*endp == ' ' || *endp == '\t' || *endp == '\r' || *endp == '\n')
		endp++;
	if (*endp)
		return -1;
	*key = k;
	*offset = o;
	return 0;
}

int recordio_index_read(const char *path, struct recordio_index *idx)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t line_cap = 0;
	long cap = 0, lineno = 0;
	ssize_t got;
	int rc = MX_OK;
	idx->n = 0;
	idx->keys = NULL;
	idx->offsets = NULL;
	if (!f)
		return mx_error(MX_ERR_IO, "%s: %s", path, strerror(errno));
	while ((got = getline(&line, &line_cap, f)) >= 0) {
		uint64_t key;
		long long offset;
		lineno++;
		if (got > 0 && line[got - 1] == '\n')
			line[--got] = 0;
		if (got > 0 && line[got - 1] == '\r')
			line[--got] = 0;
		if (strlen(line) != (size_t)got || parse_index_line(line, &key, &offset)) {
			rc = mx_error(MX_ERR_FORMAT, "%s:%ld: expected \"key<TAB>offset\" (two integers), "
				      "got \"%.60s\"", path, lineno, line);
			break;
		}
		if (offset < 0 || offset % 4) {
			rc = mx_error(MX_ERR_FORMAT, "%s:%ld: offset %lld is %s", path, lineno, offset,
				      offset < 0 ? "negative" : "not a multiple of 4 (not a record head)");
			break;
		}
		if (idx->n == cap) {
			long ncap = cap ? cap * 2 : 256;
			uint64_t *k = realloc(idx->keys, (size_t)ncap * sizeof *k);
			if (k)
				idx->keys = k;
			long long *o = k ? realloc(idx->offsets, (size_t)ncap * sizeof *o) : NULL;
			if (!o) {
				rc = mx_error(MX_ERR_NOMEM, "%s:%ld: out of memory", path, lineno);
				break;
			}
			idx->offsets = o;
			cap = ncap;
		}
		idx->keys[idx->n] = key;
		idx->offsets[idx->n] = offset;
		idx->n++;
	}
	if (!rc && ferror(f))
		rc = mx_error(MX_ERR_IO, "%s: read failed: %s", path, strerror(errno));
	free(line);
	fclose(f);
	if (rc)
		recordio_index_free(idx);
	return rc;
}

int recordio_index_check(const struct recordio_index *idx, const char *idx_path,
			 long long rec_size)
{
	for (long i = 0; i < idx->n; i++)
		if (idx->offsets[i] >= rec_size)
			return mx_error(MX_ERR_FORMAT, "%s:%ld: offset %lld is at or past the end of the "
					".rec file (%lld bytes)", idx_path, i + 1, idx->offsets[i],
					rec_size);
	return MX_OK;
}

int recordio_index_write(const char *path, const struct recordio_index *idx)
{
	struct file_writer w;
	int rc;
	if ((rc = file_writer_open(&w, path, "w")))
		return rc;
	for (long i = 0; i < idx->n; i++)
		if (fprintf(w.f, "%llu\t%lld\n", (unsigned long long)idx->keys[i], idx->offsets[i]) < 0)
			break;
	return file_writer_commit(&w);
}

/* ---- image record header (formats.md 3) ------------------------------------------------ */

int image_record_unpack(const unsigned char *payload, size_t len, struct image_record_header *h,
			const unsigned char **labels, const unsigned char **content, size_t *content_len)
{
	if (len < IMAGE_RECORD_HEADER_SIZE)
		return mx_error(MX_ERR_FORMAT, "image record of %zu bytes is shorter than its %d-byte "
				"header", len, IMAGE_RECORD_HEADER_SIZE);
	uint32_t bits = le32(payload + 4);
	h->flag = le32(payload);
	memcpy(&h->label, &bits, 4);
	h->id = le64(payload + 8);
	h->id2 = le64(payload + 16);
	uint64_t label_bytes = 4 * (uint64_t)h->flag;
	if (label_bytes > len - IMAGE_RECORD_HEADER_SIZE)
		return mx_error(MX_ERR_FORMAT, "image record of %zu bytes is too short for its %u "
				"labels (needs %llu bytes)", len, h->flag,
				(unsigned long long)(IMAGE_RECORD_HEADER_SIZE + label_bytes));
	*labels = payload + IMAGE_RECORD_HEADER_SIZE;
	*content = payload + IMAGE_RECORD_HEADER_SIZE + label_bytes;
	*content_len = len - IMAGE_RECORD_HEADER_SIZE - (size_t)label_bytes;
	return MX_OK;
}

float image_record_label(const unsigned char *labels, uint32_t i)
{
	uint32_t bits = le32(labels + 4 * (size_t)i);
	float v;
	memcpy(&v, &bits, 4);
	return v;
}

size_t image_record_packed_size(const struct image_record_header *h, size_t content_len)
{
	return IMAGE_RECORD_HEADER_SIZE + 4 * (size_t)h->flag + content_len;
}

size_t image_record_pack(const struct image_record_header *h, const float *labels,
			 const void *content, size_t content_len, unsigned char *out)
{
	/* like MXNet's pack(): with a label array the scalar label field is written as 0 */
	float scalar = h->flag ? 0.0f : h->label;
	uint32_t bits;
	unsigned char *p = out;
	memcpy(&bits, &scalar, 4);
	put32(p, h->flag);
	put32(p + 4, bits);
	put64(p + 8, h->id);
	put64(p + 16, h->id2);
	p += IMAGE_RECORD_HEADER_SIZE;
	for (uint32_t i = 0; i < h->flag; i++, p += 4) {
		memcpy(&bits, &labels[i], 4);
		put32(p, bits);
	}
	if (content_len)
		memcpy(p, content, content_len);
	return (size_t)(p - out) + content_len;
}
