/* check_solver.c: the pieces the training loop calls: solver/model parameter tables,
 * initializers, the optimizers (SGD, NAG, Adam, RMSProp, AdaGrad), learning-rate schedules
 * and metrics. Fixtures under tests/fixtures/solver/ hold MXNet 1.9.1's own numbers
 * (tests/peer/make_solver_fixtures.py). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "net/checkpoint.h"
#include "net/executor.h"
#include "net/graph.h"
#include "net/initializer.h"
#include "net/metric.h"
#include "net/optimizer.h"
#include "net/trainer.h"
#include "param.h"
#include "rng.h"
#include "testutil.h"

/* ---- fixtures: "<name> <ndim> <dims...>" then the values ---- */

struct fixture_array {
	char name[64];
	struct mx_shape shape;
	float *v;
};

struct fixture {
	struct fixture_array *a;
	int n;
};

static struct fixture *fixture_load(const char *file)
{
	char path[512], line[512];
	struct fixture *fx = calloc(1, sizeof *fx);
	FILE *f;
	snprintf(path, sizeof path, "%s/solver/%s", FIXTURES, file);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof line, f)) {
		struct fixture_array *a;
		char *p = line;
		int64_t n;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		fx->a = realloc(fx->a, (fx->n + 1) * sizeof *fx->a);
		a = &fx->a[fx->n++];
		memset(a, 0, sizeof *a);
		ck_assert_int_eq(sscanf(p, "%63s %d", a->name, &a->shape.ndim), 2);
		strtok(p, " ");
		strtok(NULL, " \n");
		for (int d = 0; d < a->shape.ndim; d++)
			a->shape.dim[d] = strtoll(strtok(NULL, " \n"), NULL, 10);
		n = shape_size(&a->shape);
		a->v = malloc(n * sizeof *a->v);
		for (int64_t i = 0; i < n; i++) {
			double x;
			ck_assert_int_eq(fscanf(f, "%lf", &x), 1);
			a->v[i] = (float)x;
		}
	}
	fclose(f);
	return fx;
}

static const struct fixture_array *fixture_get(const struct fixture *fx, const char *name)
{
	for (int i = 0; i < fx->n; i++)
		if (!strcmp(fx->a[i].name, name))
			return &fx->a[i];
	return NULL;
}

static void fixture_free(struct fixture *fx)
{
	for (int i = 0; i < fx->n; i++)
		free(fx->a[i].v);
	free(fx->a);
	free(fx);
}

static struct solver_param defaults(void)
{
	struct solver_param p;
	memset(&p, 0, sizeof p);
	param_defaults(solver_params, &p);
	return p;
}

static struct mx_tensor *vec(int64_t n, const float *v)
{
	struct mx_shape s = shape_make(1, n);
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
	if (v)
		memcpy(t->data, v, n * sizeof(float));
	return t;
}

static void expect_error(int rc, int code, const char *substring)
{
	ck_assert_int_eq(rc, code);
	ck_assert_msg(strstr(mx_error_message(), substring) != NULL, "message \"%s\" lacks \"%s\"",
		      mx_error_message(), substring);
}

/* ---- parameter tables ---- */

START_TEST(solver_defaults_are_mxnet_sgd_defaults)
{
	struct solver_param p = defaults();
	struct model_param m;
	ck_assert_int_eq(p.optimizer, OPT_SGD);
	ck_assert_float_eq(p.lr, 0.0f); /* the optimizer's own: 0.01 for sgd */
	ck_assert_float_eq(lr_schedule_at(&p, 1, 0), 0.01f);
	ck_assert_float_eq(p.momentum, 0.0f);
	ck_assert_float_eq(p.wd, 0.0f);
	ck_assert_float_eq(p.rescale_grad, 0.0f);
	ck_assert_float_le(p.clip_gradient, 0.0f);
	ck_assert_int_eq(p.num_epoch, 10);
	ck_assert_int_eq(p.initializer, INIT_XAVIER);
	ck_assert_int_eq(p.xavier_rnd_type, 0);
	ck_assert_int_eq(p.xavier_factor_type, 0);
	ck_assert_float_eq(p.xavier_magnitude, 3.0f);
	ck_assert_float_eq(p.init_sigma, 0.01f);
	ck_assert_float_eq(p.init_scale, 0.07f);
	ck_assert_int_eq(p.seed, 0);
	ck_assert_int_eq(p.lr_scheduler, LR_NONE);
	ck_assert_float_eq(p.lr_factor, 1.0f);
	ck_assert_int_eq(p.lr_steps.ndim, 0);
	ck_assert_int_eq(p.lr_step_epochs.ndim, 0);
	ck_assert_int_eq(p.lr_max_update, 0);
	ck_assert_float_eq(p.final_lr, 0.0f);
	ck_assert_float_eq(p.lr_pwr, 2.0f);
	ck_assert_int_eq(p.warmup_steps, 0);
	ck_assert_float_eq(p.warmup_begin_lr, 0.0f);
	ck_assert_int_eq(p.warmup_mode, WARMUP_LINEAR);
	ck_assert_str_eq(p.eval_metric, "accuracy");
	ck_assert_int_eq(p.top_k, 5);
	ck_assert_int_eq(p.disp_batches, 50);
	ck_assert_int_eq(p.num_threads, 0);
	memset(&m, 0, sizeof m);
	param_defaults(model_params, &m);
	ck_assert_str_eq(m.dir, "model");
	ck_assert_str_eq(m.prefix, "model");
	ck_assert_int_eq(m.save_period, 1);
}
END_TEST

START_TEST(every_solver_and_model_key_has_a_default_and_help)
{
	const struct param_spec *tables[] = {solver_params, model_params};
	for (int t = 0; t < 2; t++) {
		for (const struct param_spec *s = tables[t]; s->key; s++) {
			ck_assert_msg(s->def != NULL, "%s has no default", s->key);
			ck_assert_msg(s->help && strlen(s->help) > 10, "%s has no help", s->key);
		}
	}
}
END_TEST

START_TEST(solver_keys_parse_and_bad_values_name_the_key)
{
	struct solver_param p = defaults();
	ck_ok(param_set(solver_params, &p, "lr_scheduler", "multifactor"));
	ck_assert_int_eq(p.lr_scheduler, LR_MULTIFACTOR);
	ck_ok(param_set(solver_params, &p, "lr_steps", "(100, 200)"));
	ck_assert_int_eq(p.lr_steps.ndim, 2);
	ck_assert_int_eq(p.lr_steps.dim[1], 200);
	ck_ok(param_set(solver_params, &p, "initializer", "gaussian"));
	ck_assert_int_eq(p.initializer, INIT_GAUSSIAN);
	ck_ok(param_set(solver_params, &p, "clip_gradient", "-1"));
	ck_ok(param_set(solver_params, &p, "seed", "12345678901"));
	ck_assert_int_eq(p.seed, 12345678901LL);
	expect_error(param_set(solver_params, &p, "momentum", "1.5"), MX_ERR_INVALID,
		     "momentum = 1.5 is out of range [0, 1]");
	expect_error(param_set(solver_params, &p, "monentum", "0.9"), MX_ERR_INVALID,
		     "unknown key \"monentum\" (did you mean \"momentum\"?)");
	expect_error(param_set(solver_params, &p, "initializer", "xavir"), MX_ERR_INVALID,
		     "(did you mean \"xavier\"?)");
	expect_error(param_set(solver_params, &p, "lr_steps", "(100, 0)"), MX_ERR_INVALID,
		     "lr_steps = 0 is out of range");
	expect_error(param_set(solver_params, &p, "lr_factor", "2"), MX_ERR_INVALID, "lr_factor = 2 is out of range");
}
END_TEST

/* ---- initializers ---- */

static void stats(const float *x, int64_t n, double *mean, double *var, double *absmax)
{
	double s = 0, s2 = 0, m = 0;
	for (int64_t i = 0; i < n; i++) {
		s += x[i];
		s2 += (double)x[i] * x[i];
		if (fabs(x[i]) > m)
			m = fabs(x[i]);
	}
	*mean = s / n;
	*var = s2 / n - *mean * *mean;
	*absmax = m;
}

START_TEST(xavier_fills_an_fc_weight_uniformly_within_its_bound)
{
	struct solver_param p = defaults();
	struct mx_shape s = shape_make(2, 256L, 784L);
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
	struct mx_rng rng;
	double bound = sqrt(3.0 / ((784 + 256) / 2.0)), mean, var, absmax;
	rng_seed(&rng, 1);
	ck_ok(initializer_fill(&p, "fc1_weight", t, &rng));
	stats(tensor_f32(t), shape_size(&s), &mean, &var, &absmax);
	ck_assert_double_le(absmax, bound * (1 + 1e-6));
	ck_assert_double_gt(absmax, bound * 0.999);
	ck_assert_double_lt(fabs(mean), 0.002 * bound);
	ck_assert_double_lt(fabs(var / (bound * bound / 3) - 1), 0.01);
	tensor_free(t);
}
END_TEST

