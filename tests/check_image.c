/* check_image.c: src/data/image.c against MXNet 1.9.1's own pixels (the OpenCV 3.4.2 inside
 * libmxnet, via mx.image.imdecode and mx.image.imresize; tests/fixtures/image/, written by
 * tests/peer/make_image_fixtures.py): JPEG and PNG decoding in every color type, DCT-scaled
 * decoding, decoding a rectangle alone (the full decode's crop for every JPEG sampling,
 * progressive, CMYK and gray, with the same errors), encode/decode round trips, the four
 * resize interpolations up and down, crop, flip, and every error path. */
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include <jpeglib.h>

#include "testutil.h"
#include "data/image.h"
#include "error.h"

#define IMAGE_DIR FIXTURES "/image"

/* Resizes and decodes agree with OpenCV bit for bit on x86-64 without FMA (float sums in
 * OpenCV's order); where the compiler may fuse multiply-adds, cubic and area may be one
 * level off. The brief's bound is 1 for every interpolation. */
#if defined(__x86_64__) && !defined(__FMA__)
#define EXPECT_BIT_EXACT 1
#else
#define EXPECT_BIT_EXACT 0
#endif

static unsigned char *read_all(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	unsigned char *buf;
	long n;
	snprintf(path, sizeof path, "%s/%s", IMAGE_DIR, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n ? (size_t)n : 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* One manifest line (see make_image_fixtures.py). */
struct case_line {
	char kind[16], file[128], ref[128], source[128];
	int channels, min_side, width, height, chans, max_diff;  /* decode */
	int interp, dst_w, dst_h;                              /* resize */
};

static int read_manifest(struct case_line *out, int max)
{
	char path[512], line[1024];
	int n = 0;
	FILE *f;
	snprintf(path, sizeof path, "%s/manifest.txt", IMAGE_DIR);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof line, f) && n < max) {
		struct case_line *c = &out[n];
		memset(c, 0, sizeof *c);
		if (line[0] == '#')
			continue;
		if (!strncmp(line, "decode ", 7)) {
			ck_assert_int_eq(sscanf(line, "%15s %127s %d %d %d %d %d %127s %d %127s", c->kind,
						c->file, &c->channels, &c->min_side, &c->width,
						&c->height, &c->chans, c->ref, &c->max_diff, c->source), 10);
		} else {
			ck_assert_int_eq(sscanf(line, "%15s %127s %d %d %d %d %d %d %127s %127s", c->kind,
						c->file, &c->width, &c->height, &c->chans, &c->interp,
						&c->dst_w, &c->dst_h, c->ref, c->source), 10);
		}
		n++;
	}
	fclose(f);
	ck_assert_int_gt(n, 10);
	return n;
}

/* Largest |a - b| over n bytes; *count gets how many differ. */
static int max_abs_diff(const unsigned char *a, const unsigned char *b, size_t n, size_t *count)
{
	int m = 0;
	size_t c = 0;
	for (size_t i = 0; i < n; i++) {
		int d = abs((int)a[i] - (int)b[i]);
		c += d != 0;
		m = d > m ? d : m;
	}
	if (count)
		*count = c;
	return m;
}

/* Decodes every manifest "decode" line whose file ends in ext (and whose min_side is 0 or
 * not, as scaled says) and compares with the reference pixels. Returns the number run. */
static int check_decodes(const char *ext, int scaled)
{
	static struct case_line cases[256];
	int n = read_manifest(cases, 256), ran = 0;
	for (int i = 0; i < n; i++) {
		const struct case_line *c = &cases[i];
		struct image img = {0};
		unsigned char *file, *ref;
		size_t len, ref_len, differ;
		int d;
		if (strcmp(c->kind, "decode") || !strstr(c->file, ext) || (c->min_side > 0) != scaled)
			continue;
		file = read_all(c->file, &len);
		ref = read_all(c->ref, &ref_len);
		ck_ok(image_decode(file, len, c->channels, c->min_side, &img));
		ck_assert_msg(img.width == c->width && img.height == c->height &&
			      img.channels == c->chans, "%s channels %d min_side %d: %dx%dx%d, want %dx%dx%d",
			      c->file, c->channels, c->min_side, img.width, img.height, img.channels,
			      c->width, c->height, c->chans);
		ck_assert_uint_eq(ref_len, (size_t)c->width * c->height * c->chans);
		d = max_abs_diff(img.pixels, ref, ref_len, &differ);
		ck_assert_msg(d <= c->max_diff, "%s channels %d min_side %d vs %s (%s): max diff %d "
			      "(%zu of %zu bytes differ), allowed %d", c->file, c->channels,
			      c->min_side, c->ref, c->source, d, differ, ref_len, c->max_diff);
		image_free(&img);
		free(file);
		free(ref);
		ran++;
	}
	return ran;
}

START_TEST(jpeg_decodes_match_mxnet_imdecode_pixel_for_pixel)
{
	/* 4:2:0, 4:4:4, progressive, gray, CMYK; as RGB and as gray */
	ck_assert_int_eq(check_decodes(".jpg", 0), 8);
}
END_TEST

START_TEST(png_decodes_match_mxnet_imdecode_pixel_for_pixel)
{
	/* RGB, gray, 1-bit gray, palette with tRNS, RGBA, 16-bit RGB, 16-bit gray+alpha,
	 * Adam7 interlaced; as RGB and as gray */
	ck_assert_int_eq(check_decodes(".png", 0), 11);
}
END_TEST

START_TEST(dct_scaled_jpeg_decodes_match_libjpeg_turbo_scaled_pixels)
{
	ck_assert_int_eq(check_decodes(".jpg", 1), 4);
}
END_TEST

START_TEST(min_side_picks_the_smallest_dct_scale_that_keeps_the_shorter_side)
{
	static const struct { int min_side, width, height; } want[] = {
		{0, 64, 48}, {49, 64, 48}, {48, 64, 48}, {25, 64, 48}, {24, 32, 24},
		{13, 32, 24}, {12, 16, 12}, {7, 16, 12}, {6, 8, 6}, {1, 8, 6},
	};
	size_t len;
	unsigned char *jpg = read_all("rgb420.jpg", &len), *png;
	struct image img = {0};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		ck_ok(image_decode(jpg, len, 3, want[i].min_side, &img));
		ck_assert_msg(img.width == want[i].width && img.height == want[i].height,
			      "min_side %d: %dx%d, want %dx%d", want[i].min_side, img.width,
			      img.height, want[i].width, want[i].height);
	}
	/* gray output scales too; PNG has no DCT and ignores min_side */
	ck_ok(image_decode(jpg, len, 1, 6, &img));
	ck_assert(img.width == 8 && img.height == 6 && img.channels == 1);
	png = read_all("rgb.png", &len);
	ck_ok(image_decode(png, len, 3, 5, &img));
	ck_assert(img.width == 37 && img.height == 23);
	image_free(&img);
	free(jpg);
	free(png);
}
END_TEST

