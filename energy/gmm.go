package energy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// GMM is the negative log-density of a mixture of K isotropic Gaussians,
//
//	E(x) = −log Σₖ πₖ N(x; μₖ, σₖ²I),  π = softmax(logits),  σₖ = exp(log_scalesₖ),
//
// with blocks "logits" (K), "means" (K×d) and "log_scales" (K). Because E is −log p of a
// normalised density for every θ, its log-normaliser is 0 (LogNormaliser), which makes it an
// analytic target for samplers and for checking estimators of log Z; Sample draws from it
// exactly. Ring8 is the ring of 8 Gaussians of the ring8 data set.
//
// With ℓₖ = log πₖ + log N(x; μₖ, σₖ²I), responsibilities rₖ = softmax(ℓ)ₖ and
// gₖ = (x − μₖ)/σₖ²: ∇ₓE = ḡ = Σₖ rₖgₖ and ∇²ₓE = Σₖ rₖ(I/σₖ² − gₖgₖᵀ) + ḡḡᵀ. The θ-derivatives
// follow from ∂rₖ = rₖ(∂ℓₖ − Σⱼ rⱼ∂ℓⱼ) (see Evaluate). The ℓₖ of every row and component
// are exponentiated in one vectorised pass (expEval); the derivatives are then taken row by
// row, K and d being small for the targets this serves.
//
// InitParams writes the preset's θ when there is one; otherwise equal weights, unit scales
// and means drawn from N(0, I).
type GMM struct {
	d, k   int
	preset []float64
	pool   sync.Pool
}

type gmmWork struct {
	logPi, l, inv, cst []float64 // K each
	r, dist2           []float64 // the current row of rm and dm
	g                  []float64 // gₖ, K×d
	u, gbar            []float64 // d each
	lm, rm, dm         []float64 // ℓₖ − maxₖ ℓₖ, then rₖ; ‖x − μₖ‖²: n×K
	gm                 []float64 // gₖ of every row, n×K×d
	lz                 []float64 // log Σₖ exp ℓₖ = −E, n
	par, lbuf          []float64 // gmmPlane's constants (5K) and scratch (4K)
	xc, gx, mx, t      []float64 // gmmPlane's rows (n×2), gradients (n×2), max ℓ and Σ e (n)
}

// NewGMM returns a Gaussian mixture energy with k components on ℝ^d.
func NewGMM(d, k int) (*GMM, error) {
	if d < 1 || k < 1 {
		return nil, fmt.Errorf("gmm: dimension %d and %d components, want at least 1 of each", d, k)
	}
	g := &GMM{d: d, k: k}
	g.pool.New = func() any { return new(gmmWork) }
	return g, nil
}

// Ring8 returns the ring8 target: 8 equally weighted Gaussians in the plane with centres
// 2(cos kπ/4, sin kπ/4), k = 0…7, and standard deviation 0.25. InitParams writes its θ
// (Ring8Params).
func Ring8() *GMM {
	g, _ := NewGMM(2, 8)
	g.preset = Ring8Params()
	return g
}

// ln2Pi is log 2π (the float64 that math.Log(2*math.Pi) returns).
const ln2Pi = 1.8378770664093453

// Ring8Params returns θ of the ring8 mixture for a GMM with d = 2, K = 8.
func Ring8Params() []float64 {
	theta := make([]float64, 8+16+8)
	for k, c := range ring8Centres {
		theta[8+2*k], theta[8+2*k+1] = c[0], c[1]
		theta[24+k] = -2 * math.Ln2 // log 0.25
	}
	return theta
}

// ring8Centres holds 2(cos kπ/4, sin kπ/4) as float64(2·math.Cos(k·π/4)) and the same with
// math.Sin evaluate on amd64, written out so that the target does not depend on the machine
// (the trigonometric functions of the standard library may differ in the last bit between
// architectures).
var ring8Centres = [8][2]float64{
	{2, 0},
	{1.4142135623730951, 1.414213562373095},
	{1.2246467991473515e-16, 2},
	{-1.414213562373095, 1.4142135623730951},
	{-2, 2.449293598294703e-16},
	{-1.4142135623730954, -1.414213562373095},
	{-3.6739403974420544e-16, -2},
	{1.414213562373095, -1.4142135623730954},
}

