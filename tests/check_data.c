/* check_data.c: the iterator layer: key handling, the mnist idx reader (raw and gzip),
 * the csv reader, the synthetic iterator, batching, padding, shuffling, sharding, the
 * prefetch thread and every error path. Fixtures are tiny idx and csv files written into
 * a temporary directory at run time. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"
#include "data/iter.h"
#include "log.h"

/* Exported by iter.c for tests: iter_create with a kind that is not registered. */
int iter_create_with_kind(const struct iter_kind *kind, const char *const *keys,
			  const char *const *values, const char *const *origins, int n,
			  const char *section, struct data_iter **out);

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* The pixel byte k of example i in the generated files. */
static unsigned char pixel(long i, long k) { return (unsigned char)(i * 31 + k * 7 + 3); }

static void write_bytes(const char *path, const unsigned char *bytes, size_t n, int gz)
{
	if (gz) {
		gzFile f = gzopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
		ck_assert_int_eq(gzclose(f), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
		fclose(f);
	}
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Writes an idx3 images file of n examples of rows x cols; `cut` bytes are dropped from the
 * end (a truncated file) and `magic` is written as given. */
static void write_images_ex(const char *path, uint32_t magic, long n, long rows, long cols, long cut, int gz)
{
	size_t size = 16 + n * rows * cols;
	unsigned char *b = malloc(size);
	put_be32(b, magic);
	put_be32(b + 4, n);
	put_be32(b + 8, rows);
	put_be32(b + 12, cols);
	for (long i = 0; i < n; i++)
		for (long k = 0; k < rows * cols; k++)
			b[16 + i * rows * cols + k] = pixel(i, k);
	write_bytes(path, b, size - cut, gz);
	free(b);
}

static void write_images(const char *path, long n, long rows, long cols, int gz)
{
	write_images_ex(path, 0x803, n, rows, cols, 0, gz);
}

/* Labels file: label i is i % 256, so small fixtures identify each example by its label. */
static void write_labels(const char *path, long n, int gz)
{
	unsigned char *b = malloc(8 + n);
	put_be32(b, 0x801);
	put_be32(b + 4, n);
	for (long i = 0; i < n; i++)
		b[8 + i] = (unsigned char)i;
	write_bytes(path, b, 8 + n, gz);
	free(b);
}

/* Creates an iterator of `kind` from NULL-terminated key, value pairs (no origins). */
static int make_iter(struct data_iter **it, const char *kind, ...)
{
	const char *keys[32], *values[32];
	int n = 0;
	va_list ap;
	va_start(ap, kind);
	while ((keys[n] = va_arg(ap, const char *))) {
		values[n] = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	return iter_create(kind, keys, values, NULL, n, "data.train", it);
}

static void make_dataset(long n, int gz)
{
	write_images(tmp_path(gz ? "img.gz" : "img"), n, 3, 4, gz);
	write_labels(tmp_path(gz ? "lbl.gz" : "lbl"), n, gz);
}

/* Reads one epoch and returns the labels in order (padding rows included) and the pads. */
static int read_epoch(struct data_iter *it, int epoch, float *labels, int *pads)
{
	struct data_batch b;
	int rc, nb = 0, bs = iter_batch_size(it);
	ck_ok(iter_reset(it, epoch));
	while ((rc = iter_next(it, &b)) == MX_OK) {
		memcpy(labels + (long)nb * bs, tensor_f32(b.label), bs * sizeof(float));
		if (pads)
			pads[nb] = b.pad;
		nb++;
	}
	ck_assert_msg(rc == MX_END, "iter_next: %d %s", rc, mx_error_message());
	return nb;
}

static void check_permutation(const float *labels, long n)
{
	int seen[256] = {0};
	for (long i = 0; i < n; i++) {
		int v = (int)labels[i];
		ck_assert_msg(v >= 0 && v < n && !seen[v], "label %d at %ld is out of range or repeated", v, i);
		seen[v] = 1;
	}
}

START_TEST(raw_idx_gives_pixels_over_256_and_float_labels)
{
	struct data_iter *it;
	struct data_batch b;
	make_dataset(6, 0);
	ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "3",
			"silent", "1", NULL));
	struct mx_shape ds = iter_data_shape(it), ls = iter_label_shape(it), want = shape_make(4, 3L, 1L, 3L, 4L);
	ck_assert(shape_equal(&ds, &want));
	want = shape_make(1, 3L);
	ck_assert(shape_equal(&ls, &want));
	ck_assert_int_eq(iter_batch_size(it), 3);
	ck_assert_int_eq(iter_num_examples(it), 6);
	ck_ok(iter_reset(it, 0));
	for (int batch = 0; batch < 2; batch++) {
		float want_x[36], want_y[3];
		ck_assert_int_eq(iter_next(it, &b), MX_OK);
		ck_assert_int_eq(b.pad, 0);
		for (int r = 0; r < 3; r++) {
			want_y[r] = batch * 3 + r;
			for (int k = 0; k < 12; k++)
				want_x[r * 12 + k] = pixel(batch * 3 + r, k) / 256.0f;
		}
		check_close("data", tensor_f32(b.data), want_x, 36, 0, 0);
		check_close("label", tensor_f32(b.label), want_y, 3, 0, 0);
	}
	ck_assert_int_eq(iter_next(it, &b), MX_END);
	ck_assert_int_eq(iter_next(it, &b), MX_END);   /* the end stays the end */
	iter_free(it);
}
END_TEST

START_TEST(without_a_label_file_every_label_is_zero)
{
	struct data_iter *it;
	struct data_batch b;
	float zeros[3] = {0, 0, 0};
	make_dataset(6, 0);
	ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "batch_size", "3", "silent", "1", NULL));
	ck_assert_int_eq(iter_num_examples(it), 6);
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	check_close("label", tensor_f32(b.label), zeros, 3, 0, 0);
	ck_assert_float_eq(tensor_f32(b.data)[13], pixel(1, 1) / 256.0f);
	iter_free(it);
}
END_TEST

START_TEST(gzip_files_read_the_same_as_raw_ones)
{
	struct data_iter *raw, *gz, *mixed;
	struct data_batch a, b, c;
	make_dataset(7, 0);
	make_dataset(7, 1);
	ck_ok(make_iter(&raw, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "7",
			"silent", "1", NULL));
	ck_ok(make_iter(&gz, "mnist", "image", tmp_path("img.gz"), "label", tmp_path("lbl.gz"), "batch_size", "7",
			"silent", "1", NULL));
	ck_ok(make_iter(&mixed, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl.gz"), "batch_size", "7",
			"silent", "1", NULL));
	ck_assert_int_eq(iter_next(raw, &a), MX_OK);
	ck_assert_int_eq(iter_next(gz, &b), MX_OK);
	ck_assert_int_eq(iter_next(mixed, &c), MX_OK);
	check_close("gz data", tensor_f32(b.data), tensor_f32(a.data), 7 * 12, 0, 0);
	check_close("gz label", tensor_f32(b.label), tensor_f32(a.label), 7, 0, 0);
	check_close("mixed label", tensor_f32(c.label), tensor_f32(a.label), 7, 0, 0);
	ck_assert_float_eq(tensor_f32(a.data)[12], pixel(1, 0) / 256.0f);
	iter_free(raw);
	iter_free(gz);
	iter_free(mixed);
}
END_TEST

START_TEST(flat_gives_rows_times_cols_and_scale_multiplies_pixels)
{
	struct data_iter *it;
	struct data_batch b;
	make_dataset(4, 0);
	ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "2",
			"flat", "True", "scale", "1", "silent", "1", NULL));
	struct mx_shape ds = iter_data_shape(it), want = shape_make(2, 2L, 12L);
	ck_assert(shape_equal(&ds, &want));
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	ck_assert_float_eq(tensor_f32(b.data)[12 + 5], (float)pixel(3, 5));
	ck_assert_float_eq(tensor_f32(b.label)[1], 3.0f);
	iter_free(it);
}
END_TEST

