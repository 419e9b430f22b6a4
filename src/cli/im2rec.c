/* im2rec.c: im2rec(1), a drop-in for MXNet 1.9.1's tools/im2rec.py: `im2rec --list prefix root`
 * walks an image folder into .lst files, `im2rec prefix root` packs each prefix*.lst into .rec/.idx. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image.h"
#include "data/recordio.h"
#include "fileio.h"
#include "mxtrain.h"
#include "param.h"

/* ---- options --------------------------------------------------------------------------- */

enum opt_id {
	OPT_LIST, OPT_EXTS, OPT_CHUNKS, OPT_TRAIN_RATIO, OPT_TEST_RATIO, OPT_RECURSIVE, OPT_NO_SHUFFLE,
	OPT_PASS_THROUGH, OPT_RESIZE, OPT_CENTER_CROP, OPT_QUALITY, OPT_NUM_THREAD, OPT_COLOR,
	OPT_ENCODING, OPT_PACK_LABEL, OPT_QUIET, OPT_HELP, OPT_VERSION, N_OPTS
};
enum opt_arg { ARG_NONE, ARG_ONE, ARG_MANY };
/* Which mode reads an option; the other mode warns that it ignores it. */
enum opt_mode { FOR_BOTH = 0, FOR_LIST = 1, FOR_PACK = 2, FOR_DECODE = 3 /* packing, not with --pass-through */ };

static const struct option_spec {
	const char *name;
	enum opt_arg arg;
	enum opt_mode mode;
} option_specs[N_OPTS] = {
	[OPT_LIST] = {"--list", ARG_NONE, FOR_BOTH},
	[OPT_EXTS] = {"--exts", ARG_MANY, FOR_LIST},
	[OPT_CHUNKS] = {"--chunks", ARG_ONE, FOR_LIST},
	[OPT_TRAIN_RATIO] = {"--train-ratio", ARG_ONE, FOR_LIST},
	[OPT_TEST_RATIO] = {"--test-ratio", ARG_ONE, FOR_LIST},
	[OPT_RECURSIVE] = {"--recursive", ARG_NONE, FOR_LIST},
	[OPT_NO_SHUFFLE] = {"--no-shuffle", ARG_NONE, FOR_LIST},
	[OPT_PASS_THROUGH] = {"--pass-through", ARG_NONE, FOR_PACK},
	[OPT_RESIZE] = {"--resize", ARG_ONE, FOR_DECODE},
	[OPT_CENTER_CROP] = {"--center-crop", ARG_NONE, FOR_DECODE},
	[OPT_QUALITY] = {"--quality", ARG_ONE, FOR_DECODE},
	[OPT_NUM_THREAD] = {"--num-thread", ARG_ONE, FOR_PACK},
	[OPT_COLOR] = {"--color", ARG_ONE, FOR_DECODE},
	[OPT_ENCODING] = {"--encoding", ARG_ONE, FOR_DECODE},
	[OPT_PACK_LABEL] = {"--pack-label", ARG_NONE, FOR_PACK},
	[OPT_QUIET] = {"--quiet", ARG_NONE, FOR_BOTH},
	[OPT_HELP] = {"--help", ARG_NONE, FOR_BOTH},
	[OPT_VERSION] = {"--version", ARG_NONE, FOR_BOTH},
};

struct im2rec_options {
	const char *prefix, *root;  /* as typed */
	int list;
	const char *const *exts;    /* points into argv or at default_exts */
	int n_exts;
	int chunks;
	double train_ratio, test_ratio;
	int recursive, shuffle;
	int pass_through, resize, center_crop, quality, num_thread, color, pack_label;
	enum image_format encoding;
	int quiet;
	int given[N_OPTS];          /* set on the command line (for the "ignored" warnings) */
};

static const char *const default_exts[] = {".jpeg", ".jpg", ".png"};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: im2rec [options] prefix root\n"
		"Makes an image list (--list) or packs the list prefix*.lst into prefix*.rec + .idx\n"
		"(MXNet RecordIO), like MXNet's tools/im2rec.py. See im2rec(1).\n"
		"\n"
		"listing (--list):\n"
		"  --list               walk root and write prefix.lst instead of packing\n"
		"  --exts EXT...        file extensions to take (default: .jpeg .jpg .png)\n"
		"  --chunks N           split the list into N chunks (default 1)\n"
		"  --train-ratio R      share of each chunk for prefix_train.lst (default 1.0)\n"
		"  --test-ratio R       share of each chunk for prefix_test.lst (default 0)\n"
		"  --recursive          one label per folder under root, in sorted walk order\n"
		"  --no-shuffle         keep the walk order (default: shuffled as im2rec.py shuffles)\n"
		"packing:\n"
		"  --pass-through       store the image files' bytes unchanged\n"
		"  --resize N           resize the shorter side to N pixels (default 0: keep)\n"
		"  --center-crop        crop the centre square first\n"
		"  --quality Q          JPEG quality 1-100, or PNG compression level 0-9 (default 95)\n"
		"  --num-thread N       decode and encode on N threads (default 1; 0: one per core)\n"
		"  --color C            1: color (default), 0: gray, -1: as stored\n"
		"  --encoding E         .jpg (default) or .png\n"
		"  --pack-label         store every label of a multi-label list line\n"
		"other:\n"
		"  -q, --quiet          no info or progress lines (warnings, errors and summary only)\n"
		"  -h, --help           show this help\n"
		"  --version            print the version\n");
}

