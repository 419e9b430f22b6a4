/* iter.c: iterator creation from key/value text, the prefetch thread that decodes the
 * next batches while the trainer computes, and what every kind does the same way (the
 * epoch's order, parts, pads and batch shapes).
 *
 * Keys. Every kind gets the generic keys of `common_params` below (prefetch_buffer) on
 * top of its own table; a key is looked up in the generic table first, then in the kind's.
 * batch_size stays in each kind's table (the kind needs it to shape its batches; iter.c
 * reads it back from the data shape). "Did you mean" searches both tables.
 *
 * Prefetch. With prefetch_buffer = P > 0 the iterator owns P + 1 batch slots: up to P
 * filled slots wait in a FIFO, one is held by the caller (valid until its next
 * iter_next). One producer thread per epoch fills free slots with kind->next; it is
 * started by iter_reset (or the first iter_next) and stopped and joined by the next
 * iter_reset and by iter_free, so kind->reset and kind->close never race with kind->next.
 * The end of the epoch or an error ends the thread; the error's message is copied out
 * (messages are per-thread) and iter_next returns it after the batches made before it.
 * With P = 0 iter_next calls kind->next itself.
 */
#include "data/iter.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"

#define ITER_MSG_MAX 1024

/* Keys every kind accepts, handled here and never seen by the kind. */
struct iter_common {
	int prefetch_buffer;
};

static const struct param_spec common_params[] = {
	{"prefetch_buffer", PARAM_INT, offsetof(struct iter_common, prefetch_buffer), 0, "2", NULL, 0, 1024,
	 "batches decoded ahead by a background thread; 0 decodes inside iter_next"},
	PARAM_END,
};

struct batch_slot {
	struct mx_tensor *data, *label;
	int pad;
};

struct data_iter {
	const struct iter_kind *kind;
	void *param;                 /* the kind's parsed parameters; owned, freed after close */
	void *impl;                  /* the kind's state; owned, freed by kind->close */
	struct iter_common common;
	char *section;               /* "data.train" for messages, or NULL; owned */
	struct mx_shape data_shape, label_shape;
	long num_examples;           /* cached at open so no call reaches the kind mid-epoch */

	int n_slots;
	struct batch_slot *slots;

	/* Everything below is guarded by lock while the producer runs. */
	pthread_mutex_t lock;
	pthread_cond_t slot_ready;   /* producer -> consumer: a batch or the end is there */
	pthread_cond_t slot_free;    /* consumer -> producer: a slot came back, or stop */
	int *ready;                  /* FIFO of filled slot indices (ring of n_slots) */
	int ready_head, ready_count;
	int *free_list;              /* stack of empty slot indices */
	int free_count;
	int held;                    /* slot handed to the caller, or -1 */
	int stop;                    /* asks the producer to return */
	int finished;                /* the epoch ended (finish_rc MX_END) or failed */
	int finish_rc;
	char finish_msg[ITER_MSG_MAX];

	pthread_t thread;
	int thread_running;
	int started;                 /* iter_reset has been called once */
};

const struct iter_kind *const *iter_kinds(void)
{
	static const struct iter_kind *const kinds[] = {&iter_mnist, &iter_synthetic, &iter_csv, &iter_imagerec, NULL};
	return kinds;
}

/* An error code to keep: a kind that fails without one is our bug. */
static int batch_error_code(int rc)
{
	return rc > 0 ? rc : MX_ERR_INTERNAL;
}

/* Records the end of the epoch (rc 0) or the error rc with the current message, prefixed
 * with the section, for iter_next to return. Called with lock held, or with no producer
 * running. */
static void record_finish(struct data_iter *it, int rc, const char *msg)
{
	it->finished = 1;
	it->finish_rc = rc == MX_END ? MX_END : batch_error_code(rc);
	it->finish_msg[0] = 0;
	if (rc != MX_END) {
		if (it->section)
			snprintf(it->finish_msg, sizeof it->finish_msg, "%s: %s", it->section, msg);
		else
			snprintf(it->finish_msg, sizeof it->finish_msg, "%s", msg);
	}
}

static int finish_status(const struct data_iter *it)
{
	if (it->finish_rc == MX_END)
		return MX_END;
	return mx_error(it->finish_rc, "%s", it->finish_msg);
}

