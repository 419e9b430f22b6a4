/* image.c: JPEG/PNG decoding and encoding (libjpeg-turbo, libpng), and resizing, cropping
 * and flipping of 8-bit HWC images with OpenCV 3.4's arithmetic (the OpenCV that MXNet
 * 1.9.1 bundles), so that a pipeline built on it sees the pixels MXNet's would.
 *
 * Where we differ from MXNet/OpenCV, on purpose:
 * - libjpeg warnings are errors. OpenCV prints "Corrupt JPEG data: ..." and hands back
 *   whatever was decoded (often gray blocks); a training set is better served by skipping
 *   such a record. So a JPEG whose EOI marker is missing is refused too. Only warnings that
 *   say nothing about the data (unknown JFIF revision, unknown Adobe transform) pass.
 * - An image may have at most IMAGE_MAX_PIXELS pixels and IMAGE_MAX_SIDE per side, and a
 *   progressive JPEG at most IMAGE_MAX_JPEG_SCANS scans, so a few hostile bytes can ask
 *   neither for gigabytes nor for minutes. libjpeg's own memory is capped as well.
 * - min_side lets libjpeg scale by 1/2, 1/4, 1/8 in the IDCT (OpenCV's IMREAD_REDUCED_*,
 *   which MXNet's decoder never asked for); 0 decodes at full size as MXNet does.
 *
 * Everywhere else the pixels are OpenCV's, bit for bit (tests/check_image.c holds MXNet's
 * own outputs): JPEG via libjpeg-turbo with JDCT_ISLOW and fancy upsampling, color ->
 * gray as the Y plane; PNG 16-bit -> 8 by dropping the low byte, palette and low bit
 * depths expanded, alpha dropped without compositing, color -> gray by libpng's
 * rgb_to_gray with 0.299/0.587/0.114 (what OpenCV's PNG reader asks for; it truncates, so
 * it can be one level below cv::cvtColor); CMYK JPEGs -> RGB or gray as OpenCV converts
 * them (cvtColor's 14-bit weights); and cv::resize for 8-bit images, all four methods.
 *
 * image_decode_region decodes a rectangle of a JPEG alone where libjpeg-turbo can do so
 * with a full decode's pixels (jpeg_crop_window and jpeg_read_window say how), else
 * decodes it all and crops.
 *
 * Errors longjmp only inside this file: each decoder's setjmp sits in the function that
 * created the codec object, and that function destroys it before returning.
 * Memory: pixel buffers are reused (image_reserve); libjpeg/libpng allocate their own
 * state per call, and image_resize a scratch of its tables plus 2-4 rows (about 12 KB for
 * a 256-pixel-wide RGB output). Everything is reentrant: no static mutable state. */
#include "data/image.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "error.h"

/* 64 Mpixel: a 8192x8192 photo fits; the biggest decoded buffer is 192 MiB. */
#define IMAGE_MAX_PIXELS (64LL << 20)
#define IMAGE_MAX_SIDE 65535
/* Real progressive JPEGs have about ten scans; thousands of tiny ones only burn time. */
#define IMAGE_MAX_JPEG_SCANS 1000
/* libjpeg's own working memory (progressive coefficient buffers are the big part). */
#define IMAGE_JPEG_MAX_MEMORY (1024L << 20)

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

enum image_format image_sniff(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (!p)
		return IMAGE_UNKNOWN;
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return IMAGE_JPEG;
	if (len >= 8 && !memcmp(p, png_signature, 8))
		return IMAGE_PNG;
	return IMAGE_UNKNOWN;
}

static int check_dims(const char *where, const char *what, long long width, long long height)
{
	if (width <= 0 || height <= 0)
		return mx_error(MX_ERR_FORMAT, "%s: %s has an empty size %lldx%lld", where, what,
				width, height);
	if (width > IMAGE_MAX_SIDE || height > IMAGE_MAX_SIDE || width * height > IMAGE_MAX_PIXELS)
		return mx_error(MX_ERR_FORMAT, "%s: %s is %lldx%lld pixels, over the limit of %lld "
				"pixels and %d per side (IMAGE_MAX_PIXELS in image.c)", where, what,
				width, height, IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE);
	return MX_OK;
}

int image_reserve(struct image *img, int width, int height, int channels)
{
	size_t need;
	if (!img)
		return mx_error(MX_ERR_INVALID, "image_reserve: no image");
	if (channels != 1 && channels != 3)
		return mx_error(MX_ERR_INVALID, "image_reserve: %d channels (1 or 3 supported)",
				channels);
	if (width <= 0 || height <= 0 || (long long)width * height > IMAGE_MAX_PIXELS)
		return mx_error(MX_ERR_INVALID, "image_reserve: size %dx%d is empty or over the "
				"limit of %lld pixels", width, height, IMAGE_MAX_PIXELS);
	need = (size_t)width * height * channels;
	if (need > img->capacity || !img->pixels) {
		unsigned char *p = malloc(need);
		if (!p)
			return mx_error(MX_ERR_NOMEM, "image_reserve: out of memory for %dx%dx%d",
					width, height, channels);
		free(img->pixels);
		img->pixels = p;
		img->capacity = need;
	}
	img->width = width;
	img->height = height;
	img->channels = channels;
	return MX_OK;
}

void image_free(struct image *img)
{
	if (!img)
		return;
	free(img->pixels);
	memset(img, 0, sizeof *img);
}

static int check_image(const char *where, const struct image *img)
{
	if (!img || !img->pixels || img->width <= 0 || img->height <= 0 ||
	    (img->channels != 1 && img->channels != 3) ||
	    (size_t)img->width * img->height * img->channels > img->capacity)
		return mx_error(MX_ERR_INVALID, "%s: not a valid image (%dx%dx%d)", where,
				img ? img->width : 0, img ? img->height : 0, img ? img->channels : 0);
	return MX_OK;
}

