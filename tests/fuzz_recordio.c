/* fuzz_recordio.c: a bounded fuzz harness for the RecordIO reader (a plain program, run by
 * `make check`), plus two small modes that let shell tests move records between MXNet and us.
 *
 *   fuzz_recordio [SEED [ITERATIONS]]
 *       Builds random valid files with recordio_encode (payloads full of the magic at aligned
 *       and unaligned offsets, empty ones, ones longer than the read window), checks that
 *       they round-trip exactly through sequential reads, scan, read_at and every part of a
 *       random split; then mutates them (bit flips, truncation, inserted and deleted bytes,
 *       splices, corrupt length words) and reads them every way, strict and not, expecting
 *       errors but never a crash, a loop, a record longer than the file or a disagreement
 *       between read, scan and read_at. Runs for FUZZ_SECONDS (default 15) or ITERATIONS.
 *       Prints one summary line; on a failure saves the file as fuzz_recordio-failure.rec
 *       and exits 1.
 *   fuzz_recordio --dump FILE.rec [FILE.idx]
 *       Prints one line per record, "offset<TAB>length<TAB>hex" ("-" for an empty record),
 *       reading strictly; with an .idx, one line per index entry in its order, each record
 *       found by seeking to its offset: "key<TAB>offset<TAB>length<TAB>hex". Exits 1 with
 *       the error on a bad file.
 *   fuzz_recordio --write OUT.rec [OUT.idx] < SPEC
 *       Writes one record per SPEC line "key<TAB>hex" ("-" for empty) with recordio_writer,
 *       and the .idx (default: OUT.rec with .rec replaced by .idx).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/recordio.h"
#include "error.h"
#include "log.h"

static const unsigned char MAGIC[4] = {0x0a, 0x23, 0xd7, 0xce};

/* ---- --dump and --write ------------------------------------------------------------------ */

static void print_record(const unsigned char *data, size_t len)
{
	if (!len)
		putchar('-');
	for (size_t i = 0; i < len; i++)
		printf("%02x", data[i]);
	putchar('\n');
}

/* Without idx_path: every record in file order. With it: every .idx line in order, each
 * record found by seeking to its offset, printed as "key<TAB>offset<TAB>length<TAB>hex". */
