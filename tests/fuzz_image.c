/* fuzz_image.c: a bounded fuzz harness for image decoding (a plain program, run by `make check`).
 *
 *   fuzz_image [SEED]
 *
 * Seeds are small JPEGs and PNGs made with image_encode from random and patterned pixels
 * (gray and RGB, many sizes and qualities), plus the files in $top_srcdir/tests/fixtures/image
 * (progressive and CMYK JPEGs; palette, 16-bit, 1-bit, alpha and interlaced PNGs). Each round
 * mutates one seed (bit flips, interesting bytes, truncation, insertion, deletion, splices,
 * and for PNG, changes inside the inflated IDAT with the CRCs made right again so libpng looks
 * past them), then probes it and decodes it with channels 0, 1 and 3 and with and without
 * min_side. Every call must return MX_OK or an error with a message; a success must give a
 * sane image of at most IMAGE_MAX_PIXELS (64 Mi) pixels whose size agrees with image_probe,
 * and must then survive a resize, a crop and a flip. Runs for FUZZ_SECONDS (default 15).
 * Prints one summary line and exits 0; on a broken rule it saves the input as
 * fuzz_image-failure.bin and exits 1; on a crash, a signal handler saves it first.
 *
 * Under valgrind, run with JSIMD_FORCENONE=1: libjpeg-turbo's SIMD code makes memcheck
 * report uninitialised bytes in some DCT-scaled outputs that are in fact fully written
 * (they are identical without SIMD and under glibc's MALLOC_PERTURB_). */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <zlib.h>

#include "data/image.h"
#include "error.h"

#define MAX_SEEDS 64
#define MAX_PIXELS (64LL << 20)
#define SLOW_SECONDS 10.0   /* one decode of a few KB taking this long is a hang */

struct buffer {
	unsigned char *data;
	size_t len, cap;
};

static struct buffer seeds[MAX_SEEDS];
static int n_seeds;
static uint64_t rng_state;

/* The input being decoded, for the crash handler. */
static const unsigned char *volatile current;
static volatile size_t current_len;

static uint64_t next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t below(size_t n) { return n ? (size_t)(next_random() % n) : 0; }

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void save_input(const unsigned char *data, size_t len)
{
	int fd = open("fuzz_image-failure.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		while (len > 0) {
			ssize_t n = write(fd, data, len);
			if (n <= 0)
				break;
			data += n;
			len -= (size_t)n;
		}
		close(fd);
	}
}