START_TEST(channels_zero_keeps_the_files_own_color_and_drops_alpha)
{
	static const struct { const char *file; int channels; } want[] = {
		{"rgb420.jpg", 3}, {"gray.jpg", 1}, {"cmyk.jpg", 3}, {"rgb.png", 3},
		{"gray.png", 1}, {"gray1.png", 1}, {"palette.png", 3}, {"rgba.png", 3},
		{"graya16.png", 1}, {"interlaced.png", 3},
	};
	struct image img = {0}, three = {0};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		size_t len;
		unsigned char *buf = read_all(want[i].file, &len);
		ck_ok(image_decode(buf, len, 0, 0, &img));
		ck_assert_msg(img.channels == want[i].channels, "%s: %d channels, want %d",
			      want[i].file, img.channels, want[i].channels);
		/* and gives what asking for that many would */
		ck_ok(image_decode(buf, len, want[i].channels, 0, &three));
		ck_assert(three.channels == img.channels &&
			  !memcmp(three.pixels, img.pixels, (size_t)img.width * img.height * img.channels));
		free(buf);
	}
	image_free(&img);
	image_free(&three);
}
END_TEST

START_TEST(gray_expanded_to_rgb_repeats_the_gray_value_in_each_channel)
{
	size_t len;
	unsigned char *buf = read_all("gray.png", &len);
	struct image gray = {0}, rgb = {0};
	ck_ok(image_decode(buf, len, 1, 0, &gray));
	ck_ok(image_decode(buf, len, 3, 0, &rgb));
	for (int i = 0; i < gray.width * gray.height; i++)
		ck_assert(rgb.pixels[3 * i] == gray.pixels[i] && rgb.pixels[3 * i + 1] == gray.pixels[i] &&
			  rgb.pixels[3 * i + 2] == gray.pixels[i]);
	image_free(&gray);
	image_free(&rgb);
	free(buf);
}
END_TEST

START_TEST(probe_reports_size_and_channels_without_decoding)
{
	static const struct { const char *file; int w, h, c; } want[] = {
		{"rgb420.jpg", 64, 48, 3}, {"gray.jpg", 37, 23, 1}, {"progressive.jpg", 37, 23, 3},
		{"cmyk.jpg", 37, 23, 3}, {"rgb.png", 37, 23, 3}, {"gray1.png", 37, 23, 1},
		{"palette.png", 37, 23, 3}, {"graya16.png", 37, 23, 1}, {"rgb16.png", 37, 23, 3},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		size_t len;
		int w = 0, h = 0, c = 0;
		unsigned char *buf = read_all(want[i].file, &len);
		ck_ok(image_probe(buf, len, &w, &h, &c));
		ck_assert_msg(w == want[i].w && h == want[i].h && c == want[i].c, "%s: %dx%dx%d",
			      want[i].file, w, h, c);
		ck_assert_int_ne(image_probe(buf, 20, &w, &h, &c), MX_OK);
		free(buf);
	}
	{
		size_t len;
		int w, h, c;
		unsigned char *png = read_all("rgb.png", &len);
		png[24] = 3;  /* bit depth 3 */
		ck_assert_int_eq(image_probe(png, len, &w, &h, &c), MX_ERR_FORMAT);
		ck_assert_ptr_nonnull(strstr(mx_error_message(), "bit depth 3 with color type 2 is not valid"));
		free(png);
	}
	ck_assert_int_eq(image_probe("GIF89a....", 10, NULL, NULL, NULL), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "not a JPEG or PNG image"));
}
END_TEST

START_TEST(sniff_recognises_jpeg_and_png_signatures_only)
{
	static const unsigned char jpg[] = {0xff, 0xd8, 0xff, 0xe0};
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	ck_assert_int_eq(image_sniff(jpg, 4), IMAGE_JPEG);
	ck_assert_int_eq(image_sniff(jpg, 2), IMAGE_UNKNOWN);
	ck_assert_int_eq(image_sniff(png, 8), IMAGE_PNG);
	ck_assert_int_eq(image_sniff(png, 7), IMAGE_UNKNOWN);
	ck_assert_int_eq(image_sniff("BM", 2), IMAGE_UNKNOWN);
	ck_assert_int_eq(image_sniff(NULL, 0), IMAGE_UNKNOWN);
}
END_TEST

START_TEST(decoding_into_a_big_enough_image_reuses_its_buffer)
{
	size_t big_len, small_len;
	unsigned char *big = read_all("rgb420.jpg", &big_len), *small = read_all("rgb.png", &small_len);
	struct image img = {0};
	unsigned char *pixels;
	size_t capacity;
	ck_ok(image_decode(big, big_len, 3, 0, &img));
	pixels = img.pixels;
	capacity = img.capacity;
	ck_assert_uint_ge(capacity, 64 * 48 * 3);
	ck_ok(image_decode(small, small_len, 3, 0, &img));
	ck_ok(image_decode(big, big_len, 1, 0, &img));
	ck_ok(image_decode(big, big_len, 3, 0, &img));
	ck_assert_ptr_eq(img.pixels, pixels);
	ck_assert_uint_eq(img.capacity, capacity);
	/* a failed decode leaves an image that can be decoded into and freed */
	ck_assert_int_ne(image_decode(big, 300, 3, 0, &img), MX_OK);
	ck_ok(image_decode(small, small_len, 3, 0, &img));
	ck_assert(img.width == 37 && img.height == 23);
	image_free(&img);
	ck_assert_ptr_null(img.pixels);
	image_free(&img);
	free(big);
	free(small);
}
END_TEST

/* ---- encoding ---- */

static void fill_pattern(struct image *img, int width, int height, int channels, unsigned seed)
{
	ck_ok(image_reserve(img, width, height, channels));
	for (int y = 0; y < height; y++)
		for (int x = 0; x < width; x++)
			for (int c = 0; c < channels; c++) {
				unsigned v = (unsigned)(x * 5 + y * 3 + c * 60) + seed;
				img->pixels[(y * width + x) * channels + c] = (unsigned char)v;
			}
}

START_TEST(png_encode_then_decode_gives_back_the_same_pixels)
{
	struct image img = {0}, back = {0};
	for (int channels = 1; channels <= 3; channels += 2)
		for (int level = 0; level <= 9; level += 3) {
			unsigned char *out;
			size_t len;
			uint32_t seed = 12345 + level;
			fill_pattern(&img, 41, 17, channels, 0);
			for (size_t i = 0; i < 41 * 17 * (size_t)channels; i += 7) {
				seed = seed * 1664525u + 1013904223u;  /* some noise as well */
				img.pixels[i] = (unsigned char)(seed >> 24);
			}
			ck_ok(image_encode(&img, IMAGE_PNG, level, &out, &len));
			ck_assert_int_eq(image_sniff(out, len), IMAGE_PNG);
			ck_ok(image_decode(out, len, 0, 0, &back));
			ck_assert(back.width == 41 && back.height == 17 && back.channels == channels);
			ck_assert_msg(!memcmp(back.pixels, img.pixels, 41 * 17 * (size_t)channels),
				      "PNG level %d, %d channels: pixels changed", level, channels);
			free(out);
		}
	image_free(&img);
	image_free(&back);
}
END_TEST

