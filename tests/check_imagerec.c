/* check_imagerec.c: the "imagerec" iterator (MXNet's ImageRecordIter): every key's effect on
 * lossless PNG records whose pixels say where they came from (R = 5x, G = 5y, B = 20 i),
 * labels from records, packed labels and .lst files, shuffling and augmentation that do not
 * depend on the thread count, sharding with and without an .idx, the last batch, corrupt
 * records, bad files and keys, and batches equal to MXNet 1.9.1's on the fixtures of
 * tests/peer/make_imagerec_fixtures.py (tests/fixtures/imagerec). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image.h"
#include "data/iter.h"
#include "data/recordio.h"
#include "log.h"
#include "testutil.h"

#define FIXDIR FIXTURES "/imagerec"

/* ---- writing .rec files ------------------------------------------------------------------ */

/* ITEM_NOISY_JPEG: the pattern with noise and edges in every channel (which JPEG's chroma
 * upsampling blends across columns and rows); ITEM_DAMAGED_JPEG: that, with a restart
 * marker out of place in its last rows' data (libjpeg warns, so it is corrupt). */
enum item_kind { ITEM_PNG = 0, ITEM_JPEG, ITEM_NOT_IMAGE, ITEM_TRUNCATED_JPEG, ITEM_NOISY_JPEG, ITEM_DAMAGED_JPEG };

struct item {
	int w, h, channels;       /* channels 0: 3 */
	enum item_kind kind;
	int n_labels;             /* 0: one label in the header */
	float label, labels[4];
	uint64_t id;
};

/* The pattern of image i: R = 5x, G = 5y, B = 20 i (mod 256); gray: (5x + 5y + 20 i) mod 256. */
static void pattern(struct image *img, int w, int h, int channels, int i)
{
	ck_ok(image_reserve(img, w, h, channels));
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			unsigned char *p = img->pixels + ((size_t)y * w + x) * channels;
			if (channels == 1) {
				p[0] = (unsigned char)((5 * x + 5 * y + 20 * i) & 255);
			} else {
				p[0] = (unsigned char)(5 * x);
				p[1] = (unsigned char)(5 * y);
				p[2] = (unsigned char)((20 * i) & 255);
			}
		}
}

/* Writes n items to rec_path (and their offsets to idx_path when not NULL); offsets[i]
 * gets each record's byte offset when not NULL. */
static void write_rec(const char *rec_path, const char *idx_path, int n, const struct item *items, long long *offsets)
{
	struct recordio_writer *w;
	struct recordio_index idx = {0};
	idx.keys = calloc(n ? n : 1, sizeof *idx.keys);
	idx.offsets = calloc(n ? n : 1, sizeof *idx.offsets);
	ck_ok(recordio_writer_open(rec_path, &w));
	for (int i = 0; i < n; i++) {
		const struct item *it = &items[i];
		struct image img = {0};
		struct image_record_header h = {0};
		unsigned char *content = NULL, *payload;
		size_t content_len = 0, size;
		int channels = it->channels ? it->channels : 3;
		pattern(&img, it->w, it->h, channels, (int)it->id);
		switch (it->kind) {
		case ITEM_PNG:
			ck_ok(image_encode(&img, IMAGE_PNG, 3, &content, &content_len));
			break;
		case ITEM_JPEG:
			ck_ok(image_encode(&img, IMAGE_JPEG, 90, &content, &content_len));
			break;
		case ITEM_TRUNCATED_JPEG:
			ck_ok(image_encode(&img, IMAGE_JPEG, 90, &content, &content_len));
			content_len /= 2;
			break;
		case ITEM_NOISY_JPEG:
		case ITEM_DAMAGED_JPEG: {
			uint32_t state = (uint32_t)it->id * 2654435761u + 1;
			for (size_t k = 0; k < (size_t)it->w * it->h * channels; k++) {
				int v = img.pixels[k] + (k / channels % 7 == 0 ? 128 : 0);
				state = state * 1664525u + 1013904223u;
				img.pixels[k] = (unsigned char)(v + (int)(state >> 27));
			}
			ck_ok(image_encode(&img, IMAGE_JPEG, 90, &content, &content_len));
			if (it->kind == ITEM_DAMAGED_JPEG)
				content[content_len - 12] = 0xff, content[content_len - 11] = 0xd5;
			break;
		}
		case ITEM_NOT_IMAGE:
			content = (unsigned char *)strdup("this is not an image, just some text");
			content_len = strlen((char *)content);
			break;
		}
		h.flag = (uint32_t)it->n_labels;
		h.label = it->n_labels ? 0 : it->label;
		h.id = it->id;
		size = image_record_packed_size(&h, content_len);
		payload = malloc(size);
		ck_assert_uint_eq(image_record_pack(&h, it->labels, content, content_len, payload), size);
		idx.keys[i] = it->id;
		idx.offsets[i] = recordio_writer_tell(w);
		if (offsets)
			offsets[i] = idx.offsets[i];
		ck_ok(recordio_write(w, payload, size));
		free(payload);
		free(content);
		image_free(&img);
	}
	ck_ok(recordio_writer_close(w));
	idx.n = n;
	if (idx_path)
		ck_ok(recordio_index_write(idx_path, &idx));
	free(idx.keys);
	free(idx.offsets);
}

/* n PNG records of w x h, label i and id i. */
static void write_simple(const char *rec_path, const char *idx_path, int n, int w, int h)
{
	struct item *items = calloc(n, sizeof *items);
	for (int i = 0; i < n; i++)
		items[i] = (struct item){.w = w, .h = h, .label = (float)i, .id = (uint64_t)i};
	write_rec(rec_path, idx_path, n, items, NULL);
	free(items);
}

/* ---- running the iterator ------------------------------------------------------------------ */

/* Creates an imagerec iterator from "key=value;key=value" (values may hold commas). */
static int open_iter(struct data_iter **it, const char *spec)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	const char *keys[96], *values[96];
	int n = 0, rc;
	for (tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(tok, '=');
		ck_assert_ptr_nonnull(eq);
		*eq = 0;
		while (*tok == ' ')
			tok++;
		keys[n] = tok;
		values[n] = eq + 1;
		n++;
	}
	rc = iter_create("imagerec", keys, values, NULL, n, NULL, it);
	free(copy);
	return rc;
}

struct epoch {
	int rows, batches, per, lw;
	float *data, *label;
	int pads[256];
};

static void free_epoch(struct epoch *e)
{
	free(e->data);
	free(e->label);
	memset(e, 0, sizeof *e);
}

/* Reads epoch `epoch` whole: every row of every batch, pads included. */
static void read_epoch(struct data_iter *it, int epoch, struct epoch *e)
{
	struct data_batch b;
	struct mx_shape ds = iter_data_shape(it), ls = iter_label_shape(it);
	int B = (int)ds.dim[0], rc;
	memset(e, 0, sizeof *e);
	e->per = (int)(shape_size(&ds) / B);
	e->lw = (int)(shape_size(&ls) / B);
	ck_ok(iter_reset(it, epoch));
	while ((rc = iter_next(it, &b)) == MX_OK) {
		ck_assert_int_lt(e->batches, 256);
		e->data = realloc(e->data, (size_t)(e->rows + B) * e->per * sizeof(float));
		e->label = realloc(e->label, (size_t)(e->rows + B) * e->lw * sizeof(float));
		memcpy(e->data + (size_t)e->rows * e->per, tensor_f32(b.data), (size_t)B * e->per * sizeof(float));
		memcpy(e->label + (size_t)e->rows * e->lw, tensor_f32(b.label), (size_t)B * e->lw * sizeof(float));
		e->pads[e->batches++] = b.pad;
		e->rows += B;
	}
	ck_assert_msg(rc == MX_END, "iter_next: %s", mx_error_message());
}

