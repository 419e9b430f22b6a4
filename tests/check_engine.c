/* check_engine.c: the dependency engine, naive and threaded: ordering of reads and
 * writes, concurrency, priorities, a random DAG against sequential execution, errors,
 * variable and engine release, choosing the engine from MXNet's variables. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "testutil.h"

/* Engines the loop tests run on (_i indexes this table); the tests that need threads
 * use 1 (four workers) or 2 (one worker). */
static const struct {
	enum engine_kind kind;
	int threads;
} configs[] = { { ENGINE_NAIVE, 0 }, { ENGINE_THREADED, 4 }, { ENGINE_THREADED, 1 } };
#define N_CONFIGS 3

static struct engine *make_engine(int config)
{
	struct engine *e = engine_create(configs[config].kind, configs[config].threads);
	ck_assert_msg(e != NULL, "engine_create: %s", mx_error_message());
	return e;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A counter threads can wait on, with a timeout so that a broken engine fails a test
 * instead of hanging it. */
struct latch {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int count;
};
#define LATCH_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static void latch_add(struct latch *l)
{
	pthread_mutex_lock(&l->lock);
	l->count++;
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
}

/* Waits until the count reaches n, at most ms milliseconds; returns the count. */
static int latch_wait(struct latch *l, int n, int ms)
{
	struct timespec until;
	int count;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	while (l->count < n)
		if (pthread_cond_timedwait(&l->changed, &l->lock, &until) == ETIMEDOUT)
			break;
	count = l->count;
	pthread_mutex_unlock(&l->lock);
	return count;
}

/* Ordering: tasks that sleep before touching a shared int, so a violation shows. */

struct cell_task {
	int *cell;
	int value;   /* what a write stores */
	int *seen;   /* where a read stores what it saw */
	int delay_ms;
};

static int write_cell(void *arg)
{
	struct cell_task *t = arg;
	sleep_ms(t->delay_ms);
	*t->cell = *t->cell * 10 + t->value;
	return MX_OK;
}

static int read_cell(void *arg)
{
	struct cell_task *t = arg;
	sleep_ms(t->delay_ms);
	*t->seen = *t->cell;
	return MX_OK;
}

START_TEST(test_read_after_write_sees_the_write)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e);
	int cell = 0, seen[3] = { -1, -1, -1 };
	struct cell_task w = { &cell, 4, NULL, 30 }, r[3];
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &v, 1, 0, "write"));
	for (int i = 0; i < 3; i++) {
		r[i] = (struct cell_task){ &cell, 0, &seen[i], 0 };
		ck_ok(engine_push(e, read_cell, &r[i], NULL, &v, 1, NULL, 0, 0, "read"));
	}
	ck_ok(engine_wait_all(e));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(seen[i], 4);
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

START_TEST(test_write_after_read_waits_for_the_reads)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e);
	int cell = 1, seen[2] = { -1, -1 };
	struct cell_task r0 = { &cell, 0, &seen[0], 30 }, r1 = { &cell, 0, &seen[1], 10 };
	struct cell_task w = { &cell, 7, NULL, 0 };
	ck_ok(engine_push(e, read_cell, &r0, NULL, &v, 1, NULL, 0, 0, "slow read"));
	ck_ok(engine_push(e, read_cell, &r1, NULL, &v, 1, NULL, 0, 0, "read"));
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &v, 1, 0, "write"));
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(seen[0], 1);
	ck_assert_int_eq(seen[1], 1);
	ck_assert_int_eq(cell, 17);
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

START_TEST(test_writes_to_one_variable_keep_push_order)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e);
	int cell = 0, seen = -1;
	struct cell_task w[9], r;
	/* Earlier writes sleep longer: run out of order, the digits would come out shuffled. */
	for (int i = 0; i < 9; i++) {
		w[i] = (struct cell_task){ &cell, i + 1, NULL, (9 - i) * 2 };
		ck_ok(engine_push(e, write_cell, &w[i], NULL, NULL, 0, &v, 1, 0, "write"));
	}
	r = (struct cell_task){ &cell, 0, &seen, 0 };
	ck_ok(engine_push(e, read_cell, &r, NULL, &v, 1, NULL, 0, 0, "read"));
	ck_ok(engine_wait_var(e, v));
	ck_assert_int_eq(cell, 123456789);
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(seen, 123456789);
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

