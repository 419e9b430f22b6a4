/* check_recordio.c: RecordIO (.rec), its index (.idx) and the IRHeader payload: byte layouts
 * of formats.md 1-3, round trips, dmlc's sharding, thread-safe random reads, files written
 * by the real MXNet 1.9.1 (tests/fixtures/recordio, made by
 * tests/peer/make_recordio_fixtures.py), and every kind of corrupt file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/recordio.h"
#include "log.h"
#include "testutil.h"

#define RECDIR FIXTURES "/recordio"

static const unsigned char MAGIC[4] = {0x0a, 0x23, 0xd7, 0xce};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* A test record set: payloads of varied sizes, some holding the magic at aligned and
 * unaligned offsets. */
struct recset {
	int n;
	unsigned char **data;
	size_t *len;
	long long *offset;  /* where the writer put each */
};

static unsigned char *random_payload(size_t len, int magics)
{
	unsigned char *p = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)rnd();
	for (int m = 0; m < magics && len >= 4; m++) {
		size_t at = rnd() % (len - 3);
		if (m % 2 == 0)
			at &= ~(size_t)3;  /* half aligned, half wherever */
		memcpy(p + at, MAGIC, 4);
	}
	return p;
}

static struct recset make_recset(int n, size_t max_len)
{
	struct recset s = {n, calloc(n, sizeof(void *)), calloc(n, sizeof(size_t)),
			   calloc(n, sizeof(long long))};
	for (int i = 0; i < n; i++) {
		size_t len = i % 7 == 0 ? (size_t)(i % 5) : rnd() % (max_len + 1);
		if (i % 11 == 3)
			len = 4;  /* maybe exactly the magic */
		s.len[i] = len;
		s.data[i] = random_payload(len, i % 3 == 0 ? 1 + (int)(rnd() % 4) : 0);
	}
	return s;
}

/* Makes data (len bytes, malloc'd; the set owns it) record i's payload. */
static void set_payload(struct recset *s, int i, unsigned char *data, size_t len)
{
	free(s->data[i]);
	s->data[i] = data;
	s->len[i] = len;
}

static void free_recset(struct recset *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->data[i]);
	free(s->data);
	free(s->len);
	free(s->offset);
}

static void write_recset(const char *path, struct recset *s)
{
	struct recordio_writer *w;
	ck_ok(recordio_writer_open(path, &w));
	for (int i = 0; i < s->n; i++) {
		s->offset[i] = recordio_writer_tell(w);
		ck_ok(recordio_write(w, s->data[i], s->len[i]));
	}
	ck_ok(recordio_writer_close(w));
}

/* Reads every record of a reader; asserts record j equals s's record first+j. Returns the
 * count read. */
static int read_expect(struct recordio_reader *r, const struct recset *s, int first)
{
	const unsigned char *data;
	size_t len;
	long long off;
	int rc, j = 0;
	while ((rc = recordio_read(r, &data, &len, &off)) == MX_OK) {
		int i = first + j++;
		ck_assert_int_lt(i, s->n);
		ck_assert_msg(len == s->len[i], "record %d: length %zu, want %zu", i, len, s->len[i]);
		ck_assert_msg(memcmp(data, s->data[i], len) == 0, "record %d: payload differs", i);
		ck_assert_int_eq(off, s->offset[i]);
	}
	ck_assert_msg(rc == MX_END, "read: %s", mx_error_message());
	return j;
}

/* Sends stderr to a file while a test reads with warnings; returns the saved descriptor. */
static int capture_stderr(const char *path)
{
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	return saved;
}

static char *end_capture(int saved, const char *path)
{
	size_t n;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return (char *)slurp(path, &n);
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* ---- framing -------------------------------------------------------------------------- */

static void check_encoding(const void *payload, size_t len, const unsigned char *want, size_t want_len)
{
	unsigned char out[64];
	ck_assert_uint_eq(recordio_encoded_size(payload, len), want_len);
	ck_assert_uint_eq(recordio_encode(payload, len, out), want_len);
	ck_assert_msg(memcmp(out, want, want_len) == 0, "encoded bytes differ");
}

START_TEST(test_encoding_matches_the_worked_examples_of_formats_md_byte_for_byte)
{
	static const unsigned char abc[] = {0x0a, 0x23, 0xd7, 0xce, 0x03, 0, 0, 0, 'a', 'b', 'c', 0};
	static const unsigned char empty[] = {0x0a, 0x23, 0xd7, 0xce, 0, 0, 0, 0};
	static const unsigned char split_in[] = {'A', 'B', 'C', 'D', 0x0a, 0x23, 0xd7, 0xce, 'E', 'F'};
	static const unsigned char split[] = {0x0a, 0x23, 0xd7, 0xce, 0x04, 0, 0, 0x20, 'A', 'B', 'C', 'D',
		0x0a, 0x23, 0xd7, 0xce, 0x02, 0, 0, 0x60, 'E', 'F', 0, 0};
	static const unsigned char only_magic[] = {0x0a, 0x23, 0xd7, 0xce, 0, 0, 0, 0x20,
		0x0a, 0x23, 0xd7, 0xce, 0, 0, 0, 0x60};
	check_encoding("abc", 3, abc, sizeof abc);
	check_encoding("", 0, empty, sizeof empty);
	check_encoding(split_in, sizeof split_in, split, sizeof split);
	check_encoding(MAGIC, 4, only_magic, sizeof only_magic);
}
END_TEST

START_TEST(test_only_aligned_magic_splits_a_payload_and_unaligned_magic_is_kept_verbatim)
{
	/* "xyz" + magic at offset 3 (unaligned) + "w": one part of 8 bytes, no split */
	unsigned char p[8] = {'x', 'y', 'z', 0x0a, 0x23, 0xd7, 0xce, 'w'}, out[64];
	ck_assert_uint_eq(recordio_encode(p, 8, out), 16);
	ck_assert_uint_eq(out[7], 0x00);  /* flag 0 */
	ck_assert_int_eq(memcmp(out + 8, p, 8), 0);
	/* a trailing magic in the unaligned tail (len 6, magic at 2) is not split either */
	unsigned char q[6] = {'a', 'b', 0x0a, 0x23, 0xd7, 0xce};
	ck_assert_uint_eq(recordio_encode(q, 6, out), 16);
	/* magic at 0, 4 and 12 of 17 bytes: parts 1 (len 0), 2 (len 0), 2 (len 4), 3 (len 1) */
	unsigned char r[17] = {0};
	memcpy(r, MAGIC, 4);
	memcpy(r + 4, MAGIC, 4);
	memcpy(r + 12, MAGIC, 4);
	r[8] = 'k';
	r[16] = 'z';
	size_t n = recordio_encode(r, 17, out);
	ck_assert_uint_eq(n, recordio_encoded_size(r, 17));
	ck_assert_uint_eq(n, 8 + 8 + 12 + 12);
	static const uint32_t lrec[] = {1u << 29 | 0, 2u << 29 | 0, 2u << 29 | 4, 3u << 29 | 1};
	size_t at[] = {0, 8, 16, 28};
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(memcmp(out + at[i], MAGIC, 4), 0);
		uint32_t v = out[at[i] + 4] | out[at[i] + 5] << 8 | out[at[i] + 6] << 16 |
			     (uint32_t)out[at[i] + 7] << 24;
		ck_assert_uint_eq(v, lrec[i]);
	}
}
END_TEST