START_TEST(last_partial_batch_wraps_to_the_start_and_reports_pad)
{
	struct data_iter *it;
	float labels[12];
	int pads[3];
	struct data_batch b;
	make_dataset(10, 0);
	ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "4",
			"silent", "1", NULL));
	ck_assert_int_eq(read_epoch(it, 0, labels, pads), 3);
	ck_assert_int_eq(pads[0], 0);
	ck_assert_int_eq(pads[1], 0);
	ck_assert_int_eq(pads[2], 2);
	const float want[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1};
	check_close("labels", labels, want, 12, 0, 0);
	/* the filler rows carry example 0's and 1's pixels too */
	ck_ok(iter_reset(it, 1));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(iter_next(it, &b), MX_OK);
	ck_assert_float_eq(tensor_f32(b.data)[2 * 12 + 4], pixel(0, 4) / 256.0f);
	ck_assert_int_eq(iter_num_examples(it), 10);
	iter_free(it);
}
END_TEST

START_TEST(a_batch_larger_than_the_dataset_wraps_several_times)
{
	struct data_iter *it;
	float labels[8];
	int pads[1];
	make_dataset(3, 0);
	ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "8",
			"silent", "1", NULL));
	ck_assert_int_eq(read_epoch(it, 0, labels, pads), 1);
	const float want[8] = {0, 1, 2, 0, 1, 2, 0, 1};
	check_close("labels", labels, want, 8, 0, 0);
	ck_assert_int_eq(pads[0], 5);
	iter_free(it);
}
END_TEST

START_TEST(iter_next_without_reset_starts_epoch_zero)
{
	struct data_iter *it;
	struct data_batch b;
	make_dataset(5, 0);
	ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "5",
			"silent", "1", NULL));
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	ck_assert_float_eq(tensor_f32(b.label)[4], 4.0f);
	ck_assert_int_eq(iter_next(it, &b), MX_END);
	iter_free(it);
}
END_TEST

START_TEST(shuffle_order_is_a_pure_function_of_seed_and_epoch)
{
	struct data_iter *a, *b, *c, *plain;
	float e3[50], e3_again[50], e3_other[50], e4[50], seed8[50], ident[50];
	make_dataset(50, 0);
	ck_ok(make_iter(&a, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "10",
			"shuffle", "1", "seed", "7", "silent", "1", NULL));
	ck_ok(make_iter(&b, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "10",
			"shuffle", "1", "seed", "7", "silent", "1", "prefetch_buffer", "0", NULL));
	ck_ok(make_iter(&c, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "10",
			"shuffle", "1", "seed", "8", "silent", "1", NULL));
	ck_ok(make_iter(&plain, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "10",
			"silent", "1", NULL));
	ck_assert_int_eq(read_epoch(a, 3, e3, NULL), 5);
	ck_assert_int_eq(read_epoch(a, 4, e4, NULL), 5);
	ck_assert_int_eq(read_epoch(a, 3, e3_again, NULL), 5);
	ck_assert_int_eq(read_epoch(b, 3, e3_other, NULL), 5);
	ck_assert_int_eq(read_epoch(c, 3, seed8, NULL), 5);
	check_close("same iterator, epoch 3 twice", e3_again, e3, 50, 0, 0);
	check_close("fresh iterator, epoch 3", e3_other, e3, 50, 0, 0);
	ck_assert_msg(memcmp(e3, e4, sizeof e3), "epochs 3 and 4 have the same order");
	ck_assert_msg(memcmp(e3, seed8, sizeof e3), "seeds 7 and 8 give the same order");
	check_permutation(e3, 50);
	check_permutation(e4, 50);
	check_permutation(seed8, 50);
	/* without shuffle every epoch is the file order */
	ck_assert_int_eq(read_epoch(plain, 9, ident, NULL), 5);
	for (int i = 0; i < 50; i++)
		ck_assert_float_eq(ident[i], (float)i);
	ck_assert_msg(memcmp(e3, ident, sizeof e3), "shuffle=1 kept the file order");
	iter_free(a);
	iter_free(b);
	iter_free(c);
	iter_free(plain);
}
END_TEST

/* Reads `epochs` epochs and returns every batch's data, labels and pad, concatenated. The
 * copy is made after a short sleep, so a producer that wrote into the slot the caller holds
 * would be caught. */
static long read_all(struct data_iter *it, int epochs, float *data, float *labels, int *pads)
{
	struct data_batch b;
	long nb = 0;
	int rc;
	for (int e = 0; e < epochs; e++) {
		ck_ok(iter_reset(it, e));
		while ((rc = iter_next(it, &b)) == MX_OK) {
			long xs = shape_size(&b.data->shape), ys = shape_size(&b.label->shape);
			if (nb % 3 == 0)
				usleep(500);
			memcpy(data + nb * xs, tensor_f32(b.data), xs * sizeof(float));
			memcpy(labels + nb * ys, tensor_f32(b.label), ys * sizeof(float));
			pads[nb++] = b.pad;
		}
		ck_assert_int_eq(rc, MX_END);
	}
	return nb;
}

START_TEST(prefetch_on_and_off_give_identical_batches)
{
	static float data[5][20 * 5 * 12], labels[5][20 * 5];
	static int pads[5][20];
	const char *buffers[5] = {"0", "1", "2", "5", "40"};
	long nb[5];
	make_dataset(37, 1);
	for (int k = 0; k < 5; k++) {
		struct data_iter *it;
		ck_ok(make_iter(&it, "mnist", "image", tmp_path("img.gz"), "label", tmp_path("lbl.gz"), "batch_size",
				"5", "shuffle", "true", "seed", "3", "silent", "1", "prefetch_buffer", buffers[k], NULL));
		nb[k] = read_all(it, 2, data[k], labels[k], pads[k]);
		iter_free(it);
	}
	ck_assert_int_eq(nb[0], 16);
	ck_assert_int_eq(pads[0][7], 3);
	ck_assert_int_eq(pads[0][15], 3);
	for (int k = 1; k < 5; k++) {
		ck_assert_int_eq(nb[k], nb[0]);
		check_close("data", data[k], data[0], nb[0] * 5 * 12, 0, 0);
		check_close("labels", labels[k], labels[0], nb[0] * 5, 0, 0);
		for (int i = 0; i < nb[0]; i++)
			ck_assert_int_eq(pads[k][i], pads[0][i]);
	}
}
END_TEST

START_TEST(reset_in_the_middle_of_an_epoch_restarts_it_cleanly)
{
	struct data_iter *it, *ref;
	struct data_batch b;
	float want[3][40], got[40];
	make_dataset(40, 0);
	ck_ok(make_iter(&ref, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "4",
			"shuffle", "1", "silent", "1", "prefetch_buffer", "0", NULL));
	for (int e = 0; e < 3; e++)
		read_epoch(ref, e, want[e], NULL);
	iter_free(ref);
	ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "4",
			"shuffle", "1", "silent", "1", "prefetch_buffer", "2", NULL));
	for (int round = 0; round < 200; round++) {
		int e = round % 3, take = round % 11;
		ck_ok(iter_reset(it, e));
		for (int i = 0; i < take; i++) {
			ck_assert_int_eq(iter_next(it, &b), MX_OK);
			check_close("mid-epoch labels", tensor_f32(b.label), want[e] + i * 4, 4, 0, 0);
		}
		if (take == 10)
			ck_assert_int_eq(iter_next(it, &b), MX_END);
	}
	ck_assert_int_eq(read_epoch(it, 1, got, NULL), 10);
	check_close("epoch 1 after many resets", got, want[1], 40, 0, 0);
	iter_free(it);
}
END_TEST

START_TEST(freeing_mid_epoch_neither_hangs_nor_leaks)
{
	make_dataset(40, 0);
	for (int round = 0; round < 200; round++) {
		struct data_iter *it;
		struct data_batch b;
		ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "2",
				"silent", "1", "prefetch_buffer", round % 2 ? "3" : "1", NULL));
		switch (round % 4) {
		case 0: break;                                       /* never started */
		case 1: ck_ok(iter_reset(it, 0)); break;             /* producer just started */
		case 2: ck_assert_int_eq(iter_next(it, &b), MX_OK); usleep(200); break; /* queue full */
		case 3: for (int i = 0; i < 20; i++) ck_assert_int_eq(iter_next(it, &b), MX_OK); break;
		}
		iter_free(it);
	}
	iter_free(NULL);
}
END_TEST

/* Checks the labels of part k of 3 of 10 examples labelled base + their number: MXNet's
 * parts are [0, 3), [3, 6) and [6, 10). seen marks the examples of the parts before, so
 * that none is in two. */