/* Reads the luma sampling factors of a JPEG with libjpeg (2x2 means 4:2:0). */
struct header_error { struct jpeg_error_mgr pub; jmp_buf jump; };
static void header_error_exit(j_common_ptr cinfo) { longjmp(((struct header_error *)cinfo->err)->jump, 1); }

static void jpeg_luma_sampling(const unsigned char *buf, size_t len, int *h, int *v)
{
	struct jpeg_decompress_struct cinfo;
	struct header_error err;
	cinfo.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = header_error_exit;
	if (setjmp(err.jump)) {
		jpeg_destroy_decompress(&cinfo);
		ck_abort_msg("libjpeg could not read the header we wrote");
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, buf, (unsigned long)len);
	jpeg_read_header(&cinfo, TRUE);
	*h = cinfo.comp_info[0].h_samp_factor;
	*v = cinfo.comp_info[0].v_samp_factor;
	jpeg_destroy_decompress(&cinfo);
}

START_TEST(jpeg_encode_at_quality_95_round_trips_within_a_few_levels_as_420)
{
	struct image img = {0}, back = {0};
	unsigned char *out, *small;
	size_t len, small_len, differ;
	int h, v, d;
	double mean = 0;
	/* smooth content: what JPEG is for */
	ck_ok(image_reserve(&img, 64, 48, 3));
	for (int y = 0; y < 48; y++)
		for (int x = 0; x < 64; x++) {
			img.pixels[(y * 64 + x) * 3] = (unsigned char)(60 + 2 * x);
			img.pixels[(y * 64 + x) * 3 + 1] = (unsigned char)(40 + 3 * y);
			img.pixels[(y * 64 + x) * 3 + 2] = (unsigned char)(128 + x - y);
		}
	ck_ok(image_encode(&img, IMAGE_JPEG, 95, &out, &len));
	ck_assert_int_eq(image_sniff(out, len), IMAGE_JPEG);
	jpeg_luma_sampling(out, len, &h, &v);
	ck_assert_msg(h == 2 && v == 2, "luma sampling %dx%d, want 2x2 (4:2:0)", h, v);
	ck_ok(image_decode(out, len, 3, 0, &back));
	ck_assert(back.width == 64 && back.height == 48 && back.channels == 3);
	d = max_abs_diff(back.pixels, img.pixels, 64 * 48 * 3, &differ);
	for (int i = 0; i < 64 * 48 * 3; i++)
		mean += abs(back.pixels[i] - img.pixels[i]);
	mean /= 64 * 48 * 3;
	ck_assert_msg(d <= 6 && mean <= 1.5, "quality 95: max diff %d, mean %.2f", d, mean);
	/* lower quality gives a smaller file; gray encodes as one channel */
	ck_ok(image_encode(&img, IMAGE_JPEG, 20, &small, &small_len));
	ck_assert_uint_lt(small_len, len);
	free(small);
	free(out);
	fill_pattern(&img, 30, 20, 1, 7);
	ck_ok(image_encode(&img, IMAGE_JPEG, 95, &out, &len));
	ck_ok(image_decode(out, len, 0, 0, &back));
	ck_assert(back.channels == 1 && back.width == 30 && back.height == 20);
	ck_assert_int_le(max_abs_diff(back.pixels, img.pixels, 600, NULL), 8);
	free(out);
	image_free(&img);
	image_free(&back);
}
END_TEST

START_TEST(encode_rejects_bad_quality_format_and_images)
{
	struct image img = {0}, empty = {0};
	unsigned char *out = (unsigned char *)1;
	size_t len = 1;
	fill_pattern(&img, 8, 8, 3, 0);
	ck_assert_int_eq(image_encode(&img, IMAGE_JPEG, 0, &out, &len), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "JPEG quality 0 (1..100)"));
	ck_assert_ptr_null(out);
	ck_assert_int_eq(image_encode(&img, IMAGE_JPEG, 101, &out, &len), MX_ERR_INVALID);
	ck_assert_int_eq(image_encode(&img, IMAGE_PNG, 10, &out, &len), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "PNG compression level 10 (0..9)"));
	ck_assert_int_eq(image_encode(&img, IMAGE_UNKNOWN, 5, &out, &len), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "unknown format"));
	ck_assert_int_eq(image_encode(&empty, IMAGE_PNG, 5, &out, &len), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "not a valid image"));
	image_free(&img);
}
END_TEST

/* ---- decoding a rectangle ---- */

/* A JPEG as libjpeg writes it: its components' sampling, progressive or not, restart
 * intervals. The first component gets (h, v), the others 1x1. */
struct jpeg_variant {
	const char *name;
	int components;   /* 1 gray, 3 YCbCr (from RGB), 4 CMYK (Adobe) */
	int h, v, progressive, restart_rows, quality;
};

static const struct jpeg_variant jpeg_variants[] = {
	{"4:4:4", 3, 1, 1, 0, 0, 90},            {"4:2:2", 3, 2, 1, 0, 0, 90},
	{"4:4:0", 3, 1, 2, 0, 0, 90},            {"4:2:0", 3, 2, 2, 0, 0, 90},
	{"4:1:1 (decoded whole)", 3, 4, 1, 0, 0, 90}, {"gray", 1, 1, 1, 0, 0, 90},
	{"CMYK", 4, 1, 1, 0, 0, 90},             {"CMYK 4:2:0", 4, 2, 2, 0, 0, 85},
	{"progressive 4:2:0", 3, 2, 2, 1, 0, 90}, {"progressive 4:4:4", 3, 1, 1, 1, 0, 85},
	{"progressive 4:2:2", 3, 2, 1, 1, 0, 75}, {"progressive 4:4:0", 3, 1, 2, 1, 0, 90},
	{"progressive gray", 1, 1, 1, 1, 0, 90}, {"4:2:0 with restarts", 3, 2, 2, 0, 1, 95},
	{"4:2:2 with restarts", 3, 2, 1, 0, 2, 60},
};

static uint32_t next_random(uint32_t *state)
{
	*state = *state * 1664525u + 1013904223u;
	return *state >> 8;
}

/* Encodes a width x height image with edges, gradients and noise in every component (so
 * that upsampling has something to get wrong) as the variant says. Returns a malloc'ed
 * JPEG (free it) and its size in *len. */
