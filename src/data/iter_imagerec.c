/* iter_imagerec.c: the "imagerec" iterator: images packed in MXNet RecordIO files (.rec,
 * optional .idx and .lst), decoded and augmented on a thread pool, with the keys, meanings
 * and defaults of MXNet's ImageRecordIter (its default augmenter, aug_default).
 *
 * Open. The iterator keeps only the byte offset of each record of its part (8 bytes a
 * record, plus 8 for the epoch's order), never the records: memory is bounded by the
 * part's record count, the decode threads' buffers and the prefetched batches. Offsets
 * come from
 *   - path_imgidx, when given: all offsets sorted, part k of N = records
 *     [k * ceil(n/N), (k+1) * ceil(n/N)), as MXNet's IndexedRecordIOSplitter shards;
 *   - else <prefix>.idx beside the .rec, when present: only to avoid reading the file's
 *     headers; the part is still the byte range MXNet gives (records whose head lies in
 *     dmlc's raw [begin, end) range, the same set recordio_reader_scan finds), because
 *     MXNet itself ignores an .idx it is not given, and parts must not change with it.
 *     Nobody vouched for this file, so one that does not fit the .rec (an offset past the
 *     end, a last record that does not end at the end) is ignored with a warning;
 *   - else a scan of the part's headers (recordio_reader_open_part, byte-range sharding
 *     exactly as MXNet's InputSplit).
 *
 * Epochs. The order is the file order, or with shuffle a Fisher-Yates permutation seeded
 * by (seed, epoch), as iter_mnist's. Example p of an epoch (its position in that order)
 * draws every random choice from its own stream, seeded from (seed, epoch, p), so batches
 * are the same for any preprocess_threads and any prefetching. (MXNet shuffles within
 * chunks and its streams are per thread; neither is reproducible, so they are not copied.)
 *
 * A batch. Its examples are split over the pool's threads; each reads its record with
 * recordio_reader_read_at (pread), unpacks the header, decodes (RGB or gray, as
 * data_shape[0] says), augments as aug_default does (resize the shorter side; affine
 * scale/aspect/rotation/shear; pad; random-resized or sized crop, or a centre / random
 * crop of data_shape; colour jitter; HLS; PCA noise), then writes CHW floats
 * (pixel - mean) * scale / std, mirrored when asked. The geometric steps depend on the
 * image's size alone, so they are drawn first (plan_geometry); when the size in a JPEG's
 * header shows that the first change to the pixels is a crop, only that rectangle is
 * decoded (image_decode_region: the same pixels, the same errors, 5-10% less CPU on
 * ImageNet-like records; MXTRAIN_IMAGEREC_CROP_DECODE=0 decodes whole images, for
 * comparison). Either way the draws and the batches are the same. A record that cannot
 * be read or is not an image is skipped with a warning naming the file and byte offset
 * (skip_corrupt, the default; an error otherwise), the next record taking its row; the
 * count is logged at the end of the epoch. The last partial batch is filled by wrapping
 * to the start of the epoch (round_batch, as MXNet), pad = the filler rows; each epoch
 * starts at the start (MXNet continues the next epoch after the wrapped records). With
 * round_batch = false the filler rows are zeros (MXNet leaves stale data there); pad
 * counts them either way. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "data/image.h"
#include "data/iter.h"
#include "data/recordio.h"
#include "engine/threadpool.h"
#include "error.h"
#include "log.h"
#include "rng.h"

#define IMAGEREC_PATH_MAX 1024
#define NO_MAX 1e30   /* an upper bound of 1e30 means none (param.c) */
#define TASK_MSG_MAX 512

struct imagerec_param {
	char path_imgrec[IMAGEREC_PATH_MAX];
	char path_imgidx[IMAGEREC_PATH_MAX];
	char path_imglist[IMAGEREC_PATH_MAX];
	struct mx_shape data_shape;
	int batch_size;
	int label_width;
	int shuffle;
	int seed;
	int round_batch;
	int preprocess_threads;
	int num_parts;
	int part_index;
	int verbose;
	int skip_corrupt;
	int fast_decode;
	/* aug_default */
	int resize;
	int rand_crop;
	int random_resized_crop;
	int max_rotate_angle;
	int rotate;
	float max_shear_ratio;
	float max_aspect_ratio;
	float min_aspect_ratio;
	int max_crop_size;
	int min_crop_size;
	float max_random_scale;
	float min_random_scale;
	float max_random_area;
	float min_random_area;
	float max_img_size;
	float min_img_size;
	float brightness;
	float contrast;
	float saturation;
	float pca_noise;
	int random_h;
	int random_s;
	int random_l;
	int fill_value;
	int inter_method;
	int pad;
	/* normalisation */
	int mirror;
	int rand_mirror;
	float mean_r, mean_g, mean_b;
	float std_r, std_g, std_b;
	float scale;
	float max_random_contrast;
	float max_random_illumination;
};