static void check_part_of_ten(const float *labels, long n, int k, int base, int seen[10], const char *what)
{
	for (long i = 0; i < n; i++) {
		int v = (int)labels[i] - base;
		ck_assert_msg(v >= (k ? 3 * k : 0) && v < (k == 2 ? 10 : 3 * k + 3), "part %d has %s %d", k, what, v);
		ck_assert_msg(!seen[v], "%s %d in two parts", what, v);
		seen[v] = 1;
	}
}

START_TEST(sharding_parts_are_disjoint_and_cover_the_whole_as_mxnet_splits)
{
	const long want_n[3] = {3, 3, 4};   /* MXNet: floor(10 / 3 * k) = 0, 3, 6, 10 */
	int seen[10] = {0};
	make_dataset(10, 0);
	for (int k = 0; k < 3; k++) {
		struct data_iter *it;
		float labels[8];
		char index[8];
		snprintf(index, sizeof index, "%d", k);
		ck_ok(make_iter(&it, "mnist", "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size",
				"4", "num_parts", "3", "part_index", index, "shuffle", "1", "silent", "1", NULL));
		ck_assert_int_eq(iter_num_examples(it), want_n[k]);
		ck_assert_int_eq(read_epoch(it, 0, labels, NULL), 1);
		check_part_of_ten(labels, want_n[k], k, 0, seen, "example");
		iter_free(it);
	}
	for (int i = 0; i < 10; i++)
		ck_assert_msg(seen[i], "example %d is in no part", i);
}
END_TEST

/* Asserts that creating an mnist iterator fails with rc and a message containing want. */
#define ck_create_fails(rc_want, want, ...) do { \
	struct data_iter *it_ = (struct data_iter *)1; \
	int rc_ = make_iter(&it_, "mnist", __VA_ARGS__, NULL); \
	ck_assert_int_eq(rc_, rc_want); \
	ck_assert_ptr_null(it_); \
	ck_assert_msg(strstr(mx_error_message(), want), "message \"%s\" lacks \"%s\"", mx_error_message(), want); \
} while (0)

START_TEST(a_missing_file_names_the_file_and_the_reason)
{
	char want[600];
	make_dataset(4, 0);
	snprintf(want, sizeof want, "data.train: %s: No such file or directory", tmp_path("nope.gz"));
	ck_create_fails(MX_ERR_IO, want, "image", tmp_path("nope.gz"), "label", tmp_path("lbl"), "batch_size", "2");
	snprintf(want, sizeof want, "data.train: %s: No such file or directory", tmp_path("nolabels"));
	ck_create_fails(MX_ERR_IO, want, "image", tmp_path("img"), "label", tmp_path("nolabels"), "batch_size", "2");
}
END_TEST

START_TEST(a_bad_magic_is_reported_with_a_hint)
{
	make_dataset(4, 0);
	write_images_ex(tmp_path("wrong"), 0x0801, 4, 3, 4, 0, 0);
	ck_create_fails(MX_ERR_FORMAT, "wrong: bad magic 0x00000801 at byte 0, expected 0x00000803", "image",
			tmp_path("wrong"), "label", tmp_path("lbl"), "batch_size", "2");
	ck_create_fails(MX_ERR_FORMAT, "is it given as image?", "image", tmp_path("lbl"), "label", tmp_path("lbl"),
			"batch_size", "2");
	ck_create_fails(MX_ERR_FORMAT, "img: bad magic 0x00000803 at byte 0, expected 0x00000801 for idx labels (this is an images file; is it given as label?)", "image",
			tmp_path("img"), "label", tmp_path("img"), "batch_size", "2");
}
END_TEST

START_TEST(a_truncated_image_file_names_the_file_and_the_byte)
{
	char want[600];
	make_dataset(4, 0);
	/* 16 + 4*12 = 64 bytes expected; 5 missing */
	write_images_ex(tmp_path("short"), 0x803, 4, 3, 4, 5, 0);
	snprintf(want, sizeof want, "%s: truncated at byte 59; the header (4 images) needs 64 bytes", tmp_path("short"));
	ck_create_fails(MX_ERR_FORMAT, want, "image", tmp_path("short"), "label", tmp_path("lbl"), "batch_size", "2");
	write_images_ex(tmp_path("short.gz"), 0x803, 4, 3, 4, 5, 1);
	snprintf(want, sizeof want, "%s: truncated at byte 59 (uncompressed)", tmp_path("short.gz"));
	ck_create_fails(MX_ERR_FORMAT, want, "image", tmp_path("short.gz"), "label", tmp_path("lbl"), "batch_size", "2");
	write_images_ex(tmp_path("header"), 0x803, 4, 3, 4, 64 - 10, 0);
	ck_create_fails(MX_ERR_FORMAT, "header: truncated at byte 10, inside the 16-byte idx header", "image",
			tmp_path("header"), "label", tmp_path("lbl"), "batch_size", "2");
}
END_TEST

START_TEST(trailing_bytes_zero_dimensions_and_broken_gzip_are_errors)
{
	unsigned char extra[64 + 3] = {0};
	FILE *f;
	make_dataset(4, 0);
	f = fopen(tmp_path("img"), "rb");
	ck_assert_uint_eq(fread(extra, 1, 64, f), 64);
	fclose(f);
	write_bytes(tmp_path("long"), extra, sizeof extra, 0);
	ck_create_fails(MX_ERR_FORMAT, "long: 3 bytes of trailing data after byte 64", "image", tmp_path("long"), "label",
			tmp_path("lbl"), "batch_size", "2");
	write_images_ex(tmp_path("flat0"), 0x803, 4, 0, 4, 0, 0);
	ck_create_fails(MX_ERR_FORMAT, "flat0: dimension 1 is 0 (at byte 8)", "image", tmp_path("flat0"), "label",
			tmp_path("lbl"), "batch_size", "2");

	/* a gzip stream cut in the middle */
	{
		unsigned char gz[1 << 16];
		long n;
		write_images(tmp_path("big.gz"), 400, 28, 28, 1);
		f = fopen(tmp_path("big.gz"), "rb");
		n = fread(gz, 1, sizeof gz, f);
		fclose(f);
		ck_assert_int_gt(n, 100);
		write_bytes(tmp_path("cut.gz"), gz, n / 2, 0);
		ck_create_fails(MX_ERR_FORMAT, "cut.gz: bad gzip data after byte", "image", tmp_path("cut.gz"), "label",
				tmp_path("lbl"), "batch_size", "2");
	}
}
END_TEST

START_TEST(a_label_count_mismatch_names_both_counts)
{
	char want[1200];
	write_images(tmp_path("img"), 6, 3, 4, 0);
	write_labels(tmp_path("lbl"), 5, 0);
	snprintf(want, sizeof want, "%s has 6 images but %s has 5 labels", tmp_path("img"), tmp_path("lbl"));
	ck_create_fails(MX_ERR_FORMAT, want, "image", tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "2");
}
END_TEST

START_TEST(an_unknown_key_names_its_line_and_suggests_the_nearest)
{
	const char *keys[] = {"iter", "imgae", "label", "batch_size"};
	const char *values[] = {"mnist", "a", "b", "2"};
	const char *origins[] = {"net.conf:3", "net.conf:4", "net.conf:5", "net.conf:6"};
	struct data_iter *it;
	ck_assert_int_eq(iter_create("mnist", keys, values, origins, 4, "data.train", &it), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "net.conf:4: data.train: unknown key \"imgae\" (did you mean \"image\"?)");
	keys[1] = "prefetch_bufer";
	ck_assert_int_eq(iter_create("mnist", keys, values, origins, 4, "data.train", &it), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(),
			 "net.conf:4: data.train: unknown key \"prefetch_bufer\" (did you mean \"prefetch_buffer\"?)");
	keys[1] = "image";
	values[3] = "0";
	ck_assert_int_eq(iter_create("mnist", keys, values, origins, 4, "data.train", &it), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "net.conf:6: data.train: batch_size = 0 is out of range (must be >= 1)");
	ck_assert_int_eq(iter_create("mnist", keys, values, NULL, 4, NULL, &it), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "batch_size = 0 is out of range (must be >= 1)");
	ck_assert_ptr_null(it);
}
END_TEST

