/* plan.c: in-place and co-share memory planning (see plan.h).
 *
 * 1. A simulated run in node order finds every entry's last reader and joins an output
 *    written in place to its input's group: a group is one storage used in turn by a
 *    chain of entries, live from the node that writes the first to the last node that
 *    reads the last.
 * 2. Co-share places the groups at offsets of one arena (place_shared), each in the
 *    tightest gap left by the groups live at the same time. Unlike a pool of slots that
 *    grow to their largest user (MXNet's plan, and this file's before), a gap can hold
 *    two small groups side by side, and a large block is never grown late.
 * 3. The arena is cut at every group's edges into pieces (cut_pieces); the executor
 *    gives each piece an engine variable. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define PLAN_ALIGN 64
#define PLAN_SMALL 4096
#define PLAN_BY_SIZE_MAX 4096

void plan_free(struct mem_plan *p)
{
	if (!p)
		return;
	free(p->group);
	free(p->inplace);
	free(p->offset);
	free(p->bytes);
	free(p->start);
	free(p->end);
	free(p->piece_first);
	free(p->piece_count);
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

static size_t aligned(size_t bytes) { return (bytes + PLAN_ALIGN - 1) & ~(size_t)(PLAN_ALIGN - 1); }

/* qsort has no context argument; the plan being sorted (planning is not reentrant on
 * one plan, and the comparison only reads it). */
static _Thread_local const struct mem_plan *sorting;

/* Orders of placement: the largest first (among equals the longer-lived, then the
 * earlier), or in the order the groups start (the larger first at one node). */
static int by_size(const void *a, const void *b)
{
	const struct mem_plan *p = sorting;
	int x = *(const int *)a, y = *(const int *)b;
	if (p->bytes[x] != p->bytes[y])
		return p->bytes[x] < p->bytes[y] ? 1 : -1;
	if (p->end[x] - p->start[x] != p->end[y] - p->start[y])
		return p->end[x] - p->start[x] < p->end[y] - p->start[y] ? 1 : -1;
	return x - y;
}

static int by_start(const void *a, const void *b)
{
	const struct mem_plan *p = sorting;
	int x = *(const int *)a, y = *(const int *)b;
	if (p->start[x] != p->start[y])
		return p->start[x] < p->start[y] ? -1 : 1;
	if (p->bytes[x] != p->bytes[y])
		return p->bytes[x] < p->bytes[y] ? 1 : -1;
	return x - y;
}

/* Step 2, the largest first: each group in the smallest gap that holds it among the
 * groups already placed that live at the same time, else above them all. placed[] is
 * scratch: the groups placed so far, by offset. Each step scans every group placed, so
 * place_shared takes this way only for graphs of up to PLAN_BY_SIZE_MAX groups. Sets
 * offset[] and returns the arena's size. */
static size_t place_by_size(struct mem_plan *p, const int *order, int n, int *placed)
{
	int n_placed = 0;
	size_t total = 0;
	for (int o = 0; o < n; o++) {
		int g = order[o], at;
		size_t need = aligned(p->bytes[g]), low = 0, best = (size_t)-1, best_gap = (size_t)-1;
		for (int k = 0; k < n_placed; k++) {
			int q = placed[k];
			if (p->end[q] < p->start[g] || p->start[q] > p->end[g])
				continue; /* never live together: may overlap */
			if (p->offset[q] >= low + need && p->offset[q] - low < best_gap) {
				best = low;
				best_gap = p->offset[q] - low;
			}
			if (p->offset[q] + aligned(p->bytes[q]) > low)
				low = p->offset[q] + aligned(p->bytes[q]);
		}
		p->offset[g] = best != (size_t)-1 ? best : low;
		if (p->offset[g] + need > total)
			total = p->offset[g] + need;
		for (at = n_placed; at > 0 && p->offset[placed[at - 1]] > p->offset[g]; at--)
			placed[at] = placed[at - 1];
		placed[at] = g;
		n_placed++;
	}
	return total;
}