START_TEST(xavier_counts_the_receptive_field_and_draws_in_element_order)
{
	/* conv filters (16, 3, 5, 5): fan_in = 3*25 = 75, fan_out = 16*25 = 400 */
	struct solver_param p = defaults();
	struct mx_shape s = shape_make(4, 16L, 3L, 5L, 5L);
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
	struct mx_rng rng, again;
	double bound = sqrt(3.0 / 237.5);
	rng_seed(&rng, 42);
	rng_seed(&again, 42);
	ck_ok(initializer_fill(&p, "conv0_weight", t, &rng));
	for (int64_t i = 0; i < shape_size(&s); i++) {
		double want = -bound + 2 * bound * rng_uniform(&again);
		ck_assert_msg(fabs(tensor_f32(t)[i] - want) < 1e-7, "[%lld] got %.9g want %.9g", (long long)i,
			      tensor_f32(t)[i], want);
	}
	ck_assert_uint_eq(rng.s[0], again.s[0]);
	tensor_free(t);
}
END_TEST

START_TEST(xavier_factor_in_and_out_and_gaussian_draws_follow_mxnet)
{
	struct solver_param p = defaults();
	struct mx_shape s = shape_make(2, 100L, 400L);
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
	struct mx_rng rng;
	double mean, var, absmax;
	rng_seed(&rng, 3);
	p.xavier_factor_type = 1; /* in: 3 / 400 */
	ck_ok(initializer_fill(&p, "w_weight", t, &rng));
	stats(tensor_f32(t), shape_size(&s), &mean, &var, &absmax);
	ck_assert_double_le(absmax, sqrt(3.0 / 400) * (1 + 1e-6));
	ck_assert_double_gt(absmax, sqrt(3.0 / 400) * 0.999);
	p.xavier_factor_type = 2; /* out: 2 / 100 with magnitude 2 */
	p.xavier_magnitude = 2;
	ck_ok(initializer_fill(&p, "w_weight", t, &rng));
	stats(tensor_f32(t), shape_size(&s), &mean, &var, &absmax);
	ck_assert_double_gt(absmax, sqrt(2.0 / 100) * 0.999);
	ck_assert_double_le(absmax, sqrt(2.0 / 100) * (1 + 1e-6));
	p.xavier_rnd_type = 1; /* gaussian, sigma sqrt(2 / 100) */
	ck_ok(initializer_fill(&p, "w_weight", t, &rng));
	stats(tensor_f32(t), shape_size(&s), &mean, &var, &absmax);
	ck_assert_double_lt(fabs(sqrt(var) / sqrt(2.0 / 100) - 1), 0.01);
	ck_assert_double_gt(absmax, 3 * sqrt(2.0 / 100)); /* tails a uniform draw lacks */
	tensor_free(t);
}
END_TEST

START_TEST(gaussian_uniform_and_constant_initializers_have_their_statistics)
{
	struct solver_param p = defaults();
	struct mx_shape s = shape_make(2, 200L, 500L);
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
	struct mx_rng rng;
	double mean, var, absmax;
	rng_seed(&rng, 5);
	p.initializer = INIT_GAUSSIAN;
	ck_ok(initializer_fill(&p, "fc_weight", t, &rng));
	stats(tensor_f32(t), shape_size(&s), &mean, &var, &absmax);
	ck_assert_double_lt(fabs(mean), 0.0002);
	ck_assert_double_lt(fabs(sqrt(var) / 0.01 - 1), 0.01);
	p.initializer = INIT_UNIFORM;
	ck_ok(initializer_fill(&p, "fc_weight", t, &rng));
	stats(tensor_f32(t), shape_size(&s), &mean, &var, &absmax);
	ck_assert_double_le(absmax, 0.07);
	ck_assert_double_gt(absmax, 0.0699);
	ck_assert_double_lt(fabs(var / (0.07 * 0.07 / 3) - 1), 0.01);
	p.initializer = INIT_CONSTANT;
	p.init_value = 0.25f;
	ck_ok(initializer_fill(&p, "fc_weight", t, &rng));
	stats(tensor_f32(t), shape_size(&s), &mean, &var, &absmax);
	ck_assert_double_eq(mean, 0.25);
	ck_assert_double_eq(absmax, 0.25);
	tensor_free(t);
}
END_TEST

START_TEST(the_same_seed_gives_the_same_weights_and_another_seed_others)
{
	struct solver_param p = defaults();
	struct mx_shape s = shape_make(2, 30L, 20L);
	struct mx_tensor *a = tensor_new(&s, MX_F32, MX_CPU), *b = tensor_new(&s, MX_F32, MX_CPU);
	struct mx_rng r1, r2;
	rng_seed(&r1, 7);
	rng_seed(&r2, 7);
	ck_ok(initializer_fill(&p, "fc_weight", a, &r1));
	ck_ok(initializer_fill(&p, "fc_weight", b, &r2));
	ck_assert_int_eq(memcmp(a->data, b->data, tensor_bytes(a)), 0);
	rng_seed(&r2, 8);
	ck_ok(initializer_fill(&p, "fc_weight", b, &r2));
	ck_assert_int_ne(memcmp(a->data, b->data, tensor_bytes(a)), 0);
	tensor_free(a);
	tensor_free(b);
}
END_TEST

START_TEST(names_choose_the_rule_and_constant_rules_draw_nothing)
{
	static const struct {
		const char *name;
		int ndim;
		float want; /* NAN: the weight rule (random) */
	} cases[] = {
		{"fc1_bias", 1, 0}, {"bn0_gamma", 1, 1}, {"bn0_beta", 1, 0}, {"bn0_moving_mean", 1, 0},
		{"bn0_moving_var", 1, 1}, {"fc1_weight", 2, NAN}, {"custom", 2, NAN}, {"custom", 1, 0},
		{"q_min", 1, 0}, {"q_max", 1, 1},
	};
	struct solver_param p = defaults();
	p.initializer = INIT_UNIFORM;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct mx_shape s = cases[c].ndim == 1 ? shape_make(1, 6L) : shape_make(2, 2L, 3L);
		struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
		struct mx_rng rng, before;
		rng_seed(&rng, 9);
		before = rng;
		tensor_fill(t, 123.0f);
		ck_ok(initializer_fill(&p, cases[c].name, t, &rng));
		for (int i = 0; i < 6; i++) {
			float x = tensor_f32(t)[i];
			if (isnan(cases[c].want))
				ck_assert_msg(fabsf(x) <= 0.07f && x != 0, "%s[%d] = %g", cases[c].name, i, x);
			else
				ck_assert_msg(x == cases[c].want, "%s[%d] = %g, want %g", cases[c].name, i, x,
					      cases[c].want);
		}
		if (!isnan(cases[c].want))
			ck_assert_msg(!memcmp(&rng, &before, sizeof rng), "%s drew random numbers", cases[c].name);
		tensor_free(t);
	}
}
END_TEST

START_TEST(xavier_on_a_vector_weight_is_an_error_naming_it)
{
	struct solver_param p = defaults();
	struct mx_shape s = shape_make(1, 10L);
	struct mx_tensor *t = tensor_new(&s, MX_F32, MX_CPU);
	struct mx_rng rng;
	rng_seed(&rng, 1);
	expect_error(initializer_fill(&p, "emb_weight", t, &rng), MX_ERR_INVALID,
		     "initializer xavier: emb_weight has shape (10); xavier needs at least 2 dims");
	tensor_free(t);
}
END_TEST

/* ---- SGD ---- */

/* Runs one sgd.txt case through our optimizer and compares every step with MXNet's. */
static void run_sgd_case(const struct fixture *fx, const char *name)
{
	char key[96];
	const struct fixture_array *cfg, *w0;
	struct solver_param p = defaults();
	struct optimizer *o;
	struct mx_tensor *w, *g;
	int steps;
	snprintf(key, sizeof key, "%s.config", name);
	cfg = fixture_get(fx, key);
	snprintf(key, sizeof key, "%s.w0", name);
	w0 = fixture_get(fx, key);
	ck_assert_msg(cfg && w0, "fixture case %s missing", name);
	p.lr = cfg->v[0];
	p.momentum = cfg->v[1];
	p.wd = cfg->v[2];
	p.rescale_grad = cfg->v[3];
	p.clip_gradient = cfg->v[4];
	if (cfg->v[7] > 0) {
		p.lr_scheduler = LR_FACTOR;
		p.lr_step = (int)cfg->v[7];
		p.lr_factor = cfg->v[8];
	}
	steps = (int)cfg->v[9];
	o = optimizer_create(&p, 1, 1000, 0);
	ck_assert_msg(o != NULL, "%s", mx_error_message());
	optimizer_set_mult(o, 0, cfg->v[5], cfg->v[6]);
	w = vec(shape_size(&w0->shape), w0->v);
	for (int k = 1; k <= steps; k++) {
		const struct fixture_array *gk, *wk;
		char label[96];
		snprintf(key, sizeof key, "%s.g%d", name, k);
		gk = fixture_get(fx, key);
		snprintf(key, sizeof key, "%s.w%d", name, k);
		wk = fixture_get(fx, key);
		g = vec(shape_size(&gk->shape), gk->v);
		ck_ok(optimizer_update(o, 0, w, g));
		optimizer_step_done(o);
		snprintf(label, sizeof label, "sgd %s step %d", name, k);
		check_close(label, tensor_f32(w), wk->v, shape_size(&wk->shape), 0, 0);
		tensor_free(g);
	}
	ck_assert_int_eq(optimizer_num_update(o), steps);
	ck_assert_int_eq(optimizer_num_states(o), p.momentum > 0);
	ck_assert(p.momentum > 0 ? optimizer_state(o, 0, 0) != NULL : optimizer_state(o, 0, 0) == NULL);
	tensor_free(w);
	optimizer_free(o);
}