/* Parses an int as Python's int() does (surrounding blanks allowed). Returns 0 or -1. */
static int parse_long(const char *text, long *out)
{
	char *end;
	errno = 0;
	*out = strtol(text, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	return (end == text || *end || errno) ? -1 : 0;
}

/* Parses a float as Python's float() does (no hexadecimal). Returns 0 or -1. */
static int parse_double(const char *text, double *out)
{
	char *end;
	if (strchr(text, 'x') || strchr(text, 'X'))
		return -1;
	*out = strtod(text, &end);
	while (*end == ' ' || *end == '\t')
		end++;
	return (end == text || *end) ? -1 : 0;
}

/* Sets option id from its value text. Returns 0, or prints the problem and returns 2. */
static int set_option(struct im2rec_options *o, enum opt_id id, const char *value)
{
	const char *name = option_specs[id].name;
	long x = 0;
	double r;
	switch (id) {
	case OPT_CHUNKS: case OPT_RESIZE: case OPT_QUALITY: case OPT_NUM_THREAD: case OPT_COLOR:
		if (parse_long(value, &x) || x < -1000000000L || x > 1000000000L) {
			fprintf(stderr, "im2rec: %s: \"%s\" is not an integer\n", name, value);
			return 2;
		}
		if ((id == OPT_CHUNKS && x < 1) || ((id == OPT_RESIZE || id == OPT_NUM_THREAD) && x < 0) ||
		    (id == OPT_COLOR && (x < -1 || x > 1))) {
			fprintf(stderr, "im2rec: %s: %ld is out of range (%s)\n", name, x,
				id == OPT_CHUNKS ? "at least 1" : id == OPT_COLOR ? "choose from -1, 0, 1" : "at least 0");
			return 2;
		}
		*(id == OPT_CHUNKS ? &o->chunks : id == OPT_RESIZE ? &o->resize : id == OPT_QUALITY ? &o->quality
		  : id == OPT_NUM_THREAD ? &o->num_thread : &o->color) = (int)x;
		return 0;
	case OPT_TRAIN_RATIO: case OPT_TEST_RATIO:
		if (parse_double(value, &r) || !(r >= 0 && r <= 1)) {
			fprintf(stderr, "im2rec: %s: \"%s\" is not a ratio from 0 to 1\n", name, value);
			return 2;
		}
		*(id == OPT_TRAIN_RATIO ? &o->train_ratio : &o->test_ratio) = r;
		return 0;
	case OPT_ENCODING:
		if (!strcmp(value, ".jpg")) {
			o->encoding = IMAGE_JPEG;
		} else if (!strcmp(value, ".png")) {
			o->encoding = IMAGE_PNG;
		} else {
			const char *const choices[] = {".jpg", ".png", NULL};
			const char *near = nearest_name(choices, value);
			fprintf(stderr, "im2rec: --encoding: invalid choice \"%s\" (choose from .jpg, .png%s%s%s)\n",
				value, near ? "; did you mean \"" : "", near ? near : "", near ? "\"?" : "");
			return 2;
		}
		return 0;
	default:
		return 0;
	}
}

/* The option that arg names: exact, or an unambiguous prefix of one (as argparse allows).
 * Returns the id, or prints why not and returns -1. */
static int find_option(const char *arg, size_t len)
{
	int found = -1, n_found = 0;
	char names[256] = "";
	if (len == 2 && !strncmp(arg, "-h", 2))
		return OPT_HELP;
	if (len == 2 && !strncmp(arg, "-q", 2))
		return OPT_QUIET;
	for (int i = 0; i < N_OPTS; i++)
		if (strlen(option_specs[i].name) == len && !strncmp(option_specs[i].name, arg, len))
			return i;
	for (int i = 0; i < N_OPTS && len > 2; i++)
		if (!strncmp(option_specs[i].name, arg, len)) {
			found = i;
			n_found++;
			snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", n_found > 1 ? ", " : "",
				 option_specs[i].name);
		}
	if (n_found == 1)
		return found;
	if (n_found > 1) {
		fprintf(stderr, "im2rec: ambiguous option %.*s could match %s\n", (int)len, arg, names);
	} else {
		const char *all[N_OPTS + 1];
		char key[64];
		const char *near;
		for (int i = 0; i < N_OPTS; i++)
			all[i] = option_specs[i].name;
		all[N_OPTS] = NULL;
		snprintf(key, sizeof key, "%.*s", (int)(len < 60 ? len : 60), arg);
		near = nearest_name(all, key);
		fprintf(stderr, "im2rec: unknown option %.*s%s%s%s (try --help)\n", (int)len, arg,
			near ? "; did you mean " : "", near ? near : "", near ? "?" : "");
	}
	return -1;
}

/* Is arg an option word rather than a value? ("-" and negative numbers are values.) */
static int is_option_word(const char *arg)
{
	return arg[0] == '-' && arg[1] && !(arg[1] >= '0' && arg[1] <= '9') && arg[1] != '.';
}

/* Parses argv into o. Returns -1 to go on, or the exit status (0 after --help/--version,
 * 2 after printing one line about a bad argument). */
