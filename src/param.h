/* param.h: typed parameter tables. Operators, iterators and the solver each describe
 * their keys once (name, type, where in the struct, default, range, help); one parser
 * turns key/value strings into the struct, with errors that name the key and suggest
 * the nearest valid one ("did you mean"). The same tables feed the man page. */
#ifndef MX_PARAM_H
#define MX_PARAM_H

#include <stddef.h>
#include "tensor.h"

enum param_type {
	PARAM_INT,    /* int */
	PARAM_FLOAT,  /* float */
	PARAM_BOOL,   /* int 0/1; accepts true/false/True/False/1/0 */
	PARAM_STRING, /* char[size], NUL-terminated */
	PARAM_ENUM,   /* int: index into choices */
	PARAM_SHAPE,  /* struct mx_shape: "(3, 3)", "[3,3]" or "3" */
	PARAM_INT64,  /* int64_t */
};

struct param_spec {
	const char *key;
	enum param_type type;
	size_t offset;              /* offsetof(struct, field) */
	size_t size;                /* PARAM_STRING: buffer size */
	const char *def;            /* default as text; NULL: required */
	const char *const *choices; /* PARAM_ENUM: NULL-terminated list */
	double min, max;            /* range check for numbers when min < max */
	const char *help;
};
/* Terminates a table. */
#define PARAM_END {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL}

/* Sets every key to its default. Required keys are left zero. */
void param_defaults(const struct param_spec *specs, void *obj);
/* Parses value for key into obj. On an unknown key or a bad value returns MX_ERR_INVALID
 * with a message such as: unknown key "num_hiden" (did you mean "num_hidden"?). */
int param_set(const struct param_spec *specs, void *obj, const char *key, const char *value);
/* Returns the spec for key, or NULL. */
const struct param_spec *param_find(const struct param_spec *specs, const char *key);
/* The valid key closest to key by edit distance, or NULL when none is close. */
const char *param_nearest(const struct param_spec *specs, const char *key);
/* Nearest of an arbitrary NULL-terminated list of names (shared with conf.c). */
const char *nearest_name(const char *const *names, const char *key);
/* Writes the value of spec's field as MXNet writes attribute text ("(3, 3)", "True"). */
void param_format(const struct param_spec *spec, const void *obj, char *buf, size_t size);
/* Parses "(3, 3)", "[3,3]", "3" or "()" into a shape. Returns MX_OK or MX_ERR_INVALID. */
int parse_shape(const char *text, struct mx_shape *out);

#endif