START_TEST(sgd_matches_mxnet_step_by_step)
{
	static const char *const cases[] = {"plain", "wd_rescale", "clip", "momentum", "momentum_clip",
					    "mult", "factor"};
	struct fixture *fx = fixture_load("sgd.txt");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_sgd_case(fx, cases[i]);
	fixture_free(fx);
}
END_TEST

START_TEST(sgd_without_momentum_moves_against_the_decayed_gradient_and_keeps_no_state)
{
	const float w0[3] = {1.0f, -2.0f, 0.5f}, g0[3] = {0.5f, 4.0f, -8.0f};
	struct solver_param p = defaults();
	struct optimizer *o;
	struct mx_tensor *w = vec(3, w0), *g = vec(3, g0);
	p.lr = 0.1f;
	p.wd = 0.01f;
	p.rescale_grad = 0.5f;
	o = optimizer_create(&p, 1, 64, 0);
	ck_ok(optimizer_update(o, 0, w, g));
	for (int i = 0; i < 3; i++) {
		double want = w0[i] - 0.1 * (0.5 * g0[i] + 0.01 * w0[i]);
		ck_assert_double_eq_tol(tensor_f32(w)[i], want, 1e-6);
	}
	ck_assert_ptr_null(optimizer_state(o, 0, 0));
	ck_assert_int_eq(optimizer_num_states(o), 0);
	tensor_free(w);
	tensor_free(g);
	optimizer_free(o);
}
END_TEST

START_TEST(rescale_grad_zero_means_one_over_the_batch_size)
{
	const float g0[2] = {4.0f, -8.0f};
	struct solver_param p = defaults();
	struct optimizer *o;
	struct mx_tensor *w = vec(2, NULL), *g = vec(2, g0);
	p.lr = 1.0f;
	o = optimizer_create(&p, 1, 4, 0);
	ck_ok(optimizer_update(o, 0, w, g));
	ck_assert_float_eq(tensor_f32(w)[0], -1.0f);
	ck_assert_float_eq(tensor_f32(w)[1], 2.0f);
	optimizer_free(o);
	expect_error(optimizer_create(&p, 1, 0, 0) ? MX_OK : MX_ERR_INVALID, MX_ERR_INVALID,
		     "rescale_grad = 0 means 1/batch_size, but batch_size is 0");
	tensor_free(w);
	tensor_free(g);
}
END_TEST

START_TEST(clip_gradient_bounds_the_rescaled_gradient_and_zero_or_minus_one_turn_it_off)
{
	const float g0[4] = {10.0f, -10.0f, 0.5f, -3.0f};
	const float clipped[4] = {-1.0f, 1.0f, -0.25f, 1.0f}; /* -lr * clip(0.5 g, 1) */
	const float unclipped[4] = {-5.0f, 5.0f, -0.25f, 1.5f};
	float offs[] = {0.0f, -1.0f};
	struct solver_param p = defaults();
	struct optimizer *o;
	struct mx_tensor *w = vec(4, NULL), *g = vec(4, g0);
	p.lr = 1.0f;
	p.rescale_grad = 0.5f;
	p.clip_gradient = 1.0f;
	o = optimizer_create(&p, 1, 1, 0);
	ck_ok(optimizer_update(o, 0, w, g));
	check_close("clipped", tensor_f32(w), clipped, 4, 0, 0);
	optimizer_free(o);
	for (int k = 0; k < 2; k++) {
		p.clip_gradient = offs[k];
		o = optimizer_create(&p, 1, 1, 0);
		tensor_fill(w, 0);
		ck_ok(optimizer_update(o, 0, w, g));
		check_close("unclipped", tensor_f32(w), unclipped, 4, 0, 0);
		optimizer_free(o);
	}
	tensor_free(w);
	tensor_free(g);
}
END_TEST

START_TEST(momentum_accumulates_across_updates)
{
	/* mom1 = -lr g1; w1 = w0 + mom1; mom2 = m*mom1 - lr g2; w2 = w1 + mom2 */
	const float g1[1] = {2.0f}, g2[1] = {-1.0f};
	struct solver_param p = defaults();
	struct optimizer *o;
	struct mx_tensor *w = vec(1, NULL), *g = vec(1, g1);
	p.lr = 0.5f;
	p.momentum = 0.9f;
	p.rescale_grad = 1.0f;
	o = optimizer_create(&p, 1, 1, 0);
	ck_ok(optimizer_update(o, 0, w, g));
	optimizer_step_done(o);
	ck_assert_float_eq_tol(tensor_f32(w)[0], -1.0f, 1e-7);
	ck_assert_float_eq_tol(tensor_f32(optimizer_state(o, 0, 0))[0], -1.0f, 1e-7);
	memcpy(g->data, g2, sizeof g2);
	ck_ok(optimizer_update(o, 0, w, g));
	ck_assert_float_eq_tol(tensor_f32(optimizer_state(o, 0, 0))[0], -0.9f + 0.5f, 1e-7);
	ck_assert_float_eq_tol(tensor_f32(w)[0], -1.0f - 0.4f, 1e-7);
	tensor_free(w);
	tensor_free(g);
	optimizer_free(o);
}
END_TEST

START_TEST(lr_and_wd_multipliers_scale_each_parameter)
{
	const float w0[1] = {2.0f}, g0[1] = {1.0f};
	struct solver_param p = defaults();
	struct optimizer *o;
	struct mx_tensor *a = vec(1, w0), *b = vec(1, w0), *g = vec(1, g0);
	p.lr = 0.1f;
	p.wd = 0.5f;
	p.rescale_grad = 1.0f;
	o = optimizer_create(&p, 2, 1, 0);
	optimizer_set_mult(o, 1, 2.0f, 0.0f); /* a bias: twice the rate, no decay */
	ck_ok(optimizer_update(o, 0, a, g));
	ck_ok(optimizer_update(o, 1, b, g));
	ck_assert_float_eq_tol(tensor_f32(a)[0], 2.0f - 0.1f * (1.0f + 0.5f * 2.0f), 1e-6);
	ck_assert_float_eq_tol(tensor_f32(b)[0], 2.0f - 0.2f * 1.0f, 1e-6);
	tensor_free(a);
	tensor_free(b);
	tensor_free(g);
	optimizer_free(o);
}
END_TEST

START_TEST(a_resumed_optimizer_continues_exactly_from_its_saved_state)
{
	enum { N = 37 };
	float w0[N], g0[N];
	struct solver_param p = defaults();
	struct optimizer *a, *b;
	struct mx_tensor *wa, *wb, *g;
	for (int i = 0; i < N; i++) {
		w0[i] = sinf(i);
		g0[i] = cosf(3 * i);
	}
	p.lr = 0.1f;
	p.momentum = 0.9f;
	p.wd = 0.001f;
	p.lr_scheduler = LR_FACTOR;
	p.lr_step = 2;
	p.lr_factor = 0.5f;
	a = optimizer_create(&p, 1, 10, 0);
	b = optimizer_create(&p, 1, 10, 0);
	wa = vec(N, w0);
	g = vec(N, g0);
	for (int k = 0; k < 3; k++) {
		ck_ok(optimizer_update(a, 0, wa, g));
		optimizer_step_done(a);
	}
	wb = vec(N, NULL);
	tensor_copy(wb, wa);
	ck_ok(optimizer_set_state(b, 0, 0, optimizer_state(a, 0, 0)));
	optimizer_set_num_update(b, optimizer_num_update(a));
	ck_assert_ptr_ne(optimizer_state(b, 0, 0), optimizer_state(a, 0, 0));
	ck_assert_float_eq(optimizer_current_lr(b), optimizer_current_lr(a));
	ck_assert_float_eq(optimizer_current_lr(b), 0.05f); /* update 4: (4 - 1) / 2 = one decay */
	for (int k = 0; k < 2; k++) {
		ck_ok(optimizer_update(a, 0, wa, g));
		ck_ok(optimizer_update(b, 0, wb, g));
		optimizer_step_done(a);
		optimizer_step_done(b);
	}
	ck_assert_int_eq(memcmp(wa->data, wb->data, N * sizeof(float)), 0);
	tensor_free(wa);
	tensor_free(wb);
	tensor_free(g);
	optimizer_free(a);
	optimizer_free(b);
}
END_TEST