/* cv::cvtColor(RGB2GRAY) for 8 bits: 14-bit weights 4899, 9617, 1868 with rounding. */
static inline unsigned char rgb_to_gray(int r, int g, int b)
{
	return (unsigned char)((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14);
}

/* Lower-cases a library message's first word unless it is an acronym ("JPEG", "IDAT"). */
static void soften_first_letter(char *msg)
{
	if (msg[0] >= 'A' && msg[0] <= 'Z' && msg[1] >= 'a' && msg[1] <= 'z')
		msg[0] = (char)(msg[0] - 'A' + 'a');
}

/* ---- JPEG ---- */

struct jpeg_guard {
	struct jpeg_error_mgr pub;
	struct jpeg_progress_mgr progress;
	jmp_buf jump;
	char message[JMSG_LENGTH_MAX + 64];
};

static void jpeg_guard_error_exit(j_common_ptr cinfo)
{
	struct jpeg_guard *g = (struct jpeg_guard *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, g->message);
	longjmp(g->jump, 1);
}

/* msg_level < 0 is a warning: corrupt data becomes an error (see the top of the file). */
static void jpeg_guard_emit_message(j_common_ptr cinfo, int msg_level)
{
	int code = cinfo->err->msg_code;
	if (msg_level >= 0 || code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM)
		return;
	jpeg_guard_error_exit(cinfo);
}

static void jpeg_guard_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void jpeg_guard_progress(j_common_ptr cinfo)
{
	struct jpeg_guard *g = (struct jpeg_guard *)cinfo->err;
	if (cinfo->is_decompressor &&
	    ((j_decompress_ptr)cinfo)->input_scan_number > IMAGE_MAX_JPEG_SCANS) {
		snprintf(g->message, sizeof g->message, "more than %d scans in a progressive JPEG",
			 IMAGE_MAX_JPEG_SCANS);
		longjmp(g->jump, 1);
	}
}

static void jpeg_guard_init(struct jpeg_guard *g)
{
	memset(g, 0, sizeof *g);
	jpeg_std_error(&g->pub);
	g->pub.error_exit = jpeg_guard_error_exit;
	g->pub.emit_message = jpeg_guard_emit_message;
	g->pub.output_message = jpeg_guard_output_message;
	g->progress.progress_monitor = jpeg_guard_progress;
}

static int jpeg_failure(const char *where, struct jpeg_guard *g, j_decompress_ptr cinfo,
			const unsigned char *buf, size_t len)
{
	size_t at = len;
	if (cinfo->src && cinfo->src->next_input_byte >= buf &&
	    cinfo->src->next_input_byte <= buf + len)
		at = (size_t)(cinfo->src->next_input_byte - buf);
	soften_first_letter(g->message);
	return mx_error(MX_ERR_FORMAT, "%s: JPEG at byte %zu of %zu: %s", where, at, len,
			g->message);
}

/* OpenCV's icvCvt_CMYK2BGR_8u_C4C3R (Adobe's inverted CMYK, as libjpeg hands it over). */
static void cmyk_row_to_rgb(const unsigned char *cmyk, unsigned char *out, int width,
			    int channels)
{
	for (int i = 0; i < width; i++, cmyk += 4) {
		int k = cmyk[3];
		int c = k - ((255 - cmyk[0]) * k >> 8);
		int m = k - ((255 - cmyk[1]) * k >> 8);
		int y = k - ((255 - cmyk[2]) * k >> 8);
		if (channels == 3) {
			out[3 * i] = (unsigned char)c;
			out[3 * i + 1] = (unsigned char)m;
			out[3 * i + 2] = (unsigned char)y;
		} else {
			out[i] = rgb_to_gray(c, m, y);
		}
	}
}

/* Whether a window of this JPEG can be decoded alone (jpeg_crop_scanline and
 * jpeg_skip_scanlines) with the very pixels of a full decode: baseline, full size, and
 * sampling factors of 1 or 2 (4:4:4, 4:2:2, 4:4:0, 4:2:0, gray), the cases whose fancy
 * upsampling the region decode's tests check; anything else (4:1:1, 4x2, ...) decodes
 * every row. Progressive files decode whole: when their scans leave coefficients unknown,
 * libjpeg smooths each block with its neighbours, and a cut window has other neighbours at
 * its edges (the fuzz harness found such a file). */
static int jpeg_can_cut(j_decompress_ptr cinfo)
{
	if (jpeg_has_multiple_scans(cinfo))
		return 0;
	if (cinfo->scale_num != cinfo->scale_denom || cinfo->max_h_samp_factor > 2 ||
	    cinfo->max_v_samp_factor > 2)
		return 0;
	for (int ci = 0; ci < cinfo->num_components; ci++)
		if (cinfo->comp_info[ci].h_samp_factor > 2 || cinfo->comp_info[ci].v_samp_factor > 2)
			return 0;
	return 1;
}

/* Narrows a started decompression to the columns [x, x + width) widened by one pixel on
 * each side (jpeg_crop_scanline moves the left edge further, to an iMCU column): fancy
 * upsampling treats the first and last columns of a cropped scanline as image edges, so
 * those two differ from a full decode's and are left out. Sets *x0 and *cols to the
 * columns the decoder now produces. */
static void jpeg_crop_window(j_decompress_ptr cinfo, int x, int width, JDIMENSION *x0,
			     JDIMENSION *cols)
{
	/* libjpeg upsamples a component less than 3 samples wide without the fancy filter,
	 * so the window spans at least 2 * max_h_samp_factor + 1 columns */
	long full = cinfo->output_width, least = 2L * cinfo->max_h_samp_factor + 1;
	long left = x > 0 ? x - 1 : 0, right = x + width + 1 < full ? x + width + 1 : full;
	if (right - left < least) {
		right = left + least < full ? left + least : full;
		left = right - least > 0 ? right - least : 0;
	}
	*x0 = (JDIMENSION)left;
	*cols = (JDIMENSION)(right - left);
	jpeg_crop_scanline(cinfo, x0, cols);
}

/* Reads the rows [y, y + height) of a started decompression whose scanlines are columns
 * [x0, x0 + output_width) of the image: into img as they come when direct (img is then
 * output_width wide), else the columns [x, x + width) of them (img is width wide; CMYK
 * converted). With skip, the rows above are skipped, and the rows below are skipped up to
 * the last, which is read: skipping still entropy-decodes them, so corrupt data and a
 * missing EOI marker are errors exactly as in a full decode. scratch holds 4 scanlines.
 * Errors longjmp to the caller's guard; rows missing at the end are the caller's to
 * report. */
static void jpeg_read_window(j_decompress_ptr cinfo, int skip, int direct, int cmyk, int x0,
			     int x, int y, int width, int height, unsigned char *scratch,
			     struct image *img)
{
	JDIMENSION end = (JDIMENSION)(y + height);
	int comps = cmyk ? 4 : img->channels;
	size_t row_bytes = (size_t)cinfo->output_width * comps;
	size_t out_bytes = (size_t)img->width * img->channels;

	if (skip && y > 0)
		jpeg_skip_scanlines(cinfo, (JDIMENSION)y);
	while (cinfo->output_scanline < cinfo->output_height) {
		JDIMENSION first = cinfo->output_scanline, got;
		JSAMPROW rows[4];
		int n = 0, inside = first >= (JDIMENSION)y && first < end;
		if (first >= end && skip && cinfo->output_height - first > 1) {
			jpeg_skip_scanlines(cinfo, cinfo->output_height - first - 1);
			continue;
		}
		/* up to 4 rows, all inside the window or all outside it */
		while (n < 4 && first + n < (first < (JDIMENSION)y ? (JDIMENSION)y : first < end ? end :
					      cinfo->output_height)) {
			rows[n] = inside && direct ? img->pixels + (first + n - y) * out_bytes
						   : scratch + n * row_bytes;
			n++;
		}
		if ((got = jpeg_read_scanlines(cinfo, rows, (JDIMENSION)n)) == 0)
			return;
		if (!inside || direct)
			continue;
		for (JDIMENSION i = 0; i < got; i++) {
			const unsigned char *src = rows[i] + (size_t)(x - x0) * comps;
			unsigned char *dst = img->pixels + (first + i - y) * out_bytes;
			if (cmyk)
				cmyk_row_to_rgb(src, dst, width, img->channels);
			else
				memcpy(dst, src, out_bytes);
		}
	}
}

/* Decodes a JPEG into img: the whole image, or with window the rectangle window[0..3] =
 * (x, y, width, height) of it (which must lie inside the full-size image, so min_side is
 * 0 then). With x_in_img, img may hold more columns, as image_decode_region says. where
 * names the public function in messages. */
static int decode_jpeg(const char *where, const unsigned char *buf, size_t len, int channels,
		       int min_side, const int *window, int *x_in_img, struct image *img)
{
	struct jpeg_decompress_struct cinfo;
	struct jpeg_guard guard;
	unsigned char *volatile cmyk_row = NULL;
	unsigned char *volatile scratch = NULL;
	volatile int rc = MX_OK;
	int out_channels, cmyk;

	jpeg_guard_init(&guard);
	memset(&cinfo, 0, sizeof cinfo);  /* an early error finds no stale pointers */
	cinfo.err = &guard.pub;
	if (setjmp(guard.jump)) {
		rc = jpeg_failure(where, &guard, &cinfo, buf, len);
		goto done;
	}
	jpeg_create_decompress(&cinfo);
	cinfo.progress = &guard.progress;
	cinfo.mem->max_memory_to_use = IMAGE_JPEG_MAX_MEMORY;
	jpeg_mem_src(&cinfo, buf, (unsigned long)len);
	jpeg_read_header(&cinfo, TRUE);
	if ((rc = check_dims(where, "JPEG", cinfo.image_width, cinfo.image_height)))
		goto done;

	cmyk = cinfo.num_components == 4;
	out_channels = channels ? channels : cinfo.num_components == 1 ? 1 : 3;
	if (cmyk)
		cinfo.out_color_space = JCS_CMYK;
	else
		cinfo.out_color_space = out_channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	cinfo.dct_method = JDCT_ISLOW;
	if (min_side > 0) {
		for (unsigned denom = 8; denom >= 2; denom /= 2) {
			unsigned w = (cinfo.image_width + denom - 1) / denom;
			unsigned h = (cinfo.image_height + denom - 1) / denom;
			if ((w < h ? w : h) >= (unsigned)min_side) {
				cinfo.scale_num = 1;
				cinfo.scale_denom = denom;
				break;
			}
		}
	}
	if (window && (window[0] > (int)cinfo.image_width - window[2] ||
		       window[1] > (int)cinfo.image_height - window[3])) {
		rc = mx_error(MX_ERR_INVALID, "%s: rectangle %dx%d at (%d, %d) is not inside the "
			      "%ux%u image", where, window[2], window[3], window[0], window[1],
			      cinfo.image_width, cinfo.image_height);
		goto done;
	}
	jpeg_start_decompress(&cinfo);
	if (!cmyk && (int)cinfo.output_components != out_channels) {
		rc = mx_error(MX_ERR_INTERNAL, "%s: libjpeg gave %d components, not %d", where,
			      cinfo.output_components, out_channels);
		goto done;
	}
	if (window) {
		/* crop and skip only where that gives a full decode's pixels; without a crop
		 * the scanlines are the image's */
		int cut = jpeg_can_cut(&cinfo), direct = x_in_img && !cmyk;
		JDIMENSION x0 = 0, cols = cinfo.output_width;
		if (cut)
			jpeg_crop_window(&cinfo, window[0], window[2], &x0, &cols);
		if ((rc = image_reserve(img, direct ? (int)cols : window[2], window[3], out_channels)))
			goto done;
		/* 4 scanlines of the full width: enough for any crop of it */
		if (!(scratch = malloc((size_t)cinfo.image_width * 4 * 4))) {
			rc = mx_error(MX_ERR_NOMEM, "%s: out of memory", where);
			goto done;
		}
		jpeg_read_window(&cinfo, cut, direct, cmyk, (int)x0, window[0], window[1], window[2],
				 window[3], scratch, img);
		if (x_in_img)
			*x_in_img = direct ? window[0] - (int)x0 : 0;
	} else if ((rc = image_reserve(img, (int)cinfo.output_width, (int)cinfo.output_height,
				       out_channels))) {
		goto done;
	} else {
		size_t stride = (size_t)img->width * out_channels;
		if (cmyk && !(cmyk_row = malloc((size_t)cinfo.output_width * 4))) {
			rc = mx_error(MX_ERR_NOMEM, "%s: out of memory", where);
			goto done;
		}
		while (cinfo.output_scanline < cinfo.output_height) {
			unsigned char *row = img->pixels + cinfo.output_scanline * stride;
			if (cmyk) {
				JSAMPROW r = cmyk_row;
				if (jpeg_read_scanlines(&cinfo, &r, 1) != 1)
					break;
				cmyk_row_to_rgb(cmyk_row, row, img->width, out_channels);
			} else {
				/* straight into the pixels, up to rec_outbuf_height rows a call */
				JSAMPROW rows[4];
				int n = 0;
				while (n < 4 && cinfo.output_scanline + n < cinfo.output_height) {
					rows[n] = row + n * stride;
					n++;
				}
				if (jpeg_read_scanlines(&cinfo, rows, n) == 0)
					break;
			}
		}
	}
	if (cinfo.output_scanline < cinfo.output_height) {
		rc = mx_error(MX_ERR_FORMAT, "%s: JPEG stopped after %u of %u rows", where,
			      cinfo.output_scanline, cinfo.output_height);
		goto done;
	}
	jpeg_finish_decompress(&cinfo);
done:
	jpeg_destroy_decompress(&cinfo);
	free(cmyk_row);
	free(scratch);
	return rc;
}

static int probe_jpeg(const unsigned char *buf, size_t len, int *width, int *height,
		      int *channels)
{
	struct jpeg_decompress_struct cinfo;
	struct jpeg_guard guard;
	volatile int rc;

	jpeg_guard_init(&guard);
	memset(&cinfo, 0, sizeof cinfo);  /* an early error finds no stale pointers */
	cinfo.err = &guard.pub;
	if (setjmp(guard.jump)) {
		rc = jpeg_failure("image_probe", &guard, &cinfo, buf, len);
		goto done;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, buf, (unsigned long)len);
	jpeg_read_header(&cinfo, TRUE);
	if ((rc = check_dims("image_probe", "JPEG", cinfo.image_width, cinfo.image_height)))
		goto done;
	*width = (int)cinfo.image_width;
	*height = (int)cinfo.image_height;
	*channels = cinfo.num_components == 1 ? 1 : 3;
done:
	jpeg_destroy_decompress(&cinfo);
	return rc;
}

/* jpeg_mem_dest's buffer lives here, in memory the longjmp cannot roll back. */
struct jpeg_out {
	unsigned char *buf;
	unsigned long len;
};

static int encode_jpeg(const struct image *img, int quality, unsigned char **out,
		       size_t *out_len)
{
	struct jpeg_compress_struct cinfo;
	struct jpeg_guard guard;
	struct jpeg_out dest = {NULL, 0};
	size_t stride = (size_t)img->width * img->channels;
	volatile int rc = MX_OK;

	jpeg_guard_init(&guard);
	memset(&cinfo, 0, sizeof cinfo);  /* an early error finds no stale pointers */
	cinfo.err = &guard.pub;
	if (setjmp(guard.jump)) {
		soften_first_letter(guard.message);
		rc = mx_error(MX_ERR_INTERNAL, "image_encode: JPEG: %s", guard.message);
		free(dest.buf);
		dest.buf = NULL;
		goto done;
	}
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, &dest.buf, &dest.len);
	cinfo.image_width = (JDIMENSION)img->width;
	cinfo.image_height = (JDIMENSION)img->height;
	cinfo.input_components = img->channels;
	cinfo.in_color_space = img->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
	jpeg_set_defaults(&cinfo);   /* YCbCr 4:2:0, JDCT_ISLOW, like cv::imencode */
	jpeg_set_quality(&cinfo, quality, TRUE);
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height) {
		JSAMPROW row = img->pixels + cinfo.next_scanline * stride;
		jpeg_write_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_compress(&cinfo);
	*out = dest.buf;
	*out_len = dest.len;
done:
	jpeg_destroy_compress(&cinfo);
	return rc;
}