static struct epoch run_epoch(const char *spec, int epoch)
{
	struct data_iter *it;
	struct epoch e;
	ck_ok(open_iter(&it, spec));
	read_epoch(it, epoch, &e);
	iter_free(it);
	return e;
}

/* Value of channel k at (y, x) of row r of a (C, H, W) epoch. */
static float at(const struct epoch *e, int r, int C, int H, int W, int k, int y, int x)
{
	(void)C;
	return e->data[(size_t)r * e->per + ((size_t)k * H + y) * W + x];
}

/* run_epoch with stderr caught in a file, to check the iterator's warnings: *log gets
 * what it wrote (the caller frees it); with log NULL that is dropped. */
static struct epoch run_epoch_logged(const char *spec, int epoch, char **log)
{
	char path[600];
	struct epoch e;
	size_t size;
	int fd, saved;
	snprintf(path, sizeof path, "%s/stderr.txt", tmpdir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	e = run_epoch(spec, epoch);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (log)
		*log = (char *)slurp(path, &size);
	return e;
}
#define SPEC_MAX 2048

/* ---- crops, mirrors, normalisation, resizing ----------------------------------------------- */

START_TEST(center_crop_takes_the_middle_of_the_image)
{
	char spec[SPEC_MAX];
	struct epoch e;
	write_simple(tmp_path("c.rec"), NULL, 3, 40, 30);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 10, 20);batch_size=3;verbose=false", tmp_path("c.rec"));
	e = run_epoch(spec, 0);
	ck_assert_int_eq(e.rows, 3);
	/* x0 = (40 - 20) / 2 = 10, y0 = (30 - 10) / 2 = 10 */
	for (int r = 0; r < 3; r++)
		for (int y = 0; y < 10; y++)
			for (int x = 0; x < 20; x++) {
				ck_assert_float_eq(at(&e, r, 3, 10, 20, 0, y, x), 5 * (x + 10));
				ck_assert_float_eq(at(&e, r, 3, 10, 20, 1, y, x), 5 * (y + 10));
				ck_assert_float_eq(at(&e, r, 3, 10, 20, 2, y, x), 20 * r);
			}
	ck_assert_float_eq(e.label[2], 2);
	free_epoch(&e);
}
END_TEST

START_TEST(rand_crop_picks_places_inside_the_image_that_vary)
{
	char spec[SPEC_MAX];
	struct epoch e;
	int seen_x[21] = {0}, seen_y[11] = {0}, distinct = 0;
	write_simple(tmp_path("c.rec"), NULL, 30, 40, 30);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 20, 20);batch_size=10;rand_crop=true;seed=3;verbose=0",
		 tmp_path("c.rec"));
	e = run_epoch(spec, 0);
	for (int r = 0; r < 30; r++) {
		int x0 = (int)at(&e, r, 3, 20, 20, 0, 0, 0) / 5, y0 = (int)at(&e, r, 3, 20, 20, 1, 0, 0) / 5;
		ck_assert_int_le(x0, 20);
		ck_assert_int_le(y0, 10);
		/* a crop, not a resize: neighbours stay 5 apart */
		ck_assert_float_eq(at(&e, r, 3, 20, 20, 0, 19, 19), 5 * (x0 + 19));
		ck_assert_float_eq(at(&e, r, 3, 20, 20, 1, 19, 19), 5 * (y0 + 19));
		distinct += !seen_x[x0]++;
		seen_y[y0]++;
	}
	ck_assert_int_ge(distinct, 5);
	free_epoch(&e);
}
END_TEST

START_TEST(mirror_flips_every_image_and_rand_mirror_about_half)
{
	char spec[SPEC_MAX];
	struct epoch e;
	int flipped = 0;
	write_simple(tmp_path("m.rec"), NULL, 40, 16, 8);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 16);batch_size=8;mirror=true;verbose=0",
		 tmp_path("m.rec"));
	e = run_epoch(spec, 0);
	for (int r = 0; r < 40; r++)
		for (int x = 0; x < 16; x++)
			ck_assert_float_eq(at(&e, r, 3, 8, 16, 0, 3, x), 5 * (15 - x));
	free_epoch(&e);

	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 16);batch_size=8;rand_mirror=true;verbose=0",
		 tmp_path("m.rec"));
	e = run_epoch(spec, 0);
	for (int r = 0; r < 40; r++) {
		float first = at(&e, r, 3, 8, 16, 0, 0, 0);
		ck_assert(first == 0 || first == 75);
		flipped += first == 75;
		ck_assert_float_eq(at(&e, r, 3, 8, 16, 0, 0, 15), 75 - first);
	}
	ck_assert_int_ge(flipped, 10);
	ck_assert_int_le(flipped, 30);
	free_epoch(&e);
}
END_TEST

START_TEST(mean_std_and_scale_give_pixel_minus_mean_over_std_times_scale)
{
	char spec[SPEC_MAX];
	struct epoch e;
	write_simple(tmp_path("n.rec"), NULL, 2, 8, 8);
	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=2;verbose=0;mean_r=10;mean_g=20;mean_b=5;"
		 "std_r=2;std_g=4;std_b=0.5;scale=0.25", tmp_path("n.rec"));
	e = run_epoch(spec, 0);
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 8; x++) {
			ck_assert_float_eq_tol(at(&e, 1, 3, 8, 8, 0, y, x), (5.0 * x - 10) / 2 * 0.25, 1e-5);
			ck_assert_float_eq_tol(at(&e, 1, 3, 8, 8, 1, y, x), (5.0 * y - 20) / 4 * 0.25, 1e-5);
			ck_assert_float_eq_tol(at(&e, 1, 3, 8, 8, 2, y, x), (20.0 - 5) / 0.5 * 0.25, 1e-5);
		}
	free_epoch(&e);
}
END_TEST

START_TEST(resize_scales_the_shorter_side_before_cropping)
{
	char spec[SPEC_MAX];
	struct epoch e;
	/* 40x20 -> resize 10 -> 20x10; the crop (10, 20) is all of it */
	write_simple(tmp_path("r.rec"), NULL, 1, 40, 20);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 10, 20);batch_size=1;resize=10;verbose=0",
		 tmp_path("r.rec"));
	e = run_epoch(spec, 0);
	/* bilinear halving with centres at +0.5 samples source x = 2j + 0.5: R = 10j + 2.5 */
	for (int j = 0; j < 20; j++)
		ck_assert_float_eq_tol(at(&e, 0, 3, 10, 20, 0, 4, j), 10 * j + 2.5, 1.0);
	for (int i = 0; i < 10; i++)
		ck_assert_float_eq_tol(at(&e, 0, 3, 10, 20, 1, i, 7), 10 * i + 2.5, 1.0);
	free_epoch(&e);

	/* inter_method = 0 (nearest) takes source pixels */
	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;data_shape=(3, 10, 20);batch_size=1;resize=10;inter_method=0;verbose=0",
		 tmp_path("r.rec"));
	e = run_epoch(spec, 0);
	for (int j = 0; j < 20; j++) {
		float v = at(&e, 0, 3, 10, 20, 0, 4, j);
		ck_assert_float_eq(v, 10 * j);   /* OpenCV's nearest: source x = floor(2 j) */
	}
	free_epoch(&e);
}
END_TEST