START_TEST(an_update_with_a_gradient_of_another_size_is_a_shape_error)
{
	struct solver_param p = defaults();
	struct optimizer *o = optimizer_create(&p, 1, 1, 0);
	struct mx_tensor *w = vec(4, NULL), *g = vec(5, NULL);
	expect_error(optimizer_update(o, 0, w, g), MX_ERR_SHAPE, "parameter 0: weight (4) and gradient (5) differ");
	optimizer_free(o);
	/* a restored state that does not fit the weight */
	p.optimizer = OPT_ADAM;
	o = optimizer_create(&p, 1, 1, 0);
	ck_ok(optimizer_set_state(o, 0, 1, g));
	expect_error(optimizer_update(o, 0, w, w), MX_ERR_SHAPE, "parameter 0: weight (4) does not match its state (5)");
	expect_error(optimizer_set_state(o, 1, 0, g), MX_ERR_INVALID, "state for parameter 1, but there are 1");
	expect_error(optimizer_set_state(o, 0, 2, g), MX_ERR_INVALID, "state 2 for parameter 0, but adam keeps 2 states");
	tensor_free(w);
	tensor_free(g);
	optimizer_free(o);
}
END_TEST

START_TEST(a_784x256_momentum_update_takes_microseconds)
{
	struct solver_param p = defaults();
	struct mx_shape s = shape_make(2, 256L, 784L);
	struct mx_tensor *w = tensor_new(&s, MX_F32, MX_CPU), *g = tensor_new(&s, MX_F32, MX_CPU);
	struct optimizer *o;
	struct timespec t0, t1;
	double us;
	enum { REPS = 200 };
	p.momentum = 0.9f;
	p.wd = 0.0001f;
	o = optimizer_create(&p, 1, 100, 0);
	tensor_fill(g, 0.5f);
	ck_ok(optimizer_update(o, 0, w, g)); /* makes the state */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < REPS; k++)
		ck_ok(optimizer_update(o, 0, w, g));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / REPS;
	printf("sgd momentum update of 256x784: %.1f us\n", us);
	/* ~2.4 MB of traffic: tens of microseconds; a scalar or strided loop is several times that */
	ck_assert_double_lt(us, 1000);
	tensor_free(w);
	tensor_free(g);
	optimizer_free(o);
}
END_TEST

/* ---- NAG, Adam, RMSProp, AdaGrad ---- */

static int kind_of_case(const char *name)
{
	static const struct {
		const char *prefix;
		int kind;
	} kinds[] = {{"nag_", OPT_NAG}, {"adam_", OPT_ADAM}, {"rmsprop_", OPT_RMSPROP}, {"adagrad_", OPT_ADAGRAD}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strncmp(name, kinds[i].prefix, strlen(kinds[i].prefix)))
			return kinds[i].kind;
	ck_abort_msg("no optimizer for case %s", name);
	return -1;
}

/* The solver settings of an optim.txt case (layout in make_solver_fixtures.py). */
static struct solver_param optim_case_params(const struct fixture_array *cfg, int kind)
{
	struct solver_param p = defaults();
	const float *v = cfg->v, *x = cfg->v + 9;
	p.optimizer = kind;
	p.lr = v[0];
	p.wd = v[1];
	p.rescale_grad = v[2];
	p.clip_gradient = v[3];
	if (v[7] > 0) {
		p.lr_scheduler = LR_FACTOR;
		p.lr_step = (int)v[7];
		p.lr_factor = v[8];
	}
	switch (kind) {
	case OPT_NAG:
		p.momentum = x[0];
		break;
	case OPT_ADAM:
		p.beta1 = x[0];
		p.beta2 = x[1];
		p.epsilon = x[2];
		break;
	case OPT_RMSPROP:
		p.gamma1 = x[0];
		p.gamma2 = x[1];
		p.epsilon = x[2];
		p.centered = x[3] != 0;
		p.clip_weights = x[4];
		break;
	case OPT_ADAGRAD:
		p.eps = x[0];
		break;
	}
	return p;
}

/* Runs one optim.txt case and compares weights and every state with MXNet's after each
 * update, bit for bit. */
static void run_optim_case(const struct fixture *fx, const char *name)
{
	char key[96], label[128];
	const struct fixture_array *cfg, *w0;
	struct solver_param p;
	struct optimizer *o;
	struct mx_tensor *w;
	int steps, n_states = 0;
	snprintf(key, sizeof key, "%s.config", name);
	cfg = fixture_get(fx, key);
	snprintf(key, sizeof key, "%s.w0", name);
	w0 = fixture_get(fx, key);
	ck_assert_msg(cfg && w0, "fixture case %s missing", name);
	p = optim_case_params(cfg, kind_of_case(name));
	steps = (int)cfg->v[6];
	o = optimizer_create(&p, 1, 1000, 0);
	ck_assert_msg(o != NULL, "%s: %s", name, mx_error_message());
	optimizer_set_mult(o, 0, cfg->v[4], cfg->v[5]);
	for (;; n_states++) {
		snprintf(key, sizeof key, "%s.s%d.1", name, n_states);
		if (!fixture_get(fx, key))
			break;
	}
	ck_assert_msg(optimizer_num_states(o) == n_states, "%s: %d states, MXNet has %d", name,
		      optimizer_num_states(o), n_states);
	w = vec(shape_size(&w0->shape), w0->v);
	for (int k = 1; k <= steps; k++) {
		const struct fixture_array *gk, *wk;
		struct mx_tensor *g;
		snprintf(key, sizeof key, "%s.g%d", name, k);
		gk = fixture_get(fx, key);
		snprintf(key, sizeof key, "%s.w%d", name, k);
		wk = fixture_get(fx, key);
		g = vec(shape_size(&gk->shape), gk->v);
		ck_ok(optimizer_update(o, 0, w, g));
		optimizer_step_done(o);
		snprintf(label, sizeof label, "%s weight after update %d", name, k);
		check_close(label, tensor_f32(w), wk->v, shape_size(&wk->shape), 0, 0);
		for (int j = 0; j < n_states; j++) {
			const struct fixture_array *sk;
			snprintf(key, sizeof key, "%s.s%d.%d", name, j, k);
			sk = fixture_get(fx, key);
			snprintf(label, sizeof label, "%s state %d after update %d", name, j, k);
			check_close(label, tensor_f32(optimizer_state(o, 0, j)), sk->v, shape_size(&sk->shape), 0, 0);
		}
		tensor_free(g);
	}
	tensor_free(w);
	optimizer_free(o);
}

static const char *const optim_cases[] = {
	"nag_momentum", "nag_wd_clip", "nag_plain", "nag_plain_clip", "nag_mult",
	"adam_default", "adam_wd_clip", "adam_betas", "adam_mult", "adam_factor",
	"rmsprop_default", "rmsprop_wd_clip", "rmsprop_centered", "rmsprop_centered_clip",
	"adagrad_default", "adagrad_wd_clip",
};

START_TEST(each_optimizer_matches_mxnet_bit_for_bit_step_by_step)
{
	struct fixture *fx = fixture_load("optim.txt");
	run_optim_case(fx, optim_cases[_i]);
	fixture_free(fx);
}
END_TEST

START_TEST(lr_zero_means_the_optimizers_own_default_rate)
{
	static const struct {
		int kind;
		float lr;
	} cases[] = {{OPT_SGD, 0.01f}, {OPT_NAG, 0.01f}, {OPT_ADAM, 0.001f}, {OPT_RMSPROP, 0.001f},
		     {OPT_ADAGRAD, 0.01f}};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct solver_param p = defaults();
		struct optimizer *o;
		p.optimizer = cases[c].kind;
		o = optimizer_create(&p, 1, 1, 0);
		ck_assert_ptr_nonnull(o);
		ck_assert_float_eq(optimizer_current_lr(o), cases[c].lr);
		optimizer_free(o);
	}
}
END_TEST