/* A read of u that writes v waits for u's writer; waiting on v waits for that chain. */
struct copy_task {
	int *from, *to, delay_ms;
};

static int copy_cell(void *arg)
{
	struct copy_task *t = arg;
	sleep_ms(t->delay_ms);
	*t->to = *t->from + 1;
	return MX_OK;
}

START_TEST(test_wait_var_covers_the_writes_a_variable_depends_on)
{
	struct engine *e = make_engine(_i);
	struct engine_var *u = engine_var_new(e), *v = engine_var_new(e);
	int a = 0, b = 0;
	struct cell_task w = { &a, 5, NULL, 30 };
	struct copy_task c = { &a, &b, 5 };
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &u, 1, 0, "write u"));
	ck_ok(engine_push(e, copy_cell, &c, NULL, &u, 1, &v, 1, 0, "v = u + 1"));
	ck_ok(engine_wait_var(e, v));
	ck_assert_int_eq(b, 6);
	engine_var_free(e, u);
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

START_TEST(test_wait_to_write_waits_for_pending_reads_and_writes)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e);
	int cell = 0, seen[2] = { -1, -1 };
	struct cell_task w = { &cell, 2, NULL, 20 };
	struct cell_task r0 = { &cell, 0, &seen[0], 40 }, r1 = { &cell, 0, &seen[1], 10 };
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &v, 1, 0, "write"));
	ck_ok(engine_push(e, read_cell, &r0, NULL, &v, 1, NULL, 0, 0, "slow read"));
	ck_ok(engine_push(e, read_cell, &r1, NULL, &v, 1, NULL, 0, 0, "read"));
	ck_ok(engine_wait_to_write(e, v));
	cell = 9; /* the caller writes the bytes itself */
	ck_assert_int_eq(seen[0], 2);
	ck_assert_int_eq(seen[1], 2);
	ck_ok(engine_push(e, read_cell, &r1, NULL, &v, 1, NULL, 0, 0, "read again"));
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(seen[1], 9);
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

/* Concurrency: two readers that each wait for the other to start. */

struct meet_task {
	struct latch *started;
	int n;        /* how many must have started */
	int timeout_ms;
};

static int meet(void *arg)
{
	struct meet_task *t = arg;
	int met;
	latch_add(t->started);
	if ((met = latch_wait(t->started, t->n, t->timeout_ms)) < t->n)
		return mx_error(MX_ERR_INTERNAL, "only %d of %d tasks ran at once", met, t->n);
	return MX_OK;
}

/* Holds a worker until the test releases it. */
struct hold_task {
	struct latch *started, *release;
};

static int hold(void *arg)
{
	struct hold_task *t = arg;
	latch_add(t->started);
	if (latch_wait(t->release, 1, 5000) < 1)
		return mx_error(MX_ERR_INTERNAL, "never released");
	return MX_OK;
}

START_TEST(test_readers_of_one_variable_run_at_once)
{
	struct engine *e = make_engine(1);
	struct engine_var *v = engine_var_new(e);
	struct latch started = LATCH_INIT;
	struct meet_task m = { &started, 2, 5000 };
	ck_ok(engine_push(e, meet, &m, NULL, &v, 1, NULL, 0, 0, "reader 1"));
	ck_ok(engine_push(e, meet, &m, NULL, &v, 1, NULL, 0, 0, "reader 2"));
	ck_ok(engine_wait_all(e));
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

START_TEST(test_readers_released_by_a_write_run_at_once)
{
	struct engine *e = make_engine(1);
	struct engine_var *v = engine_var_new(e);
	struct latch started = LATCH_INIT;
	struct meet_task m = { &started, 2, 5000 };
	int cell = 0;
	struct cell_task w = { &cell, 1, NULL, 20 };
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &v, 1, 0, "write"));
	ck_ok(engine_push(e, meet, &m, NULL, &v, 1, NULL, 0, 0, "reader 1"));
	ck_ok(engine_push(e, meet, &m, NULL, &v, 1, NULL, 0, 0, "reader 2"));
	ck_ok(engine_wait_all(e));
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