START_TEST(test_records_of_every_small_size_and_several_megabytes_round_trip)
{
	static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 4095, 4096, 4097, 65536,
				       (256u << 10) - 3, (256u << 10) + 8, 3u << 20, (3u << 20) + 1};
	int n = sizeof sizes / sizeof sizes[0];
	struct recset s = {n, calloc(n, sizeof(void *)), calloc(n, sizeof(size_t)),
			   calloc(n, sizeof(long long))};
	long long expect_size = 0;
	for (int i = 0; i < n; i++) {
		s.len[i] = sizes[i];
		s.data[i] = random_payload(sizes[i], i % 2 ? 5 : 0);
		expect_size += recordio_encoded_size(s.data[i], s.len[i]);
	}
	write_recset(tmp_path("a.rec"), &s);
	size_t size;
	unsigned char *file = slurp(tmp_path("a.rec"), &size);
	ck_assert_int_eq((long long)size, expect_size);
	/* the writer's bytes are recordio_encode's, back to back */
	for (int i = 0; i < n; i++) {
		unsigned char *enc = malloc(recordio_encoded_size(s.data[i], s.len[i]));
		size_t m = recordio_encode(s.data[i], s.len[i], enc);
		ck_assert_int_eq(memcmp(file + s.offset[i], enc, m), 0);
		free(enc);
	}
	struct recordio_reader *r;
	ck_ok(recordio_reader_open_part(tmp_path("a.rec"), 0, 1, 1, &r));
	ck_assert_int_eq(read_expect(r, &s, 0), n);
	ck_assert_int_eq(recordio_reader_skipped(r), 0);
	ck_ok(recordio_reader_rewind(r));
	ck_assert_int_eq(read_expect(r, &s, 0), n);
	recordio_reader_close(r);
	free(file);
	free_recset(&s);
}
END_TEST

START_TEST(test_payloads_full_of_magic_round_trip_and_every_aligned_magic_in_the_file_is_a_header)
{
	struct recset s = make_recset(60, 300);
	/* plus: exactly the magic, only magics, magic then 1-3 bytes, magic at the very end */
	unsigned char *m = malloc(4000);
	for (int i = 0; i < 1000; i++)
		memcpy(m + 4 * i, MAGIC, 4);
	set_payload(&s, 1, random_payload(4, 0), 4);
	memcpy(s.data[1], MAGIC, 4);
	set_payload(&s, 2, m, 4000);
	set_payload(&s, 3, random_payload(7, 0), 7);
	memcpy(s.data[3], MAGIC, 4);
	set_payload(&s, 4, random_payload(12, 0), 12);
	memcpy(s.data[4] + 8, MAGIC, 4);
	write_recset(tmp_path("m.rec"), &s);
	size_t size;
	unsigned char *file = slurp(tmp_path("m.rec"), &size);
	ck_assert_int_eq(size % 4, 0);
	/* walk the parts: every aligned magic word is a header, and the headers chain up */
	size_t at = 0;
	for (size_t w = 0; w < size; w += 4)
		if (memcmp(file + w, MAGIC, 4) == 0) {
			ck_assert_msg(w == at, "aligned magic at %zu is not the header at %zu", w, at);
			uint32_t lrec = file[w + 4] | file[w + 5] << 8 | file[w + 6] << 16 |
					(uint32_t)file[w + 7] << 24;
			at = w + 8 + (((lrec & RECORDIO_MAX_PART) + 3) & ~3u);
			w += 4;
		}
	ck_assert_uint_eq(at, size);
	ck_assert_uint_eq(recordio_encoded_size(m, 4000), 8 + 4 * 1000 + 4000);
	struct recordio_reader *r;
	ck_ok(recordio_reader_open_part(tmp_path("m.rec"), 0, 1, 1, &r));
	ck_assert_int_eq(read_expect(r, &s, 0), 60);
	recordio_reader_close(r);
	free(file);
	free_recset(&s);
}
END_TEST

/* ---- writer ----------------------------------------------------------------------------- */

START_TEST(test_the_writer_writes_to_a_tmp_name_and_renames_only_at_close)
{
	struct recordio_writer *w;
	char *path = tmp_path("w.rec"), tmp[600];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	ck_ok(recordio_writer_open(path, &w));
	ck_assert_int_eq(recordio_writer_tell(w), 0);
	ck_assert(exists(tmp));
	ck_assert(!exists(path));
	ck_ok(recordio_write(w, "abc", 3));
	ck_assert_int_eq(recordio_writer_tell(w), 12);
	ck_ok(recordio_write(w, "ABCD\x0a\x23\xd7\xce" "EF", 10));
	ck_assert_int_eq(recordio_writer_tell(w), 36);
	ck_assert(!exists(path));
	ck_ok(recordio_writer_close(w));
	ck_assert(exists(path));
	ck_assert(!exists(tmp));
	size_t n;
	free(slurp(path, &n));
	ck_assert_uint_eq(n, 36);
}
END_TEST

START_TEST(test_abort_removes_the_tmp_file_and_leaves_an_earlier_file_alone)
{
	struct recordio_writer *w;
	char *path = tmp_path("w.rec"), tmp[600];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	spit(path, "old!", 4);
	ck_ok(recordio_writer_open(path, &w));
	ck_ok(recordio_write(w, "abc", 3));
	recordio_writer_abort(w);
	ck_assert(!exists(tmp));
	size_t n;
	unsigned char *old = slurp(path, &n);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(memcmp(old, "old!", 4), 0);
	free(old);
}
END_TEST

START_TEST(test_writer_errors_name_the_file_and_a_record_over_2_pow_29_is_refused)
{
	struct recordio_writer *w;
	ck_assert_int_eq(recordio_writer_open("/nonexistent-dir/x.rec", &w), MX_ERR_IO);
	ck_assert_ptr_null(w);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "/nonexistent-dir/x.rec.tmp"));
	ck_ok(recordio_writer_open(tmp_path("big.rec"), &w));
	/* refused before the buffer is read, so a small buffer is safe here */
	ck_assert_int_eq(recordio_write(w, "x", (size_t)RECORDIO_MAX_PART + 1), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "too long"));
	ck_assert_int_eq(recordio_writer_tell(w), 0);
	ck_ok(recordio_writer_close(w));
}
END_TEST