START_TEST(optimizer_names_parse_and_a_misspelling_gets_a_suggestion)
{
	static const char *const names[] = {"sgd", "nag", "adam", "rmsprop", "adagrad"};
	struct solver_param p = defaults();
	for (int k = 0; k < 5; k++) {
		struct optimizer *o;
		ck_ok(param_set(solver_params, &p, "optimizer", names[k]));
		ck_assert_int_eq(p.optimizer, k);
		o = optimizer_create(&p, 1, 1, 0);
		ck_assert_str_eq(optimizer_name(o), names[k]);
		optimizer_free(o);
	}
	expect_error(param_set(solver_params, &p, "optimizer", "adma"), MX_ERR_INVALID, "(did you mean \"adam\"?)");
	ck_ok(param_set(solver_params, &p, "centered", "true"));
	ck_assert_int_eq(p.centered, 1);
	ck_ok(param_set(solver_params, &p, "epsilon", "1e-6"));
	ck_assert_float_eq(p.epsilon, 1e-6f);
	expect_error(param_set(solver_params, &p, "beta1", "1.5"), MX_ERR_INVALID, "beta1 = 1.5 is out of range [0, 1]");
	expect_error(param_set(solver_params, &p, "gamma1", "-0.1"), MX_ERR_INVALID, "gamma1 = -0.1 is out of range");
	expect_error(param_set(solver_params, &p, "epsilon", "-1"), MX_ERR_INVALID, "epsilon = -1 is out of range");
	expect_error(param_set(solver_params, &p, "beta", "0.9"), MX_ERR_INVALID, "unknown key \"beta\"");
}
END_TEST

START_TEST(a_setting_of_another_optimizer_is_refused_naming_the_key)
{
	static const struct {
		int kind;
		const char *key, *value, *message;
	} cases[] = {
		{OPT_SGD, "beta1", "0.8", "solver: beta1 is set, but it is a setting of adam and optimizer = sgd"},
		{OPT_ADAM, "momentum", "0.9", "momentum is set, but it is a setting of sgd and nag and optimizer = adam"},
		{OPT_ADAGRAD, "epsilon", "1e-6", "epsilon is set, but it is a setting of adam and rmsprop (adagrad's is "
						 "eps) and optimizer = adagrad"},
		{OPT_ADAM, "eps", "1e-6", "eps is set, but it is a setting of adagrad (adam's and rmsprop's is epsilon)"},
		{OPT_NAG, "centered", "true", "centered is set, but it is a setting of rmsprop and optimizer = nag"},
		{OPT_ADAM, "clip_weights", "1", "clip_weights is set, but it is a setting of rmsprop"},
		{OPT_SGD, "gamma2", "0.5", "gamma2 is set, but it is a setting of rmsprop"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct solver_param p = defaults();
		p.optimizer = cases[c].kind;
		ck_ok(param_set(solver_params, &p, cases[c].key, cases[c].value));
		ck_assert_ptr_null(optimizer_create(&p, 1, 1, 0));
		expect_error(MX_ERR_INVALID, MX_ERR_INVALID, cases[c].message);
	}
	{
		struct solver_param p = defaults();
		p.optimizer = OPT_ADAM;
		p.beta1 = 1.0f;
		ck_assert_ptr_null(optimizer_create(&p, 1, 1, 0));
		expect_error(MX_ERR_INVALID, MX_ERR_INVALID, "beta1 = 1: Adam's bias correction divides by 1 - beta1^t");
	}
}
END_TEST

/* A run of one parameter for 3 updates, its state copied through the API into a fresh
 * optimizer, then 3 more updates on each: the two must agree bit for bit. */
static void check_resume_bit_exact(struct solver_param p, int want_states)
{
	enum { N = 45 };
	float w0[N], g0[N];
	struct optimizer *a, *b;
	struct mx_tensor *wa, *wb, *g;
	for (int i = 0; i < N; i++) {
		w0[i] = sinf(i);
		g0[i] = cosf(3 * i);
	}
	a = optimizer_create(&p, 2, 10, 0);
	b = optimizer_create(&p, 2, 10, 0);
	ck_assert_msg(a && b, "%s", mx_error_message());
	ck_assert_int_eq(optimizer_num_states(a), want_states);
	optimizer_set_mult(a, 1, 0.5f, 0.0f);
	optimizer_set_mult(b, 1, 0.5f, 0.0f);
	wa = vec(N, w0);
	g = vec(N, g0);
	for (int k = 0; k < 3; k++) {
		ck_ok(optimizer_update(a, 1, wa, g));
		optimizer_step_done(a);
		tensor_f32(g)[k] += 0.5f;
	}
	wb = vec(N, NULL);
	tensor_copy(wb, wa);
	for (int k = 0; k < want_states; k++) {
		ck_assert_ptr_nonnull(optimizer_state(a, 1, k));
		ck_assert_ptr_null(optimizer_state(a, 0, k)); /* never updated */
		ck_ok(optimizer_set_state(b, 1, k, optimizer_state(a, 1, k)));
		ck_assert_ptr_ne(optimizer_state(b, 1, k), optimizer_state(a, 1, k));
	}
	ck_assert_ptr_null(optimizer_state(a, 1, want_states));
	expect_error(optimizer_set_state(b, 1, want_states, optimizer_state(a, 1, 0)), MX_ERR_INVALID,
		     "keeps");
	optimizer_set_num_update(b, optimizer_num_update(a));
	ck_assert_float_eq(optimizer_current_lr(b), optimizer_current_lr(a));
	for (int k = 0; k < 3; k++) {
		ck_ok(optimizer_update(a, 1, wa, g));
		ck_ok(optimizer_update(b, 1, wb, g));
		optimizer_step_done(a);
		optimizer_step_done(b);
	}
	ck_assert_msg(!memcmp(wa->data, wb->data, N * sizeof(float)), "%s: resumed weights differ",
		      optimizer_name(a));
	for (int k = 0; k < want_states; k++)
		ck_assert(!memcmp(optimizer_state(a, 1, k)->data, optimizer_state(b, 1, k)->data, N * sizeof(float)));
	tensor_free(wa);
	tensor_free(wb);
	tensor_free(g);
	optimizer_free(a);
	optimizer_free(b);
}

START_TEST(every_optimizer_resumes_bit_exactly_from_its_saved_states)
{
	struct solver_param p = defaults();
	p.wd = 0.01f;
	p.clip_gradient = 0.4f;
	p.lr_scheduler = LR_COSINE;
	p.lr_max_update = 20;
	p.warmup_steps = 2;
	p.optimizer = OPT_ADAM;
	check_resume_bit_exact(p, 2); /* Adam's t must continue too */
	p.optimizer = OPT_RMSPROP;
	p.centered = 1;
	p.clip_weights = 2;
	check_resume_bit_exact(p, 3);
	p.centered = 0;
	check_resume_bit_exact(p, 1);
	p.centered = 0;
	p.clip_weights = -1;
	p.optimizer = OPT_ADAGRAD;
	check_resume_bit_exact(p, 1);
	p.optimizer = OPT_NAG;
	p.momentum = 0.9f;
	check_resume_bit_exact(p, 1);
	p.momentum = 0;
	check_resume_bit_exact(p, 0);
}
END_TEST

/* A checkpoint of a one-layer network: data -> fc1 (4 of 6) -> SoftmaxOutput. */
struct tiny_net {
	struct graph *g;
	struct engine *e;
	struct executor *ex;
	struct mx_rng rng;
};

static void tiny_net_bind(struct tiny_net *t)
{
	const char *keys[1] = {"num_hidden"}, *values[1] = {"4"};
	const char *names[2] = {"data", "softmax_label"};
	struct mx_shape shapes[2] = {shape_make(2, 2L, 6L), shape_make(1, 2L)};
	int x, fc, sm;
	t->g = graph_new();
	x = graph_add_variable(t->g, "data", NODE_DATA);
	fc = graph_add_op(t->g, op_find("FullyConnected"), "fc1", keys, values, 1, &(struct graph_entry){x, 0}, 1,
			  "t.conf:1");
	ck_assert_msg(fc >= 0, "%s", mx_error_message());
	sm = graph_add_op(t->g, op_find("SoftmaxOutput"), "softmax", NULL, NULL, 0, &(struct graph_entry){fc, 0}, 1,
			  "t.conf:2");
	ck_assert_msg(sm >= 0, "%s", mx_error_message());
	ck_ok(graph_set_heads(t->g, &(struct graph_entry){sm, 0}, 1));
	t->e = engine_create(ENGINE_NAIVE, 1);
	rng_seed(&t->rng, 3);
	ck_ok(executor_bind(t->g, t->e, MX_CPU, names, shapes, 2, 0, NULL, &t->rng, &t->ex));
}

static void tiny_net_free(struct tiny_net *t)
{
	executor_free(t->ex);
	engine_free(t->e);
	graph_free(t->g);
}

/* Updates fc1_weight and fc1_bias (arguments 0 and 1 in list order) once. */
static void tiny_net_update(struct tiny_net *t, struct optimizer *o, float shift)
{
	static const char *const params[2] = {"fc1_weight", "fc1_bias"};
	for (int i = 0; i < 2; i++) {
		struct mx_tensor *w = executor_var(t->ex, params[i]), *g = tensor_new(&w->shape, MX_F32, MX_CPU);
		for (int64_t j = 0; j < shape_size(&w->shape); j++)
			tensor_f32(g)[j] = sinf((float)j + shift) + 0.25f * i;
		ck_ok(optimizer_update(o, i, w, g));
		tensor_free(g);
	}
	optimizer_step_done(o);
}

START_TEST(adam_states_go_through_a_checkpoint_file_and_resume_bit_exactly)
{
	char dir[] = "/tmp/check_solver_XXXXXX", path[1200];
	struct tiny_net a, b;
	struct solver_param p = defaults();
	struct optimizer *oa, *ob, *other;
	struct mx_rng rng_back;
	int n_args, epoch = 0;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	tiny_net_bind(&a);
	tiny_net_bind(&b);
	n_args = graph_list_vars(a.g, NODE_ARG, NULL, 0);
	ck_assert_int_eq(n_args, 2); /* fc1_weight, fc1_bias */
	p.optimizer = OPT_ADAM;
	p.lr = 0.05f;
	p.wd = 0.001f;
	oa = optimizer_create(&p, n_args, 2, 0);
	ob = optimizer_create(&p, n_args, 2, 0);
	for (int k = 0; k < 3; k++)
		tiny_net_update(&a, oa, (float)k);
	ck_ok(checkpoint_save(dir, "t", 1, a.g, a.ex, oa, &a.rng));
	checkpoint_path(path, sizeof path, dir, "t", 1, "params");
	ck_ok(checkpoint_load_params(path, b.g, b.ex));
	checkpoint_path(path, sizeof path, dir, "t", 1, "states");
	ck_ok(checkpoint_load_states(path, b.g, ob, &rng_back, &epoch));
	ck_assert_int_eq(epoch, 1);
	ck_assert_int_eq(optimizer_num_update(ob), 3);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++) {
			struct mx_tensor *sa = optimizer_state(oa, i, k), *sb = optimizer_state(ob, i, k);
			ck_assert_ptr_nonnull(sb);
			ck_assert(!memcmp(sa->data, sb->data, tensor_bytes(sa)));
		}
	for (int k = 3; k < 6; k++) {
		tiny_net_update(&a, oa, (float)k);
		tiny_net_update(&b, ob, (float)k);
	}
	ck_assert(!memcmp(executor_var(a.ex, "fc1_weight")->data, executor_var(b.ex, "fc1_weight")->data,
			  tensor_bytes(executor_var(a.ex, "fc1_weight"))));
	ck_assert(!memcmp(executor_var(a.ex, "fc1_bias")->data, executor_var(b.ex, "fc1_bias")->data,
			  tensor_bytes(executor_var(a.ex, "fc1_bias"))));

	/* the same states offered to optimizers that keep other ones */
	p = defaults();
	p.momentum = 0.9f;
	other = optimizer_create(&p, n_args, 2, 0);
	expect_error(checkpoint_load_states(path, b.g, other, &rng_back, &epoch), MX_ERR_FORMAT,
		     "\"state1:fc1_weight\" is optimizer state 1, but sgd keeps 1 per parameter");
	optimizer_free(other);
	p = defaults();
	p.optimizer = OPT_RMSPROP;
	p.centered = 1;
	other = optimizer_create(&p, n_args, 2, 0);
	expect_error(checkpoint_load_states(path, b.g, other, &rng_back, &epoch), MX_ERR_FORMAT,
		     "parameter fc1_weight has 2 of the 3 optimizer states rmsprop keeps");
	optimizer_free(other);

	optimizer_free(oa);
	optimizer_free(ob);
	tiny_net_free(&a);
	tiny_net_free(&b);
	{
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

START_TEST(a_784x256_adam_update_is_fast_enough)
{
	struct solver_param p = defaults();
	struct mx_shape s = shape_make(2, 256L, 784L);
	struct mx_tensor *w = tensor_new(&s, MX_F32, MX_CPU), *g = tensor_new(&s, MX_F32, MX_CPU);
	struct optimizer *o;
	struct timespec t0, t1;
	double us;
	enum { REPS = 50 };
	p.optimizer = OPT_ADAM;
	p.wd = 0.0001f;
	o = optimizer_create(&p, 1, 100, 0);
	tensor_fill(g, 0.5f);
	ck_ok(optimizer_update(o, 0, w, g));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < REPS; k++)
		ck_ok(optimizer_update(o, 0, w, g));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / REPS;
	printf("adam update of 256x784: %.1f us\n", us);
	/* scalar square roots and divisions: about 0.7 ms on an idle core; the bound leaves
	 * room for a loaded machine */
	ck_assert_double_lt(us, 20000);
	tensor_free(w);
	tensor_free(g);
	optimizer_free(o);
}
END_TEST

/* ---- learning-rate schedules ---- */

START_TEST(lr_schedules_match_mxnet_schedulers_at_each_update)
{
	static const char *const cases[] = {"factor_a", "factor_b", "factor_stop", "multi_a", "multi_b"};
	struct fixture *fx = fixture_load("lr_sched.txt");
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char key[64];
		const struct fixture_array *cfg, *lr;
		struct solver_param p = defaults();
		snprintf(key, sizeof key, "%s.config", cases[c]);
		cfg = fixture_get(fx, key);
		snprintf(key, sizeof key, "%s.lr", cases[c]);
		lr = fixture_get(fx, key);
		ck_assert_msg(cfg && lr, "fixture case %s missing", cases[c]);
		p.lr = cfg->v[0];
		if (!strncmp(cases[c], "factor", 6)) {
			p.lr_scheduler = LR_FACTOR;
			p.lr_step = (int)cfg->v[1];
			p.lr_factor = cfg->v[2];
		} else {
			p.lr_scheduler = LR_MULTIFACTOR;
			p.lr_factor = cfg->v[1];
			p.lr_steps.ndim = (int)shape_size(&cfg->shape) - 2;
			for (int i = 0; i < p.lr_steps.ndim; i++)
				p.lr_steps.dim[i] = (int64_t)cfg->v[2 + i];
		}
		for (int64_t n = 0; n < shape_size(&lr->shape); n++) {
			float got = lr_schedule_at(&p, n, 0);
			ck_assert_msg(got == lr->v[n], "%s at update %lld: got %.9g, MXNet %.9g", cases[c], (long long)n,
				      got, lr->v[n]);
		}
	}
	fixture_free(fx);
}
END_TEST

