#!/usr/bin/env python3
"""bench_summary.py: one table of the GPU timings of a run_on_gpu.sh run, and the issue's targets.

    python3 cuda/test/bench_summary.py BENCH_CSV [TORCH_CSV] [--markdown]

BENCH_CSV is cuda_check --bench --csv (the fused kernels and the device-to-device copy, one
process); TORCH_CSV is torch_peer.py --csv (PyTorch eager and torch.compile, same data, same
timing method, same GPU). Targets (issue 17, on an H100 / H200): cross-entropy 8192 x 128256
fp32 at >= 85 % of the copy, and every loss >= 3x faster than PyTorch eager. Exit status 0 when
every target that could be measured was met, 1 otherwise (2: no timings at all).
"""
import csv
import sys


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if not args:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    fused = read(args[0])
    torch = read(args[1]) if len(args) > 1 else []
    peer = {(r["case"], r["n"], r["c"], r["impl"]): r for r in torch}
    head = ["case", "N x C", "kernel", "fused ms", "copy ms", "% copy", "eager ms", "x eager", "compile ms",
            "x compile"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = []
    for r in fused:
        key = (r["case"], r["n"], r["c"])
        ms, copy, pct = num(r["ms"]), num(r["copy_ms"]), num(r["pct_copy"])
        eager, comp = peer.get(key + ("eager",)), peer.get(key + ("compile",))
        e_ms = num(eager["ms"]) if eager else None
        c_ms = num(comp["ms"]) if comp else None
        cell = lambda v, f: f.format(v) if v is not None else "-"
        raw = lambda row: row["ms"] if row and num(row["ms"]) is None else "-"
        lines.append("| " + " | ".join([
            r["case"], f"{r['n']} x {r['c']}", r["kernel"], cell(ms, "{:.4f}"), cell(copy, "{:.4f}"),
            cell(pct, "{:.1f} %"), cell(e_ms, "{:.4f}") if e_ms else raw(eager),
            cell(e_ms / ms if e_ms and ms else None, "{:.2f}"),
            cell(c_ms, "{:.4f}") if c_ms else raw(comp), cell(c_ms / ms if c_ms and ms else None, "{:.2f}"),
        ]) + " |")
        if r["kernel"] == "block" and key[2] == "128256" and any(
                f["case"] == r["case"] and f["n"] == r["n"] and f["c"] == r["c"] and f["kernel"] == "cluster"
                for f in fused):
            continue  # the block fallback of a cluster shape is shown, not judged
        if r["case"].startswith("ce_") and key[1:] == ("8192", "128256") and pct is not None:
            verdicts.append((pct >= 85, f"{r['case']} 8192 x 128256: {pct:.1f} % of the copy (target 85 %)"))
        if e_ms and ms:
            verdicts.append((e_ms / ms >= 3, f"{r['case']} {r['n']} x {r['c']}: {e_ms / ms:.2f}x PyTorch eager "
                                             f"(target 3x)"))
    print("\n".join(lines))
    print()
    for ok, text in verdicts:
        print(("met     " if ok else "NOT MET ") + text)
    if not torch:
        print("PyTorch timings missing: the 3x target was not measured")
    return 0 if verdicts and all(ok for ok, _ in verdicts) else (2 if not fused else 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