/* ---- sharding ---------------------------------------------------------------------------- */

START_TEST(test_part_range_follows_dmlcs_ceil_then_align_formula)
{
	long long b, e;
	static const long long want[3][2] = {{0, 336}, {336, 672}, {672, 1000}};
	for (int k = 0; k < 3; k++) {
		recordio_part_range(1000, k, 3, &b, &e);
		ck_assert_int_eq(b, want[k][0]);
		ck_assert_int_eq(e, want[k][1]);
	}
	/* total 40, N 7: ceil(40/7) = 6 -> 8; the last two parts are empty at 40 */
	static const long long want7[7][2] = {{0, 8}, {8, 16}, {16, 24}, {24, 32}, {32, 40},
					      {40, 40}, {40, 40}};
	for (int k = 0; k < 7; k++) {
		recordio_part_range(40, k, 7, &b, &e);
		ck_assert_int_eq(b, want7[k][0]);
		ck_assert_int_eq(e, want7[k][1]);
	}
	recordio_part_range(1000, 0, 1, &b, &e);
	ck_assert(b == 0 && e == 1000);
	recordio_part_range(0, 2, 4, &b, &e);
	ck_assert(b == 0 && e == 0);
	/* not k*total/N: 1000/6 -> ceil 167 -> 168, part 5 = [840, 1000) */
	recordio_part_range(1000, 5, 6, &b, &e);
	ck_assert(b == 840 && e == 1000);
}
END_TEST

START_TEST(test_parts_1_to_7_together_read_every_record_once_in_order)
{
	struct recset s = make_recset(400, 700);
	write_recset(tmp_path("s.rec"), &s);
	size_t size;
	free(slurp(tmp_path("s.rec"), &size));
	for (int N = 1; N <= 7; N++) {
		int next = 0;
		long long prev_end = 0;
		for (int k = 0; k < N; k++) {
			struct recordio_reader *r;
			long long b, e, rb, re;
			ck_ok(recordio_reader_open_part(tmp_path("s.rec"), k, N, 1, &r));
			recordio_reader_range(r, &b, &e);
			recordio_part_range((long long)size, k, N, &rb, &re);
			ck_assert_int_eq(b, prev_end);  /* parts tile the file */
			ck_assert(b >= rb && e >= re);
			/* each boundary is the first record head at or after the raw one */
			int heads_between = 0;
			for (int i = 0; i < s.n; i++)
				heads_between += s.offset[i] >= re && s.offset[i] < e;
			ck_assert_int_eq(heads_between, 0);
			if (e < (long long)size) {
				int is_head = 0;
				for (int i = 0; i < s.n; i++)
					is_head |= s.offset[i] == e;
				ck_assert_msg(is_head, "N=%d k=%d: end %lld is not a record head", N, k, e);
			}
			next += read_expect(r, &s, next);
			prev_end = e;
			recordio_reader_close(r);
		}
		ck_assert_int_eq(prev_end, (long long)size);
		ck_assert_msg(next == s.n, "N=%d: the parts read %d of %d records", N, next, s.n);
	}
	free_recset(&s);
}
END_TEST

START_TEST(test_a_record_longer_than_a_part_is_read_whole_by_the_part_holding_its_head)
{
	struct recset s = make_recset(3, 10);
	set_payload(&s, 1, random_payload(100000, 40), 100000);
	write_recset(tmp_path("l.rec"), &s);
	int counts[5] = {0}, total = 0;
	for (int k = 0; k < 5; k++) {
		struct recordio_reader *r;
		ck_ok(recordio_reader_open_part(tmp_path("l.rec"), k, 5, 1, &r));
		counts[k] = read_expect(r, &s, total);
		total += counts[k];
		recordio_reader_close(r);
	}
	ck_assert_int_eq(total, 3);
	ck_assert_int_eq(counts[0], 2);  /* records 0 and 1 begin in part 0 */
	ck_assert_int_eq(counts[1] + counts[2] + counts[3], 0);
	ck_assert_int_eq(counts[4], 1);
	free_recset(&s);
}
END_TEST

START_TEST(test_more_parts_than_records_leaves_some_parts_empty)
{
	struct recset s = make_recset(3, 6);
	write_recset(tmp_path("t.rec"), &s);
	int total = 0, empty = 0;
	for (int k = 0; k < 40; k++) {
		struct recordio_reader *r;
		ck_ok(recordio_reader_open_part(tmp_path("t.rec"), k, 40, 1, &r));
		int got = read_expect(r, &s, total);
		total += got;
		empty += got == 0;
		recordio_reader_close(r);
	}
	ck_assert_int_eq(total, 3);
	ck_assert_int_ge(empty, 37);
	free_recset(&s);
}
END_TEST

START_TEST(test_a_bad_part_index_and_a_missing_file_are_errors_naming_them)
{
	struct recordio_reader *r;
	ck_assert_int_eq(recordio_reader_open_part(tmp_path("none.rec"), 0, 1, 1, &r), MX_ERR_IO);
	ck_assert_ptr_null(r);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "none.rec"));
	spit(tmp_path("e.rec"), "", 0);
	ck_assert_int_eq(recordio_reader_open_part(tmp_path("e.rec"), 3, 3, 1, &r), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "part_index 3"));
	ck_assert_int_eq(recordio_reader_open_part(tmp_path("e.rec"), 0, 0, 1, &r), MX_ERR_INVALID);
	ck_assert_int_eq(recordio_reader_open_part(tmpdir, 0, 1, 1, &r), MX_ERR_IO);
	/* an empty file is an empty stream */
	const unsigned char *d;
	size_t len;
	long long *offs, b, e;
	long n;
	ck_ok(recordio_reader_open_part(tmp_path("e.rec"), 1, 2, 1, &r));
	ck_assert_int_eq(recordio_read(r, &d, &len, NULL), MX_END);
	ck_ok(recordio_reader_scan(r, &offs, &n));
	ck_assert_int_eq(n, 0);
	free(offs);
	recordio_reader_range(r, &b, &e);
	ck_assert(b == 0 && e == 0);
	ck_assert_str_eq(recordio_reader_path(r), tmp_path("e.rec"));
	recordio_reader_close(r);
}
END_TEST

/* ---- seek, scan, read_at ------------------------------------------------------------------ */