static void *prefetch_main(void *arg)
{
	struct data_iter *it = arg;
	pthread_mutex_lock(&it->lock);
	for (;;) {
		struct batch_slot *slot;
		int s, rc, pad = 0;
		while (!it->stop && it->free_count == 0)
			pthread_cond_wait(&it->slot_free, &it->lock);
		if (it->stop)
			break;
		s = it->free_list[--it->free_count];
		slot = &it->slots[s];
		pthread_mutex_unlock(&it->lock);

		rc = it->kind->next(it->impl, slot->data, slot->label, &pad);

		pthread_mutex_lock(&it->lock);
		if (rc == MX_OK) {
			slot->pad = pad;
			it->ready[(it->ready_head + it->ready_count) % it->n_slots] = s;
			it->ready_count++;
			pthread_cond_signal(&it->slot_ready);
			continue;
		}
		it->free_list[it->free_count++] = s;
		record_finish(it, rc, mx_error_message());
		pthread_cond_signal(&it->slot_ready);
		break;
	}
	pthread_mutex_unlock(&it->lock);
	return NULL;
}

static void stop_producer(struct data_iter *it)
{
	if (!it->thread_running)
		return;
	pthread_mutex_lock(&it->lock);
	it->stop = 1;
	pthread_cond_broadcast(&it->slot_free);
	pthread_mutex_unlock(&it->lock);
	pthread_join(it->thread, NULL);
	it->thread_running = 0;
	it->stop = 0;
}

/* Puts every slot back on the free list and forgets the epoch's state. No producer runs. */
static void reclaim_slots(struct data_iter *it)
{
	it->ready_head = it->ready_count = 0;
	it->free_count = 0;
	for (int i = 0; i < it->n_slots; i++)
		it->free_list[it->free_count++] = i;
	it->held = -1;
	it->finished = 0;
	it->finish_rc = 0;
	it->finish_msg[0] = 0;
}

/* Starts epoch `epoch`: stops the producer of the previous one, resets the kind and starts
 * a new producer. Returns MX_OK or an error (also returned by the following iter_next). */
int iter_reset(struct data_iter *it, int epoch)
{
	int rc;
	stop_producer(it);
	reclaim_slots(it);
	it->started = 1;
	if (epoch < 0) {
		mx_error(MX_ERR_INVALID, "epoch %d must be >= 0", epoch);
		record_finish(it, MX_ERR_INVALID, mx_error_message());
		return mx_error(MX_ERR_INVALID, "%s", it->finish_msg);
	}
	rc = it->kind->reset(it->impl, epoch);
	if (rc) {
		record_finish(it, rc, mx_error_message());
		return mx_error(rc, "%s", it->finish_msg);
	}
	if (it->common.prefetch_buffer > 0) {
		rc = pthread_create(&it->thread, NULL, prefetch_main, it);
		if (rc) {
			mx_error(MX_ERR_INTERNAL, "cannot start the prefetch thread: %s", strerror(rc));
			record_finish(it, MX_ERR_INTERNAL, mx_error_message());
			return mx_error(MX_ERR_INTERNAL, "%s", it->finish_msg);
		}
		it->thread_running = 1;
	}
	return MX_OK;
}

static void fill_batch(const struct data_iter *it, int s, struct data_batch *batch)
{
	batch->data = it->slots[s].data;
	batch->label = it->slots[s].label;
	batch->pad = it->slots[s].pad;
}

int iter_next(struct data_iter *it, struct data_batch *batch)
{
	int rc;
	if (!it->started && iter_reset(it, 0))
		return finish_status(it);
	if (it->common.prefetch_buffer == 0) {
		int pad = 0;
		if (it->finished)
			return finish_status(it);
		rc = it->kind->next(it->impl, it->slots[0].data, it->slots[0].label, &pad);
		if (rc == MX_OK) {
			it->slots[0].pad = pad;
			fill_batch(it, 0, batch);
			return MX_OK;
		}
		record_finish(it, rc, mx_error_message());
		return finish_status(it);
	}

	pthread_mutex_lock(&it->lock);
	if (it->held >= 0) {
		it->free_list[it->free_count++] = it->held;
		it->held = -1;
		pthread_cond_signal(&it->slot_free);
	}
	while (it->ready_count == 0 && !it->finished)
		pthread_cond_wait(&it->slot_ready, &it->lock);
	if (it->ready_count > 0) {
		it->held = it->ready[it->ready_head];
		it->ready_head = (it->ready_head + 1) % it->n_slots;
		it->ready_count--;
		fill_batch(it, it->held, batch);
		rc = MX_OK;
	} else {
		rc = finish_status(it);
	}
	pthread_mutex_unlock(&it->lock);
	return rc;
}

