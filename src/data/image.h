/* image.h: 8-bit images in memory, JPEG/PNG decoding and encoding, resizing and cropping.
 *
 * Decoding uses libjpeg-turbo (the libjpeg API, with its SIMD paths) and libpng; both
 * errors and libjpeg's "corrupt data" warnings become one message, never an exit or a
 * longjmp out of our frames. Pixels are interleaved HWC, rows tightly packed, channel
 * order RGB (as MXNet's ImageRecordIter hands them to the network after its BGR->RGB
 * swap) or one gray channel.
 *
 * An image owns its pixel buffer and reuses it: decoding or resizing into an image that
 * already holds a big enough buffer does not reallocate its pixels, so a decode thread
 * keeps one or two images for its whole life (libjpeg/libpng state and the resizer's
 * small row scratch are still allocated per call).
 *
 *   struct image img = {0}, small = {0};
 *   if (image_decode(buf, len, 3, 0, &img)) fail(mx_error_message());
 *   if (image_resize(&img, 224, 224, IMAGE_INTERP_LINEAR, &small)) fail(...);
 *   image_free(&img); image_free(&small);
 */
#ifndef MX_IMAGE_H
#define MX_IMAGE_H

#include <stddef.h>

struct image {
	int width, height, channels;   /* channels: 1 (gray) or 3 (RGB) */
	unsigned char *pixels;         /* height * width * channels bytes, HWC */
	size_t capacity;               /* bytes allocated at pixels */
};

enum image_format { IMAGE_UNKNOWN = 0, IMAGE_JPEG, IMAGE_PNG };

/* OpenCV's codes, so the .conf's inter_method means what it meant in MXNet. */
enum image_interp {
	IMAGE_INTERP_NEAREST = 0,
	IMAGE_INTERP_LINEAR = 1,
	IMAGE_INTERP_CUBIC = 2,
	IMAGE_INTERP_AREA = 3,
};

/* The format from the first bytes (JPEG FF D8 FF, PNG's 8-byte signature). */
enum image_format image_sniff(const void *buf, size_t len);

/* Decodes a JPEG or PNG file held in memory into img. channels: 3 gives RGB (gray images
 * are expanded), 1 gives gray (color images converted with the ITU-R 601 weights, as
 * OpenCV does), 0 keeps the file's own (1 or 3; alpha dropped). min_side > 0 lets the
 * JPEG decoder scale by 1/2, 1/4 or 1/8 in the DCT while the shorter side stays
 * >= min_side (much faster when the image is resized down afterwards); 0 decodes at full
 * size. Returns MX_OK, or MX_ERR_FORMAT with a message such as "not a JPEG or PNG image"
 * or "corrupt JPEG data: premature end of data segment". */
int image_decode(const void *buf, size_t len, int channels, int min_side, struct image *img);
/* Decodes only the rectangle (x, y, width, height) of the image, which must lie inside
 * it: the pixels of image_decode(buf, len, channels, 0, ...) followed by image_crop, bit
 * for bit, with the same errors for corrupt data. A baseline or progressive JPEG with
 * sampling factors of 1 or 2 (4:4:4, 4:2:2, 4:4:0, 4:2:0, gray) skips the rows above the
 * rectangle and the IDCT, upsampling and color conversion of the columns outside it
 * (libjpeg-turbo's jpeg_skip_scanlines and jpeg_crop_scanline), and only entropy-decodes
 * the rows below; other JPEGs and PNGs are decoded whole. Find the size first with
 * image_probe. With x_in_img NULL, img is the rectangle. Given x_in_img, img may be wider,
 * holding the rows as the decoder produced them (no copy): the rectangle is then its
 * columns [*x_in_img, *x_in_img + width), and the columns beside it need not be a full
 * decode's. Returns MX_OK; MX_ERR_INVALID for a rectangle outside the image; or
 * image_decode's errors, named "image_decode_region". */
int image_decode_region(const void *buf, size_t len, int channels, int x, int y, int width,
			int height, struct image *img, int *x_in_img);
/* Reads only the dimensions and channel count of an encoded image. */
int image_probe(const void *buf, size_t len, int *width, int *height, int *channels);

/* Encodes img as JPEG (quality 1..100) or PNG (quality = compression level 0..9, as
 * OpenCV's imencode takes it). *out is malloc'ed (free it); *out_len its size. */
int image_encode(const struct image *img, enum image_format format, int quality,
		unsigned char **out, size_t *out_len);

/* Makes sure img can hold width x height x channels and sets its dimensions. */
int image_reserve(struct image *img, int width, int height, int channels);
/* Resizes src to width x height into dst (dst != src) with OpenCV's conventions for the
 * interpolation (pixel centres at +0.5, edge pixels replicated), so results match
 * cv2.resize to within rounding. */
int image_resize(const struct image *src, int width, int height, enum image_interp interp,
		struct image *dst);
/* Copies the rectangle (x, y, width, height), which must lie inside src, into dst. */
int image_crop(const struct image *src, int x, int y, int width, int height, struct image *dst);
/* Mirrors img left-right in place. */
void image_flip_horizontal(struct image *img);
void image_free(struct image *img);

#endif