START_TEST(test_seeking_to_idx_offsets_reads_those_records)
{
	struct recset s = make_recset(120, 900);
	struct recordio_index idx = {s.n, malloc(s.n * sizeof(uint64_t)), malloc(s.n * sizeof(long long))};
	write_recset(tmp_path("x.rec"), &s);
	for (int i = 0; i < s.n; i++) {
		idx.keys[i] = 1000 + 7 * (uint64_t)(s.n - i);
		idx.offsets[i] = s.offset[i];
	}
	ck_ok(recordio_index_write(tmp_path("x.idx"), &idx));
	recordio_index_free(&idx);
	ck_ok(recordio_index_read(tmp_path("x.idx"), &idx));
	ck_assert_int_eq(idx.n, s.n);
	struct recordio_reader *r;
	ck_ok(recordio_reader_open_part(tmp_path("x.rec"), 0, 1, 1, &r));
	for (int t = 0; t < 300; t++) {
		int i = rnd() % s.n;
		const unsigned char *d;
		size_t len;
		long long off;
		ck_assert_uint_eq(idx.keys[i], 1000 + 7 * (uint64_t)(s.n - i));
		ck_ok(recordio_reader_seek(r, idx.offsets[i]));
		ck_ok(recordio_read(r, &d, &len, &off));
		ck_assert_int_eq(off, s.offset[i]);
		ck_assert_uint_eq(len, s.len[i]);
		ck_assert_int_eq(memcmp(d, s.data[i], len), 0);
		if (i + 1 < s.n) {  /* and it goes on from there */
			ck_ok(recordio_read(r, &d, &len, &off));
			ck_assert_int_eq(off, s.offset[i + 1]);
		}
	}
	long long b, e;
	recordio_reader_range(r, &b, &e);
	ck_assert_int_eq(recordio_reader_seek(r, e + 4), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "outside"));
	ck_assert_int_eq(recordio_reader_seek(r, s.offset[5] + 2), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "multiple of 4"));
	recordio_reader_close(r);
	/* a part's reader accepts only offsets inside its range */
	ck_ok(recordio_reader_open_part(tmp_path("x.rec"), 1, 2, 1, &r));
	recordio_reader_range(r, &b, &e);
	ck_assert_int_eq(recordio_reader_seek(r, 0), MX_ERR_INVALID);
	ck_ok(recordio_reader_seek(r, b));
	recordio_reader_close(r);
	recordio_index_free(&idx);
	free_recset(&s);
}
END_TEST

START_TEST(test_scan_lists_the_same_offsets_as_a_sequential_read_and_rewinds)
{
	struct recset s = make_recset(300, 2000);
	write_recset(tmp_path("c.rec"), &s);
	for (int N = 1; N <= 4; N++) {
		int first = 0;
		for (int k = 0; k < N; k++) {
			struct recordio_reader *r;
			long long *offs;
			long n;
			ck_ok(recordio_reader_open_part(tmp_path("c.rec"), k, N, 1, &r));
			ck_ok(recordio_reader_scan(r, &offs, &n));
			for (long j = 0; j < n; j++)
				ck_assert_int_eq(offs[j], s.offset[first + j]);
			/* the position is back at the start: a read gives the same records */
			ck_assert_int_eq(read_expect(r, &s, first), n);
			first += (int)n;
			free(offs);
			recordio_reader_close(r);
		}
		ck_assert_int_eq(first, s.n);
	}
	free_recset(&s);
}
END_TEST

struct reader_job {
	const struct recordio_reader *r;
	const struct recset *s;
	unsigned seed;
	int bad;
};

static void *read_at_many(void *arg)
{
	struct reader_job *job = arg;
	unsigned char *buf = NULL;
	size_t cap = 0, len;
	uint64_t x = job->seed * 0x9e3779b97f4a7c15ull + 1;
	for (int t = 0; t < 2000; t++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int i = (int)(x % (uint64_t)job->s->n);
		if (recordio_reader_read_at(job->r, job->s->offset[i], &buf, &cap, &len) ||
		    len != job->s->len[i] || memcmp(buf, job->s->data[i], len) != 0)
			job->bad++;
	}
	free(buf);
	return NULL;
}

START_TEST(test_read_at_from_four_threads_at_once_returns_the_right_records)
{
	struct recset s = make_recset(200, 5000);
	write_recset(tmp_path("p.rec"), &s);
	struct recordio_reader *r;
	ck_ok(recordio_reader_open_part(tmp_path("p.rec"), 0, 1, 1, &r));
	pthread_t th[4];
	struct reader_job jobs[4];
	for (int t = 0; t < 4; t++) {
		jobs[t] = (struct reader_job){r, &s, (unsigned)t + 1, 0};
		ck_assert_int_eq(pthread_create(&th[t], NULL, read_at_many, &jobs[t]), 0);
	}
	/* the sequential position is untouched by read_at, even while it runs */
	ck_assert_int_eq(read_expect(r, &s, 0), s.n);
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		ck_assert_int_eq(jobs[t].bad, 0);
	}
	recordio_reader_close(r);
	free_recset(&s);
}
END_TEST

START_TEST(test_read_at_a_non_head_offset_is_an_error_naming_file_and_offset)
{
	struct recset s = make_recset(4, 20);
	set_payload(&s, 1, (unsigned char *)strdup("ABCD\x0a\x23\xd7\xce" "EF"), 10);
	write_recset(tmp_path("q.rec"), &s);
	struct recordio_reader *r;
	unsigned char *buf = NULL;
	size_t cap = 0, len, size;
	free(slurp(tmp_path("q.rec"), &size));
	ck_ok(recordio_reader_open_part(tmp_path("q.rec"), 0, 1, 0, &r));
	ck_ok(recordio_reader_read_at(r, s.offset[1], &buf, &cap, &len));
	ck_assert_uint_eq(len, 10);
	ck_assert_int_eq(memcmp(buf, s.data[1], 10), 0);
	ck_assert_uint_le(cap, size);
	/* the record's second part (flag 3) is not a record head, even when not strict */
	char want[128];
	snprintf(want, sizeof want, "q.rec: byte %lld: part with continuation flag 3", s.offset[1] + 12);
	ck_assert_int_eq(recordio_reader_read_at(r, s.offset[1] + 12, &buf, &cap, &len), MX_ERR_FORMAT);
	ck_assert_msg(strstr(mx_error_message(), want), "got: %s", mx_error_message());
	/* inside a payload */
	snprintf(want, sizeof want, "byte %lld: bad magic", s.offset[1] + 8);
	ck_assert_int_eq(recordio_reader_read_at(r, s.offset[1] + 8, &buf, &cap, &len), MX_ERR_FORMAT);
	ck_assert_msg(strstr(mx_error_message(), want), "got: %s", mx_error_message());
	ck_assert_int_eq(recordio_reader_read_at(r, 2, &buf, &cap, &len), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "byte 2: offset is not a multiple of 4"));
	ck_assert_int_eq(recordio_reader_read_at(r, (long long)size, &buf, &cap, &len), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "outside the file"));
	ck_assert_int_eq(recordio_reader_read_at(r, -4, &buf, &cap, &len), MX_ERR_INVALID);
	ck_assert_int_eq(recordio_reader_skipped(r), 0);
	free(buf);
	recordio_reader_close(r);
	free_recset(&s);
}
END_TEST

