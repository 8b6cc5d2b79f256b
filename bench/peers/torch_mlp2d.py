#!/usr/bin/python3
"""Peer baseline: 2-D energy MLP trained on ring8 with DSM / exact SM / SSM / PCD-ULA.

Model   E(x) = MLP 2 -> 64 -> 64 -> 1, softplus hidden activations, float64, PyTorch default
        nn.Linear init after torch.set_default_dtype(torch.float64); torch.manual_seed(0)
        (re-seeded before every estimator, so all four start from the same weights; the initial
        weights are written to --dump-init, default examples/data/mlp2d_init_torch_seed0.json).
Data    examples/data/ring8_train.csv (20000 x 2), test examples/data/ring8_test.csv (5000 x 2).
Training Adam lr 1e-3, batch 256 drawn uniformly WITH replacement from a torch.Generator
        seeded 0 (re-created per estimator), 3000 steps per estimator.
  dsm      sigma = 0.1, loss 0.5||s(x + sigma eps) + eps/sigma||^2, s = -dE/dx (autograd).
  exact_sm 0.5||s||^2 + tr(ds/dx), trace by a loop over the 2 dims (double backward).
  ssm      one v ~ N(0, I) per sample, loss v^T d(v^T s)/dx + 0.5 (v^T s)^2.
  pcd_ula  persistent buffer of 256 chains initialised U[-4,4]^2; per update 20 ULA steps
           x <- x - h dE/dx + sqrt(2h) N(0, I), h = 0.01; loss mean E(data) - mean E(buffer).
           Order of random draws per update: 20 x noise(256x2), then the data batch indices.
Evaluation: test NLL = mean E(x_test) + log Z, log Z = logsumexp(-E(grid)) + log(dx*dy) on the
        400 x 400 midpoint grid over [-4.5, 4.5]^2; the true mixture NLL is the floor, and the
        same quadrature of the true density checks the grid (its log Z should be ~0).
Timing: per-step wall time of every step after the first WARMUP (batch draw + forward + backward
        + Adam step, + the 20 ULA steps for PCD); median reported; total = whole loop.

Scaling: --width W (both hidden layers) and --data-file F (a CSV of any dimension d, no test NLL)
        run the same estimators on 2 -> W -> W -> 1 with d = F's columns, for `ebm bench --scaling`;
        every estimator reports its process's peak resident set (maxrss_kib, vmhwm_kib).

Usage:  /usr/bin/python3 peers/torch_mlp2d.py [--steps 3000] [--only dsm,exact_sm,ssm,pcd_ula]
        [--batch 256] [--width 64] [--data-file F]
Prints one JSON line at the end.
"""
import argparse
import json
import math
import os
import resource
import statistics
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get("EBM_DATA_DIR", os.path.normpath(os.path.join(HERE, "..", "..", "examples", "data")))
WARMUP = 10
SEED = 0
GRID_N = 400
GRID_LIM = 4.5
RING_STD = 0.25


def blas_threads():
    """threads of the OpenBLAS that Debian's torch/numpy load via libblas.so.3 (None if not OpenBLAS)."""
    try:
        import ctypes
        return int(ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads())
    except Exception:
        return None


def cpu_snapshot():
    with open("/proc/stat") as f:
        vals = list(map(int, f.readline().split()[1:9]))
    busy = sum(vals) - vals[3] - vals[4]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), ru.ru_utime + ru.ru_stime


def contention(s0, s1):
    """CPU time burnt by OTHER processes on this machine while we ran (from /proc/stat)."""
    wall = s1[0] - s0[0]
    other = max(0.0, (s1[1] - s0[1]) - (s1[2] - s0[2]))
    return {"wall_sec": wall, "own_cpu_sec": s1[2] - s0[2], "other_procs_cpu_sec": other,
            "other_procs_cpu_frac_of_machine": other / (wall * os.cpu_count()) if wall > 0 else 0.0,
            "loadavg_at_end": open("/proc/loadavg").read().split()[:3]}