START_TEST(an_image_smaller_than_data_shape_is_scaled_up_keeping_its_aspect)
{
	char spec[SPEC_MAX];
	struct epoch e;
	/* 10x8 into (16, 16): height 8 -> 16 gives 20x16, then the middle 16 columns */
	write_simple(tmp_path("s.rec"), NULL, 1, 10, 8);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 16, 16);batch_size=1;verbose=0", tmp_path("s.rec"));
	e = run_epoch(spec, 0);
	/* doubled: source x = (j + 2 + 0.5) / 2 - 0.5 for output column j of the crop at x0 = 2 */
	for (int j = 1; j < 15; j++)
		ck_assert_float_eq_tol(at(&e, 0, 3, 16, 16, 0, 5, j), 5 * ((j + 2 + 0.5) / 2 - 0.5), 1.0);
	free_epoch(&e);
}
END_TEST

START_TEST(one_channel_data_shape_decodes_gray)
{
	char spec[SPEC_MAX];
	struct epoch e;
	struct item items[2] = {{.w = 12, .h = 12, .channels = 1, .id = 0}, {.w = 12, .h = 12, .channels = 1, .id = 1, .label = 1}};
	write_rec(tmp_path("g.rec"), NULL, 2, items, NULL);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(1, 12, 12);batch_size=2;verbose=0;scale=0.00390625",
		 tmp_path("g.rec"));
	e = run_epoch(spec, 0);
	ck_assert_int_eq(e.per, 144);
	for (int y = 0; y < 12; y++)
		for (int x = 0; x < 12; x++)
			ck_assert_float_eq_tol(at(&e, 1, 1, 12, 12, 0, y, x), ((5 * x + 5 * y + 20) & 255) / 256.0, 1e-6);
	free_epoch(&e);
}
END_TEST

/* ---- augmenters --------------------------------------------------------------------------- */

START_TEST(random_scale_shrinks_the_image_around_its_centre)
{
	char spec[SPEC_MAX];
	struct epoch e;
	/* scale 0.5 of 40x40 -> 20x20 (source x = 2 x'), then the middle 10x10: x' = 5 is x = 10 */
	write_simple(tmp_path("a.rec"), NULL, 1, 40, 40);
	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;data_shape=(3, 10, 10);batch_size=1;verbose=0;max_random_scale=0.5;min_random_scale=0.5",
		 tmp_path("a.rec"));
	e = run_epoch(spec, 0);
	for (int j = 0; j < 10; j++) {
		ck_assert_float_eq_tol(at(&e, 0, 3, 10, 10, 0, 3, j), 5 * 2 * (j + 5), 1.0);
		ck_assert_float_eq_tol(at(&e, 0, 3, 10, 10, 1, j, 3), 5 * 2 * (j + 5), 1.0);
	}
	free_epoch(&e);
}
END_TEST

START_TEST(pad_surrounds_the_image_with_fill_value)
{
	char spec[SPEC_MAX];
	struct epoch e;
	write_simple(tmp_path("p.rec"), NULL, 1, 10, 10);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 18, 18);batch_size=1;verbose=0;pad=4;fill_value=7",
		 tmp_path("p.rec"));
	e = run_epoch(spec, 0);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 18; i++) {
			ck_assert_float_eq(at(&e, 0, 3, 18, 18, k, 0, i), 7);
			ck_assert_float_eq(at(&e, 0, 3, 18, 18, k, i, 0), 7);
			ck_assert_float_eq(at(&e, 0, 3, 18, 18, k, 17, i), 7);
		}
	ck_assert_float_eq(at(&e, 0, 3, 18, 18, 0, 5, 5), 5 * 1);
	ck_assert_float_eq(at(&e, 0, 3, 18, 18, 1, 8, 5), 5 * 4);
	free_epoch(&e);
}
END_TEST

START_TEST(crop_size_and_random_resized_crop_give_data_shape_from_a_part)
{
	char spec[SPEC_MAX];
	struct epoch e;
	write_simple(tmp_path("q.rec"), NULL, 4, 40, 40);
	/* a centred 20x20 square (x0 = 10) resized to 10x10: R about 10 j + 52.5 */
	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;data_shape=(3, 10, 10);batch_size=4;verbose=0;max_crop_size=20;min_crop_size=20",
		 tmp_path("q.rec"));
	e = run_epoch(spec, 0);
	for (int j = 0; j < 10; j++)
		ck_assert_float_eq_tol(at(&e, 0, 3, 10, 10, 0, 2, j), 50 + 10 * j + 2.5, 1.0);
	free_epoch(&e);

	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;data_shape=(3, 10, 10);batch_size=4;verbose=0;random_resized_crop=true;"
		 "min_random_area=0.2;max_random_area=0.5;max_aspect_ratio=0.25;seed=1", tmp_path("q.rec"));
	e = run_epoch(spec, 0);
	for (int r = 0; r < 4; r++) {
		/* a part of the image, stretched: R grows along x by more than 5 * 40 / 10 / 2 per column */
		float step = (at(&e, r, 3, 10, 10, 0, 5, 9) - at(&e, r, 3, 10, 10, 0, 5, 0)) / 9;
		ck_assert_float_gt(step, 5.0);
		ck_assert_float_lt(step, 20.0 * 1.01);
	}
	free_epoch(&e);
}
END_TEST

START_TEST(rotation_shear_and_colour_augmenters_change_images_the_same_way_each_time)
{
	static const char *const augs[] = {"max_rotate_angle=30", "rotate=90", "max_shear_ratio=0.3",
					   "max_aspect_ratio=0.3", "brightness=0.4", "contrast=0.4", "saturation=0.4",
					   "random_h=20;random_s=20;random_l=20", "pca_noise=0.5",
					   "max_random_contrast=0.3", "max_random_illumination=20", "inter_method=10;resize=30",
					   "inter_method=9;resize=50", "max_img_size=20"};
	char spec[SPEC_MAX];
	struct epoch plain, a, b;
	struct item items[6];
	for (int i = 0; i < 6; i++)
		items[i] = (struct item){.w = 40, .h = 40, .kind = ITEM_JPEG, .id = (uint64_t)i, .label = (float)i};
	write_rec(tmp_path("x.rec"), NULL, 6, items, NULL);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 24, 24);batch_size=3;verbose=0", tmp_path("x.rec"));
	plain = run_epoch(spec, 0);
	for (size_t k = 0; k < sizeof augs / sizeof *augs; k++) {
		double diff = 0;
		snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 24, 24);batch_size=3;verbose=0;seed=5;%s",
			 tmp_path("x.rec"), augs[k]);
		a = run_epoch(spec, 2);
		b = run_epoch(spec, 2);
		ck_assert_int_eq(a.rows, 6);
		ck_assert_msg(!memcmp(a.data, b.data, (size_t)a.rows * a.per * sizeof(float)), "%s: not reproducible", augs[k]);
		for (long i = 0; i < (long)a.rows * a.per; i++)
			diff += fabs(a.data[i] - plain.data[i]);
		ck_assert_msg(diff / ((double)a.rows * a.per) > 0.5, "%s: no effect (mean |diff| %g)", augs[k],
			      diff / ((double)a.rows * a.per));
		free_epoch(&a);
		free_epoch(&b);
	}
	free_epoch(&plain);
}
END_TEST

