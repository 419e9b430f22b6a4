/* symbol_json.h: MXNet's symbol JSON (prefix-symbol.json), formats.md section 6: read
 * with jansson, written by our own printer in MXNet's exact layout (jansson cannot). */
#ifndef MX_SYMBOL_JSON_H
#define MX_SYMBOL_JSON_H

#include "graph.h"

/* Returns a new string (free()) holding the forward graph of g as MXNet 1.9.1 writes it,
 * or NULL with an error set. */
char *symbol_json_dump(const struct graph *g);
/* Writes symbol_json_dump(g) to path atomically (path.tmp, rename). */
int symbol_json_save(const struct graph *g, const char *path);
/* Parses MXNet symbol JSON (1.x, and older files using "attr"/"param") into a new forward
 * graph. Errors name the file and the node ("model-symbol.json: node 7 (fc2): unknown
 * operator \"Foo\""). Free the graph with graph_free(). */
int symbol_json_load(const char *path, struct graph **out);
int symbol_json_parse(const char *text, const char *origin, struct graph **out);

#endif
