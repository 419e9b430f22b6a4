/* check_formats.c: MXNet checkpoint formats: NDArray lists (.params) and symbol JSON,
 * against files written by the real MXNet 1.9.1 (tests/fixtures/mxnet, made by
 * tests/peer/make_format_fixtures.py) and against corrupt and truncated input. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/graph.h"
#include "net/ndarray_io.h"
#include "net/symbol_json.h"
#include "testutil.h"

#define MXDIR FIXTURES "/mxnet"

static void assert_same_file(const char *a, const char *b)
{
	size_t na, nb;
	unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
	ck_assert_msg(na == nb, "%s has %zu bytes, %s has %zu", a, na, b, nb);
	for (size_t i = 0; i < na; i++)
		ck_assert_msg(x[i] == y[i], "%s and %s differ at byte %zu", a, b, i);
	free(x);
	free(y);
}

static int dtype_from_name(const char *s)
{
	for (int d = 0; d <= MX_I64; d++)
		if (!strcmp(dtype_name(d), s))
			return d;
	ck_abort_msg("unknown dtype %s in expected.txt", s);
	return -1;
}

/* Checks every array expected.txt lists for file against what ndarray_list_load gives:
 * count, names, dtypes, shapes, and every value exactly. Returns the number checked. */
static int check_against_expected(const char *file)
{
	char path[512], line[65536];
	struct ndarray_list *l;
	FILE *f;
	int seen = 0;
	snprintf(path, sizeof path, "%s/%s", MXDIR, file);
	ck_ok(ndarray_list_load(path, &l));
	f = fopen(MXDIR "/expected.txt", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f)) {
		char *save, *tok = strtok_r(line, " \n", &save);
		int index, dtype, ndim;
		const char *name;
		struct mx_tensor *t;
		int64_t count = 1;
		if (!tok || strcmp(tok, file))
			continue;
		index = atoi(strtok_r(NULL, " \n", &save));
		name = strtok_r(NULL, " \n", &save);
		dtype = dtype_from_name(strtok_r(NULL, " \n", &save));
		ndim = atoi(strtok_r(NULL, " \n", &save));
		ck_assert_int_lt(index, l->n);
		t = l->arrays[index];
		if (!strcmp(name, "-"))
			ck_assert_ptr_null(l->names);
		else
			ck_assert_str_eq(l->names[index], name);
		ck_assert_msg(t->dtype == dtype, "%s[%d]: dtype %s, want %s", file, index,
			      dtype_name(t->dtype), dtype_name(dtype));
		ck_assert_int_eq(t->shape.ndim, ndim);
		for (int i = 0; i < ndim; i++) {
			int64_t d = atoll(strtok_r(NULL, " \n", &save));
			ck_assert_int_eq(t->shape.dim[i], d);
			count *= d;
		}
		for (int64_t i = 0; i < count; i++) {
			const char *v = strtok_r(NULL, " \n", &save);
			ck_assert_msg(v != NULL, "%s[%d]: expected.txt has too few values", file, index);
			switch (dtype) {
			case MX_F32:
				ck_assert_msg(((float *)t->data)[i] == (float)strtod(v, NULL),
					      "%s %s[%lld] = %.9g, want %s", file, name, (long long)i,
					      ((float *)t->data)[i], v);
				break;
			case MX_F64: ck_assert(((double *)t->data)[i] == strtod(v, NULL)); break;
			case MX_F16: ck_assert_int_eq(((uint16_t *)t->data)[i], atoi(v)); break;
			case MX_U8: ck_assert_int_eq(((uint8_t *)t->data)[i], atoi(v)); break;
			case MX_I8: ck_assert_int_eq(((int8_t *)t->data)[i], atoi(v)); break;
			case MX_I32: ck_assert_int_eq(((int32_t *)t->data)[i], atoll(v)); break;
			case MX_I64: ck_assert(((int64_t *)t->data)[i] == strtoll(v, NULL, 10)); break;
			}
		}
		ck_assert_ptr_null(strtok_r(NULL, " \n", &save));
		seen++;
	}
	fclose(f);
	ck_assert_msg(seen == l->n, "%s: %d arrays, expected.txt lists %d", file, l->n, seen);
	ndarray_list_free(l);
	return seen;
}

/* Loads path expecting failure code; checks the message holds each of the substrings. */
static void expect_load_error(const char *path, int code, const char *sub1, const char *sub2)
{
	struct ndarray_list *l = (void *)1;
	int rc = ndarray_list_load(path, &l);
	ck_assert_msg(rc == code, "%s: rc %d, want %d (%s)", path, rc, code, mx_error_message());
	ck_assert_ptr_null(l);
	if (sub1)
		ck_assert_msg(strstr(mx_error_message(), sub1), "message \"%s\" lacks \"%s\"",
			      mx_error_message(), sub1);
	if (sub2)
		ck_assert_msg(strstr(mx_error_message(), sub2), "message \"%s\" lacks \"%s\"",
			      mx_error_message(), sub2);
}

/* The worked example of formats.md 5.5: {'arg:fc1_bias': [1.0, 2.0]}. */
static const unsigned char worked_example[92] = {
	0x12, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0x01, 0, 0, 0, 0, 0, 0, 0, 0xc9, 0xfa, 0x93, 0xf9, 0, 0, 0, 0,
	0x01, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
	0x01, 0, 0, 0, 0, 0, 0, 0, 0x0c, 0, 0, 0, 0, 0, 0, 0,
	'a', 'r', 'g', ':', 'f', 'c', '1', '_', 'b', 'i', 'a', 's',
};

/* ---- NDArray lists ----------------------------------------------------------------- */

START_TEST(test_mxnet_float32_dict_loads_with_names_shapes_and_exact_values)
{
	ck_assert_int_eq(check_against_expected("dict_f32.params"), 4);
}
END_TEST