static int parse_args(int argc, char **argv, struct im2rec_options *o)
{
	int only_positional = 0;
	int exts_at = -1; /* the number of positionals before the last --exts group */
	char **extra = calloc(argc, sizeof *extra);
	int n_extra = 0, status = -1;

	*o = (struct im2rec_options){
		.exts = default_exts, .n_exts = 3, .chunks = 1, .train_ratio = 1.0, .shuffle = 1,
		.quality = 95, .num_thread = 1, .color = 1, .encoding = IMAGE_JPEG,
	};
	if (!extra) {
		fprintf(stderr, "im2rec: out of memory\n");
		return 2;
	}
	for (int i = 1; i < argc && status < 0; i++) {
		const char *a = argv[i], *eq;
		int id;
		if (only_positional || !is_option_word(a)) {
			extra[n_extra++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_positional = 1;
			continue;
		}
		eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
		if ((id = find_option(a, eq ? (size_t)(eq - a) : strlen(a))) < 0) {
			status = 2;
			break;
		}
		o->given[id] = 1;
		switch (option_specs[id].arg) {
		case ARG_NONE:
			if (eq) {
				fprintf(stderr, "im2rec: %s takes no value (got \"%s\")\n", option_specs[id].name, a);
				status = 2;
			}
			break;
		case ARG_ONE:
			if (!eq && (i + 1 >= argc || is_option_word(argv[i + 1]))) {
				fprintf(stderr, "im2rec: %s needs a value (try --help)\n", option_specs[id].name);
				status = 2;
			} else {
				status = set_option(o, id, eq ? eq + 1 : argv[++i]) ? 2 : -1;
			}
			break;
		case ARG_MANY:
			/* argparse's nargs='+': every following word up to the next option. */
			o->exts = (const char *const *)&argv[i + 1];
			o->n_exts = 0;
			if (eq) {
				argv[i] = (char *)eq + 1;
				o->exts = (const char *const *)&argv[i];
				o->n_exts = 1;
			} else {
				while (i + 1 < argc && !is_option_word(argv[i + 1])) {
					i++;
					o->n_exts++;
				}
			}
			if (!o->n_exts) {
				fprintf(stderr, "im2rec: --exts needs at least one extension (try --help)\n");
				status = 2;
			}
			exts_at = eq ? -1 : n_extra;
			break;
		}
		switch (id) {
		case OPT_HELP: usage(stdout); status = 0; break;
		case OPT_VERSION: printf("im2rec %s\n", mxtrain_version); status = 0; break;
		case OPT_LIST: o->list = 1; break;
		case OPT_RECURSIVE: o->recursive = 1; break;
		case OPT_NO_SHUFFLE: o->shuffle = 0; break;
		case OPT_PASS_THROUGH: o->pass_through = 1; break;
		case OPT_CENTER_CROP: o->center_crop = 1; break;
		case OPT_PACK_LABEL: o->pack_label = 1; break;
		case OPT_QUIET: o->quiet = 1; break;
		default: break;
		}
	}
	if (status >= 0)
		goto done;
	/* `--exts .jpg .png prefix root` would leave argparse without positionals: give the
	 * words the greedy --exts took from the end back to prefix and root. */
	if (n_extra < 2 && exts_at >= 0 && o->n_exts > 2 - n_extra) {
		int k = 2 - n_extra;
		memmove(extra + exts_at + k, extra + exts_at, (n_extra - exts_at) * sizeof *extra);
		for (int j = 0; j < k; j++)
			extra[exts_at + j] = (char *)o->exts[o->n_exts - k + j];
		o->n_exts -= k;
		n_extra += k;
	}
	if (n_extra != 2) {
		if (n_extra < 2)
			fprintf(stderr, "im2rec: missing %s (usage: im2rec [options] prefix root; try --help)\n",
				n_extra ? "root" : "prefix and root");
		else
			fprintf(stderr, "im2rec: unexpected argument \"%s\" (usage: im2rec [options] prefix root)\n",
				extra[2]);
		status = 2;
		goto done;
	}
	o->prefix = extra[0];
	o->root = extra[1];
done:
	free(extra);
	return status;
}

/* Warns about options given for the mode this run is not in (im2rec.py ignores them silently). */
static void warn_ignored_options(const struct im2rec_options *o)
{
	char list[256];
	for (int pass = 0; pass < 2; pass++) {
		list[0] = 0;
		for (int i = 0; i < N_OPTS; i++) {
			enum opt_mode m = option_specs[i].mode;
			int ignored = pass == 0 ? (o->list ? (m == FOR_PACK || m == FOR_DECODE) : m == FOR_LIST)
				      : (!o->list && o->pass_through && m == FOR_DECODE);
			if (o->given[i] && ignored)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
					 option_specs[i].name);
		}
		if (list[0] && pass == 0)
			mx_warn("%s: %s", list, o->list ? "for packing; ignored with --list"
				: "for making lists; ignored without --list");
		else if (list[0])
			mx_warn("%s: ignored with --pass-through (the files are packed unchanged)", list);
	}
	if (o->list)
		for (int i = 0; i < o->n_exts; i++) {
			const char *e = o->exts[i];
			int upper = 0;
			for (const char *p = e; *p; p++)
				upper |= *p >= 'A' && *p <= 'Z';
			if (e[0] != '.' || upper)
				mx_warn("--exts %s never matches: file extensions are compared in lower case with their dot "
					"(as in .jpg)", e);
		}
	if (!o->list && !o->pass_through && o->color == -1)
		mx_warn("--color -1 keeps each image's own channel count (1 or 3): alpha channels and 16-bit "
			"samples are not kept");
}

/* ---- paths ------------------------------------------------------------------------------ */

/* dir + "/" + name as os.path.join does it (an absolute name stands alone). Malloc'ed. */
static char *path_join(const char *dir, const char *name)
{
	size_t ld = strlen(dir), ln = strlen(name);
	char *s;
	if (name[0] == '/' || !ld)
		return strdup(name);
	if (!(s = malloc(ld + ln + 2)))
		return NULL;
	memcpy(s, dir, ld);
	if (dir[ld - 1] != '/')
		s[ld++] = '/';
	memcpy(s + ld, name, ln + 1);
	return s;
}

/* os.path.abspath: the working directory joined to a relative path, then ".", ".." and
 * repeated slashes removed lexically (symbolic links are not resolved). Malloc'ed; NULL
 * when out of memory or the working directory cannot be read. */