/* Step 2 in start order: a best-fit allocator with coalescing, simulated. The groups
 * live at a node lie in a list by offset, above a zero-sized sentinel at 0; the free gap
 * above each is kept in a list of its size class, so placing a group scans a class or
 * two instead of every live group, and a group that dies merges its gap into the one
 * below it. */
struct sim {
	struct mem_plan *p;
	int *prev, *next;    /* per group: live neighbours by offset (-1: none) */
	int *cprev, *cnext;  /* per group: neighbours in the list of its gap's class */
	signed char *cls;    /* per group: the class of the gap above it; -1: none, or the top */
	size_t *end_of;      /* per group: offset + aligned size */
	int heads[64];       /* per class floor(log2(gap)): its list's first group, or -1 */
	int last;            /* the highest live group */
};

static int log2_floor(size_t x) { return 63 - __builtin_clzll((unsigned long long)x); }

static void gap_unlink(struct sim *s, int b)
{
	if (s->cls[b] < 0)
		return;
	if (s->cprev[b] >= 0)
		s->cnext[s->cprev[b]] = s->cnext[b];
	else
		s->heads[(int)s->cls[b]] = s->cnext[b];
	if (s->cnext[b] >= 0)
		s->cprev[s->cnext[b]] = s->cprev[b];
	s->cls[b] = -1;
}

static void gap_link(struct sim *s, int b)
{
	size_t gap;
	if (s->next[b] < 0 || (gap = s->p->offset[s->next[b]] - s->end_of[b]) == 0)
		return;
	s->cls[b] = (signed char)log2_floor(gap);
	s->cprev[b] = -1;
	s->cnext[b] = s->heads[(int)s->cls[b]];
	if (s->cnext[b] >= 0)
		s->cprev[s->cnext[b]] = b;
	s->heads[(int)s->cls[b]] = b;
}

/* order: n groups by start. The sentinel is group index n_groups (its arrays have room).
 * iscratch: 5 * (n_groups + 1) + max_end + 1 ints. Sets offset[], returns the arena's size. */
static size_t place_in_start_order(struct mem_plan *p, const int *order, int n, int max_end, int *iscratch,
				   signed char *cls, size_t *end_of)
{
	int m = p->n_groups + 1, sentinel = p->n_groups, t = 0;
	int *dead_next = iscratch + 4 * m, *dead_at = iscratch + 5 * m;  /* per node: the groups it reads last */
	struct sim s = {.p = p, .prev = iscratch, .next = iscratch + m, .cprev = iscratch + 2 * m,
			.cnext = iscratch + 3 * m, .cls = cls, .end_of = end_of, .last = sentinel};
	size_t total = 0;
	for (int c = 0; c < 64; c++)
		s.heads[c] = -1;
	for (int k = 0; k <= max_end; k++)
		dead_at[k] = -1;
	for (int o = n - 1; o >= 0; o--) {
		dead_next[order[o]] = dead_at[p->end[order[o]]];
		dead_at[p->end[order[o]]] = order[o];
	}
	p->offset[sentinel] = end_of[sentinel] = 0;
	s.prev[sentinel] = s.next[sentinel] = -1;
	cls[sentinel] = -1;
	for (int o = 0; o < n; o++) {
		int g = order[o], best = -1;
		size_t need = aligned(p->bytes[g]), best_gap = 0;
		for (; t < p->start[g]; t++)
			for (int d = dead_at[t]; d >= 0; d = dead_next[d]) {
				int below = s.prev[d], above = s.next[d];
				gap_unlink(&s, d);
				gap_unlink(&s, below);
				s.next[below] = above;
				if (above >= 0)
					s.prev[above] = below;
				else
					s.last = below;
				gap_link(&s, below);
			}
		/* The smallest gap that holds need, the lowest among equals. Some gaps of need's
		 * own class may be too small; any that fits there beats every larger class. */
		for (int c = need ? log2_floor(need) : 0; c < 64 && best < 0; c++)
			for (int b = s.heads[c]; b >= 0; b = s.cnext[b]) {
				size_t gap = p->offset[s.next[b]] - end_of[b];
				if (gap >= need && (best < 0 || gap < best_gap || (gap == best_gap && end_of[b] < end_of[best]))) {
					best = b;
					best_gap = gap;
				}
			}
		if (best < 0)
			best = s.last; /* above them all */
		gap_unlink(&s, best);
		p->offset[g] = end_of[best];
		end_of[g] = p->offset[g] + need;
		s.prev[g] = best;
		s.next[g] = s.next[best];
		if (s.next[g] >= 0)
			s.prev[s.next[g]] = g;
		else
			s.last = g;
		s.next[best] = g;
		cls[g] = -1;
		gap_link(&s, best);
		gap_link(&s, g);
		total = end_of[g] > total ? end_of[g] : total;
	}
	return total;
}