/* ---- PNG ---- */

struct png_guard {
	const unsigned char *buf;  /* reading: the file */
	size_t len, pos;
	unsigned char *out;        /* writing: the growing output */
	size_t out_len, out_cap;
	int out_of_memory;
	char message[256];
};

static void png_guard_error(png_structp png, png_const_charp msg)
{
	struct png_guard *g = png_get_error_ptr(png);
	if (msg != g->message)
		snprintf(g->message, sizeof g->message, "%s", msg);
	png_longjmp(png, 1);
}

static void png_guard_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static void png_guard_read(png_structp png, png_bytep out, png_size_t n)
{
	struct png_guard *g = png_get_io_ptr(png);
	if (n > g->len - g->pos) {
		snprintf(g->message, sizeof g->message, "truncated PNG data (%zu bytes wanted, "
			 "%zu left)", (size_t)n, g->len - g->pos);
		png_error(png, g->message);
	}
	memcpy(out, g->buf + g->pos, n);
	g->pos += n;
}

static void png_guard_write(png_structp png, png_bytep data, png_size_t n)
{
	struct png_guard *g = png_get_io_ptr(png);
	if (n > g->out_cap - g->out_len) {
		size_t cap = g->out_cap ? g->out_cap : 4096;
		unsigned char *p;
		while (cap - g->out_len < n)
			cap *= 2;
		if (!(p = realloc(g->out, cap))) {
			g->out_of_memory = 1;
			png_error(png, "out of memory");
		}
		g->out = p;
		g->out_cap = cap;
	}
	memcpy(g->out + g->out_len, data, n);
	g->out_len += n;
}