static void on_crash(int sig)
{
	static const char msg[] = "fuzz_image: crashed; input saved as fuzz_image-failure.bin\n";
	if (current)
		save_input(current, current_len);
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(128 + sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void fail(const unsigned char *data, size_t len, const char *what, const char *detail)
{
	save_input(data, len);
	fprintf(stderr, "fuzz_image: %s (%s); input saved as fuzz_image-failure.bin (%zu bytes)\n",
		what, detail, len);
	exit(1);
}

static void buffer_reserve(struct buffer *b, size_t need)
{
	if (need <= b->cap)
		return;
	b->cap = need * 2 + 64;
	b->data = realloc(b->data, b->cap);
	if (!b->data) {
		fprintf(stderr, "fuzz_image: out of memory\n");
		exit(1);
	}
}

static void add_seed(const unsigned char *data, size_t len)
{
	struct buffer *b;
	if (n_seeds == MAX_SEEDS || len == 0)
		return;
	b = &seeds[n_seeds++];
	memset(b, 0, sizeof *b);
	buffer_reserve(b, len);
	memcpy(b->data, data, len);
	b->len = len;
}

/* Seeds made by our own encoder: noise, gradients and flat areas, gray and RGB. */
static void make_encoded_seeds(void)
{
	struct image img = {0};
	for (int i = 0; i < 24; i++) {
		int w = 1 + (int)below(70), h = 1 + (int)below(50), c = i % 3 == 0 ? 1 : 3;
		unsigned char *out;
		size_t len;
		if (image_reserve(&img, w, h, c)) {
			fprintf(stderr, "fuzz_image: %s\n", mx_error_message());
			exit(1);
		}
		for (int p = 0; p < w * h * c; p++)
			img.pixels[p] = i % 4 == 0 ? (unsigned char)next_random()
					: (unsigned char)((p % (w * c)) * 7 + (p / (w * c)) * 3 + (i % 4 == 1 ? 0 : (int)below(9)));
		if (image_encode(&img, i % 2 ? IMAGE_JPEG : IMAGE_PNG,
				 i % 2 ? 30 + (int)below(71) : (int)below(10), &out, &len)) {
			fprintf(stderr, "fuzz_image: %s\n", mx_error_message());
			exit(1);
		}
		add_seed(out, len);
		free(out);
	}
	image_free(&img);
}

static int fixture_seeds(void)
{
	const char *top = getenv("top_srcdir");
	char dir[1024], path[1200];
	struct dirent *e;
	DIR *d;
	int n = 0;
	snprintf(dir, sizeof dir, "%s/tests/fixtures/image", top ? top : "..");
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		FILE *f;
		unsigned char buf[65536];
		size_t len;
		if (l < 5 || (strcmp(e->d_name + l - 4, ".jpg") && strcmp(e->d_name + l - 4, ".png")))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (!(f = fopen(path, "rb")))
			continue;
		len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		add_seed(buf, len);
		n++;
	}
	closedir(d);
	return n;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* Rewrites every complete chunk's CRC so libpng reads on past a mutation. */
static void png_fix_crcs(struct buffer *b)
{
	size_t at = 8;
	while (at + 12 <= b->len) {
		uint32_t n = be32(b->data + at);
		if (n > b->len - at - 12)
			break;
		put_be32(b->data + at + 8 + n, (uint32_t)crc32(0, b->data + at + 4, n + 4));
		at += 12 + n;
	}
}

/* Inflates the first IDAT, mutates the filtered scanlines, deflates it back. */
static int png_mutate_idat(struct buffer *b)
{
	size_t at = 8;
	while (at + 12 <= b->len) {
		uint32_t n = be32(b->data + at);
		if (n > b->len - at - 12)
			return 0;
		if (!memcmp(b->data + at + 4, "IDAT", 4))
			break;
		at += 12 + n;
	}
	if (at + 12 > b->len)
		return 0;
	{
		uint32_t n = be32(b->data + at);
		uLongf raw_len = 1 << 20, packed_len;
		unsigned char *raw = malloc(raw_len), *packed;
		int flips = 1 + (int)below(4);
		if (!raw || uncompress(raw, &raw_len, b->data + at + 8, n) != Z_OK || raw_len == 0) {
			free(raw);
			return 0;
		}
		for (int i = 0; i < flips; i++)
			raw[below(raw_len)] = below(3) ? (unsigned char)next_random() : (unsigned char)below(6);
		if (below(4) == 0)
			raw_len = below(raw_len) + 1;  /* too little image data */
		packed_len = compressBound(raw_len);
		packed = malloc(packed_len);
		if (!packed || compress(packed, &packed_len, raw, raw_len) != Z_OK) {
			free(raw);
			free(packed);
			return 0;
		}
		{
			size_t tail = b->len - (at + 12 + n);
			size_t len = at + 12 + packed_len + tail;
			unsigned char *out = malloc(len);
			if (!out) {
				free(raw);
				free(packed);
				return 0;
			}
			memcpy(out, b->data, at);
			put_be32(out + at, (uint32_t)packed_len);
			memcpy(out + at + 4, "IDAT", 4);
			memcpy(out + at + 8, packed, packed_len);
			memcpy(out + at + 8 + packed_len + 4, b->data + at + 12 + n, tail);
			buffer_reserve(b, len);
			memcpy(b->data, out, len);
			b->len = len;
			free(out);
		}
		free(raw);
		free(packed);
		png_fix_crcs(b);
		return 1;
	}
}

static const unsigned char interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xd8, 0xd9, 0xda,
					    0xc0, 0xc2, 0xc4, 0xdb, 0xdd, 0xd0, 0xfe, 0x10};

/* One mutation of b in place. */
static void mutate(struct buffer *b)
{
	size_t at = below(b->len);
	switch (below(9)) {
	case 0: case 1:  /* bit flips */
		for (int i = 0, n = 1 + (int)below(8); i < n; i++)
			b->data[below(b->len)] ^= (unsigned char)(1u << below(8));
		break;
	case 2:  /* interesting bytes, often a marker prefix */
		b->data[at] = interesting[below(sizeof interesting)];
		if (below(2) && at > 0)
			b->data[at - 1] = 0xff;
		break;
	case 3:  /* truncation */
		b->len = below(b->len) + 1;
		break;
	case 4: {  /* insertion of random or repeated bytes */
		size_t n = 1 + below(64);
		buffer_reserve(b, b->len + n);
		memmove(b->data + at + n, b->data + at, b->len - at);
		for (size_t i = 0; i < n; i++)
			b->data[at + i] = below(2) ? (unsigned char)next_random() : b->data[(at + i + n) % (b->len + n)];
		b->len += n;
		break;
	}
	case 5: {  /* deletion */
		size_t n = 1 + below(b->len - at < 64 ? b->len - at : 64);
		if (n < b->len) {
			memmove(b->data + at, b->data + at + n, b->len - at - n);
			b->len -= n;
		}
		break;
	}
	case 6: {  /* splice: the tail of another seed */
		const struct buffer *o = &seeds[below(n_seeds)];
		size_t from = below(o->len), n = o->len - from;
		buffer_reserve(b, at + n);
		memcpy(b->data + at, o->data + from, n);
		b->len = at + n;
		break;
	}
	case 7:  /* a 16-bit field (sizes, lengths) set to an extreme */
		if (at + 1 < b->len) {
			static const uint16_t v[] = {0, 1, 2, 0x7fff, 0xffff, 0x100, 8, 16};
			uint16_t x = v[below(8)];
			b->data[at] = (unsigned char)(x >> 8), b->data[at + 1] = (unsigned char)x;
		}
		break;
	default:  /* PNG: deeper, with valid CRCs; JPEG: a flip inside the scan data */
		if (image_sniff(b->data, b->len) == IMAGE_PNG) {
			if (!png_mutate_idat(b)) {
				b->data[below(b->len)] ^= (unsigned char)(1u << below(8));
				png_fix_crcs(b);
			}
		} else if (b->len > 4) {
			b->data[b->len - 3 - below(b->len / 2)] ^= (unsigned char)(1u << below(8));
		}
		break;
	}
}

struct tally {
	long inputs, decodes, decoded, probes, probed;
	double slowest;
};

static void check_one(const unsigned char *data, size_t len, struct image *img,
		      struct image *tmp, struct tally *t)
{
	static const int channel_choice[] = {0, 1, 3};
	int pw = 0, ph = 0, pc = 0, probe_ok;
	current = data;
	current_len = len;
	probe_ok = image_probe(data, len, &pw, &ph, &pc) == MX_OK;
	t->probes++;
	t->probed += probe_ok;
	if (!probe_ok && !*mx_error_message())
		fail(data, len, "image_probe failed without a message", "");
	if (probe_ok && (pw <= 0 || ph <= 0 || (long long)pw * ph > MAX_PIXELS || (pc != 1 && pc != 3)))
		fail(data, len, "image_probe gave a bad size", "");
	for (int k = 0; k < 3; k++) {
		int channels = channel_choice[k];
		int min_side = below(3) == 0 ? 1 + (int)below(40) : 0;
		double t0 = now(), dt;
		int rc;
		mx_error_clear();
		rc = image_decode(data, len, channels, min_side, img);
		dt = now() - t0;
		t->decodes++;
		if (dt > t->slowest)
			t->slowest = dt;
		if (dt > SLOW_SECONDS)
			fail(data, len, "a decode took too long", "");
		if (rc != MX_OK) {
			if (rc != MX_ERR_FORMAT && rc != MX_ERR_NOMEM)
				fail(data, len, "image_decode gave an unexpected code", mx_error_message());
			if (!*mx_error_message())
				fail(data, len, "image_decode failed without a message", "");
			continue;
		}
		t->decoded++;
		if (img->width <= 0 || img->height <= 0 || !img->pixels ||
		    (long long)img->width * img->height > MAX_PIXELS ||
		    (channels && img->channels != channels) || (img->channels != 1 && img->channels != 3) ||
		    (size_t)img->width * img->height * img->channels > img->capacity)
			fail(data, len, "image_decode gave a bad image", "");
		if (!probe_ok)
			fail(data, len, "image_decode succeeded where image_probe failed", "");
		if (min_side == 0 && (img->width != pw || img->height != ph ||
				      (channels == 0 && img->channels != pc)))
			fail(data, len, "image_decode and image_probe disagree on the size", "");
		/* the pixels must be usable: touch them all */
		{
			unsigned sum = 0;
			for (size_t i = 0; i < (size_t)img->width * img->height * img->channels; i++)
				sum += img->pixels[i];
			if (sum == 0xffffffffu)
				fprintf(stderr, " ");
		}
		/* a region of what decoded whole must decode too, to the same pixels */
		if (min_side == 0) {
			int rw = 1 + (int)below(img->width), rh = 1 + (int)below(img->height);
			int rx = (int)below(img->width - rw + 1), ry = (int)below(img->height - rh + 1);
			if (image_decode_region(data, len, channels, rx, ry, rw, rh, tmp, NULL))
				fail(data, len, "image_decode_region failed where image_decode succeeded",
				     mx_error_message());
			for (int yy = 0; yy < rh; yy++)
				if (memcmp(tmp->pixels + (size_t)yy * rw * img->channels,
					   img->pixels + ((size_t)(ry + yy) * img->width + rx) * img->channels,
					   (size_t)rw * img->channels))
					fail(data, len, "image_decode_region differs from image_decode + crop", "");
		}
		if (image_resize(img, 1 + (int)below(64), 1 + (int)below(64), (enum image_interp)below(4), tmp))
			fail(data, len, "resizing a decoded image failed", mx_error_message());
		if (image_crop(img, (int)below(img->width), (int)below(img->height), 1, 1, tmp))
			fail(data, len, "cropping a decoded image failed", mx_error_message());
		image_flip_horizontal(img);
	}
	t->inputs++;
	current = NULL;
}

int main(int argc, char **argv)
{
	const char *env = getenv("FUZZ_SECONDS");
	double seconds = env ? atof(env) : 15.0, start, elapsed;
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL);
	struct buffer work = {0};
	struct image img = {0}, tmp = {0};
	struct tally t = {0};
	int fixtures;
	long jpeg = 0, png = 0;

	rng_state = seed * 2654435761u + 0x9e3779b97f4a7c15ull;
	if (!rng_state)
		rng_state = 1;
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGFPE, on_crash);
	signal(SIGILL, on_crash);
	signal(SIGABRT, on_crash);
	make_encoded_seeds();
	fixtures = fixture_seeds();

	/* every seed decodes as it is */
	for (int i = 0; i < n_seeds; i++) {
		if (image_decode(seeds[i].data, seeds[i].len, 0, 0, &img))
			fail(seeds[i].data, seeds[i].len, "a seed does not decode", mx_error_message());
		check_one(seeds[i].data, seeds[i].len, &img, &tmp, &t);
	}
	start = now();
	do {
		const struct buffer *s = &seeds[below(n_seeds)];
		int rounds = 1 + (int)below(3);
		buffer_reserve(&work, s->len);
		memcpy(work.data, s->data, s->len);
		work.len = s->len;
		for (int r = 0; r < rounds && work.len > 0; r++)
			mutate(&work);
		if (image_sniff(s->data, s->len) == IMAGE_JPEG)
			jpeg++;
		else
			png++;
		check_one(work.data, work.len, &img, &tmp, &t);
		elapsed = now() - start;
	} while (elapsed < seconds);

	printf("fuzz_image: seed %llu, %.1f s: %ld inputs from %d seeds (%d fixture files; %ld JPEG-based, "
	       "%ld PNG-based), %ld decodes, %ld succeeded, %ld of %ld probes succeeded, slowest "
	       "decode %.1f ms; no crash, hang or bad image\n", (unsigned long long)seed, elapsed,
	       t.inputs, n_seeds, fixtures, jpeg, png, t.decodes, t.decoded, t.probed, t.probes,
	       t.slowest * 1e3);
	image_free(&img);
	image_free(&tmp);
	free(work.data);
	for (int i = 0; i < n_seeds; i++)
		free(seeds[i].data);
	return 0;
}
