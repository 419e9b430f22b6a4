#!/usr/bin/python3
"""make_solver_fixtures.py: writes tests/fixtures/solver/*.txt, what MXNet 1.9.1's SGD,
NAG, Adam, RMSProp, AdaGrad, learning-rate schedulers and metrics compute on small inputs; tests/check_solver.c
compares src/net/optimizer.c, lr_schedule.c and metric.c against them.

Run with MXNet's virtualenv:  /tmp/mxvenv/bin/python tests/peer/make_solver_fixtures.py

File format (text, the same as tests/fixtures/ops):
    <name> <ndim> <dim0> ... <dimN-1>
    <values, row-major, %.9g, whitespace separated>

sgd.txt, per case C:
    C.config  [lr, momentum, wd, rescale_grad, clip_gradient, lr_mult, wd_mult,
               factor_step (0: no scheduler), factor, steps]
    C.w0      the starting weight; C.g<k>, C.w<k>: the gradient of update k and the
              weight after it (k = 1..steps), as Module.fit applies them: through
              mx.optimizer.get_updater, called with index lists (the multi_sgd path).
optim.txt, per case C named <optimizer>_<what> (nag, adam, rmsprop, adagrad):
    C.config  [lr, wd, rescale_grad, clip_gradient (-1: None), lr_mult, wd_mult, steps,
               factor_step (0: no scheduler), factor, a, b, c, d, e] where a.. are
               nag: [momentum]; adam: [beta1, beta2, epsilon];
               rmsprop: [gamma1, gamma2, epsilon, centered, clip_weights (-1: None)];
               adagrad: [eps]
    C.w0, C.g<k>, C.w<k> as in sgd.txt; C.s<j>.<k>: the optimizer's state j (in MXNet's
              create_state order) after update k.
lr_sched.txt, per case C:
    C.config  factor: [base_lr, step, factor]; multifactor: [base_lr, factor, step...]
    C.sched   (the cases with warmup, poly and cosine, instead of C.config)
              [kind, base_lr, warmup_steps, warmup_begin_lr, warmup_mode (0 linear,
               1 constant), args...], kind 1 factor [step, factor], 2 multifactor
              [factor, step...], 3 poly [max_update, pwr, final_lr], 4 cosine
              [max_update, final_lr]
    C.lr      scheduler(n) for n = 0..N, called in increasing order as training does.
metric.txt:
    config [classes, top_k, batches]; b<i>.pred, b<i>.label, b<i>.pad for each batch;
    values [accuracy, top_k_accuracy_<k>, cross-entropy] after all batches, where
    MXNet is given each batch without its last pad rows (what Module.score does).
"""
import os

import mxnet as mx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "solver")


class Writer:
    def __init__(self, name):
        self.path = os.path.join(OUT, name + ".txt")
        self.f = open(self.path, "w")
        self.f.write("# %s: written by tests/peer/make_solver_fixtures.py (mxnet %s)\n"
                     % (name, mx.__version__))

    def array(self, key, a):
        a = np.asarray(a, dtype=np.float32)
        if a.ndim == 0:
            a = a.reshape(1)
        self.f.write("%s %d %s\n" % (key, a.ndim, " ".join(str(d) for d in a.shape)))
        vals = ["%.9g" % v for v in a.reshape(-1).tolist()]
        for i in range(0, len(vals), 8):
            self.f.write(" ".join(vals[i:i + 8]) + "\n")

    def close(self):
        self.f.close()
        print("wrote", os.path.relpath(self.path), os.path.getsize(self.path), "bytes")


