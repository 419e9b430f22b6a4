/* plan.h: the memory planner.
 *
 * Given a bound graph's entry shapes and which entries live outside the plan (variables,
 * outputs the caller reads, gradients the optimizer reads), places every other entry in
 * one arena, from a simulated run of the nodes in order:
 *   in-place  an output may take the memory of the input it is allowed to overwrite
 *             (op flags OP_INPLACE / OP_BW_INPLACE) when this node is that input's last
 *             reader; the entries that hold one storage in turn form a group;
 *   co-share  groups that are never live at the same time may overlap in the arena:
 *             each takes the tightest gap that the groups live with it leave (placed
 *             in the order they start, as a best-fit allocator would, and, for graphs
 *             of up to a few thousand groups, also the largest first; the smaller
 *             arena wins).
 * The arena is cut at every group's edges into pieces. One engine variable per piece
 * orders every access to shared bytes: two groups that overlap share a piece, and their
 * tasks run in node order whatever the number of engine workers. Planning costs about
 * the graph's size times a few size classes (in start order), plus the square of the
 * number of groups where the largest-first way is tried.
 *
 *   struct mem_plan *p;
 *   plan_memory(g, n_nodes, shapes, needed, external, PLAN_INPLACE | PLAN_COSHARE, &p);
 *   ... group g = p->group[e]: bytes at p->offset[g], pieces p->piece_first[g] ...
 *   plan_free(p);
 */
#ifndef MX_PLAN_H
#define MX_PLAN_H

#include <stddef.h>

#include "graph.h"

enum plan_flags { PLAN_INPLACE = 1, PLAN_COSHARE = 2 };

#define PLAN_EXTERNAL (-1)  /* group value: bound outside the plan */
#define PLAN_UNUSED (-2)    /* group value: never written (no storage) */

struct mem_plan {
	int n_entries;
	int *group;           /* per entry: its group, PLAN_EXTERNAL or PLAN_UNUSED */
	char *inplace;        /* per entry: 1 when it overwrites its node's input in place */
	int n_groups;
	size_t *offset;       /* per group: its first byte in the arena (64-byte aligned) */
	size_t *bytes;        /* per group: its size */
	int *start, *end;     /* per group: the nodes that write it first and read it last */
	size_t total_bytes;   /* the arena's size */
	size_t entry_bytes;   /* the planned entries' own bytes (no sharing, no alignment) */
	int n_pieces;         /* the arena cut at every group's edges */
	int *piece_first;     /* per group: its pieces are [piece_first, piece_first + piece_count) */
	int *piece_count;
};

/* Plans entries of nodes [0, n_nodes) of g. shapes[] per entry (float32 assumed);
 * needed[e] != 0 for entries that are written; external[e] != 0 for entries bound by the
 * caller. Returns MX_OK and a new plan (free with plan_free()), or MX_ERR_NOMEM. */
int plan_memory(const struct graph *g, int n_nodes, const struct mx_shape *shapes, const char *needed,
		const char *external, unsigned flags, struct mem_plan **out);
void plan_free(struct mem_plan *p);

#endif