START_TEST(test_mxnet_list_without_names_loads_with_null_names)
{
	ck_assert_int_eq(check_against_expected("list_f32.params"), 2);
}
END_TEST

START_TEST(test_mxnet_float64_int32_float16_uint8_int8_int64_arrays_keep_their_dtype)
{
	ck_assert_int_eq(check_against_expected("dtypes.params"), 6);
}
END_TEST

START_TEST(test_mxnet_numpy_semantics_v3_file_loads_and_a_scalar_reads_as_shape_1)
{
	ck_assert_int_eq(check_against_expected("v3_np.params"), 2);
}
END_TEST

START_TEST(test_mxnet_checkpoint_params_load_with_arg_prefixes)
{
	struct ndarray_list *l;
	ck_assert_int_eq(check_against_expected("mlp-0003.params"), 4);
	ck_ok(ndarray_list_load(MXDIR "/mlp-0003.params", &l));
	ck_assert_int_eq(ndarray_list_find(l, "arg:fc2_bias"), 3);
	ck_assert_int_eq(ndarray_list_find(l, "fc2_bias"), -1);
	ndarray_list_free(l);
}
END_TEST

START_TEST(test_saving_a_loaded_mxnet_file_gives_mxnets_bytes_exactly)
{
	static const char *const files[] = {"dict_f32.params", "list_f32.params", "dtypes.params",
					    "mlp-0003.params"};
	make_tmpdir();
	for (int i = 0; i < 4; i++) {
		char src[512];
		struct ndarray_list *l;
		snprintf(src, sizeof src, "%s/%s", MXDIR, files[i]);
		ck_ok(ndarray_list_load(src, &l));
		ck_ok(ndarray_list_save(tmp_path(files[i]), l));
		assert_same_file(tmp_path(files[i]), src);
		ndarray_list_free(l);
	}
	remove_tmpdir();
}
END_TEST

START_TEST(test_save_writes_the_formats_md_worked_example_byte_for_byte)
{
	struct ndarray_list *l = ndarray_list_new();
	struct mx_shape s = shape_make(1, (int64_t)2);
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
	size_t n;
	unsigned char *bytes;
	tensor_f32(t)[0] = 1.0f;
	tensor_f32(t)[1] = 2.0f;
	ck_ok(ndarray_list_add(l, "arg:fc1_bias", t));
	make_tmpdir();
	ck_ok(ndarray_list_save(tmp_path("x.params"), l));
	bytes = slurp(tmp_path("x.params"), &n);
	ck_assert_int_eq(n, 92);
	ck_assert_mem_eq(bytes, worked_example, 92);
	ck_assert_int_eq(access(tmp_path("x.params.tmp"), F_OK), -1);
	free(bytes);
	ndarray_list_free(l);
	remove_tmpdir();
}
END_TEST

START_TEST(test_every_truncation_of_a_file_is_a_format_error_naming_the_byte)
{
	size_t n;
	unsigned char *bytes = slurp(MXDIR "/dict_f32.params", &n);
	make_tmpdir();
	for (size_t len = 0; len < n; len++) {
		spit(tmp_path("cut.params"), bytes, len);
		expect_load_error(tmp_path("cut.params"), MX_ERR_FORMAT, "byte", "cut.params");
	}
	/* Cut inside the data of array 2 (arg:conv0_weight, 12 floats at bytes 212..260). */
	spit(tmp_path("cut.params"), bytes, 230);
	expect_load_error(tmp_path("cut.params"), MX_ERR_FORMAT, "truncated at byte 212: array 2",
			  "needs 48 bytes");
	free(bytes);
	remove_tmpdir();
}
END_TEST

START_TEST(test_any_single_corrupt_byte_gives_an_error_or_a_list_never_a_crash)
{
	size_t n;
	unsigned char *bytes = slurp(MXDIR "/dtypes.params", &n);
	make_tmpdir();
	for (size_t i = 0; i < n; i++) {
		static const unsigned char junk[] = {0xff, 0x7f, 0x80, 0x00, 0x13};
		for (int j = 0; j < 5; j++) {
			unsigned char keep = bytes[i];
			struct ndarray_list *l = NULL;
			int rc;
			bytes[i] = junk[j];
			spit(tmp_path("bad.params"), bytes, n);
			rc = ndarray_list_load(tmp_path("bad.params"), &l);
			ck_assert_msg(rc == MX_OK || rc == MX_ERR_FORMAT, "byte %zu = 0x%02x: rc %d: %s", i,
				      junk[j], rc, mx_error_message());
			ck_assert(rc == MX_OK ? l != NULL : l == NULL);
			ndarray_list_free(l);
			bytes[i] = keep;
		}
	}
	free(bytes);
	remove_tmpdir();
}
END_TEST

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

START_TEST(test_a_wrong_list_magic_is_rejected)
{
	unsigned char b[92];
	memcpy(b, worked_example, 92);
	b[0] = 0x13;
	make_tmpdir();
	spit(tmp_path("m.params"), b, 92);
	expect_load_error(tmp_path("m.params"), MX_ERR_FORMAT, "byte 0: not an MXNet NDArray file",
			  "magic 0x113");
	remove_tmpdir();
}
END_TEST

START_TEST(test_a_wrong_record_magic_is_rejected_at_its_offset)
{
	unsigned char b[92];
	memcpy(b, worked_example, 92);
	put_u32(b + 24, 0xdeadbeef);
	make_tmpdir();
	spit(tmp_path("m.params"), b, 92);
	expect_load_error(tmp_path("m.params"), MX_ERR_FORMAT, "byte 24: array 0", "0xdeadbeef");
	remove_tmpdir();
}
END_TEST

