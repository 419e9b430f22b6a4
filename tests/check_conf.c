/* check_conf.c: the .conf reader (sections, layers, blocks, values as text with file:line),
 * command-line overrides, lowering to a graph, and the error messages users see. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/conf.h"
#include "net/graph.h"
#include "net/trainer.h"
#include "testutil.h"

#define CONF_DIR FIXTURES "/conf/"

static const char *fixture(const char *name)
{
	static char path[1024];
	snprintf(path, sizeof path, CONF_DIR "%s", name);
	return path;
}

static const char *origin(const char *name, int line)
{
	static char buf[1024];
	snprintf(buf, sizeof buf, CONF_DIR "%s:%d", name, line);
	return buf;
}

static const struct conf_kv *find_kv(const struct conf_kv *kv, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return &kv[i];
	return NULL;
}

/* Asserts key's value and origin in a kv list. */
#define ck_kv(kv, n, key, want_value, want_origin) do { \
	const struct conf_kv *kv_ = find_kv((kv), (n), (key)); \
	ck_assert_msg(kv_ != NULL, "key %s missing", (key)); \
	ck_assert_str_eq(kv_->value, (want_value)); \
	ck_assert_str_eq(kv_->origin, (want_origin)); } while (0)

/* Asserts an error: its code, that the message holds want, and that it is one line. */
#define ck_error(expr, code, want) do { \
	int rc_ = (expr); \
	ck_assert_msg(rc_ == (code), "%s returned %d, want %d (%s)", #expr, rc_, (code), mx_error_message()); \
	ck_assert_msg(strstr(mx_error_message(), (want)) != NULL, "message \"%s\" lacks \"%s\"", \
		      mx_error_message(), (want)); \
	ck_assert_msg(strchr(mx_error_message(), '\n') == NULL, "message has a newline: %s", mx_error_message()); \
	} while (0)