/* Step 2 both ways, in start order and (for up to PLAN_BY_SIZE_MAX groups) the largest
 * first; neither is best for every net (VGG-16 and ResNet-50 training pack a little
 * tighter by size, Inception-BN training in start order), so the smaller arena is kept.
 * Groups under 1/PLAN_SMALL of the largest (BatchNorm's batch statistics, for one) go
 * apart above the shared ones: they cost next to nothing there, and set among the large
 * ones they would cut them into many pieces, each one more engine variable for every
 * task that touches them. Returns MX_OK or MX_ERR_NOMEM. */
static int place_shared(struct mem_plan *p)
{
	int m = p->n_groups + 1, n = 0, max_end = 0, rc = MX_ERR_NOMEM;
	int *order = malloc(m * sizeof *order), *iscratch = NULL;
	signed char *cls = malloc(m);
	size_t *end_of = malloc(m * sizeof *end_of), *kept = NULL, largest = 0, total, top;
	for (int k = 0; k < p->n_groups; k++) {
		largest = p->bytes[k] > largest ? p->bytes[k] : largest;
		max_end = p->end[k] > max_end ? p->end[k] : max_end;
	}
	iscratch = malloc((5 * (size_t)m + max_end + 1) * sizeof *iscratch);
	if (!order || !cls || !end_of || !iscratch)
		goto done;
	for (int k = 0; k < p->n_groups; k++)
		if (p->bytes[k] >= largest / PLAN_SMALL)
			order[n++] = k;
	sorting = p;
	qsort(order, n, sizeof *order, by_start);
	total = place_in_start_order(p, order, n, max_end, iscratch, cls, end_of);
	if (n <= PLAN_BY_SIZE_MAX) {
		size_t by_size_total;
		if (!(kept = malloc(m * sizeof *kept)))
			goto done;
		memcpy(kept, p->offset, p->n_groups * sizeof *kept);
		qsort(order, n, sizeof *order, by_size);
		by_size_total = place_by_size(p, order, n, iscratch);
		if (by_size_total < total)
			total = by_size_total;
		else
			memcpy(p->offset, kept, p->n_groups * sizeof *kept);
	}
	top = total;
	for (int k = 0; k < p->n_groups; k++)
		if (p->bytes[k] < largest / PLAN_SMALL) {
			p->offset[k] = top;
			top += aligned(p->bytes[k]);
		}
	p->total_bytes = top;
	rc = MX_OK;
done:
	free(order);
	free(cls);
	free(end_of);
	free(kept);
	free(iscratch);
	return rc;
}

/* Without co-sharing: the groups one after another. */
static void place_apart(struct mem_plan *p)
{
	p->total_bytes = 0;
	for (int g = 0; g < p->n_groups; g++) {
		p->offset[g] = p->total_bytes;
		p->total_bytes += aligned(p->bytes[g]);
	}
}

