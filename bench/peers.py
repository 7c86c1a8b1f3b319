"""peers: the same mlp and revnet networks (docs/architecture.md §2) in PyTorch on the CPU, side by
side with mwverify's bench_grad: backprop step time and peak working memory, and forward
mode (one jvp per parameter coordinate) on a tiny mlp. A benchmark, never a test.

    /usr/bin/python3 bench/peers.py path/to/bench_grad      (bench/peers.sh runs this)

Timing is paired: each case runs PEERS_ROUNDS rounds (default 5), each side once per
round, the order alternating, and the ratio ours/pytorch is taken within each round and
reported as median [min, max], with the load average during the rounds and the machine
(CPU model, vector ISA, OpenBLAS's core, torch's CPU capability): figures compare only on
the same machine. Revbackprop and mixed against backprop are paired inside bench_grad
(the methods interleaved per repeat).

Both sides run single-threaded in float32 (OMP/MKL/OpenBLAS threads 1, torch 1 thread);
the networks are built from the same shapes and conventions, and the parameter counts are
checked against bench_grad's before anything is timed. Values are not compared (each side
initialises its own parameters); everything printed is measured in this run.
"""
import json
import math
import os
import statistics
import subprocess
import sys
import time

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"  # before torch loads its thread pools

import torch  # noqa: E402
import torch.autograd.forward_ad as fwad  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

try:
    import functorch  # torch 1.13 ships it separately; torch.func arrived in 2.0
except ImportError:
    functorch = None

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
FLOAT_BYTES = 4

# The networks of the comparison: (label, spec, bench_grad arguments, repeats).
MLP = dict(arch="mlp", width=16, hidden=32, units=2, out_act="tanh", batch=32, classes=4)
REVNET = dict(arch="revnet", channels=8, image=32, blocks=3, units=1, out_act="none",
              batch=32, classes=10)
TINY = dict(arch="mlp", width=8, hidden=8, units=2, out_act="tanh", batch=4, classes=4)
WARMUPS = 2
ROUNDS = int(os.environ.get("PEERS_ROUNDS", "5"))  # each side once per round, interleaved
TANGENT_BLOCK = 64  # mw_grad_opts_default().tangent_block: our forward's tangents per pass


# ---- the networks, written as functions of a flat list of parameters ----------------

def param_shapes(s, depth):
    """Shapes in the canonical order (docs/architecture.md §2): layer 1..L, unit 1..k, W, c, γ, β;
    then head W, c. Returns (shapes, fan_ins) with fan_in -1 for γ (ones), 0 for β."""
    shapes, fans = [], []
    for i in range(1, depth + 1):
        if s["arch"] == "mlp":
            h = s["width"] // 2
            dims = [h] + [s["hidden"]] * (s["units"] - 1) + [h]
            for u in range(s["units"]):
                shapes += [(dims[u + 1], dims[u]), (dims[u + 1],)]
                fans += [dims[u], dims[u]]
        else:
            half = s["channels"] * 4 ** block_of(s, i) // 2
            for _ in range(s["units"]):
                shapes += [(half, half, 3, 3), (half,), (half,), (half,)]
                fans += [half * 9, half * 9, -1, 0]
    feats = head_features(s)
    shapes += [(s["classes"], feats), (s["classes"],)]
    fans += [feats, feats]
    return shapes, fans


def block_of(s, layer):  # revnet: 0-based block of coupling `layer` (1-based)
    return (layer - 1) // s["lpb"]


def head_features(s):
    return s["width"] if s["arch"] == "mlp" else s["channels"] * 4 ** (s["blocks"] - 1)


def depth_of(s):
    return s["depth"] if s["arch"] == "mlp" else s["blocks"] * s["lpb"]