static void png_guard_flush(png_structp png) { (void)png; }

static int png_failure(const char *where, struct png_guard *g)
{
	soften_first_letter(g->message);
	return mx_error(MX_ERR_FORMAT, "%s: PNG at byte %zu of %zu: %s", where, g->pos, g->len,
			g->message);
}

/* where names the public function in messages. */
static int decode_png(const char *where, const unsigned char *buf, size_t len, int channels,
		      struct image *img)
{
	struct png_guard guard = {.buf = buf, .len = len};
	png_structp png;
	png_infop info = NULL;
	volatile int rc = MX_OK;

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &guard, png_guard_error,
				     png_guard_warning);
	if (!png || !(info = png_create_info_struct(png))) {
		png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
		return mx_error(MX_ERR_NOMEM, "%s: out of memory for libpng", where);
	}
	if (setjmp(png_jmpbuf(png))) {
		rc = png_failure(where, &guard);
		goto done;
	}
	png_set_read_fn(png, &guard, png_guard_read);
	png_set_user_limits(png, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE);
	png_set_chunk_malloc_max(png, 16u << 20);
	png_read_info(png, info);
	{
		png_uint_32 width = png_get_image_width(png, info);
		png_uint_32 height = png_get_image_height(png, info);
		int depth = png_get_bit_depth(png, info);
		int color_type = png_get_color_type(png, info);
		int color = (color_type & PNG_COLOR_MASK_COLOR) != 0;  /* palette counts */
		int out_channels, passes;
		size_t stride;

		if ((rc = check_dims(where, "PNG", width, height)))
			goto done;
		out_channels = channels ? channels : color ? 3 : 1;
		/* As OpenCV's PNG reader: high byte of 16-bit samples, palette and low-depth
		 * gray expanded, alpha (and tRNS) dropped without compositing, color -> gray
		 * by libpng with the weights OpenCV passes. */
		if (depth == 16)
			png_set_strip_16(png);
		if (color_type == PNG_COLOR_TYPE_PALETTE)
			png_set_palette_to_rgb(png);
		if (!color && depth < 8)
			png_set_expand_gray_1_2_4_to_8(png);
		png_set_strip_alpha(png);
		if (!color && out_channels == 3)
			png_set_gray_to_rgb(png);
		if (color && out_channels == 1)
			png_set_rgb_to_gray(png, 1, 0.299, 0.587);
		passes = png_set_interlace_handling(png);
		png_read_update_info(png, info);
		stride = (size_t)width * out_channels;
		if (png_get_rowbytes(png, info) != stride) {
			rc = mx_error(MX_ERR_INTERNAL, "%s: libpng rows of %zu bytes, "
				      "expected %zu", where, (size_t)png_get_rowbytes(png, info), stride);
			goto done;
		}
		if ((rc = image_reserve(img, (int)width, (int)height, out_channels)))
			goto done;
		for (int pass = 0; pass < passes; pass++)
			for (png_uint_32 y = 0; y < height; y++)
				png_read_row(png, img->pixels + y * stride, NULL);
		png_read_end(png, NULL);
	}
done:
	png_destroy_read_struct(&png, &info, NULL);
	return rc;
}

/* The IHDR chunk is always first: width, height, depth and color type without libpng. */
static int probe_png(const unsigned char *buf, size_t len, int *width, int *height,
		     int *channels)
{
	uint32_t w, h;
	int depth, color_type, ok, rc;
	if (len < 8 + 8 + 13 || memcmp(buf + 12, "IHDR", 4) ||
	    buf[8] || buf[9] || buf[10] || buf[11] != 13)
		return mx_error(MX_ERR_FORMAT, "image_probe: PNG of %zu bytes has no IHDR chunk "
				"at byte 8", len);
	w = (uint32_t)buf[16] << 24 | (uint32_t)buf[17] << 16 | (uint32_t)buf[18] << 8 | buf[19];
	h = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 | (uint32_t)buf[22] << 8 | buf[23];
	depth = buf[24];
	color_type = buf[25];
	switch (color_type) {
	case PNG_COLOR_TYPE_GRAY:
		ok = depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
		break;
	case PNG_COLOR_TYPE_PALETTE:
		ok = depth == 1 || depth == 2 || depth == 4 || depth == 8;
		break;
	case PNG_COLOR_TYPE_RGB: case PNG_COLOR_TYPE_GRAY_ALPHA: case PNG_COLOR_TYPE_RGB_ALPHA:
		ok = depth == 8 || depth == 16;
		break;
	default:
		ok = 0;
	}
	if (!ok)
		return mx_error(MX_ERR_FORMAT, "image_probe: PNG at byte 24: bit depth %d with "
				"color type %d is not valid", depth, color_type);
	if ((rc = check_dims("image_probe", "PNG", w, h)))
		return rc;
	*width = (int)w;
	*height = (int)h;
	*channels = color_type & PNG_COLOR_MASK_COLOR ? 3 : 1;
	return MX_OK;
}

static int encode_png(const struct image *img, int level, unsigned char **out,
		      size_t *out_len)
{
	struct png_guard guard = {0};
	png_structp png;
	png_infop info = NULL;
	size_t stride = (size_t)img->width * img->channels;
	volatile int rc = MX_OK;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &guard, png_guard_error,
				      png_guard_warning);
	if (!png || !(info = png_create_info_struct(png))) {
		png_destroy_write_struct(png ? &png : NULL, NULL);
		return mx_error(MX_ERR_NOMEM, "image_encode: out of memory for libpng");
	}
	if (setjmp(png_jmpbuf(png))) {
		rc = mx_error(guard.out_of_memory ? MX_ERR_NOMEM : MX_ERR_INTERNAL,
			      "image_encode: PNG: %s", guard.message);
		free(guard.out);
		goto done;
	}
	png_set_write_fn(png, &guard, png_guard_write, png_guard_flush);
	png_set_compression_level(png, level);
	png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
		     img->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < img->height; y++)
		png_write_row(png, img->pixels + y * stride);
	png_write_end(png, info);
	*out = guard.out;
	*out_len = guard.out_len;
done:
	png_destroy_write_struct(&png, &info);
	return rc;
}

/* ---- public codec entry points ---- */

int image_decode(const void *buf, size_t len, int channels, int min_side, struct image *img)
{
	const unsigned char *p = buf;
	if (!img)
		return mx_error(MX_ERR_INVALID, "image_decode: no output image");
	if (channels != 0 && channels != 1 && channels != 3)
		return mx_error(MX_ERR_INVALID, "image_decode: channels %d (0, 1 or 3)", channels);
	if (min_side < 0)
		return mx_error(MX_ERR_INVALID, "image_decode: min_side %d < 0", min_side);
	if (!p || len == 0)
		return mx_error(MX_ERR_FORMAT, "image_decode: empty buffer: not a JPEG or PNG image");
	switch (image_sniff(p, len)) {
	case IMAGE_JPEG:
		return decode_jpeg("image_decode", p, len, channels, min_side, NULL, NULL, img);
	case IMAGE_PNG:
		return decode_png("image_decode", p, len, channels, img);
	default:
		return mx_error(MX_ERR_FORMAT, "image_decode: not a JPEG or PNG image (%zu bytes "
				"starting %02x %02x %02x %02x)", len, p[0], len > 1 ? p[1] : 0,
				len > 2 ? p[2] : 0, len > 3 ? p[3] : 0);
	}
}