// Spec describes the energy.
func (g *GMM) Spec() framework.Spec {
	return framework.Spec{
		Name: "gmm", Dim: g.d, Domain: framework.Continuous,
		Blocks: []framework.Block{{Name: "logits", Shape: []int{g.k}}, {Name: "means", Shape: []int{g.k, g.d}}, {Name: "log_scales", Shape: []int{g.k}}},
		Caps:   framework.CapMixed | framework.CapMixedSelf | framework.CapLaplacian | framework.CapHVP,
	}
}

func (g *GMM) numParams() int { return g.k * (g.d + 2) }

// InitParams writes the preset's θ, or logits 0, means from N(0, I) and log-scales 0.
func (g *GMM) InitParams(dst []float64, rng *rand.Rand) error {
	if g.preset != nil {
		copy(dst, g.preset)
		return nil
	}
	clear(dst)
	for i := g.k; i < g.k+g.k*g.d; i++ {
		dst[i] = rng.NormFloat64()
	}
	return nil
}

// SetPreset makes InitParams write θ (the parameters of a fixed target).
func (g *GMM) SetPreset(theta []float64) error {
	if len(theta) != g.numParams() {
		return fmt.Errorf("gmm: preset θ has %d parameters, want %d", len(theta), g.numParams())
	}
	g.preset = slices.Clone(theta)
	return nil
}

// LogNormaliser returns log ∫ exp(−E(x)) dx = 0: E is the negative log-density of a
// normalised mixture for every θ.
func (g *GMM) LogNormaliser() float64 { return 0 }

func (g *GMM) blocks(theta []float64) (logits, means, logScales []float64) {
	k, d := g.k, g.d
	return theta[:k], theta[k : k+k*d], theta[k+k*d:]
}

// Sample draws n points from the mixture at θ: a component with probability πₖ, then
// μₖ + σₖε with ε ~ N(0, I).
func (g *GMM) Sample(theta []float64, n int, rng *rand.Rand) (*mat.Dense, error) {
	if len(theta) != g.numParams() {
		return nil, fmt.Errorf("gmm: sample: θ has length %d, want %d", len(theta), g.numParams())
	}
	if n < 1 {
		return nil, fmt.Errorf("gmm: sample: %d points, want at least 1", n)
	}
	logits, means, logScales := g.blocks(theta)
	cum := make([]float64, g.k)
	m := slices.Max(logits)
	t := 0.0
	for k, l := range logits {
		t += expScalar(l - m)
		cum[k] = t
	}
	x := mat.NewDense(n, g.d, nil)
	for i := 0; i < n; i++ {
		u := rng.Float64() * t
		k := 0
		for k < g.k-1 && u >= cum[k] {
			k++
		}
		s := expScalar(logScales[k])
		row := x.RawRowView(i)
		for j := range row {
			row[j] = means[k*g.d+j] + float64(s*rng.NormFloat64())
		}
	}
	return x, nil
}