static struct mx_conf *load_ok(const char *name, const char *const *overrides, int n)
{
	struct mx_conf *c = NULL;
	int rc = conf_load(fixture(name), overrides, n, &c);
	ck_assert_msg(rc == MX_OK, "conf_load(%s) failed: %s", name, mx_error_message());
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Loads name and expects the error want (a substring naming file:line). */
static void load_fails(const char *name, const char *const *overrides, int n, int code, const char *want)
{
	struct mx_conf *c = (struct mx_conf *)1;
	ck_error(conf_load(fixture(name), overrides, n, &c), code, want);
	ck_assert_ptr_null(c);
}

/* Builds the graph of name and expects the error want. */
static void build_fails(const char *name, const char *const *overrides, int n, const char *want)
{
	struct mx_conf *c = load_ok(name, overrides, n);
	struct graph *g = (struct graph *)1;
	ck_error(conf_build_graph(c, &g), MX_ERR_INVALID, want);
	ck_assert_ptr_null(g);
	conf_free(c);
}

/* ---- reading ---- */

START_TEST(test_good_conf_loads_sections_layers_and_device)
{
	struct mx_conf *c = load_ok("mlp.conf", NULL, 0);
	ck_assert_str_eq(c->path, fixture("mlp.conf"));
	ck_assert_int_eq(c->n_layers, 4);
	ck_assert_str_eq(c->layers[0].type, "FullyConnected");
	ck_assert_str_eq(c->layers[0].name, "fc1");
	ck_assert_int_eq(c->layers[0].n_inputs, 0);
	ck_assert_int_eq(c->layers[0].n_attrs, 1);
	ck_kv(c->layers[0].attrs, c->layers[0].n_attrs, "num_hidden", "256", origin("mlp.conf", 9));
	ck_assert_str_eq(c->layers[0].origin, origin("mlp.conf", 9));
	ck_assert_str_eq(c->layers[1].type, "Activation");
	ck_assert_str_eq(c->layers[1].name, "relu1");
	ck_kv(c->layers[1].attrs, c->layers[1].n_attrs, "act_type", "relu", origin("mlp.conf", 10));
	ck_kv(c->layers[2].attrs, c->layers[2].n_attrs, "num_hidden", "10", origin("mlp.conf", 11));
	ck_assert_str_eq(c->layers[3].type, "SoftmaxOutput");
	ck_assert_str_eq(c->layers[3].name, "softmax");
	ck_assert_int_eq(c->layers[3].n_attrs, 0);

	ck_assert(c->train.present);
	ck_assert_str_eq(c->train.origin, origin("mlp.conf", 3));
	ck_assert_int_eq(c->train.n, 5);
	ck_kv(c->train.kv, c->train.n, "iter", "mnist", origin("mlp.conf", 3));
	ck_kv(c->train.kv, c->train.n, "image", "fake/train-images-idx3-ubyte.gz", origin("mlp.conf", 3));
	ck_kv(c->train.kv, c->train.n, "batch_size", "100", origin("mlp.conf", 4));
	ck_kv(c->train.kv, c->train.n, "shuffle", "true", origin("mlp.conf", 4));
	ck_assert_str_eq(c->train.kv[0].key, "iter"); /* file order is kept */
	ck_assert(c->eval.present);
	ck_assert_int_eq(c->eval.n, 4);
	ck_kv(c->eval.kv, c->eval.n, "label", "fake/t10k-labels-idx1-ubyte.gz", origin("mlp.conf", 5));

	ck_assert(c->solver.present);
	ck_assert_int_eq(c->solver.n, 7);
	ck_kv(c->solver.kv, c->solver.n, "optimizer", "sgd", origin("mlp.conf", 14));
	ck_kv(c->solver.kv, c->solver.n, "lr", "0.1", origin("mlp.conf", 14));
	ck_kv(c->solver.kv, c->solver.n, "wd", "0.0001", origin("mlp.conf", 14));
	ck_kv(c->solver.kv, c->solver.n, "num_epoch", "10", origin("mlp.conf", 14));
	ck_kv(c->solver.kv, c->solver.n, "seed", "1", origin("mlp.conf", 14));
	ck_assert(c->model.present);
	ck_kv(c->model.kv, c->model.n, "prefix", "fmnist-mlp", origin("mlp.conf", 15));
	ck_kv(c->model.kv, c->model.n, "save_period", "1", origin("mlp.conf", 15));
	ck_assert_str_eq(c->device, "cpu");
	ck_assert_str_eq(c->device_origin, origin("mlp.conf", 16));
	conf_free(c);
}
END_TEST

START_TEST(test_each_kind_of_value_becomes_text)
{
	struct mx_conf *c = load_ok("values.conf", NULL, 0);
	const struct conf_kv *kv = c->solver.kv;
	int n = c->solver.n;
	ck_kv(kv, n, "an_int", "42", origin("values.conf", 3));
	ck_kv(kv, n, "a_big_int", "10000000000", origin("values.conf", 4));
	ck_kv(kv, n, "a_float", "0.1", origin("values.conf", 5));
	ck_kv(kv, n, "a_small_float", "1e-05", origin("values.conf", 6));
	ck_kv(kv, n, "a_whole_float", "2", origin("values.conf", 7));
	ck_kv(kv, n, "a_bool", "false", origin("values.conf", 8));
	ck_kv(kv, n, "a_string", "hello world", origin("values.conf", 9));
	ck_kv(kv, n, "an_array", "(3, 3)", origin("values.conf", 10));
	ck_kv(kv, n, "a_list", "(1, 2.5)", origin("values.conf", 11));
	ck_kv(kv, n, "strings", "accuracy,ce", origin("values.conf", 12));
	/* Absent sections are marked so, and the device defaults to the CPU. */
	ck_assert(!c->train.present && !c->eval.present && !c->model.present);
	ck_assert_int_eq(c->n_layers, 0);
	ck_assert_str_eq(c->device, "cpu");
	conf_free(c);
}
END_TEST

START_TEST(test_unnamed_layers_get_mxnet_style_names_and_inputs_are_read)
{
	struct mx_conf *c = load_ok("autoname.conf", NULL, 0);
	const char *names[] = {"fullyconnected0", "activation0", "fullyconnected1", "side",
			       "elementwisesum0", "fullyconnected2", "softmax"};
	ck_assert_int_eq(c->n_layers, 7);
	for (int i = 0; i < 7; i++)
		ck_assert_str_eq(c->layers[i].name, names[i]);
	ck_assert_int_eq(c->layers[0].n_inputs, 0);
	ck_assert_int_eq(c->layers[2].n_inputs, 1); /* a single string */
	ck_assert_str_eq(c->layers[2].inputs[0], "activation0");
	ck_assert_int_eq(c->layers[3].n_inputs, 1); /* an array */
	ck_assert_str_eq(c->layers[3].inputs[0], "activation0");
	ck_assert_int_eq(c->layers[4].n_inputs, 2); /* a list */
	ck_assert_str_eq(c->layers[4].inputs[0], "fullyconnected1");
	ck_assert_str_eq(c->layers[4].inputs[1], "side");
	ck_assert_int_eq(c->layers[4].n_attrs, 0);  /* inputs is not an attribute */
	ck_assert_str_eq(c->device, "gpu:1");
	ck_assert(!c->solver.present);
	conf_free(c);
}
END_TEST

/* ---- overrides ---- */

START_TEST(test_overrides_replace_add_and_retype_values_with_command_line_origin)
{
	const char *ov[] = {
		"solver.lr=0.05",            /* an existing key */
		"solver.clip_gradient = 5",  /* a new key, blanks around '=' */
		"solver.momentum=true",      /* a float becomes a bool */
		"solver.optimizer=7",        /* a string becomes an int */
		"model.prefix=\"00 7\"",     /* quotes make a string */
		"data.train.batch_size=64",
		"net.fc1.num_hidden=512",    /* a layer by name */
		"net.fc2.kernel=(3,3)",      /* a new array */
		"device=gpu:0",
	};
	struct mx_conf *c = load_ok("mlp.conf", ov, sizeof ov / sizeof ov[0]);
	ck_kv(c->solver.kv, c->solver.n, "lr", "0.05", "command line");
	ck_kv(c->solver.kv, c->solver.n, "clip_gradient", "5", "command line");
	ck_kv(c->solver.kv, c->solver.n, "momentum", "true", "command line");
	ck_kv(c->solver.kv, c->solver.n, "optimizer", "7", "command line");
	ck_kv(c->solver.kv, c->solver.n, "wd", "0.0001", origin("mlp.conf", 14)); /* untouched */
	ck_assert_int_eq(c->solver.n, 8);
	ck_kv(c->model.kv, c->model.n, "prefix", "00 7", "command line");
	ck_kv(c->train.kv, c->train.n, "batch_size", "64", "command line");
	ck_kv(c->eval.kv, c->eval.n, "batch_size", "100", origin("mlp.conf", 6));
	ck_kv(c->layers[0].attrs, c->layers[0].n_attrs, "num_hidden", "512", "command line");
	ck_kv(c->layers[2].attrs, c->layers[2].n_attrs, "kernel", "(3, 3)", "command line");
	ck_kv(c->layers[2].attrs, c->layers[2].n_attrs, "num_hidden", "10", origin("mlp.conf", 11));
	ck_assert_str_eq(c->device, "gpu:0");
	ck_assert_str_eq(c->device_origin, "command line");
	conf_free(c);
}
END_TEST

START_TEST(test_overrides_create_missing_sections_and_find_layers_by_automatic_name)
{
	const char *ov[] = {"solver.num_epoch=1", "data.eval.batch_size=5", "net.fullyconnected2.num_hidden=4",
			    "net.side.inputs=[fullyconnected0, activation0]"};
	struct mx_conf *c = load_ok("autoname.conf", ov, 4);
	ck_assert(c->solver.present);
	ck_assert_int_eq(c->solver.n, 1);
	ck_kv(c->solver.kv, c->solver.n, "num_epoch", "1", "command line");
	ck_assert_str_eq(c->solver.origin, "command line");
	ck_assert(c->eval.present && !c->train.present);
	ck_kv(c->eval.kv, c->eval.n, "batch_size", "5", "command line");
	ck_kv(c->layers[5].attrs, c->layers[5].n_attrs, "num_hidden", "4", "command line");
	ck_assert_int_eq(c->layers[3].n_inputs, 2);
	ck_assert_str_eq(c->layers[3].inputs[0], "fullyconnected0");
	ck_assert_str_eq(c->layers[3].inputs[1], "activation0");
	conf_free(c);
}
END_TEST

START_TEST(test_bad_overrides_are_rejected_with_their_text)
{
	const char *no_eq[] = {"solver.lr"};
	const char *section[] = {"slover.lr=1"};
	const char *layer[] = {"net.fc9.num_hidden=1"};
	const char *depth[] = {"solver.lr.x=1"};
	const char *data[] = {"data.trian.batch_size=1"};
	const char *empty[] = {"solver..lr=1"};
	load_fails("mlp.conf", no_eq, 1, MX_ERR_INVALID, "override \"solver.lr\": expected section.key=value");
	load_fails("mlp.conf", section, 1, MX_ERR_INVALID,
		   "override \"slover.lr=1\": unknown section \"slover\" (did you mean \"solver\"?)");
	load_fails("mlp.conf", layer, 1, MX_ERR_INVALID,
		   "override \"net.fc9.num_hidden=1\": no layer named \"fc9\" (did you mean \"fc1\"?)");
	load_fails("mlp.conf", depth, 1, MX_ERR_INVALID, "override \"solver.lr.x=1\": expected solver.<key>=value");
	load_fails("mlp.conf", data, 1, MX_ERR_INVALID,
		   "override \"data.trian.batch_size=1\": unknown data section \"trian\" (did you mean \"train\"?)");
	load_fails("mlp.conf", empty, 1, MX_ERR_INVALID, "override \"solver..lr=1\"");
}
END_TEST

/* ---- errors while reading ---- */

START_TEST(test_syntax_error_names_file_and_line)
{
	/* A missing ',' between list elements is a separator mistake libconfig catches
	 * itself (the strict ';' check runs only on text libconfig has parsed). */
	load_fails("missing_comma.conf", NULL, 0, MX_ERR_INVALID, "missing_comma.conf:4: syntax error");
}
END_TEST

START_TEST(test_unknown_section_suggests_the_nearest)
{
	load_fails("unknown_section.conf", NULL, 0, MX_ERR_INVALID,
		   "unknown_section.conf:6: unknown section \"slover\" (did you mean \"solver\"?)");
	load_fails("unknown_data_section.conf", NULL, 0, MX_ERR_INVALID,
		   "unknown_data_section.conf:3: unknown data section \"trian\" (did you mean \"train\"?)");
}
END_TEST

START_TEST(test_misshapen_sections_and_layers_are_errors_naming_the_place)
{
	load_fails("nested_group.conf", NULL, 0, MX_ERR_INVALID,
		   "nested_group.conf:4: solver: \"schedule\" is a group");
	load_fails("missing_type.conf", NULL, 0, MX_ERR_INVALID, "missing_type.conf:5: layer 3: missing type");
	load_fails("bad_device.conf", NULL, 0, MX_ERR_INVALID,
		   "bad_device.conf:2: device \"tpu\" is not cpu, gpu or gpu:N");
	load_fails("no_such.conf", NULL, 0, MX_ERR_IO, "no_such.conf: No such file or directory");
}
END_TEST

/* ---- the strict ';' check ---- */

START_TEST(test_a_missing_semicolon_inside_a_layer_group_names_the_line_of_the_value)
{
	load_fails("strict_layer.conf", NULL, 0, MX_ERR_INVALID,
		   "strict_layer.conf:3: missing ';' after \"num_hidden = ...\"");
}
END_TEST

START_TEST(test_a_missing_semicolon_after_a_top_level_group_names_the_line_of_its_brace)
{
	load_fails("strict_group.conf", NULL, 0, MX_ERR_INVALID,
		   "strict_group.conf:5: missing ';' after \"solver = ...\"");
}
END_TEST

START_TEST(test_two_settings_on_one_line_need_a_semicolon_between_them)
{
	load_fails("strict_one_line.conf", NULL, 0, MX_ERR_INVALID,
		   "strict_one_line.conf:4: missing ';' after \"lr = ...\"");
}
END_TEST

/* Writes len bytes of text to a fresh strict.conf and loads it; returns conf_load's status
 * (the message stays in mx_error_message()). */
static int load_text(const char *text, size_t len)
{
	char dir[] = "/tmp/check_conf.XXXXXX", path[64];
	struct mx_conf *c = (struct mx_conf *)1;
	FILE *f;
	int rc;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/strict.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	rc = conf_load(path, NULL, 0, &c);
	unlink(path);
	rmdir(dir);
	ck_assert(rc ? c == NULL : c != NULL);
	conf_free(rc ? NULL : c);
	return rc;
}

/* Loads text as "strict.conf" from its own folder (a relative path, so messages read
 * "strict.conf:3 (block \"b\" used at strict.conf:8)") and expects the error want. */
static void text_fails_here(const char *text, int code, const char *want)
{
	char dir[] = "/tmp/check_conf.XXXXXX", old[4096];
	struct mx_conf *c = (struct mx_conf *)1;
	FILE *f;
	int rc;
	ck_assert_ptr_nonnull(getcwd(old, sizeof old));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_ptr_nonnull(f = fopen("strict.conf", "w"));
	fputs(text, f);
	fclose(f);
	rc = conf_load("strict.conf", NULL, 0, &c);
	unlink("strict.conf");
	ck_assert_int_eq(chdir(old), 0);
	rmdir(dir);
	ck_assert_msg(rc == code, "%s: returned %d, want %d (%s)", text, rc, code, mx_error_message());
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(mx_error_message(), want) != NULL, "%s: message \"%s\" lacks \"%s\"", text,
		      mx_error_message(), want);
	ck_assert_msg(strchr(mx_error_message(), '\n') == NULL, "message has a newline: %s", mx_error_message());
}

