/* engine.h: the dependency engine interface.
 *
 * Every resource (an array's bytes, a random generator, temporary space) has an engine
 * variable. A task names the variables it reads and those it writes; the engine runs it
 * once every earlier task that writes what it reads, or reads or writes what it writes,
 * is done. Tasks without such conflicts may run at once. An error inside a task is
 * kept and returned by the next wait, with its message.
 *
 * This build has the naive engine: a task runs inside engine_push, in push order, which
 * satisfies every ordering rule trivially and is exactly reproducible. The executor and
 * the trainer already describe all of their work this way, so a threaded engine is a
 * drop-in. */
#ifndef MX_ENGINE_H
#define MX_ENGINE_H

struct engine;
struct engine_var;

enum engine_kind { ENGINE_NAIVE = 0 };

/* A task: returns MX_OK, or an mx_status with the message set through mx_error(). */
typedef int (*engine_fn)(void *arg);

/* Returns a new engine, or NULL with an error set; free it with engine_free(), which
 * waits for all pushed tasks first. */
struct engine *engine_create(enum engine_kind kind, int num_threads);
void engine_free(struct engine *e);

/* Returns a new variable (NULL when out of memory). engine_var_free() may be called with
 * tasks still pending on it: it is released after them. */
struct engine_var *engine_var_new(struct engine *e);
void engine_var_free(struct engine *e, struct engine_var *v);

/* Schedules fn(arg). cleanup(arg), when not NULL, runs after fn whatever its result.
 * Returns MX_OK, or an error if the task could not be queued (it is then not run, but
 * cleanup still is). A variable must not appear in both lists. Higher priority first
 * among ready tasks. name is for traces and error messages. */
int engine_push(struct engine *e, engine_fn fn, void *arg, void (*cleanup)(void *arg),
		struct engine_var *const *reads, int n_reads,
		struct engine_var *const *writes, int n_writes, int priority, const char *name);

/* Waits until every task pushed so far that writes v is done. Returns the first error
 * raised by any task since the last wait (and clears it), else MX_OK. */
int engine_wait_var(struct engine *e, struct engine_var *v);
/* Waits for every pushed task; same error rule. */
int engine_wait_all(struct engine *e);

#endif
