/* fileio.c: files written whole or not at all, and raw-or-gzip files opened for reading
 * (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

int file_writer_open(struct file_writer *w, const char *path, const char *mode)
{
	size_t len = strlen(path);
	int rc;

	memset(w, 0, sizeof *w);
	if (!(w->path = strdup(path)) || !(w->tmp = malloc(len + 5))) {
		free(w->path);
		w->path = NULL;
		return mx_error(MX_ERR_NOMEM, "%s: out of memory", path);
	}
	memcpy(w->tmp, path, len);
	memcpy(w->tmp + len, ".tmp", 5);
	if (!(w->f = fopen(w->tmp, mode))) {
		rc = mx_error(MX_ERR_IO, "%s: cannot create: %s", w->tmp, strerror(errno));
		free(w->path);
		free(w->tmp);
		memset(w, 0, sizeof *w);
		return rc;
	}
	errno = 0;
	return MX_OK;
}

/* fsyncs the folder holding path so that a rename into it is durable (best effort). */
static void sync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd;
	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

static void writer_release(struct file_writer *w)
{
	free(w->path);
	free(w->tmp);
	memset(w, 0, sizeof *w);
}

int file_writer_commit(struct file_writer *w)
{
	int rc = MX_OK;

	/* errno is 0 since open unless a write failed, so it still holds that write's reason */
	if (ferror(w->f) || fflush(w->f) || fsync(fileno(w->f))) {
		int err = errno ? errno : EIO;
		fclose(w->f);
		rc = mx_error(MX_ERR_IO, "%s: write failed: %s", w->tmp, strerror(err));
	} else if (fclose(w->f)) {
		rc = mx_error(MX_ERR_IO, "%s: write failed: %s", w->tmp, strerror(errno));
	} else if (rename(w->tmp, w->path)) {
		rc = mx_error(MX_ERR_IO, "%s: cannot rename to %s: %s", w->tmp, w->path, strerror(errno));
	} else {
		sync_parent(w->path);
	}
	if (rc)
		unlink(w->tmp);
	writer_release(w);
	return rc;
}

void file_writer_abort(struct file_writer *w)
{
	if (!w->f)
		return;
	fclose(w->f);
	unlink(w->tmp);
	writer_release(w);
}

int file_gz_open(const char *path, gzFile *gz)
{
	int fd = open(path, O_RDONLY);

	*gz = NULL;
	if (fd < 0)
		return mx_error(MX_ERR_IO, "%s: %s", path, strerror(errno));
	if (!(*gz = gzdopen(fd, "rb"))) {
		close(fd);
		return mx_error(MX_ERR_NOMEM, "%s: out of memory for the gzip reader", path);
	}
	gzbuffer(*gz, 1 << 17);
	return MX_OK;
}

const char *file_gz_reason(gzFile gz)
{
	int errnum;
	const char *why = gzerror(gz, &errnum), *sep;
	if (errnum == Z_ERRNO)
		return strerror(errno);
	if (!strncmp(why, "<fd:", 4) && (sep = strstr(why, ">: ")))
		return sep + 3;
	return why;
}
