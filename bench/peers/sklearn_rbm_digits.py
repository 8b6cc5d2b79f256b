#!/usr/bin/python3
"""Peer baseline: scikit-learn BernoulliRBM on binarized digits.

Data    examples/data/digits_bin.csv (1797 x 64, 0/1).
Models  BernoulliRBM(n_components=H, learning_rate=0.05, batch_size=10, n_iter=20, random_state=0)
        for H = 64 (the main run) and H = 16 (small enough for an exact log Z).
        What sklearn 1.2 does (for re-implementers): W ~ N(0, 0.01^2) from RandomState(0), biases 0;
        fixed mini-batches in data order (no shuffling), gen_even_slices of ceil(1797/10)=180
        batches; PCD-1 with a persistent chain of batch_size=10 hidden samples; positive phase uses
        hidden means, negative phase samples v ~ p(v|h_chain) then uses hidden means; step
        lr/batch_len times the summed statistics.
Reports fit seconds (median of --repeats=5 identical, deterministic fits), seconds per epoch
        (= fit / n_iter), mean of sklearn score_samples (stochastic
        one-bit pseudo-likelihood: 64 * log sigmoid(F(v~) - F(v)) with ONE random bit flipped per
        row, RandomState(0) re-created at each call), the exact full pseudo-log-likelihood
        sum_{i=1..64} log p(v_i | v_-i) = sum_i log sigmoid(F(v^(i)) - F(v)), and for H = 16 the
        exact average log-likelihood -F(v) - log Z with log Z by enumerating the 2^16 hidden states:
        log Z = logsumexp_h [ c.h + sum_i softplus(b_i + (h W)_i) ].
        The log Z routine is checked against brute-force joint enumeration on a random 10x8 RBM.
        The fitted parameters are written to <data-dir>/rbm{16,64}_sklearn_digits_params.json
        (turn off with --no-dump).

Usage:  /usr/bin/python3 peers/sklearn_rbm_digits.py
Prints one JSON line at the end.
"""
import argparse
import itertools
import json
import os
import resource
import time

import numpy as np
import sklearn
from sklearn.neural_network import BernoulliRBM

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get("EBM_DATA_DIR", os.path.normpath(os.path.join(HERE, "..", "..", "examples", "data")))


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
    wall = s1[0] - s0[0]
    other = max(0.0, (s1[1] - s0[1]) - (s1[2] - s0[2]))
    return {"wall_sec": wall, "own_cpu_sec": s1[2] - s0[2], "other_procs_cpu_sec": other,
            "other_procs_cpu_frac_of_machine": other / (wall * os.cpu_count()) if wall > 0 else 0.0,
            "loadavg_at_end": open("/proc/loadavg").read().split()[:3]}


def softplus(x):
    return np.logaddexp(0.0, x)


def free_energy(V, W, b, c):
    """F(v) = -v.b - sum_j softplus(c_j + (v W^T)_j);  W: H x D (sklearn components_)."""
    return -V @ b - softplus(V @ W.T + c).sum(1)


def conditional_logliks(V, W, b, c):
    """N x D matrix of log p(v_i | v_-i) = log sigmoid(F(v^(i)) - F(v)) (v^(i): bit i flipped)."""
    A = V @ W.T + c
    F = -V @ b - softplus(A).sum(1)
    out = np.zeros(V.shape)
    for i in range(V.shape[1]):
        delta = 1.0 - 2.0 * V[:, i]  # +1 if bit goes 0->1, -1 if 1->0
        Fi = -(V @ b + delta * b[i]) - softplus(A + delta[:, None] * W[:, i][None, :]).sum(1)
        out[:, i] = -softplus(-(Fi - F))  # log sigmoid(Fi - F)
    return out


def logsumexp(a):
    m = a.max()
    return float(m + np.log(np.exp(a - m).sum()))


def logZ_enum_hidden(W, b, c, chunk=1 << 14):
    H = W.shape[0]
    vals = []
    for start in range(0, 1 << H, chunk):
        idx = np.arange(start, min(start + chunk, 1 << H))
        Hs = ((idx[:, None] >> np.arange(H)[None, :]) & 1).astype(np.float64)
        vals.append(Hs @ c + softplus(Hs @ W + b).sum(1))
    return logsumexp(np.concatenate(vals))


def logZ_brute(W, b, c):
    H, D = W.shape
    tot = []
    for v in itertools.product([0.0, 1.0], repeat=D):
        v = np.array(v)
        for h in itertools.product([0.0, 1.0], repeat=H):
            h = np.array(h)
            tot.append(v @ b + h @ c + h @ W @ v)
    return logsumexp(np.array(tot))


