/* engine_impl.h: what the naive and threaded engines share behind engine.h: the table
 * of an engine's functions, the variable, and the helpers that carry a task's error to
 * the waiting thread. Only src/engine/ includes it. */
#ifndef MX_ENGINE_IMPL_H
#define MX_ENGINE_IMPL_H

#include <pthread.h>
#include <stdbool.h>

#include "engine.h"

#define ENGINE_ERROR_MAX 1024

struct engine_ops {
	void (*free)(struct engine *e);
	struct engine_var *(*var_new)(struct engine *e);
	void (*var_free)(struct engine *e, struct engine_var *v);
	int (*push)(struct engine *e, engine_fn fn, void *arg, void (*cleanup)(void *arg),
		    struct engine_var *const *reads, int n_reads,
		    struct engine_var *const *writes, int n_writes, int priority, const char *name);
	int (*wait_var)(struct engine *e, struct engine_var *v);
	int (*wait_to_write)(struct engine *e, struct engine_var *v);
	int (*wait_all)(struct engine *e);
};

/* The head of every engine's own struct. */
struct engine {
	const struct engine_ops *ops;
	enum engine_kind kind;
	int n_workers;   /* threads that run tasks; 0 or 1: one at a time */
};

struct engine_access;

/* A variable: the threaded engine's queue of accesses (the naive engine keeps nothing).
 * Reads granted and not done are counted; the oldest write not done is pending_write,
 * granted once those reads are done; the accesses behind it wait in head..tail. */
struct engine_var {
	pthread_mutex_t lock;
	pthread_cond_t written;             /* a write completed, while n_waiters > 0 */
	int running_reads;
	struct engine_access *pending_write;
	struct engine_access *head, *tail;
	unsigned long writes_pushed, writes_done;
	int n_waiters;                      /* threads in engine_wait_var(v) */
};

/* After fn returned rc != MX_OK on this thread: writes "name: message" into buf (a
 * message the task left empty reads "failed with status rc"). */
void engine_error_capture(int rc, const char *name, char *buf, int size);

struct engine *engine_naive_create(void);
/* Returns NULL with an error set when a worker thread cannot start. */
struct engine *engine_threaded_create(int num_threads);

#endif