static int by_size_t(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static int find_edge(const size_t *edges, int n, size_t off)
{
	int lo = 0, hi = n - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (edges[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Step 3: the pieces between consecutive group edges. Returns MX_OK or MX_ERR_NOMEM. */
static int cut_pieces(struct mem_plan *p)
{
	size_t *edges = malloc((2 * p->n_groups + 1) * sizeof *edges);
	int n = 0;
	if (!edges)
		return MX_ERR_NOMEM;
	for (int g = 0; g < p->n_groups; g++) {
		edges[n++] = p->offset[g];
		edges[n++] = p->offset[g] + aligned(p->bytes[g]);
	}
	qsort(edges, n, sizeof *edges, by_size_t);
	{
		int m = 0;
		for (int k = 0; k < n; k++)
			if (m == 0 || edges[k] != edges[m - 1])
				edges[m++] = edges[k];
		n = m;
	}
	p->n_pieces = n > 0 ? n - 1 : 0;
	for (int g = 0; g < p->n_groups; g++) {
		int first = find_edge(edges, n, p->offset[g]);
		int last = find_edge(edges, n, p->offset[g] + aligned(p->bytes[g]));
		p->piece_first[g] = first;
		p->piece_count[g] = last - first;
	}
	free(edges);
	return MX_OK;
}

int plan_memory(const struct graph *g, int n_nodes, const struct mx_shape *shapes, const char *needed,
		const char *external, unsigned flags, struct mem_plan **out)
{
	int n_entries = n_nodes ? g->nodes[n_nodes - 1].entry_base + g->nodes[n_nodes - 1].n_outputs : 0;
	struct mem_plan *p = calloc(1, sizeof *p);
	int *last_use = malloc((n_entries + 1) * sizeof *last_use);
	*out = NULL;
	if (!p || !last_use)
		goto nomem;
	p->n_entries = n_entries;
	p->group = malloc((n_entries + 1) * sizeof *p->group);
	p->inplace = calloc(n_entries + 1, 1);
	p->offset = malloc((n_entries + 1) * sizeof *p->offset);
	p->bytes = malloc((n_entries + 1) * sizeof *p->bytes);
	p->start = malloc((n_entries + 1) * sizeof *p->start);
	p->end = malloc((n_entries + 1) * sizeof *p->end);
	p->piece_first = malloc((n_entries + 1) * sizeof *p->piece_first);
	p->piece_count = malloc((n_entries + 1) * sizeof *p->piece_count);
	if (!p->group || !p->inplace || !p->offset || !p->bytes || !p->start || !p->end || !p->piece_first ||
	    !p->piece_count)
		goto nomem;

	/* Step 1. */
	for (int e = 0; e < n_entries; e++) {
		last_use[e] = -1;
		p->group[e] = external[e] ? PLAN_EXTERNAL : PLAN_UNUSED;
	}
	for (int i = 0; i < n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j].node >= 0)
				last_use[graph_entry_id(g, g->nodes[i].inputs[j])] = i;
	for (int i = 0; i < n_nodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		int ip = inplace_input(n);
		if (n->kind != NODE_OP && n->kind != NODE_BACKWARD)
			continue;
		for (int j = 0; j < n->n_outputs; j++) {
			int e = n->entry_base + j, end = last_use[e] > i ? last_use[e] : i;
			size_t bytes = (size_t)shape_size(&shapes[e]) * sizeof(float);
			if (external[e] || !needed[e])
				continue;
			p->entry_bytes += bytes;
			if (j == 0 && ip >= 0 && (flags & PLAN_INPLACE) && n->inputs[ip].node >= 0) {
				int src = graph_entry_id(g, n->inputs[ip]);
				/* Only src's last reader may overwrite it: nothing reads src later. */
				if (p->group[src] >= 0 && last_use[src] == i &&
				    shape_size(&shapes[src]) == shape_size(&shapes[e])) {
					p->group[e] = p->group[src];
					p->inplace[e] = 1;
					if (p->end[p->group[e]] < end)
						p->end[p->group[e]] = end;
					continue;
				}
			}
			p->group[e] = p->n_groups;
			p->bytes[p->n_groups] = bytes;
			p->start[p->n_groups] = i;
			p->end[p->n_groups++] = end;
		}
	}

	if (flags & PLAN_COSHARE) {
		if (place_shared(p))
			goto nomem;
	} else {
		place_apart(p);
	}
	if (cut_pieces(p))
		goto nomem;
	free(last_use);
	*out = p;
	return MX_OK;
nomem:
	free(last_use);
	plan_free(p);
	return mx_error(MX_ERR_NOMEM, "out of memory");
}