static int dump(const char *path, const char *idx_path)
{
	struct recordio_reader *r;
	struct recordio_index idx = {0, NULL, NULL};
	const unsigned char *data;
	size_t len;
	long long off, begin, end;
	int rc = MX_OK;
	if (recordio_reader_open_part(path, 0, 1, 1, &r)) {
		fprintf(stderr, "fuzz_recordio: %s\n", mx_error_message());
		return 1;
	}
	recordio_reader_range(r, &begin, &end);
	if (idx_path) {
		if ((rc = recordio_index_read(idx_path, &idx)) || (rc = recordio_index_check(&idx, idx_path, end)))
			goto out;
		for (long i = 0; i < idx.n; i++) {
			if ((rc = recordio_reader_seek(r, idx.offsets[i])) ||
			    (rc = recordio_read(r, &data, &len, &off))) {
				if (rc == MX_END)
					rc = mx_error(MX_ERR_FORMAT, "%s:%ld: no record at offset %lld",
						      idx_path, i + 1, idx.offsets[i]);
				goto out;
			}
			printf("%llu\t%lld\t%zu\t", (unsigned long long)idx.keys[i], off, len);
			print_record(data, len);
		}
		rc = MX_END;
	} else {
		while ((rc = recordio_read(r, &data, &len, &off)) == MX_OK) {
			printf("%lld\t%zu\t", off, len);
			print_record(data, len);
		}
	}
out:
	recordio_index_free(&idx);
	recordio_reader_close(r);
	if (rc != MX_END) {
		fprintf(stderr, "fuzz_recordio: %s\n", mx_error_message());
		return 1;
	}
	return 0;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int write_spec(const char *rec_path, const char *idx_arg)
{
	struct recordio_writer *w;
	struct recordio_index idx = {0, NULL, NULL};
	char *line = NULL, *idx_path;
	size_t line_cap = 0, n = strlen(rec_path);
	long cap = 0, lineno = 0;
	ssize_t got;
	int rc = 1;
	if (idx_arg) {
		idx_path = strdup(idx_arg);
	} else {
		idx_path = malloc(n + 5);
		strcpy(idx_path, rec_path);
		if (n > 4 && strcmp(rec_path + n - 4, ".rec") == 0)
			strcpy(idx_path + n - 4, ".idx");
		else
			strcat(idx_path, ".idx");
	}
	if (recordio_writer_open(rec_path, &w)) {
		fprintf(stderr, "fuzz_recordio: %s\n", mx_error_message());
		free(idx_path);
		return 1;
	}
	while ((got = getline(&line, &line_cap, stdin)) >= 0) {
		unsigned long long key;
		int used = 0;
		lineno++;
		if (sscanf(line, "%llu %n", &key, &used) != 1 || used == 0) {
			fprintf(stderr, "fuzz_recordio: stdin:%ld: expected \"key<TAB>hex\"\n", lineno);
			goto out;
		}
		char *hex = line + used;
		size_t len = 0;
		unsigned char *buf = (unsigned char *)hex;  /* decoded in place */
		if (hex[0] != '-') {
			for (; hex_value(hex[2 * len]) >= 0 && hex_value(hex[2 * len + 1]) >= 0; len++)
				buf[len] = (unsigned char)(hex_value(hex[2 * len]) << 4 | hex_value(hex[2 * len + 1]));
		}
		if (idx.n == cap) {
			cap = cap ? cap * 2 : 64;
			idx.keys = realloc(idx.keys, cap * sizeof *idx.keys);
			idx.offsets = realloc(idx.offsets, cap * sizeof *idx.offsets);
		}
		idx.keys[idx.n] = key;
		idx.offsets[idx.n++] = recordio_writer_tell(w);
		if (recordio_write(w, buf, len)) {
			fprintf(stderr, "fuzz_recordio: %s\n", mx_error_message());
			goto out;
		}
	}
	if (recordio_writer_close(w) || recordio_index_write(idx_path, &idx)) {
		w = NULL;
		fprintf(stderr, "fuzz_recordio: %s\n", mx_error_message());
		goto out;
	}
	w = NULL;
	rc = 0;
out:
	if (w)
		recordio_writer_abort(w);
	recordio_index_free(&idx);
	free(line);
	free(idx_path);
	return rc;
}

/* ---- fuzzing ------------------------------------------------------------------------------- */

static uint64_t rng;
static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static uint64_t rnd(void) { return splitmix(&rng); }
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

struct stats {
	long iterations, files, records, errors;
};
static struct stats st;
static char file_path[512];
static unsigned char *file_now;  /* the bytes of the file under test, saved on a failure */
static size_t file_now_size;
static uint64_t seed0;
static long iter_index;

#define CHECK(cond, ...) do { if (!(cond)) fail_now(__LINE__, #cond, __VA_ARGS__); } while (0)

static void fail_now(int line, const char *cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_now(int line, const char *cond, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen("fuzz_recordio-failure.rec", "wb");
	if (f) {
		fwrite(file_now, 1, file_now_size, f);
		fclose(f);
	}
	fprintf(stderr, "fuzz_recordio: FAILED at line %d (%s) in iteration %ld of seed %llu "
		"(rerun: fuzz_recordio %llu %ld): ", line, cond, iter_index, (unsigned long long)seed0,
		(unsigned long long)seed0, iter_index + 1);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  last error: %s\n  file saved as fuzz_recordio-failure.rec (%zu bytes)\n",
		mx_error_message(), file_now_size);
	exit(1);
}

struct rec {
	unsigned char *data;
	size_t len;
	long long offset;
};

static size_t random_length(void)
{
	unsigned k = (unsigned)below(100);
	if (k < 45)
		return below(17);
	if (k < 80)
		return below(301);
	if (k < 97)
		return below(5000);
	if (k < 99)
		return below(70000);
	return 256 * 1024 - 16 + below(40000);  /* around the read window's size */
}

static void fill_payload(unsigned char *p, size_t len)
{
	unsigned style = (unsigned)below(6);
	for (size_t i = 0; i < len; i++)
		p[i] = style == 4 ? 0 : (unsigned char)rnd();
	if (style == 2 || style == 3) {  /* magics at random offsets, half of them aligned */
		size_t k = 1 + below(len / 8 + 2);
		for (size_t j = 0; j < k && len >= 4; j++) {
			size_t at = below(len - 3);
			if (style == 2 || j % 2)
				at &= ~(size_t)3;
			memcpy(p + at, MAGIC, 4);
		}
	} else if (style == 5) {  /* all magic, with a random tail */
		for (size_t i = 0; i + 4 <= len; i += 4)
			memcpy(p + i, MAGIC, 4);
	}
}

/* Builds a random valid file: returns its bytes (malloc'ed) and fills recs. */
static unsigned char *build_file(struct rec *recs, int n, size_t *size)
{
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		recs[i].len = random_length();
		recs[i].data = malloc(recs[i].len + 1);
		fill_payload(recs[i].data, recs[i].len);
		total += recordio_encoded_size(recs[i].data, recs[i].len);
	}
	unsigned char *file = malloc(total + 64), *at = file;
	for (int i = 0; i < n; i++) {
		recs[i].offset = at - file;
		at += recordio_encode(recs[i].data, recs[i].len, at);
	}
	CHECK((size_t)(at - file) == total, "encoded %zu bytes, recordio_encoded_size said %zu",
	      (size_t)(at - file), total);
	*size = total;
	return file;
}

