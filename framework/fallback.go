package framework

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// fdScratch holds the buffers of the finite-difference fallbacks, reused between calls.
type fdScratch struct {
	xp, xm, u *mat.Dense
	rp, rm    Result
	w, h, th  []float64
}

// derive computes the outputs in o that the energy does not compute exactly, by central
// differences of outputs it does compute. Each is exact for energies quadratic in x and
// O(h²) otherwise; the step along a direction uᵢ is h/‖uᵢ‖ so that the error does not grow
// with the direction's length.
func (ev *Evaluator) derive(req *Request, res *Result, o Output) error {
	n, d := req.X.Dims()
	s := &ev.scratch
	s.xp = resizeDense(s.xp, n, d)
	s.xm = resizeDense(s.xm, n, d)
	s.w = resize(s.w, n)
	s.h = resize(s.h, n)
	h := ev.step()

	if o.Has(OutHVP) {
		if err := ev.shift(req.X, req.V, h); err != nil {
			return err
		}
		if err := ev.gradPair(); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			gp, gm, out := s.rp.GradX.RawRowView(i), s.rm.GradX.RawRowView(i), res.HVP.RawRowView(i)
			for j := range out {
				if s.h[i] == 0 {
					out[j] = 0
					continue
				}
				out[j] = (gp[j] - gm[j]) / (2 * s.h[i])
			}
		}
	}
	if o.Has(OutMixed) {
		s.u = resizeDense(s.u, n, d)
		if req.U != nil {
			s.u.Copy(req.U)
		} else {
			s.u.Zero()
		}
		if req.MixedSelf != 0 {
			s.u.Add(s.u, scaled(res.GradX, req.MixedSelf, s.xp))
		}
		if err := ev.shift(req.X, s.u, h); err != nil {
			return err
		}
		for i := range s.w {
			if s.h[i] == 0 {
				s.w[i] = 0
			} else {
				s.w[i] = 1 / (2 * s.h[i])
			}
		}
		if err := ev.paramPair(req.Theta, s.w, s.w, res.Mixed, -1); err != nil {
			return err
		}
	}
	if o.Has(OutLaplacian) {
		for i := range res.Laplacian {
			res.Laplacian[i] = 0
		}
		for k := 0; k < d; k++ {
			ev.shiftAxis(req.X, k, h)
			if err := ev.gradPair(); err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				res.Laplacian[i] += (s.rp.GradX.At(i, k) - s.rm.GradX.At(i, k)) / (2 * h)
			}
		}
	}
	if o.Has(OutParamJac) {
		if err := ev.paramJac(req, res.ParamJac, h); err != nil {
			return err
		}
	}
	if o.Has(OutLaplacianVJP) {
		// ∇θ ∂²ₖE ≈ [∇θE(x+heₖ) − 2∇θE(x) + ∇θE(x−heₖ)]/h², weighted by vᵢ and summed over k.
		v := req.LapWeights
		if v == nil {
			for i := range s.w {
				s.w[i] = 1
			}
			v = s.w
		}
		out := res.LaplacianVJP
		for i := range out {
			out[i] = 0
		}
		for k := 0; k < d; k++ {
			ev.shiftAxis(req.X, k, h)
			if err := ev.paramPair(req.Theta, v, v, out, 1); err != nil {
				return err
			}
		}
		s.rp.Reset(OutParamVJP, n, d, len(req.Theta))
		if err := ev.run(&Request{Outputs: OutParamVJP, X: req.X, Theta: req.Theta, Weights: v}, &s.rp); err != nil {
			return err
		}
		for j := range out {
			out[j] = (out[j] - 2*float64(d)*s.rp.ParamVJP[j]) / (h * h)
		}
	}
	return nil
}