START_TEST(fast_decode_gives_nearly_the_same_images)
{
	char spec[SPEC_MAX];
	struct epoch a, b;
	double diff = 0;
	struct item items[2];
	for (int i = 0; i < 2; i++)
		items[i] = (struct item){.w = 48, .h = 48, .kind = ITEM_JPEG, .id = (uint64_t)i};
	write_rec(tmp_path("f.rec"), NULL, 2, items, NULL);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 12, 12);batch_size=2;verbose=0;resize=12",
		 tmp_path("f.rec"));
	a = run_epoch(spec, 0);
	strcat(spec, ";fast_decode=true");
	b = run_epoch(spec, 0);
	for (long i = 0; i < (long)a.rows * a.per; i++)
		diff = fmax(diff, fabs(a.data[i] - b.data[i]));
	ck_assert_msg(diff > 0 && diff < 24, "max |diff| %g", diff);
	free_epoch(&a);
	free_epoch(&b);
}
END_TEST

/* ---- labels ------------------------------------------------------------------------------ */

START_TEST(packed_labels_fill_label_width_columns)
{
	char spec[SPEC_MAX];
	struct epoch e;
	struct data_iter *it;
	struct item items[3];
	for (int i = 0; i < 3; i++)
		items[i] = (struct item){.w = 8, .h = 8, .id = (uint64_t)i, .n_labels = 3,
					 .labels = {(float)i, 10.f + i, 0.5f * i}};
	write_rec(tmp_path("l.rec"), NULL, 3, items, NULL);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=3;label_width=3;verbose=0",
		 tmp_path("l.rec"));
	ck_ok(open_iter(&it, spec));
	ck_assert_int_eq(iter_label_shape(it).ndim, 2);
	ck_assert_int_eq(iter_label_shape(it).dim[1], 3);
	read_epoch(it, 0, &e);
	iter_free(it);
	for (int i = 0; i < 3; i++) {
		ck_assert_float_eq(e.label[3 * i], i);
		ck_assert_float_eq(e.label[3 * i + 1], 10 + i);
		ck_assert_float_eq(e.label[3 * i + 2], 0.5f * i);
	}
	free_epoch(&e);

	/* label_width 1 with 3 packed labels is an error naming the record */
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=3;verbose=0;prefetch_buffer=0",
		 tmp_path("l.rec"));
	ck_ok(open_iter(&it, spec));
	{
		struct data_batch b;
		ck_assert_int_eq(iter_next(it, &b), MX_ERR_FORMAT);
		ck_assert_ptr_nonnull(strstr(mx_error_message(), "l.rec: record at byte 0: the record has 3 labels but label_width = 1"));
	}
	iter_free(it);
}
END_TEST

START_TEST(an_image_list_replaces_the_labels_by_image_id)
{
	char spec[SPEC_MAX];
	struct epoch e;
	struct data_iter *it;
	struct data_batch b;
	write_simple(tmp_path("i.rec"), NULL, 4, 8, 8);
	/* ids out of order, an extra column (the path), a repeated id (the last wins) */
	spit_text(tmp_path("i.lst"), "2\t7.5\t-1\ta/2.jpg\n0\t1\t2\tb.jpg\n\n1 3 4 c.jpg\n3\t5\t6\n2\t8\t9\td.jpg\n");
	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;path_imglist=%s;data_shape=(3, 8, 8);batch_size=4;label_width=2;verbose=0",
		 tmp_path("i.rec"), tmp_path("i.lst"));
	e = run_epoch(spec, 0);
	{
		const float want[8] = {1, 2, 3, 4, 8, 9, 5, 6};
		for (int i = 0; i < 8; i++)
			ck_assert_float_eq(e.label[i], want[i]);
	}
	free_epoch(&e);

	/* an id the list lacks */
	spit_text(tmp_path("j.lst"), "0\t1\n1\t1\n3\t1\n");
	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;path_imglist=%s;data_shape=(3, 8, 8);batch_size=4;verbose=0;prefetch_buffer=0",
		 tmp_path("i.rec"), tmp_path("j.lst"));
	ck_ok(open_iter(&it, spec));
	ck_assert_int_eq(iter_next(it, &b), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "image id 2 is not in"));
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "j.lst"));
	iter_free(it);

	/* a line without enough labels */
	spit_text(tmp_path("k.lst"), "0\t1\t2\n1\t1\tx.jpg\n");
	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;path_imglist=%s;data_shape=(3, 8, 8);batch_size=4;label_width=2;verbose=0",
		 tmp_path("i.rec"), tmp_path("k.lst"));
	ck_assert_int_eq(open_iter(&it, spec), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "k.lst:2: expected 2 labels after the index, column 3 is not a number"));
}
END_TEST

/* ---- order, threads, parts ----------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

START_TEST(shuffle_order_depends_only_on_seed_and_epoch)
{
	char spec[SPEC_MAX];
	struct epoch a, b, c, d;
	float sorted[40];
	write_simple(tmp_path("o.rec"), NULL, 40, 8, 8);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=8;shuffle=true;seed=9;verbose=0",
		 tmp_path("o.rec"));
	a = run_epoch(spec, 1);
	b = run_epoch(spec, 1);
	c = run_epoch(spec, 2);
	ck_assert(!memcmp(a.label, b.label, 40 * sizeof(float)));
	ck_assert(memcmp(a.label, c.label, 40 * sizeof(float)));
	memcpy(sorted, a.label, sizeof sorted);
	qsort(sorted, 40, sizeof *sorted, cmp_float);
	for (int i = 0; i < 40; i++)
		ck_assert_float_eq(sorted[i], i);
	/* each row's image is its label's image */
	for (int r = 0; r < 40; r++)
		ck_assert_float_eq(at(&a, r, 3, 8, 8, 2, 0, 0), (20 * (int)a.label[r]) & 255);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=8;verbose=0", tmp_path("o.rec"));
	d = run_epoch(spec, 1);
	for (int i = 0; i < 40; i++)
		ck_assert_float_eq(d.label[i], i);
	free_epoch(&a);
	free_epoch(&b);
	free_epoch(&c);
	free_epoch(&d);
}
END_TEST

START_TEST(batches_are_the_same_for_one_two_and_three_threads)
{
	char spec[SPEC_MAX];
	struct epoch e[3];
	struct item items[23];
	for (int i = 0; i < 23; i++)
		items[i] = (struct item){.w = 30 + i % 7, .h = 26 + i % 5, .kind = i % 3 ? ITEM_JPEG : ITEM_PNG,
					 .id = (uint64_t)i, .label = (float)i};
	items[6].kind = ITEM_NOT_IMAGE;
	write_rec(tmp_path("t.rec"), NULL, 23, items, NULL);
	for (int t = 0; t < 3; t++) {
		snprintf(spec, sizeof spec,
			 "path_imgrec=%s;data_shape=(3, 20, 20);batch_size=5;shuffle=true;seed=4;rand_crop=true;"
			 "rand_mirror=true;max_random_scale=1.2;min_random_scale=0.8;max_rotate_angle=10;brightness=0.2;"
			 "verbose=0;preprocess_threads=%d;prefetch_buffer=%d", tmp_path("t.rec"), t + 1, t);
		e[t] = run_epoch_logged(spec, 3, NULL);
	}
	ck_assert_int_eq(e[0].rows, 25);
	ck_assert_int_eq(e[0].pads[4], 3);   /* 22 good images */
	for (int t = 1; t < 3; t++) {
		ck_assert_int_eq(e[t].rows, e[0].rows);
		ck_assert_msg(!memcmp(e[t].data, e[0].data, (size_t)e[0].rows * e[0].per * sizeof(float)),
			      "%d threads differ from 1", t + 1);
		ck_assert(!memcmp(e[t].label, e[0].label, (size_t)e[0].rows * sizeof(float)));
	}
	for (int t = 0; t < 3; t++)
		free_epoch(&e[t]);
}
END_TEST

