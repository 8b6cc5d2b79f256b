package eval

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/framework"
)

// QuadratureOptions set the midpoint grid of LogZQuadrature. They are the [eval.quadrature]
// table of a run or study file.
type QuadratureOptions struct {
	Lo     []float64 `toml:"lo" help:"lower end of the grid per coordinate (one value: every coordinate)"`
	Hi     []float64 `toml:"hi" help:"upper end of the grid per coordinate (one value: every coordinate)"`
	Points int       `toml:"points" help:"midpoints per coordinate"`
	Band   float64   `toml:"band" help:"fraction of the points per side that make the boundary band whose mass is checked"`
	Tol    float64   `toml:"tol" help:"largest fraction of the mass allowed in the boundary band"`
}

// DefaultQuadratureOptions returns a 400-point grid on [−5, 5] per coordinate, a 5% band and a
// tolerance of 10⁻³: the mass outside the grid, of the order of the band's, then moves log Z
// (and the NLL) by about 10⁻³ nats at most. Tighten it for reference values.
func DefaultQuadratureOptions() QuadratureOptions {
	return QuadratureOptions{Lo: []float64{-5}, Hi: []float64{5}, Points: 400, Band: 0.05, Tol: 1e-3}
}

// Validate checks the options.
func (o *QuadratureOptions) Validate() error {
	switch {
	case o.Points < 2:
		return &framework.KeyError{Key: "points", Msg: fmt.Sprintf("must be ≥ 2, got %d", o.Points)}
	case len(o.Lo) == 0 || len(o.Hi) == 0:
		return &framework.KeyError{Key: "lo", Msg: "lo and hi need at least one value each"}
	case !(o.Band > 0 && o.Band < 0.5):
		return &framework.KeyError{Key: "band", Msg: fmt.Sprintf("must be in (0, 0.5), got %v", o.Band)}
	case !(o.Tol > 0 && o.Tol < 1):
		return &framework.KeyError{Key: "tol", Msg: fmt.Sprintf("must be in (0, 1), got %v", o.Tol)}
	}
	return nil
}

// Grid is a midpoint grid on a box of dimension 1 or 2: Points cells per coordinate, cell k of
// coordinate j centred at Lo[j] + (k + ½)·(Hi[j] − Lo[j])/Points. Point (k₀, k₁) is number
// k₀·Points + k₁ (the last coordinate runs fastest).
type Grid struct {
	Lo, Hi []float64
	Points int
}

// GridFor expands the options to a grid of dimension d (a single lo or hi value applies to
// every coordinate).
func (o QuadratureOptions) GridFor(d int) (Grid, error) {
	expand := func(key string, v []float64) ([]float64, error) {
		switch len(v) {
		case d:
			return append([]float64(nil), v...), nil
		case 1:
			out := make([]float64, d)
			for i := range out {
				out[i] = v[0]
			}
			return out, nil
		}
		return nil, &framework.KeyError{Key: key, Msg: fmt.Sprintf("has %d values for dimension %d: give one or %d", len(v), d, d)}
	}
	lo, err := expand("lo", o.Lo)
	if err != nil {
		return Grid{}, err
	}
	hi, err := expand("hi", o.Hi)
	if err != nil {
		return Grid{}, err
	}
	for j := range lo {
		if !(hi[j] > lo[j]) {
			return Grid{}, &framework.KeyError{Key: "hi", Msg: fmt.Sprintf("coordinate %d: hi %v is not above lo %v", j+1, hi[j], lo[j])}
		}
	}
	return Grid{Lo: lo, Hi: hi, Points: o.Points}, nil
}

// Dim returns the dimension of the grid.
func (g Grid) Dim() int { return len(g.Lo) }

// Size returns the number of grid points.
func (g Grid) Size() int {
	n := 1
	for range g.Lo {
		n *= g.Points
	}
	return n
}

// Step returns the cell width along coordinate j.
func (g Grid) Step(j int) float64 { return (g.Hi[j] - g.Lo[j]) / float64(g.Points) }

// Mid returns the midpoint of cell k along coordinate j.
func (g Grid) Mid(j, k int) float64 { return g.Lo[j] + (float64(k)+0.5)*g.Step(j) }