/* The check above can fail: behind a write, the readers are kept apart. */
START_TEST(test_readers_separated_by_a_write_do_not_run_at_once)
{
	struct engine *e = make_engine(1);
	struct engine_var *v = engine_var_new(e);
	struct latch started = LATCH_INIT;
	struct meet_task m = { &started, 2, 200 };
	int cell = 0;
	struct cell_task w = { &cell, 1, NULL, 0 };
	ck_ok(engine_push(e, meet, &m, NULL, &v, 1, NULL, 0, 0, "reader 1"));
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &v, 1, 0, "write"));
	ck_ok(engine_push(e, meet, &m, NULL, &v, 1, NULL, 0, 0, "reader 2"));
	ck_assert_int_eq(engine_wait_all(e), MX_ERR_INTERNAL);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "reader 1: only 1 of 2 tasks ran at once"));
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

START_TEST(test_wait_var_does_not_wait_for_reads)
{
	struct engine *e = make_engine(1);
	struct engine_var *v = engine_var_new(e);
	struct latch started = LATCH_INIT, release = LATCH_INIT;
	struct hold_task h = { &started, &release };
	int cell = 0;
	struct cell_task w = { &cell, 3, NULL, 20 };
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &v, 1, 0, "write"));
	ck_ok(engine_push(e, hold, &h, NULL, &v, 1, NULL, 0, 0, "held read"));
	/* Were the read waited for, it would fail after 5 s and this would report it. */
	ck_ok(engine_wait_var(e, v));
	ck_assert_int_eq(cell, 3);
	latch_add(&release);
	ck_ok(engine_wait_all(e));
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

/* Priorities: one worker, held busy while tasks of mixed priority become ready. */

struct log {
	pthread_mutex_t lock;
	int n, items[64];
};

struct logged_task {
	struct log *log;
	int id;
};

static int log_id(void *arg)
{
	struct logged_task *t = arg;
	pthread_mutex_lock(&t->log->lock);
	t->log->items[t->log->n++] = t->id;
	pthread_mutex_unlock(&t->log->lock);
	return MX_OK;
}

START_TEST(test_ready_tasks_run_by_priority_then_push_order)
{
	struct engine *e = make_engine(2);
	struct latch started = LATCH_INIT, release = LATCH_INIT;
	struct hold_task h = { &started, &release };
	struct log log = { PTHREAD_MUTEX_INITIALIZER, 0, { 0 } };
	static const int priority[] = { 0, 5, 3, 5, -1, 9, 3 };
	static const int want[] = { 5, 1, 3, 2, 6, 0, 4 };
	struct logged_task t[7];
	ck_ok(engine_push(e, hold, &h, NULL, NULL, 0, NULL, 0, 0, "hold"));
	ck_assert_int_eq(latch_wait(&started, 1, 5000), 1);
	for (int i = 0; i < 7; i++) {
		t[i] = (struct logged_task){ &log, i };
		ck_ok(engine_push(e, log_id, &t[i], NULL, NULL, 0, NULL, 0, priority[i], "logged"));
	}
	latch_add(&release);
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(log.n, 7);
	for (int i = 0; i < 7; i++)
		ck_assert_msg(log.items[i] == want[i], "position %d ran task %d, want %d", i, log.items[i], want[i]);
	engine_free(e);
}
END_TEST

START_TEST(test_priority_never_overtakes_a_dependency)
{
	struct engine *e = make_engine(2);
	struct engine_var *v = engine_var_new(e);
	struct latch started = LATCH_INIT, release = LATCH_INIT;
	struct hold_task h = { &started, &release };
	struct log log = { PTHREAD_MUTEX_INITIALIZER, 0, { 0 } };
	struct logged_task t[3] = { { &log, 0 }, { &log, 1 }, { &log, 2 } };
	ck_ok(engine_push(e, hold, &h, NULL, NULL, 0, NULL, 0, 0, "hold"));
	ck_assert_int_eq(latch_wait(&started, 1, 5000), 1);
	ck_ok(engine_push(e, log_id, &t[0], NULL, NULL, 0, &v, 1, 0, "low write"));
	ck_ok(engine_push(e, log_id, &t[1], NULL, &v, 1, NULL, 0, 100, "urgent read"));
	ck_ok(engine_push(e, log_id, &t[2], NULL, NULL, 0, NULL, 0, 50, "urgent, free"));
	latch_add(&release);
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(log.n, 3);
	ck_assert_int_eq(log.items[0], 2);
	ck_assert_int_eq(log.items[1], 0);
	ck_assert_int_eq(log.items[2], 1);
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

/* A random DAG: thousands of tasks with random read and write sets over many variables,
 * each an order-sensitive update; the engine must give sequential execution's values. */

#define DAG_VARS 48
#define DAG_TASKS 4000

struct dag_task {
	uint64_t *x;
	int id, n_reads, n_writes;
	int reads[4], writes[3];
	atomic_int *cleaned;
};

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static int dag_run(void *arg)
{
	struct dag_task *t = arg;
	uint64_t h = (uint64_t)t->id * 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < t->n_reads; i++)
		h = mix(h ^ t->x[t->reads[i]]);
	for (int i = 0; i < t->n_writes; i++)
		h = mix(h ^ t->x[t->writes[i]]);  /* an update in place reads its old value */
	for (int i = 0; i < t->n_writes; i++)
		t->x[t->writes[i]] = mix(h + (uint64_t)t->writes[i]);
	return MX_OK;
}