static char *absolute_path(const char *path)
{
	char cwd[4096], *joined, *out;
	size_t n = 0;
	if (path[0] != '/') {
		if (!getcwd(cwd, sizeof cwd))
			return NULL;
		joined = path_join(cwd, path);
	} else {
		joined = strdup(path);
	}
	if (!joined || !(out = malloc(strlen(joined) + 2))) {
		free(joined);
		return NULL;
	}
	for (char *part = strtok(joined, "/"); part; part = strtok(NULL, "/")) {
		if (!strcmp(part, "."))
			continue;
		if (!strcmp(part, "..")) {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		out[n++] = '/';
		memcpy(out + n, part, strlen(part));
		n += strlen(part);
	}
	if (!n)
		out[n++] = '/';
	out[n] = 0;
	free(joined);
	return out;
}

/* The extension as os.path.splitext finds it: from the last dot of the base name, unless
 * only dots come before that dot. Points into name (at its end when there is none). */
static const char *path_extension(const char *name)
{
	const char *base = strrchr(name, '/'), *dot;
	base = base ? base + 1 : name;
	if ((dot = strrchr(base, '.')))
		for (const char *p = base; p < dot; p++)
			if (*p != '.')
				return dot;
	return name + strlen(name);
}

static int is_directory(const char *path)
{
	struct stat st;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* ---- list mode -------------------------------------------------------------------------- */

/* Python's random module: MT19937 seeded as random.seed(100) seeds it, and
 * random.shuffle's draws, so our shuffled lists equal im2rec.py's line for line. */
struct py_random {
	uint32_t mt[624];
	int index;
};

static void py_random_seed(struct py_random *r, uint32_t seed)
{
	uint32_t *mt = r->mt;
	int i = 1, j = 0;
	mt[0] = 19650218u; /* init_genrand(19650218), then init_by_array({seed}) */
	for (int k = 1; k < 624; k++)
		mt[k] = 1812433253u * (mt[k - 1] ^ (mt[k - 1] >> 30)) + (uint32_t)k;
	for (int k = 624; k; k--) {
		mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + seed + (uint32_t)j;
		if (++i >= 624) {
			mt[0] = mt[623];
			i = 1;
		}
		j = 0; /* the key has one word */
	}
	for (int k = 623; k; k--) {
		mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
		if (++i >= 624) {
			mt[0] = mt[623];
			i = 1;
		}
	}
	mt[0] = 0x80000000u;
	r->index = 624;
}

static uint32_t py_random_u32(struct py_random *r)
{
	uint32_t y, *mt = r->mt;
	if (r->index >= 624) {
		for (int k = 0; k < 624; k++) {
			y = (mt[k] & 0x80000000u) | (mt[(k + 1) % 624] & 0x7fffffffu);
			mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) ? 0x9908b0dfu : 0);
		}
		r->index = 0;
	}
	y = mt[r->index++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	return y ^ (y >> 18);
}

/* random._randbelow(n) for 2 <= n < 2^32: getrandbits(n.bit_length()) until below n. */
static uint32_t py_random_below(struct py_random *r, uint32_t n)
{
	int k = 32 - __builtin_clz(n);
	uint32_t x;
	do
		x = py_random_u32(r) >> (32 - k);
	while (x >= n);
	return x;
}

struct list_entry {
	long index;   /* position in the walk, before shuffling: the .lst's first column */
	int label;
	char *path;   /* relative to root */
};

struct walker {
	const struct im2rec_options *o;
	const char *root;
	struct list_entry *entries;
	size_t n, cap;
	char **classes;          /* folder of each label, relative to root ("." for root) */
	int n_classes;
	struct stat *ancestors;  /* the folders being walked, to stop at symbolic link loops */
	int depth, max_depth;
};

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Reads the entries of d but "." and "..", sorted by strcmp, into *names (*n of them; the
 * caller frees them with free_names, also after an error). The caller closes d. Returns
 * MX_OK or MX_ERR_NOMEM. */
static int read_folder_names(DIR *d, char ***names, size_t *n)
{
	size_t cap = 0;
	struct dirent *e;

	*names = NULL;
	*n = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (*n == cap) {
			char **grown = realloc(*names, (cap = cap ? 2 * cap : 64) * sizeof *grown);
			if (!grown)
				return mx_error(MX_ERR_NOMEM, "out of memory");
			*names = grown;
		}
		if (!((*names)[*n] = strdup(e->d_name)))
			return mx_error(MX_ERR_NOMEM, "out of memory");
		++*n;
	}
	if (*n > 1)
		qsort(*names, *n, sizeof **names, compare_names);
	return MX_OK;
}

static int wants_extension(const struct im2rec_options *o, const char *name)
{
	char ext[64];
	const char *e = path_extension(name);
	size_t n = strlen(e);
	if (!n || n >= sizeof ext)
		return 0;
	for (size_t i = 0; i <= n; i++)
		ext[i] = (e[i] >= 'A' && e[i] <= 'Z') ? e[i] - 'A' + 'a' : e[i];
	for (int i = 0; i < o->n_exts; i++)
		if (!strcmp(o->exts[i], ext))
			return 1;
	return 0;
}

/* Walks the folder rel (relative to root; "" is root) as os.walk(followlinks=True) does
 * with sorted names: its files first, then each subfolder. The first matching file of a
 * folder gives the folder the next label. Unreadable subfolders are skipped with a
 * warning; an unreadable root is an error. Returns MX_OK or an error. */
static int walk_folder(struct walker *w, const char *rel)
{
	char *dir = rel[0] ? path_join(w->root, rel) : strdup(w->root);
	char **names = NULL, **subdirs = NULL;
	size_t n = 0, n_sub = 0;
	int label = -1, rc = MX_OK;
	DIR *d;

	if (!dir)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	if (!(d = opendir(dir))) {
		if (!rel[0])
			rc = mx_error(MX_ERR_IO, "cannot read the image folder %s: %s", w->root, strerror(errno));
		else
			mx_warn("%s: %s; folder skipped", dir, strerror(errno));
		free(dir);
		return rc;
	}
	rc = read_folder_names(d, &names, &n);
	closedir(d);
	if (rc)
		goto done;
	if (!(subdirs = calloc(n + 1, sizeof *subdirs))) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		char *full = path_join(dir, names[i]), *path;
		struct stat st;
		if (!full) {
			rc = mx_error(MX_ERR_NOMEM, "out of memory");
			goto done;
		}
		if (stat(full, &st)) {
			free(full);  /* a broken link: not a file, not a folder */
			continue;
		}
		free(full);
		if (S_ISDIR(st.st_mode)) {
			subdirs[n_sub++] = names[i];
			continue;
		}
		if (!S_ISREG(st.st_mode) || !wants_extension(w->o, names[i]))
			continue;
		if (!(path = rel[0] ? path_join(rel, names[i]) : strdup(names[i]))) {
			rc = mx_error(MX_ERR_NOMEM, "out of memory");
			goto done;
		}
		if (strpbrk(path, "\t\n\r")) {
			mx_warn("%s/%s: a tab or line break in the name cannot be written to a .lst; file skipped",
				dir, names[i]);
			free(path);
			continue;
		}
		if (label < 0) {
			char **grown = realloc(w->classes, (w->n_classes + 1) * sizeof *grown);
			char *name = strdup(rel[0] ? rel : ".");
			if (!grown || !name) {
				free(name);
				if (grown)
					w->classes = grown;
				free(path);
				rc = mx_error(MX_ERR_NOMEM, "out of memory");
				goto done;
			}
			w->classes = grown;
			w->classes[w->n_classes] = name;
			label = w->n_classes++;
		}
		if (w->n == w->cap) {
			struct list_entry *grown = realloc(w->entries, (w->cap = w->cap ? 2 * w->cap : 1024) * sizeof *grown);
			if (!grown) {
				free(path);
				rc = mx_error(MX_ERR_NOMEM, "out of memory");
				goto done;
			}
			w->entries = grown;
		}
		w->entries[w->n] = (struct list_entry){.index = (long)w->n, .label = w->o->recursive ? label : 0, .path = path};
		w->n++;
	}
	if (!w->o->recursive)
		goto done;
	for (size_t i = 0; i < n_sub && !rc; i++) {
		char *sub = rel[0] ? path_join(rel, subdirs[i]) : strdup(subdirs[i]);
		char *full = path_join(dir, subdirs[i]);
		struct stat st;
		int loop = 0;
		if (!sub || !full) {
			free(sub);
			free(full);
			rc = mx_error(MX_ERR_NOMEM, "out of memory");
			break;
		}
		if (!stat(full, &st)) {
			for (int k = 0; k < w->depth; k++)
				loop |= w->ancestors[k].st_dev == st.st_dev && w->ancestors[k].st_ino == st.st_ino;
			if (loop) {
				mx_warn("%s: a symbolic link back to a folder above it; not followed", full);
			} else {
				if (w->depth == w->max_depth) {
					struct stat *grown = realloc(w->ancestors, (w->max_depth = 2 * w->max_depth + 16) * sizeof *grown);
					if (!grown) {
						free(sub);
						free(full);
						rc = mx_error(MX_ERR_NOMEM, "out of memory");
						break;
					}
					w->ancestors = grown;
				}
				w->ancestors[w->depth++] = st;
				rc = walk_folder(w, sub);
				w->depth--;
			}
		}
		free(sub);
		free(full);
	}
