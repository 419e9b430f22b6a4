/* param.c: the typed parameter parser behind param.h. */
#include "param.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

const struct param_spec *param_find(const struct param_spec *specs, const char *key)
{
	for (; specs && specs->key; specs++)
		if (!strcmp(specs->key, key))
			return specs;
	return NULL;
}

static int edit_distance(const char *a, const char *b)
{
	int la = strlen(a), lb = strlen(b), row[64], prev, tmp;
	if (la >= 63 || lb >= 63)
		return 99;
	for (int j = 0; j <= lb; j++)
		row[j] = j;
	for (int i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (int j = 1; j <= lb; j++) {
			int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			tmp = row[j];
			row[j] = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
			if (prev + cost < row[j])
				row[j] = prev + cost;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *nearest_name(const char *const *names, const char *key)
{
	const char *best = NULL;
	int best_d = 1 << 30, limit = (int)strlen(key) / 2 + 1;
	for (; names && *names; names++) {
		int d = edit_distance(*names, key);
		if (d < best_d) {
			best_d = d;
			best = *names;
		}
	}
	return best_d <= (limit < 3 ? limit : 3) ? best : NULL;
}

const char *param_nearest(const struct param_spec *specs, const char *key)
{
	const char *names[128];
	int n = 0;
	for (; specs && specs->key && n < 127; specs++)
		names[n++] = specs->key;
	names[n] = NULL;
	return nearest_name(names, key);
}

int parse_shape(const char *text, struct mx_shape *out)
{
	const char *p = text;
	struct mx_shape s = {0};
	while (isspace((unsigned char)*p) || *p == '(' || *p == '[')
		p++;
	while (*p && *p != ')' && *p != ']') {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (end == p || errno || s.ndim == MX_MAX_NDIM)
			return mx_error(MX_ERR_INVALID, "\"%s\" is not a shape such as (3, 3)", text);
		s.dim[s.ndim++] = v;
		p = end;
		while (isspace((unsigned char)*p) || *p == ',' || *p == 'L')
			p++;
	}
	if (*p)
		p++;
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return mx_error(MX_ERR_INVALID, "\"%s\" is not a shape such as (3, 3)", text);
	*out = s;
	return MX_OK;
}

static int out_of_range(const struct param_spec *sp, double v)
{
	if (sp->min < sp->max && (v < sp->min || v > sp->max)) {
		if (sp->max >= 1e30)
			return mx_error(MX_ERR_INVALID, "%s = %g is out of range (must be >= %g)", sp->key, v, sp->min);
		return mx_error(MX_ERR_INVALID, "%s = %g is out of range [%g, %g]", sp->key, v, sp->min, sp->max);
	}
	return MX_OK;
}

int param_set(const struct param_spec *specs, void *obj, const char *key, const char *value)
{
	const struct param_spec *sp = param_find(specs, key);
	char *field, *end;
	if (!sp) {
		const char *near = param_nearest(specs, key);
		if (near)
			return mx_error(MX_ERR_INVALID, "unknown key \"%s\" (did you mean \"%s\"?)", key, near);
		return mx_error(MX_ERR_INVALID, "unknown key \"%s\"", key);
	}
	field = (char *)obj + sp->offset;
	switch (sp->type) {
	case PARAM_INT:
	case PARAM_INT64: {
		long long v;
		errno = 0;
		v = strtoll(value, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (end == value || *end || errno)
			return mx_error(MX_ERR_INVALID, "%s: expected an integer, got \"%s\"", key, value);
		if (out_of_range(sp, (double)v))
			return MX_ERR_INVALID;
		if (sp->type == PARAM_INT) {
			if (v < INT32_MIN || v > INT32_MAX)
				return mx_error(MX_ERR_INVALID, "%s: %s does not fit in an int", key, value);
			*(int *)field = (int)v;
		} else {
			*(int64_t *)field = v;
		}
		return MX_OK;
	}
	case PARAM_FLOAT: {
		double v;
		errno = 0;
		v = strtod(value, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (end == value || *end || errno || !isfinite(v))
			return mx_error(MX_ERR_INVALID, "%s: expected a number, got \"%s\"", key, value);
		if (out_of_range(sp, v))
			return MX_ERR_INVALID;
		*(float *)field = (float)v;
		return MX_OK;
	}
	case PARAM_BOOL:
		if (!strcasecmp(value, "true") || !strcmp(value, "1"))
			*(int *)field = 1;
		else if (!strcasecmp(value, "false") || !strcmp(value, "0"))
			*(int *)field = 0;
		else
			return mx_error(MX_ERR_INVALID, "%s: expected true or false, got \"%s\"", key, value);
		return MX_OK;
	case PARAM_STRING:
		if (strlen(value) >= sp->size)
			return mx_error(MX_ERR_INVALID, "%s: value longer than %zu characters", key, sp->size - 1);
		strcpy(field, value);
		return MX_OK;
	case PARAM_ENUM:
		for (int i = 0; sp->choices[i]; i++) {
			if (!strcmp(sp->choices[i], value)) {
				*(int *)field = i;
				return MX_OK;
			}
		}
		{
			char list[512] = "";
			size_t n = 0;
			const char *near = nearest_name(sp->choices, value);
			for (int i = 0; sp->choices[i] && n < sizeof list; i++)
				n += snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", sp->choices[i]);
			if (near)
				return mx_error(MX_ERR_INVALID, "%s: \"%s\" is not one of %s (did you mean \"%s\"?)", key,
						value, list, near);
			return mx_error(MX_ERR_INVALID, "%s: \"%s\" is not one of %s", key, value, list);
		}
	case PARAM_SHAPE:
		if (parse_shape(value, (struct mx_shape *)field))
			return mx_error_prefix(MX_ERR_INVALID, "%s", key);
		for (int i = 0; i < ((struct mx_shape *)field)->ndim; i++)
			if (out_of_range(sp, (double)((struct mx_shape *)field)->dim[i]))
				return MX_ERR_INVALID;
		return MX_OK;
	}
	return mx_error(MX_ERR_INTERNAL, "%s: bad parameter table", key);
}

void param_defaults(const struct param_spec *specs, void *obj)
{
	for (; specs && specs->key; specs++) {
		if (specs->def && param_set(specs, obj, specs->key, specs->def))
			fprintf(stderr, "mxtrain: internal: bad default for %s\n", specs->key);
	}
}

void param_format(const struct param_spec *sp, const void *obj, char *buf, size_t size)
{
	const char *field = (const char *)obj + sp->offset;
	switch (sp->type) {
	case PARAM_INT: snprintf(buf, size, "%d", *(const int *)field); break;
	case PARAM_INT64: snprintf(buf, size, "%lld", (long long)*(const int64_t *)field); break;
	case PARAM_FLOAT: snprintf(buf, size, "%.9g", *(const float *)field); break;
	case PARAM_BOOL: snprintf(buf, size, "%s", *(const int *)field ? "True" : "False"); break;
	case PARAM_STRING: snprintf(buf, size, "%s", field); break;
	case PARAM_ENUM: snprintf(buf, size, "%s", sp->choices[*(const int *)field]); break;
	case PARAM_SHAPE: {
		const struct mx_shape *s = (const struct mx_shape *)field;
		size_t n = snprintf(buf, size, "(");
		for (int i = 0; i < s->ndim && n < size; i++)
			n += snprintf(buf + n, size - n, i ? ", %lld" : "%lld", (long long)s->dim[i]);
		if (s->ndim == 1 && n < size)
			n += snprintf(buf + n, size - n, ",");
		if (n < size)
			snprintf(buf + n, size - n, ")");
		break;
	}
	}
}
