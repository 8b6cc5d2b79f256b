package energy

import (
	"fmt"

	"github.com/goebm/goebm/framework"
)

// checkRequest validates the sizes of a request against an energy of dimension d with p
// parameters, so that a malformed request is an error rather than a panic. It returns the
// number of rows; an empty X (no rows) is valid and leaves the result as Reset made it.
func checkRequest(name string, req *framework.Request, res *framework.Result, d, p int) (int, error) {
	if req.X == nil {
		return 0, fmt.Errorf("energy %s: request has no points (X is nil)", name)
	}
	n, c := req.X.Dims()
	if n == 0 {
		if len(req.Theta) != p {
			return 0, fmt.Errorf("energy %s: %w", name, &framework.ShapeError{What: "θ", Want: fmt.Sprint(p), Got: fmt.Sprint(len(req.Theta))})
		}
		return 0, nil
	}
	shape := func(what, want, got string) error {
		return fmt.Errorf("energy %s: %w", name, &framework.ShapeError{What: what, Want: want, Got: got})
	}
	if c != d {
		return n, shape("X", fmt.Sprintf("n×%d", d), fmt.Sprintf("%d×%d", n, c))
	}
	if len(req.Theta) != p {
		return n, shape("θ", fmt.Sprint(p), fmt.Sprint(len(req.Theta)))
	}
	o := req.Outputs
	if req.Weights != nil && len(req.Weights) != n {
		return n, shape("Weights", fmt.Sprint(n), fmt.Sprint(len(req.Weights)))
	}
	if req.LapWeights != nil && len(req.LapWeights) != n {
		return n, shape("LapWeights", fmt.Sprint(n), fmt.Sprint(len(req.LapWeights)))
	}
	if req.U != nil {
		if r, c := req.U.Dims(); r != n || c != d {
			return n, shape("U", fmt.Sprintf("%d×%d", n, d), fmt.Sprintf("%d×%d", r, c))
		}
	}
	if o.Has(framework.OutHVP) {
		if req.V == nil {
			return n, fmt.Errorf("energy %s: request for hvp has no V", name)
		}
		if r, c := req.V.Dims(); r != n || c != d {
			return n, shape("V", fmt.Sprintf("%d×%d", n, d), fmt.Sprintf("%d×%d", r, c))
		}
	}
	vec := func(on framework.Output, what string, s []float64, want int) error {
		if o.Has(on) && len(s) != want {
			return shape("result "+what, fmt.Sprint(want), fmt.Sprint(len(s)))
		}
		return nil
	}
	mat := func(on framework.Output, what string, has bool, r, c int) error {
		if o.Has(on) && (!has || r != n || c != d) {
			return shape("result "+what, fmt.Sprintf("%d×%d", n, d), fmt.Sprintf("%d×%d", r, c))
		}
		return nil
	}
	var gr, gc, hr, hc int
	if res.GradX != nil {
		gr, gc = res.GradX.Dims()
	}
	if res.HVP != nil {
		hr, hc = res.HVP.Dims()
	}
	for _, err := range []error{
		vec(framework.OutEnergy, "energy", res.Energy, n),
		vec(framework.OutParamVJP, "param_vjp", res.ParamVJP, p),
		vec(framework.OutMixed, "mixed", res.Mixed, p),
		vec(framework.OutLaplacian, "laplacian", res.Laplacian, n),
		vec(framework.OutLaplacianVJP, "laplacian_vjp", res.LaplacianVJP, p),
		mat(framework.OutGradX, "grad_x", res.GradX != nil, gr, gc),
		mat(framework.OutHVP, "hvp", res.HVP != nil, hr, hc),
		paramJacShape(o, res, n, p),
	} {
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// paramJacShape checks the result buffer of OutParamJac: n×p.
func paramJacShape(o framework.Output, res *framework.Result, n, p int) error {
	if !o.Has(framework.OutParamJac) {
		return nil
	}
	var r, c int
	if res.ParamJac != nil {
		r, c = res.ParamJac.Dims()
	}
	if r != n || c != p {
		return &framework.ShapeError{What: "result param_jac", Want: fmt.Sprintf("%d×%d", n, p), Got: fmt.Sprintf("%d×%d", r, c)}
	}
	return nil
}
