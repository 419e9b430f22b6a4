/* error.h: the error convention. A failing function returns a non-zero mx_status and
 * records one message naming the place (conf file and line, layer and shapes, file and
 * byte offset). The message lives in a per-thread buffer (the one named piece of
 * process state here besides the op registry and the log level); the CLI prints it. */
#ifndef MX_ERROR_H
#define MX_ERROR_H

enum mx_status {
	MX_OK = 0,
	MX_ERR_INVALID,  /* bad user input: a conf key, a value, an argument */
	MX_ERR_SHAPE,    /* shapes do not fit */
	MX_ERR_IO,       /* a file cannot be opened, read or written */
	MX_ERR_FORMAT,   /* a file's bytes are not what its format says */
	MX_ERR_NOMEM,
	MX_ERR_INTERNAL, /* our own bug */
	MX_END = 100,    /* not an error: the end of an epoch or a stream */
};

/* Record a message and return code, so callers write `return mx_error(MX_ERR_IO, ...)`. */
int mx_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Put "prefix: " in front of the current message (to add the place as an error rises). */
int mx_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of the last error on this thread ("" if none). Never NULL. */
const char *mx_error_message(void);
void mx_error_clear(void);
/* Copy the message out (for errors that cross threads: engine tasks). */
void mx_error_copy(char *buf, int size);

#endif