static unsigned char *encode_variant(const struct jpeg_variant *var, int width, int height, uint32_t seed,
				     size_t *len)
{
	struct jpeg_compress_struct cinfo;
	struct header_error err;
	unsigned char *out = NULL, *px = malloc((size_t)width * height * var->components);
	unsigned long out_len = 0;
	ck_assert_ptr_nonnull(px);
	for (int y = 0; y < height; y++)
		for (int x = 0; x < width; x++)
			for (int c = 0; c < var->components; c++) {
				int v = (x * (c + 3) * 7 + y * (5 - c) * 3) % 256;
				if ((x / 5 + y / 3 + c) % 4 == 0)
					v = 255 - v;
				v += (int)(next_random(&seed) % 41) - 20;
				px[((size_t)y * width + x) * var->components + c] =
					(unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
	cinfo.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = header_error_exit;
	if (setjmp(err.jump)) {
		jpeg_destroy_compress(&cinfo);
		ck_abort_msg("libjpeg could not encode the %s test image", var->name);
	}
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, &out, &out_len);
	cinfo.image_width = (JDIMENSION)width;
	cinfo.image_height = (JDIMENSION)height;
	cinfo.input_components = var->components;
	cinfo.in_color_space = var->components == 1 ? JCS_GRAYSCALE : var->components == 3 ? JCS_RGB : JCS_CMYK;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, var->quality, TRUE);
	if (var->components > 1) {
		cinfo.comp_info[0].h_samp_factor = var->h;
		cinfo.comp_info[0].v_samp_factor = var->v;
		for (int c = 1; c < var->components; c++)
			cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
	}
	if (var->progressive)
		jpeg_simple_progression(&cinfo);
	cinfo.restart_in_rows = var->restart_rows;
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height) {
		JSAMPROW row = px + (size_t)cinfo.next_scanline * width * var->components;
		jpeg_write_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	free(px);
	*len = out_len;
	return out;
}

/* Fails naming the first pixel of the w x h rectangle at column x0 of got that differs
 * from want (w x h). */
static void expect_same_pixels(const struct image *got, int x0, const struct image *want, int w, int h,
			       const char *what, const char *how, int channels, int x, int y)
{
	size_t row = (size_t)w * want->channels, stride = (size_t)got->width * got->channels;
	int differ = 0;
	ck_assert_msg(got->height == h && got->channels == want->channels && x0 >= 0 && x0 + w <= got->width,
		      "%s, %s: %dx%dx%d with the rectangle at column %d, want %dx%dx%d", what, how, got->width,
		      got->height, got->channels, x0, w, h, want->channels);
	/* (one assertion per pixel would be a system call per pixel in Check) */
	for (int r = 0; r < h && !differ; r++)
		differ = memcmp(got->pixels + r * stride + (size_t)x0 * got->channels, want->pixels + r * row, row);
	for (int r = 0; r < h && differ; r++)
		for (size_t i = 0; i < row; i++) {
			int a = got->pixels[r * stride + (size_t)x0 * got->channels + i], b = want->pixels[r * row + i];
			ck_assert_msg(a == b, "%s, channels %d, %s: the %dx%d rectangle at (%d, %d) differs from the full "
				      "decode at its column %zu, row %d: %d, not %d", what, channels, how, w, h, x, y,
				      i / want->channels, r, a, b);
		}
}

/* Decodes (x, y, w, h) of buf alone, exactly and in place, and compares it with full's. */
static void expect_region_equals_crop(const unsigned char *buf, size_t len, int channels, const struct image *full,
				      int x, int y, int w, int h, const char *what)
{
	struct image crop = {0}, region = {0};
	int x_in = -1;
	ck_ok(image_crop(full, x, y, w, h, &crop));
	ck_ok(image_decode_region(buf, len, channels, x, y, w, h, &region, NULL));
	ck_assert_int_eq(region.width, w);
	expect_same_pixels(&region, 0, &crop, w, h, what, "exact", channels, x, y);
	ck_ok(image_decode_region(buf, len, channels, x, y, w, h, &region, &x_in));
	expect_same_pixels(&region, x_in, &crop, w, h, what, "in place", channels, x, y);
	image_free(&crop);
	image_free(&region);
}

START_TEST(region_decode_equals_full_decode_then_crop_for_every_jpeg_variant)
{
	/* odd sizes, one iMCU and less, a tall and a wide one, an ImageNet-like 341x256 */
	static const int sizes[][2] = {{1, 1}, {7, 5}, {17, 33}, {63, 64}, {100, 99}, {341, 256}, {31, 200}};
	uint32_t state = 2024;
	struct image full = {0};
	for (size_t v = 0; v < sizeof jpeg_variants / sizeof *jpeg_variants; v++)
		for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
			int W = sizes[s][0], H = sizes[s][1];
			size_t len;
			char what[128];
			unsigned char *jpg = encode_variant(&jpeg_variants[v], W, H, (uint32_t)(v * 31 + s), &len);
			snprintf(what, sizeof what, "%s %dx%d", jpeg_variants[v].name, W, H);
			for (int channels = 0; channels <= 3; channels += channels ? 2 : 1) {
				ck_ok(image_decode(jpg, len, channels, 0, &full));
				/* the whole image, each corner pixel, the first and last rows and columns,
				 * then random rectangles */
				expect_region_equals_crop(jpg, len, channels, &full, 0, 0, W, H, what);
				expect_region_equals_crop(jpg, len, channels, &full, 0, 0, 1, 1, what);
				expect_region_equals_crop(jpg, len, channels, &full, W - 1, H - 1, 1, 1, what);
				expect_region_equals_crop(jpg, len, channels, &full, 0, H - 1, W, 1, what);
				expect_region_equals_crop(jpg, len, channels, &full, W - 1, 0, 1, H, what);
				expect_region_equals_crop(jpg, len, channels, &full, 0, 0, 1, H, what);
				for (int k = 0; k < 10; k++) {
					int w = 1 + (int)(next_random(&state) % W), h = 1 + (int)(next_random(&state) % H);
					int x = (int)(next_random(&state) % (W - w + 1)), y = (int)(next_random(&state) % (H - h + 1));
					expect_region_equals_crop(jpg, len, channels, &full, x, y, w, h, what);
				}
			}
			free(jpg);
		}
	image_free(&full);
}
END_TEST

START_TEST(region_decode_of_the_fixture_files_equals_full_decode_then_crop)
{
	/* progressive-smoothed.jpg: a fuzzed progressive 4:2:0 file whose scans leave
	 * coefficients unknown, so libjpeg smooths blocks with their neighbours */
	static const char *const files[] = {"cmyk.jpg", "gray.jpg", "progressive.jpg", "progressive-smoothed.jpg",
					    "rgb420.jpg", "rgb444.jpg",
					    "gray.png", "gray1.png", "graya16.png", "interlaced.png", "palette.png",
					    "rgb.png", "rgb16.png", "rgba.png"};
	struct image full = {0};
	for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
		size_t len;
		unsigned char *png = read_all(files[f], &len);
		for (int channels = 0; channels <= 3; channels += channels ? 2 : 1) {
			ck_ok(image_decode(png, len, channels, 0, &full));
			expect_region_equals_crop(png, len, channels, &full, 0, 0, full.width, full.height, files[f]);
			expect_region_equals_crop(png, len, channels, &full, 3, 2, full.width - 5, full.height - 4, files[f]);
			expect_region_equals_crop(png, len, channels, &full, full.width - 1, 1, 1, 1, files[f]);
			for (int x = 0; x < full.width; x++)
				expect_region_equals_crop(png, len, channels, &full, x, 0, 1, full.height, files[f]);
		}
		free(png);
	}
	{
		/* in place, a 4:2:0 window is what the decoder made: from the iMCU column (16
		 * pixels) left of its widened left edge to one pixel past its right edge */
		size_t len;
		unsigned char *jpg = read_all("rgb420.jpg", &len);
		int x_in = -1;
		ck_ok(image_decode_region(jpg, len, 3, 21, 2, 20, 10, &full, &x_in));
		ck_assert_int_eq(x_in, 5);
		ck_assert_int_eq(full.width, 26);
		ck_assert_int_eq(full.height, 10);
		free(jpg);
	}
	image_free(&full);
}
END_TEST

