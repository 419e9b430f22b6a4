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

#include <stdint.h>

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

/* Piece i of [0, n) cut into `pieces` contiguous parts whose sizes differ by at most one:
 * [*begin, *end). No part is empty when pieces <= n. */
static inline void threadpool_range(int64_t n, int pieces, int i, int64_t *begin, int64_t *end)
{
	*begin = n * i / pieces;
	*end = n * (i + 1) / pieces;
}

/* Work below this many elements of an elementwise loop is not worth splitting: a fork and
 * join costs a few microseconds, about what 32k floats take through a memory-bound loop. */
#define THREADPOOL_GRAIN 32768

/* Pieces to cut `work` units into on p: threadpool_size(p), but no more than leave each
 * piece `grain` units (so small work runs whole on the caller), and at least 1. */
static inline int threadpool_pieces(const struct mx_threadpool *p, int64_t work, int64_t grain)
{
	int64_t most = grain > 0 ? work / grain : work;
	int n = threadpool_size(p);
	return most < 1 ? 1 : most < n ? (int)most : n;
}

#endif
