/* threadpool.c: a fork-join pool for the pieces of one operator (see threadpool.h).
 * Workers spin briefly after a job before sleeping, because an operator's pieces come in
 * quick succession (a training step makes a few dozen calls). */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#define SPIN_ROUNDS 20000

/* One threadpool_run: lives on the caller's stack until every piece is done and every
 * worker that joined has left it. */
struct job {
	void (*fn)(void *, int);
	void *arg;
	int n;
	int next;       /* next piece to take (atomic) */
	int remaining;  /* pieces not finished (atomic) */
	int users;      /* workers inside it (under the pool lock) */
};

struct mx_threadpool {
	int n_threads;
	pthread_t *workers;
	pthread_mutex_t lock;          /* guards generation, stop, job and users */
	pthread_cond_t wake, done;
	pthread_mutex_t run_lock;      /* one threadpool_run at a time */
	unsigned long generation;      /* bumped per job (atomic reads while spinning) */
	int stop;
	struct job *job;               /* the job in progress, or NULL */
};

static void do_pieces(struct mx_threadpool *p, struct job *j)
{
	int i;
	while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_ACQ_REL)) < j->n) {
		j->fn(j->arg, i);
		if (__atomic_sub_fetch(&j->remaining, 1, __ATOMIC_ACQ_REL) == 0) {
			pthread_mutex_lock(&p->lock);
			pthread_cond_broadcast(&p->done);
			pthread_mutex_unlock(&p->lock);
		}
	}
}

static void *worker_main(void *arg)
{
	struct mx_threadpool *p = arg;
	unsigned long seen = 0;
	for (;;) {
		struct job *j;
		int spins = 0;
		while (__atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) == seen &&
		       !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) && spins++ < SPIN_ROUNDS)
			sched_yield();
		pthread_mutex_lock(&p->lock);
		while (p->generation == seen && !p->stop)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		seen = p->generation;
		j = p->job;
		if (j)
			j->users++;
		pthread_mutex_unlock(&p->lock);
		if (!j)
			continue;
		do_pieces(p, j);
		pthread_mutex_lock(&p->lock);
		if (--j->users == 0)
			pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->lock);
	}
}

struct mx_threadpool *threadpool_create(int n_threads)
{
	struct mx_threadpool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->n_threads = n_threads < 1 ? 1 : n_threads;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->run_lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	p->workers = calloc(p->n_threads, sizeof *p->workers);
	if (!p->workers) {
		free(p);
		return NULL;
	}
	for (int i = 1; i < p->n_threads; i++) {
		if (pthread_create(&p->workers[i], NULL, worker_main, p)) {
			p->n_threads = i;
			threadpool_free(p);
			return NULL;
		}
	}
	return p;
}

void threadpool_free(struct mx_threadpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (int i = 1; i < p->n_threads; i++)
		pthread_join(p->workers[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->run_lock);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	free(p->workers);
	free(p);
}

int threadpool_size(const struct mx_threadpool *p) { return p ? p->n_threads : 1; }

void threadpool_run(struct mx_threadpool *p, int n, void (*fn)(void *arg, int i), void *arg)
{
	struct job j = {fn, arg, n, 0, n, 0};
	if (!p || p->n_threads == 1 || n <= 1) {
		for (int i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	pthread_mutex_lock(&p->run_lock);
	pthread_mutex_lock(&p->lock);
	p->job = &j;
	__atomic_add_fetch(&p->generation, 1, __ATOMIC_ACQ_REL);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	do_pieces(p, &j);
	pthread_mutex_lock(&p->lock);
	while (__atomic_load_n(&j.remaining, __ATOMIC_ACQUIRE) > 0 || j.users > 0)
		pthread_cond_wait(&p->done, &p->lock);
	p->job = NULL;
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&p->run_lock);
}