START_TEST(region_decode_rejects_rectangles_outside_the_image_and_bad_arguments)
{
	static const char *const files[] = {"rgb420.jpg", "rgb.png"};
	struct image img = {0};
	for (int f = 0; f < 2; f++) {
		size_t len;
		unsigned char *buf = read_all(files[f], &len);
		int w, h, c;
		char want[128];
		ck_ok(image_probe(buf, len, &w, &h, &c));
		ck_assert_int_eq(image_decode_region(buf, len, 3, 1, 0, w, h, &img, NULL), MX_ERR_INVALID);
		snprintf(want, sizeof want, "image_decode_region: rectangle %dx%d at (1, 0) is not inside the %dx%d image",
			 w, h, w, h);
		ck_assert_msg(strstr(mx_error_message(), want) != NULL, "%s", mx_error_message());
		ck_assert_int_eq(image_decode_region(buf, len, 3, 0, h, 1, 1, &img, NULL), MX_ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(mx_error_message(), "is not inside the"));
		ck_assert_int_eq(image_decode_region(buf, len, 3, -1, 0, 2, 2, &img, NULL), MX_ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(mx_error_message(), "rectangle 2x2 at (-1, 0) is empty or starts outside"));
		ck_assert_int_eq(image_decode_region(buf, len, 3, 0, 0, 0, 2, &img, NULL), MX_ERR_INVALID);
		ck_assert_int_eq(image_decode_region(buf, len, 2, 0, 0, 1, 1, &img, NULL), MX_ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(mx_error_message(), "channels 2 (0, 1 or 3)"));
		ck_assert_int_eq(image_decode_region(buf, len, 3, 0, 0, 1, 1, NULL, NULL), MX_ERR_INVALID);
		free(buf);
	}
	ck_assert_int_eq(image_decode_region("GIF89a\x01\x00", 8, 3, 0, 0, 1, 1, &img, NULL), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "image_decode_region: not a JPEG or PNG image"));
	ck_assert_int_eq(image_decode_region(NULL, 0, 3, 0, 0, 1, 1, &img, NULL), MX_ERR_FORMAT);
	image_free(&img);
}
END_TEST

/* The rows below the rectangle are still entropy-decoded: damage there, or a missing end,
 * is the error it is for a full decode, not silently skipped. */
START_TEST(region_decode_reports_corrupt_data_below_the_rectangle_as_a_full_decode_does)
{
	struct image img = {0};
	for (size_t v = 0; v < sizeof jpeg_variants / sizeof *jpeg_variants; v++) {
		size_t len;
		unsigned char *jpg = encode_variant(&jpeg_variants[v], 120, 96, (uint32_t)v, &len), *bad = malloc(len);
		const char *full_msg;
		char region_msg[512];
		int full_rc, region_rc, x_in;
		/* a restart marker out of place in the last rows' data (the last scan's, when
		 * progressive) */
		memcpy(bad, jpg, len);
		bad[len - 12] = 0xff, bad[len - 11] = 0xd5;
		full_rc = image_decode(bad, len, 3, 0, &img);
		snprintf(region_msg, sizeof region_msg, "%s", mx_error_message());
		region_rc = image_decode_region(bad, len, 3, 8, 0, 16, 16, &img, NULL);
		ck_assert_msg(full_rc == MX_ERR_FORMAT && region_rc == full_rc, "%s: full decode %d (%s), region %d (%s)",
			      jpeg_variants[v].name, full_rc, region_msg, region_rc, mx_error_message());
		full_msg = strstr(region_msg, "JPEG at byte");
		ck_assert_msg(full_msg && strstr(mx_error_message(), full_msg), "%s: full decode: %s; region: %s",
			      jpeg_variants[v].name, region_msg, mx_error_message());
		ck_assert_ptr_nonnull(strstr(mx_error_message(), "image_decode_region: JPEG at byte"));
		/* only the EOI marker missing */
		ck_assert_int_eq(image_decode_region(jpg, len - 2, 3, 0, 0, 8, 8, &img, &x_in), MX_ERR_FORMAT);
		ck_assert_ptr_nonnull(strstr(mx_error_message(), "premature end of JPEG file"));
		/* and the same file undamaged decodes */
		ck_ok(image_decode_region(jpg, len, 3, 8, 0, 16, 16, &img, &x_in));
		free(bad);
		free(jpg);
	}
	image_free(&img);
}
END_TEST

/* ---- resizing ---- */

/* Runs the manifest's resize lines for one interpolation; returns how many ran. */
static int check_resizes(int interp, int max_allowed)
{
	static struct case_line cases[256];
	int n = read_manifest(cases, 256), ran = 0, up = 0, down = 0;
	for (int i = 0; i < n; i++) {
		const struct case_line *c = &cases[i];
		struct image src = {0}, dst = {0};
		unsigned char *pix, *ref;
		size_t len, ref_len, differ;
		int d;
		if (strcmp(c->kind, "resize") || c->interp != interp)
			continue;
		pix = read_all(c->file, &len);
		ref = read_all(c->ref, &ref_len);
		ck_ok(image_reserve(&src, c->width, c->height, c->chans));
		ck_assert_uint_eq(len, (size_t)c->width * c->height * c->chans);
		memcpy(src.pixels, pix, len);
		ck_ok(image_resize(&src, c->dst_w, c->dst_h, interp, &dst));
		ck_assert(dst.width == c->dst_w && dst.height == c->dst_h && dst.channels == c->chans);
		ck_assert_uint_eq(ref_len, (size_t)c->dst_w * c->dst_h * c->chans);
		d = max_abs_diff(dst.pixels, ref, ref_len, &differ);
		ck_assert_msg(d <= max_allowed, "interp %d %dx%dx%d -> %dx%d vs %s (%s): max diff %d "
			      "(%zu of %zu bytes differ), allowed %d", interp, c->width, c->height,
			      c->chans, c->dst_w, c->dst_h, c->ref, c->source, d, differ, ref_len,
			      max_allowed);
		up += c->dst_w > c->width || c->dst_h > c->height;
		down += c->dst_w < c->width || c->dst_h < c->height;
		image_free(&src);
		image_free(&dst);
		free(pix);
		free(ref);
		ran++;
	}
	ck_assert_msg(up > 0 && down > 0, "interp %d: %d cases enlarge, %d shrink", interp, up, down);
	return ran;
}

