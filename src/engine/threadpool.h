/* threadpool.h: the threads inside one operator.
 *
 * mxtrain's thread policy: a pool of num_threads threads (the caller plus num_threads - 1
 * workers) splits an operator's work (batch images, output rows); OpenBLAS then runs
 * single-threaded inside each piece, so the machine never has more busy threads than
 * cores. (The engine's workers decide which operators run; this pool runs inside one.)
 *
 *   struct mx_threadpool *p = threadpool_create(2);
 *   threadpool_run(p, n_pieces, work, arg);   // work(arg, i) for every i in [0, n_pieces)
 *   threadpool_free(p);
 */
#ifndef MX_THREADPOOL_H
#define MX_THREADPOOL_H

struct mx_threadpool;

/* Returns a new pool of n_threads threads (the caller counts as one; n_threads <= 1
 * starts none), or NULL when out of memory or threads. */
struct mx_threadpool *threadpool_create(int n_threads);
void threadpool_free(struct mx_threadpool *p);
/* Threads that run pieces, the caller included (1 for NULL). */
int threadpool_size(const struct mx_threadpool *p);
/* Runs fn(arg, i) for i in [0, n) on the pool and the calling thread and returns when
 * every piece is done. A NULL pool runs them in order on the caller. Calls from
 * several threads are serialised. fn must not call threadpool_run on the same pool. */
void threadpool_run(struct mx_threadpool *p, int n, void (*fn)(void *arg, int i), void *arg);

#endif
