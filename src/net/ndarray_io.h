/* ndarray_io.h: MXNet's NDArray list files (.params, mx.nd.save), formats.md section 5.
 * Writes V2 dense float32 records; reads V1, V2, V3 and legacy records. */
#ifndef MX_NDARRAY_IO_H
#define MX_NDARRAY_IO_H

#include "tensor.h"

struct ndarray_list {
	int n;
	struct mx_tensor **arrays;  /* owned */
	char **names;               /* owned; NULL when the file has no names */
};

/* Loads path. Returns MX_OK and a new list (free with ndarray_list_free()), or
 * MX_ERR_IO / MX_ERR_FORMAT with a message naming the file and the byte offset
 * ("m-0003.params: truncated at byte 1234: array 2 (arg:fc1_weight) needs 802816 bytes"). */
int ndarray_list_load(const char *path, struct ndarray_list **out);
/* Writes the list to path atomically (path.tmp, fsync, rename). Returns MX_OK, MX_ERR_IO,
 * or MX_ERR_INVALID for an array it cannot write (no shape, not on the CPU). */
int ndarray_list_save(const char *path, const struct ndarray_list *l);
/* Returns a new empty list (NULL on out of memory). */
struct ndarray_list *ndarray_list_new(void);
/* Appends a copy of name and takes ownership of t. Returns MX_OK or MX_ERR_NOMEM. */
int ndarray_list_add(struct ndarray_list *l, const char *name, struct mx_tensor *t);
/* Index of name, or -1. */
int ndarray_list_find(const struct ndarray_list *l, const char *name);
void ndarray_list_free(struct ndarray_list *l);

#endif
