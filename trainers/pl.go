package trainers

// Pseudolikelihood (Besag 1975): the loss is the negative mean log pseudolikelihood
//
//	L(θ) = −(1/n) Σ_r Σᵢ log p(x_ri | x_r,−i; θ),   p(x; θ) ∝ exp(−E(x; θ)),
//
// which needs only one-dimensional normalisers, never the joint log Z.
//
// Binary {0,1}^d and spin {−1,+1}^d energies: exact. Let x⁽ⁱ⁾ be x with bit i flipped
// (1−xᵢ or −xᵢ). Then
//
//	log p(xᵢ | x₋ᵢ) = −E(x) − log(exp(−E(x)) + exp(−E(x⁽ⁱ⁾))) = −softplus(E(x) − E(x⁽ⁱ⁾)),
//
// so L = (1/n) Σ_r Σᵢ softplus(E(x_r) − E(x_r⁽ⁱ⁾)) and, with qᵢ = σ(E(x) − E(x⁽ⁱ⁾)) the
// conditional probability of the flipped value,
//
//	∇θL = (1/n) Σ_r [ (Σᵢ qᵢ) ∇θE(x_r) − Σᵢ qᵢ ∇θE(x_r⁽ⁱ⁾) ].
//
// One step stacks every point and its d one-bit flips, n·(d+1) rows, and asks the energy
// for E on the whole stack, then for the parameter vector-Jacobian product on the same
// stack with the weights above. Two passes, because the weights are functions of the
// energies: a single OutEnergy|OutParamVJP request would need its weights before the
// energies exist. (A one-pass form would need per-row ∇θE, which the contract does not
// offer, or stale weights from the previous step, which would bias the gradient.) Without
// a gradient the step makes the first pass only.
//
// Continuous energies: each conditional's normaliser Zᵢ(x₋ᵢ) = ∫ exp(−E(x₋ᵢ, t)) dt is
// computed by the trapezoid rule on the fixed grid t_k = grid_low + k·h, k = 0..G−1,
// h = (grid_high − grid_low)/(G−1), with weights h (h/2 at both ends), in log-sum-exp form:
//
//	log p(xᵢ | x₋ᵢ) ≈ −E(x) − log Σ_k w_k exp(−E(x₋ᵢ, t_k)),
//	∇θL = (1/n) Σ_r Σᵢ [ ∇θE(x_r) − Σ_k π_rik ∇θE(x_r,−i, t_k) ],  π_rik ∝ w_k exp(−E_rik).
//
// Its error has two parts. Truncation: the conditional mass outside [grid_low, grid_high]
// is ignored. Discretisation: for a smooth integrand f the trapezoid rule errs by
// −(b−a)h²f''(ξ)/12, but when f and its derivatives are negligible at both ends (the grid
// covers the conditional's mass) the Euler–Maclaurin corrections vanish and the error
// falls faster than any power of h: for a Gaussian conditional of standard deviation s
// the relative error of Zᵢ is 2·exp(−2π²s²/h²)·cos(2π(μ − grid_low)/h) to leading order
// (Poisson summation), below 1e-12 once h ≤ s/1.2. So choose
// the grid to cover the data with a margin of several conditional standard deviations, and
// h a fraction of the narrowest one. Data outside the grid are an error (they would have a
// conditional density the quadrature cannot see). A step evaluates n·(1 + d·G) rows,
// processed in groups of whole data rows of at most plMaxRows rows.
//
// Optional L1 penalty l1·‖θ_B‖₁ on the parameter block B = l1_block (graph selection on
// Ising couplings): Step returns the penalised loss L + l1·‖θ_B‖₁ but the gradient of the
// smooth part L only; the non-smooth part is handled by Prox, the soft threshold
// θ_B ← sign(θ_B)·max(|θ_B| − lr·l1, 0) after each optimizer update (proximal gradient).
// For the ising energy, whose block J holds both Jᵢⱼ and Jⱼᵢ, the penalty counts each
// coupling twice.
//
// Reference: J. Besag, "Statistical analysis of non-lattice data", The Statistician 24
// (1975) 179–195; proximal gradient: Parikh and Boyd, "Proximal algorithms" (2014) §4.2.