static void dag_cleanup(void *arg)
{
	struct dag_task *t = arg;
	atomic_fetch_add(t->cleaned, 1);
}

/* Small deterministic generator, so a failure repeats. */
static uint32_t next_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

START_TEST(test_random_dag_gives_sequential_results)
{
	struct engine *e = make_engine(_i);
	struct engine_var *vars[DAG_VARS];
	uint64_t x[DAG_VARS], ref[DAG_VARS], seed = 12345 + _i;
	struct dag_task *tasks = calloc(DAG_TASKS, sizeof *tasks);
	atomic_int cleaned = 0;
	ck_assert_ptr_nonnull(tasks);
	for (int v = 0; v < DAG_VARS; v++) {
		vars[v] = engine_var_new(e);
		x[v] = ref[v] = (uint64_t)v;
	}
	for (int i = 0; i < DAG_TASKS; i++) {
		struct dag_task *t = &tasks[i];
		struct engine_var *r[4], *w[3];
		t->x = x;
		t->id = i;
		t->cleaned = &cleaned;
		t->n_reads = next_rand(&seed) % 5;
		t->n_writes = 1 + next_rand(&seed) % 3;
		/* Reads may repeat; now and then a read also names a written variable
		 * (it then counts as written). */
		for (int k = 0; k < t->n_writes; k++) {
			int dup;
			do {
				t->writes[k] = next_rand(&seed) % DAG_VARS;
				dup = 0;
				for (int j = 0; j < k; j++)
					dup |= t->writes[j] == t->writes[k];
			} while (dup);
			w[k] = vars[t->writes[k]];
		}
		for (int k = 0; k < t->n_reads; k++) {
			t->reads[k] = next_rand(&seed) % DAG_VARS;
			r[k] = vars[t->reads[k]];
		}
		ck_ok(engine_push(e, dag_run, t, dag_cleanup, r, t->n_reads, w, t->n_writes,
				  (int)(next_rand(&seed) % 5) - 2, "dag"));
		/* The same task, in order, on the reference. */
		struct dag_task seq = *t;
		seq.x = ref;
		dag_run(&seq);
		if (i % 250 == 249) {
			int v = next_rand(&seed) % DAG_VARS;
			ck_ok(engine_wait_var(e, vars[v]));
			ck_assert_msg(x[v] == ref[v], "after task %d, variable %d: %llx, sequential %llx", i, v,
				      (unsigned long long)x[v], (unsigned long long)ref[v]);
		}
	}
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(atomic_load(&cleaned), DAG_TASKS);
	for (int v = 0; v < DAG_VARS; v++) {
		ck_assert_msg(x[v] == ref[v], "variable %d: %llx, sequential %llx", v, (unsigned long long)x[v],
			      (unsigned long long)ref[v]);
		engine_var_free(e, vars[v]);
	}
	engine_free(e);
	free(tasks);
}
END_TEST

/* Two threads push onto the same variables in opposite orders. */

struct pusher {
	struct engine *e;
	struct engine_var *vars[2];
	long *counts;
};

static int count_both(void *arg)
{
	long *counts = arg;
	counts[0]++;
	counts[1]++;
	return MX_OK;
}