// Evaluate computes the requested outputs row by row. Per row, with ℓₖ, rₖ, gₖ, ḡ as in the
// type's documentation, δₖ = ‖x − μₖ‖²/σₖ² − d and weights w (param_vjp), v (laplacian_vjp):
//
//	∂E/∂logitsₖ = πₖ − rₖ,  ∂E/∂μₖ = −rₖgₖ,  ∂E/∂sₖ = −rₖδₖ,
//	mixed, with aₖ = u·gₖ, q = Σ rₖaₖ, ρₖ = rₖ(aₖ − q):
//	  logitsₖ: ρₖ,  μₖ: ρₖgₖ − rₖu/σₖ²,  sₖ: ρₖδₖ − 2rₖaₖ,
//	ΔₓE = Σₖ rₖcₖ + ‖ḡ‖² with cₖ = d/σₖ² − ‖gₖ‖²; with βₖ = cₖ + 2ḡ·gₖ, τₖ = rₖ(βₖ − Σⱼ rⱼβⱼ):
//	  logitsₖ: τₖ,  μₖ: τₖgₖ + 2rₖ(gₖ − ḡ)/σₖ²,  sₖ: τₖδₖ + rₖ(−2d/σₖ² + 4‖gₖ‖² − 4ḡ·gₖ),
//	∇²ₓE v = Σₖ rₖ(v/σₖ² − gₖ(gₖ·v)) + ḡ(ḡ·v).
func (g *GMM) Evaluate(req *framework.Request, res *framework.Result) error {
	K, d := g.k, g.d
	n, err := checkRequest("gmm", req, res, d, g.numParams())
	if err != nil || n == 0 {
		return err
	}
	ws := g.pool.Get().(*gmmWork)
	defer g.pool.Put(ws)
	ws.logPi, ws.l, ws.inv, ws.cst = numeric.Resize(ws.logPi, K), numeric.Resize(ws.l, K), numeric.Resize(ws.inv, K), numeric.Resize(ws.cst, K)
	ws.g, ws.u, ws.gbar = numeric.Resize(ws.g, K*d), numeric.Resize(ws.u, d), numeric.Resize(ws.gbar, d)
	logits, means, logScales := g.blocks(req.Theta)
	lse := logSumExpOf(logits)
	o := req.Outputs
	fd := float64(d)
	c0 := float64(fd * (0.5 * ln2Pi))
	for k, l := range logits {
		ws.logPi[k] = l - lse
		ws.inv[k] = expScalar(-2 * logScales[k])
		ws.cst[k] = ws.logPi[k] - float64(fd*logScales[k]) - c0
	}
	if d == 2 && o&^(framework.OutEnergy|framework.OutGradX) == 0 {
		g.evalPlane(ws, req, res, means, n)
		return nil
	}
	// ℓₖ for every row and component, then the responsibilities rₖ = exp(ℓₖ − max ℓ)/Σ and
	// log Σₖ exp ℓₖ, with one vectorised exp over the n×K block.
	nk := n * K
	ws.lm, ws.rm, ws.dm, ws.lz = numeric.Resize(ws.lm, nk), numeric.Resize(ws.rm, nk), numeric.Resize(ws.dm, nk), numeric.Resize(ws.lz, n)
	ws.gm = numeric.Resize(ws.gm, nk*d)
	raw := req.X.RawMatrix()
	for i := 0; i < n; i++ {
		x := raw.Data[i*raw.Stride : i*raw.Stride+d]
		lrow, drow := ws.lm[i*K:(i+1)*K], ws.dm[i*K:(i+1)*K]
		grw := ws.gm[i*K*d : (i+1)*K*d]
		mx := math.Inf(-1)
		for k := range lrow {
			mu, gk := means[k*d:(k+1)*d], grw[k*d:(k+1)*d]
			inv := ws.inv[k]
			sq := 0.0
			for j, xj := range x {
				diff := xj - mu[j]
				sq += float64(diff * diff)
				gk[j] = diff * inv
			}
			drow[k] = sq
			l := ws.cst[k] - float64(0.5*sq*inv)
			lrow[k] = l
			if l > mx {
				mx = l
			}
		}
		ws.lz[i] = mx
		if math.IsInf(mx, -1) {
			mx = 0 // every ℓₖ is −∞: E = +∞, which the Evaluator reports
		}
		for k := range lrow {
			lrow[k] -= mx
		}
	}
	expEval(ws.lm[:nk], ws.rm[:nk])
	for i := 0; i < n; i++ {
		r := ws.rm[i*K : (i+1)*K]
		t := 0.0
		for _, v := range r {
			t += v
		}
		inv := 1 / t
		for k := range r {
			r[k] *= inv
		}
		if o.Has(framework.OutEnergy) && !math.IsInf(ws.lz[i], -1) {
			ws.lz[i] += logOne(t)
		}
	}
	if o&^(framework.OutEnergy|framework.OutGradX) == 0 {
		// E and ∇ₓE = Σₖ rₖgₖ only.
		for i := 0; i < n; i++ {
			if o.Has(framework.OutEnergy) {
				res.Energy[i] = -ws.lz[i]
			}
			if o.Has(framework.OutGradX) {
				gx := res.GradX.RawRowView(i)
				r, gm := ws.rm[i*K:(i+1)*K], ws.gm[i*K*d:(i+1)*K*d]
				clear(gx)
				for k, rk := range r {
					for j, v := range gm[k*d : (k+1)*d] {
						gx[j] += float64(rk * v)
					}
				}
			}
		}
		return nil
	}
	for i := 0; i < n; i++ {
		ws.r, ws.dist2 = ws.rm[i*K:(i+1)*K], ws.dm[i*K:(i+1)*K]
		L := ws.lz[i]
		copy(ws.g, ws.gm[i*K*d:(i+1)*K*d])
		clear(ws.gbar)
		for k, rk := range ws.r {
			for j, v := range ws.g[k*d : (k+1)*d] {
				ws.gbar[j] += float64(rk * v)
			}
		}
		if o.Has(framework.OutEnergy) {
			res.Energy[i] = -L
		}
		if o.Has(framework.OutGradX) {
			copy(res.GradX.RawRowView(i), ws.gbar)
		}
		if o.Has(framework.OutParamVJP) {
			g.paramRow(ws, res.ParamVJP, weightOf(req.Weights, i))
		}
		if o.Has(framework.OutMixed) {
			u := ws.u
			if req.U != nil {
				copy(u, req.U.RawRowView(i))
			} else {
				clear(u)
			}
			for j := range u {
				u[j] += float64(req.MixedSelf * ws.gbar[j])
			}
			g.mixedRow(ws, res.Mixed)
		}
		if o.Has(framework.OutLaplacian) || o.Has(framework.OutLaplacianVJP) {
			lap := dot(ws.gbar, ws.gbar)
			for k := 0; k < K; k++ {
				gk := ws.g[k*d : (k+1)*d]
				lap += float64(ws.r[k] * (float64(fd*ws.inv[k]) - dot(gk, gk)))
			}
			if o.Has(framework.OutLaplacian) {
				res.Laplacian[i] = lap
			}
			if o.Has(framework.OutLaplacianVJP) {
				g.lapRow(ws, res.LaplacianVJP, weightOf(req.LapWeights, i))
			}
		}
		if o.Has(framework.OutHVP) {
			v, h := req.V.RawRowView(i), res.HVP.RawRowView(i)
			gv := dot(ws.gbar, v)
			for j := range h {
				h[j] = float64(ws.gbar[j] * gv)
			}
			for k := 0; k < K; k++ {
				gk := ws.g[k*d : (k+1)*d]
				a := dot(gk, v)
				for j := range h {
					h[j] += float64(ws.r[k] * (float64(v[j]*ws.inv[k]) - float64(gk[j]*a)))
				}
			}
		}
	}
	return nil
}

