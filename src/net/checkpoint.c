/* checkpoint.c: saving and restoring MXNet-format checkpoints (see checkpoint.h). */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "log.h"
#include "ndarray_io.h"
#include "optimizer.h"
#include "symbol_json.h"

void checkpoint_path(char *buf, size_t size, const char *dir, const char *prefix, int epoch, const char *ext)
{
	if (epoch < 0)
		snprintf(buf, size, "%s/%s-%s", dir, prefix, ext);
	else
		snprintf(buf, size, "%s/%s-%04d.%s", dir, prefix, epoch, ext);
}

static int make_dirs(const char *dir)
{
	char path[1024];
	snprintf(path, sizeof path, "%s", dir);
	for (char *p = path + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(path, 0777) && errno != EEXIST)
				return mx_error(MX_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	return MX_OK;
}

/* A one-element-per-value int64 array. */
static struct mx_tensor *int64_array(const int64_t *v, int n)
{
	struct mx_shape s = shape_make(1, (int64_t)n);
	struct mx_tensor *t = tensor_new(&s, MX_I64, MX_CPU);
	if (t)
		memcpy(t->data, v, n * sizeof *v);
	return t;
}

/* Adds a copy of t (own storage) under name. */
static int add_copy(struct ndarray_list *l, const char *name, const struct mx_tensor *t)
{
	struct mx_tensor *c = tensor_new(&t->shape, t->dtype, MX_CPU);
	if (!c)
		return MX_ERR_NOMEM;
	tensor_copy(c, t);
	return ndarray_list_add(l, name, c);
}

int checkpoint_save(const char *dir, const char *prefix, int epoch, const struct graph *g,
		    struct executor *ex, struct optimizer *opt, const struct mx_rng *rng)
{
	char path[1200], name[600];
	struct ndarray_list *l = NULL;
	int rc;
	if ((rc = make_dirs(dir)))
		return rc;
	checkpoint_path(path, sizeof path, dir, prefix, -1, "symbol.json");
	if ((rc = symbol_json_save(g, path)))
		return rc;
	if (!(l = ndarray_list_new()))
		return MX_ERR_NOMEM;
	for (int i = 0; i < g->n_forward; i++) {
		const struct graph_node *n = &g->nodes[i];
		struct mx_tensor *t;
		if (n->kind != NODE_ARG && n->kind != NODE_AUX)
			continue;
		t = executor_var(ex, n->name);
		snprintf(name, sizeof name, "%s:%s", n->kind == NODE_ARG ? "arg" : "aux", n->name);
		if (t && (rc = add_copy(l, name, t)))
			goto done;
	}
	checkpoint_path(path, sizeof path, dir, prefix, epoch, "params");
	if ((rc = ndarray_list_save(path, l)))
		goto done;
	ndarray_list_free(l);
	l = NULL;
	if (!opt || !rng)
		return MX_OK;

	if (!(l = ndarray_list_new()))
		return MX_ERR_NOMEM;
	{
		int64_t e = epoch, nu = optimizer_num_update(opt), r[4];
		memcpy(r, rng->s, sizeof r);
		if ((rc = ndarray_list_add(l, "meta:epoch", int64_array(&e, 1))) ||
		    (rc = ndarray_list_add(l, "meta:num_update", int64_array(&nu, 1))) ||
		    (rc = ndarray_list_add(l, "meta:rng", int64_array(r, 4))))
			goto done;
	}
	/* optimizer state j of a parameter: "state:<name>" for j = 0, "state<j>:<name>" after */
	for (int i = 0, k = 0; i < g->n_forward; i++) {
		const struct graph_node *n = &g->nodes[i];
		if (n->kind != NODE_ARG)
			continue;
		for (int j = 0; j < optimizer_num_states(opt); j++) {
			struct mx_tensor *s = optimizer_state(opt, k, j);
			if (j)
				snprintf(name, sizeof name, "state%d:%s", j, n->name);
			else
				snprintf(name, sizeof name, "state:%s", n->name);
			if (s && (rc = add_copy(l, name, s)))
				goto done;
		}
		k++;
	}
	checkpoint_path(path, sizeof path, dir, prefix, epoch, "states");
	rc = ndarray_list_save(path, l);
done:
	ndarray_list_free(l);
	return rc;
}

int checkpoint_load_params(const char *path, const struct graph *g, struct executor *ex)
{
	struct ndarray_list *l;
	int rc = ndarray_list_load(path, &l);
	char name[600], a[96], b[96];
	if (rc)
		return rc;
	for (int i = 0; i < g->n_forward; i++) {
		const struct graph_node *n = &g->nodes[i];
		struct mx_tensor *t;
		int k;
		if (n->kind != NODE_ARG && n->kind != NODE_AUX)
			continue;
		snprintf(name, sizeof name, "%s:%s", n->kind == NODE_ARG ? "arg" : "aux", n->name);
		k = ndarray_list_find(l, name);
		if (k < 0 && (k = ndarray_list_find(l, n->name)) < 0) {
			rc = mx_error(MX_ERR_FORMAT, "%s: no array \"%s\" for layer parameter %s", path, name, n->name);
			goto done;
		}
		t = executor_var(ex, n->name);
		if (!t)
			continue;
		if (!shape_equal(&t->shape, &l->arrays[k]->shape) || l->arrays[k]->dtype != MX_F32) {
			rc = mx_error(MX_ERR_SHAPE, "%s: array \"%s\" is %s %s, the network needs float32 %s", path, name,
				      dtype_name(l->arrays[k]->dtype), shape_str(&l->arrays[k]->shape, a, sizeof a),
				      shape_str(&t->shape, b, sizeof b));
			goto done;
		}
		tensor_copy(t, l->arrays[k]);
	}
	for (int k = 0; l->names && k < l->n; k++) {
		const char *nm = strchr(l->names[k], ':') ? strchr(l->names[k], ':') + 1 : l->names[k];
		if (graph_find(g, nm) < 0)
			mx_warn("%s: array \"%s\" is not used by the network", path, l->names[k]);
	}
done:
	ndarray_list_free(l);
	return rc;
}

static int read_meta(const char *path, struct ndarray_list *l, const char *name, int n, int64_t *out)
{
	int k = ndarray_list_find(l, name);
	if (k < 0 || l->arrays[k]->dtype != MX_I64 || shape_size(&l->arrays[k]->shape) != n)
		return mx_error(MX_ERR_FORMAT, "%s: missing or malformed \"%s\"", path, name);
	memcpy(out, l->arrays[k]->data, n * sizeof *out);
	return MX_OK;
}

int checkpoint_load_states(const char *path, const struct graph *g, struct optimizer *opt,
			   struct mx_rng *rng, int *epoch)
{
	struct ndarray_list *l;
	int64_t e, nu, r[4];
	char name[600];
	int rc = ndarray_list_load(path, &l);
	if (rc)
		return rc;
	if ((rc = read_meta(path, l, "meta:epoch", 1, &e)) || (rc = read_meta(path, l, "meta:num_update", 1, &nu)) ||
	    (rc = read_meta(path, l, "meta:rng", 4, r)))
		goto done;
	/* A parameter has all of the optimizer's states or none (saved before its first
	 * update); a state the optimizer does not keep means another optimizer saved them. */
	for (int i = 0, idx = 0; i < g->n_forward; i++) {
		const struct graph_node *n = &g->nodes[i];
		int n_states = optimizer_num_states(opt), found = 0;
		if (n->kind != NODE_ARG)
			continue;
		for (int j = 0; j < OPTIMIZER_MAX_STATES; j++) {
			int k;
			if (j)
				snprintf(name, sizeof name, "state%d:%s", j, n->name);
			else
				snprintf(name, sizeof name, "state:%s", n->name);
			if ((k = ndarray_list_find(l, name)) < 0)
				continue;
			if (j >= n_states) {
				rc = mx_error(MX_ERR_FORMAT, "%s: \"%s\" is optimizer state %d, but %s keeps %d per "
					      "parameter (were these states saved with another optimizer?)", path, name, j,
					      optimizer_name(opt), n_states);
				goto done;
			}
			if ((rc = optimizer_set_state(opt, idx, j, l->arrays[k]))) {
				mx_error_prefix(rc, "%s: %s", path, name);
				goto done;
			}
			found++;
		}
		if (found && found != n_states) {
			rc = mx_error(MX_ERR_FORMAT, "%s: parameter %s has %d of the %d optimizer states %s keeps "
				      "(were these states saved with another optimizer?)", path, n->name, found, n_states,
				      optimizer_name(opt));
			goto done;
		}
		idx++;
	}
	optimizer_set_num_update(opt, nu);
	memcpy(rng->s, r, sizeof r);
	*epoch = (int)e;
done:
	ndarray_list_free(l);
	return rc;
}

int checkpoint_newest(const char *dir, const char *prefix, const char *ext, const char *also)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t plen = strlen(prefix);
	int best = -1;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[1200];
		struct stat st;
		int epoch;
		char tail[16];
		if (strncmp(de->d_name, prefix, plen) || de->d_name[plen] != '-')
			continue;
		if (sscanf(de->d_name + plen + 1, "%d.%15s", &epoch, tail) != 2 || strcmp(tail, ext) || epoch <= best)
			continue;
		checkpoint_path(path, sizeof path, dir, prefix, epoch, also ? also : ext);
		if (!stat(path, &st))
			best = epoch;
	}
	closedir(d);
	return best;
}

int checkpoint_latest(const char *dir, const char *prefix)
{
	int e = checkpoint_newest(dir, prefix, "states", "params");
	return e > 0 ? e : 0;
}