static void *push_many(void *arg)
{
	struct pusher *p = arg;
	for (int i = 0; i < 2000; i++)
		if (engine_push(p->e, count_both, p->counts, NULL, NULL, 0, p->vars, 2, 0, "count"))
			return (void *)1;
	return NULL;
}

START_TEST(test_threads_pushing_at_once_keep_every_write)
{
	struct engine *e = make_engine(_i);
	struct engine_var *a = engine_var_new(e), *b = engine_var_new(e);
	long counts[2] = { 0, 0 };
	struct pusher p1 = { e, { a, b }, counts }, p2 = { e, { b, a }, counts };
	pthread_t t1, t2;
	void *r1, *r2;
	ck_assert_int_eq(pthread_create(&t1, NULL, push_many, &p1), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, push_many, &p2), 0);
	pthread_join(t1, &r1);
	pthread_join(t2, &r2);
	ck_assert_ptr_null(r1);
	ck_assert_ptr_null(r2);
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(counts[0], 4000);
	ck_assert_int_eq(counts[1], 4000);
	engine_var_free(e, a);
	engine_var_free(e, b);
	engine_free(e);
}
END_TEST

/* A task may push more work; the waits cover it. */

struct spawn_task {
	struct engine *e;
	struct engine_var *v;
	int *cell;
	struct cell_task child;
};

static int spawn(void *arg)
{
	struct spawn_task *t = arg;
	*t->cell = 1;
	t->child = (struct cell_task){ t->cell, 2, NULL, 20 };
	return engine_push(t->e, write_cell, &t->child, NULL, NULL, 0, &t->v, 1, 0, "child");
}

START_TEST(test_a_task_can_push_a_task)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e);
	int cell = 0;
	struct spawn_task s = { e, v, &cell, { 0 } };
	ck_ok(engine_push(e, spawn, &s, NULL, NULL, 0, &v, 1, 0, "parent"));
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(cell, 12);
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

/* Errors: the first one, with its message and status, reported once. */

struct fail_task {
	int code;
	const char *msg; /* NULL: fail without a message */
	int delay_ms;
};

static int failing(void *arg)
{
	struct fail_task *t = arg;
	sleep_ms(t->delay_ms);
	return t->msg ? mx_error(t->code, "%s (code %d)", t->msg, t->code) : t->code;
}

START_TEST(test_task_error_is_reported_once_by_wait_var)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e);
	struct fail_task f = { MX_ERR_SHAPE, "shapes 2x3 and 4x5 do not fit", 10 };
	int cell = 0;
	struct cell_task w = { &cell, 8, NULL, 0 };
	ck_ok(engine_push(e, failing, &f, NULL, NULL, 0, &v, 1, 0, "layer fc1"));
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &v, 1, 0, "next write"));
	ck_assert_int_eq(engine_wait_var(e, v), MX_ERR_SHAPE);
	ck_assert_str_eq(mx_error_message(), "layer fc1: shapes 2x3 and 4x5 do not fit (code 2)");
	ck_assert_int_eq(cell, 8); /* later tasks still run */
	ck_ok(engine_wait_var(e, v));
	ck_ok(engine_wait_all(e));
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

START_TEST(test_first_task_error_is_reported_once_by_wait_all)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e), *u = engine_var_new(e);
	struct fail_task f1 = { MX_ERR_IO, "first", 10 }, f2 = { MX_ERR_FORMAT, "second", 0 };
	ck_ok(engine_push(e, failing, &f1, NULL, NULL, 0, &v, 1, 0, "task one"));
	ck_ok(engine_push(e, failing, &f2, NULL, &v, 1, &u, 1, 0, "task two"));
	mx_error(MX_ERR_INVALID, "the caller's own message");
	ck_assert_int_eq(engine_wait_all(e), MX_ERR_IO);
	ck_assert_str_eq(mx_error_message(), "task one: first (code 3)");
	ck_ok(engine_wait_all(e));
	/* A new error after the report is reported again. */
	ck_ok(engine_push(e, failing, &f2, NULL, NULL, 0, &u, 1, 0, "task three"));
	ck_assert_int_eq(engine_wait_all(e), MX_ERR_FORMAT);
	ck_assert_str_eq(mx_error_message(), "task three: second (code 4)");
	engine_var_free(e, v);
	engine_var_free(e, u);
	engine_free(e);
}
END_TEST