/* ---- index ----------------------------------------------------------------------------- */

START_TEST(test_index_writes_formats_md_example_bytes_and_reads_back)
{
	uint64_t keys[] = {0, 1, 2};
	long long offs[] = {0, 16, 32};
	struct recordio_index idx = {3, keys, offs}, back;
	ck_ok(recordio_index_write(tmp_path("a.idx"), &idx));
	size_t n;
	unsigned char *bytes = slurp(tmp_path("a.idx"), &n);
	ck_assert_uint_eq(n, 14);
	ck_assert_int_eq(memcmp(bytes, "0\t0\n1\t16\n2\t32\n", 14), 0);
	free(bytes);
	ck_assert(!exists(tmp_path("a.idx.tmp")));
	ck_ok(recordio_index_read(tmp_path("a.idx"), &back));
	ck_assert_int_eq(back.n, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(back.keys[i], keys[i]);
		ck_assert_int_eq(back.offsets[i], offs[i]);
	}
	recordio_index_free(&back);
	/* big keys out of order, duplicates, CRLF and a last line without a newline */
	spit(tmp_path("b.idx"), "18446744073709551615\t8\r\n5\t0\n5\t1024\n7 4", 38);
	ck_ok(recordio_index_read(tmp_path("b.idx"), &back));
	ck_assert_int_eq(back.n, 4);
	ck_assert_uint_eq(back.keys[0], UINT64_MAX);
	ck_assert_int_eq(back.offsets[0], 8);
	ck_assert_uint_eq(back.keys[2], 5);
	ck_assert_int_eq(back.offsets[2], 1024);
	ck_assert_uint_eq(back.keys[3], 7);
	ck_assert_int_eq(back.offsets[3], 4);
	ck_ok(recordio_index_check(&back, "b.idx", 1028));
	ck_assert_int_eq(recordio_index_check(&back, "b.idx", 1024), MX_ERR_FORMAT);
	ck_assert_str_eq(mx_error_message(), "b.idx:3: offset 1024 is at or past the end of the "
			 ".rec file (1024 bytes)");
	recordio_index_free(&back);
	ck_assert_int_eq(back.n, 0);
	/* an empty index is an empty list */
	spit(tmp_path("e.idx"), "", 0);
	ck_ok(recordio_index_read(tmp_path("e.idx"), &back));
	ck_assert_int_eq(back.n, 0);
	recordio_index_free(&back);
}
END_TEST

START_TEST(test_every_bad_index_line_is_an_error_naming_file_and_line)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"0\t0\nabc\t4\n", "x.idx:2: expected \"key<TAB>offset\" (two integers), got \"abc\t4\""},
		{"0\t0\n1\n", "x.idx:2: expected"},
		{"0\t0\n1\t4\t5\n", "x.idx:2: expected"},
		{"0\t0\n\n1\t4\n", "x.idx:2: expected"},
		{"-1\t0\n", "x.idx:1: expected"},
		{"1\t4x\n", "x.idx:1: expected"},
		{"1\t99999999999999999999\n", "x.idx:1: expected"},
		{"0\t0\n1\t4\n2\t6\n", "x.idx:3: offset 6 is not a multiple of 4"},
		{"0\t-8\n", "x.idx:1: offset -8 is negative"},
		{"0\t0\n1\t1\x00\n", "x.idx:2: expected"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct recordio_index idx;
		size_t len = strlen(cases[i].text);
		if (i == 9)
			len = 9;
		spit(tmp_path("x.idx"), cases[i].text, len);
		ck_assert_int_eq(recordio_index_read(tmp_path("x.idx"), &idx), MX_ERR_FORMAT);
		ck_assert_msg(strstr(mx_error_message(), cases[i].want), "case %zu: got %s", i,
			      mx_error_message());
		ck_assert_int_eq(idx.n, 0);
		ck_assert_ptr_null(idx.keys);
	}
	struct recordio_index idx;
	ck_assert_int_eq(recordio_index_read(tmp_path("none.idx"), &idx), MX_ERR_IO);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "none.idx"));
}
END_TEST

/* ---- IRHeader ---------------------------------------------------------------------------- */

START_TEST(test_irheader_packs_the_formats_md_examples_byte_for_byte)
{
	static const unsigned char single[] = {0, 0, 0, 0, 0, 0, 0x40, 0x40, 7, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xd8};
	static const unsigned char multi[] = {2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0x20, 0x40, 0xff, 0xd8};
	unsigned char out[64];
	struct image_record_header h = {0, 3.0f, 7, 0};
	ck_assert_uint_eq(image_record_packed_size(&h, 2), 26);
	ck_assert_uint_eq(image_record_pack(&h, NULL, "\xff\xd8", 2, out), 26);
	ck_assert_int_eq(memcmp(out, single, 26), 0);
	float labels[2] = {1.0f, 2.5f};
	h = (struct image_record_header){2, 9.0f, 7, 0};  /* label is written as 0 with flag > 0 */
	ck_assert_uint_eq(image_record_packed_size(&h, 2), 34);
	ck_assert_uint_eq(image_record_pack(&h, labels, "\xff\xd8", 2, out), 34);
	ck_assert_int_eq(memcmp(out, multi, 34), 0);

	struct image_record_header back;
	const unsigned char *lab, *content;
	size_t clen;
	ck_ok(image_record_unpack(multi, sizeof multi, &back, &lab, &content, &clen));
	ck_assert_uint_eq(back.flag, 2);
	ck_assert(back.label == 0.0f);
	ck_assert_uint_eq(back.id, 7);
	ck_assert_uint_eq(back.id2, 0);
	ck_assert(image_record_label(lab, 0) == 1.0f && image_record_label(lab, 1) == 2.5f);
	ck_assert_uint_eq(clen, 2);
	ck_assert(content == multi + 32 && content[0] == 0xff);
	ck_ok(image_record_unpack(single, sizeof single, &back, &lab, &content, &clen));
	ck_assert(back.flag == 0 && back.label == 3.0f && back.id == 7 && clen == 2);
}
END_TEST