done:
	free_names(names, n);
	free(subdirs);
	free(dir);
	return rc;
}

/* Writes entries [from, to) as .lst lines to path (through path.tmp and a rename). */
static int write_list(const char *path, const struct list_entry *entries, long from, long to)
{
	struct file_writer w;
	int rc;
	if ((rc = file_writer_open(&w, path, "w")))
		return rc;
	for (long i = from; i < to; i++)
		fprintf(w.f, "%ld\t%f\t%s\n", entries[i].index, (double)entries[i].label, entries[i].path);
	if (!(rc = file_writer_commit(&w)))
		mx_info("wrote %s: %ld image%s", path, to - from, to - from == 1 ? "" : "s");
	return rc;
}

static long clamp_long(long x, long lo, long hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* --list: walks root, shuffles, and writes the chunks and train/val/test splits exactly as
 * im2rec.py's make_list names and cuts them. */
static int make_lists(const struct im2rec_options *o)
{
	struct walker w = {.o = o, .root = o->root};
	char *path = NULL;
	int rc;
	long n, chunk_size;

	if (!is_directory(o->root))
		return mx_error(MX_ERR_IO, "the image folder %s does not exist or is not a folder", o->root);
	if (!(w.ancestors = malloc(16 * sizeof *w.ancestors)))
		return mx_error(MX_ERR_NOMEM, "out of memory");
	w.max_depth = 16;
	stat(o->root, &w.ancestors[w.depth++]);
	if ((rc = walk_folder(&w, "")))
		goto done;
	n = (long)w.n;
	if ((unsigned long)n >= 0xFFFFFFFFul) {
		rc = mx_error(MX_ERR_INVALID, "%s: %ld images are more than one list can shuffle", o->root, n);
		goto done;
	}
	if (o->recursive)
		for (int i = 0; i < w.n_classes; i++)
			printf("%s %d\n", w.classes[i], i);
	fflush(stdout);
	if (!n) {
		char exts[256] = "";
		for (int i = 0; i < o->n_exts; i++)
			snprintf(exts + strlen(exts), sizeof exts - strlen(exts), "%s%s", i ? " " : "", o->exts[i]);
		mx_warn("no image files (%s) %s %s; the list is empty", exts, o->recursive ? "under" : "directly in",
			o->root);
	}
	if (o->shuffle && n > 1) {
		struct py_random r;
		py_random_seed(&r, 100);
		for (long i = n - 1; i > 0; i--) {
			long j = (long)py_random_below(&r, (uint32_t)(i + 1));
			struct list_entry t = w.entries[i];
			w.entries[i] = w.entries[j];
			w.entries[j] = t;
		}
	}
	chunk_size = (n + o->chunks - 1) / o->chunks;
	if (!(path = malloc(strlen(o->prefix) + 40))) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int c = 0; c < o->chunks && !rc; c++) {
		long begin = clamp_long((long)c * chunk_size, 0, n), end = clamp_long((long)(c + 1) * chunk_size, 0, n);
		long len = end - begin;
		long sep = (long)(chunk_size * o->train_ratio), sep_test = (long)(chunk_size * o->test_ratio);
		char chunk[24] = "";
		if (o->chunks > 1)
			snprintf(chunk, sizeof chunk, "_%d", c);
		if (o->train_ratio == 1.0) {
			sprintf(path, "%s%s.lst", o->prefix, chunk);
			rc = write_list(path, w.entries, begin, end);
			continue;
		}
		if (o->test_ratio != 0) {
			sprintf(path, "%s%s_test.lst", o->prefix, chunk);
			rc = write_list(path, w.entries, begin, begin + clamp_long(sep_test, 0, len));
		}
		if (!rc && o->train_ratio + o->test_ratio < 1.0) {
			sprintf(path, "%s%s_val.lst", o->prefix, chunk);
			rc = write_list(path, w.entries, begin + clamp_long(sep_test + sep, 0, len), end);
		}
		if (!rc) {
			long from = clamp_long(sep_test, 0, len), to = clamp_long(sep_test + sep, 0, len);
			sprintf(path, "%s%s_train.lst", o->prefix, chunk);
			rc = write_list(path, w.entries, begin + from, begin + (to > from ? to : from));
		}
	}
done:
	for (size_t i = 0; i < w.n; i++)
		free(w.entries[i].path);
	for (int i = 0; i < w.n_classes; i++)
		free(w.classes[i]);
	free(w.entries);
	free(w.classes);
	free(w.ancestors);
	free(path);
	return rc;
}

/* ---- pack mode: one image ---------------------------------------------------------------- */

/* One image of the list on its way to the .rec: filled by the list reader, packed by a
 * worker, written (or reported as skipped) by the writer. Owns path, labels, record, error. */
struct job {
	long line;          /* .lst line number */
	uint64_t id;        /* the .lst index: IRHeader.id and the .idx key */
	int n_labels;
	float *labels;
	char *path;         /* as the list gives it */
	unsigned char *record; /* the packed payload; NULL when skipped */
	size_t record_len;
	char *error;        /* why it was skipped */
	int done;
};

/* A packing thread's buffers, reused from image to image. */
struct worker {
	pthread_t thread;
	struct pack_run *run;
	unsigned char *file;
	size_t file_cap;
	struct image img, tmp;
};