static void put_file(const unsigned char *bytes, size_t size)
{
	FILE *f = fopen(file_path, "wb");
	CHECK(f != NULL, "cannot write %s: %s", file_path, strerror(errno));
	CHECK(fwrite(bytes, 1, size, f) == size, "short write");
	CHECK(fclose(f) == 0, "close");
	file_now = (unsigned char *)bytes;
	file_now_size = size;
	st.files++;
}

/* What one full pass of a reader saw. */
struct pass {
	long n;
	long long *offset;
	size_t *len;
	uint64_t *hash;
	int rc;            /* MX_END, or the error that stopped it */
	char error[256];
	long skipped;
};

static void pass_free(struct pass *p)
{
	free(p->offset);
	free(p->len);
	free(p->hash);
	memset(p, 0, sizeof *p);
}

/* Reads r to its end (or first error), checking every record's basic promises. */
static void read_all(struct recordio_reader *r, long long size, struct pass *p)
{
	const unsigned char *data;
	size_t len;
	long long off, b, e, last = -1;
	long steps = 0, cap = 0;
	memset(p, 0, sizeof *p);
	recordio_reader_range(r, &b, &e);
	CHECK(0 <= b && b <= e && e <= size, "range [%lld, %lld) of a %lld-byte file", b, e, size);
	while ((p->rc = recordio_read(r, &data, &len, &off)) == MX_OK) {
		CHECK(++steps <= size / 4 + 2, "reading did not terminate (%ld records)", steps);
		CHECK(len <= (size_t)size, "record of %zu bytes in a %lld-byte file", len, size);
		CHECK(off >= b && off < e && off % 4 == 0 && off > last,
		      "record offset %lld in [%lld, %lld), previous %lld", off, b, e, last);
		if (p->n == cap) {
			cap = cap ? cap * 2 : 32;
			p->offset = realloc(p->offset, cap * sizeof *p->offset);
			p->len = realloc(p->len, cap * sizeof *p->len);
			p->hash = realloc(p->hash, cap * sizeof *p->hash);
		}
		p->offset[p->n] = off;
		p->len[p->n] = len;
		p->hash[p->n++] = fnv(data, len);
		last = off;
		st.records++;
	}
	if (p->rc != MX_END) {
		CHECK(p->rc == MX_ERR_FORMAT, "read failed with %d, not a format error", p->rc);
		CHECK(strstr(mx_error_message(), file_path) && strstr(mx_error_message(), ": byte "),
		      "error does not name the file and byte: %s", mx_error_message());
		snprintf(p->error, sizeof p->error, "%s", mx_error_message());
		st.errors++;
	}
	p->skipped = recordio_reader_skipped(r);
	st.errors += p->skipped;
}