def fit_one(V, H, dump_path, repeats):
    # the fit is deterministic (random_state=0), so it is repeated only to time it; all repeats
    # must give bit-identical parameters (checked)
    fit_times = []
    ref = None
    s0 = cpu_snapshot()
    for _ in range(repeats):
        rbm = BernoulliRBM(n_components=H, learning_rate=0.05, batch_size=10, n_iter=20, random_state=0)
        t0 = time.perf_counter()
        rbm.fit(V)
        fit_times.append(time.perf_counter() - t0)
        if ref is None:
            ref = rbm.components_.copy()
        assert np.array_equal(ref, rbm.components_), "BernoulliRBM fit not reproducible"
    s1 = cpu_snapshot()
    fit_sec = float(np.median(fit_times))
    W, b, c = rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_
    t1 = time.perf_counter()
    ss = rbm.score_samples(V)
    score_sec = time.perf_counter() - t1
    t2 = time.perf_counter()
    L = conditional_logliks(V, W, b, c)
    pl = L.sum(1)
    pl_sec = time.perf_counter() - t2
    # sklearn's estimator D * L[n, i_n] with i_n uniform has expectation mean_n sum_i L[n, i] = full PL;
    # its standard error as a mean over N rows:
    X = V.shape[1] * L
    se = float(np.sqrt((np.mean(X ** 2) - np.mean(X) ** 2) / V.shape[0]))
    res = {
        "n_components": H,
        "fit_sec": fit_sec,
        "fit_sec_all_repeats": fit_times,
        "fit_sec_min": min(fit_times),
        "sec_per_epoch": fit_sec / rbm.n_iter,
        "n_iter": rbm.n_iter,
        "score_samples_mean": float(ss.mean()),
        "score_samples_sec": score_sec,
        "full_pseudo_loglik_mean": float(pl.mean()),
        "full_pseudo_loglik_per_bit": float(pl.mean() / V.shape[1]),
        "full_pl_sec": pl_sec,
        "score_samples_std_error": se,
        "score_samples_z": float((ss.mean() - pl.mean()) / se),
        "mean_free_energy": float(free_energy(V, W, b, c).mean()),
        "contention_during_fit": contention(s0, s1),
    }
    if H <= 20:
        t3 = time.perf_counter()
        logZ = logZ_enum_hidden(W, b, c)
        res["logZ_exact"] = logZ
        res["exact_avg_loglik"] = float(-free_energy(V, W, b, c).mean() - logZ)
        res["exact_avg_loglik_per_bit"] = res["exact_avg_loglik"] / V.shape[1]
        res["logZ_sec"] = time.perf_counter() - t3
    if dump_path:
        with open(dump_path, "w") as f:
            json.dump({"components_W_HxD": W.tolist(), "intercept_visible_b": b.tolist(),
                       "intercept_hidden_c": c.tolist(),
                       "energy": "E(v,h) = -v.b - h.c - h W v; F(v) = -v.b - sum_j softplus(c_j + (W v)_j)",
                       "made_by": "peers/sklearn_rbm_digits.py, sklearn %s, BernoulliRBM(n_components=%d, "
                                  "learning_rate=0.05, batch_size=10, n_iter=20, random_state=0) on digits_bin.csv"
                                  % (sklearn.__version__, H)}, f)
            f.write("\n")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=DEFAULT_DATA)
    ap.add_argument("--no-dump", action="store_true", default=True)
    ap.add_argument("--dump", dest="no_dump", action="store_false", help="write the fitted parameters into --data-dir")
    ap.add_argument("--repeats", type=int, default=5, help="timed fits per model (median reported)")
    args = ap.parse_args()
    V = np.loadtxt(os.path.join(args.data_dir, "digits_bin.csv"), delimiter=",", skiprows=1)

    # self-check of the log Z routine: hidden enumeration vs joint brute force on a random 10 x 8 RBM
    r = np.random.default_rng(0)
    Wt, bt, ct = r.normal(0, 0.5, (8, 10)), r.normal(0, 0.5, 10), r.normal(0, 0.5, 8)
    chk = abs(logZ_enum_hidden(Wt, bt, ct) - logZ_brute(Wt, bt, ct))

    out = {"script": "sklearn_rbm_digits.py", "sklearn": sklearn.__version__, "numpy": np.__version__,
           "openblas_num_threads": blas_threads(), "env_OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "data_shape": list(V.shape), "logZ_selfcheck_abs_err": chk}
    for H in (64, 16):
        dump = None if args.no_dump else os.path.join(args.data_dir, "rbm%d_sklearn_digits_params.json" % H)
        out["rbm%d" % H] = fit_one(V, H, dump, args.repeats)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