START_TEST(an_unknown_iter_kind_suggests_the_nearest)
{
	const char *keys[] = {"iter", "batch_size"};
	const char *values[] = {"mnst", "2"};
	const char *origins[] = {"net.conf:2", "net.conf:3"};
	struct data_iter *it;
	ck_assert_int_eq(iter_create("mnst", keys + 1, values + 1, NULL, 1, "data.train", &it), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "data.train: unknown iter \"mnst\" (did you mean \"mnist\"?)");
	ck_assert_int_eq(iter_create("mnst", keys, values, origins, 2, "data.train", &it), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "net.conf:2: data.train: unknown iter \"mnst\" (did you mean \"mnist\"?)");
	ck_assert_int_eq(iter_create("libsvm", keys, values, NULL, 0, "data.val", &it), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "data.val: unknown iter \"libsvm\"");
	ck_assert_int_eq(iter_create("cvs", keys, values, NULL, 0, "data.val", &it), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "data.val: unknown iter \"cvs\" (did you mean \"csv\"?)");
	ck_assert_ptr_null(it);
	ck_assert_ptr_eq(iter_kinds()[0], &iter_mnist);
}
END_TEST

START_TEST(missing_keys_bad_values_and_bad_parts_are_errors)
{
	make_dataset(4, 0);
	ck_create_fails(MX_ERR_INVALID, "data.train: iter \"mnist\" needs the key \"batch_size\"", "image", tmp_path("img"),
			"label", tmp_path("lbl"));
	ck_create_fails(MX_ERR_INVALID, "data.train: iter \"mnist\" needs the key \"image\"", "label", tmp_path("lbl"),
			"batch_size", "2");
	ck_create_fails(MX_ERR_INVALID, "data.train: shuffle: expected true or false, got \"maybe\"", "image",
			tmp_path("img"), "label", tmp_path("lbl"), "batch_size", "2", "shuffle", "maybe");
	ck_create_fails(MX_ERR_INVALID, "data.train: prefetch_buffer = -1 is out of range", "image", tmp_path("img"),
			"label", tmp_path("lbl"), "batch_size", "2", "prefetch_buffer", "-1");
	ck_create_fails(MX_ERR_INVALID, "data.train: part_index = 2 must be < num_parts = 2", "image", tmp_path("img"),
			"label", tmp_path("lbl"), "batch_size", "2", "num_parts", "2", "part_index", "2");
	ck_create_fails(MX_ERR_INVALID, "part 0 of 5 of", "image", tmp_path("img"), "label", tmp_path("lbl"),
			"batch_size", "2", "num_parts", "5");
}
END_TEST

/* A fake kind: example i is the row (i, epoch); it can fail at a given batch, fail its
 * reset, or sleep in next to widen race windows. */
struct fake_param {
	int batch_size, n, fail_at, fail_code, fail_reset, delay_us;
};
static const struct param_spec fake_params[] = {
	{"batch_size", PARAM_INT, offsetof(struct fake_param, batch_size), 0, NULL, NULL, 1, 1e9, "rows"},
	{"n", PARAM_INT, offsetof(struct fake_param, n), 0, "10", NULL, 0, 0, "examples"},
	{"fail_at", PARAM_INT, offsetof(struct fake_param, fail_at), 0, "-1", NULL, 0, 0, "failing batch"},
	{"fail_code", PARAM_INT, offsetof(struct fake_param, fail_code), 0, "4", NULL, 0, 0, "its status"},
	{"fail_reset", PARAM_BOOL, offsetof(struct fake_param, fail_reset), 0, "0", NULL, 0, 0, "reset fails"},
	{"delay_us", PARAM_INT, offsetof(struct fake_param, delay_us), 0, "0", NULL, 0, 0, "sleep per batch"},
	PARAM_END,
};
struct fake_iter {
	struct fake_param p;
	int epoch, pos;
};
static int fake_open(const void *param, void **impl)
{
	struct fake_iter *f = calloc(1, sizeof *f);
	f->p = *(const struct fake_param *)param;
	*impl = f;
	return MX_OK;
}
static void fake_close(void *impl) { free(impl); }
static void fake_shapes(void *impl, struct mx_shape *data, struct mx_shape *label)
{
	struct fake_iter *f = impl;
	*data = shape_make(2, (int64_t)f->p.batch_size, 2L);
	*label = shape_make(1, (int64_t)f->p.batch_size);
}
static int fake_reset(void *impl, int epoch)
{
	struct fake_iter *f = impl;
	if (f->p.fail_reset)
		return mx_error(MX_ERR_IO, "fake: cannot rewind");
	f->epoch = epoch;
	f->pos = 0;
	return MX_OK;
}
static int fake_next(void *impl, struct mx_tensor *data, struct mx_tensor *label, int *pad)
{
	struct fake_iter *f = impl;
	int b = f->p.batch_size;
	if (f->pos >= f->p.n)
		return MX_END;
	if (f->p.delay_us)
		usleep(f->p.delay_us);
	if (f->pos / b == f->p.fail_at)
		return mx_error(f->p.fail_code, "fake: bad record at byte %d", 100 + f->pos);
	for (int r = 0; r < b; r++) {
		tensor_f32(data)[2 * r] = (f->pos + r) % f->p.n;
		tensor_f32(data)[2 * r + 1] = f->epoch;
		tensor_f32(label)[r] = (f->pos + r) % f->p.n;
	}
	*pad = f->pos + b > f->p.n ? f->pos + b - f->p.n : 0;
	f->pos += b;
	return MX_OK;
}
static long fake_num_examples(void *impl) { return ((struct fake_iter *)impl)->p.n; }
static const struct iter_kind fake_kind = {
	.name = "fake", .params = fake_params, .param_size = sizeof(struct fake_param), .open = fake_open,
	.close = fake_close, .shapes = fake_shapes, .reset = fake_reset, .next = fake_next,
	.num_examples = fake_num_examples,
};

static struct data_iter *make_fake(const char *prefetch, const char *fail_at, const char *fail_code,
				   const char *delay_us)
{
	const char *keys[] = {"batch_size", "n", "prefetch_buffer", "fail_at", "fail_code", "delay_us"};
	const char *values[] = {"2", "10", prefetch, fail_at, fail_code, delay_us};
	struct data_iter *it;
	ck_ok(iter_create_with_kind(&fake_kind, keys, values, NULL, 6, "data.train", &it));
	return it;
}

START_TEST(an_error_in_the_prefetch_thread_comes_back_from_iter_next)
{
	const char *buffers[] = {"0", "1", "3"};
	for (int k = 0; k < 3; k++) {
		struct data_iter *it = make_fake(buffers[k], "2", "3", "0");
		struct data_batch b;
		for (int round = 0; round < 2; round++) {
			ck_ok(iter_reset(it, round));
			ck_assert_int_eq(iter_next(it, &b), MX_OK);
			ck_assert_int_eq(iter_next(it, &b), MX_OK);
			ck_assert_float_eq(tensor_f32(b.label)[1], 3.0f);
			ck_assert_float_eq(tensor_f32(b.data)[1], (float)round);
			ck_assert_int_eq(iter_next(it, &b), MX_ERR_IO);
			ck_assert_str_eq(mx_error_message(), "data.train: fake: bad record at byte 104");
			mx_error_clear();
			ck_assert_int_eq(iter_next(it, &b), MX_ERR_IO);   /* the error stays */
			ck_assert_str_eq(mx_error_message(), "data.train: fake: bad record at byte 104");
		}
		iter_free(it);
	}
}
END_TEST

START_TEST(a_failed_reset_is_reported_by_reset_and_by_next)
{
	const char *keys[] = {"batch_size", "fail_reset"};
	const char *values[] = {"2", "1"};
	struct data_iter *it;
	struct data_batch b;
	ck_ok(iter_create_with_kind(&fake_kind, keys, values, NULL, 2, "data.val", &it));
	ck_assert_int_eq(iter_reset(it, 0), MX_ERR_IO);
	ck_assert_str_eq(mx_error_message(), "data.val: fake: cannot rewind");
	ck_assert_int_eq(iter_next(it, &b), MX_ERR_IO);
	ck_assert_str_eq(mx_error_message(), "data.val: fake: cannot rewind");
	ck_assert_int_eq(iter_reset(it, -1), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "data.val: epoch -1 must be >= 0");
	ck_assert_int_eq(iter_next(it, &b), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "data.val: epoch -1 must be >= 0");
	iter_free(it);
}
END_TEST