// point writes grid point number idx into dst and returns its cell index per coordinate.
func (g Grid) point(dst []float64, idx int) (k0, k1 int) {
	if len(dst) == 1 {
		dst[0] = g.Mid(0, idx)
		return idx, 0
	}
	k0, k1 = idx/g.Points, idx%g.Points
	dst[0], dst[1] = g.Mid(0, k0), g.Mid(1, k1)
	return k0, k1
}

// Quadrature is the result of LogZQuadrature.
type Quadrature struct {
	Grid Grid
	// LogZ is log Σ_cells exp(−E(midpoint))·(cell volume), the midpoint rule for log Z.
	LogZ float64
	// BoundaryMass is the fraction of the grid's mass in the band of cells along the boundary.
	BoundaryMass float64
	// Band is the number of cells per side in that band.
	Band int
	// LogDensity, when asked for, is −E − log Z at every grid point (numbered as in Grid).
	LogDensity []float64
}

// LogZQuadrature returns log Z = log ∫ exp(−E(x; θ)) dx of a continuous energy of dimension 1
// or 2 by the midpoint rule on the grid of o: cells of volume Πⱼ hⱼ, E evaluated at their
// centres through the Evaluator in chunks of enumRows points. For a smooth density that decays
// inside the box the rule converges faster than any power of h, and the error is dominated by
// the mass outside the box. That mass cannot be seen, so the mass in a band of cells along the
// boundary (Band·Points cells per side, at least one) stands in for it: when it exceeds o.Tol,
// LogZQuadrature returns the result together with a *BoundaryMassError. keepDensity asks for
// the log density on the grid (for plots).
func LogZQuadrature(ev *framework.Evaluator, theta []float64, o QuadratureOptions, keepDensity bool) (*Quadrature, error) {
	spec := ev.Spec()
	d := spec.Dim
	if spec.Domain != framework.Continuous || d < 1 || d > 2 {
		return nil, fmt.Errorf("quadrature: energy %s is %s of dimension %d; quadrature handles continuous energies of dimension 1 and 2: %w",
			spec.Name, spec.Domain, d, ErrUnsupported)
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("quadrature: %w", err)
	}
	g, err := o.GridFor(d)
	if err != nil {
		return nil, fmt.Errorf("quadrature: %w", err)
	}
	band := max(1, int(math.Ceil(o.Band*float64(g.Points))))
	inBand := func(k int) bool { return k < band || k >= g.Points-band }
	total := g.Size()
	q := &Quadrature{Grid: g, Band: band}
	if keepDensity {
		q.LogDensity = make([]float64, total)
	}
	rows := min(total, enumRows)
	x := mat.NewDense(rows, d, nil)
	var res framework.Result
	all, edge := newLSE(), newLSE()
	for first := 0; first < total; first += rows {
		n := min(rows, total-first)
		xs := x
		if n < rows {
			xs = x.Slice(0, n, 0, d).(*mat.Dense)
		}
		for i := 0; i < n; i++ {
			g.point(xs.RawRowView(i), first+i)
		}
		req := framework.Request{Outputs: framework.OutEnergy, X: xs, Theta: theta}
		if err := ev.Evaluate(&req, &res); err != nil {
			return nil, fmt.Errorf("quadrature: %w", err)
		}
		var p [2]float64
		for i, e := range res.Energy {
			all.add(-e)
			k0, k1 := g.point(p[:d], first+i)
			if inBand(k0) || (d == 2 && inBand(k1)) {
				edge.add(-e)
			}
			if keepDensity {
				q.LogDensity[first+i] = -e
			}
		}
	}
	logVol := 0.0
	for j := 0; j < d; j++ {
		logVol += math.Log(g.Step(j))
	}
	q.LogZ = all.value() + logVol
	if !math.IsInf(edge.max, -1) {
		q.BoundaryMass = math.Exp(edge.value() - all.value())
	}
	if keepDensity {
		for i := range q.LogDensity {
			q.LogDensity[i] -= q.LogZ
		}
	}
	if q.BoundaryMass > o.Tol {
		return q, &BoundaryMassError{Mass: q.BoundaryMass, Tol: o.Tol, Band: band}
	}
	return q, nil
}