/* Labels of part k of N (batch 1), or -1 rows when the part is empty. */
static int part_labels(const char *rec, const char *idx, int k, int N, float *labels)
{
	char spec[SPEC_MAX];
	struct data_iter *it;
	struct epoch e;
	int rc, n;
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=1;verbose=0;num_parts=%d;part_index=%d%s%s",
		 rec, N, k, idx ? ";path_imgidx=" : "", idx ? idx : "");
	rc = open_iter(&it, spec);
	if (rc) {
		ck_assert_msg(strstr(mx_error_message(), "holds no records") != NULL, "%s", mx_error_message());
		return 0;
	}
	ck_assert_int_eq(iter_num_examples(it), 0 + (long)iter_num_examples(it));
	read_epoch(it, 0, &e);
	ck_assert_int_eq(e.rows, iter_num_examples(it));
	n = e.rows;
	memcpy(labels, e.label, n * sizeof(float));
	free_epoch(&e);
	iter_free(it);
	return n;
}

START_TEST(parts_cover_every_record_once_with_and_without_an_index)
{
	enum { N_REC = 23 };
	struct item items[N_REC];
	float labels[N_REC], scanned[N_REC];
	for (int i = 0; i < N_REC; i++)
		items[i] = (struct item){.w = 8 + (i * 7) % 13, .h = 8 + (i * 5) % 11, .id = (uint64_t)i, .label = (float)i};
	write_rec(tmp_path("scan.rec"), NULL, N_REC, items, NULL);
	write_rec(tmp_path("beside.rec"), tmp_path("beside.idx"), N_REC, items, NULL);
	for (int N = 1; N <= 7; N++) {
		int seen[3][N_REC] = {{0}};
		for (int k = 0; k < N; k++) {
			int n_scan = part_labels(tmp_path("scan.rec"), NULL, k, N, scanned);
			int n_beside = part_labels(tmp_path("beside.rec"), NULL, k, N, labels);
			int n_idx, nstep = (N_REC + N - 1) / N, want_idx;
			/* an .idx found beside the .rec gives MXNet's byte-range parts, as a scan does */
			ck_assert_int_eq(n_beside, n_scan);
			for (int i = 0; i < n_scan; i++) {
				ck_assert_float_eq(labels[i], scanned[i]);
				seen[0][(int)scanned[i]]++;
				seen[1][(int)labels[i]]++;
			}
			/* path_imgidx gives parts by record count: ceil(n / N) each */
			n_idx = part_labels(tmp_path("beside.rec"), tmp_path("beside.idx"), k, N, labels);
			want_idx = k * nstep >= N_REC ? 0 : (k + 1) * nstep > N_REC ? N_REC - k * nstep : nstep;
			ck_assert_int_eq(n_idx, want_idx);
			for (int i = 0; i < n_idx; i++) {
				ck_assert_float_eq(labels[i], k * nstep + i);
				seen[2][(int)labels[i]]++;
			}
		}
		for (int m = 0; m < 3; m++)
			for (int i = 0; i < N_REC; i++)
				ck_assert_msg(seen[m][i] == 1, "num_parts %d, mode %d: record %d read %d times", N, m, i, seen[m][i]);
	}
}
END_TEST

START_TEST(the_last_batch_wraps_to_the_start_or_is_zero_filled)
{
	char spec[SPEC_MAX];
	struct epoch e;
	struct data_iter *it;
	write_simple(tmp_path("w.rec"), NULL, 10, 8, 8);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=4;verbose=0", tmp_path("w.rec"));
	ck_ok(open_iter(&it, spec));
	ck_assert_int_eq(iter_num_examples(it), 10);
	read_epoch(it, 0, &e);
	iter_free(it);
	ck_assert_int_eq(e.batches, 3);
	ck_assert_int_eq(e.pads[0] + e.pads[1], 0);
	ck_assert_int_eq(e.pads[2], 2);
	ck_assert_float_eq(e.label[10], 0);
	ck_assert_float_eq(e.label[11], 1);
	ck_assert(!memcmp(e.data + 10 * e.per, e.data, 2 * e.per * sizeof(float)));
	free_epoch(&e);

	/* a batch larger than the data set wraps several times */
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=25;verbose=0", tmp_path("w.rec"));
	e = run_epoch(spec, 0);
	ck_assert_int_eq(e.batches, 1);
	ck_assert_int_eq(e.pads[0], 15);
	ck_assert_float_eq(e.label[24], 4);
	free_epoch(&e);

	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=4;verbose=0;round_batch=false",
		 tmp_path("w.rec"));
	e = run_epoch(spec, 0);
	ck_assert_int_eq(e.batches, 3);
	ck_assert_int_eq(e.pads[2], 2);
	ck_assert_float_eq(e.label[9], 9);
	for (int i = 10 * e.per; i < 12 * e.per; i++)
		ck_assert_float_eq(e.data[i], 0);
	ck_assert_float_eq(e.label[10], 0);
	free_epoch(&e);
}
END_TEST

/* ---- decoding only the crop ------------------------------------------------------------------ */

/* With nothing between decoding and cropping that changes the pixels, the iterator decodes
 * only the crop's part of a JPEG (image_decode_region); MXTRAIN_IMAGEREC_CROP_DECODE=0 turns
 * that off. Either way the batches are the same bits, and the same records are skipped. */
START_TEST(decoding_only_the_crop_gives_the_batches_of_a_full_decode)
{
	static const char *const settings[] = {
		"data_shape=(3, 40, 40);rand_crop=true;rand_mirror=true;mean_r=123.7;mean_g=116.8;mean_b=103.9;std_r=58.4;"
		"std_g=57.1;std_b=57.4",
		"data_shape=(3, 40, 40);mirror=true;scale=0.5",
		"data_shape=(3, 40, 40);resize=48;rand_crop=true;inter_method=10",   /* a no-op for some, draws all the same */
		"data_shape=(3, 40, 40);resize=60;rand_crop=true",
		"data_shape=(3, 32, 32);random_resized_crop=true;min_random_area=0.3;max_aspect_ratio=0.3;inter_method=10",
		"data_shape=(3, 32, 32);max_crop_size=44;min_crop_size=30;rand_crop=true;rand_mirror=true",
		"data_shape=(3, 40, 40);rand_crop=true;brightness=0.3;contrast=0.3;saturation=0.3;random_h=10;"
		"random_l=20;pca_noise=0.1;max_random_contrast=0.2;max_random_illumination=5",
		"data_shape=(1, 40, 37);rand_crop=true;rand_mirror=true",
		"data_shape=(3, 60, 60);rand_crop=true",   /* scaled up first: decoded whole */
		"data_shape=(3, 40, 40);rand_crop=true;pad=3;max_rotate_angle=10",
	};
	char spec[SPEC_MAX], *log_on, *log_off;
	struct item items[26];
	for (int i = 0; i < 26; i++)
		items[i] = (struct item){.w = 48 + 9 * (i % 4), .h = 48 + 11 * (i % 3), .kind = ITEM_NOISY_JPEG,
					 .id = (uint64_t)i, .label = (float)i};
	items[3].channels = items[10].channels = 1;   /* gray JPEGs */
	items[5].kind = ITEM_PNG;
	items[7].kind = ITEM_DAMAGED_JPEG;
	items[12].kind = ITEM_TRUNCATED_JPEG;
	items[20].kind = ITEM_JPEG;
	write_rec(tmp_path("crop.rec"), NULL, 26, items, NULL);
	for (size_t k = 0; k < sizeof settings / sizeof *settings; k++) {
		struct epoch on, off;
		snprintf(spec, sizeof spec, "path_imgrec=%s;batch_size=8;shuffle=true;seed=%zu;verbose=0;preprocess_threads=2;%s",
			 tmp_path("crop.rec"), k, settings[k]);
		unsetenv("MXTRAIN_IMAGEREC_CROP_DECODE");
		on = run_epoch_logged(spec, 1, &log_on);
		setenv("MXTRAIN_IMAGEREC_CROP_DECODE", "0", 1);
		off = run_epoch_logged(spec, 1, &log_off);
		unsetenv("MXTRAIN_IMAGEREC_CROP_DECODE");
		ck_assert_int_eq(on.rows, 24);   /* 24 good images */
		ck_assert_int_eq(on.batches, 3);
		ck_assert_int_eq(off.rows, on.rows);
		ck_assert_msg(!memcmp(on.data, off.data, (size_t)on.rows * on.per * sizeof(float)),
			      "%s: decoding only the crop changed the batches", settings[k]);
		ck_assert(!memcmp(on.label, off.label, (size_t)on.rows * sizeof(float)));
		ck_assert_msg(strstr(log_on, "skipped 2 corrupt records of 26") && strstr(log_off, "skipped 2 corrupt records of 26"),
			      "%s: on: %s\noff: %s", settings[k], log_on, log_off);
		/* the damaged record's warning names the decoder that found it */
		ck_assert_msg(!strstr(log_off, "image_decode_region"), "%s", log_off);
		if (k == 0 || k == 4)
			ck_assert_msg(strstr(log_on, "image_decode_region: JPEG at byte"), "%s", log_on);
		if (k >= 8)
			ck_assert_msg(!strstr(log_on, "image_decode_region"), "%s", log_on);
		free(log_on);
		free(log_off);
		free_epoch(&on);
		free_epoch(&off);
	}
}
END_TEST