#define P(field) offsetof(struct imagerec_param, field)
static const struct param_spec imagerec_params[] = {
	{"path_imgrec", PARAM_STRING, P(path_imgrec), IMAGEREC_PATH_MAX, NULL, NULL, 0, 0,
	 "the RecordIO file of packed images (train.rec)"},
	{"path_imgidx", PARAM_STRING, P(path_imgidx), IMAGEREC_PATH_MAX, "", NULL, 0, 0,
	 "its index (.idx); given: parts are cut by record count, as MXNet's indexed reader does"},
	{"path_imglist", PARAM_STRING, P(path_imglist), IMAGEREC_PATH_MAX, "", NULL, 0, 0,
	 "an image list (.lst) whose labels replace those in the records, matched by image id"},
	{"data_shape", PARAM_SHAPE, P(data_shape), 0, NULL, NULL, 1, NO_MAX,
	 "shape of one output image (channels, height, width); channels 1 (gray) or 3 (RGB)"},
	{"batch_size", PARAM_INT, P(batch_size), 0, NULL, NULL, 1, NO_MAX, "examples per batch"},
	{"label_width", PARAM_INT, P(label_width), 0, "1", NULL, 1, 1 << 20, "labels per image"},
	{"shuffle", PARAM_BOOL, P(shuffle), 0, "False", NULL, 0, 0,
	 "reshuffle the records every epoch; the order depends only on seed and epoch"},
	{"seed", PARAM_INT, P(seed), 0, "0", NULL, 0, 0, "random seed of the order and of the augmentations"},
	{"round_batch", PARAM_BOOL, P(round_batch), 0, "True", NULL, 0, 0,
	 "fill the last batch by wrapping to the start of the epoch; False: zeros"},
	{"preprocess_threads", PARAM_INT, P(preprocess_threads), 0, "4", NULL, 1, 1024,
	 "threads that decode and augment (the caller's thread is one of them)"},
	{"num_parts", PARAM_INT, P(num_parts), 0, "1", NULL, 1, NO_MAX, "split the records into this many parts"},
	{"part_index", PARAM_INT, P(part_index), 0, "0", NULL, 0, NO_MAX, "the part this iterator reads"},
	{"verbose", PARAM_BOOL, P(verbose), 0, "True", NULL, 0, 0, "log what was opened"},
	{"skip_corrupt", PARAM_BOOL, P(skip_corrupt), 0, "True", NULL, 0, 0,
	 "skip records that are not readable images with a warning; False: stop with an error"},
	{"fast_decode", PARAM_BOOL, P(fast_decode), 0, "False", NULL, 0, 0,
	 "with resize, let the JPEG decoder shrink by 1/2, 1/4 or 1/8 while the shorter side stays >= resize"},
	{"resize", PARAM_INT, P(resize), 0, "-1", NULL, -1, NO_MAX,
	 "resize the shorter side to this before the other augmentations; -1: no"},
	{"rand_crop", PARAM_BOOL, P(rand_crop), 0, "False", NULL, 0, 0, "crop at a random place instead of the centre"},
	{"random_resized_crop", PARAM_BOOL, P(random_resized_crop), 0, "False", NULL, 0, 0,
	 "crop a random area and aspect ratio and resize it to data_shape"},
	{"max_rotate_angle", PARAM_INT, P(max_rotate_angle), 0, "0", NULL, 0, 360,
	 "rotate by a random whole number of degrees in [-v, v]"},
	{"rotate", PARAM_INT, P(rotate), 0, "-1", NULL, -1, 360, "rotate by this many degrees when > 0"},
	{"max_shear_ratio", PARAM_FLOAT, P(max_shear_ratio), 0, "0", NULL, 0, NO_MAX,
	 "shear (x, y) -> (x + m y, y) with m random in [-v, v]"},
	{"max_aspect_ratio", PARAM_FLOAT, P(max_aspect_ratio), 0, "0", NULL, 0, NO_MAX,
	 "aspect ratio random in [1 - v, 1 + v], or [min_aspect_ratio, v] when that is set"},
	{"min_aspect_ratio", PARAM_FLOAT, P(min_aspect_ratio), 0, "0", NULL, 0, NO_MAX,
	 "lower end of the aspect ratio; 0: unset (1 - max_aspect_ratio)"},
	{"max_crop_size", PARAM_INT, P(max_crop_size), 0, "-1", NULL, -1, NO_MAX,
	 "crop a random square of side in [min_crop_size, max_crop_size], then resize; -1: no"},
	{"min_crop_size", PARAM_INT, P(min_crop_size), 0, "-1", NULL, -1, NO_MAX, "see max_crop_size"},
	{"max_random_scale", PARAM_FLOAT, P(max_random_scale), 0, "1", NULL, 0, NO_MAX,
	 "scale the image by a random factor in [min_random_scale, max_random_scale]"},
	{"min_random_scale", PARAM_FLOAT, P(min_random_scale), 0, "1", NULL, 0, NO_MAX, "see max_random_scale"},
	{"max_random_area", PARAM_FLOAT, P(max_random_area), 0, "1", NULL, 0, NO_MAX,
	 "random_resized_crop: area fraction random in [min_random_area, max_random_area]"},
	{"min_random_area", PARAM_FLOAT, P(min_random_area), 0, "1", NULL, 0, NO_MAX, "see max_random_area"},
	{"max_img_size", PARAM_FLOAT, P(max_img_size), 0, "1e10", NULL, 0, 0,
	 "largest width and height after the affine augmentations"},
	{"min_img_size", PARAM_FLOAT, P(min_img_size), 0, "0", NULL, 0, 0,
	 "smallest width and height after the affine augmentations"},
	{"brightness", PARAM_FLOAT, P(brightness), 0, "0", NULL, 0, NO_MAX,
	 "multiply by 1 + a random value in [-v, v]"},
	{"contrast", PARAM_FLOAT, P(contrast), 0, "0", NULL, 0, NO_MAX,
	 "blend with the mean gray level by 1 + a random value in [-v, v]"},
	{"saturation", PARAM_FLOAT, P(saturation), 0, "0", NULL, 0, NO_MAX,
	 "blend with the gray image by 1 + a random value in [-v, v]"},
	{"pca_noise", PARAM_FLOAT, P(pca_noise), 0, "0", NULL, 0, NO_MAX,
	 "add AlexNet's PCA lighting noise with this standard deviation"},
	{"random_h", PARAM_INT, P(random_h), 0, "0", NULL, 0, 180, "add a random value in [-v, v] to the hue (0..180)"},
	{"random_s", PARAM_INT, P(random_s), 0, "0", NULL, 0, 255, "add a random value in [-v, v] to the saturation"},
	{"random_l", PARAM_INT, P(random_l), 0, "0", NULL, 0, 255, "add a random value in [-v, v] to the lightness"},
	{"fill_value", PARAM_INT, P(fill_value), 0, "255", NULL, 0, 255, "pixel value of areas outside the image"},
	{"inter_method", PARAM_INT, P(inter_method), 0, "1", NULL, 0, 10,
	 "interpolation: 0 nearest, 1 bilinear, 2 cubic, 3 area, 9 auto, 10 random"},
	{"pad", PARAM_INT, P(pad), 0, "0", NULL, 0, NO_MAX, "add this many fill_value pixels on every side"},
	{"mirror", PARAM_BOOL, P(mirror), 0, "False", NULL, 0, 0, "mirror every image left-right"},
	{"rand_mirror", PARAM_BOOL, P(rand_mirror), 0, "False", NULL, 0, 0, "mirror half of the images at random"},
	{"mean_r", PARAM_FLOAT, P(mean_r), 0, "0", NULL, 0, 0, "subtracted from the red (or gray) channel"},
	{"mean_g", PARAM_FLOAT, P(mean_g), 0, "0", NULL, 0, 0, "subtracted from the green channel"},
	{"mean_b", PARAM_FLOAT, P(mean_b), 0, "0", NULL, 0, 0, "subtracted from the blue channel"},
	{"std_r", PARAM_FLOAT, P(std_r), 0, "1", NULL, 0, 0, "the red (or gray) channel is divided by it"},
	{"std_g", PARAM_FLOAT, P(std_g), 0, "1", NULL, 0, 0, "the green channel is divided by it"},
	{"std_b", PARAM_FLOAT, P(std_b), 0, "1", NULL, 0, 0, "the blue channel is divided by it"},
	{"scale", PARAM_FLOAT, P(scale), 0, "1", NULL, 0, 0, "multiplies every value after mean and std"},
	{"max_random_contrast", PARAM_FLOAT, P(max_random_contrast), 0, "0", NULL, 0, NO_MAX,
	 "multiply the normalised values by 1 + a random value in [-v, v]"},
	{"max_random_illumination", PARAM_FLOAT, P(max_random_illumination), 0, "0", NULL, 0, NO_MAX,
	 "add a random value in [-v, v] (in pixel levels) to every value"},
	PARAM_END,
};
#undef P

/* Labels from a .lst file, sorted by image id (the last line wins for a repeated id). */
struct label_map {
	long n;
	uint64_t *ids;
	float *labels;   /* n * label_width */
};

/* One decode thread's buffers, reused for its whole life. */
struct worker {
	unsigned char *buf;   /* the record being decoded */
	size_t cap;
	struct image img[3];  /* ping-pong buffers for the augmentation steps */
};

enum task_status { TASK_OK = 0, TASK_SKIP, TASK_FAIL };

/* One example of a batch: the epoch position it comes from, and what happened. */
struct task {
	int64_t position;     /* in the epoch's order; >= n for rows wrapped to the start */
	long long offset;
	int status, rc;
	int named;            /* msg already names the file and offset (recordio's errors) */
	char msg[TASK_MSG_MAX];
};

struct imagerec_iter {
	struct imagerec_param param;
	int channels, height, width;
	struct recordio_reader *reader;   /* read_at only; shared by the threads */
	long long *offsets;               /* this part's records, file order */
	int64_t n;
	int64_t *order;                   /* this epoch's order of [0, n) */
	struct label_map lst;
	struct mx_threadpool *pool;
	int n_threads;
	struct worker *workers;
	struct task *tasks;               /* batch_size of them */
	float mean[3], mult[3];
	int crop_decode;                  /* decode only the crop's part of a JPEG where possible */
	/* epoch state */
	int epoch;
	uint64_t aug_key;
	int64_t pos;                      /* next position of the order to decode */
	long skipped;                     /* corrupt records seen this epoch */
	int reported;
};

/* splitmix64's finaliser: a bijection that spreads nearby inputs over all 64 bits. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static float uniform(struct mx_rng *rng, float lo, float hi) { return lo + rng_uniform(rng) * (hi - lo); }

/* Uniform integer in [lo, hi] (std::uniform_int_distribution's range). */
static int uniform_int(struct mx_rng *rng, int lo, int hi)
{
	return hi <= lo ? lo : lo + (int)rng_below(rng, (uint32_t)(hi - lo) + 1);
}

static unsigned char clamp_u8(float v)
{
	long r = lrintf(v);
	return r < 0 ? 0 : r > 255 ? 255 : (unsigned char)r;
}

/* ---- .lst labels ----------------------------------------------------------------------- */

struct lst_line {
	uint64_t id;
	long line;
	float *labels;
};