/* Scan must agree with the sequential pass p (same records, same skips, same error). */
static void check_scan(struct recordio_reader *r, const struct pass *p)
{
	long long *offs;
	long n, skipped_before = recordio_reader_skipped(r);
	int rc = recordio_reader_scan(r, &offs, &n);
	if (p->rc != MX_END) {
		CHECK(rc == MX_ERR_FORMAT, "read failed (%s) but scan gave %d", p->error, rc);
		CHECK(strcmp(mx_error_message(), p->error) == 0, "scan error \"%s\", read error \"%s\"",
		      mx_error_message(), p->error);
		CHECK(offs == NULL, "failed scan returned a list");
		return;
	}
	CHECK(rc == MX_OK, "read succeeded but scan failed: %s", mx_error_message());
	CHECK(n == p->n, "scan found %ld records, read %ld", n, p->n);
	for (long i = 0; i < n; i++)
		CHECK(offs[i] == p->offset[i], "scan record %ld at %lld, read at %lld", i, offs[i], p->offset[i]);
	CHECK(recordio_reader_skipped(r) - skipped_before == p->skipped, "scan skipped %ld, read %ld",
	      recordio_reader_skipped(r) - skipped_before, p->skipped);
	free(offs);
}

/* read_at at every offset the pass read gives the same bytes; at random offsets it fails
 * cleanly or gives a record no longer than the file. */
static void check_read_at(struct recordio_reader *r, long long size, const struct pass *p)
{
	unsigned char *buf = NULL;
	size_t cap = 0, len;
	for (long i = 0; i < p->n; i++) {
		CHECK(recordio_reader_read_at(r, p->offset[i], &buf, &cap, &len) == MX_OK,
		      "read_at %lld failed where read succeeded", p->offset[i]);
		CHECK(len == p->len[i] && fnv(buf, len) == p->hash[i], "read_at %lld differs", p->offset[i]);
		CHECK(cap <= (size_t)size || cap <= 1, "read_at buffer of %zu bytes for a %lld-byte file",
		      cap, size);
	}
	for (int t = 0; t < 12; t++) {
		long long off = (long long)below((size_t)size + 16) - 4;
		if (t % 3)
			off &= ~3LL;
		int rc = recordio_reader_read_at(r, off, &buf, &cap, &len);
		CHECK(rc == MX_OK || rc == MX_ERR_FORMAT || rc == MX_ERR_INVALID, "read_at %lld gave %d", off, rc);
		if (rc == MX_OK)
			CHECK(len <= (size_t)size, "read_at %lld: %zu bytes", off, len);
		else
			st.errors++;
	}
	free(buf);
}

/* Every part of an N-way split, read to the end: ranges tile the file, records stay in their
 * part's range. Returns the records of all parts in order (when expect is given, checks that
 * they are exactly expect's). */
static void check_parts(long long size, int strict, const struct pass *expect)
{
	int N = 1 + (int)below(9);
	long total = 0;
	long long prev_end = 0;
	for (int k = 0; k < N; k++) {
		struct recordio_reader *r;
		struct pass p;
		long long b, e, rb, re;
		int rc = recordio_reader_open_part(file_path, k, N, strict, &r);
		if (rc) {
			CHECK(strict && size % 4, "open part %d/%d failed: %s", k, N, mx_error_message());
			return;
		}
		recordio_reader_range(r, &b, &e);
		recordio_part_range(size & ~3LL, k, N, &rb, &re);
		CHECK(b >= rb && e >= re, "part %d/%d range [%lld, %lld) before raw [%lld, %lld)", k, N, b, e, rb, re);
		if (expect)
			CHECK(b == prev_end, "part %d/%d begins at %lld, the last ended at %lld", k, N, b, prev_end);
		read_all(r, size, &p);
		if (expect) {
			CHECK(p.rc == MX_END && p.skipped == 0, "valid file, part %d/%d: %s", k, N, p.error);
			for (long i = 0; i < p.n; i++)
				CHECK(total + i < expect->n && p.offset[i] == expect->offset[total + i] &&
				      p.hash[i] == expect->hash[total + i],
				      "part %d/%d record %ld is not record %ld of the file", k, N, i, total + i);
		}
		total += p.n;
		prev_end = e;
		pass_free(&p);
		recordio_reader_close(r);
	}
	if (expect)
		CHECK(total == expect->n && prev_end == size, "%d parts read %ld of %ld records", N, total,
		      expect->n);
}

