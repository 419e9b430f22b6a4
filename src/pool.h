/* pool.h: per-device memory pools handing out ref-counted storage blocks.
 *
 * Freed blocks are kept in size classes and reused, so a training loop that asks for the
 * same sizes every batch stops calling malloc after the first one. The pools are
 * process-wide (one per device), guarded by a mutex. */
#ifndef MX_POOL_H
#define MX_POOL_H

#include <stddef.h>
#include "tensor.h"

struct mx_storage {
	void *data;              /* 64-byte aligned */
	size_t bytes;            /* usable size, >= what was asked */
	struct mx_context ctx;
	int refcount;            /* atomically updated */
};

/* Returns a new storage with refcount 1 and zeroed bytes, or NULL with MX_ERR_NOMEM set. */
struct mx_storage *storage_alloc(struct mx_context ctx, size_t bytes);
void storage_retain(struct mx_storage *s);
void storage_release(struct mx_storage *s);   /* returns the block to its pool at refcount 0 */
/* Bytes currently handed out and the peak since start, for the given device. */
size_t pool_bytes_in_use(struct mx_context ctx);
size_t pool_bytes_peak(struct mx_context ctx);
/* Frees every cached block (at exit, or before a memory measurement). */
void pool_trim(void);

#endif