def ours_param_count(s):
    """The count docs/architecture.md §2 gives, written out independently of param_shapes."""
    if s["arch"] == "mlp":
        h, hid, k = s["width"] // 2, s["hidden"], s["units"]
        dims = [h] + [hid] * (k - 1) + [h]
        per = sum(dims[u + 1] * dims[u] + dims[u + 1] for u in range(k))
        return s["depth"] * per + s["classes"] * (s["width"] + 1)
    total = 0
    for b in range(s["blocks"]):
        half = s["channels"] * 4 ** b // 2
        total += s["lpb"] * (half * half * 9 + 3 * half)
    return total + s["classes"] * (head_features(s) + 1)


def init_params(s, gen):
    shapes, fans = param_shapes(s, depth_of(s))
    out = []
    for shape, fan in zip(shapes, fans):
        if fan <= 0:  # BN: γ = 1, β = 0
            out.append(torch.ones(shape) if fan < 0 else torch.zeros(shape))
        else:
            bound = 1.0 / math.sqrt(fan)
            out.append((torch.rand(shape, generator=gen) * 2 - 1) * bound)
    return out


def sigma(s, z):
    if s["out_act"] == "tanh":
        return torch.tanh(z)
    return z  # none


def coupling(s, i, x, units):
    """Layer i (1-based): odd i conditions on the first half and transforms the second,
    even i the reverse; each half stays in its place. z = b + F(a), y_b = σ(z)."""
    half = x.shape[1] // 2
    first, second = x[:, :half], x[:, half:]
    a, b = (first, second) if i % 2 == 1 else (second, first)
    f = a
    for u in units:
        if s["arch"] == "mlp":
            f = torch.relu(F.linear(f, u[0], u[1]))
        else:
            f = torch.relu(F.conv2d(f, u[0], u[1], padding=1))
            f = F.batch_norm(f, None, None, u[2], u[3], training=True, eps=1e-5)
    yb = sigma(s, b + f)
    return torch.cat((a, yb), 1) if i % 2 == 1 else torch.cat((yb, a), 1)


def loss_fn(s, params, x, y):
    per_unit = 2 if s["arch"] == "mlp" else 4
    per_layer = per_unit * s["units"]
    for i in range(1, depth_of(s) + 1):
        if s["arch"] == "revnet" and i > 1 and block_of(s, i) != block_of(s, i - 1):
            x = F.pixel_unshuffle(x, 2)  # ψ between blocks
        p = params[(i - 1) * per_layer:i * per_layer]
        x = coupling(s, i, x, [p[u * per_unit:(u + 1) * per_unit] for u in range(s["units"])])
    if s["arch"] == "revnet":
        x = x.mean(dim=(2, 3))  # global average pool
    return F.cross_entropy(F.linear(x, params[-2], params[-1]), y)  # mean over the batch


def make_batch(s, gen):
    if s["arch"] == "mlp":
        x = torch.randn(s["batch"], s["width"], generator=gen)
    else:
        x = torch.randn(s["batch"], s["channels"], s["image"], s["image"], generator=gen)
    return x, torch.randint(0, s["classes"], (s["batch"],), generator=gen)


# ---- measuring ------------------------------------------------------------------------

