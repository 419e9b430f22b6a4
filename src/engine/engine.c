/* engine.c: the naive engine. Each task runs inside engine_push, in order; the first
 * error is kept (with its message) until the next wait reports it. Later tasks still run,
 * as they would on a threaded engine that had already dispatched them. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>

#include "error.h"

struct engine_var {
	int dummy; /* the naive engine keeps no per-variable state */
};

struct engine {
	enum engine_kind kind;
	int error_code;       /* first error since the last wait */
	char error_msg[1024];
};

struct engine *engine_create(enum engine_kind kind, int num_threads)
{
	struct engine *e = calloc(1, sizeof *e);
	(void)num_threads;
	if (!e) {
		mx_error(MX_ERR_NOMEM, "out of memory");
		return NULL;
	}
	e->kind = kind;
	return e;
}

void engine_free(struct engine *e) { free(e); }

struct engine_var *engine_var_new(struct engine *e)
{
	struct engine_var *v = calloc(1, sizeof *v);
	(void)e;
	if (!v)
		mx_error(MX_ERR_NOMEM, "out of memory");
	return v;
}

void engine_var_free(struct engine *e, struct engine_var *v)
{
	(void)e;
	free(v);
}

int engine_push(struct engine *e, engine_fn fn, void *arg, void (*cleanup)(void *arg),
		struct engine_var *const *reads, int n_reads,
		struct engine_var *const *writes, int n_writes, int priority, const char *name)
{
	int rc;
	(void)reads, (void)n_reads, (void)writes, (void)n_writes, (void)priority;
	rc = fn(arg);
	if (rc && !e->error_code) {
		e->error_code = rc;
		if (name)
			mx_error_prefix(rc, "%s", name);
		mx_error_copy(e->error_msg, sizeof e->error_msg);
	}
	if (cleanup)
		cleanup(arg);
	return MX_OK;
}

static int take_error(struct engine *e)
{
	int rc = e->error_code;
	if (rc) {
		mx_error(rc, "%s", e->error_msg);
		e->error_code = 0;
	}
	return rc;
}

int engine_wait_var(struct engine *e, struct engine_var *v)
{
	(void)v;
	return take_error(e);
}

int engine_wait_all(struct engine *e) { return take_error(e); }