def load(path):
    """a CSV with one header row; path.gz when path is absent (the repository stores the large sets gzipped)."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def make_model(dim=2, width=64):
    torch.manual_seed(SEED)
    return torch.nn.Sequential(
        torch.nn.Linear(dim, width), torch.nn.Softplus(),
        torch.nn.Linear(width, width), torch.nn.Softplus(),
        torch.nn.Linear(width, 1),
    )


def rss_kib(field="VmRSS"):
    """this process's resident set (VmRSS) or its high-water mark (VmHWM) in KiB, from /proc/self/status."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def energy(model, x):
    return model(x).squeeze(-1)


def score(model, x):
    return -torch.autograd.grad(energy(model, x).sum(), x, create_graph=True)[0]


def loss_dsm(model, x, g, state, sigma=0.1):
    eps = torch.randn(x.shape, generator=g)
    xt = (x + sigma * eps).requires_grad_(True)
    s = score(model, xt)
    return 0.5 * ((s + eps / sigma) ** 2).sum(1).mean()


def loss_exact_sm(model, x, g, state):
    x = x.clone().requires_grad_(True)
    s = score(model, x)
    trace = torch.zeros(x.shape[0])
    for i in range(x.shape[1]):
        trace = trace + torch.autograd.grad(s[:, i].sum(), x, create_graph=True)[0][:, i]
    return (0.5 * (s ** 2).sum(1) + trace).mean()


def loss_ssm(model, x, g, state):
    x = x.clone().requires_grad_(True)
    v = torch.randn(x.shape, generator=g)
    s = score(model, x)
    sv = (s * v).sum(1)
    gsv = torch.autograd.grad(sv.sum(), x, create_graph=True)[0]
    return ((gsv * v).sum(1) + 0.5 * sv ** 2).mean()


def ula_steps(model, x, g, n_steps, h):
    for _ in range(n_steps):
        x = x.detach().requires_grad_(True)
        gE = torch.autograd.grad(energy(model, x).sum(), x)[0]
        x = x - h * gE + math.sqrt(2 * h) * torch.randn(x.shape, generator=g)
    return x.detach()


def true_logpdf(x):
    k = torch.arange(8, dtype=torch.float64)
    c = torch.stack([2 * torch.cos(k * math.pi / 4), 2 * torch.sin(k * math.pi / 4)], 1)
    d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
    logc = -0.5 * d2 / RING_STD ** 2 - math.log(2 * math.pi * RING_STD ** 2) - math.log(8)
    return torch.logsumexp(logc, 1)


def grid():
    dx = 2 * GRID_LIM / GRID_N
    m = -GRID_LIM + (torch.arange(GRID_N, dtype=torch.float64) + 0.5) * dx
    gx, gy = torch.meshgrid(m, m, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1), dx * dx


@torch.no_grad()
def test_nll(model, Xte):
    G, area = grid()
    E = torch.cat([energy(model, G[i:i + 40000]) for i in range(0, G.shape[0], 40000)])
    logZ = torch.logsumexp(-E, 0).item() + math.log(area)
    nll = energy(model, Xte).mean().item() + logZ
    return nll, logZ


