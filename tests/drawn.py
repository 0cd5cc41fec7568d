#!/usr/bin/env python3
"""tests/drawn.py — draws as expressions, parameters drawn per sample, and
the loss weight of train (TAP).

1. Initial values that are expressions of draws give the same numbers as
   the plain draws they equal: 3 + 2*uniform(0, 1) is uniform(3, 5) and
   1 + 2*normal(0, 1) is normal(1, 2), draw for draw (the same generator,
   the same order); tanh(normal(0, 1)) is tanh of normal(0, 1)'s draws.
2. A parameter drawn per sample in 'data from' is an input of the model:
   data x'' = g with g ~ U(-2, 2) per sample, a model L = x'^2/2 + f(g) x
   learns f(g) = g (validation error a few per cent), and the trained model
   run at g = 1.5 and g = -0.5 has those accelerations.  A model that does
   not use g cannot fit: its error stays near 100 %.  Data along
   trajectories (time, samples) draw g per trajectory: the model learns
   f(g) = g from them too.
3. The weight: a model whose acceleration is one learned constant c, fit
   to a CSV of accelerations a_i at states x_i, with 'weight x^2': MSE
   converges to the weighted mean sum x^2 a / sum x^2 and L1 to the
   weighted median, both computed here (and far from the unweighted ones);
   the loss of one step over the whole set is the weighted mean error at
   the model's constant over the targets' RMS, computed here.
4. Bad input: a drawn parameter the model does not have, a weight that calls a net, a negative
   weight (with the state where it is), a draw in a compare's param.
"""
import math
import os
import tempfile

from lagtest import program, read_csv, num, close, err, worst, run_json, run_lag, report, finish

LAG, SRCDIR = program()

DATA = """system Data {
    coord x
    param g = 1
    L = 0.5*x'^2 + g*x
}
"""


def sim_states(tmp, name, init, samples=50):
    text = DATA + """simulate Data {
    init %s
    samples %d, time 0 .. 1, every 1, seed 7
    output "%s.csv"
}
""" % (init, samples, name)
    p, _ = run_json(LAG, tmp, name + ".lag", text)
    if p.returncode != 0:
        return None, p.stderr
    rows = [r for r in read_csv(os.path.join(tmp, name + ".csv")) if r["t"] == 0]
    return rows, ""


def test_draw_expressions(tmp):
    a, why = sim_states(tmp, "plain", "x = uniform(3, 5), x' = normal(1, 2)")
    b, why2 = sim_states(tmp, "expr", "x = 3 + 2*uniform(0, 1), x' = 1 + 2*normal(0, 1)")
    same = a is not None and b is not None and len(a) == len(b) == 50 and all(
        r["x"] == s["x"] and r["x'"] == s["x'"] for r, s in zip(a, b))
    report(same, "3 + 2*uniform(0, 1) and 1 + 2*normal(0, 1) draw what uniform(3, 5) and normal(1, 2) draw",
           why + why2)
    c, why = sim_states(tmp, "n01", "x = 0, x' = normal(0, 1)")
    d, why2 = sim_states(tmp, "tanh", "x = 0, x' = 0.99999*tanh(2*normal(0, 1))")
    e = [err(s["x'"], 0.99999 * math.tanh(2 * r["x'"])) for r, s in zip(c or [], d or [])]
    report(c is not None and d is not None and len(e) == 50 and worst(e) <= 1e-15,
           "0.99999*tanh(2*normal(0, 1)) is that function of normal(0, 1)'s draws", why + why2)
    spread = d is not None and max(abs(s["x'"]) for s in d) > 0.9 and all(abs(s["x'"]) < 1 for s in d)
    report(spread, "the velocities drawn through tanh lie in (-1, 1) and reach beyond 0.9")


MODEL = """system Model {
    coord x
    param g = 1
    net f = mlp(in = 1, hidden = [16], out = 1, activation = tanh)
    L = 0.5*x'^2 + f(g)*x
}
"""


def test_drawn_params(tmp):
    text = DATA + MODEL + """train Model {
    data from Data {
        init x = uniform(-1, 1), x' = uniform(-1, 1)
        param g = uniform(-2, 2)
    }
    loss accel mse
    steps 1500, batch 128, lr 1e-2
    save "model.lagw"
}
simulate Model {
    param g = 1.5
    time 0 .. 1e-3, every 1e-3
    record a = x''
    output "at15.csv"
}
simulate Model {
    param g = -0.5
    time 0 .. 1e-3, every 1e-3
    record a = x''
    output "atm05.csv"
}
"""
    p, js = run_json(LAG, tmp, "drawn.lag", text)
    ok = p.returncode == 0 and js and js[0].get("job") == "train"
    rel = num(js[0]["validation_rel_rms"]) if ok and js[0]["validation_rel_rms"] is not None else math.inf
    report(ok and rel <= 0.05, "a model fed the drawn g learns a = g (validation error %.3g)" % rel, p.stderr)
    got = []
    for name, g in (("at15", 1.5), ("atm05", -0.5)):
        path = os.path.join(tmp, name + ".csv")
        a = read_csv(path)[0]["a"] if os.path.exists(path) else math.nan
        got.append(err(a, g))
    report(worst(got) <= 0.05 * 1.5, "the trained model run at g = 1.5 and g = -0.5 accelerates by g "
           "(errors %s)" % got)
    # along trajectories: g drawn per trajectory rides along in its states
    along = text.replace("""        init x = uniform(-1, 1), x' = uniform(-1, 1)
        param g = uniform(-2, 2)""", """        init x = uniform(-1, 1), x' = uniform(-1, 1)
        param g = uniform(-2, 2)
        samples 40, time 0 .. 1, every 0.05""")
    p, js = run_json(LAG, tmp, "along.lag", along)
    ok = p.returncode == 0 and js and js[0].get("job") == "train"
    rel = num(js[0]["validation_rel_rms"]) if ok and js[0]["validation_rel_rms"] is not None else math.inf
    report(ok and rel <= 0.05, "data along 40 trajectories, g drawn per trajectory: the model learns a = g "
           "(validation error %.3g)" % rel, p.stderr)
    blind = text.replace("f(g)*x", "f(x)*x")
    p, js = run_json(LAG, tmp, "blind.lag", blind)
    rel = num(js[0]["validation_rel_rms"]) if p.returncode == 0 and js else -1
    report(rel >= 0.5, "a model that does not use the drawn g cannot fit the data of many g (error %.3g)" % rel,
           p.stderr)


