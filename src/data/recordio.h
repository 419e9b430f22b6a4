/* recordio.h: MXNet's RecordIO (.rec), its index (.idx) and the image record header.
 *
 * Byte layouts are in shared/spec/formats.md sections 1-3; this module follows them
 * exactly so that files move between mxtrain and MXNet 1.x in both directions.
 *
 * Writing. A writer frames each logical record as one or more parts (magic, length word
 * with continuation flag, payload, zero padding to 4 bytes); a payload that holds the
 * magic at an aligned offset is split there, and the reader puts the magic back. Output
 * goes to "<path>.tmp" and is renamed to <path> by recordio_writer_close, so an
 * interrupted run never leaves a half-written file under the real name.
 *
 *   struct recordio_writer *w;
 *   if (recordio_writer_open("train.rec", &w)) fail(mx_error_message());
 *   long long at = recordio_writer_tell(w);    // the .idx offset of the next record
 *   if (recordio_write(w, buf, len) || recordio_writer_close(w)) fail(...);
 *
 * Reading. A reader yields logical records in file order from a byte range of one file.
 * recordio_reader_open_part gives worker k of N its share exactly as MXNet's dmlc
 * InputSplit does (ceil-then-align-to-4 steps, each boundary moved forward to the next
 * record head), so the union of the parts is the whole file with nothing read twice.
 * recordio_reader_seek jumps to a record head (an .idx offset).
 *
 * Faults. A part with a bad magic, a bad continuation flag, or a length past the end of
 * the file is reported with the file and byte offset. With strict = 0 the reader logs one
 * warning, counts the record as skipped, resynchronises on the next record head and goes
 * on; with strict = 1 it returns the error. Neither crashes, loops forever, or allocates
 * more than the longest intact record (bounded by the file size).
 *
 *   struct recordio_reader *r;
 *   if (recordio_reader_open_part("train.rec", 0, 1, 0, &r)) fail(...);
 *   const unsigned char *rec; size_t len; long long off;
 *   while ((rc = recordio_read(r, &rec, &len, &off)) == MX_OK) use(rec, len);
 *   if (rc != MX_END) fail(mx_error_message());
 *   recordio_reader_close(r);
 */
#ifndef MX_RECORDIO_H
#define MX_RECORDIO_H

#include <stddef.h>
#include <stdint.h>

#define RECORDIO_MAGIC 0xCED7230Au
#define RECORDIO_MAX_PART 0x1FFFFFFFu   /* longest payload of one part (29 bits) */

/* ---- writer ---------------------------------------------------------------------------- */

struct recordio_writer;

/* Creates "<path>.tmp" for writing. Returns MX_OK or MX_ERR_IO naming the file. */
int recordio_writer_open(const char *path, struct recordio_writer **out);
/* Appends one logical record of len bytes (0 allowed; len must fit in 29 bits). */
int recordio_write(struct recordio_writer *w, const void *buf, size_t len);
/* The byte offset the next record will start at (its .idx offset). */
long long recordio_writer_tell(const struct recordio_writer *w);
/* Flushes, closes and renames the file into place; frees w either way. */
int recordio_writer_close(struct recordio_writer *w);
/* Closes and removes the temporary file; frees w. For error paths. */
void recordio_writer_abort(struct recordio_writer *w);

/* Frames one record into out (which must hold recordio_encoded_size(len) bytes); returns
 * the bytes written. The writer uses it; tests and the fuzz harness build files with it. */
size_t recordio_encoded_size(const void *buf, size_t len);
size_t recordio_encode(const void *buf, size_t len, unsigned char *out);

/* ---- reader ---------------------------------------------------------------------------- */

struct recordio_reader;

/* Opens part part_index of num_parts of path (0 <= part_index < num_parts). An empty
 * part is not an error: its first read returns MX_END. */
int recordio_reader_open_part(const char *path, int part_index, int num_parts, int strict,
		struct recordio_reader **out);
/* The raw byte range [begin, end) of part k of N for a file of `total` bytes, before the
 * boundaries are moved to record heads (dmlc's formula, formats.md 1.6). */