static void check_valid(const unsigned char *file, size_t size, const struct rec *recs, int n)
{
	struct recordio_reader *r;
	struct pass p;
	put_file(file, size);
	for (int strict = 0; strict <= 1; strict++) {
		CHECK(recordio_reader_open_part(file_path, 0, 1, strict, &r) == MX_OK, "open: %s",
		      mx_error_message());
		read_all(r, (long long)size, &p);
		CHECK(p.rc == MX_END && p.skipped == 0, "valid file: %s (skipped %ld)", p.error, p.skipped);
		CHECK(p.n == n, "valid file: read %ld of %d records", p.n, n);
		for (int i = 0; i < n; i++)
			CHECK(p.offset[i] == recs[i].offset && p.len[i] == recs[i].len &&
			      p.hash[i] == fnv(recs[i].data, recs[i].len), "valid file: record %d differs", i);
		check_scan(r, &p);
		check_read_at(r, (long long)size, &p);
		check_parts((long long)size, strict, &p);
		pass_free(&p);
		recordio_reader_close(r);
	}
}

/* One random change; the buffer has room for size + 64 bytes and never grows past that. */
static void mutate(unsigned char *f, size_t *size, size_t room, const struct rec *recs, int n)
{
	size_t s = *size;
	unsigned kind = (unsigned)below(8);
	size_t head = n ? (size_t)recs[below((size_t)n)].offset : 0;  /* most faults are at heads */
	switch (kind) {
	case 0:  /* bit flip, at a header half the time */
		if (s) {
			size_t at = below(2) && head + 8 <= s ? head + below(8) : below(s);
			f[at] ^= (unsigned char)(1u << below(8));
		}
		break;
	case 1:  /* truncate */
		*size = below(s + 1);
		if (below(2))
			*size &= ~(size_t)3;
		break;
	case 2: {  /* insert bytes */
		size_t k = 1 + below(8), at = below(s + 1);
		if (s + k > room)
			break;
		memmove(f + at + k, f + at, s - at);
		for (size_t i = 0; i < k; i++)
			f[at + i] = below(3) ? (unsigned char)rnd() : MAGIC[i % 4];
		*size = s + k;
		break;
	}
	case 3: {  /* delete bytes */
		size_t k = 1 + below(8), at = below(s + 1);
		if (at + k > s)
			break;
		memmove(f + at, f + at + k, s - at - k);
		*size = s - k;
		break;
	}
	case 4: {  /* splice: copy one stretch over another */
		if (s < 8)
			break;
		size_t k = 1 + below(s / 2), from = below(s - k + 1), to = below(s - k + 1);
		memmove(f + to, f + from, k);
		break;
	}
	case 5:  /* corrupt a length word: any flag, a length that may run far past the end */
		if (head + 8 <= s) {
			uint32_t lrec = (uint32_t)below(8) << 29 |
					(uint32_t)(below(2) ? below(s + 64) : rnd() & RECORDIO_MAX_PART);
			f[head + 4] = (unsigned char)lrec, f[head + 5] = (unsigned char)(lrec >> 8);
			f[head + 6] = (unsigned char)(lrec >> 16), f[head + 7] = (unsigned char)(lrec >> 24);
		}
		break;
	case 6:  /* plant a magic word at an aligned offset */
		if (s >= 4) {
			size_t at = below(s - 3) & ~(size_t)3;
			memcpy(f + at, MAGIC, 4);
		}
		break;
	default:  /* random bytes over a short stretch */
		if (s) {
			size_t at = below(s), k = 1 + below(16);
			for (size_t i = at; i < at + k && i < s; i++)
				f[i] = (unsigned char)rnd();
		}
		break;
	}
}