import (
	"fmt"
	"math"
	"strings"

	"github.com/goebm/goebm/internal/numeric"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// plMaxRows bounds the rows of one stacked request of continuous pseudolikelihood.
const plMaxRows = 1 << 15

// PLOptions are the [trainer] keys of method "pl".
type PLOptions struct {
	L1         float64 `toml:"l1" help:"L1 penalty weight on the block l1_block, applied by proximal soft-threshold steps (0 = off)"`
	L1Block    string  `toml:"l1_block" help:"name of the parameter block the L1 penalty acts on (e.g. J, the ising couplings)"`
	GridLow    float64 `toml:"grid_low" help:"continuous data: lower end of the 1-D quadrature grid for each conditional's normaliser"`
	GridHigh   float64 `toml:"grid_high" help:"continuous data: upper end of the quadrature grid; the data must lie in [grid_low, grid_high]"`
	GridPoints int     `toml:"grid_points" help:"continuous data: number of trapezoid-rule points on the grid (≥ 3)"`
}

// DefaultPLOptions returns the defaults of the pl trainer.
func DefaultPLOptions() PLOptions {
	return PLOptions{L1: 0, L1Block: "J", GridLow: -10, GridHigh: 10, GridPoints: 201}
}

// Validate checks the option values.
func (o *PLOptions) Validate() error {
	switch {
	case !(o.L1 >= 0) || math.IsInf(o.L1, 0):
		return &framework.KeyError{Key: "l1", Msg: fmt.Sprintf("must be a finite number ≥ 0, got %v", o.L1)}
	case o.L1 > 0 && o.L1Block == "":
		return &framework.KeyError{Key: "l1_block", Msg: "must name a parameter block when l1 > 0"}
	case math.IsNaN(o.GridLow) || math.IsInf(o.GridLow, 0):
		return &framework.KeyError{Key: "grid_low", Msg: fmt.Sprintf("must be finite, got %v", o.GridLow)}
	case math.IsNaN(o.GridHigh) || math.IsInf(o.GridHigh, 0):
		return &framework.KeyError{Key: "grid_high", Msg: fmt.Sprintf("must be finite, got %v", o.GridHigh)}
	case o.GridHigh <= o.GridLow:
		return &framework.KeyError{Key: "grid_high", Msg: fmt.Sprintf("must be greater than grid_low (%v), got %v", o.GridLow, o.GridHigh)}
	case o.GridPoints < 3:
		return &framework.KeyError{Key: "grid_points", Msg: fmt.Sprintf("must be at least 3, got %d", o.GridPoints)}
	}
	return nil
}

func registerPL(r *framework.Registry) {
	r.Trainers["pl"] = framework.NewEntry("pl", "pseudolikelihood −mean Σᵢ log p(xᵢ|x₋ᵢ): exact over one-bit flips for binary/spin, trapezoid quadrature on [grid_low, grid_high] for continuous; optional L1 by proximal steps",
		DefaultPLOptions, func(o PLOptions, _ framework.Env) (framework.Trainer, error) { return NewPseudolikelihood(o), nil })
}

// Pseudolikelihood is the pl trainer. It keeps its workspaces between steps, so it is not
// safe for concurrent use.
type Pseudolikelihood struct {
	opts PLOptions
	spec framework.Spec

	l1Off, l1Size int // the L1 block in θ

	// continuous: the grid and the log trapezoid weights
	grid, logW []float64

	stack *mat.Dense
	req   framework.Request
	res   framework.Result
	w     []float64
	// grad accumulates the ParamVJP of each group (continuous case)
	acc []float64
}

// NewPseudolikelihood returns a pl trainer with the given options (see PLOptions.Validate).
func NewPseudolikelihood(opts PLOptions) *Pseudolikelihood {
	return &Pseudolikelihood{opts: opts}
}

// Init checks the energy's domain, the L1 block and that the training data lie in the
// domain (binary, spin) or on the quadrature grid (continuous).
func (t *Pseudolikelihood) Init(ctx *framework.TrainContext) error {
	if err := t.opts.Validate(); err != nil {
		return fmt.Errorf("pl: %w", err)
	}
	t.spec = ctx.Eval.Spec()
	switch t.spec.Domain {
	case framework.Binary, framework.Spin, framework.Continuous:
	default:
		return fmt.Errorf("pl: energy %s has domain %v: %w (pl handles binary, spin and continuous; try cd)",
			t.spec.Name, t.spec.Domain, framework.ErrUnsupportedDomain)
	}
	if t.opts.L1 > 0 {
		off, size, ok := t.spec.BlockOffset(t.opts.L1Block)
		if !ok {
			return fmt.Errorf("pl: %w", &framework.KeyError{Key: "l1_block", Msg: fmt.Sprintf(
				"energy %s has no parameter block %q; its blocks are %s",
				t.spec.Name, t.opts.L1Block, plBlockNames(t.spec))})
		}
		t.l1Off, t.l1Size = off, size
	}
	if t.spec.Domain == framework.Continuous {
		g := t.opts.GridPoints
		t.grid = make([]float64, g)
		t.logW = make([]float64, g)
		h := (t.opts.GridHigh - t.opts.GridLow) / float64(g-1)
		for k := range t.grid {
			t.grid[k] = t.opts.GridLow + float64(k)*h
			t.logW[k] = math.Log(h)
		}
		t.grid[g-1] = t.opts.GridHigh
		t.logW[0] = math.Log(h / 2)
		t.logW[g-1] = math.Log(h / 2)
	}
	if ctx.Train != nil {
		if err := t.checkData(ctx.Train, "training data"); err != nil {
			return err
		}
	}
	return nil
}

// Paths reports how the trainer computes its loss, for the run summary.
func (t *Pseudolikelihood) Paths() map[string]string {
	if t.spec.Domain == framework.Continuous {
		return map[string]string{"pl_normaliser": fmt.Sprintf(
			"trapezoid rule, %d points on [%g, %g]", t.opts.GridPoints, t.opts.GridLow, t.opts.GridHigh)}
	}
	return map[string]string{"pl_normaliser": "exact (enumerated one-bit flips)"}
}

func (t *Pseudolikelihood) checkData(x *mat.Dense, what string) error {
	if t.spec.Domain == framework.Continuous {
		return plCheckGrid(x, t.opts.GridLow, t.opts.GridHigh, what)
	}
	if err := plCheckDomain(x, t.spec.Domain, what); err != nil {
		return fmt.Errorf("pl: energy %s: %w", t.spec.Name, err)
	}
	return nil
}

// Step returns the (penalised) negative mean log pseudolikelihood of batch at θ and, when
// grad is not nil, the gradient of its smooth part.
func (t *Pseudolikelihood) Step(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	p := t.spec.NumParams()
	if len(theta) < p {
		return 0, fmt.Errorf("pl: θ has %d parameters, energy %s needs %d", len(theta), t.spec.Name, p)
	}
	if grad != nil && len(grad) != len(theta) {
		return 0, fmt.Errorf("pl: gradient has length %d, θ has %d", len(grad), len(theta))
	}
	if n, _ := batch.Dims(); n == 0 {
		return 0, fmt.Errorf("pl: empty batch")
	}
	if err := t.checkData(batch, "batch"); err != nil {
		return 0, err
	}
	var loss float64
	var err error
	if t.spec.Domain == framework.Continuous {
		loss, err = t.stepContinuous(ctx, batch, theta[:p], grad)
	} else {
		loss, err = t.stepDiscrete(ctx.Eval, batch, theta[:p], grad)
	}
	if err != nil {
		return 0, err
	}
	if t.opts.L1 > 0 {
		s := 0.0
		for _, v := range theta[t.l1Off : t.l1Off+t.l1Size] {
			s += math.Abs(v)
		}
		loss += t.opts.L1 * s
	}
	return loss, nil
}

func (t *Pseudolikelihood) stepDiscrete(ev *framework.Evaluator, batch *mat.Dense, theta, grad []float64) (float64, error) {
	n, d := batch.Dims()
	t.stack = plFlipStack(t.stack, batch, t.spec.Domain)
	e, err := plStackEnergies(ev, &t.req, &t.res, t.stack, theta)
	if err != nil {
		return 0, fmt.Errorf("pl: %w", err)
	}
	t.w = numeric.Resize(t.w, len(e))
	inv := 1 / float64(n)
	loss := 0.0
	for r := 0; r < n; r++ {
		base := r * (d + 1)
		e0 := e[base]
		sum := 0.0
		for i := 1; i <= d; i++ {
			z := e0 - e[base+i]
			loss += numeric.Softplus(z)
			q := numeric.Sigmoid(z)
			sum += q
			t.w[base+i] = -q * inv
		}
		t.w[base] = sum * inv
	}
	loss *= inv
	if grad == nil {
		return loss, nil
	}
	if err := plStackVJP(ev, &t.req, &t.res, t.stack, theta, t.w, grad); err != nil {
		return 0, fmt.Errorf("pl: %w", err)
	}
	return loss, nil
}

func (t *Pseudolikelihood) stepContinuous(ctx *framework.StepContext, batch *mat.Dense, theta, grad []float64) (float64, error) {
	var each func(r0, r1 int) error
	if grad != nil {
		for j := range grad {
			grad[j] = 0
		}
		t.acc = numeric.Resize(t.acc, len(theta))
		each = func(int, int) error {
			if err := plStackVJP(ctx.Eval, &t.req, &t.res, t.stack, theta, t.w, t.acc); err != nil {
				return fmt.Errorf("pl: %w", err)
			}
			for j, v := range t.acc {
				grad[j] += v
			}
			return nil
		}
	}
	return t.continuousGroups(ctx, batch, theta, each)
}

// continuousGroups computes the continuous pseudolikelihood of batch at θ group by group of
// data rows: for each group [r0, r1) it stacks each row and its grid rows in t.stack, computes
// their energies and the weights t.w of the gradient (∇θL = Σ t.w ∇θE over the stacks), then
// calls each (when not nil) before the next group overwrites them.
func (t *Pseudolikelihood) continuousGroups(ctx *framework.StepContext, batch *mat.Dense, theta []float64, each func(r0, r1 int) error) (float64, error) {
	ev := ctx.Eval
	n, d := batch.Dims()
	g := len(t.grid)
	per := 1 + d*g
	group := max(1, plMaxRows/per)
	inv := 1 / float64(n)
	loss := 0.0
	for r0 := 0; r0 < n; r0 += group {
		if err := ctx.Err(); err != nil { // interrupted: the loop undoes the step
			return 0, fmt.Errorf("pl: rows %d to %d of %d: %w", r0, min(n, r0+group), n, err)
		}
		r1 := min(n, r0+group)
		rows := (r1 - r0) * per
		t.stack = numeric.ResizeDense(t.stack, rows, d)
		for r := r0; r < r1; r++ {
			x := batch.RawRowView(r)
			base := (r - r0) * per
			copy(t.stack.RawRowView(base), x)
			for i := 0; i < d; i++ {
				for k, tk := range t.grid {
					row := t.stack.RawRowView(base + 1 + i*g + k)
					copy(row, x)
					row[i] = tk
				}
			}
		}
		e, err := plStackEnergies(ev, &t.req, &t.res, t.stack, theta)
		if err != nil {
			return 0, fmt.Errorf("pl: %w", err)
		}
		t.w = numeric.Resize(t.w, rows)
		for r := 0; r < r1-r0; r++ {
			base := r * per
			loss += float64(d) * e[base]
			t.w[base] = float64(d) * inv
			for i := 0; i < d; i++ {
				ei := e[base+1+i*g : base+1+(i+1)*g]
				wi := t.w[base+1+i*g : base+1+(i+1)*g]
				// log Zᵢ = log Σ_k w_k exp(−E_k), by log-sum-exp around the largest term.
				m := math.Inf(-1)
				for k, v := range ei {
					m = math.Max(m, t.logW[k]-v)
				}
				s := 0.0
				for k, v := range ei {
					a := math.Exp(t.logW[k] - v - m)
					wi[k] = a
					s += a
				}
				loss += m + math.Log(s)
				c := -inv / s
				for k := range wi {
					wi[k] *= c
				}
			}
		}
		if each != nil {
			if err := each(r0, r1); err != nil {
				return 0, err
			}
		}
	}
	return loss * inv, nil
}

// Prox applies the proximal map of lr·l1·‖θ_B‖₁ to θ: the soft threshold of block B by
// lr·l1. It does nothing when l1 is 0.
func (t *Pseudolikelihood) Prox(theta []float64, lr float64) {
	if t.opts.L1 <= 0 || t.l1Size == 0 {
		return
	}
	plSoftThreshold(theta[t.l1Off:t.l1Off+t.l1Size], lr*t.opts.L1)
}

// plSoftThreshold sets each v to sign(v)·max(|v| − c, 0).
func plSoftThreshold(v []float64, c float64) {
	for j, x := range v {
		switch {
		case x > c:
			v[j] = x - c
		case x < -c:
			v[j] = x + c
		default:
			v[j] = 0
		}
	}
}

// plFlipStack writes into dst (reusing its storage) the n·(d+1) rows [x_r; x_r⁽¹⁾; …; x_r⁽ᵈ⁾]
// for each row x_r of x, x⁽ⁱ⁾ being x with coordinate i flipped in domain dom (1−xᵢ for
// binary, −xᵢ for spins).
func plFlipStack(dst, x *mat.Dense, dom framework.Domain) *mat.Dense {
	n, d := x.Dims()
	dst = numeric.ResizeDense(dst, n*(d+1), d)
	for r := 0; r < n; r++ {
		xr := x.RawRowView(r)
		base := r * (d + 1)
		copy(dst.RawRowView(base), xr)
		for i := 0; i < d; i++ {
			row := dst.RawRowView(base + 1 + i)
			copy(row, xr)
			if dom == framework.Binary {
				row[i] = 1 - row[i]
			} else {
				row[i] = -row[i]
			}
		}
	}
	return dst
}

// plStackEnergies asks ev for E on every row of x and returns the energies (a view of res).
func plStackEnergies(ev *framework.Evaluator, req *framework.Request, res *framework.Result, x *mat.Dense, theta []float64) ([]float64, error) {
	*req = framework.Request{Outputs: framework.OutEnergy, X: x, Theta: theta}
	if err := ev.Evaluate(req, res); err != nil {
		return nil, err
	}
	return res.Energy, nil
}

// plStackVJP writes Σᵢ wᵢ∇θE(xᵢ) into dst.
func plStackVJP(ev *framework.Evaluator, req *framework.Request, res *framework.Result, x *mat.Dense, theta, w, dst []float64) error {
	*req = framework.Request{Outputs: framework.OutParamVJP, X: x, Theta: theta, Weights: w}
	if err := ev.Evaluate(req, res); err != nil {
		return err
	}
	copy(dst, res.ParamVJP)
	for j := len(res.ParamVJP); j < len(dst); j++ {
		dst[j] = 0 // parameters the energy does not see (a trainer's own blocks)
	}
	return nil
}

// plCheckDomain returns an error, wrapping framework.ErrUnsupportedDomain, naming the first
// entry of x that is not in the discrete domain dom (rows and columns 1-based).
func plCheckDomain(x *mat.Dense, dom framework.Domain, what string) error {
	raw := x.RawMatrix()
	for r := 0; r < raw.Rows; r++ {
		for j, v := range raw.Data[r*raw.Stride : r*raw.Stride+raw.Cols] {
			ok := (dom == framework.Binary && (v == 0 || v == 1)) || (dom == framework.Spin && (v == -1 || v == 1))
			if !ok {
				want := "{0, 1}"
				if dom == framework.Spin {
					want = "{−1, +1}"
				}
				return fmt.Errorf("%s row %d, column %d: value %v is not in the energy's %v domain %s: %w",
					what, r+1, j+1, v, dom, want, framework.ErrUnsupportedDomain)
			}
		}
	}
	return nil
}

// plCheckGrid returns an error naming the first entry of x outside [lo, hi] and the keys
// that move the grid (rows and columns 1-based).
func plCheckGrid(x *mat.Dense, lo, hi float64, what string) error {
	raw := x.RawMatrix()
	for r := 0; r < raw.Rows; r++ {
		for j, v := range raw.Data[r*raw.Stride : r*raw.Stride+raw.Cols] {
			if !(v >= lo && v <= hi) {
				return fmt.Errorf("pl: %s row %d, column %d: value %v lies outside the quadrature grid [%g, %g]; "+
					"set grid_low and grid_high in the [trainer] table so that the grid covers the data "+
					"with a margin of several conditional standard deviations", what, r+1, j+1, v, lo, hi)
			}
		}
	}
	return nil
}

func plBlockNames(s framework.Spec) string {
	names := make([]string, len(s.Blocks))
	for i, b := range s.Blocks {
		names[i] = fmt.Sprintf("%q", b.Name)
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
