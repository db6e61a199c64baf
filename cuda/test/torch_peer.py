#!/usr/bin/env python3
"""torch_peer.py: PyTorch forward + backward of every loss on the data and shapes of
cuda_check --bench (the PEERS.md shapes and 8192 x 128256; the data's constants from
bench/peers.txt), timed the same way: CUDA events,
the L2 cache flushed before each timed repeat (outside the timing), the median of 25 repeats
after 3 warm-up runs. PyTorch eager always; torch.compile of the same function where it compiles,
within a time budget (compiling costs tens of seconds a shape), the largest shapes first.

    python3 cuda/test/torch_peer.py [--csv FILE] [--compile-budget SECONDS] [--no-compile] [--quick]

Prints one line per case and, with --csv, writes case,n,c,impl,loss,ms (impl: eager or compile;
ms: 'oom', 'error' or 'skipped' where it did not run).
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

dev = torch.device("cuda")
WARM, REPS = 3, 25
LN, LC = 8192, 128256


def read_peers(path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "peers.txt")):
    """bench/peers.txt, the one copy of the PEERS.md data's constants: {keyword: {name: values}}
    ('labels' has no name: its values are under "")."""
    peers = {}
    with open(path) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            named = words[0] != "labels"
            peers.setdefault(words[0], {})[words[1] if named else ""] = words[2:] if named else words[1:]
    return peers


PEERS = read_peers()


def _hash(name):
    multiplier, addend = (int(v) for v in PEERS["hash"][name])
    return lambda i: (i * multiplier + addend) % (1 << 32)


def _uniform(name, i):
    hash_name, span, low = PEERS["uniform"][name]
    return (_hash(hash_name)(i).double() / 2**32 * float(span) + float(low)).float()


def _periodic(name, j):
    base, period, step = PEERS["periodic"][name]
    return float(base) + (j % int(period)).float() * float(step)


def peers_x_t(n, c, targets):
    """x[i] = h1(i)/2^32*8 - 4 (and the targets), made in chunks so that 8192 x 128256 fits."""
    x = torch.empty(n * c, dtype=torch.float32, device=dev)
    t = torch.empty(n * c, dtype=torch.float32, device=dev) if targets else None
    chunk = 1 << 26
    for lo in range(0, n * c, chunk):
        i = torch.arange(lo, min(lo + chunk, n * c), dtype=torch.int64, device=dev)
        x[lo:lo + len(i)] = _uniform("logits", i)
        if targets == "binary":
            hash_name, shift = PEERS["bit"]["binary_targets"]
            t[lo:lo + len(i)] = (_hash(hash_name)(i) >> int(shift)).float()
        elif targets == "regression":
            t[lo:lo + len(i)] = _uniform("regression_targets", i)
        del i
    return x.view(n, c), (t.view(n, c) if t is not None else None)


def make_case(kind, n, c):
    """(loss function of x, x0): the loss as SEMANTICS.md defines it, MEAN over the effective weights."""
    rows = torch.arange(n, device=dev)
    multiplier, addend = (int(v) for v in PEERS["labels"][""])
    y = (rows * multiplier + addend) % c
    cw = _periodic("class_weights", torch.arange(c, device=dev))
    sw = _periodic("sample_weights", rows)
    targets = {"bce_posw": "binary", "sigmoid_focal": "binary", "mse_weighted": "regression"}.get(kind)
    x0, t = peers_x_t(n, c, targets)
    if kind == "ce_weighted":
        def fn(x):
            per = F.cross_entropy(x, y, weight=cw, reduction="none") * sw
            return per.sum() / (cw[y] * sw).sum()
    elif kind == "ce_mean":
        def fn(x):
            return F.cross_entropy(x, y)
    elif kind == "softmax_focal":  # gamma 2, sample weights, MEAN over the sample weights
        def fn(x):
            logp = torch.log_softmax(x, dim=1).gather(1, y[:, None]).squeeze(1)
            m = -torch.expm1(logp)
            return (sw * m * m * -logp).sum() / sw.sum()
    elif kind == "bce_posw":
        pw = _periodic("pos_weight", torch.arange(c, device=dev))
        def fn(x):
            return F.binary_cross_entropy_with_logits(x, t, pos_weight=pw)
    elif kind == "mse_weighted":
        swc = sw.view(n, 1)
        def fn(x):
            return ((x - t) ** 2 * swc).sum() / (swc.sum() * c)
    elif kind == "sigmoid_focal":  # torchvision's sigmoid_focal_loss, alpha 0.25, gamma 2, mean
        def fn(x):
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
            p_t = p * t + (1 - p) * (1 - t)
            a_t = 0.25 * t + 0.75 * (1 - t)
            return (a_t * ce * (1 - p_t) ** 2).mean()
    else:
        raise ValueError(kind)
    return fn, x0


def timed(step, flush):
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ts = []
    for it in range(WARM + REPS):
        flush.zero_()  # L2 now holds none of the inputs
        s.record()
        step()
        e.record()
        torch.cuda.synchronize()
        if it >= WARM:
            ts.append(s.elapsed_time(e))
    ts.sort()
    return ts[len(ts) // 2]


def run(fn, x0, flush):
    x = x0.detach().requires_grad_(True)
    out = {}

    def step():
        x.grad = None
        loss = fn(x)
        loss.backward()
        out["loss"] = loss

    ms = timed(step, flush)
    return out["loss"].item(), ms


CASES = [  # the largest first: compile budget goes to what matters most
    ("ce_weighted", LN, LC), ("ce_mean", LN, LC), ("softmax_focal", LN, LC),
    ("bce_posw", LN, LC), ("mse_weighted", LN, LC), ("sigmoid_focal", LN, LC),
    ("ce_weighted", 1024, 128256), ("ce_mean", 1024, 128256), ("softmax_focal", 1024, 128256),
    ("ce_weighted", 256, 32000), ("ce_mean", 256, 32000),
    ("ce_weighted", 4096, 1000), ("ce_mean", 4096, 1000), ("softmax_focal", 4096, 1000),
    ("ce_weighted", 65536, 10), ("ce_mean", 65536, 10),
    ("bce_posw", 65536, 100), ("mse_weighted", 65536, 100), ("sigmoid_focal", 65536, 100),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv")
    ap.add_argument("--compile-budget", type=float, default=150.0)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--quick", action="store_true", help="the PEERS.md shapes only (no 8192 x 128256)")
    args = ap.parse_args()
    props = torch.cuda.get_device_properties(0)
    flush = torch.empty(2 * max(props.L2_cache_size, 1 << 20), dtype=torch.uint8, device=dev)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}, L2 {props.L2_cache_size >> 20} MB,"
          f" compile budget {0 if args.no_compile else args.compile_budget:.0f} s", flush=True)
    print(f"{'case':14s} {'N x C':>14s} {'impl':8s} {'loss':>12s} {'ms':>10s}", flush=True)
    rows = []
    spent = 0.0
    for kind, n, c in CASES:
        if args.quick and n * c == LN * LC:
            continue
        impls = ["eager"] + ([] if args.no_compile else ["compile"])
        for impl in impls:
            loss, ms = math.nan, "error"
            if impl == "compile" and spent >= args.compile_budget:
                rows.append((kind, n, c, impl, loss, "skipped"))
                print(f"{kind:14s} {f'{n}x{c}':>14s} {impl:8s} {loss:12.7f} {'skipped':>10s}", flush=True)
                continue
            try:
                fn, x0 = make_case(kind, n, c)
                if impl == "compile":
                    torch._dynamo.reset()  # one shape a compile: no recompilation limits in play
                    start = time.time()
                    fn = torch.compile(fn, dynamic=False)
                    xw = x0.detach().requires_grad_(True)
                    fn(xw).backward()  # compiles forward and backward
                    torch.cuda.synchronize()
                    spent += time.time() - start
                loss, ms = run(fn, x0, flush)
            except torch.cuda.OutOfMemoryError:
                ms = "oom"
            except Exception as e:  # a compile that fails is a result, not a crash of the run
                print(f"  {kind} {n}x{c} {impl}: {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
                ms = "error"
            finally:
                torch.cuda.empty_cache()
            shown = f"{ms:10.4f}" if isinstance(ms, float) else f"{ms:>10s}"
            print(f"{kind:14s} {f'{n}x{c}':>14s} {impl:8s} {loss:12.7f} {shown}", flush=True)
            rows.append((kind, n, c, impl, loss, ms))
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("case,n,c,impl,loss,ms\n")
            for kind, n, c, impl, loss, ms in rows:
                f.write(f"{kind},{n},{c},{impl},{loss:.9g},{ms if isinstance(ms, str) else f'{ms:.6f}'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