/* ---- faults --------------------------------------------------------------------------------- */

START_TEST(a_corrupt_record_is_skipped_with_a_warning_and_counted)
{
	char spec[SPEC_MAX], want[600], *log;
	struct epoch e;
	struct item items[7];
	long long offsets[7];
	for (int i = 0; i < 7; i++)
		items[i] = (struct item){.w = 8, .h = 8, .id = (uint64_t)i, .label = (float)i};
	items[2].kind = ITEM_NOT_IMAGE;
	items[4].kind = ITEM_TRUNCATED_JPEG;
	write_rec(tmp_path("bad.rec"), NULL, 7, items, offsets);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=5;verbose=0", tmp_path("bad.rec"));
	e = run_epoch_logged(spec, 0, &log);
	ck_assert_int_eq(e.batches, 1);
	ck_assert_int_eq(e.pads[0], 0);
	{
		const float want_labels[5] = {0, 1, 3, 5, 6};
		for (int i = 0; i < 5; i++)
			ck_assert_float_eq(e.label[i], want_labels[i]);
		/* the rows moved up with their labels */
		ck_assert_float_eq(at(&e, 2, 3, 8, 8, 2, 0, 0), 60);
	}
	snprintf(want, sizeof want, "bad.rec: record at byte %lld: ", offsets[2]);
	ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in: %s", want, log);
	ck_assert_ptr_nonnull(strstr(log, "not a JPEG or PNG image"));
	snprintf(want, sizeof want, "bad.rec: record at byte %lld: ", offsets[4]);
	ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in: %s", want, log);
	ck_assert_msg(strstr(log, "skipped 2 corrupt records of 7 in epoch 0") != NULL, "%s", log);
	if (getenv("SHOW_LOG"))
		fputs(log, stdout);
	free(log);
	free_epoch(&e);
}
END_TEST

START_TEST(without_skip_corrupt_a_corrupt_record_is_an_error_naming_file_and_offset)
{
	char spec[SPEC_MAX], want[600];
	struct data_iter *it;
	struct data_batch b;
	struct item items[4];
	long long offsets[4];
	for (int i = 0; i < 4; i++)
		items[i] = (struct item){.w = 8, .h = 8, .id = (uint64_t)i, .label = (float)i};
	items[3].kind = ITEM_NOT_IMAGE;
	write_rec(tmp_path("bad.rec"), NULL, 4, items, offsets);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=2;verbose=0;skip_corrupt=false",
		 tmp_path("bad.rec"));
	ck_ok(open_iter(&it, spec));
	ck_ok(iter_next(it, &b));
	ck_assert_int_eq(iter_next(it, &b), MX_ERR_FORMAT);
	snprintf(want, sizeof want, "bad.rec: record at byte %lld: ", offsets[3]);
	ck_assert_msg(strstr(mx_error_message(), want) != NULL, "%s", mx_error_message());
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "not a JPEG or PNG image"));
	iter_free(it);
}
END_TEST

START_TEST(a_damaged_record_header_is_skipped_with_an_index_and_with_a_scan)
{
	char spec[SPEC_MAX], want[600], *log;
	struct epoch e;
	struct item items[5];
	long long offsets[5];
	unsigned char *bytes;
	size_t size;
	for (int i = 0; i < 5; i++)
		items[i] = (struct item){.w = 8, .h = 8, .id = (uint64_t)i, .label = (float)i};
	write_rec(tmp_path("hd.rec"), tmp_path("hd.idx"), 5, items, offsets);
	bytes = slurp(tmp_path("hd.rec"), &size);
	bytes[offsets[1]] ^= 0xff;   /* record 1's magic */
	spit(tmp_path("hd.rec"), bytes, size);
	free(bytes);
	snprintf(spec, sizeof spec, "path_imgrec=%s;path_imgidx=%s;data_shape=(3, 8, 8);batch_size=4;verbose=0",
		 tmp_path("hd.rec"), tmp_path("hd.idx"));
	e = run_epoch_logged(spec, 0, &log);
	ck_assert_int_eq(e.rows, 4);
	ck_assert_float_eq(e.label[1], 2);
	snprintf(want, sizeof want, "hd.rec: byte %lld", offsets[1]);
	ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in: %s", want, log);
	free(log);
	free_epoch(&e);

	/* no index: the scan resynchronises (recordio's warning) and the record is gone */
	ck_assert_int_eq(unlink(tmp_path("hd.idx")), 0);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=4;verbose=0", tmp_path("hd.rec"));
	e = run_epoch_logged(spec, 0, &log);
	ck_assert_int_eq(e.rows, 4);
	ck_assert_int_eq(e.pads[0], 0);
	ck_assert_float_eq(e.label[1], 2);
	ck_assert_msg(strstr(log, "hd.rec: byte") != NULL, "%s", log);
	free(log);
	free_epoch(&e);
}
END_TEST