START_TEST(test_irheader_round_trips_many_labels_big_ids_and_empty_content)
{
	float labels[37];
	for (int i = 0; i < 37; i++)
		labels[i] = (float)i * -0.37f + 1e-7f;
	struct image_record_header h = {37, 0, UINT64_MAX - 3, 0x0123456789abcdefull}, back;
	size_t n = image_record_packed_size(&h, 0);
	unsigned char *buf = malloc(n + 1), *odd = malloc(n + 1);
	ck_assert_uint_eq(image_record_pack(&h, labels, NULL, 0, buf), 24 + 37 * 4);
	memcpy(odd + 1, buf, n);  /* unaligned: labels are read bytewise */
	const unsigned char *lab, *content;
	size_t clen;
	ck_ok(image_record_unpack(odd + 1, n, &back, &lab, &content, &clen));
	ck_assert_uint_eq(back.flag, 37);
	ck_assert_uint_eq(back.id, UINT64_MAX - 3);
	ck_assert_uint_eq(back.id2, 0x0123456789abcdefull);
	ck_assert_uint_eq(clen, 0);
	for (uint32_t i = 0; i < 37; i++)
		ck_assert(image_record_label(lab, i) == labels[i]);
	free(buf);
	free(odd);
}
END_TEST

START_TEST(test_irheader_shorter_than_its_header_or_labels_is_a_format_error)
{
	unsigned char buf[40] = {0};
	struct image_record_header h;
	const unsigned char *lab, *content;
	size_t clen;
	ck_assert_int_eq(image_record_unpack(buf, 23, &h, &lab, &content, &clen), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "23 bytes is shorter than its 24-byte header"));
	ck_ok(image_record_unpack(buf, 24, &h, &lab, &content, &clen));
	ck_assert_uint_eq(clen, 0);
	buf[0] = 5;  /* 5 labels need 44 bytes */
	ck_assert_int_eq(image_record_unpack(buf, 40, &h, &lab, &content, &clen), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "5 labels (needs 44 bytes)"));
	buf[0] = buf[1] = buf[2] = buf[3] = 0xff;  /* no overflow on a huge flag */
	ck_assert_int_eq(image_record_unpack(buf, 40, &h, &lab, &content, &clen), MX_ERR_FORMAT);
}
END_TEST

/* ---- files written by MXNet 1.9.1 --------------------------------------------------------- */

static unsigned char *unhex(const char *hex, size_t *len)
{
	size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
	unsigned char *p = malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		p[i] = (unsigned char)v;
	}
	*len = n;
	return p;
}

START_TEST(test_a_file_written_by_mxnet_reads_identically_with_headers_and_labels)
{
	FILE *f = fopen(RECDIR "/expected.txt", "r");
	struct recordio_reader *r;
	struct recordio_index idx;
	static char line[16384];
	const unsigned char *data = NULL;
	size_t len = 0;
	int records = 0, irs = 0;
	ck_assert_ptr_nonnull(f);
	ck_ok(recordio_reader_open_part(RECDIR "/mxnet.rec", 0, 1, 1, &r));
	ck_ok(recordio_index_read(RECDIR "/mxnet.idx", &idx));
	ck_ok(recordio_index_check(&idx, "mxnet.idx", 3336));
	while (fgets(line, sizeof line, f)) {
		char kind[8], hex[sizeof line];
		unsigned long long key;
		long long off, want_len;
		if (sscanf(line, "%7s", kind) != 1)
			continue;
		if (strcmp(kind, "rec") == 0) {
			long long got_off;
			size_t n;
			ck_assert_int_eq(sscanf(line, "rec %llu %lld %lld %s", &key, &off, &want_len, hex), 4);
			unsigned char *want = unhex(hex, &n);
			ck_ok(recordio_read(r, &data, &len, &got_off));
			ck_assert_int_eq(got_off, off);
			ck_assert_uint_eq(len, (size_t)want_len);
			ck_assert_uint_eq(n, len);
			ck_assert_int_eq(memcmp(data, want, len), 0);
			ck_assert_uint_eq(idx.keys[records], key);
			ck_assert_int_eq(idx.offsets[records], off);
			free(want);
			records++;
		} else {
			unsigned flag;
			float label, want_label;
			unsigned long long id, id2;
			long long clen_want;
			int used;
			struct image_record_header h;
			const unsigned char *lab, *content;
			size_t clen;
			ck_assert_int_eq(sscanf(line, "ir %u %f %llu %llu %lld%n", &flag, &label, &id, &id2,
						&clen_want, &used), 5);
			ck_ok(image_record_unpack(data, len, &h, &lab, &content, &clen));
			ck_assert_uint_eq(h.flag, flag);
			ck_assert(h.label == label);
			ck_assert_uint_eq(h.id, id);
			ck_assert_uint_eq(h.id2, id2);
			ck_assert_uint_eq(clen, (size_t)clen_want);
			char *p = line + used;
			for (uint32_t i = 0; i < flag; i++) {
				want_label = strtof(p, &p);
				ck_assert_msg(image_record_label(lab, i) == want_label, "label %u", i);
			}
			irs++;
		}
	}
	fclose(f);
	ck_assert_int_eq(recordio_read(r, &data, &len, NULL), MX_END);
	ck_assert_int_eq(records, 10);
	ck_assert_int_eq(irs, 4);
	ck_assert_int_eq(idx.n, 10);
	recordio_reader_close(r);
	recordio_index_free(&idx);
}
END_TEST

START_TEST(test_rewriting_mxnets_records_gives_mxnets_bytes_exactly)
{
	struct recordio_reader *r;
	struct recordio_writer *w;
	const unsigned char *data;
	size_t len, a, b;
	ck_ok(recordio_reader_open_part(RECDIR "/mxnet.rec", 0, 1, 1, &r));
	ck_ok(recordio_writer_open(tmp_path("again.rec"), &w));
	while (recordio_read(r, &data, &len, NULL) == MX_OK)
		ck_ok(recordio_write(w, data, len));
	ck_ok(recordio_writer_close(w));
	recordio_reader_close(r);
	unsigned char *theirs = slurp(RECDIR "/mxnet.rec", &a), *ours = slurp(tmp_path("again.rec"), &b);
	ck_assert_uint_eq(a, b);
	ck_assert_int_eq(memcmp(theirs, ours, a), 0);
	free(theirs);
	free(ours);
}
END_TEST

/* ---- faults ------------------------------------------------------------------------------ */

/* Records 0..4 of a fault file: record 2 is "ABCD" magic "EF" (two parts at 36 and 48). */
static const char *fault_payload[] = {"first", "second!", "ABCD\x0a\x23\xd7\xce" "EF", "fourth record",
				      "5th"};
static const size_t fault_len[] = {5, 7, 10, 13, 3};
/* offsets: 0, 16, 32 (parts at 32 and 44), 56, 80; size 92 */

static size_t fault_file(unsigned char *out)
{
	size_t n = 0;
	for (int i = 0; i < 5; i++)
		n += recordio_encode(fault_payload[i], fault_len[i], out + n);
	return n;
}

static void set_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
	p[3] = (unsigned char)(v >> 24);
}

struct fault_case {
	const char *name;
	void (*mutate)(unsigned char *file, size_t *size);
	const char *want;     /* substring of the strict error (after "f.rec: ") */
	int strict_good;      /* records a strict reader returns before the error */
	int survivors[5];     /* records (by number) a lenient reader still returns, -1 ends */
};