START_TEST(nearest_resize_matches_opencv_up_and_down)
{
	ck_assert_int_eq(check_resizes(IMAGE_INTERP_NEAREST, EXPECT_BIT_EXACT ? 0 : 1), 9);
}
END_TEST

START_TEST(linear_resize_matches_opencv_up_and_down)
{
	/* includes the exact 2x shrink, which OpenCV computes as a 2x2 box */
	ck_assert_int_eq(check_resizes(IMAGE_INTERP_LINEAR, EXPECT_BIT_EXACT ? 0 : 1), 9);
}
END_TEST

START_TEST(cubic_resize_matches_opencv_up_and_down)
{
	ck_assert_int_eq(check_resizes(IMAGE_INTERP_CUBIC, EXPECT_BIT_EXACT ? 0 : 1), 9);
}
END_TEST

START_TEST(area_resize_matches_opencv_up_and_down)
{
	/* integer factors (box), fractional shrink (area weights), enlarging (linear-like) */
	ck_assert_int_eq(check_resizes(IMAGE_INTERP_AREA, EXPECT_BIT_EXACT ? 0 : 1), 9);
}
END_TEST

START_TEST(a_linear_2x_shrink_is_the_2x2_mean_rounded_half_up)
{
	static const unsigned char src[] = {
		0, 1, 10, 20, 255, 255,
		1, 0, 11, 20, 254, 255,
	};
	struct image a = {0}, b = {0};
	ck_ok(image_reserve(&a, 6, 2, 1));
	memcpy(a.pixels, src, sizeof src);
	ck_ok(image_resize(&a, 3, 1, IMAGE_INTERP_LINEAR, &b));
	/* (2 + 2) >> 2 = 1: half rounds up, as OpenCV's SIMD box does */
	ck_assert_int_eq(b.pixels[0], 1);
	ck_assert_int_eq(b.pixels[1], 15);
	ck_assert_int_eq(b.pixels[2], 255);
	image_free(&a);
	image_free(&b);
}
END_TEST

START_TEST(linear_resize_keeps_a_constant_image_constant_and_clamps_edges)
{
	struct image a = {0}, b = {0};
	static const int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {3, 2}, {40, 33}, {200, 150}};
	for (int interp = 0; interp <= 3; interp++)
		for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
			ck_ok(image_reserve(&a, sizes[s][0], sizes[s][1], 3));
			for (int i = 0; i < sizes[s][0] * sizes[s][1]; i++) {
				a.pixels[3 * i] = 200;
				a.pixels[3 * i + 1] = 7;
				a.pixels[3 * i + 2] = 255;
			}
			ck_ok(image_resize(&a, 29, 5, interp, &b));
			for (int i = 0; i < 29 * 5; i++)
				ck_assert_msg(b.pixels[3 * i] == 200 && b.pixels[3 * i + 1] == 7 &&
					      b.pixels[3 * i + 2] == 255, "interp %d from %dx%d: pixel %d "
					      "is %d %d %d", interp, sizes[s][0], sizes[s][1], i,
					      b.pixels[3 * i], b.pixels[3 * i + 1], b.pixels[3 * i + 2]);
		}
	image_free(&a);
	image_free(&b);
}
END_TEST

START_TEST(resize_to_the_same_size_copies_and_reuses_the_output_buffer)
{
	struct image a = {0}, b = {0};
	unsigned char *pixels;
	fill_pattern(&a, 50, 40, 3, 3);
	ck_ok(image_resize(&a, 50, 40, IMAGE_INTERP_CUBIC, &b));
	ck_assert(!memcmp(a.pixels, b.pixels, 50 * 40 * 3));
	pixels = b.pixels;
	ck_ok(image_resize(&a, 25, 20, IMAGE_INTERP_LINEAR, &b));
	ck_ok(image_resize(&a, 49, 39, IMAGE_INTERP_AREA, &b));
	ck_assert_ptr_eq(b.pixels, pixels);
	image_free(&a);
	image_free(&b);
}
END_TEST

START_TEST(resize_rejects_bad_sizes_interpolations_and_aliasing)
{
	struct image a = {0}, b = {0};
	fill_pattern(&a, 10, 10, 1, 0);
	ck_assert_int_eq(image_resize(&a, 0, 5, IMAGE_INTERP_LINEAR, &b), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "to an empty size 0x5"));
	ck_assert_int_eq(image_resize(&a, 5, -1, IMAGE_INTERP_LINEAR, &b), MX_ERR_INVALID);
	ck_assert_int_eq(image_resize(&a, 5, 5, (enum image_interp)4, &b), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "unknown interpolation 4"));
	ck_assert_int_eq(image_resize(&a, 5, 5, IMAGE_INTERP_LINEAR, &a), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "must be another image"));
	ck_assert_int_eq(image_resize(&b, 5, 5, IMAGE_INTERP_LINEAR, &a), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "not a valid image"));
	ck_assert_int_eq(image_resize(&a, 100000, 100000, IMAGE_INTERP_LINEAR, &b), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "over the limit"));
	image_free(&a);
}
END_TEST

struct thread_job {
	const unsigned char *jpg;
	size_t len;
	unsigned char result[128 * 96 * 3];
	int rc;
};

static void *decode_and_resize_many(void *arg)
{
	struct thread_job *job = arg;
	struct image img = {0}, out = {0};
	for (int i = 0; i < 40 && !job->rc; i++) {
		job->rc = image_decode(job->jpg, job->len, 3, 0, &img);
		if (!job->rc)
			job->rc = image_resize(&img, 128, 96, (enum image_interp)(i % 4), &out);
		if (!job->rc && i % 4 == 1)
			memcpy(job->result, out.pixels, sizeof job->result);
	}
	image_free(&img);
	image_free(&out);
	return NULL;
}

