"""TorchEnergy: a goebm energy written as one PyTorch function, every output by autograd.

The author writes ``energy(self, x, params) -> tensor`` (x: n×d float64, params: θ's blocks by
name, float64 tensors; the answer: the n energies) plus the usual blocks, configure and
init_params; the adapter derives, in float64 on the CPU,

- ∇ₓE(xᵢ) by one backward pass,
- Σᵢ wᵢ∇θE(xᵢ) by one backward pass,
- the mixed product ∇θ Σᵢ uᵢᵀ∇ₓE(xᵢ), uᵢ = Uᵢ + mixed_self·∇ₓE(xᵢ) held fixed, as the θ-gradient
  of Σᵢ uᵢᵀ∇ₓE(xᵢ) with ∇ₓE built with create_graph,
- the exact Laplacian ΔₓE(xᵢ) by one double-backward pass per input dimension, and its θ-VJP
  Σᵢ vᵢ∇θΔₓE(xᵢ) by one more backward pass,
- Hessian-vector products ∇²ₓE(xᵢ)vᵢ by double backward,

and declares all of them (mixed, laplacian, hvp and mixed-self) to the host. Every output is
exact, so the host never falls back to finite differences.
"""

import numpy as np
import torch

from ._core import (CAP_HVP, CAP_LAPLACIAN, CAP_MIXED, CAP_MIXED_SELF, ENERGY, GRAD_X, HVP, LAPLACIAN,
                    LAPLACIAN_VJP, MIXED, PARAM_VJP, Energy)

torch.set_default_dtype(torch.float64)


class TorchEnergy(Energy):
    """Subclass it and write energy(x, params); see the module's documentation."""

    capabilities = CAP_MIXED | CAP_LAPLACIAN | CAP_HVP | CAP_MIXED_SELF
    implementation = "goebm Python SDK, TorchEnergy"

    def energy(self, x, params):
        raise NotImplementedError

    def evaluate(self, req):
        theta = torch.tensor(req.theta, dtype=torch.float64)
        flat = theta.clone().requires_grad_(True)
        params, off = {}, 0
        for name, shape in self.blocks():
            size = int(np.prod(shape))
            params[name] = flat[off:off + size].view(*shape)
            off += size
        x = torch.tensor(np.ascontiguousarray(req.x), dtype=torch.float64, requires_grad=True)
        n, d = x.shape
        second = req.outputs & (MIXED | LAPLACIAN | LAPLACIAN_VJP | HVP)
        e = self.energy(x, params)
        if e.shape != (n,):
            raise ValueError(f"energy returned shape {tuple(e.shape)}, want ({n},)")
        out = {}
        if req.wants(ENERGY):
            out["energy"] = e.detach().numpy().copy()
        if req.wants(PARAM_VJP):
            w = torch.tensor(req.weights)
            (gp,) = torch.autograd.grad((w * e).sum(), flat, retain_graph=True, allow_unused=True)
            out["param_vjp"] = _np(gp, flat)
        if not (req.outputs & GRAD_X or second):
            return out
        (g,) = torch.autograd.grad(e.sum(), x, create_graph=bool(second), retain_graph=bool(second))
        if req.wants(GRAD_X):
            out["grad_x"] = g.detach().numpy().copy()
        if req.wants(MIXED):
            u = torch.zeros(n, d) if req.u is None else torch.tensor(np.ascontiguousarray(req.u))
            u = u + req.mixed_self * g.detach()
            (gm,) = torch.autograd.grad((u * g).sum(), flat, retain_graph=True, allow_unused=True)
            out["mixed"] = _np(gm, flat)
        if req.wants(HVP):
            v = torch.tensor(np.ascontiguousarray(req.v))
            (h,) = torch.autograd.grad((g * v).sum(), x, retain_graph=True)
            out["hvp"] = h.detach().numpy().copy()
        if req.outputs & (LAPLACIAN | LAPLACIAN_VJP):
            need_vjp = req.wants(LAPLACIAN_VJP)
            lap = torch.zeros(n)
            for j in range(d):
                (hj,) = torch.autograd.grad(g[:, j].sum(), x, create_graph=need_vjp, retain_graph=True)
                lap = lap + hj[:, j]
            if req.wants(LAPLACIAN):
                out["laplacian"] = lap.detach().numpy().copy()
            if need_vjp:
                lw = torch.tensor(req.lap_weights)
                (gl,) = torch.autograd.grad((lw * lap).sum(), flat, allow_unused=True)
                out["laplacian_vjp"] = _np(gl, flat)
        return out


def _np(grad, like):
    """A gradient as a numpy vector; an unused θ has gradient zero."""
    if grad is None:
        return np.zeros(like.shape[0])
    return grad.detach().numpy().copy()