START_TEST(lr_step_epochs_become_update_counts)
{
	struct solver_param p = defaults();
	struct optimizer *o;
	p.lr = 1.0f;
	p.lr_factor = 0.5f;
	p.lr_scheduler = LR_MULTIFACTOR;
	ck_ok(param_set(solver_params, &p, "lr_step_epochs", "(2, 3)"));
	ck_assert_float_eq(lr_schedule_at(&p, 20, 10), 1.0f);
	ck_assert_float_eq(lr_schedule_at(&p, 21, 10), 0.5f);
	ck_assert_float_eq(lr_schedule_at(&p, 30, 10), 0.5f);
	ck_assert_float_eq(lr_schedule_at(&p, 31, 10), 0.25f);
	o = optimizer_create(&p, 1, 1, 10);
	optimizer_set_num_update(o, 20); /* 20 batches done: update 21 runs at the second rate */
	ck_assert_float_eq(optimizer_current_lr(o), 0.5f);
	optimizer_free(o);
}
END_TEST

START_TEST(bad_schedules_are_refused_when_the_optimizer_is_made)
{
	struct solver_param p = defaults();
	p.lr_scheduler = LR_FACTOR;
	ck_assert_ptr_null(optimizer_create(&p, 1, 1, 10));
	expect_error(MX_ERR_INVALID, MX_ERR_INVALID, "lr_scheduler = factor needs lr_step >= 1");
	p = defaults();
	p.lr_scheduler = LR_MULTIFACTOR;
	ck_ok(param_set(solver_params, &p, "lr_steps", "(30, 20)"));
	ck_assert_ptr_null(optimizer_create(&p, 1, 1, 10));
	expect_error(MX_ERR_INVALID, MX_ERR_INVALID, "lr_steps must be increasing");
	p = defaults();
	ck_ok(param_set(solver_params, &p, "lr_step_epochs", "(5)"));
	ck_assert_ptr_null(optimizer_create(&p, 1, 1, 10));
	expect_error(MX_ERR_INVALID, MX_ERR_INVALID, "lr_step_epochs is set but lr_scheduler = none");
}
END_TEST