START_TEST(decoding_and_resizing_on_several_threads_gives_the_same_pixels)
{
	struct thread_job jobs[4];
	pthread_t threads[4];
	size_t len;
	unsigned char *jpg = read_all("rgb420.jpg", &len);
	struct image img = {0}, out = {0};
	ck_ok(image_decode(jpg, len, 3, 0, &img));
	ck_ok(image_resize(&img, 128, 96, IMAGE_INTERP_LINEAR, &out));
	for (int t = 0; t < 4; t++) {
		jobs[t].jpg = jpg;
		jobs[t].len = len;
		jobs[t].rc = 0;
		ck_assert_int_eq(pthread_create(&threads[t], NULL, decode_and_resize_many, &jobs[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(threads[t], NULL);
		ck_assert_int_eq(jobs[t].rc, MX_OK);
		ck_assert(!memcmp(jobs[t].result, out.pixels, sizeof jobs[t].result));
	}
	image_free(&img);
	image_free(&out);
	free(jpg);
}
END_TEST

/* ---- crop and flip ---- */

START_TEST(crop_copies_the_rectangle_and_rejects_one_outside)
{
	struct image a = {0}, b = {0};
	fill_pattern(&a, 20, 10, 3, 0);
	ck_ok(image_crop(&a, 3, 2, 5, 4, &b));
	ck_assert(b.width == 5 && b.height == 4 && b.channels == 3);
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 15; x++)
			ck_assert_int_eq(b.pixels[y * 15 + x], a.pixels[(y + 2) * 60 + 9 + x]);
	ck_ok(image_crop(&a, 0, 0, 20, 10, &b));
	ck_assert(!memcmp(a.pixels, b.pixels, 600));
	ck_ok(image_crop(&a, 19, 9, 1, 1, &b));
	ck_assert(!memcmp(b.pixels, a.pixels + 597, 3));

	ck_assert_int_eq(image_crop(&a, 16, 2, 5, 4, &b), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(),
				     "rectangle 5x4 at (16, 2) is not inside the 20x10 image"));
	ck_assert_int_eq(image_crop(&a, -1, 0, 5, 4, &b), MX_ERR_INVALID);
	ck_assert_int_eq(image_crop(&a, 0, 7, 5, 4, &b), MX_ERR_INVALID);
	ck_assert_int_eq(image_crop(&a, 0, 0, 0, 4, &b), MX_ERR_INVALID);
	ck_assert_int_eq(image_crop(&a, 0, 0, 5, 0, &b), MX_ERR_INVALID);
	ck_assert_int_eq(image_crop(&a, 2, 2, 0x7fffffff, 4, &b), MX_ERR_INVALID);
	ck_assert_int_eq(image_crop(&a, 0, 0, 5, 4, &a), MX_ERR_INVALID);
	image_free(&a);
	image_free(&b);
}
END_TEST

START_TEST(flip_mirrors_each_row_and_keeps_channel_order)
{
	struct image a = {0}, b = {0};
	for (int channels = 1; channels <= 3; channels += 2)
		for (int width = 1; width <= 6; width++) {
			fill_pattern(&a, width, 3, channels, 11);
			ck_ok(image_crop(&a, 0, 0, width, 3, &b));
			image_flip_horizontal(&b);
			for (int y = 0; y < 3; y++)
				for (int x = 0; x < width; x++)
					for (int c = 0; c < channels; c++)
						ck_assert_int_eq(b.pixels[(y * width + x) * channels + c],
								 a.pixels[(y * width + width - 1 - x) * channels + c]);
			image_flip_horizontal(&b);
			ck_assert(!memcmp(a.pixels, b.pixels, (size_t)width * 3 * channels));
		}
	image_free(&a);
	image_free(&b);
}
END_TEST

START_TEST(reserve_rejects_bad_channels_and_sizes)
{
	struct image a = {0};
	ck_assert_int_eq(image_reserve(&a, 4, 4, 2), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "2 channels (1 or 3 supported)"));
	ck_assert_int_eq(image_reserve(&a, 0, 4, 3), MX_ERR_INVALID);
	ck_assert_int_eq(image_reserve(&a, 1 << 20, 1 << 20, 1), MX_ERR_INVALID);
	ck_assert_ptr_null(a.pixels);
	ck_ok(image_reserve(&a, 4, 4, 3));
	ck_assert_uint_eq(a.capacity, 48);
	image_free(&a);
}
END_TEST

/* ---- decoding errors ---- */

static void expect_decode_error(const unsigned char *buf, size_t len, const char *what)
{
	struct image img = {0};
	int rc = image_decode(buf, len, 3, 0, &img);
	ck_assert_msg(rc == MX_ERR_FORMAT, "decode gave %d, want MX_ERR_FORMAT (%s)", rc, what);
	ck_assert_msg(strstr(mx_error_message(), what) != NULL, "message \"%s\" lacks \"%s\"",
		      mx_error_message(), what);
	image_free(&img);
}

START_TEST(an_empty_buffer_or_other_bytes_are_not_an_image)
{
	struct image img = {0};
	expect_decode_error((const unsigned char *)"", 0, "image_decode: empty buffer");
	expect_decode_error(NULL, 0, "empty buffer");
	expect_decode_error((const unsigned char *)"GIF89a\x01\x00", 8,
			    "not a JPEG or PNG image (8 bytes starting 47 49 46 38)");
	expect_decode_error((const unsigned char *)"\xff\xd8", 2, "not a JPEG or PNG image");
	ck_assert_int_eq(image_decode("x", 1, 2, 0, &img), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "channels 2 (0, 1 or 3)"));
	ck_assert_int_eq(image_decode("x", 1, 3, -1, &img), MX_ERR_INVALID);
	ck_assert_int_eq(image_decode("x", 1, 3, 0, NULL), MX_ERR_INVALID);
}
END_TEST

START_TEST(a_truncated_jpeg_is_an_error_naming_the_byte)
{
	size_t len;
	unsigned char *jpg = read_all("rgb420.jpg", &len), *prog;
	char want[64];
	expect_decode_error(jpg, len / 2, "premature end of JPEG file");
	snprintf(want, sizeof want, "of %zu: ", len / 2);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "image_decode: JPEG at byte "));
	ck_assert_ptr_nonnull(strstr(mx_error_message(), want));
	expect_decode_error(jpg, 100, "premature end of JPEG file");  /* inside the header */
	expect_decode_error(jpg, len - 2, "premature end of JPEG file"); /* only EOI missing */
	ck_assert_int_ne(image_probe(jpg, 100, NULL, NULL, NULL), MX_OK);
	free(jpg);
	prog = read_all("progressive.jpg", &len);
	expect_decode_error(prog, len * 2 / 3, "JPEG");
	free(prog);
}
END_TEST

START_TEST(a_truncated_png_is_an_error_naming_the_byte)
{
	size_t len;
	unsigned char *png = read_all("rgb.png", &len);
	expect_decode_error(png, len / 2, "truncated PNG data");
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "image_decode: PNG at byte "));
	expect_decode_error(png, 20, "truncated PNG data");         /* inside IHDR */
	expect_decode_error(png, len - 12, "truncated PNG data");   /* IEND missing */
	free(png);
}
END_TEST

START_TEST(corrupt_jpeg_markers_and_data_are_errors)
{
	size_t len, at;
	unsigned char *jpg = read_all("rgb420.jpg", &len);
	unsigned char *bad = malloc(len);
	/* a DQT segment whose length is 1 */
	for (at = 2; at + 1 < len && !(jpg[at] == 0xff && jpg[at + 1] == 0xdb); at++)
		;
	memcpy(bad, jpg, len);
	bad[at + 2] = 0, bad[at + 3] = 1;
	expect_decode_error(bad, len, "bogus marker length");
	/* SOF0 turned into a marker byte that is no marker */
	for (at = 2; at + 1 < len && !(jpg[at] == 0xff && jpg[at + 1] == 0xc0); at++)
		;
	memcpy(bad, jpg, len);
	bad[at + 1] = 0x01;
	expect_decode_error(bad, len, "corrupt JPEG data");
	/* SOF3: a lossless JPEG, which libjpeg does not decode */
	bad[at + 1] = 0xc3;
	expect_decode_error(bad, len, "unsupported JPEG process");
	/* a restart marker in the middle of the entropy-coded data: libjpeg only warns,
	 * and we make that an error */
	for (at = 2; at + 1 < len && !(jpg[at] == 0xff && jpg[at + 1] == 0xda); at++)
		;
	memcpy(bad, jpg, len);
	bad[at + 40] = 0xff, bad[at + 41] = 0xd3;
	expect_decode_error(bad, len, "corrupt JPEG data: premature end of data segment");
	free(bad);
	free(jpg);
}
END_TEST

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

