#!/usr/bin/python3
"""Peer baseline: score matching for a Gaussian (quadratic) energy on gauss20.

Model   E(x) = 0.5 x^T W x - b^T x,  W = (A + A^T)/2,  init A = I_20, b = 0.
Data    examples/data/gauss20_train.csv (20000 x 20); truth examples/data/gauss20_precision.csv (K).
Estimators (each: Adam lr 1e-2, batch 256 drawn uniformly WITH replacement, 2000 steps,
            torch.manual_seed(0) and a torch.Generator seeded 0 re-created per estimator):
  exact_sm : Hyvarinen SM, 0.5||s||^2 + tr(ds/dx), s = -dE/dx by autograd, trace by a Python loop
             over the 20 dims with create_graph=True (what a typical PyTorch user writes).
  dsm      : denoising SM, sigma = 0.1, loss 0.5||s(x+sigma*eps) + eps/sigma||^2 (no sigma^2 weight).
  ssm      : sliced SM, one v ~ N(0, I) per sample, loss v^T d(v^T s)/dx + 0.5 (v^T s)^2
             (Song et al. 2019 "SSM", not the variance-reduced variant).
Reports: median seconds/step (steps after the first WARMUP are timed one by one, each including
batch draw, forward, backward, Adam update), total loop seconds, final ||W-K||_F/||K||_F, and the
closed-form SM optimum W* = S^{-1} (S = biased sample covariance, mean removed) with its error.

Usage:  /usr/bin/python3 peers/torch_gauss_sm.py [--steps 2000] [--threads 2] [--data-dir DIR]
Prints one JSON line at the end.
"""
import argparse
import json
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


class Quadratic(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.A = torch.nn.Parameter(torch.eye(d, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.zeros(d, dtype=torch.float64))

    def W(self):
        return 0.5 * (self.A + self.A.t())

    def forward(self, x):
        W = self.W()
        return 0.5 * ((x @ W) * x).sum(1) - x @ self.b


def score(model, x):
    E = model(x)
    return -torch.autograd.grad(E.sum(), x, create_graph=True)[0]


def loss_exact_sm(model, x, g, d):
    x = x.clone().requires_grad_(True)
    s = score(model, x)
    trace = torch.zeros(x.shape[0], dtype=x.dtype)
    for i in range(d):
        trace = trace + torch.autograd.grad(s[:, i].sum(), x, create_graph=True)[0][:, i]
    return (0.5 * (s ** 2).sum(1) + trace).mean()


def loss_dsm(model, x, g, d, sigma=0.1):
    eps = torch.randn(x.shape, generator=g, dtype=x.dtype)
    xt = (x + sigma * eps).requires_grad_(True)
    s = score(model, xt)
    return 0.5 * ((s + eps / sigma) ** 2).sum(1).mean()


def loss_ssm(model, x, g, d):
    x = x.clone().requires_grad_(True)
    v = torch.randn(x.shape, generator=g, dtype=x.dtype)
    s = score(model, x)
    sv = (s * v).sum(1)
    gsv = torch.autograd.grad(sv.sum(), x, create_graph=True)[0]
    return ((gsv * v).sum(1) + 0.5 * sv ** 2).mean()


def sm_objective_full(W, b, X):
    """exact Hyvarinen objective on the full data: 0.5 mean||W x - b||^2 - tr W."""
    r = X @ W - b
    return float(0.5 * (r ** 2).sum(1).mean() - np.trace(W))


def run(name, lossfn, X, K, steps, batch, lr):
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    n, d = X.shape
    model = Quadratic(d)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    Xt = torch.from_numpy(X)
    times = []
    cpu_times = []
    s0 = cpu_snapshot()
    t0 = time.perf_counter()
    for it in range(steps):
        ts = time.perf_counter()
        cs = time.process_time()
        idx = torch.randint(0, n, (batch,), generator=g)
        loss = lossfn(model, Xt[idx], g, d)
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
    W = model.W().detach().numpy()
    b = model.b.detach().numpy()
    return {
        "contention": contention(s0, s1),
        "sec_per_step_median": statistics.median(times),
        "sec_per_step_mean": sum(times) / len(times),
        "cpu_sec_per_step_median": statistics.median(cpu_times),
        "total_sec": total,
        "steps": steps,
        "final_loss_minibatch": float(loss.item()),
        "sm_objective_full_data": sm_objective_full(W, b, X),
        "rel_fro_err": float(np.linalg.norm(W - K) / np.linalg.norm(K)),
        "min_eig_W": float(np.linalg.eigvalsh(W).min()),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0, help="seed for init, batches and noise (results below: 0)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=DEFAULT_DATA)
    args = ap.parse_args()
    global SEED
    SEED = args.seed
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)

    X = load(os.path.join(args.data_dir, "gauss20_train.csv"))
    K = load(os.path.join(args.data_dir, "gauss20_precision.csv"))
    mu = X.mean(0)
    S = (X - mu).T @ (X - mu) / X.shape[0]
    W_cf = np.linalg.inv(S)
    b_cf = W_cf @ mu
    sigma = 0.1
    W_dsm_limit = np.linalg.inv(S + sigma ** 2 * np.eye(X.shape[1]))
    out = {
        "script": "torch_gauss_sm.py",
        "torch": torch.__version__,
        "num_threads": torch.get_num_threads(), "seed": SEED,
        "openblas_num_threads": blas_threads(),
        "env_OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "n": X.shape[0], "d": X.shape[1], "batch": args.batch, "lr": args.lr, "warmup_steps_excluded": WARMUP,
        "closed_form_sm": {
            "rel_fro_err": float(np.linalg.norm(W_cf - K) / np.linalg.norm(K)),
            "sm_objective_full_data": sm_objective_full(W_cf, b_cf, X),
            "note": "W* = inv(biased sample covariance), b* = W* mean",
        },
        "dsm_sigma0.1_infinite_noise_limit": {
            "rel_fro_err": float(np.linalg.norm(W_dsm_limit - K) / np.linalg.norm(K)),
            "note": "W = inv(S + sigma^2 I): what DSM converges to with exact expectation over the noise",
        },
        "rel_fro_err_init_W_eq_I": float(np.linalg.norm(np.eye(X.shape[1]) - K) / np.linalg.norm(K)),
    }
    for name, fn in [("exact_sm", loss_exact_sm), ("dsm", loss_dsm), ("ssm", loss_ssm)]:
        out[name] = run(name, fn, X, K, args.steps, args.batch, args.lr)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
