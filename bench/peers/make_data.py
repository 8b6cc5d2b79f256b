#!/usr/bin/python3
"""Generate the shared benchmark data sets for the EBM peer baselines.

Usage:  /usr/bin/python3 peers/make_data.py [--out DIR]
        (default DIR: runs/peer-data of the repository)

Writes ring8_*, gauss20_*, digits_bin.csv, ising10_* and ising10_summary.json.
Every value is written with Python's repr() for floats (shortest string that
round-trips exactly to the same IEEE-754 binary64) or as a plain integer.
The script re-reads every file it writes and asserts exact round-trip.
Deterministic: same numpy/scipy/sklearn versions -> byte-identical files
(numpy Generator = PCG64, whose streams numpy guarantees stable).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import scipy
import scipy.linalg
import scipy.optimize
import sklearn
from sklearn.datasets import load_digits

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------
# CSV helpers
# --------------------------------------------------------------------------
def write_csv(path, header, rows, fmt="float"):
    with open(path, "w", newline="\n") as f:
        if header is not None:
            f.write(",".join(header) + "\n")
        for r in rows:
            if fmt == "float":
                f.write(",".join(repr(float(v)) for v in r) + "\n")
            else:
                f.write(",".join(str(int(v)) for v in r) + "\n")


def read_csv(path, header=True):
    return np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, ndmin=2)


def write_and_check(path, header, arr, fmt="float"):
    arr = np.asarray(arr)
    write_csv(path, header, arr, fmt)
    back = read_csv(path, header is not None)
    assert back.shape == arr.shape, (path, back.shape, arr.shape)
    assert np.array_equal(back, arr.astype(np.float64)), "round-trip failed: " + path
    return arr.shape


# --------------------------------------------------------------------------
# a. ring8
# --------------------------------------------------------------------------
RING8_SEED = 20261127
RING8_STD = 0.25


def ring8_centers():
    k = np.arange(8)
    return np.stack([2.0 * np.cos(k * np.pi / 4), 2.0 * np.sin(k * np.pi / 4)], axis=1)


def ring8_sample(rng, n):
    # component index first, then the 2-D standard normal noise (n x 2, row-major)
    comp = rng.integers(0, 8, size=n)
    eps = rng.standard_normal((n, 2))
    return ring8_centers()[comp] + RING8_STD * eps


def ring8_logpdf(x):
    c = ring8_centers()
    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    logc = -0.5 * d2 / RING8_STD**2 - np.log(2 * np.pi * RING8_STD**2) - np.log(8.0)
    m = logc.max(1, keepdims=True)
    return (m + np.log(np.exp(logc - m).sum(1, keepdims=True)))[:, 0]


# --------------------------------------------------------------------------
# b. gauss20
# --------------------------------------------------------------------------
GAUSS_SEED = 20261128
GAUSS_D = 20


def gauss20_precision():
    K = np.eye(GAUSS_D)
    for i in range(GAUSS_D - 1):
        K[i, i + 1] = K[i + 1, i] = -0.4
    return K


# --------------------------------------------------------------------------
# d. ising10
# --------------------------------------------------------------------------
ISING_D = 10
ISING_PARAM_SEED = 20261129
ISING_SAMPLE_SEED = 20261130
ISING_N = 5000
NEWTON_STEPS = 5  # exact-Hessian Newton polish after L-BFGS-B (brings |grad| to ~1e-16)


def ising_states(d=ISING_D):
    # state index b = 0..2^d-1 ; s_i = +1 if bit i of b is set else -1 (bit 0 = spin 1)
    b = np.arange(2**d)[:, None]
    return np.where((b >> np.arange(d)[None, :]) & 1, 1.0, -1.0)


IU = np.triu_indices(ISING_D, k=1)  # row-major order of (i, j), i < j


def unpack(theta):
    h = theta[:ISING_D]
    J = np.zeros((ISING_D, ISING_D))
    J[IU] = theta[ISING_D:]
    J = J + J.T
    return h, J


def pack(h, J):
    return np.concatenate([h, J[IU]])


def ising_logpot(S, h, J):
    # sum_i h_i s_i + sum_{i<j} J_ij s_i s_j  (J symmetric, zero diagonal)
    return S @ h + 0.5 * np.einsum("ni,ij,nj->n", S, J, S)


def logsumexp(a):
    m = a.max()
    return m + math.log(np.exp(a - m).sum())


def ising_logZ(h, J, S=None):
    S = ising_states() if S is None else S
    return logsumexp(ising_logpot(S, h, J))


def suff_stats(S):
    """mean of (s_i) and (s_i s_j, i<j) over rows of S."""
    n = S.shape[0]
    m1 = S.mean(0)
    m2 = (S.T @ S / n)[IU]
    return np.concatenate([m1, m2])


def avg_loglik(theta, data_stats, S_all):
    h, J = unpack(theta)
    return float(theta @ data_stats - ising_logZ(h, J, S_all))


def fit_mle(data):
    S_all = ising_states()
    phi_all = np.concatenate([S_all, (S_all[:, IU[0]] * S_all[:, IU[1]])], axis=1)  # 1024 x 55
    t = suff_stats(data)

    def f(theta):
        a = phi_all @ theta
        m = a.max()
        w = np.exp(a - m)
        Z = w.sum()
        logZ = m + math.log(Z)
        p = w / Z
        val = -(theta @ t - logZ)
        grad = -(t - p @ phi_all)
        return val, grad

    theta0 = np.zeros(t.shape[0])
    res = scipy.optimize.minimize(f, theta0, jac=True, method="L-BFGS-B",
                                  options=dict(maxiter=10000, ftol=1e-15, gtol=1e-12, maxcor=30))
    g_lbfgs = float(np.abs(f(res.x)[1]).max())
    # Newton polish: Hessian of -loglik = Cov_model(phi), exact by enumeration
    theta = res.x.copy()
    for _ in range(NEWTON_STEPS):
        a = phi_all @ theta
        p = np.exp(a - a.max())
        p /= p.sum()
        mu = p @ phi_all
        H = (phi_all * p[:, None]).T @ phi_all - np.outer(mu, mu)
        theta = theta - np.linalg.solve(H, f(theta)[1])
    res.x = theta
    g = f(res.x)[1]
    return res, g_lbfgs, float(np.abs(g).max())


def fit_mple(data):
    n, d = data.shape

    def f(theta):
        h, J = unpack(theta)
        a = h[None, :] + data @ J  # a_i = h_i + sum_{j!=i} J_ij s_j (J has zero diag)
        z = 2.0 * data * a
        # log p(s_i | s_-i) = -log(1 + exp(-2 s_i a_i))
        val = -np.logaddexp(0.0, -z).sum() / n
        r = data - np.tanh(a)  # d/da_i of log p(s_i|s_-i)
        gh = r.mean(0)
        GJ = (r.T @ data) / n  # GJ[i,j] = mean(r_i s_j)
        gJ = (GJ + GJ.T)[IU]
        return -val, -np.concatenate([gh, gJ])

    theta0 = np.zeros(d + d * (d - 1) // 2)
    res = scipy.optimize.minimize(f, theta0, jac=True, method="L-BFGS-B",
                                  options=dict(maxiter=10000, ftol=1e-15, gtol=1e-12, maxcor=30))
    g_lbfgs = float(np.abs(f(res.x)[1]).max())
    # Newton polish. a_i = h_i + sum_j J_ij s_j is linear in theta: a_i = D_i theta,
    # Hessian of -PL = mean_n sum_i (1 - tanh^2 a_i) D_i^T D_i.
    P = theta0.shape[0]
    D = np.zeros((d, n, P))
    pair = {}
    for k, (i, j) in enumerate(zip(*IU)):
        pair[(i, j)] = pair[(j, i)] = d + k
    for i in range(d):
        D[i, :, i] = 1.0
        for j in range(d):
            if j != i:
                D[i, :, pair[(i, j)]] = data[:, j]
    theta = res.x.copy()
    for _ in range(NEWTON_STEPS):
        h, J = unpack(theta)
        a = h[None, :] + data @ J
        w = 1.0 - np.tanh(a) ** 2  # n x d
        H = np.zeros((P, P))
        for i in range(d):
            H += (D[i] * w[:, i:i + 1]).T @ D[i]
        H /= n
        theta = theta - np.linalg.solve(H, f(theta)[1])
    res.x = theta
    g = f(res.x)[1]
    return res, g_lbfgs, float(np.abs(g).max())


def params_matrix(h, J):
    # row i: h_i, J_i1..J_i10 (symmetric J, zero diagonal)
    return np.concatenate([h[:, None], J], axis=1)


PARAM_HEADER = ["h"] + ["J%d" % (j + 1) for j in range(ISING_D)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.normpath(os.path.join(HERE, "..", "..", "runs", "peer-data")),
                    help="folder to write (default runs/peer-data of the repository; compare with examples/data, which stores ring8_train and gauss20_train gzipped)")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    summary = {"versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                            "scipy": scipy.__version__, "sklearn": sklearn.__version__}}

    # ---- a. ring8
    rng = np.random.default_rng(RING8_SEED)
    tr = ring8_sample(rng, 20000)
    te = ring8_sample(rng, 5000)
    write_and_check(os.path.join(out, "ring8_train.csv"), ["x1", "x2"], tr)
    write_and_check(os.path.join(out, "ring8_test.csv"), ["x1", "x2"], te)
    summary["ring8"] = {
        "train_shape": list(tr.shape), "test_shape": list(te.shape),
        "true_nll_train": float(-ring8_logpdf(tr).mean()),
        "true_nll_test": float(-ring8_logpdf(te).mean()),
        "true_mean": [0.0, 0.0], "true_cov": [[2.0625, 0.0], [0.0, 2.0625]],
    }

    # ---- b. gauss20
    K = gauss20_precision()
    L = np.linalg.cholesky(K)  # K = L L^T
    rng = np.random.default_rng(GAUSS_SEED)
    z = rng.standard_normal((20000, GAUSS_D))
    # x = L^{-T} z  ->  Cov(x) = L^{-T} L^{-1} = K^{-1}
    x = scipy.linalg.solve_triangular(L, z.T, lower=True, trans="T").T
    write_and_check(os.path.join(out, "gauss20_precision.csv"),
                    ["c%d" % (i + 1) for i in range(GAUSS_D)], K)
    write_and_check(os.path.join(out, "gauss20_train.csv"),
                    ["x%d" % (i + 1) for i in range(GAUSS_D)], x)
    S = np.cov(x, rowvar=False, bias=True)
    Kinv_hat = np.linalg.inv(S)
    summary["gauss20"] = {
        "train_shape": list(x.shape),
        "min_eig_K": float(np.linalg.eigvalsh(K).min()),
        "relfro_inv_sample_cov_biased": float(np.linalg.norm(Kinv_hat - K) / np.linalg.norm(K)),
        "sample_mean_maxabs": float(np.abs(x.mean(0)).max()),
    }

    # ---- c. digits_bin
    digits = load_digits()
    X = digits.data  # 1797 x 64, values 0..16
    B = (X / 16.0 > 0.5).astype(np.int64)
    write_and_check(os.path.join(out, "digits_bin.csv"), ["v%d" % (i + 1) for i in range(64)], B, fmt="int")
    summary["digits_bin"] = {"shape": list(B.shape), "mean_on": float(B.mean()),
                             "raw_source": os.path.join(os.path.dirname(sklearn.datasets.__file__),
                                                        "data", "digits.csv.gz")}

    # ---- d. ising10
    rng = np.random.default_rng(ISING_PARAM_SEED)
    Jup = rng.normal(0.0, 0.3, size=len(IU[0]))  # J_ij, i<j, row-major (1,2),(1,3),...,(9,10)
    h = rng.normal(0.0, 0.1, size=ISING_D)
    J = np.zeros((ISING_D, ISING_D))
    J[IU] = Jup
    J = J + J.T
    S_all = ising_states()
    lp = ising_logpot(S_all, h, J)
    logZ = logsumexp(lp)
    p = np.exp(lp - logZ)
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    rng = np.random.default_rng(ISING_SAMPLE_SEED)
    u = rng.random(ISING_N)
    idx = np.minimum(np.searchsorted(cdf, u, side="right"), 2**ISING_D - 1)
    data = S_all[idx].astype(np.int64)
    write_and_check(os.path.join(out, "ising10_params.csv"), PARAM_HEADER, params_matrix(h, J))
    write_and_check(os.path.join(out, "ising10_train.csv"), ["s%d" % (i + 1) for i in range(ISING_D)],
                    data, fmt="int")
    data = data.astype(np.float64)

    theta_true = pack(h, J)
    res_mle, g0_mle, g_mle = fit_mle(data)
    res_pl, g0_pl, g_pl = fit_mple(data)
    h_mle, J_mle = unpack(res_mle.x)
    h_pl, J_pl = unpack(res_pl.x)
    write_and_check(os.path.join(out, "ising10_mle.csv"), PARAM_HEADER, params_matrix(h_mle, J_mle))
    write_and_check(os.path.join(out, "ising10_mple.csv"), PARAM_HEADER, params_matrix(h_pl, J_pl))

    t = suff_stats(data)

    def mad(a, b, sl=slice(None)):
        return float(np.abs(a[sl] - b[sl]).max())

    hs, Js = slice(0, ISING_D), slice(ISING_D, None)
    # PL objective value at a parameter vector (average over samples of sum_i log p(s_i|s_-i))
    def pl_value(theta):
        hh, JJ = unpack(theta)
        a = hh[None, :] + data @ JJ
        return float(-np.logaddexp(0.0, -2.0 * data * a).sum() / data.shape[0])

    summary["ising10"] = {
        "n": ISING_N,
        "state_index_convention": "s_i = +1 if bit (i-1) of b is 1 else -1, b = 0..1023",
        "logZ_true": logZ,
        "logZ_mle": ising_logZ(h_mle, J_mle),
        "logZ_mple": ising_logZ(h_pl, J_pl),
        "avg_loglik_train_true": avg_loglik(theta_true, t, S_all),
        "avg_loglik_train_mle": avg_loglik(res_mle.x, t, S_all),
        "avg_loglik_train_mple": avg_loglik(res_pl.x, t, S_all),
        "avg_pl_train_true": pl_value(theta_true),
        "avg_pl_train_mle": pl_value(res_mle.x),
        "avg_pl_train_mple": pl_value(res_pl.x),
        "entropy_true_nats": float(-(p * np.log(p)).sum()),
        "mle_opt": {"success": bool(res_mle.success), "nit": int(res_mle.nit),
                    "max_abs_grad_after_lbfgs": g0_mle, "newton_steps": NEWTON_STEPS, "max_abs_grad": g_mle,
                    "message": str(res_mle.message)},
        "mple_opt": {"success": bool(res_pl.success), "nit": int(res_pl.nit),
                     "max_abs_grad_after_lbfgs": g0_pl, "newton_steps": NEWTON_STEPS, "max_abs_grad": g_pl,
                     "message": str(res_pl.message)},
        "maxabs": {
            "mle_vs_true_all": mad(res_mle.x, theta_true),
            "mle_vs_true_h": mad(res_mle.x, theta_true, hs),
            "mle_vs_true_J": mad(res_mle.x, theta_true, Js),
            "mple_vs_true_all": mad(res_pl.x, theta_true),
            "mple_vs_true_h": mad(res_pl.x, theta_true, hs),
            "mple_vs_true_J": mad(res_pl.x, theta_true, Js),
            "mle_vs_mple_all": mad(res_mle.x, res_pl.x),
            "mle_vs_mple_h": mad(res_mle.x, res_pl.x, hs),
            "mle_vs_mple_J": mad(res_mle.x, res_pl.x, Js),
        },
        "model_moment_match_mle_maxabs": None,
    }
    # moment matching check for the MLE: E_model[phi] == empirical mean of phi
    phi_all = np.concatenate([S_all, (S_all[:, IU[0]] * S_all[:, IU[1]])], axis=1)
    lpm = phi_all @ res_mle.x
    pm = np.exp(lpm - logsumexp(lpm))
    summary["ising10"]["model_moment_match_mle_maxabs"] = float(np.abs(pm @ phi_all - t).max())

    with open(os.path.join(out, "ising10_summary.json"), "w") as f:
        json.dump(summary["ising10"], f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "data_summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    summary["elapsed_s"] = time.time() - t0
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