/* The .sched cases: warmup, poly, cosine, and the step schedulers with warmup. */
START_TEST(warmup_poly_and_cosine_schedules_match_mxnet_at_each_update)
{
	static const char *const cases[] = {"factor_warm", "factor_warm_const", "none_warm", "multi_warm", "poly_a",
					    "poly_warm", "cos_a", "cos_warm", "cos_warm_const", "cos_long"};
	static const int kinds[] = {LR_NONE, LR_FACTOR, LR_MULTIFACTOR, LR_POLY, LR_COSINE};
	struct fixture *fx = fixture_load("lr_sched.txt");
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char key[64];
		const struct fixture_array *cfg, *lr;
		struct solver_param p = defaults();
		const float *x;
		snprintf(key, sizeof key, "%s.sched", cases[c]);
		cfg = fixture_get(fx, key);
		snprintf(key, sizeof key, "%s.lr", cases[c]);
		lr = fixture_get(fx, key);
		ck_assert_msg(cfg && lr, "fixture case %s missing", cases[c]);
		x = cfg->v + 5;
		p.lr_scheduler = kinds[(int)cfg->v[0]];
		p.lr = cfg->v[1];
		p.warmup_steps = (int)cfg->v[2];
		p.warmup_begin_lr = cfg->v[3];
		p.warmup_mode = cfg->v[4] ? WARMUP_CONSTANT : WARMUP_LINEAR;
		switch (p.lr_scheduler) {
		case LR_FACTOR:
			p.lr_step = (int)x[0];
			p.lr_factor = x[1];
			break;
		case LR_MULTIFACTOR:
			p.lr_factor = x[0];
			p.lr_steps.ndim = (int)shape_size(&cfg->shape) - 6;
			for (int i = 0; i < p.lr_steps.ndim; i++)
				p.lr_steps.dim[i] = (int64_t)x[1 + i];
			break;
		case LR_POLY:
			p.lr_max_update = (int)x[0];
			p.lr_pwr = x[1];
			p.final_lr = x[2];
			break;
		case LR_COSINE:
			p.lr_max_update = (int)x[0];
			p.final_lr = x[1];
			break;
		}
		{
			struct optimizer *o = optimizer_create(&p, 1, 1, 0);
			ck_assert_msg(o != NULL, "%s: %s", cases[c], mx_error_message());
			optimizer_free(o);
		}
		for (int64_t n = 0; n < shape_size(&lr->shape); n++) {
			float got = lr_schedule_at(&p, n, 0);
			ck_assert_msg(got == lr->v[n], "%s at update %lld: got %.9g, MXNet %.9g", cases[c], (long long)n,
				      got, lr->v[n]);
		}
	}
	fixture_free(fx);
}
END_TEST

START_TEST(lr_max_update_zero_means_the_whole_run)
{
	struct solver_param p = defaults();
	p.lr = 0.2f;
	p.final_lr = 0.02f;
	p.num_epoch = 4;
	p.lr_scheduler = LR_COSINE;
	/* 4 epochs of 5 batches: 20 updates; halfway the rate is the mean of the two */
	ck_assert_float_eq(lr_schedule_at(&p, 0, 5), 0.2f);
	ck_assert_float_eq_tol(lr_schedule_at(&p, 10, 5), 0.11f, 1e-7);
	ck_assert_float_eq(lr_schedule_at(&p, 20, 5), 0.02f);
	ck_assert_float_eq(lr_schedule_at(&p, 21, 5), 0.02f);
	p.lr_scheduler = LR_POLY;
	p.lr_pwr = 1;
	ck_assert_float_eq_tol(lr_schedule_at(&p, 5, 5), 0.2f - 0.18f / 4, 1e-7);
	ck_assert_float_eq(lr_schedule_at(&p, 400, 5), 0.02f);
	ck_assert_ptr_null(optimizer_create(&p, 1, 1, 0));
	expect_error(MX_ERR_INVALID, MX_ERR_INVALID,
		     "lr_max_update = 0 means num_epoch times the batches per epoch, which is unknown here");
}
END_TEST

