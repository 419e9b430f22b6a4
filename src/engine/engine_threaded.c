/* engine_threaded.c: the threaded engine, after MXNet's ThreadedEngine. Each variable
 * keeps a FIFO of the accesses not yet granted; a task waits for as many grants as it
 * has variables, then enters a priority queue served by a pool of worker threads; when
 * it completes, each of its variables grants the next run of reads or the next write.
 *
 * Locks: push_lock makes one push's appends atomic across its variables (two threads
 * pushing onto the same variables in different orders would otherwise deadlock), each
 * variable's lock guards its queue, and the engine's lock guards the ready queue, the
 * counts and the kept error. Only push_lock is ever held while taking another lock (a
 * variable's); no lock is held while a task runs. Waits sleep on condition variables. */
#include "engine_impl.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

#define MAX_THREADS 1024

struct engine_task;

/* One access of a task to a variable: a link in the variable's queue. */
struct engine_access {
	struct engine_task *task;
	struct engine_var *var;
	struct engine_access *next;
	bool write;
};

struct engine_task {
	engine_fn fn;                /* NULL for a deletion */
	void *arg;
	void (*cleanup)(void *arg);
	int priority;
	unsigned long long seq;      /* push order, for FIFO among equal priorities */
	atomic_int wait;             /* grants still missing, plus one until the push ends */
	bool deletes_var;            /* engine_var_free's task: frees the variable it writes */
	const char *name;            /* NULL, or the copy after the accesses */
	int n_access;
	struct engine_access access[];
};

struct threaded_engine {
	struct engine base;
	pthread_mutex_t push_lock;
	pthread_mutex_t lock;
	pthread_cond_t work;         /* the ready queue has a task, or the workers stop */
	pthread_cond_t idle;         /* pending dropped to 0 */
	struct engine_task **ready;  /* binary heap, best first; room for pending tasks */
	int n_ready, ready_cap;
	long pending;                /* pushed and not done */
	unsigned long long next_seq;
	bool stopping;
	int error_code;              /* first error since the last wait */
	char error_msg[ENGINE_ERROR_MAX];
	int n_threads;
	pthread_t *threads;
};

/* The ready queue (engine lock held). */

static bool runs_before(const struct engine_task *a, const struct engine_task *b)
{
	return a->priority > b->priority || (a->priority == b->priority && a->seq < b->seq);
}