START_TEST(test_task_error_without_message_names_its_status)
{
	struct engine *e = make_engine(_i);
	struct fail_task f = { MX_ERR_INVALID, NULL, 0 };
	mx_error(MX_ERR_IO, "stale message of an earlier failure");
	ck_ok(engine_push(e, failing, &f, NULL, NULL, 0, NULL, 0, 0, "silent"));
	ck_assert_int_eq(engine_wait_all(e), MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "silent: failed with status 1");
	engine_free(e);
}
END_TEST

/* Cleanup: after fn, for every task, failed or refused. */

struct tracked {
	atomic_int ran, cleaned;
	int cleaned_after_run;  /* set by cleanup: had fn run? */
	bool fails;
};

static void tracked_init(struct tracked *t, bool fails)
{
	atomic_init(&t->ran, 0);
	atomic_init(&t->cleaned, 0);
	t->cleaned_after_run = 0;
	t->fails = fails;
}

static int tracked_run(void *arg)
{
	struct tracked *t = arg;
	atomic_fetch_add(&t->ran, 1);
	return t->fails ? mx_error(MX_ERR_INTERNAL, "this one fails") : MX_OK;
}

static void tracked_cleanup(void *arg)
{
	struct tracked *t = arg;
	t->cleaned_after_run = atomic_load(&t->ran) == 1;
	atomic_fetch_add(&t->cleaned, 1);
}

START_TEST(test_cleanup_runs_after_fn_for_every_task)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e);
	struct tracked t[90];
	for (int i = 0; i < 90; i++) {
		tracked_init(&t[i], i % 3 == 2);
		ck_ok(engine_push(e, tracked_run, &t[i], tracked_cleanup, &v, i % 2, &v, !(i % 2),
				  i % 5, "tracked"));
	}
	ck_assert_int_eq(engine_wait_all(e), MX_ERR_INTERNAL);
	for (int i = 0; i < 90; i++) {
		ck_assert_int_eq(atomic_load(&t[i].ran), 1);
		ck_assert_int_eq(atomic_load(&t[i].cleaned), 1);
		ck_assert_int_eq(t[i].cleaned_after_run, 1);
	}
	engine_var_free(e, v);
	engine_free(e);
}
END_TEST

START_TEST(test_push_without_a_function_is_refused_and_cleaned_up)
{
	struct engine *e = make_engine(_i);
	struct tracked t;
	tracked_init(&t, false);
	ck_assert_int_eq(engine_push(e, NULL, &t, tracked_cleanup, NULL, 0, NULL, 0, 0, "empty"),
			 MX_ERR_INVALID);
	ck_assert_str_eq(mx_error_message(), "engine_push: empty: no task function");
	ck_assert_int_eq(atomic_load(&t.cleaned), 1);
	ck_ok(engine_wait_all(e));
	engine_free(e);
}
END_TEST

/* Release: variables and the engine with tasks still pending. */

START_TEST(test_var_free_with_pending_tasks_releases_after_them)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v = engine_var_new(e), *r = engine_var_new(e), *idle = engine_var_new(e);
	struct engine_var *out = engine_var_new(e);
	int cell = 0, cell2 = 9, seen = -1, seen2 = -1;
	struct cell_task w = { &cell, 5, NULL, 40 }, rd = { &cell, 0, &seen, 20 };
	struct cell_task rd2 = { &cell2, 0, &seen2, 30 };
	ck_ok(engine_push(e, write_cell, &w, NULL, NULL, 0, &v, 1, 0, "write"));
	ck_ok(engine_push(e, read_cell, &rd, NULL, &v, 1, NULL, 0, 0, "read"));
	engine_var_free(e, v);     /* pending write and read */
	ck_ok(engine_push(e, read_cell, &rd2, NULL, &r, 1, &out, 1, 0, "read r"));
	engine_var_free(e, r);     /* pending read only (on the threaded engine) */
	engine_var_free(e, idle);  /* nothing pending */
	ck_ok(engine_wait_var(e, out));
	ck_ok(engine_wait_all(e));
	ck_assert_int_eq(cell, 5);
	ck_assert_int_eq(seen, 5);
	ck_assert_int_eq(seen2, 9);
	engine_var_free(e, out);
	engine_free(e);
}
END_TEST