// evalPlane is Evaluate for E and ∇ₓE in the plane, by gmmPlane (gmm_plane.go).
func (g *GMM) evalPlane(ws *gmmWork, req *framework.Request, res *framework.Result, means []float64, n int) {
	K := g.k
	ws.par, ws.lbuf = numeric.Resize(ws.par, 5*K), numeric.Resize(ws.lbuf, 4*K)
	gmmPlaneParams(ws.par, means, ws.inv, ws.cst)
	raw := req.X.RawMatrix()
	x := raw.Data
	if raw.Stride != 2 {
		ws.xc = numeric.Resize(ws.xc, 2*n)
		for i := 0; i < n; i++ {
			copy(ws.xc[2*i:2*i+2], raw.Data[i*raw.Stride:])
		}
		x = ws.xc
	}
	ws.mx, ws.t = numeric.Resize(ws.mx, n), numeric.Resize(ws.t, n)
	var gx []float64
	direct := req.Outputs.Has(framework.OutGradX) && res.GradX.RawMatrix().Stride == 2
	if direct {
		gx = res.GradX.RawMatrix().Data
	} else {
		ws.gx = numeric.Resize(ws.gx, 2*n)
		gx = ws.gx
	}
	gmmPlane(x, n, K, ws.par, ws.lbuf, gx, ws.mx, ws.t)
	if req.Outputs.Has(framework.OutGradX) && !direct {
		for i := 0; i < n; i++ {
			copy(res.GradX.RawRowView(i), gx[2*i:2*i+2])
		}
	}
	if req.Outputs.Has(framework.OutEnergy) {
		logEval(ws.t[:n], ws.t[:n]) // log Σ e, vectorised
		for i := range res.Energy[:n] {
			res.Energy[i] = -(ws.mx[i] + ws.t[i])
		}
	}
}

