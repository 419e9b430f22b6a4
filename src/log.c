/* log.c: leveled logging (warnings and debug lines go to stderr with a tag) and the
 * monotonic clock. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum mx_log_level log_level = MX_LOG_INFO; /* process-wide, set by the CLI */
static const char *log_program = "mxtrain";        /* likewise */

void mx_log_set_program(const char *name) { log_program = name; }

void mx_log_set_level(enum mx_log_level level) { log_level = level; }
enum mx_log_level mx_log_get_level(void) { return log_level; }

void mx_log(enum mx_log_level level, const char *fmt, ...)
{
	static const char *const tag[] = {"debug", "info", "warning", "error"};
	va_list ap;
	if (level < log_level || level >= MX_LOG_QUIET)
		return;
	fprintf(stderr, "%s: %s: ", log_program, tag[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

double mx_now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
