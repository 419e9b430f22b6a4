/* report.c: memory plans and graph pictures of a conf's network (see report.h). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "executor.h"
#include "graph.h"
#include "timing.h"
#include "trainer.h"

/* The graph and its input shapes at the train section's batch size. */
static int load_net(const struct mx_conf *c, int backward, struct graph **g, struct mx_shape *data,
		    struct mx_shape *label, const char **label_name)
{
	int rc, labels[4];
	*g = NULL;
	if ((rc = conf_build_graph(c, g)))
		return rc;
	if (backward && (rc = graph_build_backward(*g)))
		return rc;
	if (!c->train.present)
		return mx_error(MX_ERR_INVALID, "%s: no data.train section", c->path);
	/* Shapes from the keys or a file header, not by loading the data (shared with --time). */
	if ((rc = timing_input_shapes(&c->train, "data.train", data, label)))
		return rc;
	*label_name = graph_list_vars(*g, NODE_LABEL, labels, 4) > 0 ? (*g)->nodes[labels[0]].name : NULL;
	return MX_OK;
}

static double mb(size_t bytes) { return bytes / 1048576.0; }

static int plan_case(struct graph *g, const char *label_name, struct mx_shape data, struct mx_shape label,
		     int batch, int train, FILE *out)
{
	const char *names[2] = {"data", label_name};
	struct mx_shape shapes[2] = {data, label};
	struct plan_sizes ps;
	int rc;
	shapes[0].dim[0] = batch;
	shapes[1].dim[0] = batch;
	if ((rc = executor_plan_sizes(g, names, shapes, label_name ? 2 : 1, train, &ps)))
		return rc;
	fprintf(out, "%s, batch %d\n", train ? "training" : "inference", batch);
	fprintf(out, "  internal entries   no sharing %10.3f MB\n", mb(ps.internal[0]));
	fprintf(out, "                     in-place   %10.3f MB  (%.2fx)\n", mb(ps.internal[1]),
		ps.internal[0] ? (double)ps.internal[1] / ps.internal[0] : 0);
	fprintf(out, "                     co-share   %10.3f MB  (%.2fx)\n", mb(ps.internal[2]),
		ps.internal[0] ? (double)ps.internal[2] / ps.internal[0] : 0);
	fprintf(out, "                     both       %10.3f MB  (%.2fx)\n", mb(ps.internal[3]),
		ps.internal[0] ? (double)ps.internal[3] / ps.internal[0] : 0);
	fprintf(out, "  weights            %10.3f MB\n", mb(ps.weights));
	if (train)
		fprintf(out, "  gradients          %10.3f MB\n", mb(ps.gradients));
	fprintf(out, "  inputs, outputs    %10.3f MB\n", mb(ps.inputs + ps.outputs));
	fprintf(out, "plan mode=%s batch=%d none_mb=%.3f inplace_mb=%.3f coshare_mb=%.3f both_mb=%.3f weights_mb=%.3f"
		     " gradients_mb=%.3f\n\n",
		train ? "train" : "inference", batch, mb(ps.internal[0]), mb(ps.internal[1]), mb(ps.internal[2]),
		mb(ps.internal[3]), mb(ps.weights), mb(train ? ps.gradients : 0));
	return MX_OK;
}

int report_plan(const struct mx_conf *c, FILE *out)
{
	struct graph *g = NULL;
	struct mx_shape data, label;
	const char *label_name;
	int rc = load_net(c, 1, &g, &data, &label, &label_name), batch;
	if (rc)
		goto done;
	batch = (int)data.dim[0];
	if ((rc = plan_case(g, label_name, data, label, batch, 1, out)) ||
	    (rc = plan_case(g, label_name, data, label, batch, 0, out)) ||
	    (rc = plan_case(g, label_name, data, label, 1, 0, out)))
		goto done;
done:
	graph_free(g);
	return rc;
}

static void dot_name(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

int report_graph(const struct mx_conf *c, int with_backward, FILE *out)
{
	struct graph *g = NULL;
	struct mx_shape data, label, *shapes = NULL;
	const char *label_name;
	int rc = load_net(c, with_backward, &g, &data, &label, &label_name);
	if (rc)
		goto done;
	shapes = calloc(g->n_entries + 1, sizeof *shapes);
	if (!shapes) {
		rc = mx_error(MX_ERR_NOMEM, "out of memory");
		goto done;
	}
	shapes[g->nodes[graph_find(g, "data")].entry_base] = data;
	if (label_name)
		shapes[g->nodes[graph_find(g, label_name)].entry_base] = label;
	if ((rc = graph_infer_shapes(g, shapes)))
		goto done;
	fprintf(out, "digraph mxtrain {\n  rankdir=BT;\n  node [fontsize=10];\n");
	for (int i = 0; i < g->n_nodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		char shape[96];
		if (n->kind == NODE_ARG || n->kind == NODE_AUX)
			continue; /* weights clutter the picture; they are listed in the layer's label */
		fprintf(out, "  n%d [label=", i);
		if (n->kind == NODE_OP) {
			fprintf(out, "\"%s\\n%s\\n%s\"", n->name, n->op->name,
				shape_str(&shapes[n->entry_base], shape, sizeof shape));
			fprintf(out, ", shape=box, style=filled, fillcolor=\"#dbe9f6\"");
		} else if (n->kind == NODE_BACKWARD) {
			dot_name(out, n->name);
			fprintf(out, ", shape=box, style=\"filled,dashed\", fillcolor=\"#f6e0db\"");
		} else {
			dot_name(out, n->name);
			fprintf(out, ", shape=oval");
		}
		fprintf(out, "];\n");
	}
	for (int i = 0; i < g->n_nodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		if (n->kind != NODE_OP && n->kind != NODE_BACKWARD)
			continue;
		for (int j = 0; j < n->n_inputs; j++) {
			int src = n->inputs[j].node;
			if (src < 0 || g->nodes[src].kind == NODE_ARG || g->nodes[src].kind == NODE_AUX)
				continue;
			fprintf(out, "  n%d -> n%d;\n", src, i);
		}
	}
	fprintf(out, "}\n");
done:
	free(shapes);
	graph_free(g);
	return rc;
}