int image_decode_region(const void *buf, size_t len, int channels, int x, int y, int width,
			int height, struct image *img, int *x_in_img)
{
	const unsigned char *p = buf;
	int window[4] = {x, y, width, height}, rc;
	if (!img)
		return mx_error(MX_ERR_INVALID, "image_decode_region: no output image");
	if (channels != 0 && channels != 1 && channels != 3)
		return mx_error(MX_ERR_INVALID, "image_decode_region: channels %d (0, 1 or 3)",
				channels);
	if (x < 0 || y < 0 || width <= 0 || height <= 0)
		return mx_error(MX_ERR_INVALID, "image_decode_region: rectangle %dx%d at (%d, %d) "
				"is empty or starts outside the image", width, height, x, y);
	if (!p || len == 0)
		return mx_error(MX_ERR_FORMAT, "image_decode_region: empty buffer: not a JPEG or "
				"PNG image");
	switch (image_sniff(p, len)) {
	case IMAGE_JPEG:
		return decode_jpeg("image_decode_region", p, len, channels, 0, window, x_in_img, img);
	case IMAGE_PNG: {
		/* libpng has no cheaper way: decode it all, then crop */
		struct image whole = {0};
		if (!(rc = decode_png("image_decode_region", p, len, channels, &whole))) {
			if (x > whole.width - width || y > whole.height - height)
				rc = mx_error(MX_ERR_INVALID, "image_decode_region: rectangle %dx%d at "
					      "(%d, %d) is not inside the %dx%d image", width, height,
					      x, y, whole.width, whole.height);
			else if (!(rc = image_crop(&whole, x, y, width, height, img)) && x_in_img)
				*x_in_img = 0;
		}
		image_free(&whole);
		return rc;
	}
	default:
		return mx_error(MX_ERR_FORMAT, "image_decode_region: not a JPEG or PNG image (%zu "
				"bytes starting %02x %02x %02x %02x)", len, p[0], len > 1 ? p[1] : 0,
				len > 2 ? p[2] : 0, len > 3 ? p[3] : 0);
	}
}

int image_probe(const void *buf, size_t len, int *width, int *height, int *channels)
{
	const unsigned char *p = buf;
	int w, h, c, rc;
	if (!p || len == 0)
		return mx_error(MX_ERR_FORMAT, "image_probe: empty buffer: not a JPEG or PNG image");
	switch (image_sniff(p, len)) {
	case IMAGE_JPEG:
		rc = probe_jpeg(p, len, &w, &h, &c);
		break;
	case IMAGE_PNG:
		rc = probe_png(p, len, &w, &h, &c);
		break;
	default:
		return mx_error(MX_ERR_FORMAT, "image_probe: not a JPEG or PNG image (%zu bytes "
				"starting %02x %02x %02x %02x)", len, p[0], len > 1 ? p[1] : 0,
				len > 2 ? p[2] : 0, len > 3 ? p[3] : 0);
	}
	if (rc)
		return rc;
	if (width)
		*width = w;
	if (height)
		*height = h;
	if (channels)
		*channels = c;
	return MX_OK;
}

int image_encode(const struct image *img, enum image_format format, int quality,
		 unsigned char **out, size_t *out_len)
{
	int rc;
	if (!out || !out_len)
		return mx_error(MX_ERR_INVALID, "image_encode: no output pointers");
	*out = NULL;
	*out_len = 0;
	if ((rc = check_image("image_encode", img)))
		return rc;
	if (format == IMAGE_JPEG) {
		if (quality < 1 || quality > 100)
			return mx_error(MX_ERR_INVALID, "image_encode: JPEG quality %d (1..100)",
					quality);
		return encode_jpeg(img, quality, out, out_len);
	}
	if (format == IMAGE_PNG) {
		if (quality < 0 || quality > 9)
			return mx_error(MX_ERR_INVALID, "image_encode: PNG compression level %d "
					"(0..9)", quality);
		return encode_png(img, quality, out, out_len);
	}
	return mx_error(MX_ERR_INVALID, "image_encode: unknown format %d (IMAGE_JPEG or "
			"IMAGE_PNG)", (int)format);
}

/* ---- resizing: cv::resize for 8-bit images, OpenCV 3.4 ----
 *
 * Linear, cubic and area-when-enlarging share OpenCV's separable scheme: a horizontal pass
 * turns each needed source row into ints scaled by 2^11 (coefficients are shorts with 11
 * fractional bits), and a vertical pass mixes 2 or 4 such rows with 11-bit weights. The
 * vertical pass rounds as OpenCV's SIMD code does, so results match cv2.resize exactly
 * (checked against the OpenCV 3.4.2 inside MXNet 1.9.1 on thousands of random sizes). */

#define COEF_BITS 11
#define COEF_SCALE (1 << COEF_BITS)