START_TEST(test_engine_free_runs_pending_tasks_first)
{
	struct engine *e = make_engine(_i);
	struct engine_var *v[3];
	struct tracked t[40];
	for (int k = 0; k < 3; k++)
		v[k] = engine_var_new(e);
	for (int i = 0; i < 40; i++) {
		tracked_init(&t[i], i % 7 == 0);
		ck_ok(engine_push(e, tracked_run, &t[i], tracked_cleanup, &v[i % 3], 1, &v[(i + 1) % 3], 1, 0,
				  "tracked"));
	}
	for (int k = 0; k < 3; k++)
		engine_var_free(e, v[k]);
	engine_free(e);
	for (int i = 0; i < 40; i++) {
		ck_assert_int_eq(atomic_load(&t[i].ran), 1);
		ck_assert_int_eq(t[i].cleaned_after_run, 1);
	}
}
END_TEST

/* Choosing the engine with MXNet's variables. */

struct where_task {
	pthread_t thread;
};

static int note_thread(void *arg)
{
	((struct where_task *)arg)->thread = pthread_self();
	return MX_OK;
}

static bool runs_on_caller(struct engine *e)
{
	struct where_task w;
	ck_ok(engine_push(e, note_thread, &w, NULL, NULL, 0, NULL, 0, 0, "where"));
	ck_ok(engine_wait_all(e));
	return pthread_equal(w.thread, pthread_self());
}

START_TEST(test_engine_type_comes_from_mxnet_engine_type)
{
	struct engine *e;
	unsetenv("MXNET_CPU_WORKER_NTHREADS");
	unsetenv("MXNET_ENGINE_TYPE");
	ck_assert_ptr_nonnull(e = engine_create_from_env(ENGINE_THREADED, 2));
	ck_assert(!runs_on_caller(e));
	engine_free(e);
	setenv("MXNET_ENGINE_TYPE", "NaiveEngine", 1);
	ck_assert_ptr_nonnull(e = engine_create_from_env(ENGINE_THREADED, 2));
	ck_assert(runs_on_caller(e));
	engine_free(e);
	setenv("MXNET_ENGINE_TYPE", "ThreadedEnginePerDevice", 1);
	ck_assert_ptr_nonnull(e = engine_create_from_env(ENGINE_NAIVE, 2));
	ck_assert(!runs_on_caller(e));
	engine_free(e);
	setenv("MXNET_ENGINE_TYPE", "ThreadedEngine", 1);
	ck_assert_ptr_nonnull(e = engine_create_from_env(ENGINE_NAIVE, 2));
	ck_assert(!runs_on_caller(e));
	engine_free(e);
	setenv("MXNET_ENGINE_TYPE", "FastEngine", 1);
	ck_assert_ptr_null(engine_create_from_env(ENGINE_NAIVE, 2));
	ck_assert_str_eq(mx_error_message(), "MXNET_ENGINE_TYPE=FastEngine: unknown engine (NaiveEngine, "
			 "ThreadedEngine or ThreadedEnginePerDevice)");
	unsetenv("MXNET_ENGINE_TYPE");
}
END_TEST

/* 3 workers: 3 tasks can meet, and 60 tasks run on at most 3 threads. */
START_TEST(test_worker_count_comes_from_mxnet_cpu_worker_nthreads)
{
	struct engine *e;
	struct latch started = LATCH_INIT;
	struct meet_task m = { &started, 3, 5000 };
	struct where_task w[60];
	int distinct = 0;
	unsetenv("MXNET_ENGINE_TYPE");
	setenv("MXNET_CPU_WORKER_NTHREADS", "3", 1);
	ck_assert_ptr_nonnull(e = engine_create_from_env(ENGINE_THREADED, 1));
	for (int i = 0; i < 3; i++)
		ck_ok(engine_push(e, meet, &m, NULL, NULL, 0, NULL, 0, 0, "meet"));
	ck_ok(engine_wait_all(e));
	for (int i = 0; i < 60; i++)
		ck_ok(engine_push(e, note_thread, &w[i], NULL, NULL, 0, NULL, 0, 0, "where"));
	ck_ok(engine_wait_all(e));
	for (int i = 0; i < 60; i++) {
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= pthread_equal(w[i].thread, w[j].thread);
		distinct += !seen;
	}
	ck_assert_int_le(distinct, 3);
	engine_free(e);
	setenv("MXNET_CPU_WORKER_NTHREADS", "three", 1);
	ck_assert_ptr_null(engine_create_from_env(ENGINE_THREADED, 1));
	ck_assert_str_eq(mx_error_message(), "MXNET_CPU_WORKER_NTHREADS=three: want a number of threads "
			 "from 1 to 1024");
	setenv("MXNET_CPU_WORKER_NTHREADS", "0", 1);
	ck_assert_ptr_null(engine_create_from_env(ENGINE_THREADED, 1));
	unsetenv("MXNET_CPU_WORKER_NTHREADS");
}
END_TEST

