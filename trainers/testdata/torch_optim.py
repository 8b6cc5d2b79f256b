#!/usr/bin/python3
"""Reference trajectories of torch.optim.Adam and torch.optim.SGD for trainers/optim_test.go.

The gradient is a fixed polynomial of θ, g(θ) = (θ − t) + 0.1 (θ − t)³ elementwise, computed
in plain float64 Python (the Go test computes it with the same operations in the same order),
so the trajectories depend only on the optimizers' update rules. 60 steps; the learning rate
is changed after step 30 (to check SetLR). Run:
    /usr/bin/python3 torch_optim.py > torch_optim.json
(Debian bookworm python3-torch 1.13, float64, CPU.)
"""
import json

import torch

T = [0.5, -1.25, 2.0, 0.0, -0.3, 3.7]
X0 = [0.0, 1.0, -2.0, 0.25, 4.0, -1.5]
STEPS = 60


def grad(theta):
    out = []
    for th, t in zip(theta, T):
        e = th - t
        out.append(e + 0.1 * (e * e * e))
    return out


def run(make, lr2):
    p = torch.nn.Parameter(torch.tensor(X0, dtype=torch.float64))
    opt = make([p])
    traj = []
    for k in range(STEPS):
        if k == STEPS // 2:
            for g in opt.param_groups:
                g["lr"] = lr2
        p.grad = torch.tensor(grad(p.detach().tolist()), dtype=torch.float64)
        opt.step()
        traj.append(p.detach().tolist())
    return traj


out = {
    "torch": torch.__version__,
    "target": T, "theta0": X0, "steps": STEPS,
    "adam": {"lr": 0.05, "lr2": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
             "trajectory": run(lambda ps: torch.optim.Adam(ps, lr=0.05), 0.01)},
    "adam_custom": {"lr": 0.1, "lr2": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6,
                    "trajectory": run(lambda ps: torch.optim.Adam(ps, lr=0.1, betas=(0.8, 0.99), eps=1e-6), 0.02)},
    "sgd": {"lr": 0.05, "lr2": 0.02, "momentum": 0.0, "nesterov": False,
            "trajectory": run(lambda ps: torch.optim.SGD(ps, lr=0.05), 0.02)},
    "sgd_momentum": {"lr": 0.05, "lr2": 0.02, "momentum": 0.9, "nesterov": False,
                     "trajectory": run(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), 0.02)},
    "sgd_nesterov": {"lr": 0.05, "lr2": 0.02, "momentum": 0.9, "nesterov": True,
                     "trajectory": run(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True), 0.02)},
}
print(json.dumps(out))
