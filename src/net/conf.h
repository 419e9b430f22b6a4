/* conf.h: reading a .conf (libconfig) file into sections, layers and settings.
 *
 * conf_load() parses the file, applies command-line overrides by dotted path
 * ("solver.lr=0.05", "data.train.batch_size=64"), and turns every value into text with
 * the file:line it came from, so each consumer (layer parameters, iterators, solver)
 * checks its own keys through its param table and errors name the place. Unknown
 * top-level sections and keys are rejected with the nearest valid name. */
#ifndef MX_CONF_H
#define MX_CONF_H

#include "graph.h"

struct conf_kv {
	char *key;
	char *value;    /* as text: 256, 0.1, true, "(3, 3)" for lists, strings unquoted */
	char *origin;   /* "net.conf:12" (or "command line" for overrides) */
};

struct conf_section {
	int present;
	struct conf_kv *kv;
	int n;
	char *origin;   /* where the section starts */
};

struct conf_layer {
	char *type;            /* operator name or alias, as written */
	char *name;            /* given, or made as MXNet does: <type lower-case><counter> */
	char **inputs;         /* names of layers; NULL/0: the previous layer */
	int n_inputs;
	struct conf_kv *attrs; /* every other key of the layer */
	int n_attrs;
	char *origin;
};

struct mx_conf {
	char *path;
	struct conf_section train, eval;  /* data.train, data.eval */
	struct conf_layer *layers;
	int n_layers;
	struct conf_section solver;       /* checked against solver_params (trainer.h) */
	struct conf_section model;        /* checked against model_params (trainer.h) */
	char device[32];                  /* "cpu" (default), "gpu", "gpu:1" */
	char *device_origin;
};

/* Loads path and applies overrides ("a.b.c=value"). Returns MX_OK and a new conf (free
 * with conf_free()), or MX_ERR_INVALID with a message naming file:line. */
int conf_load(const char *path, const char *const *overrides, int n_overrides, struct mx_conf **out);
void conf_free(struct mx_conf *c);

/* Lowers the layer list to a graph: a "data" variable, then each layer fed by its
 * `inputs` or the previous layer; the last layer is the head. Returns MX_OK and a new
 * graph, or an error naming the layer and its place. */
int conf_build_graph(const struct mx_conf *c, struct graph **out);

/* Applies a section's keys to a param table (solver_params, model_params). Errors name
 * file:line and section. */
int conf_apply_section(const struct conf_section *s, const char *section_name,
		       const struct param_spec *specs, void *obj);

#endif