START_TEST(an_index_offset_past_the_end_is_skipped_with_a_warning_or_an_error_when_strict)
{
	char spec[SPEC_MAX], *log;
	struct data_iter *it;
	struct epoch e;
	write_simple(tmp_path("p.rec"), NULL, 3, 8, 8);
	spit_text(tmp_path("p.idx"), "0\t0\n1\t4000000\n");
	snprintf(spec, sizeof spec, "path_imgrec=%s;path_imgidx=%s;data_shape=(3, 8, 8);batch_size=2;verbose=0",
		 tmp_path("p.rec"), tmp_path("p.idx"));
	/* default: the line is dropped with a warning naming it, the other record is read */
	e = run_epoch_logged(spec, 0, &log);
	ck_assert_int_eq(e.batches, 1);
	ck_assert_int_eq(e.pads[0], 1);
	ck_assert_float_eq(e.label[0], 0);
	ck_assert_msg(strstr(log, "p.idx:2: offset 4000000 is at or past the end") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "skipped") != NULL, "%s", log);
	free(log);
	free_epoch(&e);
	/* skip_corrupt = false: an error naming the line */
	snprintf(spec, sizeof spec, "path_imgrec=%s;path_imgidx=%s;data_shape=(3, 8, 8);batch_size=2;verbose=0;"
		 "skip_corrupt=false", tmp_path("p.rec"), tmp_path("p.idx"));
	ck_assert_int_eq(open_iter(&it, spec), MX_ERR_FORMAT);
	ck_assert_msg(strstr(mx_error_message(), "p.idx:2: offset 4000000 is at or past the end") != NULL, "%s",
		      mx_error_message());
}
END_TEST

START_TEST(an_index_beside_the_rec_that_does_not_fit_it_is_ignored_with_a_warning)
{
	char spec[SPEC_MAX], *log;
	struct epoch e;
	write_simple(tmp_path("p.rec"), NULL, 3, 8, 8);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=3;verbose=0", tmp_path("p.rec"));
	/* an offset past the end */
	spit_text(tmp_path("p.idx"), "0\t0\n1\t4000000\n");
	e = run_epoch_logged(spec, 0, &log);
	ck_assert_int_eq(e.rows, 3);
	ck_assert_float_eq(e.label[2], 2);
	ck_assert_msg(strstr(log, "p.idx:2: offset 4000000 is at or past the end") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "ignoring it and reading the record headers of") != NULL, "%s", log);
	free(log);
	free_epoch(&e);

	/* stale: the index of a shorter file with the same name */
	write_simple(tmp_path("q.rec"), tmp_path("p.idx"), 2, 8, 8);
	e = run_epoch_logged(spec, 0, &log);
	ck_assert_int_eq(e.rows, 3);
	ck_assert_float_eq(e.label[2], 2);
	ck_assert_msg(strstr(log, "p.idx: its last record (byte ") != NULL, "%s", log);
	free(log);
	free_epoch(&e);
}
END_TEST

START_TEST(empty_and_missing_files_are_clear_errors)
{
	char spec[SPEC_MAX];
	struct data_iter *it;
	spit(tmp_path("empty.rec"), "", 0);
	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=2;verbose=0", tmp_path("empty.rec"));
	ck_assert_int_eq(open_iter(&it, spec), MX_ERR_FORMAT);
	ck_assert_msg(strstr(mx_error_message(), "empty.rec holds no records") != NULL, "%s", mx_error_message());

	snprintf(spec, sizeof spec, "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=2", tmp_path("nothere.rec"));
	ck_assert_int_eq(open_iter(&it, spec), MX_ERR_IO);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "nothere.rec"));
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "No such file"));

	write_simple(tmp_path("ok.rec"), NULL, 2, 8, 8);
	snprintf(spec, sizeof spec, "path_imgrec=%s;path_imgidx=%s;data_shape=(3, 8, 8);batch_size=2", tmp_path("ok.rec"),
		 tmp_path("nothere.idx"));
	ck_assert_int_eq(open_iter(&it, spec), MX_ERR_IO);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "nothere.idx"));

	snprintf(spec, sizeof spec, "path_imgrec=%s;path_imglist=%s;data_shape=(3, 8, 8);batch_size=2", tmp_path("ok.rec"),
		 tmp_path("nothere.lst"));
	ck_assert_int_eq(open_iter(&it, spec), MX_ERR_IO);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "nothere.lst: No such file"));
}
END_TEST

START_TEST(bad_keys_and_values_are_errors_that_say_what_to_give)
{
	static const struct {
		const char *extra, *want;
	} cases[] = {
		{"data_shape=(8, 8)", "data_shape = (8,8) must have 3 dimensions (channels, height, width)"},
		{"data_shape=(4, 8, 8)", "channels must be 1 (gray) or 3 (RGB)"},
		{"data_shape=(3, 8, 8);inter_method=4", "inter_method = 4 (Lanczos) is not supported"},
		{"data_shape=(3, 8, 8);inter_method=7", "inter_method = 7: valid values are"},
		{"data_shape=(3, 8, 8);resize=0", "resize = 0"},
		{"data_shape=(3, 8, 8);std_g=0", "must not be 0"},
		{"data_shape=(3, 8, 8);num_parts=2;part_index=2", "part_index = 2 must be < num_parts = 2"},
		{"data_shape=(3, 8, 8);max_crop_size=5", "give both"},
		{"data_shape=(3, 8, 8);random_resized_crop=1;rand_crop=1", "random_resized_crop conflicts"},
		{"data_shape=(3, 8, 8);rand_mirorr=1", "unknown key \"rand_mirorr\" (did you mean \"rand_mirror\"?)"},
		{"data_shape=(3, 8, 8);shuffle=maybe", "shuffle"},
		{"batch_size=2", "needs the key \"data_shape\""},
	};
	char spec[SPEC_MAX];
	struct data_iter *it;
	write_simple(tmp_path("k.rec"), NULL, 2, 8, 8);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		snprintf(spec, sizeof spec, "path_imgrec=%s;batch_size=2;verbose=0;%s", tmp_path("k.rec"), cases[i].extra);
		ck_assert_msg(open_iter(&it, spec) == MX_ERR_INVALID, "%s: accepted", cases[i].extra);
		ck_assert_msg(strstr(mx_error_message(), cases[i].want) != NULL, "%s: got \"%s\"", cases[i].extra,
			      mx_error_message());
	}
}
END_TEST

START_TEST(an_image_smaller_than_max_crop_size_is_an_error_naming_the_record)
{
	char spec[SPEC_MAX];
	struct data_iter *it;
	struct data_batch b;
	write_simple(tmp_path("z.rec"), NULL, 2, 8, 8);
	snprintf(spec, sizeof spec,
		 "path_imgrec=%s;data_shape=(3, 8, 8);batch_size=2;verbose=0;min_crop_size=9;max_crop_size=10",
		 tmp_path("z.rec"));
	ck_ok(open_iter(&it, spec));
	ck_assert_int_eq(iter_next(it, &b), MX_ERR_INVALID);
	ck_assert_msg(strstr(mx_error_message(), "z.rec: record at byte 0: the image is 8x8, smaller than max_crop_size = 10"),
		      "%s", mx_error_message());
	iter_free(it);
}
END_TEST

/* ---- MXNet 1.9.1 ---------------------------------------------------------------------------- */

static float *read_floats(const char *name, size_t *n)
{
	char path[600];
	size_t size;
	float *v;
	snprintf(path, sizeof path, "%s/%s", FIXDIR, name);
	v = (float *)slurp(path, &size);
	*n = size / sizeof(float);
	return v;
}

/* Runs the iterator with MXNet's keys of one case of make_imagerec_fixtures.py and returns
 * the largest difference from MXNet's data in pixel levels (before mean, std and scale). */