void iter_free(struct data_iter *it)
{
	if (!it)
		return;
	stop_producer(it);
	if (it->impl)
		it->kind->close(it->impl);
	for (int i = 0; it->slots && i < it->n_slots; i++) {
		tensor_free(it->slots[i].data);
		tensor_free(it->slots[i].label);
	}
	free(it->slots);
	free(it->ready);
	free(it->free_list);
	free(it->param);
	free(it->section);
	pthread_mutex_destroy(&it->lock);
	pthread_cond_destroy(&it->slot_ready);
	pthread_cond_destroy(&it->slot_free);
	free(it);
}

int iter_batch_size(const struct data_iter *it) { return (int)it->data_shape.dim[0]; }
struct mx_shape iter_data_shape(const struct data_iter *it) { return it->data_shape; }
struct mx_shape iter_label_shape(const struct data_iter *it) { return it->label_shape; }
long iter_num_examples(const struct data_iter *it) { return it->num_examples; }
int iter_prefetch_buffer(const struct data_iter *it) { return it->common.prefetch_buffer; }

/* Prefixes the current message with "origin: section: " (either part may be missing). */
static int place_error(int rc, const char *origin, const char *section)
{
	if (section)
		mx_error_prefix(rc, "%s", section);
	if (origin)
		mx_error_prefix(rc, "%s", origin);
	return rc;
}

static int unknown_key(const struct iter_kind *kind, const char *key)
{
	const char *names[256];
	const char *near;
	int n = 0;
	for (const struct param_spec *sp = common_params; sp->key; sp++)
		names[n++] = sp->key;
	for (const struct param_spec *sp = kind->params; sp->key && n < 255; sp++)
		names[n++] = sp->key;
	names[n] = NULL;
	near = nearest_name(names, key);
	if (near)
		return mx_error(MX_ERR_INVALID, "unknown key \"%s\" (did you mean \"%s\"?)", key, near);
	return mx_error(MX_ERR_INVALID, "unknown key \"%s\" for iter \"%s\"", key, kind->name);
}

static int key_given(const char *key, const char *const *keys, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(keys[i], key))
			return 1;
	return 0;
}

static int alloc_slots(struct data_iter *it)
{
	it->n_slots = it->common.prefetch_buffer + 1;
	it->slots = calloc(it->n_slots, sizeof *it->slots);
	it->ready = calloc(it->n_slots, sizeof *it->ready);
	it->free_list = calloc(it->n_slots, sizeof *it->free_list);
	if (!it->slots || !it->ready || !it->free_list)
		return mx_error(MX_ERR_NOMEM, "out of memory for %d batch slots", it->n_slots);
	for (int i = 0; i < it->n_slots; i++) {
		it->slots[i].data = tensor_new(&it->data_shape, MX_F32, MX_CPU);
		it->slots[i].label = tensor_new(&it->label_shape, MX_F32, MX_CPU);
		if (!it->slots[i].data || !it->slots[i].label)
			return MX_ERR_NOMEM;
	}
	reclaim_slots(it);
	return MX_OK;
}

/* iter_create for a given kind table (not necessarily registered in iter_kinds(); the
 * tests use fake kinds). Same contract as iter_create. */
