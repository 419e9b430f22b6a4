/* engine.c: the engine interface's entry points (they dispatch to the chosen engine),
 * choosing an engine from MXNet's variables, and the naive engine. The naive engine runs
 * each task inside engine_push, in order; the first error is kept (with its message)
 * until the next wait reports it. Later tasks still run, as they would on the threaded
 * engine, which has already dispatched them. */
#include "engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct engine *engine_create(enum engine_kind kind, int num_threads)
{
	switch (kind) {
	case ENGINE_NAIVE:
		return engine_naive_create();
	case ENGINE_THREADED:
		return engine_threaded_create(num_threads);
	}
	mx_error(MX_ERR_INVALID, "engine_create: unknown engine kind %d", (int)kind);
	return NULL;
}

struct engine *engine_create_from_env(enum engine_kind default_kind, int num_threads)
{
	const char *type = getenv("MXNET_ENGINE_TYPE");
	const char *threads = getenv("MXNET_CPU_WORKER_NTHREADS");
	enum engine_kind kind = default_kind;
	if (type && *type) {
		if (!strcmp(type, "NaiveEngine")) {
			kind = ENGINE_NAIVE;
		} else if (!strcmp(type, "ThreadedEngine") || !strcmp(type, "ThreadedEnginePerDevice")) {
			kind = ENGINE_THREADED;
		} else {
			mx_error(MX_ERR_INVALID, "MXNET_ENGINE_TYPE=%s: unknown engine (NaiveEngine, "
				 "ThreadedEngine or ThreadedEnginePerDevice)", type);
			return NULL;
		}
	}
	if (threads && *threads) {
		char *end;
		long n;
		errno = 0;
		n = strtol(threads, &end, 10);
		if (errno || *end || n < 1 || n > 1024) {
			mx_error(MX_ERR_INVALID, "MXNET_CPU_WORKER_NTHREADS=%s: want a number of threads "
				 "from 1 to 1024", threads);
			return NULL;
		}
		num_threads = (int)n;
	}
	return engine_create(kind, num_threads);
}

void engine_free(struct engine *e)
{
	if (e)
		e->ops->free(e);
}

struct engine_var *engine_var_new(struct engine *e) { return e->ops->var_new(e); }

void engine_var_free(struct engine *e, struct engine_var *v)
{
	if (v)
		e->ops->var_free(e, v);
}

int engine_push(struct engine *e, engine_fn fn, void *arg, void (*cleanup)(void *arg),
		struct engine_var *const *reads, int n_reads,
		struct engine_var *const *writes, int n_writes, int priority, const char *name)
{
	if (!fn) {
		if (cleanup)
			cleanup(arg);
		return mx_error(MX_ERR_INVALID, "engine_push: %s: no task function", name ? name : "task");
	}
	return e->ops->push(e, fn, arg, cleanup, reads, n_reads, writes, n_writes, priority, name);
}

int engine_wait_var(struct engine *e, struct engine_var *v) { return e->ops->wait_var(e, v); }
int engine_wait_to_write(struct engine *e, struct engine_var *v) { return e->ops->wait_to_write(e, v); }
int engine_wait_all(struct engine *e) { return e->ops->wait_all(e); }

void engine_error_capture(int rc, const char *name, char *buf, int size)
{
	const char *msg = mx_error_message();
	char status[32];
	if (!*msg) {
		snprintf(status, sizeof status, "failed with status %d", rc);
		msg = status;
	}
	if (name)
		snprintf(buf, size, "%s: %s", name, msg);
	else
		snprintf(buf, size, "%s", msg);
}

/* The naive engine. */

struct naive_engine {
	struct engine base;
	/* Runs one task at a time when several threads push; recursive, since a task may
	 * push (its task then runs inside it, as it would on the caller). */
	pthread_mutex_t lock;
	int error_code;       /* first error since the last wait */
	char error_msg[ENGINE_ERROR_MAX];
};

static void naive_free(struct engine *base)
{
	struct naive_engine *e = (struct naive_engine *)base;
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static struct engine_var *naive_var_new(struct engine *e)
{
	struct engine_var *v = calloc(1, sizeof *v);
	if (!v)
		mx_error(MX_ERR_NOMEM, "engine_var_new: out of memory");
	return v;
}

static void naive_var_free(struct engine *e, struct engine_var *v) { free(v); }

static int naive_push(struct engine *base, engine_fn fn, void *arg, void (*cleanup)(void *arg),
		      struct engine_var *const *reads, int n_reads,
		      struct engine_var *const *writes, int n_writes, int priority, const char *name)
{
	struct naive_engine *e = (struct naive_engine *)base;
	int rc;
	pthread_mutex_lock(&e->lock);
	mx_error_clear(); /* so a task that fails without a message is not given a stale one */
	rc = fn(arg);
	if (rc && !e->error_code) {
		e->error_code = rc;
		engine_error_capture(rc, name, e->error_msg, sizeof e->error_msg);
	}
	if (cleanup)
		cleanup(arg);
	pthread_mutex_unlock(&e->lock);
	return MX_OK;
}

static int naive_take_error(struct engine *base)
{
	struct naive_engine *e = (struct naive_engine *)base;
	int rc;
	pthread_mutex_lock(&e->lock);
	if ((rc = e->error_code)) {
		mx_error(rc, "%s", e->error_msg);
		e->error_code = 0;
	}
	pthread_mutex_unlock(&e->lock);
	return rc;
}

static int naive_wait_var(struct engine *e, struct engine_var *v) { return naive_take_error(e); }

static const struct engine_ops naive_ops = {
	.free = naive_free,
	.var_new = naive_var_new,
	.var_free = naive_var_free,
	.push = naive_push,
	.wait_var = naive_wait_var,
	.wait_to_write = naive_wait_var,
	.wait_all = naive_take_error,
};

struct engine *engine_naive_create(void)
{
	struct naive_engine *e = calloc(1, sizeof *e);
	pthread_mutexattr_t attr;
	if (!e) {
		mx_error(MX_ERR_NOMEM, "engine_create: out of memory");
		return NULL;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&e->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	e->base.ops = &naive_ops;
	e->base.kind = ENGINE_NAIVE;
	return &e->base;
}

int engine_num_workers(const struct engine *e) { return e->n_workers > 1 ? e->n_workers : 1; }