static inline int floor_d(double v) { int i = (int)v; return i - (i > v); }
static inline int floor_f(float v) { int i = (int)v; return i - (i > v); }
static inline int round_f(float v) { return (int)lrintf(v); }  /* half to even, as cvRound */
static inline unsigned char sat_u8(int v) { return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v); }
static inline short sat_s16(int v) { return (short)(v < SHRT_MIN ? SHRT_MIN : v > SHRT_MAX ? SHRT_MAX : v); }
static inline int clamp_i(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* OpenCV's interpolateCubic, A = -0.75, in float as OpenCV computes it. */
static void cubic_coeffs(float x, float *c)
{
	const float A = -0.75f;
	c[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
	c[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
	c[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
	c[3] = 1.f - c[0] - c[1] - c[2];
}

/* Tap positions and 11-bit weights along one axis. ksize 2 (linear, area_mode for
 * enlarging with INTER_AREA) or 4 (cubic). The horizontal axis clamps the position of
 * linear taps as OpenCV does (weight moved to the edge pixel); the vertical one keeps
 * OpenCV's unclamped weights and only clamps the rows. tap[] gets pixel indices. */
static void axis_tables(int ssize, int dsize, double scale, double inv_scale, int ksize,
			int area_mode, int horizontal, int *tap, short *coef)
{
	for (int d = 0; d < dsize; d++) {
		float f, cb[4];
		int s;
		if (!area_mode) {
			f = (float)((d + 0.5) * scale - 0.5);
			s = floor_f(f);
			f -= (float)s;
		} else {
			s = floor_d(d * scale);
			f = (float)((d + 1) - (s + 1) * inv_scale);
			f = f <= 0 ? 0.f : f - (float)floor_f(f);
		}
		if (ksize == 2) {
			if (horizontal) {
				if (s < 0)
					f = 0, s = 0;
				if (s >= ssize - 1)
					f = 0, s = ssize - 1;
			}
			cb[0] = 1.f - f;
			cb[1] = f;
		} else {
			cubic_coeffs(f, cb);
		}
		for (int k = 0; k < ksize; k++) {
			tap[d * ksize + k] = clamp_i(s - ksize / 2 + 1 + k, ssize - 1);
			coef[d * ksize + k] = sat_s16(round_f(cb[k] * COEF_SCALE));
		}
	}
}

/* One source row -> the linear pass's ints (x 2^11), kept as (S >> 4) in int16: the
 * vertical pass below uses nothing more (2^11 * 255 >> 4 fits). Taps come as pairs: byte
 * offset of the left pixel (its right neighbour is `right` bytes on: cn, or 0 in a row one
 * pixel wide), and its two weights packed in an int (w0 low, w1 high) as pmaddwd takes
 * them. */
static void hresize_linear(const unsigned char *restrict src, int16_t *restrict dst,
			   const int *restrict ofs, const int32_t *restrict wpair, int dw, int cn,
			   int right, int simd_end)
{
	int dx = 0;
#ifdef __SSE2__
	/* simd_end: the first dx whose 8-byte load would leave the row */
	const __m128i zero = _mm_setzero_si128();
	if (cn == 3) {
		for (; dx < simd_end; dx++) {
			__m128i v = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(src + ofs[dx])), zero);
			__m128i pairs = _mm_unpacklo_epi16(v, _mm_srli_si128(v, 6)); /* r0 r1 g0 g1 b0 b1 */
			__m128i sum = _mm_srai_epi32(_mm_madd_epi16(pairs, _mm_set1_epi32(wpair[dx])), 4);
			/* writes a fourth int16 that the next pixel (or the row's padding) takes */
			_mm_storel_epi64((__m128i *)(dst + 3 * dx), _mm_packs_epi32(sum, sum));
		}
	} else {
		for (; dx + 4 <= simd_end; dx += 4) {
			uint16_t p[4];
			uint64_t q;
			for (int i = 0; i < 4; i++)
				memcpy(&p[i], src + ofs[dx + i], 2);
			q = p[0] | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 32 | (uint64_t)p[3] << 48;
			__m128i v = _mm_unpacklo_epi8(_mm_cvtsi64_si128((long long)q), zero);
			__m128i w = _mm_loadu_si128((const __m128i *)(wpair + dx));
			__m128i sum = _mm_srai_epi32(_mm_madd_epi16(v, w), 4);
			_mm_storel_epi64((__m128i *)(dst + dx), _mm_packs_epi32(sum, sum));
		}
	}
#endif
	for (; dx < dw; dx++) {
		const unsigned char *p = src + ofs[dx];
		int w0 = (int16_t)(wpair[dx] & 0xffff), w1 = (int16_t)((uint32_t)wpair[dx] >> 16);
		for (int c = 0; c < cn; c++)
			dst[cn * dx + c] = (int16_t)((p[c] * w0 + p[c + right] * w1) >> 4);
	}
}

/* OpenCV 3.4's VResizeLinearVec_32s8u arithmetic, which (measured against MXNet's build)
 * covers the whole row: the high half of the 16x16-bit product of (S >> 4) and the
 * weight, then (sum + 2) >> 2. It can be one off exact rounding; kept for bit-exactness
 * with cv2.resize. Written so that the compiler turns it into pmulhw/packuswb. */
static void vresize_linear(const int16_t *restrict s0, const int16_t *restrict s1,
			   const short *beta, unsigned char *restrict dst, int width)
{
	int16_t b0 = beta[0], b1 = beta[1];
	for (int x = 0; x < width; x++) {
		int16_t h0 = (int16_t)((s0[x] * b0) >> 16), h1 = (int16_t)((s1[x] * b1) >> 16);
		int16_t v = (int16_t)((int16_t)(h0 + h1 + 2) >> 2);
		dst[x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
}

/* One source row -> the cubic pass's ints (x 2^11). tap[] holds 4 byte offsets per dx;
 * over [simd_begin, simd_end) they are contiguous and a 16-byte load stays in the row. */
static void hresize_cubic(const unsigned char *restrict src, int *restrict dst,
			  const int *restrict tap, const short *restrict alpha, int dw, int cn,
			  int simd_begin, int simd_end)
{
	int dx = 0;
	for (int pass = 0; pass < 2; pass++) {
		int stop = pass == 0 ? simd_begin : dw;
		for (; dx < stop; dx++) {
			const int *t = tap + 4 * dx;
			const short *a = alpha + 4 * dx;
			for (int c = 0; c < cn; c++)
				dst[cn * dx + c] = src[t[0] + c] * a[0] + src[t[1] + c] * a[1] +
						   src[t[2] + c] * a[2] + src[t[3] + c] * a[3];
		}
		if (pass == 1)
			break;
#ifdef __SSE2__
		const __m128i zero = _mm_setzero_si128();
		if (cn == 3) {
			for (; dx < simd_end; dx++) {
				int32_t w01, w23;
				memcpy(&w01, alpha + 4 * dx, 4);
				memcpy(&w23, alpha + 4 * dx + 2, 4);
				__m128i v = _mm_loadu_si128((const __m128i *)(src + tap[4 * dx]));
				__m128i lo = _mm_unpacklo_epi8(v, zero);  /* r0 g0 b0 r1 g1 b1 r2 g2 */
				__m128i lo2 = _mm_unpacklo_epi8(_mm_srli_si128(v, 6), zero);
				__m128i p01 = _mm_unpacklo_epi16(lo, _mm_srli_si128(lo, 6));
				__m128i p23 = _mm_unpacklo_epi16(lo2, _mm_srli_si128(lo2, 6));
				__m128i sum = _mm_add_epi32(_mm_madd_epi16(p01, _mm_set1_epi32(w01)),
							    _mm_madd_epi16(p23, _mm_set1_epi32(w23)));
				/* the fourth int goes to the next pixel or the row's padding */
				_mm_storeu_si128((__m128i *)(dst + 3 * dx), sum);
			}
		} else {
			for (; dx + 4 <= simd_end; dx += 4) {
				uint32_t q[4];
				for (int i = 0; i < 4; i++)
					memcpy(&q[i], src + tap[4 * (dx + i)], 4);
				__m128i v = _mm_set_epi32((int)q[3], (int)q[2], (int)q[1], (int)q[0]);
				__m128i m0 = _mm_madd_epi16(_mm_unpacklo_epi8(v, zero),
							    _mm_loadu_si128((const __m128i *)(alpha + 4 * dx)));
				__m128i m1 = _mm_madd_epi16(_mm_unpackhi_epi8(v, zero),
							    _mm_loadu_si128((const __m128i *)(alpha + 4 * dx + 8)));
				__m128 e = _mm_shuffle_ps(_mm_castsi128_ps(m0), _mm_castsi128_ps(m1),
							  _MM_SHUFFLE(2, 0, 2, 0));
				__m128 o = _mm_shuffle_ps(_mm_castsi128_ps(m0), _mm_castsi128_ps(m1),
							  _MM_SHUFFLE(3, 1, 3, 1));
				_mm_storeu_si128((__m128i *)(dst + dx),
						 _mm_add_epi32(_mm_castps_si128(e), _mm_castps_si128(o)));
			}
		}
#endif
	}
}

/* VResizeCubicVec_32s8u over whole groups of 8 (float products and sums, rounded half to
 * even), the exact fixed-point rounding over the rest of the row, as OpenCV does. */
static void vresize_cubic(const int *const *s, const short *beta, unsigned char *dst, int width)
{
	const float scale = 1.f / (COEF_SCALE * COEF_SCALE);
	float f0 = beta[0] * scale, f1 = beta[1] * scale, f2 = beta[2] * scale, f3 = beta[3] * scale;
	int end = width & ~7, x = 0;
#ifdef __SSE2__
	const __m128 b0 = _mm_set1_ps(f0), b1 = _mm_set1_ps(f1), b2 = _mm_set1_ps(f2),
		     b3 = _mm_set1_ps(f3);
	for (; x < end; x += 4) {
		__m128 v = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(s[0] + x))), b0),
				      _mm_mul_ps(_mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(s[1] + x))), b1));
		v = _mm_add_ps(v, _mm_mul_ps(_mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(s[2] + x))), b2));
		v = _mm_add_ps(v, _mm_mul_ps(_mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(s[3] + x))), b3));
		__m128i i = _mm_cvtps_epi32(v);
		i = _mm_packs_epi32(i, i);
		i = _mm_packus_epi16(i, i);
		int32_t out = _mm_cvtsi128_si32(i);
		memcpy(dst + x, &out, 4);
	}
#endif
	for (; x < end; x++) {
		float v = (float)s[0][x] * f0 + (float)s[1][x] * f1;
		v = v + (float)s[2][x] * f2;
		v = v + (float)s[3][x] * f3;
		dst[x] = sat_u8(sat_s16(round_f(v)));
	}
	for (; x < width; x++)
		dst[x] = sat_u8((s[0][x] * beta[0] + s[1][x] * beta[1] + s[2][x] * beta[2] +
				 s[3][x] * beta[3] + (1 << (2 * COEF_BITS - 1))) >> (2 * COEF_BITS));
}