void recordio_part_range(long long total, int part_index, int num_parts, long long *begin,
		long long *end);
/* Moves the read position to `offset`, which must be a record head inside this reader's
 * range (an .idx offset); the next read returns the record there. */
int recordio_reader_seek(struct recordio_reader *r, long long offset);
/* Moves back to the start of this reader's range. */
int recordio_reader_rewind(struct recordio_reader *r);
/* Reads the next logical record. Returns MX_OK with *data (valid until the next call on
 * r) and *len, and *offset (the byte offset of its first part header; may be NULL);
 * MX_END after the last record of the range; or an error naming the file and offset. */
int recordio_read(struct recordio_reader *r, const unsigned char **data, size_t *len,
		long long *offset);
/* Lists the offsets of every logical record in this reader's range, in file order,
 * reading only part headers (payloads are skipped with seeks). *offsets is malloc'ed.
 * Corrupt stretches are handled as recordio_read does (skipped with a warning, or an
 * error when strict). Leaves the read position at the start of the range. */
int recordio_reader_scan(struct recordio_reader *r, long long **offsets, long *n);
/* Reads the logical record whose first part header is at `offset` with pread, leaving the
 * sequential position alone. Thread-safe: decode threads may call it on one reader at
 * once. *buf (malloc'ed, *cap bytes) is grown as needed; *len is the record's length.
 * Errors name the file and offset (a bad header is always an error here). */
int recordio_reader_read_at(const struct recordio_reader *r, long long offset, unsigned char **buf,
		size_t *cap, size_t *len);
/* Records skipped because they were corrupt (strict = 0). */
long recordio_reader_skipped(const struct recordio_reader *r);
/* The range this reader covers, after moving to record heads. */
void recordio_reader_range(const struct recordio_reader *r, long long *begin, long long *end);
const char *recordio_reader_path(const struct recordio_reader *r);
void recordio_reader_close(struct recordio_reader *r);

/* ---- index (.idx) ------------------------------------------------------------------------ */

/* One "key\toffset\n" line per record, in file order. */
struct recordio_index {
	long n;
	uint64_t *keys;
	long long *offsets;
};

/* Reads an .idx file. Errors name the file and line (a line that is not two integers, an
 * offset that is negative or not a multiple of 4). Offsets past the end of the .rec are
 * the caller's to check (recordio_index_check). */
int recordio_index_read(const char *path, struct recordio_index *idx);
/* Checks every offset against the .rec file's size: an offset at or past the end is an
 * error naming the .idx line. */
int recordio_index_check(const struct recordio_index *idx, const char *idx_path,
		long long rec_size);
/* Writes idx atomically (temporary name, then rename). */
int recordio_index_write(const char *path, const struct recordio_index *idx);
void recordio_index_free(struct recordio_index *idx);

/* ---- image record header (IRHeader) ------------------------------------------------------ */

#define IMAGE_RECORD_HEADER_SIZE 24

/* flag == 0: one label in `label`; flag > 0: `flag` float labels follow the header. */
struct image_record_header {
	uint32_t flag;
	float label;
	uint64_t id, id2;
};

/* Splits a record payload into header, labels and content. *labels points at flag
 * little-endian floats inside payload (possibly unaligned: read them with
 * image_record_label). Returns MX_OK, or MX_ERR_FORMAT when the payload is shorter than
 * the header and its labels. */
int image_record_unpack(const unsigned char *payload, size_t len, struct image_record_header *h,
		const unsigned char **labels, const unsigned char **content, size_t *content_len);
float image_record_label(const unsigned char *labels, uint32_t i);
/* Builds a payload: header (h->flag labels taken from `labels` when flag > 0) + content.
 * out must hold image_record_packed_size(h, content_len) bytes; returns the bytes used. */
size_t image_record_packed_size(const struct image_record_header *h, size_t content_len);
size_t image_record_pack(const struct image_record_header *h, const float *labels,
		const void *content, size_t content_len, unsigned char *out);

#endif