static void check_mutated(const unsigned char *file, size_t size)
{
	struct pass strict_pass, lenient_pass;
	struct recordio_reader *r;
	put_file(file, size);
	/* strict: fails at open only for a size that is not a multiple of 4 */
	if (recordio_reader_open_part(file_path, 0, 1, 1, &r) == MX_OK) {
		CHECK(size % 4 == 0, "strict open accepted a %zu-byte file", size);
		read_all(r, (long long)size, &strict_pass);
		check_scan(r, &strict_pass);
		check_read_at(r, (long long)size, &strict_pass);
		recordio_reader_close(r);
	} else {
		CHECK(size % 4 != 0, "strict open failed: %s", mx_error_message());
		CHECK(strstr(mx_error_message(), "is not a multiple of 4"), "%s", mx_error_message());
		strict_pass = (struct pass){.rc = MX_ERR_FORMAT};
		st.errors++;
	}
	/* lenient: always reads to the end */
	CHECK(recordio_reader_open_part(file_path, 0, 1, 0, &r) == MX_OK, "open: %s", mx_error_message());
	read_all(r, (long long)size, &lenient_pass);
	CHECK(lenient_pass.rc == MX_END, "lenient read failed: %s", lenient_pass.error);
	check_scan(r, &lenient_pass);
	check_read_at(r, (long long)size, &lenient_pass);
	recordio_reader_close(r);
	/* a file the strict reader accepts whole reads the same way leniently */
	if (strict_pass.rc == MX_END) {
		CHECK(lenient_pass.skipped == 0 && lenient_pass.n == strict_pass.n, "strict read %ld, lenient %ld (skipped %ld)",
		      strict_pass.n, lenient_pass.n, lenient_pass.skipped);
		for (long i = 0; i < lenient_pass.n; i++)
			CHECK(lenient_pass.offset[i] == strict_pass.offset[i] &&
			      lenient_pass.hash[i] == strict_pass.hash[i], "strict and lenient record %ld differ", i);
	}
	check_parts((long long)size, 0, NULL);
	check_parts((long long)size, 1, NULL);
	pass_free(&strict_pass);
	pass_free(&lenient_pass);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void one_iteration(void)
{
	struct rec recs[24];
	int n = (int)below(25);
	size_t size;
	unsigned char *file = build_file(recs, n, &size);
	check_valid(file, size, recs, n);
	for (int m = 0; m < 3; m++) {
		unsigned char *bad = malloc(size + 64);
		size_t bad_size = size;
		memcpy(bad, file, size);
		for (int k = 1 + (int)below(4); k > 0; k--)
			mutate(bad, &bad_size, size + 64, recs, n);
		check_mutated(bad, bad_size);
		free(bad);
	}
	file_now = NULL;
	file_now_size = 0;
	for (int i = 0; i < n; i++)
		free(recs[i].data);
	free(file);
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "--dump") == 0)
		return dump(argv[2], argc == 4 ? argv[3] : NULL);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "--write") == 0)
		return write_spec(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: fuzz_recordio [SEED [ITERATIONS]] | --dump FILE.rec [FILE.idx] | "
			"--write OUT.rec [OUT.idx] < SPEC\n");
		return 2;
	}
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
	seed0 = seed;
	long max_iter = argc > 2 ? atol(argv[2]) : -1;
	const char *env = getenv("FUZZ_SECONDS");
	double seconds = env && *env ? atof(env) : 15.0, start = now();
	char dir[] = "/tmp/fuzz_recordio.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("fuzz_recordio: mkdtemp");
		return 1;
	}
	snprintf(file_path, sizeof file_path, "%s/f.rec", dir);
	mx_log_set_level(MX_LOG_ERROR);  /* lenient reads warn on every fault */
	for (long i = 0; max_iter < 0 ? now() - start < seconds : i < max_iter; i++) {
		uint64_t s = seed + (uint64_t)i;
		iter_index = i;
		rng = splitmix(&s);
		one_iteration();
		st.iterations++;
	}
	unlink(file_path);
	rmdir(dir);
	printf("fuzz_recordio: seed %llu: %ld iterations, %ld files, %ld records read, %ld errors seen, "
	       "0 failures (%.1f s)\n", (unsigned long long)seed, st.iterations, st.files, st.records,
	       st.errors, now() - start);
	return 0;
}