static int resize_separable(const struct image *src, struct image *dst, int ksize,
			    int area_mode, double scale_x, double scale_y, double inv_x,
			    double inv_y)
{
	int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height, cn = src->channels;
	/* rows are padded: the SIMD passes store one element past the row's end */
	size_t row_len = (size_t)dw * cn, row_bytes = (row_len * sizeof(int) + 16 + 63) & ~(size_t)63;
	size_t bytes = ksize * row_bytes + (size_t)(dw + dh) * ksize * (sizeof(int) + sizeof(short));
	char *scratch = malloc(bytes);
	void *rows[4];
	int row_of[4], simd_begin = 0, simd_end = 0;
	if (!scratch)
		return mx_error(MX_ERR_NOMEM, "image_resize: out of memory for %zu bytes", bytes);
	int *xtap = (int *)(scratch + ksize * row_bytes), *ytap = xtap + (size_t)dw * ksize;
	short *xcoef = (short *)(ytap + (size_t)dh * ksize), *ycoef = xcoef + (size_t)dw * ksize;
	axis_tables(sw, dw, scale_x, inv_x, ksize, area_mode, 1, xtap, xcoef);
	axis_tables(sh, dh, scale_y, inv_y, ksize, area_mode, 0, ytap, ycoef);
	if (ksize == 2) {
		/* pair form: left pixel's byte offset, weights packed; a right edge tap
		 * (x, x) with weights (w, 0) becomes (x - 1, x) with (0, w) */
		int32_t *wpair = (int32_t *)xcoef;  /* in place: two shorts -> one int */
		int *xofs = xtap;                   /* in place: reads stay ahead of writes */
		for (int dx = 0; dx < dw; dx++) {
			int t0 = xtap[2 * dx], t1 = xtap[2 * dx + 1];
			int w0 = xcoef[2 * dx], w1 = xcoef[2 * dx + 1];
			if (t1 == t0 && sw > 1)
				t0 = sw - 2, w1 = w0, w0 = 0;
			xofs[dx] = t0 * cn;
			wpair[dx] = (int32_t)((uint32_t)(uint16_t)w0 | (uint32_t)(uint16_t)w1 << 16);
		}
		/* an 8-byte load from the left pixel must stay inside the row */
		for (simd_end = dw; simd_end > 0 && xofs[simd_end - 1] + 8 > sw * cn; simd_end--)
			;
	} else {
		int row = sw * cn, load = cn == 3 ? 16 : 4;
		for (size_t i = 0; i < (size_t)dw * ksize; i++)
			xtap[i] *= cn;  /* byte offsets */
		/* the middle stretch with 4 adjacent taps and room for a whole load */
		for (simd_begin = 0; simd_begin < dw; simd_begin++) {
			const int *t = xtap + 4 * simd_begin;
			if (t[1] == t[0] + cn && t[2] == t[1] + cn && t[3] == t[2] + cn &&
			    t[0] + load <= row)
				break;
		}
		for (simd_end = simd_begin; simd_end < dw; simd_end++) {
			const int *t = xtap + 4 * simd_end;
			if (!(t[1] == t[0] + cn && t[2] == t[1] + cn && t[3] == t[2] + cn &&
			      t[0] + load <= row))
				break;
		}
	}
	for (int k = 0; k < ksize; k++) {
		rows[k] = scratch + k * row_bytes;
		row_of[k] = -1;
	}
	for (int dy = 0; dy < dh; dy++) {
		const int *need = ytap + (size_t)dy * ksize;
		unsigned char *d = dst->pixels + (size_t)dy * row_len;
		/* rows[k] must hold source row need[k]: reuse a buffered row (swap it into
		 * place) or compute it into a slot that no later tap needs (one exists:
		 * ksize - k slots, at most ksize - k - 1 later taps) */
		for (int k = 0; k < ksize; k++) {
			int j, t;
			void *tmp;
			for (j = k; j < ksize && row_of[j] != need[k]; j++)
				;
			if (j == ksize) {
				const unsigned char *s = src->pixels + (size_t)need[k] * sw * cn;
				for (j = k; j < ksize - 1; j++) {
					int later = 0;
					for (int m = k + 1; m < ksize; m++)
						later |= row_of[j] == need[m];
					if (!later)
						break;
				}
				if (ksize == 2)
					hresize_linear(s, rows[j], xtap, (const int32_t *)xcoef, dw, cn,
						       sw > 1 ? cn : 0, simd_end);
				else
					hresize_cubic(s, rows[j], xtap, xcoef, dw, cn, simd_begin,
						      simd_end);
				row_of[j] = need[k];
			}
			tmp = rows[k], rows[k] = rows[j], rows[j] = tmp;
			t = row_of[k], row_of[k] = row_of[j], row_of[j] = t;
		}
		if (ksize == 2)
			vresize_linear(rows[0], rows[1], ycoef + 2 * dy, d, (int)row_len);
		else
			vresize_cubic((const int *const *)rows, ycoef + 4 * dy, d, (int)row_len);
	}
	free(scratch);
	return MX_OK;
}

/* resizeNN: source index floor(d * (1 / (dsize / ssize))), clamped. */
static int resize_nearest(const struct image *src, struct image *dst)
{
	int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height, cn = src->channels;
	double ifx = 1. / ((double)dw / sw), ify = 1. / ((double)dh / sh);
	int *xofs = malloc((size_t)dw * sizeof *xofs);
	if (!xofs)
		return mx_error(MX_ERR_NOMEM, "image_resize: out of memory");
	for (int x = 0; x < dw; x++) {
		int sx = floor_d(x * ifx);
		xofs[x] = (sx < sw - 1 ? sx : sw - 1) * cn;
	}
	for (int y = 0; y < dh; y++) {
		int sy = floor_d(y * ify);
		const unsigned char *s = src->pixels + (size_t)(sy < sh - 1 ? sy : sh - 1) * sw * cn;
		unsigned char *d = dst->pixels + (size_t)y * dw * cn;
		if (cn == 1) {
			for (int x = 0; x < dw; x++)
				d[x] = s[xofs[x]];
		} else {
			for (int x = 0; x < dw; x++) {
				d[3 * x] = s[xofs[x]];
				d[3 * x + 1] = s[xofs[x] + 1];
				d[3 * x + 2] = s[xofs[x] + 2];
			}
		}
	}
	free(xofs);
	return MX_OK;
}

/* resizeAreaFast_: integer factors sx x sy, a box average. 2x2 rounds (sum + 2) >> 2 as
 * OpenCV's vector code; other boxes multiply by 1.f/area and round half to even. */
static void resize_area_int(const struct image *src, struct image *dst, int fx, int fy)
{
	int sw = src->width, dw = dst->width, dh = dst->height, cn = src->channels;
	size_t sstride = (size_t)sw * cn;
	int area = fx * fy;
	float scale = 1.f / (float)area;
	for (int dy = 0; dy < dh; dy++) {
		const unsigned char *s = src->pixels + (size_t)dy * fy * sstride;
		unsigned char *d = dst->pixels + (size_t)dy * dw * cn;
		if (fx == 2 && fy == 2) {
			const unsigned char *s1 = s + sstride;
			for (int dx = 0; dx < dw; dx++)
				for (int c = 0; c < cn; c++) {
					int i = 2 * dx * cn + c;
					d[dx * cn + c] = (unsigned char)((s[i] + s[i + cn] + s1[i] +
									  s1[i + cn] + 2) >> 2);
				}
			continue;
		}
		for (int dx = 0; dx < dw; dx++)
			for (int c = 0; c < cn; c++) {
				int sum = 0;
				for (int y = 0; y < fy; y++) {
					const unsigned char *p = s + y * sstride + (size_t)dx * fx * cn + c;
					for (int x = 0; x < fx; x++)
						sum += p[x * cn];
				}
				d[dx * cn + c] = sat_u8(round_f((float)sum * scale));
			}
	}
}

struct area_weight {
	int di, si;
	float alpha;
};