static double compare_with_mxnet(const char *name, const char *rec, const char *keys, double level, int batches,
				 const int *pads)
{
	char spec[SPEC_MAX], file[256];
	struct epoch e;
	float *want, *want_label;
	size_t n, n_label;
	double worst = 0, sum = 0;
	snprintf(spec, sizeof spec, "path_imgrec=%s/%s;batch_size=4;preprocess_threads=1;verbose=0;%s", FIXDIR, rec, keys);
	e = run_epoch(spec, 0);
	snprintf(file, sizeof file, "%s.data", name);
	want = read_floats(file, &n);
	snprintf(file, sizeof file, "%s.label", name);
	want_label = read_floats(file, &n_label);
	ck_assert_int_eq(e.batches, batches);
	for (int i = 0; i < batches; i++)
		ck_assert_int_eq(e.pads[i], pads[i]);
	ck_assert_int_eq((size_t)e.rows * e.per, n);
	ck_assert_int_eq((size_t)e.rows * e.lw, n_label);
	check_close(name, e.label, want_label, (long)n_label, 0, 0);
	for (size_t i = 0; i < n; i++) {
		double d = fabs(e.data[i] - want[i]) / level;
		worst = fmax(worst, d);
		sum += d;
	}
	printf("imagerec vs MXNet, %s: max |diff| %.3g levels, mean %.3g\n", name, worst, sum / n);
	ck_assert_msg(sum / n < 0.1, "%s: mean |diff| %g levels", name, sum / n);
	free(want);
	free(want_label);
	free_epoch(&e);
	return worst;
}

/* Both decode with libjpeg-turbo, and image_resize follows OpenCV's fixed-point resize: on
 * these fixtures every value is equal (0 levels). One level is allowed, for a libjpeg-turbo
 * or rounding difference on another machine. */
#define MXNET_LEVELS 1.01

START_TEST(resize_center_crop_mean_and_std_match_mxnet)
{
	const int pads[3] = {0, 0, 2};
	/* level: the smallest std */
	ck_assert_double_le(compare_with_mxnet("resize_mean_std", "color.rec",
					       "data_shape=(3, 16, 16);resize=20;mean_r=123.7;mean_g=116.3;mean_b=103.5;"
					       "std_r=58.4;std_g=57.1;std_b=57.4;scale=1",
					       1 / 57.1, 3, pads), MXNET_LEVELS);
}
END_TEST

START_TEST(center_crop_and_scaling_up_small_images_match_mxnet)
{
	const int pads[3] = {0, 0, 2};
	ck_assert_double_le(compare_with_mxnet("center_crop", "color.rec", "data_shape=(3, 16, 16)", 1, 3, pads),
			    MXNET_LEVELS);
}
END_TEST

START_TEST(mirror_mean_and_scale_match_mxnet)
{
	const int pads[3] = {0, 0, 2};
	ck_assert_double_le(compare_with_mxnet("scale_mirror", "color.rec",
					       "data_shape=(3, 16, 16);resize=18;mirror=true;mean_r=10;scale=0.00392156863",
					       1 / 255.0, 3, pads), MXNET_LEVELS);
}
END_TEST

START_TEST(gray_images_and_colour_images_read_as_gray_match_mxnet)
{
	const int pads3[3] = {0, 0, 2}, pads2[2] = {0, 0};
	ck_assert_double_le(compare_with_mxnet("as_gray", "color.rec", "data_shape=(1, 16, 16);resize=16", 1, 3, pads3),
			    MXNET_LEVELS);
	ck_assert_double_le(compare_with_mxnet("gray", "gray.rec", "data_shape=(1, 16, 16);resize=17;scale=0.00392156863",
					       1 / 255.0, 2, pads2), MXNET_LEVELS);
}
END_TEST

START_TEST(image_list_and_packed_labels_match_mxnet)
{
	const int pads3[3] = {0, 0, 2}, pads2[2] = {0, 2};
	char keys[600];
	snprintf(keys, sizeof keys, "data_shape=(3, 8, 8);resize=8;label_width=2;path_imglist=%s/color.lst", FIXDIR);
	ck_assert_double_le(compare_with_mxnet("lst", "color.rec", keys, 1, 3, pads3), MXNET_LEVELS);
	ck_assert_double_le(compare_with_mxnet("multi", "multi.rec", "data_shape=(3, 8, 8);resize=8;label_width=3", 1, 2,
					       pads2), MXNET_LEVELS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imagerec");
	TCase *keys = tcase_create("keys"), *order = tcase_create("order"), *faults = tcase_create("faults");
	TCase *mxnet = tcase_create("mxnet");
	int rc;
	mx_log_set_level(MX_LOG_WARN);
	if (tmpdir_create()) {   /* one folder for all the tests; no test is running to fail */
		perror("mkdtemp");
		return 1;
	}
	tcase_set_timeout(keys, 30);
	tcase_set_timeout(order, 30);
	tcase_add_test(keys, center_crop_takes_the_middle_of_the_image);
	tcase_add_test(keys, rand_crop_picks_places_inside_the_image_that_vary);
	tcase_add_test(keys, mirror_flips_every_image_and_rand_mirror_about_half);
	tcase_add_test(keys, mean_std_and_scale_give_pixel_minus_mean_over_std_times_scale);
	tcase_add_test(keys, resize_scales_the_shorter_side_before_cropping);
	tcase_add_test(keys, an_image_smaller_than_data_shape_is_scaled_up_keeping_its_aspect);
	tcase_add_test(keys, one_channel_data_shape_decodes_gray);
	tcase_add_test(keys, random_scale_shrinks_the_image_around_its_centre);
	tcase_add_test(keys, pad_surrounds_the_image_with_fill_value);
	tcase_add_test(keys, crop_size_and_random_resized_crop_give_data_shape_from_a_part);
	tcase_add_test(keys, rotation_shear_and_colour_augmenters_change_images_the_same_way_each_time);
	tcase_add_test(keys, fast_decode_gives_nearly_the_same_images);
	tcase_add_test(keys, packed_labels_fill_label_width_columns);
	tcase_add_test(keys, an_image_list_replaces_the_labels_by_image_id);
	tcase_add_test(order, shuffle_order_depends_only_on_seed_and_epoch);
	tcase_add_test(order, batches_are_the_same_for_one_two_and_three_threads);
	tcase_add_test(order, decoding_only_the_crop_gives_the_batches_of_a_full_decode);
	tcase_add_test(order, parts_cover_every_record_once_with_and_without_an_index);
	tcase_add_test(order, the_last_batch_wraps_to_the_start_or_is_zero_filled);
	tcase_add_test(faults, a_corrupt_record_is_skipped_with_a_warning_and_counted);
	tcase_add_test(faults, without_skip_corrupt_a_corrupt_record_is_an_error_naming_file_and_offset);
	tcase_add_test(faults, a_damaged_record_header_is_skipped_with_an_index_and_with_a_scan);
	tcase_add_test(faults, an_index_offset_past_the_end_is_skipped_with_a_warning_or_an_error_when_strict);
	tcase_add_test(faults, an_index_beside_the_rec_that_does_not_fit_it_is_ignored_with_a_warning);
	tcase_add_test(faults, empty_and_missing_files_are_clear_errors);
	tcase_add_test(faults, bad_keys_and_values_are_errors_that_say_what_to_give);
	tcase_add_test(faults, an_image_smaller_than_max_crop_size_is_an_error_naming_the_record);
	tcase_add_test(mxnet, resize_center_crop_mean_and_std_match_mxnet);
	tcase_add_test(mxnet, center_crop_and_scaling_up_small_images_match_mxnet);
	tcase_add_test(mxnet, mirror_mean_and_scale_match_mxnet);
	tcase_add_test(mxnet, gray_images_and_colour_images_read_as_gray_match_mxnet);
	tcase_add_test(mxnet, image_list_and_packed_labels_match_mxnet);
	suite_add_tcase(s, keys);
	suite_add_tcase(s, order);
	suite_add_tcase(s, faults);
	suite_add_tcase(s, mxnet);
	rc = run_suite(s);
	if (tmpdir_remove())
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return rc;
}
