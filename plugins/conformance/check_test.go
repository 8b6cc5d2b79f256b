package conformance

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/examples/doublewell/doublewell"
	"github.com/goebm/goebm/plugins/sdk"
)

func serve(t *testing.T, entry framework.Entry[framework.Energy]) Options {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rc, done, err := sdk.ServeTest(ctx, nil, &entry)
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); <-done })
	return Options{Reattach: rc, Env: framework.Env{Dim: 3}, Seed: 1}
}

var allSteps = []string{"handshake", "describe", "schema", "bad_config", "configure", "bad_request", "open",
	"init_params", "contract", "large_message", "sample", "shutdown"}

func TestCheckPassesDoubleWell(t *testing.T) {
	opts := serve(t, doublewell.Entry())
	opts.Config = map[string]any{"init_center": 1.5}
	var out bytes.Buffer
	rep, err := Check(nil, opts, &out)
	require.NoError(t, err, out.String())
	for _, name := range allSteps {
		s, ok := rep.Step(name)
		require.True(t, ok, "step %s ran", name)
		assert.True(t, s.Pass, "%s: %s", name, s.Detail)
	}
	assert.Contains(t, out.String(), "PASS: 12 steps")
	assert.Contains(t, out.String(), "4 bad configurations refused"[2:])
	assert.Contains(t, out.String(), "mixed")
}

// wrongGradient is the double well with ∇ₓE off by 1 % in its first component.
type wrongGradient struct{ framework.Energy }

func (w wrongGradient) Evaluate(req *framework.Request, res *framework.Result) error {
	if err := w.Energy.Evaluate(req, res); err != nil {
		return err
	}
	if req.Outputs.Has(framework.OutGradX) {
		n, _ := res.GradX.Dims()
		for i := 0; i < n; i++ {
			res.GradX.Set(i, 0, 1.01*res.GradX.At(i, 0))
		}
	}
	return nil
}

// loose accepts any configuration key without complaint.
type loose struct{ Anything float64 }

func TestCheckFinds(t *testing.T) {
	t.Run("a wrong gradient", func(t *testing.T) {
		entry := doublewell.Entry()
		inner := entry.New
		entry.New = func(o any, env framework.Env) (framework.Energy, error) {
			e, err := inner(o, env)
			return wrongGradient{e}, err
		}
		var out bytes.Buffer
		rep, err := Check(nil, serve(t, entry), &out)
		require.Error(t, err)
		assert.Equal(t, []string{"contract"}, rep.Failed(), out.String())
		s, _ := rep.Step("contract")
		assert.Contains(t, s.Detail, "grad_x")
	})
	t.Run("a schema without help and a Validate that names no key", func(t *testing.T) {
		entry := doublewell.Entry()
		entry.Options = func() any { return &loose{} }
		inner := entry.New
		entry.New = func(_ any, env framework.Env) (framework.Energy, error) {
			return inner(doublewell.DefaultOptions(), env)
		}
		var out bytes.Buffer
		rep, _ := Check(nil, serve(t, entry), &out)
		s, _ := rep.Step("schema")
		assert.True(t, s.Warn, out.String())
		assert.Contains(t, s.Detail, "no help text for anything")
	})
}

func TestInfo(t *testing.T) {
	opts := serve(t, doublewell.Entry())
	var out bytes.Buffer
	require.NoError(t, Info(nil, opts, &out))
	for _, want := range []string{"goebm.v1", "init_center", "float", "1", "doublewell, continuous, capabilities [mixed,laplacian,hvp,mixed-self]", "6 parameters"} {
		assert.Contains(t, out.String(), want)
	}
}

func linearEntry(wrong bool) framework.Entry[framework.Energy] {
	return framework.Entry[framework.Energy]{Name: "gaussian", New: func(_ any, env framework.Env) (framework.Energy, error) {
		g, err := energy.NewGaussian(env.Dim, false)
		if wrong {
			return wrongStatistics{g}, err
		}
		return g, err
	}}
}

// wrongStatistics is a Gaussian whose statistics' Jacobian is off by 1 %.
type wrongStatistics struct{ *energy.Gaussian }

func (w wrongStatistics) Statistics(x []float64, jac *mat.Dense, lap []float64) {
	w.Gaussian.Statistics(x, jac, lap)
	jac.Scale(1.01, jac)
}

// The checks of capability linear (Statistics against Evaluate) and block-gibbs (domain,
// movement, determinism) pass for goebm's Gaussian and RBM served by the SDK, and the linear
// one fails for statistics 1 % off.
func TestCheckLinearAndBlockGibbs(t *testing.T) {
	var out bytes.Buffer
	rep, err := Check(nil, serve(t, linearEntry(false)), &out)
	require.NoError(t, err, out.String())
	s, ok := rep.Step("linear")
	require.True(t, ok, out.String())
	assert.Contains(t, s.Detail, "Statistics agree with Evaluate")

	out.Reset()
	rep, err = Check(nil, serve(t, linearEntry(true)), &out)
	require.Error(t, err)
	assert.Equal(t, []string{"linear"}, rep.Failed(), out.String())

	out.Reset()
	opts := serve(t, framework.Entry[framework.Energy]{Name: "rbm", New: func(_ any, env framework.Env) (framework.Energy, error) {
		return energy.NewRBM(env.Dim, 4)
	}})
	opts.Env = framework.Env{Dim: 5, Domain: framework.Binary}
	rep, err = Check(nil, opts, &out)
	require.NoError(t, err, out.String())
	s, ok = rep.Step("block_gibbs")
	require.True(t, ok, out.String())
	assert.True(t, s.Pass)
}