START_TEST(reset_and_free_while_the_producer_is_busy_do_not_hang)
{
	for (int round = 0; round < 40; round++) {
		struct data_iter *it = make_fake(round % 2 ? "1" : "4", "-1", "3", "300");
		struct data_batch b;
		for (int e = 0; e < 3; e++) {
			ck_ok(iter_reset(it, e));
			for (int i = 0; i < (round + e) % 4; i++) {
				ck_assert_int_eq(iter_next(it, &b), MX_OK);
				ck_assert_float_eq(tensor_f32(b.data)[1], (float)e);   /* never a stale epoch */
				ck_assert_float_eq(tensor_f32(b.label)[0], (float)(2 * i));
			}
		}
		iter_free(it);
	}
}
END_TEST

START_TEST(fashion_mnist_t10k_has_10000_examples_and_first_label_9)
{
	const char *image = FASHION_DIR "/t10k-images-idx3-ubyte.gz", *label = FASHION_DIR "/t10k-labels-idx1-ubyte.gz";
	struct data_iter *it;
	struct data_batch b;
	unsigned char first[16 + 784];
	gzFile f;
	int rc, nb = 0;
	if (access(image, R_OK) || access(label, R_OK)) {
		fprintf(stderr, "check_data: skipped: %s not found (apt-get install dataset-fashion-mnist)\n", image);
		return;
	}
	f = gzopen(image, "rb");
	ck_assert_int_eq(gzread(f, first, sizeof first), (int)sizeof first);
	gzclose(f);
	ck_ok(make_iter(&it, "mnist", "image", image, "label", label, "batch_size", "100", "flat", "1", "silent",
			"1", NULL));
	ck_assert_int_eq(iter_num_examples(it), 10000);
	ck_ok(iter_reset(it, 0));
	while ((rc = iter_next(it, &b)) == MX_OK) {
		ck_assert_int_eq(b.pad, 0);
		if (nb++ == 0) {
			ck_assert_float_eq(tensor_f32(b.label)[0], 9.0f);
			for (int k = 0; k < 784; k++)
				ck_assert_float_eq(tensor_f32(b.data)[k], first[16 + k] / 256.0f);
		}
	}
	ck_assert_int_eq(rc, MX_END);
	ck_assert_int_eq(nb, 100);
	iter_free(it);
}
END_TEST

/* ---- the synthetic iterator ---- */

/* Reads epoch `epoch` of it into data (rows of per floats) and labels, padding rows
 * dropped; returns the number of examples. */
static long read_synthetic_epoch(struct data_iter *it, int epoch, long per, float *data, float *labels)
{
	struct data_batch b;
	long n = 0;
	int rc, bs = iter_batch_size(it);
	ck_ok(iter_reset(it, epoch));
	while ((rc = iter_next(it, &b)) == MX_OK) {
		int rows = bs - b.pad;
		memcpy(data + n * per, tensor_f32(b.data), rows * per * sizeof(float));
		memcpy(labels + n, tensor_f32(b.label), rows * sizeof(float));
		n += rows;
	}
	ck_assert_msg(rc == MX_END, "iter_next: %d %s", rc, mx_error_message());
	return n;
}

START_TEST(synthetic_gives_the_shapes_and_counts_asked_for_with_values_in_range)
{
	struct data_iter *it;
	struct data_batch b;
	struct mx_shape want = shape_make(3, 4L, 2L, 3L), ds, ls;
	int pads[3];
	ck_ok(make_iter(&it, "synthetic", "batch_size", "4", "data_shape", "(2, 3)", "num_examples", "10",
			"num_classes", "3", NULL));
	ds = iter_data_shape(it);
	ls = iter_label_shape(it);
	ck_assert(shape_equal(&ds, &want));
	ck_assert_int_eq(ls.ndim, 1);
	ck_assert_int_eq(ls.dim[0], 4);
	ck_assert_int_eq(iter_num_examples(it), 10);
	ck_ok(iter_reset(it, 0));
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(iter_next(it, &b), MX_OK);
		pads[k] = b.pad;
		for (int i = 0; i < 24; i++)
			ck_assert(tensor_f32(b.data)[i] >= -1.0f && tensor_f32(b.data)[i] < 1.0f);
		for (int i = 0; i < 4; i++) {
			float y = tensor_f32(b.label)[i];
			ck_assert_msg(y == (int)y && y >= 0 && y < 3, "label %g", y);
		}
	}
	ck_assert_int_eq(iter_next(it, &b), MX_END);
	ck_assert_int_eq(pads[0], 0);
	ck_assert_int_eq(pads[1], 0);
	ck_assert_int_eq(pads[2], 2);
	iter_free(it);
	/* num_examples defaults to ten batches */
	ck_ok(make_iter(&it, "synthetic", "batch_size", "7", "data_shape", "(3, 32, 32)", NULL));
	ck_assert_int_eq(iter_num_examples(it), 70);
	ds = iter_data_shape(it);
	want = shape_make(4, 7L, 3L, 32L, 32L);
	ck_assert(shape_equal(&ds, &want));
	iter_free(it);
}
END_TEST

START_TEST(synthetic_data_is_a_pure_function_of_seed_epoch_and_example)
{
	enum { N = 12, PER = 6 };
	static float a[N * PER], b[N * PER], c[N * PER], d[N * PER];
	float la[N], lb[N], lc[N], ld[N];
	struct data_iter *x, *y, *z;
	/* other batch sizes and prefetching give the same examples */
	ck_ok(make_iter(&x, "synthetic", "batch_size", "4", "data_shape", "(6)", "num_examples", "12", "seed", "7",
			"prefetch_buffer", "0", NULL));
	ck_ok(make_iter(&y, "synthetic", "batch_size", "5", "data_shape", "(6)", "num_examples", "12", "seed", "7",
			"prefetch_buffer", "3", NULL));
	ck_ok(make_iter(&z, "synthetic", "batch_size", "4", "data_shape", "(6)", "num_examples", "12", "seed", "8",
			NULL));
	ck_assert_int_eq(read_synthetic_epoch(x, 1, PER, a, la), N);
	ck_assert_int_eq(read_synthetic_epoch(y, 1, PER, b, lb), N);
	check_close("epoch 1, batch 5 vs 4", b, a, N * PER, 0, 0);
	check_close("labels", lb, la, N, 0, 0);
	/* another epoch and another seed differ, and so do the examples of one epoch */
	ck_assert_int_eq(read_synthetic_epoch(x, 2, PER, c, lc), N);
	ck_assert_int_eq(read_synthetic_epoch(z, 1, PER, d, ld), N);
	ck_assert(memcmp(a, c, sizeof a) != 0);
	ck_assert(memcmp(a, d, sizeof a) != 0);
	ck_assert(memcmp(a, a + PER, PER * sizeof(float)) != 0);
	/* an epoch read again is the same */
	ck_assert_int_eq(read_synthetic_epoch(x, 1, PER, c, lc), N);
	check_close("epoch 1 again", c, a, N * PER, 0, 0);
	iter_free(x);
	iter_free(y);
	iter_free(z);
}
END_TEST

START_TEST(synthetic_labels_are_uniform_over_the_classes_and_data_centred)
{
	enum { N = 5000, CLASSES = 5, PER = 4 };
	static float data[N * PER], labels[N];
	int count[CLASSES] = {0};
	double sum = 0;
	struct data_iter *it;
	ck_ok(make_iter(&it, "synthetic", "batch_size", "100", "data_shape", "(4)", "num_examples", "5000",
			"num_classes", "5", NULL));
	ck_assert_int_eq(read_synthetic_epoch(it, 0, PER, data, labels), N);
	for (int i = 0; i < N; i++)
		count[(int)labels[i]]++;
	/* each count is binomial(5000, 0.2): 1000 +- 28; 150 is over 5 standard deviations */
	for (int k = 0; k < CLASSES; k++)
		ck_assert_msg(count[k] > 850 && count[k] < 1150, "class %d drawn %d times of %d", k, count[k], N);
	for (int i = 0; i < N * PER; i++)
		sum += data[i];
	ck_assert_msg(fabs(sum / (N * PER)) < 0.02, "mean %g", sum / (N * PER)); /* sd of the mean: 0.0041 */
	iter_free(it);
}
END_TEST