static void heap_push(struct threaded_engine *e, struct engine_task *t)
{
	int i = e->n_ready++;
	while (i > 0 && runs_before(t, e->ready[(i - 1) / 2])) {
		e->ready[i] = e->ready[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	e->ready[i] = t;
}

static struct engine_task *heap_pop(struct threaded_engine *e)
{
	struct engine_task *top = e->ready[0], *last = e->ready[--e->n_ready];
	int i = 0;
	for (;;) {
		int c = 2 * i + 1;
		if (c >= e->n_ready)
			break;
		if (c + 1 < e->n_ready && runs_before(e->ready[c + 1], e->ready[c]))
			c++;
		if (!runs_before(e->ready[c], last))
			break;
		e->ready[i] = e->ready[c];
		i = c;
	}
	e->ready[i] = last;
	return top;
}

/* Gives t one of the grants it waits for; the last one makes it ready. */
static void grant(struct threaded_engine *e, struct engine_task *t)
{
	if (atomic_fetch_sub_explicit(&t->wait, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_lock(&e->lock);
	heap_push(e, t);
	pthread_cond_signal(&e->work);
	pthread_mutex_unlock(&e->lock);
}

/* Grants every task of a chain of accesses (taken off their variable's queue). The
 * next link is read first: a granted task may run and free its accesses at once. */
static void grant_chain(struct threaded_engine *e, struct engine_access *a)
{
	while (a) {
		struct engine_access *next = a->next;
		grant(e, a->task);
		a = next;
	}
}

/* The variable's side (variable lock held). Appending returns whether the access is
 * granted at once; completing returns the chain of accesses granted now. */

static void queue_append(struct engine_var *v, struct engine_access *a)
{
	a->next = NULL;
	if (v->tail)
		v->tail->next = a;
	else
		v->head = a;
	v->tail = a;
}

static bool append_access(struct engine_var *v, struct engine_access *a)
{
	if (a->write) {
		v->writes_pushed++;
		if (!v->pending_write) {
			v->pending_write = a;
			a->next = NULL;
			return v->running_reads == 0;
		}
	} else if (!v->pending_write) {
		v->running_reads++;
		return true;
	}
	queue_append(v, a);
	return false;
}

static struct engine_access *complete_read(struct engine_var *v)
{
	if (--v->running_reads == 0 && v->pending_write)
		return v->pending_write;
	return NULL;
}

static struct engine_access *complete_write(struct engine_var *v)
{
	struct engine_access *first = NULL, *last = NULL;
	v->writes_done++;
	if (v->n_waiters)
		pthread_cond_broadcast(&v->written);
	/* The run of reads behind the write goes at once... */
	while (v->head && !v->head->write) {
		if (!first)
			first = v->head;
		last = v->head;
		v->running_reads++;
		v->head = v->head->next;
	}
	if (last)
		last->next = NULL;
	/* ...and the next write after them, or alone. */
	v->pending_write = v->head;
	if (v->head) {
		v->head = v->head->next;
		v->pending_write->next = NULL;
		if (!first)
			first = v->pending_write;
	}
	if (!v->head)
		v->tail = NULL;
	return first;
}

static void var_destroy(struct engine_var *v)
{
	pthread_cond_destroy(&v->written);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* Running a task. */

static void keep_error(struct threaded_engine *e, int rc, const char *name)
{
	char msg[ENGINE_ERROR_MAX];
	/* The message is per thread: copy it here, on the worker, before anything else. */
	engine_error_capture(rc, name, msg, sizeof msg);
	pthread_mutex_lock(&e->lock);
	if (!e->error_code) {
		e->error_code = rc;
		memcpy(e->error_msg, msg, sizeof msg);
	}
	pthread_mutex_unlock(&e->lock);
}

static void run_task(struct threaded_engine *e, struct engine_task *t)
{
	if (!t->deletes_var) {
		int rc;
		mx_error_clear();
		if ((rc = t->fn(t->arg)))
			keep_error(e, rc, t->name);
	}
	if (t->cleanup)
		t->cleanup(t->arg);
	for (int i = 0; i < t->n_access; i++) {
		struct engine_access *a = &t->access[i];
		struct engine_var *v = a->var;
		struct engine_access *next;
		pthread_mutex_lock(&v->lock);
		next = a->write ? complete_write(v) : complete_read(v);
		pthread_mutex_unlock(&v->lock);
		if (t->deletes_var) {
			/* The last access v will see: engine_var_free forbids later pushes. */
			var_destroy(v);
			continue;
		}
		grant_chain(e, next);
	}
	free(t);
	pthread_mutex_lock(&e->lock);
	if (--e->pending == 0)
		pthread_cond_broadcast(&e->idle);
	pthread_mutex_unlock(&e->lock);
}

static void *worker_main(void *arg)
{
	struct threaded_engine *e = arg;
	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct engine_task *t;
		while (!e->n_ready && !e->stopping)
			pthread_cond_wait(&e->work, &e->lock);
		if (!e->n_ready)
			break;
		t = heap_pop(e);
		pthread_mutex_unlock(&e->lock);
		run_task(e, t);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* Pushing. */

static bool has_var(const struct engine_task *t, const struct engine_var *v)
{
	for (int i = 0; i < t->n_access; i++)
		if (t->access[i].var == v)
			return true;
	return false;
}

static void add_access(struct engine_task *t, struct engine_var *v, bool write)
{
	if (!v || has_var(t, v))
		return;
	t->access[t->n_access++] = (struct engine_access){ .task = t, .var = v, .write = write };
}

static int push_task(struct threaded_engine *e, engine_fn fn, void *arg, void (*cleanup)(void *arg),
		     struct engine_var *const *reads, int n_reads,
		     struct engine_var *const *writes, int n_writes, int priority, const char *name,
		     bool deletes_var)
{
	size_t name_len = name ? strlen(name) + 1 : 0;
	int n = (n_reads > 0 ? n_reads : 0) + (n_writes > 0 ? n_writes : 0);
	struct engine_task *t = malloc(sizeof *t + n * sizeof t->access[0] + name_len);
	if (!t)
		goto nomem;
	t->fn = fn;
	t->arg = arg;
	t->cleanup = cleanup;
	t->priority = priority;
	t->n_access = 0;
	t->deletes_var = deletes_var;
	t->name = NULL;
	if (name)
		t->name = memcpy((char *)&t->access[n], name, name_len);
	/* Writes first, so a variable in both lists counts as written. */
	for (int i = 0; i < n_writes; i++)
		add_access(t, writes[i], true);
	for (int i = 0; i < n_reads; i++)
		add_access(t, reads[i], false);
	atomic_init(&t->wait, t->n_access + 1);

	pthread_mutex_lock(&e->lock);
	/* Room in the heap for every pending task, so that granting never allocates. */
	if (e->pending + 1 > e->ready_cap) {
		int cap = e->ready_cap ? 2 * e->ready_cap : 64;
		struct engine_task **ready = realloc(e->ready, cap * sizeof *ready);
		if (!ready) {
			pthread_mutex_unlock(&e->lock);
			goto nomem;
		}
		e->ready = ready;
		e->ready_cap = cap;
	}
	e->pending++;
	pthread_mutex_unlock(&e->lock);

	pthread_mutex_lock(&e->push_lock);
	t->seq = e->next_seq++;
	for (int i = 0; i < t->n_access; i++) {
		struct engine_var *v = t->access[i].var;
		bool granted;
		pthread_mutex_lock(&v->lock);
		granted = append_access(v, &t->access[i]);
		pthread_mutex_unlock(&v->lock);
		if (granted)
			grant(e, t); /* never the last grant: the push holds one */
	}
	pthread_mutex_unlock(&e->push_lock);
	grant(e, t);
	return MX_OK;
nomem:
	free(t);
	if (cleanup)
		cleanup(arg);
	return mx_error(MX_ERR_NOMEM, "engine_push: %s: out of memory", name ? name : "task");
}

static int threaded_push(struct engine *base, engine_fn fn, void *arg, void (*cleanup)(void *arg),
			 struct engine_var *const *reads, int n_reads,
			 struct engine_var *const *writes, int n_writes, int priority, const char *name)
{
	return push_task((struct threaded_engine *)base, fn, arg, cleanup, reads, n_reads, writes,
			 n_writes, priority, name, false);
}

/* Variables. */

static struct engine_var *threaded_var_new(struct engine *base)
{
	struct engine_var *v = calloc(1, sizeof *v);
	if (!v) {
		mx_error(MX_ERR_NOMEM, "engine_var_new: out of memory");
		return NULL;
	}
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->written, NULL);
	return v;
}

static void threaded_var_free(struct engine *base, struct engine_var *v)
{
	struct threaded_engine *e = (struct threaded_engine *)base;
	bool idle;
	pthread_mutex_lock(&v->lock);
	idle = !v->pending_write && !v->running_reads;
	pthread_mutex_unlock(&v->lock);
	if (idle) {
		var_destroy(v);
		return;
	}
	/* Tasks are pending on v: a deletion that writes v runs after them. Without memory
	 * for it, v is left allocated rather than freed under a running task. */
	if (push_task(e, NULL, NULL, NULL, NULL, 0, &v, 1, 0, "engine_var_free", true))
		mx_error_clear();
}

/* Waiting. */

static int take_error(struct threaded_engine *e)
{
	int rc;
	char msg[ENGINE_ERROR_MAX];
	pthread_mutex_lock(&e->lock);
	rc = e->error_code;
	if (rc) {
		memcpy(msg, e->error_msg, sizeof msg);
		e->error_code = 0;
	}
	pthread_mutex_unlock(&e->lock);
	return rc ? mx_error(rc, "%s", msg) : MX_OK;
}

static int threaded_wait_var(struct engine *base, struct engine_var *v)
{
	struct threaded_engine *e = (struct threaded_engine *)base;
	if (v) {
		pthread_mutex_lock(&v->lock);
		unsigned long target = v->writes_pushed;
		v->n_waiters++;
		while (v->writes_done < target)
			pthread_cond_wait(&v->written, &v->lock);
		v->n_waiters--;
		pthread_mutex_unlock(&v->lock);
	}
	return take_error(e);
}

/* A write of v that only signals: it is granted once every earlier access is done. */
struct sync_point {
	pthread_mutex_t lock;
	pthread_cond_t reached;
	bool done;
};

static int signal_sync(void *arg)
{
	struct sync_point *s = arg;
	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_cond_signal(&s->reached);
	pthread_mutex_unlock(&s->lock);
	return MX_OK;
}

static int threaded_wait_to_write(struct engine *base, struct engine_var *v)
{
	struct threaded_engine *e = (struct threaded_engine *)base;
	struct sync_point s = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	int rc;
	if (!v)
		return take_error(e);
	/* Ahead of every ready task: it does nothing but wake this thread. */
	if ((rc = push_task(e, signal_sync, &s, NULL, NULL, 0, &v, 1, INT_MAX, "engine_wait_to_write", false)))
		return rc;
	pthread_mutex_lock(&s.lock);
	while (!s.done)
		pthread_cond_wait(&s.reached, &s.lock);
	pthread_mutex_unlock(&s.lock);
	pthread_cond_destroy(&s.reached);
	pthread_mutex_destroy(&s.lock);
	return take_error(e);
}

static int threaded_wait_all(struct engine *base)
{
	struct threaded_engine *e = (struct threaded_engine *)base;
	pthread_mutex_lock(&e->lock);
	while (e->pending)
		pthread_cond_wait(&e->idle, &e->lock);
	pthread_mutex_unlock(&e->lock);
	return take_error(e);
}

/* The engine. */

static void stop_workers(struct threaded_engine *e, int n_started)
{
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->lock);
	for (int i = 0; i < n_started; i++)
		pthread_join(e->threads[i], NULL);
}

static void destroy(struct threaded_engine *e)
{
	pthread_cond_destroy(&e->idle);
	pthread_cond_destroy(&e->work);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->push_lock);
	free(e->threads);
	free(e->ready);
	free(e);
}

static void threaded_free(struct engine *base)
{
	struct threaded_engine *e = (struct threaded_engine *)base;
	pthread_mutex_lock(&e->lock);
	while (e->pending)
		pthread_cond_wait(&e->idle, &e->lock);
	pthread_mutex_unlock(&e->lock);
	stop_workers(e, e->n_threads);
	destroy(e);
}

static const struct engine_ops threaded_ops = {
	.free = threaded_free,
	.var_new = threaded_var_new,
	.var_free = threaded_var_free,
	.push = threaded_push,
	.wait_var = threaded_wait_var,
	.wait_to_write = threaded_wait_to_write,
	.wait_all = threaded_wait_all,
};

struct engine *engine_threaded_create(int num_threads)
{
	struct threaded_engine *e = calloc(1, sizeof *e);
	if (num_threads <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		num_threads = cores > 0 ? (int)cores : 1;
	}
	if (num_threads > MAX_THREADS)
		num_threads = MAX_THREADS;
	if (!e || !(e->threads = calloc(num_threads, sizeof *e->threads))) {
		free(e);
		mx_error(MX_ERR_NOMEM, "engine_create: out of memory");
		return NULL;
	}
	e->base.ops = &threaded_ops;
	e->base.kind = ENGINE_THREADED;
	e->base.n_workers = num_threads;
	pthread_mutex_init(&e->push_lock, NULL);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->work, NULL);
	pthread_cond_init(&e->idle, NULL);
	for (int i = 0; i < num_threads; i++) {
		int rc = pthread_create(&e->threads[i], NULL, worker_main, e);
		if (rc) {
			stop_workers(e, i);
			destroy(e);
			mx_error(MX_ERR_NOMEM, "engine_create: cannot start worker thread %d of %d: %s",
				 i + 1, num_threads, strerror(rc));
			return NULL;
		}
	}
	e->n_threads = num_threads;
	return &e->base;
}