CONST = """system Const {
    coord x
    net c = mlp(in = 1, hidden = [4], out = 1, activation = tanh)
    L = 0.5*x'^2 + c(1)*x
}
"""


def weighted_median(a, w):
    pairs = sorted(zip(a, w))
    half, acc = sum(w) / 2, 0
    for v, wi in pairs:
        acc += wi
        if acc >= half:
            return v
    return pairs[-1][0]


def test_weight(tmp):
    # accelerations a_i at states x_i (x' = 0); the weight x^2 favours the large |x|
    xs = [-1 + 2 * i / 199 for i in range(200)]
    acc = [0.5 + 0.8 * x * x + 0.3 * math.sin(7 * x) for x in xs]
    with open(os.path.join(tmp, "acc.csv"), "w") as f:
        f.write("x,x',x''\n")
        for x, a in zip(xs, acc):
            f.write("%.17g,0,%.17g\n" % (x, a))
    w = [x * x for x in xs]
    mean_w = sum(a * wi for a, wi in zip(acc, w)) / sum(w)
    mean = sum(acc) / len(acc)
    med_w = weighted_median(acc, w)
    for loss, want, plain in (("accel mse", mean_w, mean), ("accel l1", med_w, sorted(acc)[100])):
        tag = loss.split()[1]
        text = CONST + """train Const {
    data "acc.csv"
    loss %s
    weight x^2
    validate 0
    steps 4000, batch 200, lr 1e-2, clip 100
}
simulate Const {
    time 0 .. 1e-3, every 1e-3
    record a = x''
    output "c_%s.csv"
}
""" % (loss, tag)
        p, js = run_json(LAG, tmp, "w_%s.lag" % tag, text)
        path = os.path.join(tmp, "c_%s.csv" % tag)
        c = read_csv(path)[0]["a"] if p.returncode == 0 and os.path.exists(path) else math.nan
        report(close(c, want, 2e-3) and abs(want - plain) > 0.05,
               "%s with weight x^2 converges to the weighted optimum %.5f (got %.5f; unweighted %.5f)"
               % (loss, want, c, plain), p.stderr)
    # the loss reported: one step over the whole set as one batch with a
    # negligible rate, so the loss is that of the constant c the model has
    text = CONST + """train Const {
    data "acc.csv"
    loss accel l1
    weight x^2
    validate 0
    steps 1, batch 200, lr 1e-12, warmup 0
}
simulate Const {
    time 0 .. 1e-3, every 1e-3
    record a = x''
    output "c_one.csv"
}
"""
    p, js = run_json(LAG, tmp, "w_one.lag", text)
    path = os.path.join(tmp, "c_one.csv")
    if p.returncode == 0 and js and os.path.exists(path):
        c = read_csv(path)[0]["a"]
        rms = math.sqrt(sum(a * a for a in acc) / len(acc))
        want = sum(abs(c - a) * wi for a, wi in zip(acc, w)) / sum(w) / rms
        got = num(js[0]["loss"]["train"])
        report(close(num(js[0]["target_rms"]), rms, 0, 1e-12) and close(got, want, 0, 1e-8),
               "the loss is the weighted mean error over the targets' RMS (%.10g; computed here %.10g)"
               % (got, want))
    else:
        report(False, "the loss is the weighted mean error over the targets' RMS", p.stderr)


def check_error(tmp, name, text, want):
    p = run_lag(LAG, tmp, name, text)
    ok = p.returncode != 0 and want in p.stderr and (name + ".lag:") in p.stderr
    report(ok, "%s: a located message containing %r" % (name, want), p.stderr)


def test_errors(tmp):
    nog = MODEL.replace("    param g = 1\n", "").replace("f(g)", "f(x)")
    check_error(tmp, "drawn_not_in_model", DATA + nog + """train Model {
    data from Data { param g = normal(0, 1), samples 100 }
    steps 2
}
""", "'g' is drawn per sample, so it is an input of the model")
    check_error(tmp, "weight_net", DATA + MODEL + """train Model {
    data from Data { init x = uniform(-1, 1) }
    weight 1 + f(x)^2
    steps 2
}
""", "cannot call the net 'f'")
    check_error(tmp, "weight_negative", DATA + MODEL + """train Model {
    data from Data { init x = uniform(-1, 1), samples 100 }
    weight x
    steps 2
}
""", "the loss weight is -")
    check_error(tmp, "draw_in_compare_param", DATA + DATA.replace("Data", "Other") + """compare Data, Other {
    param g = 2*normal(0, 1)
    time 0 .. 1
}
""", "a simulate job's 'param' (a value per trajectory) and the 'param' of a train job's 'data from' block")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_draw_expressions(tmp)
        test_drawn_params(tmp)
        test_weight(tmp)
        test_errors(tmp)
    finish()


if __name__ == "__main__":
    main()
