/* fileio.h: files written whole or not at all, and raw-or-gzip files opened for reading.
 *
 * A file_writer writes "<path>.tmp" and renames it over path only when every byte is
 * written and synced, then syncs the folder, so a crash or a kill leaves the old file or
 * the new one, never half of one (DESIGN.md, "Errors, inputs, files"):
 *
 *   struct file_writer w;
 *   if ((rc = file_writer_open(&w, path, "wb")))
 *           return rc;
 *   fwrite(bytes, 1, n, w.f);            a failed write is remembered by the stream
 *   return file_writer_commit(&w);       or file_writer_abort(&w) to leave path as it was
 *
 * The struct is public so that callers can embed it (recordio's writer does); its fields
 * are read-only outside fileio.c except by writing to f.
 */
#ifndef MX_FILEIO_H
#define MX_FILEIO_H

#include <stdio.h>
#include <zlib.h>

struct file_writer {
	FILE *f;      /* the temporary file, open for writing; NULL once committed or aborted */
	char *path;   /* the final name; owned */
	char *tmp;    /* "<path>.tmp", the name messages give while writing; owned */
};

/* Creates "<path>.tmp" with fopen(mode) and fills w. Returns MX_OK (errno is then 0, so
 * that commit can report the first failed write's reason), MX_ERR_NOMEM, or MX_ERR_IO
 * "<path>.tmp: cannot create: <reason>". On error w holds nothing to free. */
int file_writer_open(struct file_writer *w, const char *path, const char *mode);

/* Finishes the file: checks the stream for a failed write, flushes, fsyncs, closes and
 * renames it to path, then fsyncs the folder. Returns MX_OK, or MX_ERR_IO
 * "<path>.tmp: write failed: <reason>" or "<path>.tmp: cannot rename to <path>: <reason>"
 * after removing the temporary file. Either way w is closed and its names freed. */
int file_writer_commit(struct file_writer *w);

/* Gives up: closes and removes the temporary file and frees w's names; path is untouched.
 * Does nothing for a zeroed w or one already committed or aborted. */
void file_writer_abort(struct file_writer *w);

/* Opens path for reading through zlib, which reads gzip files decompressed and other files
 * as they are (gzdirect tells which), with a 128 KiB buffer. Returns MX_OK and *gz (the
 * caller closes it with gzclose), MX_ERR_IO "<path>: <reason>", or MX_ERR_NOMEM. */
int file_gz_open(const char *path, gzFile *gz);

/* The reason for gz's last error, without the "<fd:3>: " that zlib puts in front of the
 * messages of a stream opened by gzdopen (strerror(errno) for a system error). Never NULL. */
const char *file_gz_reason(gzFile gz);

#endif
