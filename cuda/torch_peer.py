"""torch_peer.py: PyTorch CUDA eager forward + backward at the PEERS.md shapes with the PEERS.md
data, timed like cuda_check --bench (CUDA events, median of 20 after 5 warm-up runs), so that
the fused kernels' speed-up over PyTorch can be read off one machine.

    python3 cuda/torch_peer.py
"""
import torch
import torch.nn.functional as F

dev = torch.device("cuda")


def h1(i):
    return (i * 2654435761 + 12345) % (1 << 32)


def h2(i):
    return (i * 2246822519 + 7) % (1 << 32)


def data(n, c):
    i = torch.arange(n * c, dtype=torch.int64, device=dev)
    x = (h1(i).double() / 2**32 * 8 - 4).float().view(n, c)
    return i, x


def timed(fn, iters=20, warm=5):
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ts = []
    for it in range(iters + warm):
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        if it >= warm:
            ts.append(s.elapsed_time(e))
    ts.sort()
    return ts[len(ts) // 2]


def ce_case(n, c, weighted):
    _, x0 = data(n, c)
    y = ((torch.arange(n, device=dev) * 7919 + 13) % c)
    cw = 0.5 + (torch.arange(c, device=dev) % 7).float() * 0.25
    sw = 0.25 + (torch.arange(n, device=dev) % 5).float() * 0.25

    def run():
        x = x0.detach().requires_grad_(True)
        if weighted:
            # MEAN over the effective weights cw[y] * sw (SEMANTICS.md)
            per = F.cross_entropy(x, y, weight=cw, reduction="none") * sw
            loss = per.sum() / (cw[y] * sw).sum()
        else:
            loss = F.cross_entropy(x, y)
        loss.backward()
        return loss

    return run


def elem_case(kind):
    n, k = 65536, 100
    i, x0 = data(n, k)
    t = (h2(i) >> 31).float().view(n, k)
    m = (h2(i).double() / 2**32 * 8 - 4).float().view(n, k)
    pw = 1 + (torch.arange(k, device=dev) % 4).float() * 0.5
    sw = (0.25 + (torch.arange(n, device=dev) % 5).float() * 0.25).view(n, 1)

    def run():
        x = x0.detach().requires_grad_(True)
        if kind == "bce":
            loss = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw)
        elif kind == "mse":
            loss = ((x - m) ** 2 * sw).sum() / (sw.sum() * k)
        else:
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
            p_t = p * t + (1 - p) * (1 - t)
            a_t = 0.25 * t + 0.75 * (1 - t)
            loss = (a_t * ce * (1 - p_t) ** 2).mean()
        loss.backward()
        return loss

    return run


cases = [
    ("ce_weighted", 65536, 10, ce_case(65536, 10, True)),
    ("ce_weighted", 4096, 1000, ce_case(4096, 1000, True)),
    ("ce_weighted", 256, 32000, ce_case(256, 32000, True)),
    ("ce_weighted", 1024, 128256, ce_case(1024, 128256, True)),
    ("ce_mean", 65536, 10, ce_case(65536, 10, False)),
    ("ce_mean", 4096, 1000, ce_case(4096, 1000, False)),
    ("ce_mean", 256, 32000, ce_case(256, 32000, False)),
    ("ce_mean", 1024, 128256, ce_case(1024, 128256, False)),
    ("bce_posw", 65536, 100, elem_case("bce")),
    ("mse_weighted", 65536, 100, elem_case("mse")),
    ("sigmoid_focal", 65536, 100, elem_case("focal")),
]
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
print(f"{'case':14s} {'N x C':>14s} {'loss':>12s} {'ms':>10s}")
for name, n, c, fn in cases:
    loss = fn().item()
    ms = timed(fn)
    print(f"{name:14s} {f'{n}x{c}':>14s} {loss:12.7f} {ms:10.4f}")