static int cmp_lst_line(const void *a, const void *b)
{
	const struct lst_line *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Reads path: per line an integer image id, then label_width numbers (more columns, such
 * as the image path, are ignored), as MXNet's ImageLabelMap reads it. Blank lines are
 * skipped. Errors name the file and line. */
static int label_map_read(const char *path, int label_width, struct label_map *map)
{
	FILE *f = fopen(path, "r");
	struct lst_line *lines = NULL;
	float *labels = NULL;
	long n = 0, cap = 0, line_no = 0;
	char *text = NULL;
	size_t text_cap = 0;
	int rc = MX_OK;

	memset(map, 0, sizeof *map);
	if (!f)
		return mx_error(MX_ERR_IO, "path_imglist: %s: %s", path, strerror(errno));
	while (getline(&text, &text_cap, f) >= 0) {
		char *p = text, *end;
		unsigned long long id;
		line_no++;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			continue;
		if (n == cap) {
			long bigger = cap ? cap * 2 : 1024;
			void *l = realloc(lines, bigger * sizeof *lines);
			void *b = l ? realloc(labels, (size_t)bigger * label_width * sizeof *labels) : NULL;
			if (l)
				lines = l;
			if (b)
				labels = b;
			if (!l || !b) {
				rc = mx_error(MX_ERR_NOMEM, "%s: out of memory at line %ld", path, line_no);
				goto done;
			}
			cap = bigger;
		}
		errno = 0;
		id = strtoull(p, &end, 10);
		if (end == p || errno || *p == '-' || (*end && !strchr(" \t\r\n", *end))) {
			rc = mx_error(MX_ERR_FORMAT, "%s:%ld: the first column must be the image index (an integer)", path,
				      line_no);
			goto done;
		}
		p = end;
		for (int k = 0; k < label_width; k++) {
			float v;
			while (*p == ' ' || *p == '\t')
				p++;
			v = strtof(p, &end);
			if (end == p || (*end && !strchr(" \t\r\n", *end))) {
				rc = mx_error(MX_ERR_FORMAT, "%s:%ld: expected %d label%s after the index, column %d is not a number",
					      path, line_no, label_width, label_width > 1 ? "s" : "", k + 2);
				goto done;
			}
			labels[(size_t)n * label_width + k] = v;
			p = end;
		}
		lines[n].id = id;
		lines[n].line = line_no;
		n++;
	}
	if (ferror(f)) {
		rc = mx_error(MX_ERR_IO, "%s: read error after line %ld", path, line_no);
		goto done;
	}
	if (n == 0) {
		rc = mx_error(MX_ERR_FORMAT, "%s: no image lines", path);
		goto done;
	}
	/* sort (id, line) and keep the last line of each id, as MXNet's map assignment does */
	for (long i = 0; i < n; i++)
		lines[i].labels = labels + (size_t)i * label_width;
	qsort(lines, n, sizeof *lines, cmp_lst_line);
	map->ids = malloc(n * sizeof *map->ids);
	map->labels = malloc((size_t)n * label_width * sizeof *map->labels);
	if (!map->ids || !map->labels) {
		rc = mx_error(MX_ERR_NOMEM, "%s: out of memory for %ld labels", path, n);
		goto done;
	}
	for (long i = 0; i < n; i++) {
		if (i + 1 < n && lines[i + 1].id == lines[i].id)
			continue;
		map->ids[map->n] = lines[i].id;
		memcpy(map->labels + (size_t)map->n * label_width, lines[i].labels, label_width * sizeof(float));
		map->n++;
	}
done:
	free(text);
	free(lines);
	free(labels);
	fclose(f);
	if (rc) {
		free(map->ids);
		free(map->labels);
		memset(map, 0, sizeof *map);
	}
	return rc;
}

static const float *label_map_find(const struct label_map *map, int label_width, uint64_t id)
{
	long lo = 0, hi = map->n;
	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;
		if (map->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < map->n && map->ids[lo] == id ? map->labels + (size_t)lo * label_width : NULL;
}

/* ---- augmentation -------------------------------------------------------------------- */

/* OpenCV's codes, with MXNet's 9 (auto) and 10 (random; 0..3 here, MXNet adds Lanczos). */
static enum image_interp pick_interp(int method, int old_w, int old_h, int new_w, int new_h, struct mx_rng *rng)
{
	if (method == 9) {
		if (new_w > old_w && new_h > old_h)
			return IMAGE_INTERP_CUBIC;
		if (new_w < old_w && new_h < old_h)
			return IMAGE_INTERP_AREA;
		return IMAGE_INTERP_LINEAR;
	}
	if (method == 10)
		return (enum image_interp)rng_below(rng, 4);
	return (enum image_interp)method;
}

/* Keys' cubic kernel with OpenCV's a = -0.75: weights of the taps at -1, 0, 1, 2. */
static void cubic_weights(float t, float w[4])
{
	const float a = -0.75f;
	w[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
	w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
	w[2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
	w[3] = 1 - w[0] - w[1] - w[2];
}

/* cv::warpAffine(src, dst, M, (out_w, out_h), interp, BORDER_CONSTANT, fill): dst(x, y) =
 * src(M^-1 (x, y)), pixel centres at whole coordinates, taps outside src read `fill`.
 * Area interpolation is bilinear here, as in OpenCV's warpAffine. */
static int warp_affine(const struct image *src, const double m[6], int out_w, int out_h, enum image_interp interp,
		       int fill, struct image *dst)
{
	int c = src->channels, rc;
	double det = m[0] * m[4] - m[1] * m[3], inv[6];
	if ((rc = image_reserve(dst, out_w, out_h, c)))
		return rc;
	if (det == 0) {
		memset(dst->pixels, fill, (size_t)out_w * out_h * c);
		return MX_OK;
	}
	inv[0] = m[4] / det;
	inv[1] = -m[1] / det;
	inv[3] = -m[3] / det;
	inv[4] = m[0] / det;
	inv[2] = -(inv[0] * m[2] + inv[1] * m[5]);
	inv[5] = -(inv[3] * m[2] + inv[4] * m[5]);
	for (int y = 0; y < out_h; y++) {
		unsigned char *out = dst->pixels + (size_t)y * out_w * c;
		for (int x = 0; x < out_w; x++, out += c) {
			double sx = inv[0] * x + inv[1] * y + inv[2], sy = inv[3] * x + inv[4] * y + inv[5];
			if (interp == IMAGE_INTERP_NEAREST) {
				long ix = lround(floor(sx + 0.5)), iy = lround(floor(sy + 0.5));
				if (ix < 0 || iy < 0 || ix >= src->width || iy >= src->height) {
					memset(out, fill, c);
				} else {
					memcpy(out, src->pixels + ((size_t)iy * src->width + ix) * c, c);
				}
				continue;
			}
			double fx0 = floor(sx), fy0 = floor(sy);
			int taps = interp == IMAGE_INTERP_CUBIC ? 4 : 2, first = interp == IMAGE_INTERP_CUBIC ? -1 : 0;
			float wx[4], wy[4], acc[3] = {0, 0, 0};
			long x0, y0;
			if (fx0 < -4 || fy0 < -4 || fx0 > src->width + 4 || fy0 > src->height + 4) {
				memset(out, fill, c);
				continue;
			}
			x0 = (long)fx0;
			y0 = (long)fy0;
			if (taps == 4) {
				cubic_weights((float)(sx - fx0), wx);
				cubic_weights((float)(sy - fy0), wy);
			} else {
				wx[1] = (float)(sx - fx0);
				wx[0] = 1 - wx[1];
				wy[1] = (float)(sy - fy0);
				wy[0] = 1 - wy[1];
			}
			for (int j = 0; j < taps; j++) {
				long yy = y0 + first + j;
				for (int i = 0; i < taps; i++) {
					long xx = x0 + first + i;
					float w = wx[i] * wy[j];
					if (xx < 0 || yy < 0 || xx >= src->width || yy >= src->height) {
						for (int k = 0; k < c; k++)
							acc[k] += w * fill;
					} else {
						const unsigned char *p = src->pixels + ((size_t)yy * src->width + xx) * c;
						for (int k = 0; k < c; k++)
							acc[k] += w * p[k];
					}
				}
			}
			for (int k = 0; k < c; k++)
				out[k] = clamp_u8(acc[k]);
		}
	}
	return MX_OK;
}

/* cv::copyMakeBorder(src, dst, pad, pad, pad, pad, BORDER_CONSTANT, fill). */
static int pad_image(const struct image *src, int pad, int fill, struct image *dst)
{
	int c = src->channels, w = src->width + 2 * pad, h = src->height + 2 * pad, rc;
	if ((rc = image_reserve(dst, w, h, c)))
		return rc;
	memset(dst->pixels, fill, (size_t)w * h * c);
	for (int y = 0; y < src->height; y++)
		memcpy(dst->pixels + ((size_t)(y + pad) * w + pad) * c, src->pixels + (size_t)y * src->width * c,
		       (size_t)src->width * c);
	return MX_OK;
}

/* OpenCV's 8-bit RGB -> gray (ITU-R 601 weights in 14-bit fixed point). */
static int gray_of(const unsigned char *p, int c)
{
	return c == 1 ? p[0] : (p[0] * 4899 + p[1] * 9617 + p[2] * 1868 + (1 << 13)) >> 14;
}

/* aug_default's brightness, contrast and saturation, in a random order. Contrast and
 * saturation use the true gray level (MXNet computes it with R and B swapped). */
static void color_jitter(const struct imagerec_param *p, struct image *img, struct mx_rng *rng)
{
	float alpha_b = 1 + uniform(rng, -p->brightness, p->brightness);
	float alpha_c = 1 + uniform(rng, -p->contrast, p->contrast);
	float alpha_s = 1 + uniform(rng, -p->saturation, p->saturation);
	int order[3] = {0, 1, 2}, c = img->channels;
	size_t pixels = (size_t)img->width * img->height;
	unsigned char *px = img->pixels;

	for (int i = 2; i > 0; i--) {
		int j = (int)rng_below(rng, (uint32_t)i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int step = 0; step < 3; step++) {
		if (order[step] == 0) {
			for (size_t i = 0; i < pixels * c; i++)
				px[i] = clamp_u8(px[i] * alpha_b);
		} else if (order[step] == 1) {
			double sum = 0;
			float beta;
			for (size_t i = 0; i < pixels; i++)
				sum += gray_of(px + i * c, c);
			beta = (float)((1 - alpha_c) * (sum / (pixels ? pixels : 1)));
			for (size_t i = 0; i < pixels * c; i++)
				px[i] = clamp_u8(px[i] * alpha_c + beta);
		} else if (c == 3) {
			for (size_t i = 0; i < pixels; i++) {
				unsigned char *q = px + i * 3;
				float g = (float)gray_of(q, 3) * (1 - alpha_s);
				for (int k = 0; k < 3; k++)
					q[k] = clamp_u8(q[k] * alpha_s + g);
			}
		}
	}
}

/* OpenCV's 8-bit RGB <-> HLS (H in [0, 180), L and S in [0, 255]). */
static void rgb_to_hls(const unsigned char *px, float hls[3])
{
	float r = px[0] / 255.f, g = px[1] / 255.f, b = px[2] / 255.f;
	float vmax = fmaxf(r, fmaxf(g, b)), vmin = fminf(r, fminf(g, b)), diff = vmax - vmin;
	float h = 0, l = (vmax + vmin) * 0.5f, s = 0;
	if (diff > 1.1920929e-7f) {
		s = l < 0.5f ? diff / (vmax + vmin) : diff / (2 - vmax - vmin);
		diff = 60.f / diff;
		if (vmax == r)
			h = (g - b) * diff;
		else if (vmax == g)
			h = (b - r) * diff + 120.f;
		else
			h = (r - g) * diff + 240.f;
		if (h < 0)
			h += 360.f;
	}
	hls[0] = (float)clamp_u8(h * 0.5f);
	hls[1] = (float)clamp_u8(l * 255.f);
	hls[2] = (float)clamp_u8(s * 255.f);
}

static void hls_to_rgb(const float hls[3], unsigned char *px)
{
	static const int sector_data[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};
	float h = hls[0], l = hls[1] / 255.f, s = hls[2] / 255.f, rgb[3];
	if (s == 0) {
		rgb[0] = rgb[1] = rgb[2] = l;
	} else {
		float tab[4], p2 = l <= 0.5f ? l * (1 + s) : l + s - l * s, p1 = 2 * l - p2;
		int sector;
		h *= 6.f / 180.f;
		while (h < 0)
			h += 6;
		while (h >= 6)
			h -= 6;
		sector = (int)floorf(h);
		h -= sector;
		tab[0] = p2;
		tab[1] = p1;
		tab[2] = p1 + (p2 - p1) * (1 - h);
		tab[3] = p1 + (p2 - p1) * h;
		/* OpenCV's table gives b, g, r */
		rgb[2] = tab[sector_data[sector][0]];
		rgb[1] = tab[sector_data[sector][1]];
		rgb[0] = tab[sector_data[sector][2]];
	}
	for (int k = 0; k < 3; k++)
		px[k] = clamp_u8(rgb[k] * 255.f);
}

/* aug_default's random_h/s/l: one shift of H, L and S for the whole image, each drawn as
 * (u + 4u') / 5 (a rough bell), clamped to [0, 180] and [0, 255]. */
static void random_hls(const struct imagerec_param *p, struct image *img, struct mx_rng *rng)
{
	float rh = (rng_uniform(rng) + 4 * rng_uniform(rng)) / 5;
	float rs = (rng_uniform(rng) + 4 * rng_uniform(rng)) / 5;
	float rl = (rng_uniform(rng) + 4 * rng_uniform(rng)) / 5;
	int shift[3] = {(int)(rh * p->random_h * 2 - p->random_h), (int)(rl * p->random_l * 2 - p->random_l),
			(int)(rs * p->random_s * 2 - p->random_s)};
	const float limit[3] = {180, 255, 255};
	size_t pixels = (size_t)img->width * img->height;
	if (img->channels != 3)
		return;
	for (size_t i = 0; i < pixels; i++) {
		unsigned char *q = img->pixels + i * 3;
		float hls[3];
		rgb_to_hls(q, hls);
		for (int k = 0; k < 3; k++)
			hls[k] = fminf(limit[k], fmaxf(0, hls[k] + shift[k]));
		hls_to_rgb(hls, q);
	}
}

/* AlexNet's PCA lighting noise with aug_default's eigenvectors (scaled by eigenvalues). */
static void pca_lighting(const struct imagerec_param *p, struct image *img, struct mx_rng *rng)
{
	static const float eigvec[3][3] = {{55.46f * -0.5675f, 4.794f * 0.7192f, 1.148f * 0.4009f},
					   {55.46f * -0.5808f, 4.794f * -0.0045f, 1.148f * -0.8140f},
					   {55.46f * -0.5836f, 4.794f * -0.6948f, 1.148f * 0.4203f}};
	float alpha[3], add[3];
	size_t pixels = (size_t)img->width * img->height;
	for (int k = 0; k < 3; k++)
		alpha[k] = rng_normal(rng) * p->pca_noise;
	for (int k = 0; k < 3; k++)
		add[k] = eigvec[k][0] * alpha[0] + eigvec[k][1] * alpha[1] + eigvec[k][2] * alpha[2];
	if (img->channels != 3)
		return;
	for (size_t i = 0; i < pixels; i++) {
		unsigned char *q = img->pixels + i * 3;
		for (int k = 0; k < 3; k++) {
			int v = (int)(q[k] + add[k]);   /* MXNet adds to an int: truncation */
			q[k] = v < 0 ? 0 : v > 255 ? 255 : (unsigned char)v;
		}
	}
}

/* The result of augmenting one image: the region (x, y, width x height) of *img that
 * becomes the example. */
struct view {
	const struct image *img;
	int x, y;
};

/* The top-left corner of a crop that leaves slack_x columns and slack_y rows out: random
 * (y drawn first, as MXNet) or centred. */
static void crop_origin(int rand_crop, struct mx_rng *rng, int slack_x, int slack_y, int *x, int *y)
{
	if (rand_crop) {
		*y = uniform_int(rng, 0, slack_y);
		*x = uniform_int(rng, 0, slack_x);
	} else {
		*y = slack_y / 2;
		*x = slack_x / 2;
	}
}

/* The geometric steps of aug_default's Process() for one image. They depend on the image's
 * size alone, so they are drawn (plan_geometry) before any pixel is touched, from the size
 * in the JPEG header when that allows decoding only the part that is kept, and applied
 * afterwards (apply_geometry). The draws are the same and in the same order as when each
 * step drew its own; the colour steps, which come after them all, draw afterwards. */
struct geometry {
	int width, height;                /* the decoded image */
	int resize;                       /* 1: resize to resize_w x resize_h first */
	int resize_w, resize_h;
	enum image_interp resize_interp;
	int affine;                       /* 1: warp by m into affine_w x affine_h */
	double m[6];
	int affine_w, affine_h;
	enum image_interp affine_interp;
	int pad;                          /* pixels of fill_value added on every side */
	/* then either a crop that is resized to data_shape (random_resized_crop, crop_size) */
	int crop;
	int crop_x, crop_y, crop_w, crop_h;
	enum image_interp crop_interp;
	/* or (crop = 0) up to two scale-ups and the data_shape window at (view_x, view_y) */
	int scale_ups;
	int up_w[2], up_h[2];
	enum image_interp up_interp;
	int view_x, view_y;
};

/* Draws the geometry of a width x height image. Returns MX_OK, or an error for an image the
 * settings cannot handle (the message names no record: the caller adds it). */
static int plan_geometry(const struct imagerec_iter *it, int width, int height, struct mx_rng *rng,
			 struct geometry *g)
{
	const struct imagerec_param *p = &it->param;
	int W = it->width, H = it->height, cols = width, rows = height;
	float max_aspect = 1 + p->max_aspect_ratio, min_aspect = 1 - p->max_aspect_ratio;

	memset(g, 0, sizeof *g);
	g->width = width;
	g->height = height;
	if (p->min_aspect_ratio > 0) {
		max_aspect = p->max_aspect_ratio;
		min_aspect = p->min_aspect_ratio;
	}
	if (p->resize > 0) {
		int nw, nh;
		if (rows > cols) {
			nh = (int)((int64_t)p->resize * rows / cols);
			nw = p->resize;
		} else {
			nh = p->resize;
			nw = (int)((int64_t)p->resize * cols / rows);
		}
		if (nw < 1 || nh < 1)
			return mx_error(MX_ERR_INVALID, "a %dx%d image resized to %dx%d is empty", cols, rows, nw, nh);
		g->resize = 1;
		g->resize_w = nw;
		g->resize_h = nh;
		g->resize_interp = pick_interp(p->inter_method, cols, rows, nw, nh, rng);
		cols = nw;
		rows = nh;
	}

	if (p->max_rotate_angle > 0 || p->max_shear_ratio > 0 || p->rotate > 0 || p->max_random_scale != 1 ||
	    p->min_random_scale != 1 || (!p->random_resized_crop && (min_aspect != 1 || max_aspect != 1)) ||
	    p->max_img_size != 1e10f || p->min_img_size != 0) {
		float s = rng_uniform(rng) * p->max_shear_ratio * 2 - p->max_shear_ratio;
		int angle = uniform_int(rng, -p->max_rotate_angle, p->max_rotate_angle);
		float scale = 1, ratio = 1, hs, ws, new_w, new_h, a, b;
		double *m = g->m;
		if (p->rotate > 0)
			angle = p->rotate;
		a = (float)cos(angle / 180.0 * M_PI);
		b = (float)sin(angle / 180.0 * M_PI);
		if (!p->random_resized_crop) {
			scale = rng_uniform(rng) * (p->max_random_scale - p->min_random_scale) + p->min_random_scale;
			ratio = rng_uniform(rng) * (max_aspect - min_aspect) + min_aspect;
		}
		hs = 2 * scale / (1 + ratio);
		ws = ratio * hs;
		new_w = fmaxf(p->min_img_size, fminf(p->max_img_size, scale * cols));
		new_h = fmaxf(p->min_img_size, fminf(p->max_img_size, scale * rows));
		m[0] = hs * a - s * b * ws;
		m[3] = -b * ws;
		m[1] = hs * b + s * a * ws;
		m[4] = a * ws;
		m[2] = (new_w - (float)(m[0] * cols + m[1] * rows)) / 2;
		m[5] = (new_h - (float)(m[3] * cols + m[4] * rows)) / 2;
		if ((int)new_w < 1 || (int)new_h < 1)
			return mx_error(MX_ERR_INVALID, "a %dx%d image scaled to %dx%d is empty", cols, rows, (int)new_w,
					(int)new_h);
		g->affine = 1;
		g->affine_w = (int)new_w;
		g->affine_h = (int)new_h;
		g->affine_interp = pick_interp(p->inter_method, cols, rows, g->affine_w, g->affine_h, rng);
		cols = g->affine_w;
		rows = g->affine_h;
	}

	if (p->pad > 0) {
		g->pad = p->pad;
		cols += 2 * p->pad;
		rows += 2 * p->pad;
	}

	if (p->random_resized_crop) {
		if (p->max_random_area != 1 || p->min_random_area != 1 || max_aspect != 1 || min_aspect != 1) {
			float area = (float)rows * cols;
			for (int i = 0; i < 10; i++) {
				float rand_area = uniform(rng, p->min_random_area, p->max_random_area);
				float ratio = uniform(rng, min_aspect, max_aspect), target = area * rand_area;
				int y_area = (int)lroundf(sqrtf(target / ratio)), x_area = (int)lroundf(sqrtf(target * ratio));
				if (rng_uniform(rng) > 0.5f) {
					int t = y_area;
					y_area = x_area;
					x_area = t;
				}
				if (y_area >= 1 && x_area >= 1 && y_area <= rows && x_area <= cols) {
					g->crop_y = uniform_int(rng, 0, rows - y_area);
					g->crop_x = uniform_int(rng, 0, cols - x_area);
					g->crop_w = x_area;
					g->crop_h = y_area;
					g->crop_interp = pick_interp(p->inter_method, x_area, y_area, W, H, rng);
					g->crop = 1;
					break;
				}
			}
		}
	} else if (p->max_crop_size != -1 || p->min_crop_size != -1) {
		int size;
		if (cols < p->max_crop_size || rows < p->max_crop_size)
			return mx_error(MX_ERR_INVALID, "the image is %dx%d, smaller than max_crop_size = %d", cols, rows,
					p->max_crop_size);
		size = uniform_int(rng, p->min_crop_size, p->max_crop_size);
		crop_origin(p->rand_crop, rng, cols - size, rows - size, &g->crop_x, &g->crop_y);
		g->crop_w = g->crop_h = size;
		g->crop_interp = pick_interp(p->inter_method, size, size, W, H, rng);
		g->crop = 1;
	}

	if (!g->crop) {
		/* Smaller than data_shape: scaled up (aspect kept) until both sides fit, as MXNet. */
		g->up_interp = pick_interp(p->inter_method, cols, rows, W, H, rng);
		if (rows < H) {
			cols = (int)((float)H / (float)rows * (float)cols);
			rows = H;
			g->up_w[g->scale_ups] = cols;
			g->up_h[g->scale_ups++] = rows;
		}
		if (cols < W) {
			rows = (int)((float)W / (float)cols * (float)rows);
			cols = W;
			g->up_w[g->scale_ups] = cols;
			g->up_h[g->scale_ups++] = rows;
		}
		if (rows < H || cols < W)
			return mx_error(MX_ERR_INVALID, "the image is %dx%d after scaling up, smaller than data_shape %dx%d",
					cols, rows, W, H);
		crop_origin(p->rand_crop, rng, cols - W, rows - H, &g->view_x, &g->view_y);
	}
	return MX_OK;
}

/* Whether the geometry's first change to the pixels is cutting a rectangle out of the
 * decoded image, which is then the only part to decode: *rect = (x, y, width, height). */
static int geometry_starts_with_crop(const struct imagerec_iter *it, const struct geometry *g, int rect[4])
{
	if ((g->resize && (g->resize_w != g->width || g->resize_h != g->height)) || g->affine || g->pad)
		return 0;
	if (g->crop) {
		rect[0] = g->crop_x, rect[1] = g->crop_y, rect[2] = g->crop_w, rect[3] = g->crop_h;
		return 1;
	}
	if (g->scale_ups)
		return 0;
	rect[0] = g->view_x, rect[1] = g->view_y, rect[2] = it->width, rect[3] = it->height;
	return 1;
}

#define SWAP_IMG(a, b) do { struct image *t_ = (a); (a) = (b); (b) = t_; } while (0)

static int has_colour_steps(const struct imagerec_param *p)
{
	return p->brightness > 0 || p->contrast > 0 || p->saturation > 0 || p->random_h || p->random_s ||
	       p->random_l || p->pca_noise > 0;
}

/* Applies g to *cur, the decoded image, or with cropped set the rectangle that
 * geometry_starts_with_crop gave, decoded alone (its rows, from column cropped_x); then the
 * colour steps, drawing from rng. spare and spare2 are free buffers; the function may swap
 * the three. Writes the final region to *out. Returns MX_OK or an error (out of memory). */
static int apply_geometry(const struct imagerec_iter *it, const struct geometry *g, int cropped, int cropped_x,
			  struct image **cur, struct image **spare, struct image **spare2, struct mx_rng *rng,
			  struct view *out)
{
	const struct imagerec_param *p = &it->param;
	int W = it->width, H = it->height, rc;

	out->x = cropped ? cropped_x : 0;
	out->y = 0;
	if (!cropped) {
		/* a resize to the same size copies the pixels: nothing to do */
		if (g->resize && (g->resize_w != (*cur)->width || g->resize_h != (*cur)->height)) {
			if ((rc = image_resize(*cur, g->resize_w, g->resize_h, g->resize_interp, *spare)))
				return rc;
			SWAP_IMG(*cur, *spare);
		}
		if (g->affine) {
			if ((rc = warp_affine(*cur, g->m, g->affine_w, g->affine_h, g->affine_interp, p->fill_value,
					      *spare)))
				return rc;
			SWAP_IMG(*cur, *spare);
		}
		if (g->pad) {
			if ((rc = pad_image(*cur, g->pad, p->fill_value, *spare)))
				return rc;
			SWAP_IMG(*cur, *spare);
		}
		if (g->crop) {
			if ((rc = image_crop(*cur, g->crop_x, g->crop_y, g->crop_w, g->crop_h, *spare)))
				return rc;
			SWAP_IMG(*cur, *spare);
		}
	}
	if (g->crop) {
		if (g->crop_w != W || g->crop_h != H) {
			if ((rc = image_resize(*cur, W, H, g->crop_interp, *spare2)))
				return rc;
			SWAP_IMG(*cur, *spare2);
		}
	} else if (!cropped) {
		for (int i = 0; i < g->scale_ups; i++) {
			if ((rc = image_resize(*cur, g->up_w[i], g->up_h[i], g->up_interp, *spare)))
				return rc;
			SWAP_IMG(*cur, *spare);
		}
		out->x = g->view_x;
		out->y = g->view_y;
		if (has_colour_steps(p)) {
			/* the colour steps below work on the crop alone, as MXNet's do */
			if ((rc = image_crop(*cur, out->x, out->y, W, H, *spare)))
				return rc;
			SWAP_IMG(*cur, *spare);
			out->x = out->y = 0;
		}
	}

	if (p->brightness > 0 || p->contrast > 0 || p->saturation > 0)
		color_jitter(p, *cur, rng);
	if (p->random_h || p->random_s || p->random_l)
		random_hls(p, *cur, rng);
	if (p->pca_noise > 0)
		pca_lighting(p, *cur, rng);
	out->img = *cur;
	return MX_OK;
}

/* Writes the W x H window at (x, y) of img into data as C planes of floats, table[k][v]
 * for the value v of channel k, mirrored left-right when asked. The caller fills the table
 * with the arithmetic it stands for, (v - mean) * mult + bias, so the result is that
 * arithmetic's bit for bit. The loop is bound by its stores (150528 floats for a 224x224
 * RGB example, into a batch ring far bigger than the caches): with SSE2 they go four
 * floats at a time, one plane's row after another, mirrored or not (2.5 times faster than
 * a float each). */
static void write_planes(const struct image *img, int x, int y, int C, int H, int W, const float (*table)[256],
			 int mirrored, float *data)
{
	size_t plane = (size_t)H * W;
	/* output column i of a row comes from the pixel at first + step * i */
	ptrdiff_t step = mirrored ? -C : C;
	for (int r = 0; r < H; r++) {
		const unsigned char *row = img->pixels + ((size_t)(y + r) * img->width + x + (mirrored ? W - 1 : 0)) * C;
		for (int k = 0; k < C; k++) {
			const float *t = table[k];
			const unsigned char *first = row + k;
			float *dst = data + k * plane + (size_t)r * W;
			int i = 0;
#ifdef __SSE2__
			for (; i + 4 <= W; i += 4) {
				const unsigned char *q = first + step * i;
				_mm_storeu_ps(dst + i, _mm_setr_ps(t[q[0]], t[q[step]], t[q[2 * step]], t[q[3 * step]]));
			}
#endif
			for (; i < W; i++)
				dst[i] = t[first[step * i]];
		}
	}
}

/* ---- one example ----------------------------------------------------------------------- */

static int task_fail(struct task *t, int status, int rc)
{
	t->status = status;
	t->rc = rc;
	mx_error_copy(t->msg, sizeof t->msg);
	return rc;
}

/* Reads, decodes and augments the example at t->position into data (C*H*W floats) and
 * label (label_width floats). Sets t->status: TASK_SKIP for a record that is not a readable
 * image (t->msg says why), TASK_FAIL for an error that skipping cannot cure. */
static void process_example(struct imagerec_iter *it, struct worker *w, struct task *t, float *data, float *label)
{
	const struct imagerec_param *p = &it->param;
	int64_t position = t->position % it->n;
	struct image_record_header h;
	const unsigned char *labels, *content;
	size_t len, content_len;
	struct image *cur = &w->img[0], *spare = &w->img[1], *spare2 = &w->img[2];
	struct view view = {0};
	struct mx_rng rng;
	int C = it->channels, H = it->height, W = it->width, mirrored, rc;
	float contrast, illumination;

	t->status = TASK_OK;
	t->named = 0;
	t->offset = it->offsets[it->order[position]];
	rng_seed(&rng, mix64(it->aug_key + (uint64_t)position));

	if ((rc = recordio_reader_read_at(it->reader, t->offset, &w->buf, &w->cap, &len))) {
		task_fail(t, TASK_SKIP, rc);
		t->named = 1;
		return;
	}
	if ((rc = image_record_unpack(w->buf, len, &h, &labels, &content, &content_len))) {
		task_fail(t, TASK_SKIP, rc);
		return;
	}
	if (it->lst.n) {
		const float *found = label_map_find(&it->lst, p->label_width, h.id);
		if (!found) {
			mx_error(MX_ERR_FORMAT, "image id %llu is not in %s", (unsigned long long)h.id, p->path_imglist);
			task_fail(t, TASK_FAIL, MX_ERR_FORMAT);
			return;
		}
		memcpy(label, found, p->label_width * sizeof *label);
	} else if (h.flag > 0) {
		if ((int64_t)h.flag != p->label_width) {
			mx_error(MX_ERR_FORMAT, "the record has %u labels but label_width = %d", h.flag, p->label_width);
			task_fail(t, TASK_FAIL, MX_ERR_FORMAT);
			return;
		}
		for (uint32_t i = 0; i < h.flag; i++)
			label[i] = image_record_label(labels, i);
	} else {
		if (p->label_width != 1) {
			mx_error(MX_ERR_FORMAT, "the record has 1 label but label_width = %d (give path_imglist, or pack"
				 " the labels into the records)", p->label_width);
			task_fail(t, TASK_FAIL, MX_ERR_FORMAT);
			return;
		}
		label[0] = h.label;
	}

	{
		struct geometry g;
		int rect[4], cropped = 0, cropped_x = 0;
		if (it->crop_decode && image_sniff(content, content_len) == IMAGE_JPEG) {
			/* the size from the header first: if the first change to the pixels is a crop,
			 * decode only that (the same pixels, see image_decode_region) */
			struct mx_rng start = rng;
			int pw, ph, pc;
			if (!image_probe(content, content_len, &pw, &ph, &pc) && !plan_geometry(it, pw, ph, &rng, &g) &&
			    geometry_starts_with_crop(it, &g, rect)) {
				/* the final window may lie inside a wider decode (no copy), unless
				 * something is done to the window's pixels before they are written */
				int in_place = !g.crop && !has_colour_steps(p);
				if ((rc = image_decode_region(content, content_len, C, rect[0], rect[1], rect[2], rect[3],
							      cur, in_place ? &cropped_x : NULL))) {
					task_fail(t, TASK_SKIP, rc);
					return;
				}
				cropped = 1;
			} else {
				rng = start;   /* the full decode below draws again, from the start */
			}
		}
		if (!cropped) {
			if ((rc = image_decode(content, content_len, C, p->fast_decode && p->resize > 0 ? p->resize : 0,
					       cur))) {
				task_fail(t, TASK_SKIP, rc);
				return;
			}
			if ((rc = plan_geometry(it, cur->width, cur->height, &rng, &g))) {
				task_fail(t, TASK_FAIL, rc);
				return;
			}
		}
		if ((rc = apply_geometry(it, &g, cropped, cropped_x, &cur, &spare, &spare2, &rng, &view))) {
			task_fail(t, TASK_FAIL, rc);
			return;
		}
	}

	mirrored = (p->rand_mirror && rng_uniform(&rng) < 0.5f) || p->mirror;
	contrast = (rng_uniform(&rng) * p->max_random_contrast * 2 - p->max_random_contrast + 1);
	illumination = rng_uniform(&rng) * p->max_random_illumination * 2 - p->max_random_illumination;
	{
		float table[3][256];
		for (int k = 0; k < C; k++) {
			float mean = it->mean[k], mult = it->mult[k] * contrast, bias = illumination * it->mult[k];
			for (int v = 0; v < 256; v++)
				table[k][v] = (v - mean) * mult + bias;
		}
		write_planes(view.img, view.x, view.y, C, H, W, (const float (*)[256])table, mirrored, data);
	}
}

struct batch_job {
	struct imagerec_iter *it;
	int n_tasks, first_row;
	int next;   /* next task to take (atomic) */
	float *data, *label;
};

static void run_piece(void *arg, int piece)
{
	struct batch_job *job = arg;
	struct imagerec_iter *it = job->it;
	size_t per = (size_t)it->channels * it->height * it->width;
	int t;
	while ((t = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED)) < job->n_tasks) {
		int row = job->first_row + t;
		process_example(it, &it->workers[piece], &it->tasks[t], job->data + row * per,
				job->label + (size_t)row * it->param.label_width);
	}
}

/* ---- the iterator ---------------------------------------------------------------------- */

static void imagerec_close(void *impl)
{
	struct imagerec_iter *it = impl;
	if (!it)
		return;
	threadpool_free(it->pool);
	for (int i = 0; it->workers && i < it->n_threads; i++) {
		free(it->workers[i].buf);
		for (int k = 0; k < 3; k++)
			image_free(&it->workers[i].img[k]);
	}
	free(it->workers);
	free(it->tasks);
	if (it->reader)
		recordio_reader_close(it->reader);
	free(it->offsets);
	free(it->order);
	free(it->lst.ids);
	free(it->lst.labels);
	free(it);
}

static int cmp_offset(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* "<prefix>.idx" for "<prefix>.rec" (any extension replaced, as MXNet's Python does). */
static void default_idx_path(const char *rec, char *out, size_t size)
{
	const char *slash = strrchr(rec, '/'), *dot = strrchr(rec, '.');
	size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - rec) : strlen(rec);
	snprintf(out, size, "%.*s.idx", (int)stem, rec);
}

/* Fills it->offsets from an index: by record count (explicit path_imgidx, as dmlc's
 * IndexedRecordIOSplitter) or by MXNet's byte ranges (an .idx found beside the .rec). */
static int offsets_from_index(struct imagerec_iter *it, const char *idx_path, long long rec_size, int by_count)
{
	const struct imagerec_param *p = &it->param;
	struct recordio_index idx = {0};
	int64_t begin = 0, end = 0;
	int rc;

	if ((rc = recordio_index_read(idx_path, &idx)))
		goto done;
	if (by_count && p->skip_corrupt) {
		/* A named index with lines past the end of the .rec: those lines are dropped with a
		 * warning each (their records cannot exist); the rest are read. */
		long kept = 0;
		for (long i = 0; i < idx.n; i++) {
			if (idx.offsets[i] < rec_size) {
				idx.keys[kept] = idx.keys[i];
				idx.offsets[kept++] = idx.offsets[i];
			} else {
				mx_warn("%s:%ld: offset %lld is at or past the end of %s (%lld bytes); skipped",
					idx_path, i + 1, idx.offsets[i], p->path_imgrec, rec_size);
			}
		}
		idx.n = kept;
	} else if ((rc = recordio_index_check(&idx, idx_path, rec_size))) {
		goto done;
	}
	qsort(idx.offsets, idx.n, sizeof *idx.offsets, cmp_offset);
	if (!by_count && idx.n > 0) {
		/* An index nobody named may be stale (the .rec rewritten since): its last record
		 * must end where the file ends. */
		unsigned char *buf = NULL;
		size_t cap = 0, len = 0;
		long long last = idx.offsets[idx.n - 1];
		rc = recordio_reader_read_at(it->reader, last, &buf, &cap, &len);
		if (!rc && last + (long long)recordio_encoded_size(buf, len) != rec_size)
			rc = mx_error(MX_ERR_FORMAT, "%s: its last record (byte %lld) ends at byte %lld, not at the end of "
				      "the .rec file (%lld bytes)", idx_path, last,
				      last + (long long)recordio_encoded_size(buf, len), rec_size);
		free(buf);
		if (rc)
			goto done;
	}
	if (by_count) {
		int64_t nstep = (idx.n + p->num_parts - 1) / p->num_parts;
		begin = nstep * p->part_index < idx.n ? nstep * p->part_index : idx.n;
		end = begin + nstep < idx.n ? begin + nstep : idx.n;
	} else {
		long long lo, hi;
		recordio_part_range(rec_size, p->part_index, p->num_parts, &lo, &hi);
		while (begin < idx.n && idx.offsets[begin] < lo)
			begin++;
		for (end = begin; end < idx.n && idx.offsets[end] < hi; end++)
			;
	}
	it->n = end - begin;
	it->offsets = malloc((it->n ? it->n : 1) * sizeof *it->offsets);
	if (!it->offsets) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory for %lld offsets", (long long)it->n);
		goto done;
	}
	memcpy(it->offsets, idx.offsets + begin, it->n * sizeof *it->offsets);
done:
	recordio_index_free(&idx);
	return rc;
}

static int check_param(const struct imagerec_param *p)
{
	const struct mx_shape *s = &p->data_shape;
	char text[64];
	int rc;
	if (s->ndim != 3)
		return mx_error(MX_ERR_INVALID, "data_shape = %s must have 3 dimensions (channels, height, width), e.g. (3, 224, 224)",
				shape_str(s, text, sizeof text));
	if (s->dim[0] != 1 && s->dim[0] != 3)
		return mx_error(MX_ERR_INVALID, "data_shape = %s: channels must be 1 (gray) or 3 (RGB)",
				shape_str(s, text, sizeof text));
	if (s->dim[1] > 1 << 15 || s->dim[2] > 1 << 15)
		return mx_error(MX_ERR_INVALID, "data_shape = %s: height and width must be at most 32768",
				shape_str(s, text, sizeof text));
	if ((rc = iter_check_part(p->part_index, p->num_parts)))
		return rc;
	if (p->resize == 0)
		return mx_error(MX_ERR_INVALID, "resize = 0: give the shorter side's new size, or -1 for none");
	if (p->inter_method == 4)
		return mx_error(MX_ERR_INVALID, "inter_method = 4 (Lanczos) is not supported; use 0 to 3, 9 or 10");
	if (p->inter_method > 4 && p->inter_method != 9 && p->inter_method != 10)
		return mx_error(MX_ERR_INVALID, "inter_method = %d: valid values are 0 (nearest), 1 (bilinear), 2 (cubic), "
				"3 (area), 9 (auto) and 10 (random)", p->inter_method);
	if (p->std_r == 0 || p->std_g == 0 || p->std_b == 0)
		return mx_error(MX_ERR_INVALID, "std_r, std_g and std_b must not be 0");
	if (p->max_crop_size != -1 || p->min_crop_size != -1) {
		if (p->max_crop_size < 1 || p->min_crop_size < 1 || p->max_crop_size < p->min_crop_size)
			return mx_error(MX_ERR_INVALID, "min_crop_size = %d and max_crop_size = %d: give both, with "
					"1 <= min_crop_size <= max_crop_size", p->min_crop_size, p->max_crop_size);
	}
	if (p->random_resized_crop) {
		float max_aspect = p->min_aspect_ratio > 0 ? p->max_aspect_ratio : 1 + p->max_aspect_ratio;
		float min_aspect = p->min_aspect_ratio > 0 ? p->min_aspect_ratio : 1 - p->max_aspect_ratio;
		if (p->min_random_scale != 1 || p->max_random_scale != 1 || p->max_crop_size != -1 || p->rand_crop)
			return mx_error(MX_ERR_INVALID, "random_resized_crop conflicts with min_random_scale, max_random_scale, "
					"min_crop_size, max_crop_size and rand_crop");
		if (min_aspect <= 0 || min_aspect > max_aspect || p->min_random_area > p->max_random_area)
			return mx_error(MX_ERR_INVALID, "random_resized_crop needs 0 < aspect ratio range (%g to %g) and "
					"min_random_area <= max_random_area", min_aspect, max_aspect);
	}
	return MX_OK;
}

static void imagerec_shapes(void *impl, struct mx_shape *data, struct mx_shape *label);

static int imagerec_open(const void *param, void **impl)
{
	const struct imagerec_param *p = param;
	struct imagerec_iter *it;
	char found_idx[IMAGEREC_PATH_MAX + 8], *source = "a scan of its headers";
	struct stat st;
	int rc;

	*impl = NULL;
	if ((rc = check_param(p)))
		return rc;
	if (!(it = calloc(1, sizeof *it)))
		return mx_error(MX_ERR_NOMEM, "out of memory");
	it->param = *p;
	it->channels = (int)p->data_shape.dim[0];
	it->height = (int)p->data_shape.dim[1];
	it->width = (int)p->data_shape.dim[2];
	it->mean[0] = p->mean_r;
	it->mean[1] = p->mean_g;
	it->mean[2] = p->mean_b;
	it->mult[0] = p->scale / p->std_r;
	it->mult[1] = p->scale / p->std_g;
	it->mult[2] = p->scale / p->std_b;
	{
		/* fast_decode's DCT scaling makes the decoded size differ from the header's */
		const char *env = getenv("MXTRAIN_IMAGEREC_CROP_DECODE");
		it->crop_decode = !(p->fast_decode && p->resize > 0) && !(env && !strcmp(env, "0"));
	}

	if ((rc = recordio_reader_open_part(p->path_imgrec, 0, 1, !p->skip_corrupt, &it->reader)))
		goto fail;
	if (stat(p->path_imgrec, &st)) {
		rc = mx_error(MX_ERR_IO, "%s: %s", p->path_imgrec, strerror(errno));
		goto fail;
	}
	default_idx_path(p->path_imgrec, found_idx, sizeof found_idx);
	if (p->path_imgidx[0]) {
		if ((rc = offsets_from_index(it, p->path_imgidx, (long long)st.st_size, 1)))
			goto fail;
		source = "path_imgidx";
	} else if (access(found_idx, R_OK) == 0 && !offsets_from_index(it, found_idx, (long long)st.st_size, 0)) {
		source = found_idx;
	} else {
		struct recordio_reader *part;
		long n = 0;
		if (access(found_idx, R_OK) == 0)   /* offsets_from_index failed */
			mx_warn("%s; ignoring it and reading the record headers of %s instead", mx_error_message(),
				p->path_imgrec);
		free(it->offsets);
		it->offsets = NULL;
		if ((rc = recordio_reader_open_part(p->path_imgrec, p->part_index, p->num_parts, !p->skip_corrupt, &part)))
			goto fail;
		rc = recordio_reader_scan(part, &it->offsets, &n);
		recordio_reader_close(part);
		if (rc)
			goto fail;
		it->n = n;
	}
	if (it->n == 0) {
		if (p->num_parts > 1)
			rc = mx_error(MX_ERR_INVALID, "%s: part %d of %d holds no records", p->path_imgrec, p->part_index,
				      p->num_parts);
		else
			rc = mx_error(MX_ERR_FORMAT, "%s holds no records", p->path_imgrec);
		goto fail;
	}
	if (p->path_imglist[0] && (rc = label_map_read(p->path_imglist, p->label_width, &it->lst)))
		goto fail;

	it->order = malloc(it->n * sizeof *it->order);
	it->tasks = calloc(p->batch_size, sizeof *it->tasks);
	it->n_threads = p->preprocess_threads;
	it->workers = calloc(it->n_threads, sizeof *it->workers);
	if (!it->order || !it->tasks || !it->workers) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory for %lld records", (long long)it->n);
		goto fail;
	}
	if (it->n_threads > 1 && !(it->pool = threadpool_create(it->n_threads))) {
		rc = mx_error(MX_ERR_NOMEM, "cannot start %d decode threads", it->n_threads);
		goto fail;
	}
	it->pos = it->n;   /* no epoch until reset */
	it->reported = 1;
	if (p->verbose) {
		struct mx_shape data, label;
		char text[64];
		imagerec_shapes(it, &data, &label);
		mx_info("ImageRecordIter: %s: %lld records (part %d of %d; offsets from %s), %d decode thread%s, shape %s",
			p->path_imgrec, (long long)it->n, p->part_index, p->num_parts, source, it->n_threads,
			it->n_threads > 1 ? "s" : "", shape_str(&data, text, sizeof text));
	}
	*impl = it;
	return MX_OK;
fail:
	imagerec_close(it);
	return rc;
}

static void imagerec_shapes(void *impl, struct mx_shape *data, struct mx_shape *label)
{
	const struct imagerec_iter *it = impl;
	int64_t b = it->param.batch_size;
	*data = shape_make(4, b, (int64_t)it->channels, (int64_t)it->height, (int64_t)it->width);
	if (it->param.label_width == 1)
		*label = shape_make(1, b);
	else
		*label = shape_make(2, b, (int64_t)it->param.label_width);
}

/* The order of epoch e is iter_epoch_order's, as every kind's; the augmentations use
 * another key from the same (seed, epoch) pair. */
static int imagerec_reset(void *impl, int epoch)
{
	struct imagerec_iter *it = impl;
	iter_epoch_order(it->order, it->n, it->param.shuffle, it->param.seed, epoch);
	it->aug_key = mix64(iter_epoch_key(it->param.seed, epoch) ^ 0x696d616765726563ULL);   /* "imagerec" */
	it->epoch = epoch;
	it->pos = 0;
	it->skipped = 0;
	it->reported = 0;
	return MX_OK;
}

static void end_of_epoch(struct imagerec_iter *it)
{
	if (it->reported)
		return;
	it->reported = 1;
	if (it->skipped)
		mx_warn("%s: skipped %ld corrupt record%s of %lld in epoch %d", it->param.path_imgrec, it->skipped,
			it->skipped > 1 ? "s" : "", (long long)it->n, it->epoch);
}

static int imagerec_next(void *impl, struct mx_tensor *data, struct mx_tensor *label, int *pad)
{
	struct imagerec_iter *it = impl;
	const struct imagerec_param *p = &it->param;
	int B = p->batch_size, filled = 0, fillers = 0;
	size_t per = (size_t)it->channels * it->height * it->width, lw = p->label_width;
	float *x = tensor_f32(data), *y = tensor_f32(label);

	if (it->pos >= it->n) {
		end_of_epoch(it);
		return MX_END;
	}
	while (filled < B) {
		struct batch_job job = {it, 0, filled, 0, x, y};
		int m = B - filled, kept;
		if (it->pos >= it->n && !p->round_batch) {
			memset(x + filled * per, 0, (B - filled) * per * sizeof *x);
			memset(y + filled * lw, 0, (B - filled) * lw * sizeof *y);
			fillers += B - filled;
			break;
		}
		if (it->pos < it->n && m > it->n - it->pos)
			m = (int)(it->n - it->pos);   /* no round mixes the epoch and the wrapped rows */
		for (int t = 0; t < m; t++)
			it->tasks[t].position = it->pos + t;
		job.n_tasks = m;
		threadpool_run(it->pool, m < it->n_threads ? m : it->n_threads, run_piece, &job);

		kept = filled;
		for (int t = 0; t < m; t++) {
			struct task *task = &it->tasks[t];
			char where[TASK_MSG_MAX + IMAGEREC_PATH_MAX + 64];
			if (task->status != TASK_OK) {
				if (task->named)
					snprintf(where, sizeof where, "%s", task->msg);
				else
					snprintf(where, sizeof where, "%s: record at byte %lld: %s", p->path_imgrec, task->offset,
						 task->msg);
			}
			if (task->status == TASK_FAIL)
				return mx_error(task->rc, "%s", where);
			if (task->status == TASK_SKIP) {
				if (!p->skip_corrupt)
					return mx_error(task->rc, "%s (skip_corrupt = true skips such records)", where);
				if (task->position < it->n) {   /* wrapped rows were reported the first time */
					it->skipped++;
					mx_warn("%s; skipped", where);
				}
				continue;
			}
			if (kept != filled + t) {
				memmove(x + kept * per, x + (filled + t) * per, per * sizeof *x);
				memmove(y + kept * lw, y + (filled + t) * lw, lw * sizeof *y);
			}
			if (task->position >= it->n)
				fillers++;
			kept++;
		}
		it->pos += m;
		filled = kept;
		if (it->pos >= it->n && filled == 0) {
			/* the rest of the epoch was corrupt */
			end_of_epoch(it);
			return MX_END;
		}
	}
	if (it->pos >= it->n)
		it->pos = it->n;   /* wrapped positions are not the next epoch's business */
	*pad = fillers;
	return MX_OK;
}

static long imagerec_num_examples(void *impl) { return (long)((struct imagerec_iter *)impl)->n; }

const struct iter_kind iter_imagerec = {
	.name = "imagerec",
	.params = imagerec_params,
	.param_size = sizeof(struct imagerec_param),
	.open = imagerec_open,
	.close = imagerec_close,
	.shapes = imagerec_shapes,
	.reset = imagerec_reset,
	.next = imagerec_next,
	.num_examples = imagerec_num_examples,
};