/* computeResizeAreaTab: the source cells each destination cell overlaps, and how much. */
static int area_tab(int ssize, int dsize, double scale, struct area_weight *tab)
{
	int k = 0;
	for (int d = 0; d < dsize; d++) {
		double fs1 = d * scale, fs2 = fs1 + scale;
		double cell = scale < ssize - fs1 ? scale : ssize - fs1;
		int s1 = (int)ceil(fs1), s2 = floor_d(fs2);
		s2 = s2 < ssize - 1 ? s2 : ssize - 1;
		s1 = s1 < s2 ? s1 : s2;
		if (s1 - fs1 > 1e-3)
			tab[k++] = (struct area_weight){d, s1 - 1, (float)((s1 - fs1) / cell)};
		for (int s = s1; s < s2; s++)
			tab[k++] = (struct area_weight){d, s, (float)(1.0 / cell)};
		if (fs2 - s2 > 1e-3) {
			double part = fs2 - s2 < 1. ? fs2 - s2 : 1.;
			tab[k++] = (struct area_weight){d, s2, (float)((part < cell ? part : cell) / cell)};
		}
	}
	return k;
}

/* ResizeArea_Invoker: float sums in OpenCV's order (per destination cell, its source
 * cells left to right; per destination row, its source rows top to bottom), rounded half
 * to even. A source row shared by two destination rows is summed across once. */
static int resize_area_general(const struct image *src, struct image *dst, double scale_x,
			       double scale_y)
{
	int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height, cn = src->channels;
	size_t row_len = (size_t)dw * cn;
	size_t bytes = (size_t)(sw + sh) * 2 * sizeof(struct area_weight) +
		       (size_t)(dw + 1) * sizeof(int) + 2 * row_len * sizeof(float);
	struct area_weight *xtab = malloc(bytes), *ytab;
	float *buf, *sum;
	int *xstart, xn, yn, prev_dy, buf_row = -1;
	if (!xtab)
		return mx_error(MX_ERR_NOMEM, "image_resize: out of memory for %zu bytes", bytes);
	ytab = xtab + 2 * sw;
	buf = (float *)(ytab + 2 * sh);
	sum = buf + row_len;
	xstart = (int *)(sum + row_len);
	xn = area_tab(sw, dw, scale_x, xtab);
	yn = area_tab(sh, dh, scale_y, ytab);
	for (int k = 0, dx = 0; dx <= dw; dx++) {
		while (k < xn && xtab[k].di < dx)
			k++;
		xstart[dx] = k;
	}
	memset(sum, 0, row_len * sizeof *sum);
	prev_dy = ytab[0].di;
	for (int j = 0; j < yn; j++) {
		float beta = ytab[j].alpha;
		int dy = ytab[j].di;
		if (ytab[j].si != buf_row) {
			const unsigned char *s = src->pixels + (size_t)ytab[j].si * sw * cn;
			buf_row = ytab[j].si;
			for (int dx = 0; dx < dw; dx++) {
				float r = 0.f, g = 0.f, b = 0.f;
				if (cn == 1) {
					for (int k = xstart[dx]; k < xstart[dx + 1]; k++)
						r = r + s[xtab[k].si] * xtab[k].alpha;
					buf[dx] = r;
					continue;
				}
				for (int k = xstart[dx]; k < xstart[dx + 1]; k++) {
					const unsigned char *p = s + xtab[k].si * 3;
					float a = xtab[k].alpha;
					r = r + p[0] * a;
					g = g + p[1] * a;
					b = b + p[2] * a;
				}
				buf[3 * dx] = r;
				buf[3 * dx + 1] = g;
				buf[3 * dx + 2] = b;
			}
		}
		if (dy != prev_dy) {
			unsigned char *d = dst->pixels + (size_t)prev_dy * row_len;
			for (size_t x = 0; x < row_len; x++) {
				d[x] = sat_u8(round_f(sum[x]));
				sum[x] = beta * buf[x];
			}
			prev_dy = dy;
		} else {
			for (size_t x = 0; x < row_len; x++)
				sum[x] += beta * buf[x];
		}
	}
	{
		unsigned char *d = dst->pixels + (size_t)prev_dy * row_len;
		for (size_t x = 0; x < row_len; x++)
			d[x] = sat_u8(round_f(sum[x]));
	}
	free(xtab);
	return MX_OK;
}

int image_resize(const struct image *src, int width, int height, enum image_interp interp,
		 struct image *dst)
{
	double inv_x, inv_y, scale_x, scale_y;
	int rc, iscale_x, iscale_y, area_fast;
	if ((rc = check_image("image_resize", src)))
		return rc;
	if (!dst || dst == src)
		return mx_error(MX_ERR_INVALID, "image_resize: the output must be another image");
	if (interp < IMAGE_INTERP_NEAREST || interp > IMAGE_INTERP_AREA)
		return mx_error(MX_ERR_INVALID, "image_resize: unknown interpolation %d (0 nearest, "
				"1 linear, 2 cubic, 3 area)", (int)interp);
	if (width <= 0 || height <= 0)
		return mx_error(MX_ERR_INVALID, "image_resize: %dx%d to an empty size %dx%d",
				src->width, src->height, width, height);
	if ((rc = image_reserve(dst, width, height, src->channels)))
		return mx_error_prefix(rc, "image_resize");
	if (width == src->width && height == src->height) {
		memcpy(dst->pixels, src->pixels, (size_t)width * height * src->channels);
		return MX_OK;
	}
	/* cv::resize's scale factors, double for double */
	inv_x = (double)width / src->width;
	inv_y = (double)height / src->height;
	scale_x = 1. / inv_x;
	scale_y = 1. / inv_y;
	iscale_x = (int)lrint(scale_x);
	iscale_y = (int)lrint(scale_y);
	area_fast = fabs(scale_x - iscale_x) < DBL_EPSILON && fabs(scale_y - iscale_y) < DBL_EPSILON;

	if (interp == IMAGE_INTERP_NEAREST)
		return resize_nearest(src, dst);
	/* OpenCV: a linear 2x shrink is the 2x2 box average */
	if (interp == IMAGE_INTERP_LINEAR && area_fast && iscale_x == 2 && iscale_y == 2)
		interp = IMAGE_INTERP_AREA;
	if (interp == IMAGE_INTERP_AREA && scale_x >= 1 && scale_y >= 1) {
		if (area_fast) {
			resize_area_int(src, dst, iscale_x, iscale_y);
			return MX_OK;
		}
		return resize_area_general(src, dst, scale_x, scale_y);
	}
	if (interp == IMAGE_INTERP_CUBIC)
		return resize_separable(src, dst, 4, 0, scale_x, scale_y, inv_x, inv_y);
	return resize_separable(src, dst, 2, interp == IMAGE_INTERP_AREA, scale_x, scale_y,
				inv_x, inv_y);
}

int image_crop(const struct image *src, int x, int y, int width, int height, struct image *dst)
{
	int rc;
	size_t row;
	if ((rc = check_image("image_crop", src)))
		return rc;
	if (!dst || dst == src)
		return mx_error(MX_ERR_INVALID, "image_crop: the output must be another image");
	if (x < 0 || y < 0 || width <= 0 || height <= 0 || x > src->width - width ||
	    y > src->height - height)
		return mx_error(MX_ERR_INVALID, "image_crop: rectangle %dx%d at (%d, %d) is not "
				"inside the %dx%d image", width, height, x, y, src->width,
				src->height);
	if ((rc = image_reserve(dst, width, height, src->channels)))
		return mx_error_prefix(rc, "image_crop");
	row = (size_t)width * src->channels;
	for (int r = 0; r < height; r++)
		memcpy(dst->pixels + r * row,
		       src->pixels + ((size_t)(y + r) * src->width + x) * src->channels, row);
	return MX_OK;
}

void image_flip_horizontal(struct image *img)
{
	int w, cn;
	if (!img || !img->pixels)
		return;
	w = img->width;
	cn = img->channels;
	for (int r = 0; r < img->height; r++) {
		unsigned char *p = img->pixels + (size_t)r * w * cn;
		for (int a = 0, b = w - 1; a < b; a++, b--)
			for (int c = 0; c < cn; c++) {
				unsigned char t = p[a * cn + c];
				p[a * cn + c] = p[b * cn + c];
				p[b * cn + c] = t;
			}
	}
}