START_TEST(test_unknown_engine_kind_is_refused)
{
	ck_assert_ptr_null(engine_create((enum engine_kind)7, 1));
	ck_assert_str_eq(mx_error_message(), "engine_create: unknown engine kind 7");
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *order = tcase_create("ordering"), *conc = tcase_create("concurrency");
	TCase *dag = tcase_create("random dag"), *err = tcase_create("errors");
	TCase *rel = tcase_create("release"), *env = tcase_create("selection");
	tcase_add_loop_test(order, test_read_after_write_sees_the_write, 0, N_CONFIGS);
	tcase_add_loop_test(order, test_write_after_read_waits_for_the_reads, 0, N_CONFIGS);
	tcase_add_loop_test(order, test_writes_to_one_variable_keep_push_order, 0, N_CONFIGS);
	tcase_add_loop_test(order, test_wait_var_covers_the_writes_a_variable_depends_on, 0, N_CONFIGS);
	tcase_add_loop_test(order, test_wait_to_write_waits_for_pending_reads_and_writes, 0, N_CONFIGS);
	tcase_add_test(conc, test_readers_of_one_variable_run_at_once);
	tcase_add_test(conc, test_readers_released_by_a_write_run_at_once);
	tcase_add_test(conc, test_readers_separated_by_a_write_do_not_run_at_once);
	tcase_add_test(conc, test_wait_var_does_not_wait_for_reads);
	tcase_add_test(conc, test_ready_tasks_run_by_priority_then_push_order);
	tcase_add_test(conc, test_priority_never_overtakes_a_dependency);
	tcase_add_loop_test(conc, test_threads_pushing_at_once_keep_every_write, 0, N_CONFIGS);
	tcase_add_loop_test(conc, test_a_task_can_push_a_task, 0, N_CONFIGS);
	tcase_add_loop_test(dag, test_random_dag_gives_sequential_results, 0, N_CONFIGS);
	tcase_add_loop_test(err, test_task_error_is_reported_once_by_wait_var, 0, N_CONFIGS);
	tcase_add_loop_test(err, test_first_task_error_is_reported_once_by_wait_all, 0, N_CONFIGS);
	tcase_add_loop_test(err, test_task_error_without_message_names_its_status, 0, N_CONFIGS);
	tcase_add_loop_test(err, test_cleanup_runs_after_fn_for_every_task, 0, N_CONFIGS);
	tcase_add_loop_test(err, test_push_without_a_function_is_refused_and_cleaned_up, 0, N_CONFIGS);
	tcase_add_loop_test(rel, test_var_free_with_pending_tasks_releases_after_them, 0, N_CONFIGS);
	tcase_add_loop_test(rel, test_engine_free_runs_pending_tasks_first, 0, N_CONFIGS);
	tcase_add_test(env, test_engine_type_comes_from_mxnet_engine_type);
	tcase_add_test(env, test_worker_count_comes_from_mxnet_cpu_worker_nthreads);
	tcase_add_test(env, test_unknown_engine_kind_is_refused);
	/* Generous: under valgrind the threaded tests run tens of times slower. */
	tcase_set_timeout(order, 60);
	tcase_set_timeout(conc, 60);
	tcase_set_timeout(dag, 120);
	tcase_set_timeout(err, 60);
	tcase_set_timeout(rel, 60);
	tcase_set_timeout(env, 60);
	suite_add_tcase(s, order);
	suite_add_tcase(s, conc);
	suite_add_tcase(s, dag);
	suite_add_tcase(s, err);
	suite_add_tcase(s, rel);
	suite_add_tcase(s, env);
	return s;
}

int main(void) { return run_suite(engine_suite()); }