def run(name, Xtr, Xte, steps, batch, lr, ula_n, ula_h, n_chains, width=64):
    model = make_model(Xtr.shape[1], width)
    g = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = Xtr.shape[0]
    state = {}
    if name == "pcd_ula":
        buf = torch.rand((n_chains, 2), generator=g) * 8.0 - 4.0
    lossfn = {"dsm": loss_dsm, "exact_sm": loss_exact_sm, "ssm": loss_ssm}.get(name)
    rss_before = rss_kib()
    times = []
    cpu_times = []
    s0 = cpu_snapshot()
    t0 = time.perf_counter()
    for it in range(steps):
        ts = time.perf_counter()
        cs = time.process_time()
        if name == "pcd_ula":
            buf = ula_steps(model, buf, g, ula_n, ula_h)
            idx = torch.randint(0, n, (batch,), generator=g)
            loss = energy(model, Xtr[idx]).mean() - energy(model, buf).mean()
        else:
            idx = torch.randint(0, n, (batch,), generator=g)
            loss = lossfn(model, Xtr[idx], g, state)
        opt.zero_grad()
        loss.backward()
        opt.step()
        te = time.perf_counter()
        ce = time.process_time()
        if it >= WARMUP:
            times.append(te - ts)
            cpu_times.append(ce - cs)
    total = time.perf_counter() - t0
    s1 = cpu_snapshot()
    mem = {"rss_before_loop_kib": rss_before, "vmhwm_kib": rss_kib("VmHWM"),  # peaks up to the end of the loop
           "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    te0 = time.perf_counter()
    nll, logZ = test_nll(model, Xte) if Xte is not None else (None, None)
    res = {
        **mem,
        "contention": contention(s0, s1),
        "sec_per_step_median": statistics.median(times),
        "sec_per_step_mean": sum(times) / len(times),
        "cpu_sec_per_step_median": statistics.median(cpu_times),
        "total_sec": total,
        "steps": steps,
        "final_loss_minibatch": float(loss.item()),
        "test_nll": nll,
        "logZ_grid": logZ,
        "nll_eval_sec": time.perf_counter() - te0,
        "finite": nll is None or bool(math.isfinite(nll)),
    }
    if name == "pcd_ula":
        res["buffer_mean"] = buf.mean(0).tolist()
        res["buffer_radius_mean"] = float(buf.norm(dim=1).mean())
        with torch.no_grad():
            res["mean_E_data_minus_buffer_full"] = float(energy(model, Xtr).mean() - energy(model, buf).mean())
    return res


def dump_init(path):
    model = make_model()
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    params = {k: p.detach().tolist() for k, p in zip(names, model.parameters())}
    params["layout"] = ("torch nn.Linear convention: y = x W^T + b; W1 64x2, b1 64, W2 64x64, b2 64, "
                        "W3 1x64, b3 1; E(x) = W3 softplus(W2 softplus(W1 x + b1) + b2) + b3")
    params["made_by"] = "peers/torch_mlp2d.py: torch.set_default_dtype(float64); torch.manual_seed(%d); " % SEED + \
                        "nn.Sequential(Linear(2,64),Softplus(),Linear(64,64),Softplus(),Linear(64,1)) " \
                        "torch " + torch.__version__
    with open(path, "w") as f:
        json.dump(params, f)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0, help="seed for init, batches and noise (results below: 0)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="dsm,exact_sm,ssm,pcd_ula")
    ap.add_argument("--data-dir", default=DEFAULT_DATA)
    ap.add_argument("--width", type=int, default=64, help="hidden width of both layers (scaling runs of ebm bench)")
    ap.add_argument("--data-file", default=None,
                    help="train on this CSV (any dimension) instead of ring8, without the test NLL (scaling runs of ebm bench)")
    ap.add_argument("--dump-init", default=None,
                    help="write the initial weights (of --seed) as JSON here (default with seed 0: <data-dir>/mlp2d_init_torch_seed0.json)")
    args = ap.parse_args()
    global SEED
    SEED = args.seed
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)

    if args.data_file:
        Xtr, Xte = torch.from_numpy(load(args.data_file)), None
    else:
        Xtr = torch.from_numpy(load(os.path.join(args.data_dir, "ring8_train.csv")))
        Xte = torch.from_numpy(load(os.path.join(args.data_dir, "ring8_test.csv")))
    if args.dump_init:
        dump_init(args.dump_init)

    G, area = grid()
    out = {
        "script": "torch_mlp2d.py",
        "torch": torch.__version__,
        "num_threads": torch.get_num_threads(), "seed": SEED,
        "openblas_num_threads": blas_threads(),
        "env_OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "batch": args.batch, "lr": args.lr, "warmup_steps_excluded": WARMUP,
        "grid": {"n": GRID_N, "lim": GRID_LIM, "rule": "midpoint"},
        "width": args.width, "dim": Xtr.shape[1], "data_file": args.data_file,
        "n_params": sum(p.numel() for p in make_model(Xtr.shape[1], args.width).parameters()),
    }
    if Xte is not None:
        out["true_mixture"] = {
            "test_nll": float(-true_logpdf(Xte).mean()),
            "logZ_grid_of_true_density": float(torch.logsumexp(true_logpdf(G), 0) + math.log(area)),
        }
    for name in args.only.split(","):
        out[name] = run(name, Xtr, Xte, args.steps, args.batch, args.lr, 20, 0.01, 256, args.width)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
