/* iter.h: the data iterator interface.
 *
 * An iterator yields batches of float32 data and labels. Every kind (mnist, imagerec, csv,
 * synthetic) is one `struct iter_kind` with its own parameter table, so `.conf`
 * keys are checked the same way as layer keys. Shuffling is a pure function of
 * (seed, epoch), so a run resumed at an epoch boundary sees the same order. A prefetch
 * thread keeps up to prefetch_buffer batches ready.
 *
 *   struct data_iter *it;
 *   if (iter_create("mnist", keys, values, origins, n, &it)) fail(mx_error_message());
 *   for (iter_reset(it, epoch); (rc = iter_next(it, &b)) == MX_OK; ) train(b.data, b.label, b.pad);
 *   if (rc != MX_END) fail(mx_error_message());
 *   iter_free(it);
 */
#ifndef MX_ITER_H
#define MX_ITER_H

#include "param.h"
#include "tensor.h"

struct data_batch {
	struct mx_tensor *data;   /* (batch_size, ...) float32; owned by the iterator */
	struct mx_tensor *label;  /* (batch_size) or (batch_size, label_width) float32 */
	int pad;                  /* trailing rows that repeat earlier ones to fill the batch */
};

struct iter_kind {
	const char *name;                  /* the .conf `iter` value: "mnist" */
	const struct param_spec *params;   /* PARAM_END-terminated; must include batch_size */
	size_t param_size;
	/* Opens the source. Returns MX_OK and a new impl, or an error naming the file. */
	int (*open)(const void *param, void **impl);
	void (*close)(void *impl);
	void (*shapes)(void *impl, struct mx_shape *data, struct mx_shape *label);
	/* Starts epoch `epoch` (0-based); the order depends only on the seed and epoch. */
	int (*reset)(void *impl, int epoch);
	/* Fills the next batch into data and label (preallocated to the batch shapes);
	 * returns MX_OK with *pad set, MX_END at the end of the epoch, or an error. */
	int (*next)(void *impl, struct mx_tensor *data, struct mx_tensor *label, int *pad);
	long (*num_examples)(void *impl);  /* examples in one epoch (this part's share) */
};

struct data_iter;

/* Creates an iterator of the named kind from key/value text. origins[i], when not NULL,
 * is the "file:line" of key i, used in error messages; the key "iter" is skipped.
 * Returns MX_OK or an error such as
 *   "net.conf:4: data.train: unknown key \"imgae\" (did you mean \"image\"?)". */
int iter_create(const char *kind, const char *const *keys, const char *const *values,
		const char *const *origins, int n, const char *section, struct data_iter **out);
void iter_free(struct data_iter *it);
int iter_reset(struct data_iter *it, int epoch);
/* Returns MX_OK and a batch (valid until the next call), MX_END at the end of the epoch
 * (and on every call after it until iter_reset), or an error. */
int iter_next(struct data_iter *it, struct data_batch *batch);
int iter_batch_size(const struct data_iter *it);
struct mx_shape iter_data_shape(const struct data_iter *it);   /* with the batch dim */
struct mx_shape iter_label_shape(const struct data_iter *it);
/* The prefetch_buffer key's value: batches decoded ahead (0: none). */
int iter_prefetch_buffer(const struct data_iter *it);
/* Total number of examples in one epoch (before padding), or -1 if unknown. */
long iter_num_examples(const struct data_iter *it);

/* The iterator kinds, for the man page and "did you mean". NULL-terminated. */
const struct iter_kind *const *iter_kinds(void);
extern const struct iter_kind iter_mnist;
extern const struct iter_kind iter_synthetic;
extern const struct iter_kind iter_csv;
extern const struct iter_kind iter_imagerec;

/* ---- for the kinds: what every kind does the same way ---- */

/* The key of one epoch's randomness: seed << 32 | epoch, one stream per (seed, epoch)
 * pair, nothing carried over from earlier epochs. */
uint64_t iter_epoch_key(int seed, int epoch);
/* Fills order[0, n) with the epoch's order of the examples: 0, 1, ..., n - 1, or with
 * shuffle a Fisher-Yates permutation of it under xoshiro seeded with
 * iter_epoch_key(seed, epoch). The order depends on nothing else. Cannot fail. */
void iter_epoch_order(int64_t *order, int64_t n, int shuffle, int seed, int epoch);
/* MX_OK, or MX_ERR_INVALID "part_index = K must be < num_parts = N". */
int iter_check_part(int part_index, int num_parts);
/* Examples [*start, *end) of count make up part k of num_parts, computed as MXNet's
 * MNISTIter GetPart does (double arithmetic, count / num_parts * k), so parts equal
 * MXNet's to the example. A part may be empty. */
void iter_part_range(int64_t count, int num_parts, int k, int64_t *start, int64_t *end);
/* The filler rows of a batch of batch_size rows from position pos of an epoch of n
 * examples: the rows past the end (0 when the batch fits). */
int iter_batch_pad(int64_t pos, int64_t batch_size, int64_t n);
/* The batch shape of examples shaped `example`: (batch_size, example...). */
struct mx_shape iter_batch_shape(int64_t batch_size, const struct mx_shape *example);

#endif