def median_time(step, repeats):
    for _ in range(WARMUPS):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def profiled_peak(step):
    """Peak of the bytes live through PyTorch's CPU allocator during one call of step,
    counted from 0 at its start (what existed before is not counted), from the
    profiler's allocation and free records in the order they happened. Also returns the
    names of the ops that ran, to say which convolution kernel did the work."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = list(prof.profiler.kineto_results.events())
    mem = [(e.start_us(), k, e.nbytes()) for k, e in enumerate(events)
           if e.name() == "[memory]"]
    mem.sort()  # by time, then by record order
    live = peak = 0
    for _, _, nbytes in mem:
        live += nbytes
        peak = max(peak, live)
    return peak, {e.name() for e in events}


def backprop_step(s, params, x, y):
    """Forward, loss and backward into .grad tensors that exist (zeroed) beforehand:
    our g is allocated before mw_grad too, so neither side counts the gradient."""
    for p in params:
        p.grad.zero_()

    def step():
        loss_fn(s, params, x, y).backward()
    return step


def torch_backprop(s, repeats, gen):
    params = [p.requires_grad_() for p in init_params(s, gen)]
    for p in params:
        p.grad = torch.zeros_like(p)
    x, y = make_batch(s, gen)
    step = backprop_step(s, params, x, y)  # grads zeroed once; the timed step accumulates
    seconds = median_time(step, repeats)
    backprop_step(s, params, x, y)
    peak, ops = profiled_peak(step)
    return params, seconds, peak, ops


def torch_backprop_time(s, params, repeats, gen):
    x, y = make_batch(s, gen)
    for p in params:
        p.grad = torch.zeros_like(p)
    return median_time(backprop_step(s, params, x, y), repeats)


def describe_machine(blas_core):
    """CPU model, its vector ISA, OpenBLAS's core (ours) and torch's CPU capability."""
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE/other"
    cap = "?"
    try:
        cap = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # torch 1.x: in the build configuration text
        for line in torch.__config__.show().splitlines():
            if "CPU capability usage" in line:
                cap = line.split(":", 1)[1].strip()
    return (f"{model}, {os.cpu_count()} cores, vector ISA {isa}; OpenBLAS core {blas_core} "
            f"(ours); torch CPU capability {cap}")


def forward_ad_gradient(s, params, x, y, g):
    """Full forward mode: one dual-number pass per parameter coordinate, the tangent
    e_j on that coordinate only."""
    j = 0
    with torch.no_grad(), fwad.dual_level():
        for t, p in enumerate(params):
            for k in range(p.numel()):
                tangent = torch.zeros_like(p)
                tangent.view(-1)[k] = 1.0
                duals = list(params)
                duals[t] = fwad.make_dual(p, tangent)
                g[j] = fwad.unpack_dual(loss_fn(s, duals, x, y)).tangent
                j += 1


def vmap_jvp_gradient(s, params, x, y, g):
    """Forward mode in blocks: functorch.vmap over functorch.jvp, TANGENT_BLOCK one-hot
    tangents of the flat parameter vector per pass (ours uses blocks of the same size)."""
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    theta = torch.cat([p.reshape(-1) for p in params])

    def loss_flat(th):
        return loss_fn(s, [c.view(sh) for c, sh in zip(th.split(sizes), shapes)], x, y)

    def directional(t):
        return functorch.jvp(loss_flat, (theta,), (t,))[1]
    P = theta.numel()
    with torch.no_grad():
        for j0 in range(0, P, TANGENT_BLOCK):
            j1 = min(P, j0 + TANGENT_BLOCK)
            basis = torch.zeros(j1 - j0, P)
            basis[torch.arange(j1 - j0), torch.arange(j0, j1)] = 1.0
            g[j0:j1] = functorch.vmap(directional)(basis)


def ours(bench_grad, s, methods, depth, repeats):
    args = [bench_grad, "--json", "--dtype", "f32", "--arch", s["arch"], "--batch",
            str(s["batch"]), "--classes", str(s["classes"]), "--out-act", s["out_act"],
            "--methods", methods, "--repeats", str(repeats)]
    if s["arch"] == "mlp":
        args += ["--width", str(s["width"]), "--hidden", str(s["hidden"])]
    else:
        args += ["--channels", str(s["channels"]), "--image", f"{s['image']}x{s['image']}",
                 "--blocks", str(s["blocks"])]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(args + [str(depth)], env=env, check=True, capture_output=True,
                         text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    for r in rows:
        if "error" in r:
            sys.exit(f"peers: bench_grad {r['method']} failed: {r['error']}")
    return {r["method"]: r for r in rows}


def check_params(label, s, mine, torch_params):
    count = sum(p.numel() for p in torch_params)
    formula = ours_param_count(s)
    print(f"  {label:<22} parameters: mwverify {mine}, docs/architecture.md §2 formula {formula}, "
          f"pytorch {count}")
    if not mine == formula == count:
        sys.exit(f"peers: {label}: parameter counts differ, the networks are not the same")


def conv_kernel(ops):
    names = sorted(n for n in ops if "conv" in n and n.startswith("aten::"))
    return ", ".join(names)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: peers.py path/to/bench_grad")
    bench_grad = sys.argv[1]
    gen = torch.Generator().manual_seed(1)
    fx = f"functorch {functorch.__version__}" if functorch else "no functorch"
    print(f"peers: torch {torch.__version__} ({fx}), {torch.get_num_threads()} thread; "
          f"bench_grad single-threaded OpenBLAS; float32; {os.cpu_count()} cores")
    rows, notes, ratios = [], [], []
    cases = [(f"mlp L={L}", dict(MLP, depth=L), L, 51) for L in (4, 16)]
    cases += [(f"revnet lpb={n}", dict(REVNET, lpb=n), n, 7) for n in (1, 3)]
    print(f"backprop: forward + loss + backward; {ROUNDS} rounds, each side once per round "
          "(the order alternating), each time the median of the repeats after warm-ups "
          f"(pytorch {WARMUPS}, bench_grad 1); ours/pytorch per round, then median [min, max]")
    load = []
    for label, s, depth, repeats in cases:
        params, _, peak, ops = torch_backprop(s, 1, gen)
        mine_t, theirs_t, per_round, vs_bp = [], [], [], {"revbackprop": [], "mixed": []}
        me = None
        for rnd in range(ROUNDS):
            load.append(os.getloadavg()[0])
            sides = ["ours", "torch"] if rnd % 2 == 0 else ["torch", "ours"]
            for side in sides:
                if side == "ours":
                    me = ours(bench_grad, s, "backprop,revbackprop,mixed", depth, repeats)
                    mine_t.append(me["backprop"]["seconds"])
                    for m in vs_bp:
                        vs_bp[m].append(me[m]["vs_backprop"][0])
                else:
                    theirs_t.append(torch_backprop_time(s, params, repeats, gen))
            per_round.append(mine_t[-1] / theirs_t[-1])
        load.append(os.getloadavg()[0])
        check_params(label, s, me["backprop"]["params"], params)
        if s["arch"] == "revnet":
            notes.append(f"{label}: pytorch's convolution ran as {conv_kernel(ops)}")
        rows.append((label, f"backprop seconds (median of {repeats}, median of rounds)",
                     statistics.median(mine_t), statistics.median(theirs_t)))
        rows.append((label, "backprop peak bytes", me["backprop"]["peak_bytes"], peak))
        ratios.append((label, "backprop time, ours / pytorch", per_round))
        for m, v in vs_bp.items():
            ratios.append((label, f"{m} / backprop time (ours, paired in-process)", v))
        blas = me["backprop"].get("blas_core", "?")
    machine = describe_machine(blas)

    s = dict(TINY, depth=2)
    label = "tiny mlp L=2"
    repeats = 11
    me = ours(bench_grad, s, "forward,backprop", 2, repeats)
    params = init_params(s, gen)
    check_params(label, s, me["forward"]["params"], params)
    x, y = make_batch(s, gen)
    P = sum(p.numel() for p in params)
    g = torch.zeros(P)
    # the forward-mode gradient must be the gradient: check it against backprop in torch
    leaves = [p.clone().requires_grad_() for p in params]
    ref = torch.cat([r.reshape(-1) for r in
                     torch.autograd.grad(loss_fn(s, leaves, x, y), leaves)])
    forward_ad_gradient(s, params, x, y, g)
    err_ad = ((g - ref).norm() / ref.norm()).item()
    t_ad = median_time(lambda: forward_ad_gradient(s, params, x, y, g), repeats)
    peak_ad, _ = profiled_peak(lambda: forward_ad_gradient(s, params, x, y, g))
    rows.append((label, f"forward seconds, 1 tangent/pass (median of {repeats})",
                 me["forward"]["seconds"], t_ad))
    rows.append((label, "forward peak bytes, 1 tangent/pass", me["forward"]["peak_bytes"],
                 peak_ad))
    checks = f"forward_ad vs torch backprop: rel_l2 {err_ad:.1e}"
    if functorch is not None:
        vmap_jvp_gradient(s, params, x, y, g)
        err_vm = ((g - ref).norm() / ref.norm()).item()
        t_vm = median_time(lambda: vmap_jvp_gradient(s, params, x, y, g), repeats)
        peak_vm, _ = profiled_peak(lambda: vmap_jvp_gradient(s, params, x, y, g))
        rows.append((label, f"forward seconds, {TANGENT_BLOCK} tangents/pass (median of "
                     f"{repeats})", me["forward"]["seconds"], t_vm))
        rows.append((label, f"forward peak bytes, {TANGENT_BLOCK} tangents/pass",
                     me["forward"]["peak_bytes"], peak_vm))
        checks += f"; functorch vmap(jvp) vs torch backprop: rel_l2 {err_vm:.1e}"
    print(f"  {label}: P = {P}; {checks}")

    print("what the numbers count:")
    print("  mwverify seconds: bench_grad's median wall time of one mw_grad call (f32, cpu).")
    print("  mwverify peak bytes: bench_grad's peak_bytes, the high-water mark of the tracked "
          "allocator during mw_grad, less what was live before (parameters, batch and the "
          "gradient output g not counted; every working buffer is, im2col scratch included).")
    print("  pytorch seconds: median wall time of one step; backprop: forward + mean "
          "cross-entropy + backward() into .grad tensors allocated and zeroed beforehand "
          "(the zeroing not timed); forward: the whole gradient, written into a preallocated "
          "vector.")
    print("  pytorch peak bytes: the high-water mark of bytes live through PyTorch's CPU "
          "allocator during one such step, from torch.profiler's allocation/free records "
          "(profile_memory=True) summed in time order from 0 at the step's start: "
          "parameters, batch and the .grad tensors (allocated before) not counted; autograd's "
          "saved tensors, temporaries and the per-parameter gradients that backward "
          "computes before adding them into .grad are. Memory a library takes outside that "
          "allocator (oneDNN scratchpads, OpenBLAS buffers; also ours) is in neither.")
    for n in notes:
        print("  " + n)
    print()
    head = ("network", "measure", "mwverify", "pytorch", "pytorch/mwverify")
    w = [max(len(str(r[0])) for r in rows + [head]), max(len(r[1]) for r in rows + [head])]
    print(f"{head[0]:<{w[0]}}  {head[1]:<{w[1]}}  {head[2]:>12}  {head[3]:>12}  {head[4]:>16}")
    for net, what, a, b in rows:
        fmt = (lambda v: f"{v:12.6f}") if "seconds" in what else (lambda v: f"{int(v):12d}")
        print(f"{net:<{w[0]}}  {what:<{w[1]}}  {fmt(a)}  {fmt(b)}  {b / a:16.2f}")
    print()
    print(f"machine: {machine}")
    print(f"load average (1 min) during the rounds: median {statistics.median(load):.2f} "
          f"[{min(load):.2f}, {max(load):.2f}] on {os.cpu_count()} cores")
    print(f"ratios over {ROUNDS} rounds: median [min, max]")
    wr = max(len(f"{n}  {w_}") for n, w_, _ in ratios)
    for net, what, v in ratios:
        print(f"  {net + '  ' + what:<{wr}}  {statistics.median(v):.3f} [{min(v):.3f}, {max(v):.3f}]")


if __name__ == "__main__":
    main()