START_TEST(synthetic_needs_a_data_shape_and_checks_its_keys)
{
	struct data_iter *it = NULL;
	ck_assert_int_eq(make_iter(&it, "synthetic", "batch_size", "4", NULL), MX_ERR_INVALID);
	ck_assert_msg(strstr(mx_error_message(), "data.train: iter \"synthetic\" needs the key \"data_shape\""),
		      "%s", mx_error_message());
	ck_assert_int_eq(make_iter(&it, "synthetic", "batch_size", "4", "data_shape", "(3, 0)", NULL), MX_ERR_INVALID);
	ck_assert_msg(strstr(mx_error_message(), "data_shape"), "%s", mx_error_message());
	ck_assert_int_eq(make_iter(&it, "synthetic", "batch_size", "4", "data_shape", "()", NULL), MX_ERR_INVALID);
	ck_assert_msg(strstr(mx_error_message(), "data_shape has 0 dimensions"), "%s", mx_error_message());
	ck_assert_int_eq(make_iter(&it, "synthetic", "batch_size", "4", "data_shape", "(3)", "num_class", "4", NULL),
			 MX_ERR_INVALID);
	ck_assert_msg(strstr(mx_error_message(), "unknown key \"num_class\" (did you mean \"num_classes\"?)"), "%s",
		      mx_error_message());
	ck_assert_int_eq(make_iter(&it, "synthtic", "batch_size", "4", NULL), MX_ERR_INVALID);
	ck_assert_msg(strstr(mx_error_message(), "(did you mean \"synthetic\"?)"), "%s", mx_error_message());
	ck_assert_ptr_null(it);
}
END_TEST

/* ---- the csv iterator ---- */

static void write_text(const char *path, const char *text, int gz)
{
	write_bytes(path, (const unsigned char *)text, strlen(text), gz);
}

/* Value k of row i in the generated csv files: distinct, with a fraction and a sign. */
static float csv_value(long i, long k) { return (float)(i * 10 + k) * (i % 2 ? -0.25f : 0.5f); }

/* Writes n rows of `width` values (csv_value) and, when label_path is not NULL, n labels
 * (i + 100). */
static void write_csv(const char *path, const char *label_path, long n, long width, int gz)
{
	size_t cap = (size_t)n * width * 16 + 16, len = 0;
	char *text = malloc(cap);
	for (long i = 0; i < n; i++)
		for (long k = 0; k < width; k++)
			len += snprintf(text + len, cap - len, "%g%s", csv_value(i, k), k + 1 < width ? "," : "\n");
	write_text(path, text, gz);
	if (label_path) {
		len = 0;
		for (long i = 0; i < n; i++)
			len += snprintf(text + len, cap - len, "%ld\n", i + 100);
		write_text(label_path, text, gz);
	}
	free(text);
}

/* Creates a csv iterator on tmp_path(data) (and label, when not NULL) with data_shape and
 * batch_size, plus more NULL-terminated key, value pairs. */
static int make_csv(struct data_iter **it, const char *data, const char *label, const char *shape,
		    const char *batch, ...)
{
	const char *keys[32], *values[32];
	char data_path[512], label_path[512];
	int n = 0;
	va_list ap;
	snprintf(data_path, sizeof data_path, "%s", tmp_path(data));
	keys[n] = "data_csv", values[n++] = data_path;
	if (label) {
		snprintf(label_path, sizeof label_path, "%s", tmp_path(label));
		keys[n] = "label_csv", values[n++] = label_path;
	}
	keys[n] = "data_shape", values[n++] = shape;
	keys[n] = "batch_size", values[n++] = batch;
	va_start(ap, batch);
	while ((keys[n] = va_arg(ap, const char *))) {
		values[n] = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	*it = (struct data_iter *)1;
	return iter_create("csv", keys, values, NULL, n, "data.train", it);
}

START_TEST(csv_rows_become_examples_of_data_shape_with_their_labels)
{
	struct data_iter *it;
	struct data_batch b;
	struct mx_shape ds, ls, want = shape_make(3, 2L, 2L, 3L);
	write_csv(tmp_path("d.csv"), tmp_path("l.csv"), 5, 6, 0);
	ck_ok(make_csv(&it, "d.csv", "l.csv", "(2, 3)", "2", NULL));
	ds = iter_data_shape(it);
	ls = iter_label_shape(it);
	ck_assert(shape_equal(&ds, &want));
	want = shape_make(1, 2L);   /* label_shape (1,): one label per example */
	ck_assert(shape_equal(&ls, &want));
	ck_assert_int_eq(iter_num_examples(it), 5);
	ck_ok(iter_reset(it, 0));
	for (int batch = 0; batch < 3; batch++) {
		float want_x[12], want_y[2];
		ck_assert_int_eq(iter_next(it, &b), MX_OK);
		for (int r = 0; r < 2; r++) {
			long i = (batch * 2 + r) % 5;   /* the last batch wraps to row 0 */
			want_y[r] = i + 100;
			for (int k = 0; k < 6; k++)
				want_x[r * 6 + k] = csv_value(i, k);
		}
		ck_assert_int_eq(b.pad, batch == 2 ? 1 : 0);
		check_close("data", tensor_f32(b.data), want_x, 12, 0, 0);
		check_close("label", tensor_f32(b.label), want_y, 2, 0, 0);
	}
	ck_assert_int_eq(iter_next(it, &b), MX_END);
	/* the next epoch starts again at row 0 (MXNet's round_batch would start at row 1) */
	ck_ok(iter_reset(it, 1));
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	ck_assert_float_eq(tensor_f32(b.label)[0], 100.0f);
	iter_free(it);
}
END_TEST

START_TEST(csv_values_parse_with_strtof_around_blanks_and_crlf)
{
	struct data_iter *it;
	struct data_batch b;
	const float want[8] = {1.5f, -2.0f, 3e-3f, 1e5f, 0.1f, -0.0f, 7.0f, 255.0f};
	write_text(tmp_path("d.csv"), " 1.5 ,-2,3e-3,\t1E5\r\n.1,-0.0 , +7,0xff\r\n", 0);
	ck_ok(make_csv(&it, "d.csv", NULL, "(4)", "2", NULL));
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	check_close("values", tensor_f32(b.data), want, 8, 0, 0);
	ck_assert_int_eq(b.pad, 0);
	iter_free(it);
}
END_TEST

START_TEST(csv_without_a_label_file_every_label_is_zero)
{
	struct data_iter *it, *null_it;
	struct data_batch b;
	const float zeros[3] = {0, 0, 0};
	write_csv(tmp_path("d.csv"), NULL, 3, 2, 0);
	ck_ok(make_csv(&it, "d.csv", NULL, "(2,)", "3", NULL));
	ck_ok(make_csv(&null_it, "d.csv", NULL, "(2,)", "3", "label_csv", "NULL", NULL));  /* MXNet's default */
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	check_close("labels", tensor_f32(b.label), zeros, 3, 0, 0);
	ck_assert_float_eq(tensor_f32(b.data)[5], csv_value(2, 1));
	ck_assert_int_eq(iter_next(null_it, &b), MX_OK);
	check_close("labels of label_csv = NULL", tensor_f32(b.label), zeros, 3, 0, 0);
	iter_free(it);
	iter_free(null_it);
}
END_TEST

START_TEST(csv_label_shape_gives_several_labels_per_example)
{
	struct data_iter *it;
	struct data_batch b;
	struct mx_shape ls, want = shape_make(2, 2L, 3L);
	const float want_y[6] = {1, 2, 3, 4, 5, 6};
	write_csv(tmp_path("d.csv"), NULL, 2, 4, 0);
	write_text(tmp_path("l.csv"), "1,2,3\n4,5,6\n", 0);
	ck_ok(make_csv(&it, "d.csv", "l.csv", "(4)", "2", "label_shape", "(3,)", NULL));
	ls = iter_label_shape(it);
	ck_assert(shape_equal(&ls, &want));
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	check_close("labels", tensor_f32(b.label), want_y, 6, 0, 0);
	iter_free(it);
}
END_TEST

START_TEST(csv_without_round_batch_the_filler_rows_are_zeros)
{
	struct data_iter *it;
	struct data_batch b;
	const float want_x[8] = {csv_value(4, 0), csv_value(4, 1), 0, 0, 0, 0, 0, 0};
	const float want_y[4] = {104, 0, 0, 0};
	write_csv(tmp_path("d.csv"), tmp_path("l.csv"), 5, 2, 0);
	ck_ok(make_csv(&it, "d.csv", "l.csv", "(2)", "4", "round_batch", "False", NULL));
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	ck_assert_int_eq(b.pad, 0);
	ck_assert_int_eq(iter_next(it, &b), MX_OK);
	ck_assert_int_eq(b.pad, 3);
	check_close("data", tensor_f32(b.data), want_x, 8, 0, 0);
	check_close("labels", tensor_f32(b.label), want_y, 4, 0, 0);
	ck_assert_int_eq(iter_next(it, &b), MX_END);
	iter_free(it);
}
END_TEST

START_TEST(csv_trailing_blank_lines_and_a_missing_last_newline_are_fine)
{
	struct data_iter *it;
	write_text(tmp_path("a.csv"), "1,2\n3,4\n\n  \r\n\n", 0);
	write_text(tmp_path("b.csv"), "1,2\n3,4", 0);
	write_text(tmp_path("l.csv"), "0\n1", 0);
	ck_ok(make_csv(&it, "a.csv", "l.csv", "(2)", "1", NULL));
	ck_assert_int_eq(iter_num_examples(it), 2);
	iter_free(it);
	ck_ok(make_csv(&it, "b.csv", "l.csv", "(2)", "1", NULL));
	ck_assert_int_eq(iter_num_examples(it), 2);
	iter_free(it);
}
END_TEST

START_TEST(csv_gzip_files_and_lines_longer_than_a_read_chunk_read_right)
{
	enum { N = 3, WIDTH = 20000 };   /* ~120 KB a line: lines span the 64 KB chunks */
	static float first[N * WIDTH];
	struct data_iter *raw, *gz;
	struct data_batch a, b;
	char shape[32];
	write_csv(tmp_path("d.csv"), tmp_path("l.csv"), N, WIDTH, 0);
	write_csv(tmp_path("d.csv.gz"), tmp_path("l.csv.gz"), N, WIDTH, 1);
	snprintf(shape, sizeof shape, "(%d)", WIDTH);
	ck_ok(make_csv(&raw, "d.csv", "l.csv", shape, "3", NULL));
	ck_ok(make_csv(&gz, "d.csv.gz", "l.csv.gz", shape, "3", NULL));
	ck_assert_int_eq(iter_next(raw, &a), MX_OK);
	ck_assert_int_eq(iter_next(gz, &b), MX_OK);
	for (long i = 0; i < N; i++)
		for (long k = 0; k < WIDTH; k++)
			first[i * WIDTH + k] = csv_value(i, k);
	check_close("raw", tensor_f32(a.data), first, N * WIDTH, 0, 1e-6);
	check_close("gzip", tensor_f32(b.data), tensor_f32(a.data), N * WIDTH, 0, 0);
	check_close("gzip labels", tensor_f32(b.label), tensor_f32(a.label), N, 0, 0);
	iter_free(raw);
	iter_free(gz);
}
END_TEST

START_TEST(csv_shuffle_and_parts_work_as_for_mnist)
{
	const long want_n[3] = {3, 3, 4};   /* floor(10 / 3 * k) = 0, 3, 6, 10, as MNISTIter */
	float e0[12], e1[12], again[12];
	int seen[10] = {0};
	struct data_iter *it;
	write_csv(tmp_path("d.csv"), tmp_path("l.csv"), 10, 3, 0);
	ck_ok(make_csv(&it, "d.csv", "l.csv", "(3)", "4", "shuffle", "True", "seed", "5", NULL));
	ck_assert_int_eq(read_epoch(it, 0, e0, NULL), 3);
	ck_assert_int_eq(read_epoch(it, 1, e1, NULL), 3);
	ck_assert_int_eq(read_epoch(it, 0, again, NULL), 3);
	check_close("epoch 0 twice", again, e0, 12, 0, 0);
	ck_assert_msg(memcmp(e0, e1, 10 * sizeof(float)), "epochs 0 and 1 have the same order");
	for (int i = 0; i < 10; i++) {
		e0[i] -= 100;
		e1[i] -= 100;
	}
	check_permutation(e0, 10);
	check_permutation(e1, 10);
	iter_free(it);
	for (int k = 0; k < 3; k++) {
		float labels[4];
		char index[8];
		snprintf(index, sizeof index, "%d", k);
		ck_ok(make_csv(&it, "d.csv", "l.csv", "(3)", "4", "num_parts", "3", "part_index", index, NULL));
		ck_assert_int_eq(iter_num_examples(it), want_n[k]);
		ck_assert_int_eq(read_epoch(it, 0, labels, NULL), 1);
		check_part_of_ten(labels, want_n[k], k, 100, seen, "row");
		iter_free(it);
	}
	for (int i = 0; i < 10; i++)
		ck_assert_msg(seen[i], "row %d is in no part", i);
}
END_TEST

/* want with each "@" replaced by the temporary directory, in buf. */
static const char *at_tmp(const char *want, char *buf, size_t size)
{
	size_t n = 0;
	for (; *want && n + strlen(tmpdir) + 1 < size; want++) {
		if (*want == '@')
			n += snprintf(buf + n, size - n, "%s", tmpdir);
		else
			buf[n++] = *want;
	}
	buf[n] = 0;
	return buf;
}

/* Asserts that a csv iterator fails with rc and a message holding want ("@" stands for
 * the temporary directory). */
#define ck_csv_fails(rc_want, want, ...) do { \
	struct data_iter *it_; \
	char want_[1200]; \
	int rc_ = make_csv(&it_, __VA_ARGS__, NULL); \
	at_tmp(want, want_, sizeof want_); \
	ck_assert_int_eq(rc_, rc_want); \
	ck_assert_ptr_null(it_); \
	ck_assert_msg(strstr(mx_error_message(), want_), "message \"%s\" lacks \"%s\"", mx_error_message(), want_); \
} while (0)

