/* plan.h: the memory planner.
 *
 * Given a bound graph's entry shapes and which entries live outside the plan (variables,
 * outputs the caller reads, gradients the optimizer reads), assigns every other entry a
 * storage slot by a simulated run of the nodes in order, in time linear in the graph:
 *   in-place  an output may take the memory of the input it is allowed to overwrite
 *             (op flags OP_INPLACE / OP_BW_INPLACE) when this node is that input's last reader;
 *   co-share  an output takes a free slot whose previous entries are all dead (reference
 *             counts over the simulated run), best fit by size.
 * Entries that share a slot can never be live at the same time, so one engine variable per
 * slot orders every access to its bytes.
 *
 *   struct mem_plan *p;
 *   plan_memory(g, n_nodes, shapes, needed, external, PLAN_INPLACE | PLAN_COSHARE, &p);
 *   ... p->slot[e], p->slot_bytes[s], p->inplace[e] ...
 *   plan_free(p);
 */
#ifndef MX_PLAN_H
#define MX_PLAN_H

#include <stddef.h>

#include "graph.h"

enum plan_flags { PLAN_INPLACE = 1, PLAN_COSHARE = 2 };

#define PLAN_EXTERNAL (-1)  /* slot value: bound outside the plan */
#define PLAN_UNUSED (-2)    /* slot value: never written (no storage) */

struct mem_plan {
	int n_entries;
	int *slot;           /* per entry: slot index, PLAN_EXTERNAL or PLAN_UNUSED */
	char *inplace;       /* per entry: 1 when it overwrites its node's input in place */
	int n_slots;
	size_t *slot_bytes;  /* per slot */
	size_t total_bytes;  /* sum of slot_bytes */
	size_t entry_bytes;  /* sum of the planned entries' own bytes (no sharing) */
};

/* Plans entries of nodes [0, n_nodes) of g. shapes[] per entry (float32 assumed);
 * needed[e] != 0 for entries that are written; external[e] != 0 for entries bound by the
 * caller. Returns MX_OK and a new plan (free with plan_free()), or MX_ERR_NOMEM. */
int plan_memory(const struct graph *g, int n_nodes, const struct mx_shape *shapes, const char *needed,
		const char *external, unsigned flags, struct mem_plan **out);
void plan_free(struct mem_plan *p);

#endif