/* Loads text and expects the error want. */
static void text_fails(const char *text, size_t len, int code, const char *want)
{
	int rc = load_text(text, len);
	ck_assert_msg(rc == code, "%s: returned %d, want %d (%s)", text, rc, code, mx_error_message());
	ck_assert_msg(strstr(mx_error_message(), want) != NULL, "%s: message \"%s\" lacks \"%s\"", text,
		      mx_error_message(), want);
}

START_TEST(test_a_semicolon_inside_a_string_or_a_comment_does_not_count)
{
	const char *lr_on_2 = "strict.conf:2: missing ';' after \"lr = ...\"";
	const char *cases[][2] = {
		{"solver = {\n  optimizer = \"sgd;\" lr = 0.1; };\n", "strict.conf:2: missing ';' after \"optimizer = ...\""},
		{"solver = {\n  optimizer = \"a\\\";\" \"b;\"\n  lr = 0.1; };\n",
		 "strict.conf:2: missing ';' after \"optimizer = ...\""},
		{"solver = {\n  lr = 0.1 # ;\n  momentum = 0.9; };\n", lr_on_2},
		{"solver = {\n  lr = 0.1 // ;\n  momentum = 0.9; };\n", lr_on_2},
		{"solver = {\n  lr = 0.1 /* ; */ momentum = 0.9; };\n", lr_on_2},
		/* lines inside a comment and a string still count */
		{"/* one\n;two\n*/ solver = { optimizer = \"a\nb\"\n  lr = 0.1; };\n",
		 "strict.conf:4: missing ';' after \"optimizer = ...\""},
		{"solver = { lr = 0.1; };\ndevice = \"cpu\"", "strict.conf:2: missing ';' after \"device = ...\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		text_fails(cases[i][0], strlen(cases[i][0]), MX_ERR_INVALID, cases[i][1]);
	text_fails("device = \"cpu\";\n\0x", 18, MX_ERR_INVALID, "strict.conf: byte 16 is NUL");
	/* libconfig 1.5 alone calls this a syntax error */
	const char *no_newline = "device = \"cpu\"; # no newline at the end";
	ck_assert_msg(load_text(no_newline, strlen(no_newline)) == MX_OK, "%s", mx_error_message());
}
END_TEST

START_TEST(test_a_correct_conf_with_every_kind_of_comment_loads)
{
	struct mx_conf *c = load_ok("strict_good.conf", NULL, 0);
	const char *inc = CONF_DIR "strict_good.inc:4"; /* a findable path, not the name as written */
	ck_kv(c->train.kv, c->train.n, "image", "a;b.gz", origin("strict_good.conf", 7));
	ck_kv(c->train.kv, c->train.n, "label", "say \"x;\" \\-and;more.gz", origin("strict_good.conf", 7));
	ck_kv(c->train.kv, c->train.n, "batch_size", "100", origin("strict_good.conf", 8));
	ck_kv(c->train.kv, c->train.n, "shuffle", "true", origin("strict_good.conf", 8));
	ck_assert_int_eq(c->n_layers, 2);
	ck_kv(c->layers[0].attrs, c->layers[0].n_attrs, "num_hidden", "16", origin("strict_good.conf", 11));
	ck_assert_int_eq(c->solver.n, 8);
	ck_kv(c->solver.kv, c->solver.n, "momentum", "0.9", inc);
	ck_kv(c->solver.kv, c->solver.n, "seed", "-3", origin("strict_good.conf", 17));
	ck_kv(c->solver.kv, c->solver.n, "kernel", "(3, 3)", origin("strict_good.conf", 19));
	ck_assert_str_eq(c->device, "cpu");
	conf_free(c);
	/* the shipped examples keep the contract */
	ck_ok(conf_load(FIXTURES "/../../confs/fmnist-mlp.conf", NULL, 0, &c));
	ck_assert_int_eq(c->n_layers, 6);
	conf_free(c);
}
END_TEST

START_TEST(test_a_missing_semicolon_in_an_included_file_names_that_file)
{
	load_fails("strict_include_bad.conf", NULL, 0, MX_ERR_INVALID,
		   "strict_bad.inc:3: missing ';' after \"momentum = ...\"");
	/* after an include, lines count in the including file again */
	load_fails("strict_after_include.conf", NULL, 0, MX_ERR_INVALID,
		   "strict_after_include.conf:4: missing ';' after \"lr = ...\"");
}
END_TEST

START_TEST(test_overrides_need_no_semicolon)
{
	const char *ov[] = {"solver.lr=0.5", "device=gpu"};
	struct mx_conf *c = load_ok("mlp.conf", ov, 2);
	ck_kv(c->solver.kv, c->solver.n, "lr", "0.5", "command line");
	ck_assert_str_eq(c->device, "gpu");
	conf_free(c);
}
END_TEST

/* ---- lowering to a graph ---- */

START_TEST(test_mlp_becomes_a_graph_with_variables_and_the_last_layer_as_head)
{
	struct mx_conf *c = load_ok("mlp.conf", NULL, 0);
	struct graph *g = NULL;
	int data, fc1, relu1, fc2, softmax, args[8];
	const char *want_args[] = {"fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"};
	ck_ok(conf_build_graph(c, &g));
	data = graph_find(g, "data");
	fc1 = graph_find(g, "fc1");
	relu1 = graph_find(g, "relu1");
	fc2 = graph_find(g, "fc2");
	softmax = graph_find(g, "softmax");
	ck_assert(data >= 0 && fc1 >= 0 && relu1 >= 0 && fc2 >= 0 && softmax >= 0);
	ck_assert_int_eq(g->nodes[data].kind, NODE_DATA);
	ck_assert_int_eq(g->nodes[fc1].kind, NODE_OP);
	ck_assert_str_eq(g->nodes[fc1].op->name, "FullyConnected");
	ck_assert_str_eq(g->nodes[fc1].origin, origin("mlp.conf", 9));
	ck_assert_int_eq(g->nodes[fc1].inputs[0].node, data);
	ck_assert_int_eq(g->nodes[relu1].inputs[0].node, fc1);
	ck_assert_int_eq(g->nodes[fc2].inputs[0].node, relu1);
	ck_assert_int_eq(g->nodes[softmax].inputs[0].node, fc2);
	ck_assert_int_eq(g->nodes[graph_find(g, "fc1_weight")].kind, NODE_ARG);
	ck_assert_int_eq(g->nodes[graph_find(g, "softmax_label")].kind, NODE_LABEL);
	ck_assert_int_eq(graph_list_vars(g, NODE_ARG, args, 8), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(g->nodes[args[i]].name, want_args[i]);
	ck_assert_int_eq(g->n_heads, 1);
	ck_assert_int_eq(g->heads[0].node, softmax);
	ck_assert_int_eq(g->heads[0].index, 0);
	graph_free(g);
	conf_free(c);
}
END_TEST

START_TEST(test_named_inputs_wire_layers_and_set_num_args)
{
	struct mx_conf *c = load_ok("autoname.conf", NULL, 0);
	struct graph *g = NULL;
	int act, fc1, side, sum, fc2;
	const char *num_args = NULL;
	ck_ok(conf_build_graph(c, &g));
	act = graph_find(g, "activation0");
	fc1 = graph_find(g, "fullyconnected1");
	side = graph_find(g, "side");
	sum = graph_find(g, "elementwisesum0");
	fc2 = graph_find(g, "fullyconnected2");
	ck_assert(act >= 0 && fc1 >= 0 && side >= 0 && sum >= 0 && fc2 >= 0);
	ck_assert_int_eq(g->nodes[fc1].inputs[0].node, act);
	ck_assert_int_eq(g->nodes[side].inputs[0].node, act);
	ck_assert_int_eq(g->nodes[sum].n_inputs, 2);
	ck_assert_int_eq(g->nodes[sum].inputs[0].node, fc1);
	ck_assert_int_eq(g->nodes[sum].inputs[1].node, side);
	for (int i = 0; i < g->nodes[sum].n_attrs; i++)
		if (!strcmp(g->nodes[sum].attrs[i].key, "num_args"))
			num_args = g->nodes[sum].attrs[i].value;
	ck_assert_ptr_nonnull(num_args);
	ck_assert_str_eq(num_args, "2");
	ck_assert_int_eq(g->nodes[fc2].inputs[0].node, sum); /* no inputs: the previous layer */
	ck_assert_int_eq(g->heads[0].node, graph_find(g, "softmax"));
	graph_free(g);
	conf_free(c);
}
END_TEST

START_TEST(test_unknown_layer_type_suggests_the_nearest)
{
	build_fails("unknown_layer_type.conf", NULL, 0,
		    "unknown_layer_type.conf:5: layer \"fc3\": unknown layer type \"FullyConected\" "
		    "(did you mean \"FullyConnected\"?)");
}
END_TEST

START_TEST(test_bad_layer_keys_and_values_name_their_own_line)
{
	build_fails("misspelled_key.conf", NULL, 0,
		    "misspelled_key.conf:4: layer fc1 (FullyConnected): unknown key \"num_hiden\" "
		    "(did you mean \"num_hidden\"?)");
	build_fails("wrong_type.conf", NULL, 0,
		    "wrong_type.conf:4: layer fc1 (FullyConnected): num_hidden: expected an integer, got \"abc\"");
}
END_TEST

START_TEST(test_bad_inputs_name_the_missing_layer)
{
	const char *later[] = {"net.side.inputs=softmax"};
	const char *num_args[] = {"net.elementwisesum0.num_args=3"};
	build_fails("unknown_input.conf", NULL, 0,
		    "unknown_input.conf:5: layer \"fc2\": unknown input layer \"rleu1\" (did you mean \"relu1\"?)");
	build_fails("autoname.conf", later, 1, "layer \"side\": input \"softmax\" is defined at or after this layer");
	build_fails("autoname.conf", num_args, 1,
		    "autoname.conf:7: layer \"elementwisesum0\": num_args = 3 but inputs names 2 layers");
}
END_TEST

START_TEST(test_graph_errors_are_not_prefixed_twice)
{
	/* graph_add_op reports a missing required key itself, with the place. */
	struct mx_conf *c = load_ok("mlp.conf", NULL, 0);
	struct graph *g = NULL;
	const char *msg, *where = origin("mlp.conf", 9);
	free(c->layers[0].attrs[0].key);
	c->layers[0].attrs[0].key = strdup("no_bias"); /* num_hidden is gone */
	free(c->layers[0].attrs[0].value);
	c->layers[0].attrs[0].value = strdup("true");
	ck_assert_int_ne(conf_build_graph(c, &g), MX_OK);
	msg = mx_error_message();
	ck_assert_msg(strstr(msg, "num_hidden") != NULL, "message: %s", msg);
	ck_assert_msg(!strncmp(msg, where, strlen(where)), "message: %s", msg);
	ck_assert_msg(strstr(msg + strlen(where), where) == NULL, "place named twice: %s", msg);
	ck_assert_msg(strchr(msg, '\n') == NULL, "message has a newline: %s", msg);
	conf_free(c);
}
END_TEST

/* ---- blocks and lr_mult ---- */

static const char *find_attr(const struct conf_layer *l, const char *key)
{
	const struct conf_kv *kv = find_kv(l->attrs, l->n_attrs, key);
	return kv ? kv->value : NULL;
}

static const char *node_attr(const struct graph *g, const char *node, const char *key)
{
	int id = graph_find(g, node);
	ck_assert_msg(id >= 0, "no node %s", node);
	for (int i = 0; i < g->nodes[id].n_attrs; i++)
		if (!strcmp(g->nodes[id].attrs[i].key, key))
			return g->nodes[id].attrs[i].value;
	return NULL;
}

/* Asserts layer i's name and its inputs (a NULL-terminated list; none: reads the layer before). */
static void ck_layer(const struct mx_conf *c, int i, const char *name, const char *const *inputs)
{
	int n = 0;
	ck_assert_msg(i < c->n_layers, "layer %d missing (%d layers)", i, c->n_layers);
	ck_assert_str_eq(c->layers[i].name, name);
	for (; inputs && inputs[n]; n++) {
		ck_assert_msg(n < c->layers[i].n_inputs, "%s: input %d missing", name, n);
		ck_assert_str_eq(c->layers[i].inputs[n], inputs[n]);
	}
	ck_assert_msg(c->layers[i].n_inputs == n, "%s has %d inputs, want %d", name, c->layers[i].n_inputs, n);
}

#define IN(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_a_block_use_expands_into_prefixed_layers_and_repeats_chain)
{
	struct mx_conf *c = load_ok("blocks.conf", NULL, 0);
	ck_assert_int_eq(c->n_layers, 20);
	ck_layer(c, 0, "stem", NULL);
	/* repeat 1: fed by the layer before the use; local names become prefixed names */
	ck_layer(c, 1, "stage1_unit1_fc1", IN("stem"));
	ck_layer(c, 2, "stage1_unit1_relu1", NULL);
	ck_layer(c, 3, "stage1_unit1_fc2", IN("stage1_unit1_relu1"));
	ck_layer(c, 4, "stage1_unit1_sum", IN("stage1_unit1_fc2", "stem"));
	/* repeats 2 and 3 count up the unit number and read the repeat before */
	ck_layer(c, 5, "stage1_unit2_fc1", IN("stage1_unit1_sum"));
	ck_layer(c, 8, "stage1_unit2_sum", IN("stage1_unit2_fc2", "stage1_unit1_sum"));
	ck_layer(c, 9, "stage1_unit3_fc1", IN("stage1_unit2_sum"));
	ck_layer(c, 12, "stage1_unit3_sum", IN("stage1_unit3_fc2", "stage1_unit2_sum"));
	/* a unit's name stands for its last layer */
	ck_layer(c, 13, "head_fc", IN("stage1_unit2_sum"));
	ck_layer(c, 14, "head_activation0", NULL);
	/* a nested use: the inner unit's name is prefixed by the outer one; a name with a
	 * variable is the whole name; $in is the outer unit's input */
	ck_layer(c, 15, "deep_inner_fc", IN("head_activation0"));
	ck_layer(c, 16, "deep_inner_activation0", NULL);
	ck_layer(c, 17, "fc_deep", IN("head_activation0"));
	ck_layer(c, 18, "fullyconnected0", IN("stage1_unit3_sum"));
	ck_layer(c, 19, "softmax", NULL);
	for (int i = 0; i < c->n_layers; i++)
		ck_assert_msg(c->layers[i].type[0] != '$', "layer %s type %s", c->layers[i].name, c->layers[i].type);
	conf_free(c);
}
END_TEST

START_TEST(test_block_variables_are_substituted_in_strings_and_numbers)
{
	struct mx_conf *c = load_ok("blocks.conf", NULL, 0);
	ck_assert_str_eq(find_attr(&c->layers[1], "num_hidden"), "8");
	ck_assert_str_eq(find_attr(&c->layers[13], "num_hidden"), "4");
	ck_assert_str_eq(find_attr(&c->layers[14], "act_type"), "relu");
	ck_assert_str_eq(find_attr(&c->layers[13], "__lr_mult__"), "0.5");
	/* args of a nested use are made from the outer unit's variables */
	ck_assert_str_eq(find_attr(&c->layers[15], "num_hidden"), "6");
	ck_assert_str_eq(find_attr(&c->layers[16], "act_type"), "tanh");
	ck_assert_str_eq(find_attr(&c->layers[15], "__lr_mult__"), "1");
	ck_assert_str_eq(find_attr(&c->layers[17], "num_hidden"), "6");
	conf_free(c);
}
END_TEST

START_TEST(test_layers_of_a_block_carry_the_line_of_the_block_and_of_the_use)
{
	struct mx_conf *c = load_ok("blocks.conf", NULL, 0);
	char want[2048];
	snprintf(want, sizeof want, CONF_DIR "blocks_res.inc:5 (block \"res\" used at %s)", origin("blocks.conf", 15));
	ck_assert_str_eq(c->layers[3].origin, want);
	ck_assert_str_eq(c->layers[3].attrs[0].origin, want);
	/* nested: the inner use's place carries the outer use's */
	snprintf(want, sizeof want, CONF_DIR "blocks.conf:5 (block \"dense\" used at " CONF_DIR
		 "blocks.conf:9 (block \"nested\" used at " CONF_DIR "blocks.conf:17))");
	ck_assert_str_eq(c->layers[15].origin, want);
	conf_free(c);
}
END_TEST

START_TEST(test_lr_mult_and_wd_mult_reach_the_learnable_variables)
{
	struct mx_conf *c = load_ok("blocks.conf", NULL, 0);
	struct graph *g = NULL;
	ck_assert_str_eq(find_attr(&c->layers[0], "__lr_mult__"), "2");
	ck_assert_str_eq(find_attr(&c->layers[0], "__wd_mult__"), "0");
	ck_assert_ptr_null(find_attr(&c->layers[0], "lr_mult"));
	ck_ok(conf_build_graph(c, &g));
	ck_assert_str_eq(node_attr(g, "stem_weight", "__lr_mult__"), "2");
	ck_assert_str_eq(node_attr(g, "stem_bias", "__wd_mult__"), "0");
	ck_assert_str_eq(node_attr(g, "head_fc_weight", "__lr_mult__"), "0.5");
	ck_assert_ptr_null(node_attr(g, "stage1_unit1_fc1_weight", "__lr_mult__"));
	/* the wiring survives lowering: the sum of unit 2 adds unit 1's output */
	ck_assert_int_eq(g->nodes[graph_find(g, "stage1_unit2_sum")].inputs[1].node, graph_find(g, "stage1_unit1_sum"));
	ck_assert_int_eq(g->heads[0].node, graph_find(g, "softmax"));
	graph_free(g);
	conf_free(c);
}
END_TEST

START_TEST(test_bad_lr_mult_names_its_line)
{
	const char *text = "net = (\n  { type = \"fc\"; name = \"fc1\"; num_hidden = 2;\n    lr_mult = \"fast\"; }\n);\n";
	text_fails(text, strlen(text), MX_ERR_INVALID, "strict.conf:3: layer \"fc1\": lr_mult: expected a number, got \"fast\"");
}
END_TEST

START_TEST(test_repeats_without_a_final_number_are_numbered_from_two_and_lists_take_variables)
{
	const char *text = "blocks = { b = (\n"
			   "  { type = \"Convolution\"; name = \"c\"; kernel = [\"$k\", \"$k\"]; pad = (\"$k\", 0);\n"
			   "    label = \"$$cost of $name from ${in}\"; names = [\"$in\", \"x\"]; }\n); };\n"
			   "net = ( { type = \"fc\"; name = \"first\"; num_hidden = 2; },\n"
			   "  { block = \"b\"; name = \"tail\"; args = { k = 3; }; repeat = 3; } );\n";
	char dir[] = "/tmp/check_conf.XXXXXX", path[64];
	struct mx_conf *c = NULL;
	FILE *f;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/rep.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	ck_ok(conf_load(path, NULL, 0, &c));
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(c->n_layers, 4);
	ck_layer(c, 1, "tail_c", IN("first"));
	ck_layer(c, 2, "tail_2_c", IN("tail_c"));
	ck_layer(c, 3, "tail_3_c", IN("tail_2_c"));
	ck_assert_str_eq(find_attr(&c->layers[1], "kernel"), "(3, 3)");
	ck_assert_str_eq(find_attr(&c->layers[1], "pad"), "(3, 0)");
	ck_assert_str_eq(find_attr(&c->layers[2], "label"), "$cost of tail_2 from tail_c");
	ck_assert_str_eq(find_attr(&c->layers[1], "names"), "first,x");
	conf_free(c);
}
END_TEST

START_TEST(test_block_errors_name_the_block_line_and_the_use)
{
	const char *head = "blocks = {\n  b = (\n    { type = \"fc\"; name = \"fc1\"; num_hidden = \"$hidden\"; },\n"
			   "    { type = \"fc\"; name = \"fc2\"; num_hidden = 2; inputs = \"%s\"; }\n  );\n};\n"
			   "net = (\n  %s\n);\n";
	const struct { const char *input, *use, *want; } cases[] = {
		/* an unknown variable: the line in the block, then the use */
		{"fc1", "{ block = \"b\"; name = \"u\"; }",
		 "strict.conf:3 (block \"b\" used at strict.conf:8): layer \"u_fc1\": unknown variable \"$hidden\" "
		 "(unit \"u\" sets $in, $name and its args)"},
		{"$nmae", "{ block = \"b\"; name = \"u\"; args = { hidden = 2; }; }",
		 "strict.conf:4 (block \"b\" used at strict.conf:8): layer \"u_fc2\": unknown variable \"$nmae\" "
		 "(did you mean \"$name\"?)"},
		/* an argument the block never uses: at the argument's line */
		{"fc1", "{ block = \"b\"; name = \"u\";\n    args = { hiden = 2; }; }",
		 "strict.conf:9: unit \"u\": block \"b\" (strict.conf:2) uses no variable \"$hiden\" (did you mean \"$hidden\"?)"},
		{"fc1", "{ block = \"bb\"; name = \"u\"; args = { hidden = 2; }; }",
		 "strict.conf:8: unit \"u\": unknown block \"bb\" (did you mean \"b\"?)"},
		{"fc", "{ block = \"b\"; name = \"u\"; args = { hidden = 2; }; }",
		 "strict.conf:4 (block \"b\" used at strict.conf:8): layer \"u_fc2\": input \"fc\" is not a layer of "
		 "block \"b\" (did you mean \"fc1\"?); the unit's input is \"$in\""},
		{"fc1", "{ block = \"b\"; args = { hidden = 2; }; }",
		 "strict.conf:8: entry 1: a use of a block needs a name"},
		{"fc1", "{ block = \"b\"; name = \"u\"; args = { hidden = 2; }; repeat = 0; }",
		 "strict.conf:8: unit \"u\": repeat must be a whole number in [1, 10000]"},
		{"fc1", "{ block = \"b\"; name = \"u\"; type = \"fc\"; }",
		 "strict.conf:8: unit \"u\": has both type and block"},
		{"fc1", "{ block = \"b\"; name = \"u\"; arg = { hidden = 2; }; }",
		 "strict.conf:8: unit \"u\": unknown key \"arg\" in a use of a block (did you mean \"args\"?)"},
		{"fc1", "{ block = \"b\"; name = \"u\"; args = { hidden = 2; name = \"v\"; }; }",
		 "strict.conf:8: unit \"u\": args.name: $name is set by the unit itself"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[2048];
		snprintf(text, sizeof text, head, cases[i].input, cases[i].use);
		text_fails_here(text, MX_ERR_INVALID, cases[i].want);
	}
}
END_TEST

START_TEST(test_a_block_group_gives_default_args_that_a_use_may_replace)
{
	const char *text = "blocks = {\n  b = {\n    args = { k = 3; act = \"relu\"; };\n"
			   "    layers = ( { type = \"Convolution\"; name = \"c\"; kernel = [\"$k\", \"$k\"]; act = \"$act\"; } );\n"
			   "  };\n};\nnet = ( { block = \"b\"; name = \"u\"; },\n"
			   "  { block = \"b\"; name = \"v\"; args = { k = 5; }; } );\n";
	char dir[] = "/tmp/check_conf.XXXXXX", path[64];
	struct mx_conf *c = NULL;
	FILE *f;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/def.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	ck_ok(conf_load(path, NULL, 0, &c));
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(c->n_layers, 2);
	ck_layer(c, 0, "u_c", IN("data"));
	ck_layer(c, 1, "v_c", IN("u_c"));
	ck_assert_str_eq(find_attr(&c->layers[0], "kernel"), "(3, 3)");
	ck_assert_str_eq(find_attr(&c->layers[1], "kernel"), "(5, 5)");
	ck_assert_str_eq(find_attr(&c->layers[1], "act"), "relu");
	conf_free(c);
}
END_TEST

START_TEST(test_misshapen_blocks_and_endless_nesting_are_errors)
{
	const struct { const char *text, *want; } cases[] = {
		{"blocks = (1, 2);\n", "strict.conf:1: blocks is a list ( ); write blocks = {"},
		{"blocks = {\n  b = 1;\n};\n", "strict.conf:2: block \"b\" is an integer; write b = ( { type = ...; }, ... );"},
		{"blocks = {\n  b = { arg = { x = 1; }; };\n};\n",
		 "strict.conf:2: block \"b\": unknown key \"arg\" (did you mean \"args\"?)"},
		{"blocks = {\n  b = { args = { x = 1; }; };\n};\n", "strict.conf:2: block \"b\" has no layers = ( ... );"},
		{"blocks = {\n  b = { args = { k = 1;\n    x = 1; };\n    layers = ( { type = \"fc\"; num_hidden = \"$k\"; } ); };\n};\n"
		 "net = ( { block = \"b\"; name = \"u\"; } );\n",
		 "strict.conf:3: default args: block \"b\" (strict.conf:2) uses no variable \"$x\""},
		{"blocks = {\n  b = ();\n};\n", "strict.conf:2: block \"b\" has no layers"},
		{"blocks = {\n  a = ( { block = \"a\"; name = \"x\"; } );\n};\nnet = ( { block = \"a\"; name = \"u\"; } );\n",
		 "blocks nest deeper than 16 (does block \"a\" use itself?)"},
		{"net = ( { block = \"a\"; name = \"u\"; } );\n",
		 "strict.conf:1: unit \"u\": unknown block \"a\"; define it: blocks = { a = ("},
		/* inside a block, a unit is read when its entry comes */
		{"blocks = {\n  d = ( { type = \"fc\"; num_hidden = 1; } );\n"
		 "  b = ( { type = \"fc\"; name = \"f\"; num_hidden = 1; inputs = \"later\"; },\n"
		 "        { block = \"d\"; name = \"later\"; } );\n};\nnet = ( { block = \"b\"; name = \"u\"; } );\n",
		 "strict.conf:3 (block \"b\" used at strict.conf:6): layer \"u_f\": input \"later\" is a unit defined after "
		 "this entry"},
		{"blocks = {\n  b = ( { type = \"fc\"; num_hidden = \"1$\"; } );\n};\nnet = ( { block = \"b\"; name = \"u\"; } );\n",
		 "strict.conf:2 (block \"b\" used at strict.conf:4): layer \"u_fc0\": \"1$\": '$' starts a "
		 "variable ($filters or ${filters}); write $$ for a '$'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		text_fails_here(cases[i].text, MX_ERR_INVALID, cases[i].want);
}
END_TEST

START_TEST(test_overrides_reach_a_units_repeat_and_args)
{
	const char *ov[] = {"net.stage1_unit1.repeat=1", "net.head.args.hidden=5"};
	const char *inner[] = {"net.stage1_unit1_fc1.num_hidden=5"};
	const char *blocks[] = {"blocks.res.x=1"};
	const char *layer_args[] = {"net.stem.args.x=1"};
	struct mx_conf *c = load_ok("blocks.conf", ov, 2);
	ck_assert_int_eq(c->n_layers, 12);
	ck_layer(c, 5, "head_fc", IN("stage1_unit2")); /* no unit 2 now: the name stays as written */
	ck_assert_str_eq(find_attr(&c->layers[5], "num_hidden"), "5");
	conf_free(c);
	load_fails("blocks.conf", inner, 1, MX_ERR_INVALID,
		   "override \"net.stage1_unit1_fc1.num_hidden=5\": no layer named \"stage1_unit1_fc1\" in net; a block makes "
		   "the layers of unit \"stage1_unit1\": override its args (net.stage1_unit1.args.<key>=value)");
	load_fails("blocks.conf", blocks, 1, MX_ERR_INVALID, "override \"blocks.res.x=1\": blocks cannot be overridden");
	load_fails("blocks.conf", layer_args, 1, MX_ERR_INVALID,
		   "override \"net.stem.args.x=1\": stem is a layer, not a use of a block");
}
END_TEST

START_TEST(test_the_shipped_example_confs_load_and_keep_the_contract)
{
	const char *names[] = {"fmnist-mlp", "fmnist-lenet", "fmnist-convbn", "cifar-resnet20", "alexnet", "vgg16",
			       "inception-bn", "resnet50"};
	/* as many layers as the symbols of MXNet's model zoo (symbols/NAME.py) have operators */
	const int layers[] = {6, 11, 13, 74, 24, 40, 233, 175};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[1024];
		struct mx_conf *c = NULL;
		snprintf(path, sizeof path, FIXTURES "/../../confs/%s.conf", names[i]);
		ck_assert_msg(conf_load(path, NULL, 0, &c) == MX_OK, "%s: %s", names[i], mx_error_message());
		if (layers[i])
			ck_assert_msg(c->n_layers == layers[i], "%s: %d layers, want %d", names[i], c->n_layers, layers[i]);
		ck_assert_str_eq(c->layers[c->n_layers - 1].name, "softmax");
		conf_free(c);
	}
}
END_TEST

/* ---- sections to parameter tables ---- */

START_TEST(test_solver_section_sets_the_solver_parameters)
{
	struct mx_conf *c = load_ok("mlp.conf", NULL, 0);
	struct solver_param sp;
	struct model_param mp;
	param_defaults(solver_params, &sp);
	param_defaults(model_params, &mp);
	ck_ok(conf_apply_section(&c->solver, "solver", solver_params, &sp));
	ck_ok(conf_apply_section(&c->model, "model", model_params, &mp));
	ck_assert_float_eq_tol(sp.lr, 0.1f, 1e-7);
	ck_assert_float_eq_tol(sp.momentum, 0.9f, 1e-7);
	ck_assert_float_eq_tol(sp.wd, 0.0001f, 1e-9);
	ck_assert_int_eq(sp.num_epoch, 10);
	ck_assert_int_eq(sp.seed, 1);
	ck_assert_int_eq(sp.optimizer, OPT_SGD);
	ck_assert_int_eq(sp.initializer, INIT_XAVIER);
	ck_assert_str_eq(mp.dir, "model");
	ck_assert_str_eq(mp.prefix, "fmnist-mlp");
	ck_assert_int_eq(mp.save_period, 1);
	conf_free(c);
}
END_TEST

START_TEST(test_solver_errors_name_file_line_and_section)
{
	const char *ov[] = {"solver.lr=fast"};
	struct mx_conf *c = load_ok("bad_solver_key.conf", NULL, 0);
	struct solver_param sp;
	param_defaults(solver_params, &sp);
	ck_error(conf_apply_section(&c->solver, "solver", solver_params, &sp), MX_ERR_INVALID,
		 "bad_solver_key.conf:4: solver: unknown key \"momentun\" (did you mean \"momentum\"?)");
	conf_free(c);
	c = load_ok("mlp.conf", ov, 1);
	ck_error(conf_apply_section(&c->solver, "solver", solver_params, &sp), MX_ERR_INVALID,
		 "command line: solver: lr: expected a number, got \"fast\"");
	conf_free(c);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *read = tcase_create("read"), *override = tcase_create("override"), *errors = tcase_create("errors"),
	      *graph = tcase_create("graph"), *sections = tcase_create("sections"), *strict = tcase_create("strict"),
	      *blocks = tcase_create("blocks");
	tcase_add_test(read, test_good_conf_loads_sections_layers_and_device);
	tcase_add_test(read, test_each_kind_of_value_becomes_text);
	tcase_add_test(read, test_unnamed_layers_get_mxnet_style_names_and_inputs_are_read);
	tcase_add_test(override, test_overrides_replace_add_and_retype_values_with_command_line_origin);
	tcase_add_test(override, test_overrides_create_missing_sections_and_find_layers_by_automatic_name);
	tcase_add_test(override, test_bad_overrides_are_rejected_with_their_text);
	tcase_add_test(errors, test_syntax_error_names_file_and_line);
	tcase_add_test(errors, test_unknown_section_suggests_the_nearest);
	tcase_add_test(errors, test_misshapen_sections_and_layers_are_errors_naming_the_place);
	tcase_add_test(strict, test_a_missing_semicolon_inside_a_layer_group_names_the_line_of_the_value);
	tcase_add_test(strict, test_a_missing_semicolon_after_a_top_level_group_names_the_line_of_its_brace);
	tcase_add_test(strict, test_two_settings_on_one_line_need_a_semicolon_between_them);
	tcase_add_test(strict, test_a_semicolon_inside_a_string_or_a_comment_does_not_count);
	tcase_add_test(strict, test_a_correct_conf_with_every_kind_of_comment_loads);
	tcase_add_test(strict, test_a_missing_semicolon_in_an_included_file_names_that_file);
	tcase_add_test(strict, test_overrides_need_no_semicolon);
	tcase_add_test(graph, test_mlp_becomes_a_graph_with_variables_and_the_last_layer_as_head);
	tcase_add_test(graph, test_named_inputs_wire_layers_and_set_num_args);
	tcase_add_test(graph, test_unknown_layer_type_suggests_the_nearest);
	tcase_add_test(graph, test_bad_layer_keys_and_values_name_their_own_line);
	tcase_add_test(graph, test_bad_inputs_name_the_missing_layer);
	tcase_add_test(graph, test_graph_errors_are_not_prefixed_twice);
	tcase_add_test(blocks, test_a_block_use_expands_into_prefixed_layers_and_repeats_chain);
	tcase_add_test(blocks, test_block_variables_are_substituted_in_strings_and_numbers);
	tcase_add_test(blocks, test_layers_of_a_block_carry_the_line_of_the_block_and_of_the_use);
	tcase_add_test(blocks, test_lr_mult_and_wd_mult_reach_the_learnable_variables);
	tcase_add_test(blocks, test_bad_lr_mult_names_its_line);
	tcase_add_test(blocks, test_repeats_without_a_final_number_are_numbered_from_two_and_lists_take_variables);
	tcase_add_test(blocks, test_block_errors_name_the_block_line_and_the_use);
	tcase_add_test(blocks, test_a_block_group_gives_default_args_that_a_use_may_replace);
	tcase_add_test(blocks, test_misshapen_blocks_and_endless_nesting_are_errors);
	tcase_add_test(blocks, test_overrides_reach_a_units_repeat_and_args);
	tcase_add_test(blocks, test_the_shipped_example_confs_load_and_keep_the_contract);
	tcase_add_test(sections, test_solver_section_sets_the_solver_parameters);
	tcase_add_test(sections, test_solver_errors_name_file_line_and_section);
	suite_add_tcase(s, read);
	suite_add_tcase(s, override);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, strict);
	suite_add_tcase(s, graph);
	suite_add_tcase(s, blocks);
	suite_add_tcase(s, sections);
	return s;
}

int main(void)
{
	return run_suite(conf_suite());
}
