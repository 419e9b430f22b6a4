/* pool.c: the per-device storage pools. Only the CPU pool exists in this build; blocks
 * are cached in power-of-two size classes (at least 4 KiB) and reused. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define POOL_CLASSES 48


/* Process-wide: one pool for the CPU. */
static struct {
	pthread_mutex_t lock;
	struct mx_storage *free_list[POOL_CLASSES][8]; /* a few cached blocks per class */
	int n_free[POOL_CLASSES];
	size_t in_use, peak;
} cpu_pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int size_class(size_t bytes, size_t *rounded)
{
	int c = 12;
	while (((size_t)1 << c) < bytes)
		c++;
	*rounded = (size_t)1 << c;
	return c;
}

struct mx_storage *storage_alloc(struct mx_context ctx, size_t bytes)
{
	struct mx_storage *s = NULL;
	size_t rounded;
	int c;
	if (ctx.dev_type != MX_DEV_CPU) {
		mx_error(MX_ERR_INVALID, "device type %d is not available in this build", ctx.dev_type);
		return NULL;
	}
	c = size_class(bytes, &rounded);
	if (c >= POOL_CLASSES) {
		mx_error(MX_ERR_NOMEM, "cannot allocate %zu bytes", bytes);
		return NULL;
	}
	pthread_mutex_lock(&cpu_pool.lock);
	if (cpu_pool.n_free[c] > 0)
		s = cpu_pool.free_list[c][--cpu_pool.n_free[c]];
	cpu_pool.in_use += rounded;
	if (cpu_pool.in_use > cpu_pool.peak)
		cpu_pool.peak = cpu_pool.in_use;
	pthread_mutex_unlock(&cpu_pool.lock);
	if (!s) {
		s = malloc(sizeof *s);
		if (!s || posix_memalign(&s->data, 64, rounded)) {
			free(s);
			pthread_mutex_lock(&cpu_pool.lock);
			cpu_pool.in_use -= rounded;
			pthread_mutex_unlock(&cpu_pool.lock);
			mx_error(MX_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
			return NULL;
		}
		s->bytes = rounded;
		s->ctx = ctx;
	}
	memset(s->data, 0, bytes);
	s->refcount = 1;
	return s;
}

void storage_retain(struct mx_storage *s) { __atomic_add_fetch(&s->refcount, 1, __ATOMIC_RELAXED); }

void storage_release(struct mx_storage *s)
{
	size_t rounded;
	int c;
	if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	c = size_class(s->bytes, &rounded);
	pthread_mutex_lock(&cpu_pool.lock);
	cpu_pool.in_use -= rounded;
	if (cpu_pool.n_free[c] < 8) {
		cpu_pool.free_list[c][cpu_pool.n_free[c]++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&cpu_pool.lock);
	if (s) {
		free(s->data);
		free(s);
	}
}

size_t pool_bytes_in_use(struct mx_context ctx) { return ctx.dev_type == MX_DEV_CPU ? cpu_pool.in_use : 0; }
size_t pool_bytes_peak(struct mx_context ctx) { return ctx.dev_type == MX_DEV_CPU ? cpu_pool.peak : 0; }

void pool_trim(void)
{
	pthread_mutex_lock(&cpu_pool.lock);
	for (int c = 0; c < POOL_CLASSES; c++) {
		while (cpu_pool.n_free[c] > 0) {
			struct mx_storage *s = cpu_pool.free_list[c][--cpu_pool.n_free[c]];
			free(s->data);
			free(s);
		}
	}
	pthread_mutex_unlock(&cpu_pool.lock);
}