def sgd_case(out, name, rng, lr, momentum=0.0, wd=0.0, rescale=1.0, clip=None,
             lr_mult=1.0, wd_mult=1.0, factor_step=0, factor=1.0, steps=3, n=21):
    # n = 21: two blocks of 8 and a tail of 5 in optimizer.c's kernels
    sched = mx.lr_scheduler.FactorScheduler(step=factor_step, factor=factor, base_lr=lr) \
        if factor_step else None
    opt = mx.optimizer.SGD(learning_rate=lr, momentum=momentum, wd=wd, rescale_grad=rescale,
                           clip_gradient=clip, lr_scheduler=sched)
    opt.set_lr_mult({0: lr_mult})
    opt.set_wd_mult({0: wd_mult})
    updater = mx.optimizer.get_updater(opt)
    w = mx.nd.array(rng.normal(0, 0.5, n).astype(np.float32))
    out.array(name + ".config", [lr, momentum, wd, rescale, -1 if clip is None else clip,
                                 lr_mult, wd_mult, factor_step, factor, steps])
    out.array(name + ".w0", w.asnumpy())
    for k in range(1, steps + 1):
        g = mx.nd.array(rng.normal(0, 3.0, n).astype(np.float32))
        updater([0], [g], [w])
        out.array("%s.g%d" % (name, k), g.asnumpy())
        out.array("%s.w%d" % (name, k), w.asnumpy())


def make_sgd():
    rng = np.random.RandomState(7)
    out = Writer("sgd")
    sgd_case(out, "plain", rng, lr=0.1)
    sgd_case(out, "wd_rescale", rng, lr=0.05, wd=0.01, rescale=1.0 / 32)
    sgd_case(out, "clip", rng, lr=0.1, wd=0.001, rescale=0.5, clip=1.0)
    sgd_case(out, "momentum", rng, lr=0.1, momentum=0.9, wd=0.0001, rescale=1.0 / 8, steps=4)
    sgd_case(out, "momentum_clip", rng, lr=0.2, momentum=0.5, wd=0.01, clip=2.0, steps=4)
    sgd_case(out, "mult", rng, lr=0.1, momentum=0.9, wd=0.1, lr_mult=0.5, wd_mult=0.0)
    sgd_case(out, "factor", rng, lr=0.1, momentum=0.9, factor_step=2, factor=0.5, steps=6)
    out.close()


def optim_case(out, name, rng, lr, wd=0.0, rescale=1.0, clip=None, lr_mult=1.0, wd_mult=1.0,
               steps=4, factor_step=0, factor=1.0, n=21, **kw):
    kind = name.split("_")[0]
    sched = mx.lr_scheduler.FactorScheduler(step=factor_step, factor=factor, base_lr=lr) \
        if factor_step else None
    if kind == "nag":
        extra = [kw.get("momentum", 0.0)]
    elif kind == "adam":
        extra = [kw.get("beta1", 0.9), kw.get("beta2", 0.999), kw.get("epsilon", 1e-8)]
    elif kind == "rmsprop":
        cw = kw.get("clip_weights")
        extra = [kw.get("gamma1", 0.9), kw.get("gamma2", 0.9), kw.get("epsilon", 1e-8),
                 1 if kw.get("centered") else 0, -1 if cw is None else cw]
    elif kind == "adagrad":
        extra = [kw.get("eps", 1e-7)]
    else:
        raise ValueError(kind)
    opt = mx.optimizer.create(kind, learning_rate=lr, wd=wd, rescale_grad=rescale,
                              clip_gradient=clip, lr_scheduler=sched, **kw)
    opt.set_lr_mult({0: lr_mult})
    opt.set_wd_mult({0: wd_mult})
    updater = mx.optimizer.get_updater(opt)
    w = mx.nd.array(rng.normal(0, 0.5, n).astype(np.float32))
    out.array(name + ".config", [lr, wd, rescale, -1 if clip is None else clip, lr_mult, wd_mult,
                                 steps, factor_step, factor] + extra)
    out.array(name + ".w0", w.asnumpy())
    for k in range(1, steps + 1):
        g = mx.nd.array(rng.normal(0, 3.0, n).astype(np.float32))
        updater([0], [g], [w])
        out.array("%s.g%d" % (name, k), g.asnumpy())
        out.array("%s.w%d" % (name, k), w.asnumpy())
        state = updater.states[0]
        if state is None:
            state = ()
        elif not isinstance(state, (tuple, list)):
            state = (state,)
        for j, s in enumerate(state):
            out.array("%s.s%d.%d" % (name, j, k), s.asnumpy())