static void bad_magic(unsigned char *f, size_t *n) { f[16] ^= 0x40; }
static void flag_5(unsigned char *f, size_t *n) { f[16 + 7] = 0xa0; }
static void flag_2_alone(unsigned char *f, size_t *n) { f[16 + 7] = 0x40; }
static void flag_3_alone(unsigned char *f, size_t *n) { f[16 + 7] = 0x60; }
static void length_past_eof(unsigned char *f, size_t *n) { set_u32(f + 16 + 4, 0x00ffffff); }
static void last_length_past_eof(unsigned char *f, size_t *n) { set_u32(f + 80 + 4, 9); }
static void truncated_payload(unsigned char *f, size_t *n) { *n = 88; }
static void truncated_header(unsigned char *f, size_t *n) { *n = 84; }
static void last_part_missing(unsigned char *f, size_t *n) { *n = 44; }
static void second_part_flag_0(unsigned char *f, size_t *n) { f[44 + 7] = 0x00; }
static void second_part_bad_magic(unsigned char *f, size_t *n) { f[44] = 0; }
static void garbage_at_start(unsigned char *f, size_t *n) { memset(f, 0x55, 8); }

static const struct fault_case fault_cases[] = {
	{"bad magic", bad_magic, "byte 16: bad magic 0xced7234a (expected 0xced7230a)", 1, {0, 2, 3, 4, -1}},
	{"flag > 3", flag_5, "byte 16: bad continuation flag 5", 1, {0, 2, 3, 4, -1}},
	{"flag 2 without 1", flag_2_alone,
	 "byte 16: part with continuation flag 2 (middle part) has no first part", 1, {0, 2, 3, 4, -1}},
	{"flag 3 without 1", flag_3_alone, "byte 16: part with continuation flag 3 (last part)", 1,
	 {0, 2, 3, 4, -1}},
	{"length past EOF", length_past_eof,
	 "byte 16: part length 16777215 runs past the end of the file (92 bytes)", 1, {0, 2, 3, 4, -1}},
	{"last length past EOF", last_length_past_eof, "byte 80: part length 9 runs past the end", 4,
	 {0, 1, 2, 3, -1}},
	{"truncated payload", truncated_payload,
	 "byte 80: part length 3 runs past the end of the file (88 bytes)", 4, {0, 1, 2, 3, -1}},
	{"truncated header", truncated_header, "byte 80: truncated part header: the file ends at byte 84", 4,
	 {0, 1, 2, 3, -1}},
	{"last part missing", last_part_missing,
	 "byte 44: the file ends inside the record that starts at byte 32", 2, {0, 1, -1}},
	{"flag 0 inside a record", second_part_flag_0,
	 "byte 44: part with continuation flag 0 inside the record that starts at byte 32", 2, {0, 1, 5, 3, 4}},
	{"bad magic in a second part", second_part_bad_magic,
	 "byte 44: bad magic 0xced72300 in a part of the record that starts at byte 32", 2, {0, 1, 3, 4, -1}},
	{"garbage at the start", garbage_at_start, "byte 0: bad magic 0x55555555", 0, {1, 2, 3, 4, -1}},
};

/* survivor 5 stands for the tail "EF" read as a record of its own */
static void expect_survivor(int which, const unsigned char *data, size_t len)
{
	if (which == 5) {
		ck_assert_uint_eq(len, 2);
		ck_assert_int_eq(memcmp(data, "EF", 2), 0);
		return;
	}
	ck_assert_uint_eq(len, fault_len[which]);
	ck_assert_int_eq(memcmp(data, fault_payload[which], len), 0);
}

START_TEST(test_every_fault_is_an_error_naming_file_and_byte_when_strict)
{
	const struct fault_case *c = &fault_cases[_i];
	unsigned char file[128];
	size_t n = fault_file(file);
	ck_assert_uint_eq(n, 92);
	c->mutate(file, &n);
	spit(tmp_path("f.rec"), file, n);
	char want[300];
	snprintf(want, sizeof want, "f.rec: %s", c->want);
	struct recordio_reader *r;
	const unsigned char *data;
	size_t len;
	long long *offs;
	long count;
	ck_ok(recordio_reader_open_part(tmp_path("f.rec"), 0, 1, 1, &r));
	int rc, good = 0;
	while ((rc = recordio_read(r, &data, &len, NULL)) == MX_OK)
		good++;
	ck_assert_msg(rc == MX_ERR_FORMAT, "%s: read gave %d", c->name, rc);
	ck_assert_msg(strstr(mx_error_message(), want), "%s: got \"%s\", want \"%s\"", c->name,
		      mx_error_message(), want);
	/* the records before the fault were read; asking again gives the same error */
	ck_assert_int_eq(good, c->strict_good);
	mx_error_clear();
	ck_assert_int_eq(recordio_read(r, &data, &len, NULL), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), want));
	mx_error_clear();
	ck_assert_int_eq(recordio_reader_scan(r, &offs, &count), MX_ERR_FORMAT);
	ck_assert_ptr_null(offs);
	ck_assert_msg(strstr(mx_error_message(), want), "%s scan: got %s", c->name, mx_error_message());
	ck_assert_int_eq(recordio_reader_skipped(r), 0);
	recordio_reader_close(r);
}
END_TEST

START_TEST(test_every_fault_is_skipped_with_one_warning_and_later_records_are_read)
{
	const struct fault_case *c = &fault_cases[_i];
	unsigned char file[128];
	size_t n = fault_file(file);
	c->mutate(file, &n);
	spit(tmp_path("f.rec"), file, n);
	struct recordio_reader *r;
	const unsigned char *data;
	size_t len;
	long long off, *offs, read_offs[8];
	long count;
	int rc, got = 0;
	int saved = capture_stderr(tmp_path("stderr"));
	ck_ok(recordio_reader_open_part(tmp_path("f.rec"), 0, 1, 0, &r));
	while ((rc = recordio_read(r, &data, &len, &off)) == MX_OK) {
		ck_assert_msg(got < 5 && c->survivors[got] >= 0, "%s: record %d is one too many", c->name, got);
		expect_survivor(c->survivors[got], data, len);
		read_offs[got++] = off;
	}
	char *err = end_capture(saved, tmp_path("stderr"));
	ck_assert_msg(rc == MX_END, "%s: %s", c->name, mx_error_message());
	ck_assert_msg(got == 5 || c->survivors[got] < 0, "%s: only %d records", c->name, got);
	ck_assert_int_eq(recordio_reader_skipped(r), 1);
	char want[300];
	snprintf(want, sizeof want, "f.rec: %s", c->want);
	ck_assert_msg(strstr(err, want), "%s: warning \"%s\" lacks \"%s\"", c->name, err, want);
	ck_assert_int_eq(count_lines(err, "warning"), 1);
	free(err);
	/* a scan finds the same records and skips the same one */
	saved = capture_stderr(tmp_path("stderr"));
	ck_ok(recordio_reader_scan(r, &offs, &count));
	free(end_capture(saved, tmp_path("stderr")));
	ck_assert_int_eq(count, got);
	for (int i = 0; i < got; i++)
		ck_assert_int_eq(offs[i], read_offs[i]);
	ck_assert_int_eq(recordio_reader_skipped(r), 2);
	free(offs);
	recordio_reader_close(r);
}
END_TEST

