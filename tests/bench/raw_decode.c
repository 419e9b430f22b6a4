/* raw_decode.c: the "raw libjpeg-turbo decode" baseline of bench_imagerec.sh.
 *
 * Decodes every JPEG of a .rec file (or the JPEG files named on the command line) with the
 * plain libjpeg API, full size, to RGB, JDCT_ISLOW (libjpeg's default and what OpenCV and
 * MXNet use), into one reused buffer per thread, on T threads with a static split (thread t
 * takes images [t*N/T, (t+1)*N/T) of each pass). Nothing else: no resize, crop, float
 * conversion or batching. That is the ceiling a decode-and-augment pipeline can reach.
 *
 * All payloads are read into memory first (not timed); the timed part is thread start to
 * thread join over P passes. Prints one line:
 *   raw-decode threads=T images=N passes=P seconds=S images_per_sec=X mpix_per_sec=M cpu_seconds=C
 * where cpu_seconds is the process's user + system time over the timed part (all threads):
 * on a busy machine images / cpu_seconds still says what the work costs.
 *
 *   cc -O2 -I src -o raw_decode tests/bench/raw_decode.c build/libmxcore.a -ljpeg -lpthread -lm
 *   ./raw_decode [-t THREADS] [-p PASSES] data.rec
 *   ./raw_decode [-t THREADS] [-p PASSES] a.jpg b.jpg ...
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>

#include "error.h"
#include "data/recordio.h"

struct blob {
	unsigned char *data;
	size_t len;
};

struct job {
	const struct blob *blobs;
	long begin, end;
	int passes;
	long decoded, failed;
	double pixels;
};

struct jpeg_error {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
};

static void on_jpeg_error(j_common_ptr cinfo)
{
	longjmp(((struct jpeg_error *)cinfo->err)->jump, 1);
}

static void on_jpeg_message(j_common_ptr cinfo, int level)
{
	(void)cinfo;
	(void)level;   /* corrupt-data warnings are not counted: the data is our own */
}

/* Decodes one JPEG into *pixels (grown as needed). Returns the pixel count, or -1. */
static long decode_one(struct jpeg_decompress_struct *cinfo, struct jpeg_error *err,
		const struct blob *b, unsigned char **pixels, size_t *capacity)
{
	if (setjmp(err->jump)) {
		jpeg_abort_decompress(cinfo);
		return -1;
	}
	jpeg_mem_src(cinfo, b->data, (unsigned long)b->len);
	jpeg_read_header(cinfo, TRUE);
	cinfo->out_color_space = JCS_RGB;
	cinfo->dct_method = JDCT_ISLOW;
	jpeg_start_decompress(cinfo);
	size_t stride = (size_t)cinfo->output_width * (size_t)cinfo->output_components;
	size_t need = stride * cinfo->output_height;
	if (need > *capacity) {
		unsigned char *grown = realloc(*pixels, need);
		if (!grown) {
			jpeg_abort_decompress(cinfo);
			return -1;
		}
		*pixels = grown;
		*capacity = need;
	}
	while (cinfo->output_scanline < cinfo->output_height) {
		JSAMPROW row = *pixels + stride * cinfo->output_scanline;
		jpeg_read_scanlines(cinfo, &row, 1);
	}
	long count = (long)cinfo->output_width * (long)cinfo->output_height;
	jpeg_finish_decompress(cinfo);
	return count;
}

static void *decode_range(void *arg)
{
	struct job *job = arg;
	struct jpeg_decompress_struct cinfo;
	struct jpeg_error err;
	unsigned char *pixels = NULL;
	size_t capacity = 0;

	cinfo.err = jpeg_std_error(&err.pub);
	err.pub.error_exit = on_jpeg_error;
	err.pub.emit_message = on_jpeg_message;
	jpeg_create_decompress(&cinfo);
	for (int pass = 0; pass < job->passes; pass++)
		for (long i = job->begin; i < job->end; i++) {
			long count = decode_one(&cinfo, &err, &job->blobs[i], &pixels, &capacity);
			if (count < 0) {
				job->failed++;
			} else {
				job->decoded++;
				job->pixels += (double)count;
			}
		}
	jpeg_destroy_decompress(&cinfo);
	free(pixels);
	return NULL;
}