def make_optim():
    rng = np.random.RandomState(13)
    out = Writer("optim")
    # NAG: MXNet's nag_mom_update (momentum > 0) and sgd_update (momentum 0)
    optim_case(out, "nag_momentum", rng, lr=0.1, momentum=0.9, rescale=1.0 / 8)
    optim_case(out, "nag_wd_clip", rng, lr=0.05, momentum=0.9, wd=0.01, clip=1.5, rescale=0.5)
    optim_case(out, "nag_plain", rng, lr=0.1, wd=0.001, rescale=0.25)
    optim_case(out, "nag_plain_clip", rng, lr=0.1, wd=0.01, clip=0.5)
    optim_case(out, "nag_mult", rng, lr=0.1, momentum=0.5, wd=0.1, lr_mult=0.3, wd_mult=2.0)
    # Adam: bias correction folded into lr per update
    optim_case(out, "adam_default", rng, lr=0.001, rescale=1.0 / 16, steps=5)
    optim_case(out, "adam_wd_clip", rng, lr=0.01, wd=0.01, clip=0.2, rescale=0.1)
    optim_case(out, "adam_betas", rng, lr=0.02, beta1=0.8, beta2=0.99, epsilon=1e-6, wd=0.001)
    optim_case(out, "adam_mult", rng, lr=0.01, wd=0.05, lr_mult=0.3, wd_mult=0.7)
    optim_case(out, "adam_factor", rng, lr=0.01, factor_step=2, factor=0.5, steps=6)
    # RMSProp: Tieleman & Hinton (one state) and Graves's centered version (three)
    optim_case(out, "rmsprop_default", rng, lr=0.001, rescale=1.0 / 16)
    optim_case(out, "rmsprop_wd_clip", rng, lr=0.01, wd=0.01, clip=0.3, clip_weights=0.9, gamma1=0.95)
    optim_case(out, "rmsprop_centered", rng, lr=0.005, centered=True, gamma1=0.95, gamma2=0.8,
               rescale=0.5, wd=0.001)
    optim_case(out, "rmsprop_centered_clip", rng, lr=0.01, centered=True, clip=1.0, clip_weights=0.75,
               lr_mult=2.0, wd=0.02, wd_mult=0.5)
    # AdaGrad: Python ndarray arithmetic, one float rounding per operation
    optim_case(out, "adagrad_default", rng, lr=0.01, rescale=1.0 / 4)
    optim_case(out, "adagrad_wd_clip", rng, lr=0.1, wd=0.01, clip=0.8, eps=1e-5, lr_mult=0.3)
    out.close()