// paramRow adds w∇θE of the current row.
func (g *GMM) paramRow(ws *gmmWork, dst []float64, w float64) {
	K, d := g.k, g.d
	dl, dm, ds := g.blocks(dst)
	for k := 0; k < K; k++ {
		r := ws.r[k]
		dl[k] += float64(w * (expScalar(ws.logPi[k]) - r))
		for j, v := range ws.g[k*d : (k+1)*d] {
			dm[k*d+j] -= float64(w * r * v)
		}
		ds[k] -= float64(w * r * (float64(ws.dist2[k]*ws.inv[k]) - float64(d)))
	}
}

// mixedRow adds ∇θ uᵀ∇ₓE of the current row, u in ws.u.
func (g *GMM) mixedRow(ws *gmmWork, dst []float64) {
	K, d := g.k, g.d
	dl, dm, ds := g.blocks(dst)
	q := dot(ws.u, ws.gbar)
	for k := 0; k < K; k++ {
		gk := ws.g[k*d : (k+1)*d]
		r := ws.r[k]
		a := dot(ws.u, gk)
		rho := float64(r * (a - q))
		dl[k] += rho
		for j, v := range gk {
			dm[k*d+j] += float64(rho*v) - float64(r*ws.u[j]*ws.inv[k])
		}
		ds[k] += float64(rho*(float64(ws.dist2[k]*ws.inv[k])-float64(d))) - float64(2*r*a)
	}
}

// lapRow adds v∇θΔₓE of the current row.
func (g *GMM) lapRow(ws *gmmWork, dst []float64, v float64) {
	K, d := g.k, g.d
	fd := float64(d)
	dl, dm, ds := g.blocks(dst)
	betaBar := 0.0
	for k := 0; k < K; k++ {
		gk := ws.g[k*d : (k+1)*d]
		beta := float64(fd*ws.inv[k]) - dot(gk, gk) + float64(2*dot(ws.gbar, gk))
		ws.l[k] = beta // ℓ is no longer needed for this row
		betaBar += float64(ws.r[k] * beta)
	}
	for k := 0; k < K; k++ {
		gk := ws.g[k*d : (k+1)*d]
		r := ws.r[k]
		tau := r * (ws.l[k] - betaBar)
		dl[k] += float64(v * tau)
		for j, gv := range gk {
			dm[k*d+j] += float64(v * (float64(tau*gv) + float64(2*r*(gv-ws.gbar[j])*ws.inv[k])))
		}
		gg, gb := dot(gk, gk), dot(ws.gbar, gk)
		ds[k] += float64(v * (float64(tau*(float64(ws.dist2[k]*ws.inv[k])-fd)) + float64(r*(float64(-2*fd*ws.inv[k])+float64(4*gg)-float64(4*gb)))))
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += float64(v * b[i])
	}
	return s
}

// logSumExpOf returns log Σ exp(sᵢ) without overflow, with the package's exp and log: gonum's
// floats.LogSumExp calls math.Exp and math.Log, whose last bit may depend on the machine.
func logSumExpOf(s []float64) float64 {
	m := math.Inf(-1)
	for _, v := range s {
		m = math.Max(m, v)
	}
	if math.IsInf(m, -1) {
		return m
	}
	t := 0.0
	for _, v := range s {
		t += expScalar(v - m)
	}
	return m + logOne(t)
}