static void job_clear(struct job *job)
{
	free(job->labels);
	free(job->path);
	free(job->record);
	free(job->error);
	*job = (struct job){0};
}

static void job_fail(struct job *job, const char *fmt, const char *detail)
{
	size_t n = strlen(fmt) + strlen(detail) + 1;
	if ((job->error = malloc(n)))
		snprintf(job->error, n, fmt, detail);
}

/* Reads the whole file at path into *buf (grown as needed). Returns MX_OK or MX_ERR_IO. */
static int read_file(const char *path, unsigned char **buf, size_t *cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t got;
	*len = 0;
	if (!f)
		return mx_error(MX_ERR_IO, "%s", strerror(errno));
	for (;;) {
		if (*len == *cap) {
			size_t grown_cap = *cap ? 2 * *cap : 1 << 16;
			unsigned char *grown = realloc(*buf, grown_cap);
			if (!grown) {
				fclose(f);
				return mx_error(MX_ERR_NOMEM, "out of memory");
			}
			*buf = grown;
			*cap = grown_cap;
		}
		got = fread(*buf + *len, 1, *cap - *len, f);
		*len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		return mx_error(MX_ERR_IO, "%s", strerror(e));
	}
	fclose(f);
	return MX_OK;
}

/* Reads, transforms (as im2rec.py's image_encode: centre crop, then shorter side to
 * --resize with bilinear interpolation) and packs one image into job->record, or sets
 * job->error. Thread-safe: uses only w's buffers. */
static void pack_image(const struct im2rec_options *o, const char *root, struct job *job, struct worker *w)
{
	struct image_record_header h = {.id = job->id};
	const float *labels = NULL;
	unsigned char *encoded = NULL;
	const unsigned char *content;
	size_t len, content_len;
	char *full = path_join(root, job->path);

	if (!full) {
		job_fail(job, "%s", "out of memory");
		return;
	}
	if (job->n_labels > 1 && o->pack_label) {
		h.flag = (uint32_t)job->n_labels;
		labels = job->labels;
	} else {
		h.label = job->labels[0];
	}
	if (read_file(full, &w->file, &w->file_cap, &len)) {
		job_fail(job, "cannot read: %s", mx_error_message());
		goto done;
	}
	content = w->file;
	content_len = len;
	if (!o->pass_through) {
		struct image *cur = &w->img, *other = &w->tmp, *t;
		int channels = o->color == 1 ? 3 : o->color == 0 ? 1 : 0;
		if (image_decode(w->file, len, channels, 0, cur)) {
			job_fail(job, "%s", mx_error_message());
			goto done;
		}
		if (o->center_crop && cur->width != cur->height) {
			int side = cur->width < cur->height ? cur->width : cur->height;
			if (image_crop(cur, (cur->width - side) / 2, (cur->height - side) / 2, side, side, other)) {
				job_fail(job, "%s", mx_error_message());
				goto done;
			}
			t = cur, cur = other, other = t;
		}
		if (o->resize) {
			long long rw, rh;
			if (cur->height > cur->width)
				rw = o->resize, rh = (long long)cur->height * o->resize / cur->width;
			else
				rw = (long long)cur->width * o->resize / cur->height, rh = o->resize;
			if (rw > 1000000 || rh > 1000000) {
				job_fail(job, "%s", "the resized image would be over 1000000 pixels on a side");
				goto done;
			}
			if (rw != cur->width || rh != cur->height) {
				if (image_resize(cur, (int)rw, (int)rh, IMAGE_INTERP_LINEAR, other)) {
					job_fail(job, "%s", mx_error_message());
					goto done;
				}
				t = cur, cur = other, other = t;
			}
		}
		/* OpenCV's imencode clamps as here: JPEG quality to 0..100 (libjpeg reads 0 as 1),
		 * PNG compression to 0..9 (so the default 95 means 9). */
		if (image_encode(cur, o->encoding,
				 o->encoding == IMAGE_PNG ? (o->quality < 0 ? 0 : o->quality > 9 ? 9 : o->quality)
				 : (o->quality < 1 ? 1 : o->quality > 100 ? 100 : o->quality),
				 &encoded, &content_len)) {
			job_fail(job, "cannot encode: %s", mx_error_message());
			goto done;
		}
		content = encoded;
	}
	job->record_len = image_record_packed_size(&h, content_len);
	if (!(job->record = malloc(job->record_len ? job->record_len : 1))) {
		job_fail(job, "%s", "out of memory");
		goto done;
	}
	image_record_pack(&h, labels, content, content_len, job->record);
done:
	free(encoded);
	free(full);
}

/* ---- pack mode: one list ---------------------------------------------------------------- */

/* The jobs in flight for one list: a ring of `window` slots. The reader fills slot
 * next_fill, workers claim slots in order, and the writer takes slot next_write once it is
 * done, so the .rec keeps the list's order while at most `window` images are in memory. */