START_TEST(test_absurd_counts_ndims_and_dims_fail_without_huge_allocations)
{
	unsigned char b[92];
	make_tmpdir();
	/* array count 2^60 */
	memcpy(b, worked_example, 92);
	put_u64(b + 16, UINT64_C(1) << 60);
	spit(tmp_path("a.params"), b, 92);
	expect_load_error(tmp_path("a.params"), MX_ERR_FORMAT, "byte 16: corrupt array count", NULL);
	/* ndim 2^31 - 1 */
	memcpy(b, worked_example, 92);
	put_u32(b + 32, 0x7fffffff);
	spit(tmp_path("a.params"), b, 92);
	expect_load_error(tmp_path("a.params"), MX_ERR_FORMAT, "byte 32: array 0: corrupt shape: ndim 2147483647", NULL);
	/* dim 2^62: far more data than the file holds */
	memcpy(b, worked_example, 92);
	put_u64(b + 36, UINT64_C(1) << 62);
	spit(tmp_path("a.params"), b, 92);
	expect_load_error(tmp_path("a.params"), MX_ERR_FORMAT, "truncated at byte 56: array 0 needs",
			  "float32");
	/* a negative dim */
	memcpy(b, worked_example, 92);
	put_u64(b + 36, (uint64_t)-5);
	spit(tmp_path("a.params"), b, 92);
	expect_load_error(tmp_path("a.params"), MX_ERR_FORMAT, "negative dimension", "array 0");
	/* a name length of 2^63 */
	memcpy(b, worked_example, 92);
	put_u64(b + 72, UINT64_C(1) << 63);
	spit(tmp_path("a.params"), b, 92);
	expect_load_error(tmp_path("a.params"), MX_ERR_FORMAT, "truncated at byte 80", "the name of array 0");
	/* a name count that is neither 0 nor n */
	memcpy(b, worked_example, 92);
	put_u64(b + 64, 2);
	spit(tmp_path("a.params"), b, 92);
	expect_load_error(tmp_path("a.params"), MX_ERR_FORMAT, "byte 64: corrupt name count 2", NULL);
	/* an unknown type flag */
	memcpy(b, worked_example, 92);
	put_u32(b + 52, 99);
	spit(tmp_path("a.params"), b, 92);
	expect_load_error(tmp_path("a.params"), MX_ERR_FORMAT, "byte 52: array 0: unknown type flag 99", NULL);
	/* a known mshadow type mxtrain has no tensors for (uint32: 4 bytes, like float32) */
	memcpy(b, worked_example, 92);
	put_u32(b + 52, 10);
	spit(tmp_path("a.params"), b, 92);
	expect_load_error(tmp_path("a.params"), MX_ERR_FORMAT,
			  "array 0 (arg:fc1_bias): dtype uint32 is not supported", NULL);
	remove_tmpdir();
}
END_TEST

START_TEST(test_a_sparse_array_is_refused_by_name)
{
	expect_load_error(MXDIR "/sparse.params", MX_ERR_FORMAT,
			  "array 1 (arg:emb_weight): sparse arrays are not supported", "row_sparse");
}
END_TEST

START_TEST(test_legacy_v1_and_pre_v1_records_load)
{
	/* list of 2: a V1 record (i64 dims) and a pre-V1 record (u32 ndim first, u32 dims). */
	unsigned char b[256];
	size_t n = 0;
	struct ndarray_list *l;
	float v1[3] = {1.5f, -2.0f, 3.25f};
	int32_t old[4] = {7, -8, 9, 10};
	put_u64(b + n, 0x112), n += 8;
	put_u64(b + n, 0), n += 8;
	put_u64(b + n, 2), n += 8;
	put_u32(b + n, 0xF993FAC8u), n += 4;
	put_u32(b + n, 1), n += 4;
	put_u64(b + n, 3), n += 8;
	put_u32(b + n, 2), n += 4; /* recorded on gpu 1: loaded onto the CPU */
	put_u32(b + n, 1), n += 4;
	put_u32(b + n, MX_F32), n += 4;
	memcpy(b + n, v1, 12), n += 12;
	put_u32(b + n, 2), n += 4;
	put_u32(b + n, 2), n += 4;
	put_u32(b + n, 2), n += 4;
	put_u32(b + n, 1), n += 4;
	put_u32(b + n, 0), n += 4;
	put_u32(b + n, MX_I32), n += 4;
	memcpy(b + n, old, 16), n += 16;
	put_u64(b + n, 0), n += 8;
	make_tmpdir();
	spit(tmp_path("old.params"), b, n);
	ck_ok(ndarray_list_load(tmp_path("old.params"), &l));
	ck_assert_int_eq(l->n, 2);
	ck_assert_ptr_null(l->names);
	ck_assert_int_eq(l->arrays[0]->shape.ndim, 1);
	ck_assert_int_eq(l->arrays[0]->shape.dim[0], 3);
	ck_assert_int_eq(l->arrays[0]->ctx.dev_type, MX_DEV_CPU);
	ck_assert_mem_eq(l->arrays[0]->data, v1, 12);
	ck_assert_int_eq(l->arrays[1]->dtype, MX_I32);
	ck_assert_int_eq(l->arrays[1]->shape.ndim, 2);
	ck_assert_int_eq(l->arrays[1]->shape.dim[1], 2);
	ck_assert_mem_eq(l->arrays[1]->data, old, 16);
	ndarray_list_free(l);
	remove_tmpdir();
}
END_TEST