START_TEST(test_a_file_size_not_a_multiple_of_4_is_refused_when_strict_and_trimmed_when_not)
{
	unsigned char file[128];
	size_t n = fault_file(file);
	file[n] = file[n + 1] = 0;
	spit(tmp_path("f.rec"), file, n + 2);  /* 94 bytes: every record is whole */
	struct recordio_reader *r;
	ck_assert_int_eq(recordio_reader_open_part(tmp_path("f.rec"), 0, 1, 1, &r), MX_ERR_FORMAT);
	ck_assert_str_eq(strstr(mx_error_message(), "f.rec"), "f.rec: byte 92: file size 94 is not a "
			 "multiple of 4 (truncated, or not a RecordIO file)");
	int saved = capture_stderr(tmp_path("stderr"));
	ck_ok(recordio_reader_open_part(tmp_path("f.rec"), 0, 1, 0, &r));
	char *err = end_capture(saved, tmp_path("stderr"));
	ck_assert_ptr_nonnull(strstr(err, "f.rec: byte 92: file size 94 is not a multiple of 4; "
				     "ignoring the last 2 bytes"));
	free(err);
	const unsigned char *data;
	size_t len;
	int got = 0;
	while (recordio_read(r, &data, &len, NULL) == MX_OK)
		expect_survivor(got++, data, len);
	ck_assert_int_eq(got, 5);
	ck_assert_int_eq(recordio_reader_skipped(r), 0);
	recordio_reader_close(r);
}
END_TEST

START_TEST(test_a_huge_length_word_allocates_nothing_near_it)
{
	/* one record whose length says 512 MB in a 16-byte file: no allocation of that size */
	unsigned char file[16] = {0x0a, 0x23, 0xd7, 0xce, 0xff, 0xff, 0xff, 0x1f, 1, 2, 3, 4, 5, 6, 7, 8};
	spit(tmp_path("h.rec"), file, 16);
	struct recordio_reader *r;
	unsigned char *buf = NULL;
	size_t cap = 0, len;
	ck_ok(recordio_reader_open_part(tmp_path("h.rec"), 0, 1, 1, &r));
	ck_assert_int_eq(recordio_reader_read_at(r, 0, &buf, &cap, &len), MX_ERR_FORMAT);
	ck_assert_uint_eq(cap, 0);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "byte 0: part length 536870911 runs past"));
	recordio_reader_close(r);
}
END_TEST

static Suite *recordio_suite(void)
{
	Suite *s = suite_create("recordio");
	TCase *fr = tcase_create("framing"), *sh = tcase_create("sharding"), *rd = tcase_create("reading");
	TCase *ix = tcase_create("index"), *ir = tcase_create("irheader"), *mx = tcase_create("mxnet");
	TCase *ft = tcase_create("faults");
	TCase *all[] = {fr, sh, rd, ix, ir, mx, ft};
	int nfault = sizeof fault_cases / sizeof fault_cases[0];
	mx_log_set_program("check_recordio");
	for (int i = 0; i < 7; i++) {
		tcase_add_checked_fixture(all[i], make_tmpdir, remove_tmpdir);
		tcase_set_timeout(all[i], 30);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(fr, test_encoding_matches_the_worked_examples_of_formats_md_byte_for_byte);
	tcase_add_test(fr, test_only_aligned_magic_splits_a_payload_and_unaligned_magic_is_kept_verbatim);
	tcase_add_test(fr, test_records_of_every_small_size_and_several_megabytes_round_trip);
	tcase_add_test(fr, test_payloads_full_of_magic_round_trip_and_every_aligned_magic_in_the_file_is_a_header);
	tcase_add_test(fr, test_the_writer_writes_to_a_tmp_name_and_renames_only_at_close);
	tcase_add_test(fr, test_abort_removes_the_tmp_file_and_leaves_an_earlier_file_alone);
	tcase_add_test(fr, test_writer_errors_name_the_file_and_a_record_over_2_pow_29_is_refused);
	tcase_add_test(sh, test_part_range_follows_dmlcs_ceil_then_align_formula);
	tcase_add_test(sh, test_parts_1_to_7_together_read_every_record_once_in_order);
	tcase_add_test(sh, test_a_record_longer_than_a_part_is_read_whole_by_the_part_holding_its_head);
	tcase_add_test(sh, test_more_parts_than_records_leaves_some_parts_empty);
	tcase_add_test(sh, test_a_bad_part_index_and_a_missing_file_are_errors_naming_them);
	tcase_add_test(rd, test_seeking_to_idx_offsets_reads_those_records);
	tcase_add_test(rd, test_scan_lists_the_same_offsets_as_a_sequential_read_and_rewinds);
	tcase_add_test(rd, test_read_at_from_four_threads_at_once_returns_the_right_records);
	tcase_add_test(rd, test_read_at_a_non_head_offset_is_an_error_naming_file_and_offset);
	tcase_add_test(ix, test_index_writes_formats_md_example_bytes_and_reads_back);
	tcase_add_test(ix, test_every_bad_index_line_is_an_error_naming_file_and_line);
	tcase_add_test(ir, test_irheader_packs_the_formats_md_examples_byte_for_byte);
	tcase_add_test(ir, test_irheader_round_trips_many_labels_big_ids_and_empty_content);
	tcase_add_test(ir, test_irheader_shorter_than_its_header_or_labels_is_a_format_error);
	tcase_add_test(mx, test_a_file_written_by_mxnet_reads_identically_with_headers_and_labels);
	tcase_add_test(mx, test_rewriting_mxnets_records_gives_mxnets_bytes_exactly);
	tcase_add_loop_test(ft, test_every_fault_is_an_error_naming_file_and_byte_when_strict, 0, nfault);
	tcase_add_loop_test(ft, test_every_fault_is_skipped_with_one_warning_and_later_records_are_read, 0,
			    nfault);
	tcase_add_test(ft, test_a_file_size_not_a_multiple_of_4_is_refused_when_strict_and_trimmed_when_not);
	tcase_add_test(ft, test_a_huge_length_word_allocates_nothing_near_it);
	return s;
}

int main(void)
{
	return run_suite(recordio_suite());
}
