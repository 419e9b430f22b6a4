/* engine.h: the dependency engine interface.
 *
 * Every resource (an array's bytes, a random generator, temporary space) has an engine
 * variable. A task names the variables it reads and those it writes; the engine runs it
 * once every earlier task that writes what it reads, or reads or writes what it writes,
 * is done. Tasks without such conflicts may run at once. An error inside a task is
 * kept and returned by the next wait, with its message.
 *
 * Two engines sit behind this interface:
 * - ENGINE_NAIVE runs a task inside engine_push, in push order, which satisfies every
 *   ordering rule trivially and is exactly reproducible (for debugging).
 * - ENGINE_THREADED is MXNet's ThreadedEngine: each variable keeps a FIFO of pending
 *   accesses (a run of reads goes at once, a write alone), a task whose accesses are
 *   all granted enters a ready queue (higher priority first, push order among equals)
 *   served by a pool of worker threads. engine_push returns at once.
 *
 *   struct engine *e = engine_create_from_env(ENGINE_THREADED, 0);
 *   struct engine_var *a = engine_var_new(e), *b = engine_var_new(e);
 *   engine_push(e, scale_task, arg, free, &a, 1, &b, 1, 0, "scale");  // b = 2 * a
 *   if ((rc = engine_wait_var(e, b))) ... mx_error_message() names the task ...
 *   engine_var_free(e, a); engine_var_free(e, b); engine_free(e);
 *
 * Functions are safe to call from any thread and from inside a task (a task may push
 * more tasks), except the waits and engine_free, which must not be called from a task
 * (the task would wait for itself). */
#ifndef MX_ENGINE_H
#define MX_ENGINE_H

struct engine;
struct engine_var;

enum engine_kind { ENGINE_NAIVE = 0, ENGINE_THREADED = 1 };

/* A task: returns MX_OK, or an mx_status with the message set through mx_error(). */
typedef int (*engine_fn)(void *arg);

/* Returns a new engine, or NULL with an error set; free it with engine_free(), which
 * waits for all pushed tasks first (an error they raised and no wait reported is
 * dropped). num_threads: worker threads of the threaded engine, <= 0 for one per
 * core; the naive engine has none. */
struct engine *engine_create(enum engine_kind kind, int num_threads);
/* engine_create with MXNet's variables over the arguments, which are the defaults:
 * MXNET_ENGINE_TYPE = NaiveEngine (naive), ThreadedEngine or ThreadedEnginePerDevice
 * (threaded); MXNET_CPU_WORKER_NTHREADS = the number of worker threads. Returns NULL
 * with an error naming the variable when one holds something else. */
struct engine *engine_create_from_env(enum engine_kind default_kind, int num_threads);
void engine_free(struct engine *e);

/* Returns a new variable (NULL when out of memory). engine_var_free() may be called with
 * tasks still pending on it: it is released after them. No task may be pushed on v
 * after engine_var_free(e, v). */
struct engine_var *engine_var_new(struct engine *e);
void engine_var_free(struct engine *e, struct engine_var *v);

/* Schedules fn(arg). cleanup(arg), when not NULL, runs after fn whatever its result
 * (and before the task counts as done for the waits). Returns MX_OK, or an error if
 * the task could not be queued (MX_ERR_INVALID for a NULL fn, MX_ERR_NOMEM; it is then
 * not run, but cleanup still is). A variable must not appear in both lists; if it
 * does, it counts as written. NULL entries and repeats are ignored. Higher priority
 * first among ready tasks, push order among equals. name (copied) is for traces and
 * error messages. */
int engine_push(struct engine *e, engine_fn fn, void *arg, void (*cleanup)(void *arg),
		struct engine_var *const *reads, int n_reads,
		struct engine_var *const *writes, int n_writes, int priority, const char *name);

/* Waits until every task pushed so far that writes v is done (as MXNet's WaitForVar:
 * reads of v pushed before may still run). Returns the first error raised by any task
 * since the last wait (and clears it), else MX_OK; the message is set on the calling
 * thread, "task name: task's message". */
int engine_wait_var(struct engine *e, struct engine_var *v);
/* Waits until every task pushed so far that reads or writes v is done (MXNet's
 * WaitToWrite): call it before the caller itself writes v's bytes, e.g. to copy the
 * next batch into an array that tasks still read. Same error rule. */
int engine_wait_to_write(struct engine *e, struct engine_var *v);
/* Waits for every pushed task; same error rule. */
int engine_wait_all(struct engine *e);
/* How many tasks may run at once (1 for the naive engine). */
int engine_num_workers(const struct engine *e);

#endif