START_TEST(test_a_none_array_loads_as_a_tensor_without_shape)
{
	/* V2 record with stype -1 and ndim -1 (how 1.9.1 writes a none array), then a real one. */
	unsigned char b[128];
	size_t n = 0;
	struct ndarray_list *l;
	put_u64(b + n, 0x112), n += 8;
	put_u64(b + n, 0), n += 8;
	put_u64(b + n, 2), n += 8;
	put_u32(b + n, 0xF993FAC9u), n += 4;
	put_u32(b + n, (uint32_t)-1), n += 4;
	put_u32(b + n, (uint32_t)-1), n += 4;
	memcpy(b + n, worked_example + 24, 40), n += 40;
	put_u64(b + n, 0), n += 8;
	make_tmpdir();
	spit(tmp_path("none.params"), b, n);
	ck_ok(ndarray_list_load(tmp_path("none.params"), &l));
	ck_assert_int_eq(l->n, 2);
	ck_assert_int_eq(l->arrays[0]->shape.ndim, 0);
	ck_assert_int_eq(l->arrays[1]->shape.dim[0], 2);
	ck_assert(tensor_f32(l->arrays[1])[1] == 2.0f);
	/* ... and it cannot be saved. */
	ck_assert_int_eq(ndarray_list_save(tmp_path("out.params"), l), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "array 0 (unnamed): cannot save an array with no shape"));
	ndarray_list_free(l);
	remove_tmpdir();
}
END_TEST

START_TEST(test_a_failed_save_leaves_the_old_file_and_no_temporary)
{
	struct ndarray_list *l = ndarray_list_new();
	struct mx_shape s = shape_make(1, (int64_t)2), none = {0};
	size_t n;
	unsigned char *bytes;
	make_tmpdir();
	spit(tmp_path("keep.params"), worked_example, 92);
	ck_ok(ndarray_list_add(l, "arg:a", tensor_new(&s, MX_F32, MX_CPU)));
	ck_ok(ndarray_list_add(l, "arg:b", tensor_new(&none, MX_F32, MX_CPU)));
	ck_assert_int_eq(ndarray_list_save(tmp_path("keep.params"), l), MX_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "keep.params: array 1 (arg:b)"));
	bytes = slurp(tmp_path("keep.params"), &n);
	ck_assert_int_eq(n, 92);
	ck_assert_mem_eq(bytes, worked_example, 92);
	ck_assert_int_eq(access(tmp_path("keep.params.tmp"), F_OK), -1);
	free(bytes);
	/* A folder that does not exist: an I/O error naming the file. */
	ck_assert_int_eq(ndarray_list_save(tmp_path("no/such/x.params"), l), MX_ERR_IO);
	ck_assert_ptr_nonnull(strstr(mx_error_message(), "no/such/x.params.tmp: cannot create"));
	ndarray_list_free(l);
	remove_tmpdir();
}
END_TEST

START_TEST(test_a_missing_file_is_an_io_error_naming_it)
{
	expect_load_error("/nonexistent/m-0001.params", MX_ERR_IO, "/nonexistent/m-0001.params",
			  "No such file");
}
END_TEST

START_TEST(test_list_add_and_find_keep_names_all_or_nothing)
{
	struct ndarray_list *l = ndarray_list_new();
	struct mx_shape s = shape_make(1, (int64_t)1);
	ck_ok(ndarray_list_add(l, NULL, tensor_new(&s, MX_F32, MX_CPU)));
	ck_assert_ptr_null(l->names);
	ck_assert_int_eq(ndarray_list_find(l, ""), -1);
	ck_ok(ndarray_list_add(l, "arg:w", tensor_new(&s, MX_F32, MX_CPU)));
	ck_assert_str_eq(l->names[0], "");
	ck_assert_int_eq(ndarray_list_find(l, "arg:w"), 1);
	ck_assert_int_eq(ndarray_list_find(l, "arg:x"), -1);
	ndarray_list_free(l);
}
END_TEST

/* ---- symbol JSON ------------------------------------------------------------------- */

/* All variables in node order (MXNet's list_arguments order + aux), joined by spaces. */
static char *variables(const struct graph *g, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; i < g->n_forward; i++)
		if (g->nodes[i].kind != NODE_OP && n < size)
			n += snprintf(buf + n, size - n, "%s%s", n ? " " : "", g->nodes[i].name);
	return buf;
}

START_TEST(test_mxnet_mlp_symbol_loads_with_arguments_in_mxnet_order)
{
	struct graph *g;
	char buf[512];
	int args[8];
	struct mx_shape *shapes;
	ck_ok(symbol_json_load(MXDIR "/mlp-symbol.json", &g));
	ck_assert_str_eq(variables(g, buf, sizeof buf),
			 "data fc1_weight fc1_bias fc2_weight fc2_bias softmax_label");
	ck_assert_int_eq(g->nodes[graph_find(g, "data")].kind, NODE_DATA);
	ck_assert_int_eq(g->nodes[graph_find(g, "softmax_label")].kind, NODE_LABEL);
	ck_assert_int_eq(graph_list_vars(g, NODE_ARG, args, 8), 4);
	ck_assert_str_eq(g->nodes[args[0]].name, "fc1_weight");
	ck_assert_str_eq(g->nodes[args[3]].name, "fc2_bias");
	ck_assert_str_eq(g->nodes[graph_find(g, "fc2")].op->name, "FullyConnected");
	ck_assert_int_eq(g->n_heads, 1);
	ck_assert_int_eq(g->heads[0].node, graph_find(g, "softmax"));
	/* The parameters were parsed: shapes follow from data (2, 8). */
	shapes = calloc(g->n_entries, sizeof *shapes);
	shapes[g->nodes[graph_find(g, "data")].entry_base] = shape_make(2, (int64_t)2, (int64_t)8);
	ck_ok(graph_infer_shapes(g, shapes));
	ck_assert_int_eq(shapes[g->nodes[graph_find(g, "fc1_weight")].entry_base].dim[0], 16);
	ck_assert_int_eq(shapes[g->nodes[graph_find(g, "fc1_weight")].entry_base].dim[1], 8);
	ck_assert_int_eq(shapes[g->nodes[graph_find(g, "softmax")].entry_base].dim[1], 10);
	free(shapes);
	graph_free(g);
}
END_TEST