def make_lr_sched():
    out = Writer("lr_sched")
    cases = [
        ("factor_a", mx.lr_scheduler.FactorScheduler(step=3, factor=0.5, base_lr=0.1), [0.1, 3, 0.5], 12),
        ("factor_b", mx.lr_scheduler.FactorScheduler(step=1, factor=0.9, base_lr=0.05), [0.05, 1, 0.9], 30),
        # decays to stop_factor_lr (1e-8) and stays there
        ("factor_stop", mx.lr_scheduler.FactorScheduler(step=2, factor=0.1, base_lr=0.1), [0.1, 2, 0.1], 24),
        ("multi_a", mx.lr_scheduler.MultiFactorScheduler(step=[4, 7, 10], factor=0.1, base_lr=0.1),
         [0.1, 0.1, 4, 7, 10], 14),
        ("multi_b", mx.lr_scheduler.MultiFactorScheduler(step=[1, 2], factor=0.3, base_lr=1.0),
         [1.0, 0.3, 1, 2], 5),
    ]
    for name, sched, config, last in cases:
        out.array(name + ".config", config)
        out.array(name + ".lr", [sched(n) for n in range(last + 1)])
    # [kind, base_lr, warmup_steps, warmup_begin_lr, warmup_mode] + the kind's arguments
    lin, const = 0, 1
    S = mx.lr_scheduler
    cases = [
        ("factor_warm", S.FactorScheduler(step=4, factor=0.5, base_lr=0.1, warmup_steps=6,
                                          warmup_begin_lr=0.01), [1, 0.1, 6, 0.01, lin, 4, 0.5], 20),
        ("factor_warm_const", S.FactorScheduler(step=3, factor=0.9, base_lr=0.05, warmup_steps=4,
                                                warmup_begin_lr=0.005, warmup_mode="constant"),
         [1, 0.05, 4, 0.005, const, 3, 0.9], 15),
        # lr_scheduler = none with warmup: a factor schedule that never decays
        ("none_warm", S.FactorScheduler(step=1, factor=1, base_lr=0.3, warmup_steps=7, warmup_begin_lr=0.0),
         [0, 0.3, 7, 0.0, lin], 12),
        ("multi_warm", S.MultiFactorScheduler(step=[8, 12], factor=0.1, base_lr=0.2, warmup_steps=5,
                                              warmup_begin_lr=0.02, warmup_mode="constant"),
         [2, 0.2, 5, 0.02, const, 0.1, 8, 12], 16),
        ("poly_a", S.PolyScheduler(max_update=20, base_lr=0.1, pwr=2, final_lr=0.0),
         [3, 0.1, 0, 0, lin, 20, 2, 0.0], 25),
        ("poly_warm", S.PolyScheduler(max_update=30, base_lr=0.05, pwr=3, final_lr=0.001, warmup_steps=6,
                                      warmup_begin_lr=0.001), [3, 0.05, 6, 0.001, lin, 30, 3, 0.001], 34),
        ("cos_a", S.CosineScheduler(max_update=20, base_lr=0.1, final_lr=0.001), [4, 0.1, 0, 0, lin, 20, 0.001],
         25),
        ("cos_warm", S.CosineScheduler(max_update=40, base_lr=0.05, final_lr=0.0, warmup_steps=8,
                                       warmup_begin_lr=0.001), [4, 0.05, 8, 0.001, lin, 40, 0.0], 45),
        ("cos_warm_const", S.CosineScheduler(max_update=25, base_lr=0.4, final_lr=0.01, warmup_steps=3,
                                             warmup_begin_lr=0.04, warmup_mode="constant"),
         [4, 0.4, 3, 0.04, const, 25, 0.01], 30),
        ("cos_long", S.CosineScheduler(max_update=1000, base_lr=0.1, final_lr=1e-5, warmup_steps=100,
                                       warmup_begin_lr=0.0), [4, 0.1, 100, 0.0, lin, 1000, 1e-5], 1003),
    ]
    for name, sched, config, last in cases:
        out.array(name + ".sched", config)
        out.array(name + ".lr", [sched(n) for n in range(last + 1)])
    out.close()


def make_metric():
    rng = np.random.RandomState(11)
    out = Writer("metric")
    classes, top_k = 5, 2
    batches = [(6, 0), (6, 2), (4, 1)]
    metrics = [mx.metric.create("acc"), mx.metric.create("top_k_accuracy", top_k=top_k),
               mx.metric.create("ce")]
    out.array("config", [classes, top_k, len(batches)])
    for i, (rows, pad) in enumerate(batches):
        logits = rng.normal(0, 2, (rows, classes)).astype(np.float32)
        pred = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        label = rng.randint(0, classes, rows).astype(np.float32)
        label[0] = pred[0].argmax()  # at least one sure hit per batch
        out.array("b%d.pred" % i, pred)
        out.array("b%d.label" % i, label)
        out.array("b%d.pad" % i, [pad])
        for m in metrics:
            m.update([mx.nd.array(label[:rows - pad])], [mx.nd.array(pred[:rows - pad])])
    names = [m.get()[0] for m in metrics]
    assert names == ["accuracy", "top_k_accuracy_%d" % top_k, "cross-entropy"], names
    out.array("values", [m.get()[1] for m in metrics])
    out.close()


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_sgd()
    make_optim()
    make_lr_sched()
    make_metric()
