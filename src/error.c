/* error.c: the per-thread last-error message behind error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MX_ERROR_MAX 1024
#pragma GCC diagnostic ignored "-Wformat-truncation"
static _Thread_local char last_error[MX_ERROR_MAX];

int mx_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	return code;
}

int mx_error_prefix(int code, const char *fmt, ...)
{
	char prefix[MX_ERROR_MAX], old[MX_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, last_error, sizeof old);
	snprintf(last_error, sizeof last_error, "%s: %s", prefix, old);
	return code;
}

const char *mx_error_message(void) { return last_error; }
void mx_error_clear(void) { last_error[0] = 0; }
void mx_error_copy(char *buf, int size) { snprintf(buf, size, "%s", last_error); }
const char mxtrain_version[] = "0.1.0";