START_TEST(corrupt_png_chunks_are_errors)
{
	size_t len, at;
	unsigned char *png = read_all("rgb.png", &len), *bad = malloc(len);
	memcpy(bad, png, len);
	bad[20] ^= 1;  /* IHDR height changed, CRC not */
	expect_decode_error(bad, len, "IHDR: CRC error");
	memcpy(bad, png, len);
	for (at = 8; at + 8 < len && memcmp(bad + at + 4, "IDAT", 4); at += 12 + be32(bad + at))
		;
	bad[at + 8 + 10] ^= 0x55;  /* inside the IDAT payload: zlib notices first */
	expect_decode_error(bad, len, "image_decode: PNG at byte ");
	ck_assert_ptr_nonnull(strstr(mx_error_message(), ": IDAT: "));
	memcpy(bad, png, len);
	bad[at + 8 + be32(bad + at)] ^= 1;  /* the IDAT's CRC itself */
	expect_decode_error(bad, len, "IDAT: CRC error");
	free(bad);
	free(png);
}
END_TEST

START_TEST(declared_sizes_over_the_pixel_limit_are_refused_before_allocating)
{
	size_t len, at;
	unsigned char *png = read_all("rgb.png", &len), *jpg;
	int w, h, c;
	struct image img = {0};
	/* PNG: IHDR says 30000 x 30000 (900 Mpixel), with a correct CRC */
	put_be32(png + 16, 30000);
	put_be32(png + 20, 30000);
	put_be32(png + 29, (uint32_t)crc32(0, png + 12, 17));
	expect_decode_error(png, len, "is 30000x30000 pixels, over the limit");
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "IMAGE_MAX_PIXELS"));
	ck_assert_int_eq(image_probe(png, len, &w, &h, &c), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "over the limit"));
	free(png);
	/* JPEG: SOF0 says 60000 x 60000 */
	jpg = read_all("rgb420.jpg", &len);
	for (at = 2; at + 1 < len && !(jpg[at] == 0xff && jpg[at + 1] == 0xc0); at++)
		;
	jpg[at + 5] = 60000 >> 8, jpg[at + 6] = 60000 & 0xff;
	jpg[at + 7] = 60000 >> 8, jpg[at + 8] = 60000 & 0xff;
	ck_assert_int_eq(image_decode(jpg, len, 3, 0, &img), MX_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "JPEG is 60000x60000 pixels, over the limit"));
	ck_assert_ptr_null(img.pixels);
	ck_assert_int_eq(image_probe(jpg, len, &w, &h, &c), MX_ERR_FORMAT);
	free(jpg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image");
	TCase *decode = tcase_create("decode"), *encode = tcase_create("encode");
	TCase *resize = tcase_create("resize"), *geometry = tcase_create("crop_flip");
	TCase *errors = tcase_create("errors"), *region = tcase_create("region");
	tcase_set_timeout(resize, 20);
	tcase_set_timeout(region, 30);
	tcase_add_test(decode, jpeg_decodes_match_mxnet_imdecode_pixel_for_pixel);
	tcase_add_test(decode, png_decodes_match_mxnet_imdecode_pixel_for_pixel);
	tcase_add_test(decode, dct_scaled_jpeg_decodes_match_libjpeg_turbo_scaled_pixels);
	tcase_add_test(decode, min_side_picks_the_smallest_dct_scale_that_keeps_the_shorter_side);
	tcase_add_test(decode, channels_zero_keeps_the_files_own_color_and_drops_alpha);
	tcase_add_test(decode, gray_expanded_to_rgb_repeats_the_gray_value_in_each_channel);
	tcase_add_test(decode, probe_reports_size_and_channels_without_decoding);
	tcase_add_test(decode, sniff_recognises_jpeg_and_png_signatures_only);
	tcase_add_test(decode, decoding_into_a_big_enough_image_reuses_its_buffer);
	tcase_add_test(region, region_decode_equals_full_decode_then_crop_for_every_jpeg_variant);
	tcase_add_test(region, region_decode_of_the_fixture_files_equals_full_decode_then_crop);
	tcase_add_test(region, region_decode_rejects_rectangles_outside_the_image_and_bad_arguments);
	tcase_add_test(region, region_decode_reports_corrupt_data_below_the_rectangle_as_a_full_decode_does);
	tcase_add_test(encode, png_encode_then_decode_gives_back_the_same_pixels);
	tcase_add_test(encode, jpeg_encode_at_quality_95_round_trips_within_a_few_levels_as_420);
	tcase_add_test(encode, encode_rejects_bad_quality_format_and_images);
	tcase_add_test(resize, nearest_resize_matches_opencv_up_and_down);
	tcase_add_test(resize, linear_resize_matches_opencv_up_and_down);
	tcase_add_test(resize, cubic_resize_matches_opencv_up_and_down);
	tcase_add_test(resize, area_resize_matches_opencv_up_and_down);
	tcase_add_test(resize, a_linear_2x_shrink_is_the_2x2_mean_rounded_half_up);
	tcase_add_test(resize, linear_resize_keeps_a_constant_image_constant_and_clamps_edges);
	tcase_add_test(resize, resize_to_the_same_size_copies_and_reuses_the_output_buffer);
	tcase_add_test(resize, resize_rejects_bad_sizes_interpolations_and_aliasing);
	tcase_add_test(resize, decoding_and_resizing_on_several_threads_gives_the_same_pixels);
	tcase_add_test(geometry, crop_copies_the_rectangle_and_rejects_one_outside);
	tcase_add_test(geometry, flip_mirrors_each_row_and_keeps_channel_order);
	tcase_add_test(geometry, reserve_rejects_bad_channels_and_sizes);
	tcase_add_test(errors, an_empty_buffer_or_other_bytes_are_not_an_image);
	tcase_add_test(errors, a_truncated_jpeg_is_an_error_naming_the_byte);
	tcase_add_test(errors, a_truncated_png_is_an_error_naming_the_byte);
	tcase_add_test(errors, corrupt_jpeg_markers_and_data_are_errors);
	tcase_add_test(errors, corrupt_png_chunks_are_errors);
	tcase_add_test(errors, declared_sizes_over_the_pixel_limit_are_refused_before_allocating);
	suite_add_tcase(s, decode);
	suite_add_tcase(s, region);
	suite_add_tcase(s, encode);
	suite_add_tcase(s, resize);
	suite_add_tcase(s, geometry);
	suite_add_tcase(s, errors);
	return run_suite(s);
}