START_TEST(bad_warmup_and_decay_settings_are_refused_naming_the_key)
{
	static const struct {
		const char *sched, *key, *value, *key2, *value2, *message;
	} cases[] = {
		{"cosine", "lr_max_update", "10", "warmup_steps", "10",
		 "lr_scheduler = cosine decays from update warmup_steps = 10 to lr_max_update = 10, which must come later"},
		{"poly", "lr_max_update", "10", "lr_factor", "0.5", "lr_factor is set but lr_scheduler = poly"},
		{"cosine", "lr_max_update", "10", "lr_pwr", "3", "lr_pwr is set but lr_scheduler = cosine (lr_pwr is for poly)"},
		{"cosine", "lr_max_update", "10", "lr_step", "3", "lr_step is set but lr_scheduler = cosine"},
		{"factor", "lr_step", "10", "final_lr", "0.001", "final_lr is set but lr_scheduler = factor"},
		{"multifactor", "lr_steps", "(10)", "lr_max_update", "100", "lr_max_update is set but lr_scheduler = multifactor"},
		{"multifactor", "lr_steps", "(10)", "lr_step", "5", "lr_scheduler = multifactor takes lr_steps or lr_step_epochs, not lr_step"},
		{"none", "warmup_begin_lr", "0.001", "lr", "0.1", "warmup_begin_lr is set but warmup_steps = 0"},
		{"none", "warmup_mode", "constant", "lr", "0.1", "warmup_mode is set but warmup_steps = 0"},
		{"factor", "lr_step", "10", "warmup_steps", "5", NULL}, /* fine: warmup from 0 */
		{"none", "warmup_steps", "5", "warmup_begin_lr", "0.5",
		 "warmup_begin_lr = 0.5 is above the base lr 0.01 (warmup goes up to lr)"},
		{"none", "lr_factor", "0.5", "lr", "0.1", "lr_factor is set but lr_scheduler = none"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct solver_param p = defaults();
		struct optimizer *o;
		ck_ok(param_set(solver_params, &p, "lr_scheduler", cases[c].sched));
		ck_ok(param_set(solver_params, &p, cases[c].key, cases[c].value));
		ck_ok(param_set(solver_params, &p, cases[c].key2, cases[c].value2));
		o = optimizer_create(&p, 1, 1, 10);
		if (!cases[c].message) {
			ck_assert_msg(o != NULL, "case %zu: %s", c, mx_error_message());
			optimizer_free(o);
			continue;
		}
		ck_assert_msg(o == NULL, "case %zu was accepted", c);
		expect_error(MX_ERR_INVALID, MX_ERR_INVALID, cases[c].message);
	}
	{
		struct solver_param p = defaults();
		expect_error(param_set(solver_params, &p, "lr_scheduler", "cosin"), MX_ERR_INVALID,
			     "(did you mean \"cosine\"?)");
		expect_error(param_set(solver_params, &p, "warmup_mode", "linaer"), MX_ERR_INVALID,
			     "(did you mean \"linear\"?)");
		expect_error(param_set(solver_params, &p, "warmup_steps", "-1"), MX_ERR_INVALID,
			     "warmup_steps = -1 is out of range");
	}
}
END_TEST

START_TEST(warmup_ramps_the_rate_an_optimizer_uses)
{
	const float w0[1] = {0.0f}, g0[1] = {1.0f};
	struct solver_param p = defaults();
	struct optimizer *o;
	struct mx_tensor *w = vec(1, w0), *g = vec(1, g0);
	p.lr = 0.4f;
	p.rescale_grad = 1.0f;
	p.warmup_steps = 4;
	p.warmup_begin_lr = 0.0f;
	o = optimizer_create(&p, 1, 1, 0);
	/* updates 1, 2, 3 at 0.1, 0.2, 0.3, then 0.4 for good */
	for (int k = 1; k <= 5; k++) {
		float before = tensor_f32(w)[0];
		ck_assert_float_eq_tol(optimizer_current_lr(o), k < 4 ? 0.1f * k : 0.4f, 1e-7);
		ck_ok(optimizer_update(o, 0, w, g));
		optimizer_step_done(o);
		ck_assert_float_eq_tol(before - tensor_f32(w)[0], k < 4 ? 0.1f * k : 0.4f, 1e-6);
	}
	tensor_free(w);
	tensor_free(g);
	optimizer_free(o);
}
END_TEST

/* ---- metrics ---- */

START_TEST(metrics_match_mxnet_over_padded_batches)
{
	struct fixture *fx = fixture_load("metric.txt");
	const struct fixture_array *cfg = fixture_get(fx, "config"), *values = fixture_get(fx, "values");
	int top_k = (int)cfg->v[1];
	char want_top[32];
	struct metric *m = metric_create("acc, top_k_accuracy,ce", top_k);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(metric_count(m), 3);
	snprintf(want_top, sizeof want_top, "top_k_accuracy_%d", top_k);
	ck_assert_str_eq(metric_name(m, 0), "accuracy");
	ck_assert_str_eq(metric_name(m, 1), want_top);
	ck_assert_str_eq(metric_name(m, 2), "cross-entropy");
	ck_assert(isnan(metric_value(m, 0)));
	for (int b = 0; b < (int)cfg->v[2]; b++) {
		char key[32];
		const struct fixture_array *pred, *label, *pad;
		struct mx_tensor *tp, *tl;
		snprintf(key, sizeof key, "b%d.pred", b);
		pred = fixture_get(fx, key);
		snprintf(key, sizeof key, "b%d.label", b);
		label = fixture_get(fx, key);
		snprintf(key, sizeof key, "b%d.pad", b);
		pad = fixture_get(fx, key);
		tp = tensor_new(&pred->shape, MX_F32, MX_CPU);
		memcpy(tp->data, pred->v, tensor_bytes(tp));
		tl = vec(shape_size(&label->shape), label->v);
		ck_ok(metric_update(m, tp, tl, (int)pad->v[0]));
		tensor_free(tp);
		tensor_free(tl);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_msg(fabs(metric_value(m, i) - values->v[i]) < 1e-6, "%s: got %.9g, MXNet %.9g",
			      metric_name(m, i), metric_value(m, i), values->v[i]);
	metric_reset(m);
	ck_assert(isnan(metric_value(m, 2)));
	metric_free(m);
	fixture_free(fx);
}
END_TEST

START_TEST(metrics_on_a_hand_made_batch_skip_the_pad_rows)
{
	const float pred[4 * 3] = {
		0.7f, 0.2f, 0.1f, /* label 0: right, top-2 */
		0.1f, 0.3f, 0.6f, /* label 1: wrong, top-2 */
		0.5f, 0.4f, 0.1f, /* label 2: wrong, not top-2 */
		0.0f, 0.0f, 1.0f, /* pad row: would be wrong */
	};
	const float label[4] = {0, 1, 2, 0};
	struct mx_shape s = shape_make(2, 4L, 3L);
	struct mx_tensor *tp = tensor_new(&s, MX_F32, MX_CPU), *tl = vec(4, label);
	struct metric *m = metric_create("accuracy,top_k_acc,cross-entropy", 2);
	memcpy(tp->data, pred, sizeof pred);
	ck_ok(metric_update(m, tp, tl, 1));
	ck_assert_str_eq(metric_name(m, 1), "top_k_accuracy_2");
	ck_assert_double_eq_tol(metric_value(m, 0), 1.0 / 3, 1e-12);
	ck_assert_double_eq_tol(metric_value(m, 1), 2.0 / 3, 1e-12);
	ck_assert_double_eq_tol(metric_value(m, 2),
				-(log(0.7f + 1e-12) + log(0.3f + 1e-12) + log(0.1f + 1e-12)) / 3, 1e-9);
	expect_error(metric_update(m, tp, tl, 5), MX_ERR_SHAPE, "pad 5 for a batch of 4");
	tensor_free(tl);
	tl = vec(3, label);
	expect_error(metric_update(m, tp, tl, 0), MX_ERR_SHAPE, "prediction (4,3) does not fit label (3)");
	tensor_free(tl);
	tl = vec(4, (const float[]){0, 1, 3, 0});
	expect_error(metric_update(m, tp, tl, 0), MX_ERR_SHAPE, "label 3 in row 2 is not a class id in [0, 3)");
	tensor_free(tp);
	tensor_free(tl);
	metric_free(m);
}
END_TEST

START_TEST(regression_metrics_average_each_examples_mean_error_and_skip_the_pad_rows)
{
	const float pred[3 * 2] = {1, 2, 0, 0, 9, 9};   /* last row is padding */
	const float label[3 * 2] = {2, 4, 1, -1, 0, 0};
	struct mx_shape s = shape_make(2, 3L, 2L);
	struct mx_tensor *tp = tensor_new(&s, MX_F32, MX_CPU), *tl = tensor_new(&s, MX_F32, MX_CPU);
	struct metric *m = metric_create("mse,rmse,mae", 5);
	memcpy(tp->data, pred, sizeof pred);
	memcpy(tl->data, label, sizeof label);
	ck_ok(metric_update(m, tp, tl, 1));
	/* squared errors: row 0 (1 + 4) / 2 = 2.5, row 1 (1 + 1) / 2 = 1; absolute: 1.5, 1 */
	ck_assert_str_eq(metric_name(m, 0), "mse");
	ck_assert_double_eq_tol(metric_value(m, 0), 1.75, 1e-12);
	ck_assert_double_eq_tol(metric_value(m, 1), sqrt(1.75), 1e-12);
	ck_assert_double_eq_tol(metric_value(m, 2), 1.25, 1e-12);
	tensor_free(tl);
	tl = vec(3, label);
	expect_error(metric_update(m, tp, tl, 0), MX_ERR_SHAPE, "mse: prediction (3,2) does not fit label (3)");
	tensor_free(tp);
	tensor_free(tl);
	metric_free(m);
}
END_TEST

START_TEST(an_unknown_metric_is_refused_with_the_nearest_name)
{
	ck_assert_ptr_null(metric_create("accuracy,acuracy", 5));
	ck_assert_str_eq(mx_error_message(), "eval_metric: unknown metric \"acuracy\" (did you mean \"accuracy\"?)");
	ck_assert_ptr_null(metric_create("f1score", 5));
	expect_error(MX_ERR_INVALID, MX_ERR_INVALID, "unknown metric \"f1score\"");
	ck_assert_ptr_null(metric_create("acc,,ce", 5));
	expect_error(MX_ERR_INVALID, MX_ERR_INVALID, "is not a comma-separated list");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("solver");
	TCase *params = tcase_create("params"), *init = tcase_create("initializer"),
	      *sgd = tcase_create("sgd"), *optim = tcase_create("optimizers"), *sched = tcase_create("lr_schedule"),
	      *metric = tcase_create("metric");
	tcase_add_test(params, solver_defaults_are_mxnet_sgd_defaults);
	tcase_add_test(params, every_solver_and_model_key_has_a_default_and_help);
	tcase_add_test(params, solver_keys_parse_and_bad_values_name_the_key);
	tcase_add_test(init, xavier_fills_an_fc_weight_uniformly_within_its_bound);
	tcase_add_test(init, xavier_counts_the_receptive_field_and_draws_in_element_order);
	tcase_add_test(init, xavier_factor_in_and_out_and_gaussian_draws_follow_mxnet);
	tcase_add_test(init, gaussian_uniform_and_constant_initializers_have_their_statistics);
	tcase_add_test(init, the_same_seed_gives_the_same_weights_and_another_seed_others);
	tcase_add_test(init, names_choose_the_rule_and_constant_rules_draw_nothing);
	tcase_add_test(init, xavier_on_a_vector_weight_is_an_error_naming_it);
	tcase_add_test(sgd, sgd_matches_mxnet_step_by_step);
	tcase_add_test(sgd, sgd_without_momentum_moves_against_the_decayed_gradient_and_keeps_no_state);
	tcase_add_test(sgd, rescale_grad_zero_means_one_over_the_batch_size);
	tcase_add_test(sgd, clip_gradient_bounds_the_rescaled_gradient_and_zero_or_minus_one_turn_it_off);
	tcase_add_test(sgd, momentum_accumulates_across_updates);
	tcase_add_test(sgd, lr_and_wd_multipliers_scale_each_parameter);
	tcase_add_test(sgd, a_resumed_optimizer_continues_exactly_from_its_saved_state);
	tcase_add_test(sgd, an_update_with_a_gradient_of_another_size_is_a_shape_error);
	tcase_add_test(sgd, a_784x256_momentum_update_takes_microseconds);
	tcase_add_loop_test(optim, each_optimizer_matches_mxnet_bit_for_bit_step_by_step, 0,
			    sizeof optim_cases / sizeof optim_cases[0]);
	tcase_add_test(optim, lr_zero_means_the_optimizers_own_default_rate);
	tcase_add_test(optim, optimizer_names_parse_and_a_misspelling_gets_a_suggestion);
	tcase_add_test(optim, a_setting_of_another_optimizer_is_refused_naming_the_key);
	tcase_add_test(optim, every_optimizer_resumes_bit_exactly_from_its_saved_states);
	tcase_add_test(optim, adam_states_go_through_a_checkpoint_file_and_resume_bit_exactly);
	tcase_add_test(optim, a_784x256_adam_update_is_fast_enough);
	tcase_add_test(sched, lr_schedules_match_mxnet_schedulers_at_each_update);
	tcase_add_test(sched, warmup_poly_and_cosine_schedules_match_mxnet_at_each_update);
	tcase_add_test(sched, lr_max_update_zero_means_the_whole_run);
	tcase_add_test(sched, bad_warmup_and_decay_settings_are_refused_naming_the_key);
	tcase_add_test(sched, warmup_ramps_the_rate_an_optimizer_uses);
	tcase_add_test(sched, lr_step_epochs_become_update_counts);
	tcase_add_test(sched, bad_schedules_are_refused_when_the_optimizer_is_made);
	tcase_add_test(metric, metrics_match_mxnet_over_padded_batches);
	tcase_add_test(metric, metrics_on_a_hand_made_batch_skip_the_pad_rows);
	tcase_add_test(metric, regression_metrics_average_each_examples_mean_error_and_skip_the_pad_rows);
	tcase_add_test(metric, an_unknown_metric_is_refused_with_the_nearest_name);
	suite_add_tcase(s, params);
	suite_add_tcase(s, init);
	suite_add_tcase(s, sgd);
	suite_add_tcase(s, optim);
	suite_add_tcase(s, sched);
	suite_add_tcase(s, metric);
	return run_suite(s);
}