// paramJac writes ∇θE(xᵢ) into the rows of dst by central differences of E in θ: column k
// is [E(x; θ + hₖeₖ) − E(x; θ − hₖeₖ)]/2hₖ with hₖ = h·max(1, |θₖ|), exact up to rounding for
// energies linear in θ and O(hₖ²) otherwise. It costs 2p energy passes over the rows.
func (ev *Evaluator) paramJac(req *Request, dst *mat.Dense, h float64) error {
	s := &ev.scratch
	n, d := req.X.Dims()
	p := len(req.Theta)
	s.th = append(s.th[:0], req.Theta...)
	for k := 0; k < p; k++ {
		t := req.Theta[k]
		hk := h * math.Max(1, math.Abs(t))
		hk = (t + hk) - t
		s.rp.Reset(OutEnergy, n, d, p)
		s.rm.Reset(OutEnergy, n, d, p)
		s.th[k] = t + hk
		if err := ev.run(&Request{Outputs: OutEnergy, X: req.X, Theta: s.th}, &s.rp); err != nil {
			return err
		}
		s.th[k] = t - hk
		if err := ev.run(&Request{Outputs: OutEnergy, X: req.X, Theta: s.th}, &s.rm); err != nil {
			return err
		}
		s.th[k] = t
		for i := 0; i < n; i++ {
			dst.Set(i, k, (s.rp.Energy[i]-s.rm.Energy[i])/(2*hk))
		}
	}
	return nil
}

// shift sets xp, xm = X ± hᵢ·dirᵢ with hᵢ = h/‖dirᵢ‖ (zero for a zero direction).
func (ev *Evaluator) shift(x, dir *mat.Dense, h float64) error {
	s := &ev.scratch
	n, _ := x.Dims()
	for i := 0; i < n; i++ {
		xi, di := x.RawRowView(i), dir.RawRowView(i)
		norm := 0.0
		for _, v := range di {
			norm += v * v
		}
		norm = math.Sqrt(norm)
		hi := 0.0
		if norm > 0 {
			hi = h / norm
		}
		s.h[i] = hi
		p, m := s.xp.RawRowView(i), s.xm.RawRowView(i)
		for j := range xi {
			p[j] = xi[j] + hi*di[j]
			m[j] = xi[j] - hi*di[j]
		}
	}
	return nil
}

// shiftAxis sets xp, xm = X ± h·eₖ.
func (ev *Evaluator) shiftAxis(x *mat.Dense, k int, h float64) {
	s := &ev.scratch
	s.xp.Copy(x)
	s.xm.Copy(x)
	n, _ := x.Dims()
	for i := 0; i < n; i++ {
		s.xp.Set(i, k, s.xp.At(i, k)+h)
		s.xm.Set(i, k, s.xm.At(i, k)-h)
	}
}

// gradPair evaluates ∇ₓE at xp and xm (with the request's θ held by the caller's last run).
func (ev *Evaluator) gradPair() error {
	s := &ev.scratch
	n, d := s.xp.Dims()
	p := ev.spec.NumParams()
	s.rp.Reset(OutGradX, n, d, p)
	s.rm.Reset(OutGradX, n, d, p)
	if err := ev.run(&Request{Outputs: OutGradX, X: s.xp, Theta: ev.theta}, &s.rp); err != nil {
		return err
	}
	return ev.run(&Request{Outputs: OutGradX, X: s.xm, Theta: ev.theta}, &s.rm)
}

// paramPair adds sign_p·Σᵢ wpᵢ∇θE(xpᵢ) and signM·Σᵢ wmᵢ∇θE(xmᵢ) to dst, with sign_p = +1
// and signM given.
func (ev *Evaluator) paramPair(theta, wp, wm, dst []float64, signM float64) error {
	s := &ev.scratch
	n, d := s.xp.Dims()
	p := len(theta)
	s.rp.Reset(OutParamVJP, n, d, p)
	s.rm.Reset(OutParamVJP, n, d, p)
	if err := ev.run(&Request{Outputs: OutParamVJP, X: s.xp, Theta: theta, Weights: wp}, &s.rp); err != nil {
		return err
	}
	if err := ev.run(&Request{Outputs: OutParamVJP, X: s.xm, Theta: theta, Weights: wm}, &s.rm); err != nil {
		return err
	}
	for j := range dst {
		dst[j] += s.rp.ParamVJP[j] + signM*s.rm.ParamVJP[j]
	}
	return nil
}

// scaled returns c·m in buf (resized as needed).
func scaled(m *mat.Dense, c float64, buf *mat.Dense) *mat.Dense {
	buf.Scale(c, m)
	return buf
}