struct pack_run {
	const struct im2rec_options *o;
	const char *root;
	pthread_mutex_t lock;
	pthread_cond_t work_ready, work_done;
	struct job *slots;
	long window, next_fill, next_claim, next_write;
	int stopping;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pack_run *p = w->run;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct job *job;
		while (!p->stopping && p->next_claim == p->next_fill)
			pthread_cond_wait(&p->work_ready, &p->lock);
		if (p->stopping)
			break;
		job = &p->slots[p->next_claim++ % p->window];
		pthread_mutex_unlock(&p->lock);
		pack_image(p->o, p->root, job, w);
		pthread_mutex_lock(&p->lock);
		job->done = 1;
		pthread_cond_broadcast(&p->work_done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* A list file being read line by line. */
struct list_reader {
	FILE *f;
	const char *name;   /* for messages */
	char *line;
	size_t cap;
	long line_no, bad_lines;
};

static char *strip(char *s)
{
	char *end;
	while (*s && strchr(" \t\r\n\v\f", *s))
		s++;
	end = s + strlen(s);
	while (end > s && strchr(" \t\r\n\v\f", end[-1]))
		*--end = 0;
	return s;
}

/* Reads the next usable line into job (as im2rec.py's read_list: tab-separated index,
 * one or more labels, path; blanks around fields ignored). Lines it cannot use are
 * reported and counted, and empty lines are passed over. Returns 1 with a job, 0 at the
 * end of the file, or -1 with an error (read failure, out of memory). */
static int next_list_item(struct list_reader *r, struct job *job)
{
	ssize_t got;
	while ((got = getline(&r->line, &r->cap, r->f)) >= 0) {
		char *fields[4096], *s = strip(r->line), *tab;
		int n = 0, bad = 0;
		long long id;
		char *end;
		r->line_no++;
		if (!*s)
			continue;
		while (n < 4096) {
			fields[n++] = s;
			if (!(tab = strchr(s, '\t')))
				break;
			*tab = 0;
			s = tab + 1;
		}
		for (int i = 0; i < n; i++)
			fields[i] = strip(fields[i]);
		if (n < 3 || tab) {
			mx_warn("%s:%ld: want index, label(s) and path separated by tabs, found %s; line skipped",
				r->name, r->line_no, tab ? "too many fields" : n == 1 ? "1 field" : "2 fields");
			r->bad_lines++;
			continue;
		}
		errno = 0;
		id = strtoll(fields[0], &end, 10);
		if (end == fields[0] || *end || errno || id < 0) {
			mx_warn("%s:%ld: the index \"%s\" is not a whole number from 0 up; line skipped", r->name,
				r->line_no, fields[0]);
			r->bad_lines++;
			continue;
		}
		if (!(job->labels = malloc((n - 2) * sizeof *job->labels)))
			return mx_error(MX_ERR_NOMEM, "out of memory"), -1;
		for (int i = 1; i < n - 1 && !bad; i++) {
			double x;
			if (parse_double(fields[i], &x)) {
				mx_warn("%s:%ld: the label \"%s\" is not a number; line skipped", r->name, r->line_no,
					fields[i]);
				bad = 1;
			} else if (isfinite(x) && isinf((float)x)) {
				/* Python's struct.pack('f') refuses it; numpy would make it inf. */
				mx_warn("%s:%ld: the label %s is too large for a 32-bit float; line skipped", r->name,
					r->line_no, fields[i]);
				bad = 1;
			}
			job->labels[i - 1] = (float)x;
		}
		if (bad) {
			job_clear(job);
			r->bad_lines++;
			continue;
		}
		job->n_labels = n - 2;
		job->id = (uint64_t)id;
		job->line = r->line_no;
		if (!(job->path = strdup(fields[n - 1]))) {
			job_clear(job);
			return mx_error(MX_ERR_NOMEM, "out of memory"), -1;
		}
		return 1;
	}
	if (ferror(r->f))
		return mx_error(MX_ERR_IO, "cannot read %s: %s", r->name, strerror(errno)), -1;
	return 0;
}

/* Skipped images named one by one before the rest are only counted. */
#define MAX_SKIP_WARNINGS 100

/* Packs list_path into rec_path and idx_path (each written under a temporary name and
 * renamed when complete). Unreadable or corrupt images are skipped with a warning. An
 * error (unreadable list, a write failure, or a list none of whose images could be
 * packed) leaves no output under the final names. */
static int pack_list(const struct im2rec_options *o, const char *list_path, const char *rec_path,
		     const char *idx_path)
{
	struct pack_run p = {.o = o, .root = o->root};
	struct list_reader r = {.name = list_path};
	struct recordio_writer *writer = NULL;
	struct recordio_index idx = {0};
	struct worker *workers = NULL;
	int threads = o->num_thread, n_started = 0, rc = MX_OK, eof = 0;
	long packed = 0, skipped = 0, cap = 0;
	double start = mx_now_seconds(), last_report = start, elapsed;

	if (threads == 0)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	if (!(r.f = fopen(list_path, "r")))
		return mx_error(MX_ERR_IO, "cannot read %s: %s", list_path, strerror(errno));
	mx_info("packing %s into %s (%d thread%s)", list_path, rec_path, threads, threads > 1 ? "s" : "");
	p.window = threads > 1 ? 8L * threads : 1;
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.work_ready, NULL);
	pthread_cond_init(&p.work_done, NULL);
	if (!(p.slots = calloc(p.window, sizeof *p.slots)) || !(workers = calloc(threads, sizeof *workers))) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}
	if ((rc = recordio_writer_open(rec_path, &writer)))
		goto done;
	for (int i = 0; i < threads && threads > 1; i++) {
		workers[i].run = &p;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i])) {
			rc = mx_error(MX_ERR_INTERNAL, "cannot start packing thread %d", i + 1);
			goto done;
		}
		n_started++;
	}
	for (;;) {
		struct job *job;
		while (!eof && p.next_fill - p.next_write < p.window) {
			int got = next_list_item(&r, &p.slots[p.next_fill % p.window]);
			if (got < 0) {
				rc = MX_ERR_IO;
				goto done;
			}
			if (!got) {
				eof = 1;
				break;
			}
			if (threads == 1) {
				pack_image(o, o->root, &p.slots[p.next_fill % p.window], &workers[0]);
				p.next_fill++;
				break;
			}
			pthread_mutex_lock(&p.lock);
			p.next_fill++;
			pthread_cond_signal(&p.work_ready);
			pthread_mutex_unlock(&p.lock);
		}
		if (p.next_write == p.next_fill)
			break;
		job = &p.slots[p.next_write % p.window];
		if (threads > 1) {
			pthread_mutex_lock(&p.lock);
			while (!job->done)
				pthread_cond_wait(&p.work_done, &p.lock);
			pthread_mutex_unlock(&p.lock);
		}
		if (job->record) {
			if (idx.n == cap) {
				uint64_t *keys = realloc(idx.keys, (cap = cap ? 2 * cap : 4096) * sizeof *keys);
				long long *offsets = keys ? realloc(idx.offsets, cap * sizeof *offsets) : NULL;
				if (keys)
					idx.keys = keys;
				if (offsets)
					idx.offsets = offsets;
				if (!keys || !offsets) {
					rc = mx_error(MX_ERR_NOMEM, "out of memory");
					goto done;
				}
			}
			idx.keys[idx.n] = job->id;
			idx.offsets[idx.n] = recordio_writer_tell(writer);
			if ((rc = recordio_write(writer, job->record, job->record_len)))
				goto done;
			idx.n++;
			packed++;
		} else {
			if (++skipped <= MAX_SKIP_WARNINGS)
				mx_warn("%s:%ld: %s: %s; image skipped", list_path, job->line, job->path,
					job->error ? job->error : "out of memory");
			if (skipped == MAX_SKIP_WARNINGS)
				mx_warn("%s: further skipped images are counted, not named", list_path);
		}
		job_clear(job);
		p.next_write++;
		if ((p.next_write & 255) == 0 && mx_now_seconds() - last_report >= 10) {
			last_report = mx_now_seconds();
			mx_info("%s: %ld images, %.0f images/s", list_path, p.next_write,
				p.next_write / (last_report - start));
		}
	}
	if (packed == 0 && skipped > 0) {
		rc = mx_error(MX_ERR_IO, "%s: none of its %ld images could be packed (is %s the right image folder?)",
			      list_path, skipped, o->root);
		goto done;
	}
	if (packed + skipped == 0)
		mx_warn("%s lists no images; %s and %s are empty", list_path, rec_path, idx_path);
	rc = recordio_writer_close(writer);
	writer = NULL;
	if (!rc)
		rc = recordio_index_write(idx_path, &idx);
	if (rc)
		goto done;
	elapsed = mx_now_seconds() - start;
	printf("%s: %ld image%s packed into %s, %ld skipped, %ld bad list line%s, %.2f s, %.0f images/s\n",
	       list_path, packed, packed == 1 ? "" : "s", rec_path, skipped, r.bad_lines, r.bad_lines == 1 ? "" : "s",
	       elapsed, elapsed > 0 ? (packed + skipped) / elapsed : 0.0);
	fflush(stdout);
