/* plan.c: in-place and co-share memory planning (see plan.h). */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void plan_free(struct mem_plan *p)
{
	if (!p)
		return;
	free(p->slot);
	free(p->inplace);
	free(p->slot_bytes);
	free(p);
}

/* The input a node may overwrite with its output 0, or -1. */
static int inplace_input(const struct graph_node *n)
{
	if (n->kind == NODE_OP || (n->kind == NODE_BACKWARD && n->forward_node < 0))
		return n->op->flags & OP_INPLACE ? 0 : -1;
	if (n->kind == NODE_BACKWARD && (n->op->flags & OP_BW_INPLACE) && !(n->op->flags & OP_LOSS))
		return 0; /* gradient of output 0 -> gradient of input 0 */
	return -1;
}

int plan_memory(const struct graph *g, int n_nodes, const struct mx_shape *shapes, const char *needed,
		const char *external, unsigned flags, struct mem_plan **out)
{
	int n_entries = n_nodes ? g->nodes[n_nodes - 1].entry_base + g->nodes[n_nodes - 1].n_outputs : 0;
	struct mem_plan *p = calloc(1, sizeof *p);
	int *refs = calloc(n_entries + 1, sizeof *refs);
	int *free_slots = malloc((n_entries + 1) * sizeof *free_slots);
	int n_free = 0, cap_slots = 16;
	*out = NULL;
	if (!p || !refs || !free_slots)
		goto nomem;
	p->n_entries = n_entries;
	p->slot = malloc((n_entries + 1) * sizeof *p->slot);
	p->inplace = calloc(n_entries + 1, 1);
	p->slot_bytes = malloc(cap_slots * sizeof *p->slot_bytes);
	if (!p->slot || !p->inplace || !p->slot_bytes)
		goto nomem;

	for (int i = 0; i < n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j].node >= 0)
				refs[graph_entry_id(g, g->nodes[i].inputs[j])]++;
	for (int e = 0; e < n_entries; e++)
		p->slot[e] = external[e] ? PLAN_EXTERNAL : needed[e] ? -3 : PLAN_UNUSED;

	for (int i = 0; i < n_nodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		int ip = inplace_input(n);
		if (n->kind != NODE_OP && n->kind != NODE_BACKWARD)
			continue;
		for (int j = 0; j < n->n_outputs; j++) {
			int e = n->entry_base + j, s = -1;
			size_t bytes = (size_t)shape_size(&shapes[e]) * sizeof(float);
			if (p->slot[e] != -3)
				continue;
			p->entry_bytes += bytes;
			if (j == 0 && ip >= 0 && (flags & PLAN_INPLACE) && n->inputs[ip].node >= 0) {
				int src = graph_entry_id(g, n->inputs[ip]), uses = 0;
				for (int k = 0; k < n->n_inputs; k++)
					uses += n->inputs[k].node >= 0 && graph_entry_id(g, n->inputs[k]) == src;
				if (p->slot[src] >= 0 && refs[src] == uses && shape_size(&shapes[src]) == shape_size(&shapes[e])) {
					s = p->slot[src];
					p->inplace[e] = 1;
					refs[src] = -1;   /* dead now: its bytes belong to e, never freed as src */
				}
			}
			if (s < 0 && (flags & PLAN_COSHARE) && n_free > 0) {
				/* Best fit: the smallest free slot that holds bytes, else grow the largest. */
				int best = -1, largest = -1;
				for (int k = 0; k < n_free; k++) {
					size_t sb = p->slot_bytes[free_slots[k]];
					if (sb >= bytes && (best < 0 || sb < p->slot_bytes[free_slots[best]]))
						best = k;
					if (largest < 0 || sb > p->slot_bytes[free_slots[largest]])
						largest = k;
				}
				if (best < 0)
					best = largest;
				s = free_slots[best];
				free_slots[best] = free_slots[--n_free];
				if (p->slot_bytes[s] < bytes)
					p->slot_bytes[s] = bytes;
			}
			if (s < 0) {
				if (p->n_slots == cap_slots) {
					size_t *nb = realloc(p->slot_bytes, 2 * cap_slots * sizeof *nb);
					if (!nb)
						goto nomem;
					p->slot_bytes = nb;
					cap_slots *= 2;
				}
				s = p->n_slots++;
				p->slot_bytes[s] = bytes;
			}
			p->slot[e] = s;
		}
		/* Inputs whose last reader this was give their slot back; so do outputs nobody
		 * reads (hidden outputs in inference). Only when co-sharing. */
		for (int j = 0; j < n->n_inputs; j++) {
			int src;
			if (n->inputs[j].node < 0)
				continue;
			src = graph_entry_id(g, n->inputs[j]);
			if (refs[src] < 0)
				continue;
			if (--refs[src] == 0 && p->slot[src] >= 0 && (flags & PLAN_COSHARE))
				free_slots[n_free++] = p->slot[src];
		}
		for (int j = 0; j < n->n_outputs; j++) {
			int e = n->entry_base + j;
			if (refs[e] == 0 && p->slot[e] >= 0 && (flags & PLAN_COSHARE))
				free_slots[n_free++] = p->slot[e];
		}
	}
	for (int s = 0; s < p->n_slots; s++)
		p->total_bytes += p->slot_bytes[s];
	free(refs);
	free(free_slots);
	*out = p;
	return MX_OK;
nomem:
	free(refs);
	free(free_slots);
	plan_free(p);
	return mx_error(MX_ERR_NOMEM, "out of memory");
}