int iter_create_with_kind(const struct iter_kind *kind, const char *const *keys,
			  const char *const *values, const char *const *origins, int n,
			  const char *section, struct data_iter **out)
{
	struct data_iter *it;
	int rc = MX_OK;

	*out = NULL;
	assert(param_find(kind->params, "batch_size"));
	it = calloc(1, sizeof *it);
	if (!it)
		return mx_error(MX_ERR_NOMEM, "out of memory");
	it->kind = kind;
	it->held = -1;
	pthread_mutex_init(&it->lock, NULL);
	pthread_cond_init(&it->slot_ready, NULL);
	pthread_cond_init(&it->slot_free, NULL);
	it->param = calloc(1, kind->param_size ? kind->param_size : 1);
	if (!it->param || (section && !(it->section = strdup(section)))) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto fail;
	}
	param_defaults(common_params, &it->common);
	param_defaults(kind->params, it->param);

	for (int i = 0; i < n; i++) {
		const char *origin = origins ? origins[i] : NULL;
		if (!strcmp(keys[i], "iter"))
			continue;
		if (param_find(common_params, keys[i]))
			rc = param_set(common_params, &it->common, keys[i], values[i]);
		else if (param_find(kind->params, keys[i]))
			rc = param_set(kind->params, it->param, keys[i], values[i]);
		else
			rc = unknown_key(kind, keys[i]);
		if (rc) {
			place_error(rc, origin, section);
			goto fail;
		}
	}
	for (const struct param_spec *sp = kind->params; sp->key; sp++) {
		if (!sp->def && !key_given(sp->key, keys, n)) {
			rc = mx_error(MX_ERR_INVALID, "iter \"%s\" needs the key \"%s\" (%s)", kind->name, sp->key,
				      sp->help ? sp->help : "required");
			place_error(rc, NULL, section);
			goto fail;
		}
	}

	rc = kind->open(it->param, &it->impl);
	if (rc) {
		it->impl = NULL;
		place_error(rc, NULL, section);
		goto fail;
	}
	kind->shapes(it->impl, &it->data_shape, &it->label_shape);
	it->num_examples = kind->num_examples(it->impl);
	if ((rc = alloc_slots(it)))
		goto fail;
	*out = it;
	return MX_OK;
fail:
	iter_free(it);
	return rc;
}

int iter_create(const char *kind, const char *const *keys, const char *const *values,
		const char *const *origins, int n, const char *section, struct data_iter **out)
{
	const struct iter_kind *const *kinds = iter_kinds();
	const char *names[32];
	const char *origin = NULL, *near;
	int n_kinds = 0;

	*out = NULL;
	for (int i = 0; origins && i < n; i++)
		if (!strcmp(keys[i], "iter"))
			origin = origins[i];
	for (; kinds[n_kinds]; n_kinds++) {
		if (kind && !strcmp(kinds[n_kinds]->name, kind))
			return iter_create_with_kind(kinds[n_kinds], keys, values, origins, n, section, out);
		names[n_kinds] = kinds[n_kinds]->name;
	}
	names[n_kinds] = NULL;
	if (!kind)
		return place_error(mx_error(MX_ERR_INVALID, "no iter given (the key \"iter\", e.g. iter = \"mnist\")"),
				   origin, section);
	near = nearest_name(names, kind);
	if (near)
		mx_error(MX_ERR_INVALID, "unknown iter \"%s\" (did you mean \"%s\"?)", kind, near);
	else
		mx_error(MX_ERR_INVALID, "unknown iter \"%s\"", kind);
	return place_error(MX_ERR_INVALID, origin, section);
}

/* ---- for the kinds ------------------------------------------------------------------- */

uint64_t iter_epoch_key(int seed, int epoch)
{
	return (uint64_t)(uint32_t)seed << 32 | (uint32_t)epoch;
}

void iter_epoch_order(int64_t *order, int64_t n, int shuffle, int seed, int epoch)
{
	for (int64_t i = 0; i < n; i++)
		order[i] = i;
	if (shuffle) {
		struct mx_rng rng;
		rng_seed(&rng, iter_epoch_key(seed, epoch));
		rng_shuffle(&rng, order, n);
	}
}

int iter_check_part(int part_index, int num_parts)
{
	if (part_index >= num_parts)
		return mx_error(MX_ERR_INVALID, "part_index = %d must be < num_parts = %d", part_index, num_parts);
	return MX_OK;
}

void iter_part_range(int64_t count, int num_parts, int k, int64_t *start, int64_t *end)
{
	*start = (int64_t)((double)count / num_parts * k);
	*end = (int64_t)((double)count / num_parts * (k + 1));
}

int iter_batch_pad(int64_t pos, int64_t batch_size, int64_t n)
{
	return pos + batch_size > n ? (int)(pos + batch_size - n) : 0;
}

struct mx_shape iter_batch_shape(int64_t batch_size, const struct mx_shape *example)
{
	struct mx_shape s = {.ndim = example->ndim + 1, .dim = {batch_size}};
	for (int d = 0; d < example->ndim; d++)
		s.dim[d + 1] = example->dim[d];
	return s;
}