/* Appends a copy of len bytes to *blobs; returns 0, or -1 when out of memory. */
static int push_blob(struct blob **blobs, long *n, long *cap, const void *data, size_t len)
{
	if (*n == *cap) {
		long grown_cap = *cap ? *cap * 2 : 1024;
		struct blob *grown = realloc(*blobs, (size_t)grown_cap * sizeof **blobs);
		if (!grown)
			return -1;
		*blobs = grown;
		*cap = grown_cap;
	}
	unsigned char *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	memcpy(copy, data, len);
	(*blobs)[*n].data = copy;
	(*blobs)[(*n)++].len = len;
	return 0;
}

/* Reads the image content of every record of a .rec (after the image record header). */
static int load_rec(const char *path, struct blob **blobs, long *n, long *cap)
{
	struct recordio_reader *r;
	const unsigned char *rec;
	size_t len;
	int rc;

	if (recordio_reader_open_part(path, 0, 1, 1, &r)) {
		fprintf(stderr, "raw_decode: %s\n", mx_error_message());
		return -1;
	}
	while ((rc = recordio_read(r, &rec, &len, NULL)) == MX_OK) {
		struct image_record_header h;
		const unsigned char *labels, *content;
		size_t content_len;
		if (image_record_unpack(rec, len, &h, &labels, &content, &content_len) ||
				push_blob(blobs, n, cap, content, content_len)) {
			fprintf(stderr, "raw_decode: %s: record %ld: %s\n", path, *n,
					mx_error_message());
			recordio_reader_close(r);
			return -1;
		}
	}
	if (rc != MX_END)
		fprintf(stderr, "raw_decode: %s\n", mx_error_message());
	recordio_reader_close(r);
	return rc == MX_END ? 0 : -1;
}

static int load_file(const char *path, struct blob **blobs, long *n, long *cap)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "raw_decode: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
	int ok = buf && size >= 0 && fread(buf, 1, (size_t)size, f) == (size_t)size;
	fclose(f);
	if (!ok || push_blob(blobs, n, cap, buf, (size_t)size)) {
		fprintf(stderr, "raw_decode: %s: cannot read\n", path);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

/* User + system CPU time of the whole process so far, in seconds. */
static double cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int main(int argc, char **argv)
{
	int threads = 1, passes = 1, opt;
	while ((opt = getopt(argc, argv, "t:p:h")) != -1) {
		switch (opt) {
		case 't': threads = atoi(optarg); break;
		case 'p': passes = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: raw_decode [-t THREADS] [-p PASSES] FILE.rec | FILE.jpg...\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (threads < 1 || threads > 256 || passes < 1 || optind >= argc) {
		fprintf(stderr, "usage: raw_decode [-t THREADS] [-p PASSES] FILE.rec | FILE.jpg...\n");
		return 2;
	}

	struct blob *blobs = NULL;
	long n = 0, cap = 0;
	for (int a = optind; a < argc; a++) {
		int rc = ends_with(argv[a], ".rec") ? load_rec(argv[a], &blobs, &n, &cap)
				: load_file(argv[a], &blobs, &n, &cap);
		if (rc)
			return 1;
	}
	if (n == 0) {
		fprintf(stderr, "raw_decode: no images\n");
		return 1;
	}

	struct job *jobs = calloc((size_t)threads, sizeof *jobs);
	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	if (!jobs || !tids)
		return 1;
	for (int t = 0; t < threads; t++) {
		jobs[t].blobs = blobs;
		jobs[t].begin = n * t / threads;
		jobs[t].end = n * (t + 1) / threads;
		jobs[t].passes = passes;
	}
	struct timespec t0, t1;
	double cpu0 = cpu_seconds();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int t = 0; t < threads; t++)
		if (pthread_create(&tids[t], NULL, decode_range, &jobs[t])) {
			fprintf(stderr, "raw_decode: cannot start thread %d\n", t);
			return 1;
		}
	long decoded = 0, failed = 0;
	double pixels = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tids[t], NULL);
		decoded += jobs[t].decoded;
		failed += jobs[t].failed;
		pixels += jobs[t].pixels;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double cpu = cpu_seconds() - cpu0;
	double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;

	if (failed)
		fprintf(stderr, "raw_decode: %ld of %ld decodes failed\n", failed, decoded + failed);
	printf("raw-decode threads=%d images=%ld passes=%d seconds=%.3f images_per_sec=%.1f "
			"mpix_per_sec=%.1f cpu_seconds=%.3f\n", threads, decoded, passes, seconds,
			decoded / seconds, pixels / seconds * 1e-6, cpu);
	for (long i = 0; i < n; i++)
		free(blobs[i].data);
	free(blobs);
	free(jobs);
	free(tids);
	return failed ? 1 : 0;
}