START_TEST(csv_a_row_of_the_wrong_length_names_file_line_and_counts)
{
	write_text(tmp_path("short.csv"), "1,2,3\n4,5,6\n7,8\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "data.train: @/short.csv:3: expected 3 values, found 2", "short.csv", NULL, "(3)", "1");
	write_text(tmp_path("long.csv"), "1,2,3,4\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/long.csv:1: expected 3 values, found 4", "long.csv", NULL, "(3)", "1");
	ck_csv_fails(MX_ERR_FORMAT, "@/long.csv:1: expected 6 values, found 4", "long.csv", NULL, "(2, 3)", "1");
	/* a blank line between rows is a row of no values */
	write_text(tmp_path("gap.csv"), "1,2,3\n\n4,5,6\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/gap.csv:2: expected 3 values, found 0", "gap.csv", NULL, "(3)", "1");
	/* the label file is held to label_shape */
	write_text(tmp_path("d.csv"), "1,2,3\n4,5,6\n", 0);
	write_text(tmp_path("l.csv"), "1\n2,3\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/l.csv:2: expected 1 values, found 2", "d.csv", "l.csv", "(3)", "1");
	ck_csv_fails(MX_ERR_FORMAT, "@/l.csv:1: expected 2 values, found 1", "d.csv", "l.csv", "(3)", "1",
		     "label_shape", "(2,)");
}
END_TEST

START_TEST(csv_a_value_that_is_not_a_finite_number_names_file_line_and_position)
{
	write_text(tmp_path("a.csv"), "1,2,3\n4,5,abc\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/a.csv:2: value 3 (\"abc\") is not a number", "a.csv", NULL, "(3)", "1");
	write_text(tmp_path("b.csv"), "1,,3\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/b.csv:1: value 2 (\"\") is not a number", "b.csv", NULL, "(3)", "1");
	write_text(tmp_path("c.csv"), "1,2.5.1,3\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/c.csv:1: value 2 (\"2.5.1\") is not a number", "c.csv", NULL, "(3)", "1");
	write_text(tmp_path("d.csv"), "1,2 3,4\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/d.csv:1: value 2 (\"2 3\") is not a number", "d.csv", NULL, "(3)", "1");
	write_text(tmp_path("e.csv"), "1,2,3\n1,nan,3\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/e.csv:2: value 2 (\"nan\") is not a finite float", "e.csv", NULL, "(3)", "1");
	write_text(tmp_path("f.csv"), "1e39,2,3\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/f.csv:1: value 1 (\"1e39\") is not a finite float", "f.csv", NULL, "(3)", "1");
	/* a header line is not data */
	write_text(tmp_path("h.csv"), "x,y,z\n1,2,3\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/h.csv:1: value 1 (\"x\") is not a number", "h.csv", NULL, "(3)", "1");
}
END_TEST

START_TEST(csv_files_of_different_lengths_name_both_counts)
{
	write_csv(tmp_path("d.csv"), NULL, 5, 2, 0);
	write_text(tmp_path("l.csv"), "0\n1\n2\n3\n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "data.train: @/d.csv: 5 rows but @/l.csv has 4", "d.csv", "l.csv", "(2)", "2");
	write_text(tmp_path("empty.csv"), "\n \n", 0);
	ck_csv_fails(MX_ERR_FORMAT, "@/empty.csv: no rows", "empty.csv", NULL, "(2)", "2");
	ck_csv_fails(MX_ERR_FORMAT, "@/empty.csv: no rows", "d.csv", "empty.csv", "(2)", "2");
}
END_TEST

START_TEST(csv_missing_files_keys_and_bad_shapes_are_errors)
{
	write_csv(tmp_path("d.csv"), tmp_path("l.csv"), 4, 2, 0);
	ck_csv_fails(MX_ERR_IO, "data.train: @/nope.csv: No such file or directory", "nope.csv", "l.csv", "(2)", "2");
	ck_csv_fails(MX_ERR_IO, "data.train: @/nope.csv: No such file or directory", "d.csv", "nope.csv", "(2)", "2");
	ck_csv_fails(MX_ERR_INVALID, "data.train: data_shape has 0 dimensions", "d.csv", "l.csv", "()", "2");
	ck_csv_fails(MX_ERR_INVALID, "data.train: data_shape = 0 is out of range", "d.csv", "l.csv", "(2, 0)", "2");
	ck_csv_fails(MX_ERR_INVALID, "label_shape = 0 is out of range", "d.csv", "l.csv", "(2)", "2",
		     "label_shape", "(0,)");
	ck_csv_fails(MX_ERR_INVALID, "data.train: part_index = 3 must be < num_parts = 3", "d.csv", "l.csv", "(2)",
		     "2", "num_parts", "3", "part_index", "3");
	ck_csv_fails(MX_ERR_INVALID, "part 0 of 5 of @/d.csv is empty (4 rows)", "d.csv", "l.csv", "(2)", "2",
		     "num_parts", "5");
	ck_csv_fails(MX_ERR_INVALID, "unknown key \"round_batches\" (did you mean \"round_batch\"?)", "d.csv", "l.csv",
		     "(2)", "2", "round_batches", "1");
	{
		struct data_iter *it = NULL;
		ck_assert_int_eq(make_iter(&it, "csv", "data_csv", tmp_path("d.csv"), "batch_size", "2", NULL),
				 MX_ERR_INVALID);
		ck_assert_msg(strstr(mx_error_message(), "data.train: iter \"csv\" needs the key \"data_shape\""), "%s",
			      mx_error_message());
		ck_assert_int_eq(make_iter(&it, "csv", "data_shape", "(2)", "batch_size", "2", NULL), MX_ERR_INVALID);
		ck_assert_msg(strstr(mx_error_message(), "needs the key \"data_csv\""), "%s", mx_error_message());
		ck_assert_ptr_null(it);
	}
	/* a gzip stream cut in the middle */
	{
		unsigned char gz[1 << 16];
		long n;
		FILE *f;
		write_csv(tmp_path("big.csv.gz"), NULL, 2000, 8, 1);
		f = fopen(tmp_path("big.csv.gz"), "rb");
		n = fread(gz, 1, sizeof gz, f);
		fclose(f);
		ck_assert_int_gt(n, 100);
		write_bytes(tmp_path("cut.csv.gz"), gz, n / 2, 0);
		ck_csv_fails(MX_ERR_FORMAT, "@/cut.csv.gz: bad gzip data after line", "cut.csv.gz", NULL, "(8)", "2");
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("data");
	TCase *mnist = tcase_create("mnist"), *thread = tcase_create("prefetch"), *errors = tcase_create("errors");
	TCase *synthetic = tcase_create("synthetic"), *csv = tcase_create("csv");
	mx_log_set_level(MX_LOG_WARN);
	tcase_add_checked_fixture(mnist, make_tmpdir, remove_tmpdir);
	tcase_add_checked_fixture(thread, make_tmpdir, remove_tmpdir);
	tcase_add_checked_fixture(errors, make_tmpdir, remove_tmpdir);
	tcase_set_timeout(mnist, 20);
	tcase_set_timeout(thread, 20);
	tcase_add_test(mnist, raw_idx_gives_pixels_over_256_and_float_labels);
	tcase_add_test(mnist, gzip_files_read_the_same_as_raw_ones);
	tcase_add_test(mnist, flat_gives_rows_times_cols_and_scale_multiplies_pixels);
	tcase_add_test(mnist, last_partial_batch_wraps_to_the_start_and_reports_pad);
	tcase_add_test(mnist, a_batch_larger_than_the_dataset_wraps_several_times);
	tcase_add_test(mnist, iter_next_without_reset_starts_epoch_zero);
	tcase_add_test(mnist, without_a_label_file_every_label_is_zero);
	tcase_add_test(mnist, shuffle_order_is_a_pure_function_of_seed_and_epoch);
	tcase_add_test(mnist, sharding_parts_are_disjoint_and_cover_the_whole_as_mxnet_splits);
	tcase_add_test(mnist, fashion_mnist_t10k_has_10000_examples_and_first_label_9);
	tcase_add_test(thread, prefetch_on_and_off_give_identical_batches);
	tcase_add_test(thread, reset_in_the_middle_of_an_epoch_restarts_it_cleanly);
	tcase_add_test(thread, freeing_mid_epoch_neither_hangs_nor_leaks);
	tcase_add_test(thread, an_error_in_the_prefetch_thread_comes_back_from_iter_next);
	tcase_add_test(thread, a_failed_reset_is_reported_by_reset_and_by_next);
	tcase_add_test(thread, reset_and_free_while_the_producer_is_busy_do_not_hang);
	tcase_add_test(errors, a_missing_file_names_the_file_and_the_reason);
	tcase_add_test(errors, a_bad_magic_is_reported_with_a_hint);
	tcase_add_test(errors, a_truncated_image_file_names_the_file_and_the_byte);
	tcase_add_test(errors, trailing_bytes_zero_dimensions_and_broken_gzip_are_errors);
	tcase_add_test(errors, a_label_count_mismatch_names_both_counts);
	tcase_add_test(errors, an_unknown_key_names_its_line_and_suggests_the_nearest);
	tcase_add_test(errors, an_unknown_iter_kind_suggests_the_nearest);
	tcase_add_test(errors, missing_keys_bad_values_and_bad_parts_are_errors);
	suite_add_tcase(s, mnist);
	suite_add_tcase(s, thread);
	tcase_add_test(synthetic, synthetic_gives_the_shapes_and_counts_asked_for_with_values_in_range);
	tcase_add_test(synthetic, synthetic_data_is_a_pure_function_of_seed_epoch_and_example);
	tcase_add_test(synthetic, synthetic_labels_are_uniform_over_the_classes_and_data_centred);
	tcase_add_test(synthetic, synthetic_needs_a_data_shape_and_checks_its_keys);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, synthetic);
	tcase_add_checked_fixture(csv, make_tmpdir, remove_tmpdir);
	tcase_set_timeout(csv, 20);
	tcase_add_test(csv, csv_rows_become_examples_of_data_shape_with_their_labels);
	tcase_add_test(csv, csv_values_parse_with_strtof_around_blanks_and_crlf);
	tcase_add_test(csv, csv_without_a_label_file_every_label_is_zero);
	tcase_add_test(csv, csv_label_shape_gives_several_labels_per_example);
	tcase_add_test(csv, csv_without_round_batch_the_filler_rows_are_zeros);
	tcase_add_test(csv, csv_trailing_blank_lines_and_a_missing_last_newline_are_fine);
	tcase_add_test(csv, csv_gzip_files_and_lines_longer_than_a_read_chunk_read_right);
	tcase_add_test(csv, csv_shuffle_and_parts_work_as_for_mnist);
	tcase_add_test(csv, csv_a_row_of_the_wrong_length_names_file_line_and_counts);
	tcase_add_test(csv, csv_a_value_that_is_not_a_finite_number_names_file_line_and_position);
	tcase_add_test(csv, csv_files_of_different_lengths_name_both_counts);
	tcase_add_test(csv, csv_missing_files_keys_and_bad_shapes_are_errors);
	suite_add_tcase(s, csv);
	return run_suite(s);
}