done:
	if (n_started) {
		pthread_mutex_lock(&p.lock);
		p.stopping = 1;
		pthread_cond_broadcast(&p.work_ready);
		pthread_mutex_unlock(&p.lock);
		for (int i = 0; i < n_started; i++)
			pthread_join(workers[i].thread, NULL);
	}
	if (writer)
		recordio_writer_abort(writer);
	for (long i = 0; p.slots && i < p.window; i++)
		job_clear(&p.slots[i]);
	for (int i = 0; workers && i < threads; i++) {
		free(workers[i].file);
		image_free(&workers[i].img);
		image_free(&workers[i].tmp);
	}
	free(workers);
	free(p.slots);
	free(idx.keys);
	free(idx.offsets);
	free(r.line);
	fclose(r.f);
	pthread_cond_destroy(&p.work_ready);
	pthread_cond_destroy(&p.work_done);
	pthread_mutex_destroy(&p.lock);
	return rc;
}

/* Packing: every regular file prefix*.lst (im2rec.py's rule: prefix made absolute; when it
 * names a folder, every .lst in it), in name order, each into <name>.rec and <name>.idx
 * beside it. */
static int pack_lists(const struct im2rec_options *o)
{
	char *prefix = absolute_path(o->prefix), *dir = NULL, *shown_dir = NULL;
	char **names = NULL;
	size_t n = 0, kept = 0;
	int rc = MX_OK;
	DIR *d;

	if (!prefix)
		return mx_error(MX_ERR_IO, "cannot make %s absolute: %s", o->prefix, strerror(errno));
	if (!is_directory(o->root)) {
		rc = mx_error(MX_ERR_IO, "the image folder %s does not exist or is not a folder", o->root);
		goto done;
	}
	/* Messages name the lists as the user's prefix spells their folder. */
	if (is_directory(prefix)) {
		dir = strdup(prefix);
		shown_dir = strdup(o->prefix);
	} else if ((shown_dir = strdup(o->prefix))) {
		const char *slash = strrchr(prefix, '/');
		char *typed;
		size_t len = strlen(shown_dir);
		dir = strndup(prefix, slash == prefix ? 1 : (size_t)(slash - prefix));
		while (len > 1 && shown_dir[len - 1] == '/')
			shown_dir[--len] = 0;
		if ((typed = strrchr(shown_dir, '/')))
			typed[typed == shown_dir] = 0;
		else
			shown_dir[0] = 0;
	}
	if (!dir || !shown_dir) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (!(d = opendir(dir))) {
		rc = mx_error(MX_ERR_IO, "cannot read the folder %s: %s", dir, strerror(errno));
		goto done;
	}
	rc = read_folder_names(d, &names, &n);
	closedir(d);
	if (rc)
		goto done;
	for (size_t i = 0; i < n; i++) {   /* keep the regular files prefix*.lst */
		char *full = path_join(dir, names[i]);
		size_t len = strlen(names[i]);
		struct stat st;
		if (full && !strncmp(full, prefix, strlen(prefix)) && len >= 4 && !strcmp(names[i] + len - 4, ".lst") &&
		    !stat(full, &st) && S_ISREG(st.st_mode))
			names[kept++] = names[i];
		else
			free(names[i]);
		free(full);
	}
	n = kept;
	if (!n) {
		rc = mx_error(MX_ERR_IO, "no list %s*.lst found (make one with im2rec --list %s %s)", o->prefix,
			      o->prefix, o->root);
		goto done;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		char *list = path_join(shown_dir, names[i]);
		char *stem = list ? strdup(list) : NULL, *rec = NULL, *idx = NULL;
		if (stem) {
			*(char *)path_extension(stem) = 0;
			rec = malloc(strlen(stem) + 5);
			idx = malloc(strlen(stem) + 5);
		}
		if (!rec || !idx) {
			rc = mx_error(MX_ERR_NOMEM, "out of memory");
		} else {
			sprintf(rec, "%s.rec", stem);
			sprintf(idx, "%s.idx", stem);
			rc = pack_list(o, list, rec, idx);
		}
		free(list);
		free(stem);
		free(rec);
		free(idx);
	}
done:
	free_names(names, n);
	free(prefix);
	free(dir);
	free(shown_dir);
	return rc;
}

int main(int argc, char **argv)
{
	struct im2rec_options o;
	int rc;
	mx_log_set_program("im2rec");
	if ((rc = parse_args(argc, argv, &o)) >= 0)
		return rc;
	if (o.quiet)
		mx_log_set_level(MX_LOG_WARN);
	warn_ignored_options(&o);
	rc = o.list ? make_lists(&o) : pack_lists(&o);
	if (rc) {
		fflush(stdout);
		fprintf(stderr, "im2rec: %s\n", mx_error_message());
	}
	return rc ? 2 : 0;
}