/* Dumps what symbol_json_load made of an MXNet file and compares with the file's bytes. */
static void check_dump_is_mxnets_file(const char *path)
{
	struct graph *g;
	size_t n;
	unsigned char *want = slurp(path, &n);
	char *got;
	ck_ok(symbol_json_load(path, &g));
	got = symbol_json_dump(g);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, (char *)want);
	free(got);
	free(want);
	graph_free(g);
}

START_TEST(test_dumping_a_loaded_mxnet_symbol_gives_mxnets_text_exactly)
{
	check_dump_is_mxnets_file(MXDIR "/mlp-symbol.json");
	check_dump_is_mxnets_file(MXDIR "/branchy-symbol.json");
}
END_TEST

START_TEST(test_mxnet_graph_with_every_op_keeps_kinds_hidden_keys_and_argument_order)
{
	struct graph *g;
	char buf[512], want[512];
	size_t n;
	char *args = (char *)slurp(MXDIR "/branchy-arguments.txt", &n);
	const struct graph_node *w;
	ck_ok(symbol_json_load(MXDIR "/branchy-symbol.json", &g));
	/* MXNet's list_arguments(), one per line in the file. */
	snprintf(want, sizeof want, "%s", args);
	for (char *p = want; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ' ' : 0;
	ck_assert_str_eq(variables(g, buf, sizeof buf), want);
	ck_assert_int_eq(g->nodes[graph_find(g, "out_label")].kind, NODE_LABEL);
	ck_assert_int_eq(g->nodes[graph_find(g, "fc_a_weight")].kind, NODE_ARG);
	ck_assert_int_eq(g->nodes[graph_find(g, "drop")].n_outputs, 2);
	ck_assert_str_eq(g->nodes[graph_find(g, "sum")].op->name, "add_n");
	w = &g->nodes[graph_find(g, "fc_out_weight")];
	ck_assert_int_eq(w->n_attrs, 1);
	ck_assert_str_eq(w->attrs[0].key, "__lr_mult__");
	ck_assert_str_eq(w->attrs[0].value, "2.0");
	/* fc_b reads the flatten output that fc_a reads too. */
	ck_assert_int_eq(g->nodes[graph_find(g, "fc_b")].inputs[0].node, graph_find(g, "flat"));
	ck_assert_int_eq(g->nodes[graph_find(g, "fc_a")].n_inputs, 2);
	free(args);
	graph_free(g);
}
END_TEST

/* Builds data -> fc1(16) -> relu1 -> fc2(10) -> softmax the way a .conf does (variables
 * created by graph_add_op). */
static struct graph *conf_style_mlp(const char *no_bias_value)
{
	struct graph *g = graph_new();
	const char *fc1_k[] = {"num_hidden", "no_bias"}, *fc1_v[] = {"16", no_bias_value};
	const char *fc2_k[] = {"num_hidden"}, *fc2_v[] = {"10"};
	const char *act_k[] = {"act_type"}, *act_v[] = {"relu"};
	int data = graph_add_variable(g, "data", NODE_DATA), fc1, act, fc2, sm;
	fc1 = graph_add_op(g, op_find("fc"), "fc1", fc1_k, fc1_v, no_bias_value ? 2 : 1,
			   &(struct graph_entry){data, 0}, 1, "net.conf:3");
	ck_assert_int_ge(fc1, 0);
	act = graph_add_op(g, op_find("Activation"), "relu1", act_k, act_v, 1,
			   &(struct graph_entry){fc1, 0}, 1, NULL);
	fc2 = graph_add_op(g, op_find("FullyConnected"), "fc2", fc2_k, fc2_v, 1,
			   &(struct graph_entry){act, 0}, 1, NULL);
	sm = graph_add_op(g, op_find("SoftmaxOutput"), "softmax", NULL, NULL, 0,
			  &(struct graph_entry){fc2, 0}, 1, NULL);
	ck_assert_int_ge(sm, 0);
	ck_ok(graph_set_heads(g, &(struct graph_entry){sm, 0}, 1));
	return g;
}

START_TEST(test_a_graph_built_like_a_conf_dumps_as_mxnet_writes_it)
{
	struct graph *g = conf_style_mlp(NULL);
	size_t n;
	char *want = (char *)slurp(MXDIR "/mlp-symbol.json", &n), *got = symbol_json_dump(g);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	graph_free(g);
}
END_TEST

START_TEST(test_the_dump_is_in_mxnets_dfs_order_whatever_the_internal_order)
{
	/* softmax_label first, and the backward nodes appended: the file is still MXNet's. */
	struct graph *g = graph_new();
	const char *k[] = {"num_hidden"}, *v16[] = {"16"}, *v10[] = {"10"};
	const char *ak[] = {"act_type"}, *av[] = {"relu"};
	int label = graph_add_variable(g, "softmax_label", NODE_LABEL);
	int data = graph_add_variable(g, "data", NODE_DATA), fc1, act, fc2, sm;
	size_t n;
	char *want = (char *)slurp(MXDIR "/mlp-symbol.json", &n), *got;
	fc1 = graph_add_op(g, op_find("fc"), "fc1", k, v16, 1, &(struct graph_entry){data, 0}, 1, NULL);
	act = graph_add_op(g, op_find("act"), "relu1", ak, av, 1, &(struct graph_entry){fc1, 0}, 1, NULL);
	fc2 = graph_add_op(g, op_find("fc"), "fc2", k, v10, 1, &(struct graph_entry){act, 0}, 1, NULL);
	sm = graph_add_op(g, op_find("SoftmaxOutput"), "softmax", NULL, NULL, 0,
			  &(struct graph_entry){fc2, 0}, 1, NULL);
	ck_assert_int_eq(g->nodes[sm].inputs[1].node, label);
	ck_ok(graph_set_heads(g, &(struct graph_entry){sm, 0}, 1));
	ck_ok(graph_build_backward(g));
	ck_assert_int_gt(g->n_nodes, g->n_forward);
	got = symbol_json_dump(g);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	graph_free(g);
}
END_TEST

START_TEST(test_a_conf_boolean_is_written_in_pythons_spelling)
{
	struct graph *g = conf_style_mlp("1");
	char *got = symbol_json_dump(g);
	ck_assert_ptr_nonnull(strstr(got, "\"no_bias\": \"True\""));
	ck_assert_ptr_null(strstr(got, "\"1\""));
	free(got);
	graph_free(g);
}
END_TEST

START_TEST(test_a_dump_parses_back_to_the_same_graph)
{
	struct graph *a, *b;
	char *text, *again;
	ck_ok(symbol_json_load(MXDIR "/branchy-symbol.json", &a));
	text = symbol_json_dump(a);
	ck_ok(symbol_json_parse(text, "dumped", &b));
	ck_assert_int_eq(a->n_forward, b->n_forward);
	ck_assert_int_eq(a->n_entries, b->n_entries);
	for (int i = 0; i < a->n_forward; i++) {
		const struct graph_node *x = &a->nodes[i], *y = &b->nodes[i];
		ck_assert_str_eq(x->name, y->name);
		ck_assert_int_eq(x->kind, y->kind);
		ck_assert_ptr_eq(x->op, y->op);
		ck_assert_int_eq(x->n_inputs, y->n_inputs);
		ck_assert_int_eq(x->n_outputs, y->n_outputs);
		for (int j = 0; j < x->n_inputs; j++) {
			ck_assert_int_eq(x->inputs[j].node, y->inputs[j].node);
			ck_assert_int_eq(x->inputs[j].index, y->inputs[j].index);
		}
		ck_assert_int_eq(x->n_attrs, y->n_attrs);
		for (int k = 0; k < x->n_attrs; k++) {
			ck_assert_str_eq(x->attrs[k].key, y->attrs[k].key);
			ck_assert_str_eq(x->attrs[k].value, y->attrs[k].value);
		}
		if (x->op)
			ck_assert_mem_eq(x->param, y->param, x->op->param_size);
	}
	ck_assert_int_eq(b->heads[0].node, a->heads[0].node);
	again = symbol_json_dump(b);
	ck_assert_str_eq(again, text);
	free(text);
	free(again);
	graph_free(a);
	graph_free(b);
}
END_TEST

START_TEST(test_save_writes_the_dump_atomically)
{
	struct graph *g = conf_style_mlp(NULL);
	make_tmpdir();
	ck_ok(symbol_json_save(g, tmp_path("m-symbol.json")));
	assert_same_file(tmp_path("m-symbol.json"), MXDIR "/mlp-symbol.json");
	ck_assert_int_eq(access(tmp_path("m-symbol.json.tmp"), F_OK), -1);
	ck_assert_int_eq(symbol_json_save(g, tmp_path("no/such/m-symbol.json")), MX_ERR_IO);
	graph_free(g);
	remove_tmpdir();
}
END_TEST

/* Parses text expecting an error whose message holds sub. */
static void expect_parse_error(const char *text, const char *sub)
{
	struct graph *g = (void *)1;
	int rc = symbol_json_parse(text, "t-symbol.json", &g);
	ck_assert_msg(rc != MX_OK, "parsed: %s", text);
	ck_assert_ptr_null(g);
	ck_assert_msg(strstr(mx_error_message(), sub), "message \"%s\" lacks \"%s\"",
		      mx_error_message(), sub);
}

#define VAR(name) "{\"op\": \"null\", \"name\": \"" name "\", \"inputs\": []}"

START_TEST(test_an_unknown_operator_names_the_node_and_suggests_one)
{
	expect_parse_error("{\"nodes\": [" VAR("data") ", " VAR("w") ", " VAR("b") ", "
			   "{\"op\": \"FullyConected\", \"name\": \"fc1\", \"attrs\": {\"num_hidden\": \"4\"},"
			   " \"inputs\": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]}],"
			   " \"arg_nodes\": [0, 1, 2], \"heads\": [[3, 0, 0]]}",
			   "t-symbol.json: node 3 (fc1): unknown operator \"FullyConected\" "
			   "(did you mean \"FullyConnected\"?)");
}
END_TEST

START_TEST(test_old_files_with_attr_param_and_two_int_inputs_load)
{
	struct graph *g;
	char buf[256];
	const struct graph_node *fc;
	ck_ok(symbol_json_parse(
		"{\"nodes\": [" VAR("data") ", " VAR("fc_weight") ", " VAR("fc_bias") ", "
		"{\"op\": \"FullyConnected\", \"name\": \"fc\", \"param\": {\"num_hidden\": \"3\"},"
		" \"attr\": {\"lr_mult\": \"0.5\"}, \"inputs\": [[0, 0], [1, 0], [2, 0]],"
		" \"backward_source_id\": -1}, " VAR("sm_label") ", "
		"{\"op\": \"Softmax\", \"name\": \"sm\", \"attr\": {\"grad_scale\": \"2\"},"
		" \"inputs\": [[3, 0], [4, 0]]}],"
		" \"arg_nodes\": [0, 1, 2, 4], \"heads\": [[5, 0]]}",
		"old.json", &g));
	ck_assert_str_eq(variables(g, buf, sizeof buf), "data fc_weight fc_bias sm_label");
	ck_assert_int_eq(g->nodes[graph_find(g, "sm_label")].kind, NODE_LABEL);
	ck_assert_str_eq(g->nodes[graph_find(g, "sm")].op->name, "SoftmaxOutput");
	fc = &g->nodes[graph_find(g, "fc")];
	ck_assert_int_eq(fc->n_attrs, 2);
	ck_assert_str_eq(fc->attrs[1].key, "__lr_mult__");
	graph_free(g);
}
END_TEST

START_TEST(test_malformed_symbol_files_give_errors_that_name_the_node)
{
	expect_parse_error("{\"nodes\": [", "t-symbol.json:1:");
	expect_parse_error("[]", "not a symbol JSON object");
	expect_parse_error("{\"heads\": []}", "no \"nodes\" array");
	/* an input that refers forward */
	expect_parse_error("{\"nodes\": [{\"op\": \"Flatten\", \"name\": \"f\", \"inputs\": [[1, 0, 0]]}, "
			   VAR("data") "], \"arg_nodes\": [1], \"heads\": [[0, 0, 0]]}",
			   "node 0 (f): input 0 refers to node 1, which is not an earlier node");
	/* an unquoted attribute value */
	expect_parse_error("{\"nodes\": [" VAR("data") ", {\"op\": \"Activation\", \"name\": \"a\", "
			   "\"attrs\": {\"act_type\": 1}, \"inputs\": [[0, 0, 0]]}], \"arg_nodes\": [0], "
			   "\"heads\": [[1, 0, 0]]}",
			   "node 1 (a): attribute \"act_type\" is not a string");
	/* a bias input missing */
	expect_parse_error("{\"nodes\": [" VAR("data") ", " VAR("w") ", {\"op\": \"FullyConnected\", "
			   "\"name\": \"fc\", \"attrs\": {\"num_hidden\": \"2\"}, \"inputs\": [[0, 0, 0], "
			   "[1, 0, 0]]}], \"arg_nodes\": [0, 1], \"heads\": [[2, 0, 0]]}",
			   "node 2 (fc): FullyConnected takes 3 inputs (data, weight, bias), the file gives 2");
	/* a bad parameter value */
	expect_parse_error("{\"nodes\": [" VAR("data") ", {\"op\": \"Activation\", \"name\": \"a\", "
			   "\"attrs\": {\"act_type\": \"rleu\"}, \"inputs\": [[0, 0, 0]]}], \"arg_nodes\": [0], "
			   "\"heads\": [[1, 0, 0]]}",
			   "t-symbol.json: node 1: layer a");
	/* a head output that does not exist */
	expect_parse_error("{\"nodes\": [" VAR("data") "], \"arg_nodes\": [0], \"heads\": [[0, 3, 0]]}",
			   "head 0 refers to output 3 of node 0 (data)");
}
END_TEST


/* ---- files for MXNet (tests/peer/check_mxnet_loads.py) ----------------------------- */

/* The value check_mxnet_loads.py expects at flat index i of the k-th array: exact in
 * float32, distinct per array. */
static float peer_value(int k, int64_t i) { return (float)((i * 7 + k * 3) % 23 - 11) * 0.0625f + k; }

static void add_peer_array(struct ndarray_list *l, const char *name, int k, struct mx_shape s)
{
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
	for (int64_t i = 0; i < shape_size(&s); i++)
		tensor_f32(t)[i] = peer_value(k, i);
	ck_ok(ndarray_list_add(l, name, t));
}

/* The branchy graph of make_format_fixtures.py, built as a .conf would build it. */
static struct graph *conf_style_branchy(void)
{
	struct graph *g = graph_new();
	const char *fa_k[] = {"num_hidden", "no_bias"}, *fa_v[] = {"6", "true"};
	const char *fb_k[] = {"num_hidden"}, *fb_v[] = {"6"}, *fo_v[] = {"3"};
	const char *p_k[] = {"p"}, *p_v[] = {"0.25"}, *n_k[] = {"num_args"}, *n_v[] = {"2"};
	const char *sm_k[] = {"normalization"}, *sm_v[] = {"batch"};
	int data = graph_add_variable(g, "data", NODE_DATA), flat, fa, drop, fb, sum, fo, out;
	flat = graph_add_op(g, op_find("flatten"), "flat", NULL, NULL, 0, &(struct graph_entry){data, 0}, 1, NULL);
	fa = graph_add_op(g, op_find("fc"), "fc_a", fa_k, fa_v, 2, &(struct graph_entry){flat, 0}, 1, NULL);
	drop = graph_add_op(g, op_find("dropout"), "drop", p_k, p_v, 1, &(struct graph_entry){fa, 0}, 1, NULL);
	fb = graph_add_op(g, op_find("fc"), "fc_b", fb_k, fb_v, 1, &(struct graph_entry){flat, 0}, 1, NULL);
	sum = graph_add_op(g, op_find("ElementWiseSum"), "sum", n_k, n_v, 1,
			   (struct graph_entry[]){{drop, 0}, {fb, 0}}, 2, NULL);
	fo = graph_add_op(g, op_find("fc"), "fc_out", fb_k, fo_v, 1, &(struct graph_entry){sum, 0}, 1, NULL);
	out = graph_add_op(g, op_find("SoftmaxOutput"), "out", sm_k, sm_v, 1, &(struct graph_entry){fo, 0}, 1, NULL);
	ck_assert_msg(out >= 0, "%s", mx_error_message());
	ck_ok(graph_set_heads(g, &(struct graph_entry){out, 0}, 1));
	return g;
}

/* Writes ours-symbol.json + ours-0001.params (the MLP) and branchy-symbol.json +
 * branchy-0001.params into $MXTRAIN_PEER_DIR (or a temporary folder) for MXNet to load. */
START_TEST(test_checkpoints_for_mxnet_are_written_with_our_writers)
{
	const char *dir = getenv("MXTRAIN_PEER_DIR");
	struct graph *mlp = conf_style_mlp(NULL), *branchy = conf_style_branchy();
	struct ndarray_list *a = ndarray_list_new(), *b = ndarray_list_new(), *back;
	char path[600];
	if (!dir) {
		make_tmpdir();
		dir = tmpdir;
	}
	add_peer_array(a, "arg:fc1_weight", 0, shape_make(2, (int64_t)16, (int64_t)8));
	add_peer_array(a, "arg:fc1_bias", 1, shape_make(1, (int64_t)16));
	add_peer_array(a, "arg:fc2_weight", 2, shape_make(2, (int64_t)10, (int64_t)16));
	add_peer_array(a, "arg:fc2_bias", 3, shape_make(1, (int64_t)10));
	add_peer_array(b, "arg:fc_a_weight", 0, shape_make(2, (int64_t)6, (int64_t)8));
	add_peer_array(b, "arg:fc_b_weight", 1, shape_make(2, (int64_t)6, (int64_t)8));
	add_peer_array(b, "arg:fc_b_bias", 2, shape_make(1, (int64_t)6));
	add_peer_array(b, "arg:fc_out_weight", 3, shape_make(2, (int64_t)3, (int64_t)6));
	add_peer_array(b, "arg:fc_out_bias", 4, shape_make(1, (int64_t)3));
	snprintf(path, sizeof path, "%s/ours-symbol.json", dir);
	ck_ok(symbol_json_save(mlp, path));
	snprintf(path, sizeof path, "%s/ours-0001.params", dir);
	ck_ok(ndarray_list_save(path, a));
	ck_ok(ndarray_list_load(path, &back));
	ck_assert_int_eq(back->n, 4);
	ck_assert(tensor_f32(back->arrays[2])[5] == peer_value(2, 5));
	ndarray_list_free(back);
	snprintf(path, sizeof path, "%s/branchy-symbol.json", dir);
	ck_ok(symbol_json_save(branchy, path));
	snprintf(path, sizeof path, "%s/branchy-0001.params", dir);
	ck_ok(ndarray_list_save(path, b));
	ndarray_list_free(a);
	ndarray_list_free(b);
	graph_free(mlp);
	graph_free(branchy);
	if (dir == tmpdir)
		remove_tmpdir();
}
END_TEST

static Suite *formats_suite(void)
{
	Suite *s = suite_create("formats");
	TCase *nd = tcase_create("ndarray_io"), *sj = tcase_create("symbol_json");
	TCase *peer = tcase_create("peer"); /* CK_RUN_CASE=peer: files for check_mxnet_loads.py */
	tcase_set_timeout(nd, 20);
	tcase_add_test(nd, test_mxnet_float32_dict_loads_with_names_shapes_and_exact_values);
	tcase_add_test(nd, test_mxnet_list_without_names_loads_with_null_names);
	tcase_add_test(nd, test_mxnet_float64_int32_float16_uint8_int8_int64_arrays_keep_their_dtype);
	tcase_add_test(nd, test_mxnet_numpy_semantics_v3_file_loads_and_a_scalar_reads_as_shape_1);
	tcase_add_test(nd, test_mxnet_checkpoint_params_load_with_arg_prefixes);
	tcase_add_test(nd, test_saving_a_loaded_mxnet_file_gives_mxnets_bytes_exactly);
	tcase_add_test(nd, test_save_writes_the_formats_md_worked_example_byte_for_byte);
	tcase_add_test(nd, test_every_truncation_of_a_file_is_a_format_error_naming_the_byte);
	tcase_add_test(nd, test_any_single_corrupt_byte_gives_an_error_or_a_list_never_a_crash);
	tcase_add_test(nd, test_a_wrong_list_magic_is_rejected);
	tcase_add_test(nd, test_a_wrong_record_magic_is_rejected_at_its_offset);
	tcase_add_test(nd, test_absurd_counts_ndims_and_dims_fail_without_huge_allocations);
	tcase_add_test(nd, test_a_sparse_array_is_refused_by_name);
	tcase_add_test(nd, test_legacy_v1_and_pre_v1_records_load);
	tcase_add_test(nd, test_a_none_array_loads_as_a_tensor_without_shape);
	tcase_add_test(nd, test_a_failed_save_leaves_the_old_file_and_no_temporary);
	tcase_add_test(nd, test_a_missing_file_is_an_io_error_naming_it);
	tcase_add_test(nd, test_list_add_and_find_keep_names_all_or_nothing);
	suite_add_tcase(s, nd);
	tcase_add_test(sj, test_mxnet_mlp_symbol_loads_with_arguments_in_mxnet_order);
	tcase_add_test(sj, test_dumping_a_loaded_mxnet_symbol_gives_mxnets_text_exactly);
	tcase_add_test(sj, test_mxnet_graph_with_every_op_keeps_kinds_hidden_keys_and_argument_order);
	tcase_add_test(sj, test_a_graph_built_like_a_conf_dumps_as_mxnet_writes_it);
	tcase_add_test(sj, test_the_dump_is_in_mxnets_dfs_order_whatever_the_internal_order);
	tcase_add_test(sj, test_a_conf_boolean_is_written_in_pythons_spelling);
	tcase_add_test(sj, test_a_dump_parses_back_to_the_same_graph);
	tcase_add_test(sj, test_save_writes_the_dump_atomically);
	tcase_add_test(sj, test_an_unknown_operator_names_the_node_and_suggests_one);
	tcase_add_test(sj, test_old_files_with_attr_param_and_two_int_inputs_load);
	tcase_add_test(sj, test_malformed_symbol_files_give_errors_that_name_the_node);
	suite_add_tcase(s, sj);
	tcase_add_test(peer, test_checkpoints_for_mxnet_are_written_with_our_writers);
	suite_add_tcase(s, peer);
	return s;
}

int main(void)
{
	return run_suite(formats_suite());
}
