package trainers

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/framework"
)

// Every registered component has documented options (a toml and a help tag on each field),
// defaults that validate, a constructor that accepts them and rejects a foreign type.
func TestRegister(t *testing.T) {
	r := framework.NewRegistry()
	Register(r)
	trainers := []string{"cd", "dsm", "mle", "nce", "pcd", "pl", "rm", "sm", "ssm"}
	optimizers := []string{"adam", "lbfgs", "newton", "sgd"}
	assert.Equal(t, trainers, framework.Names(r.Trainers), "every estimator of the package, and nothing else")
	assert.Equal(t, optimizers, framework.Names(r.Optimizers))
	checkOptions := func(t *testing.T, opts any) {
		v := reflect.ValueOf(opts)
		require.Equal(t, reflect.Pointer, v.Kind(), "Options must return a pointer")
		typ := v.Elem().Type()
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			assert.NotEmpty(t, f.Tag.Get("toml"), "%s.%s has no toml tag", typ.Name(), f.Name)
			assert.NotEmpty(t, f.Tag.Get("help"), "%s.%s has no help tag", typ.Name(), f.Name)
		}
		if val, ok := opts.(framework.Validator); ok {
			assert.NoError(t, val.Validate(), "defaults of %s", typ.Name())
		}
	}
	env := framework.Env{Dim: 2}
	for _, name := range trainers {
		t.Run(name, func(t *testing.T) {
			e := r.Trainers[name]
			assert.Equal(t, name, e.Name)
			assert.NotEmpty(t, e.Help)
			opts := e.Options()
			checkOptions(t, opts)
			tr, err := e.New(opts, env)
			require.NoError(t, err)
			require.NotNil(t, tr)
			_, err = e.New(struct{}{}, env)
			assert.Error(t, err)
		})
	}
	for _, name := range optimizers {
		t.Run(name, func(t *testing.T) {
			e := r.Optimizers[name]
			assert.Equal(t, name, e.Name)
			assert.NotEmpty(t, e.Help)
			opts := e.Options()
			checkOptions(t, opts)
			o, err := e.New(opts, env)
			require.NoError(t, err)
			if _, batch := o.(framework.BatchOptimizer); !batch {
				assert.Greater(t, o.LR(), 0.0, "a stepping optimizer has a learning rate")
			}
			_, err = e.New(struct{}{}, env)
			assert.Error(t, err)
		})
	}
	// The registered sm builds a ClosedFormer, nce an Extender, ssm reports its own paths.
	sm, _ := r.Trainers["sm"].New(&SMOptions{ClosedForm: true}, env)
	cf, ok := sm.(framework.ClosedFormer)
	require.True(t, ok)
	assert.True(t, cf.ClosedForm())
	nce, _ := r.Trainers["nce"].New(r.Trainers["nce"].Options(), env)
	_, ok = nce.(framework.Extender)
	assert.True(t, ok)
	ssm, _ := r.Trainers["ssm"].New(r.Trainers["ssm"].Options(), env)
	_, ok = ssm.(framework.PathReporter)
	assert.True(t, ok)
}

// A training step allocates nothing once its buffers are sized (with one evaluator worker:
// the Evaluator's own goroutines are not the trainers' business).
func TestStepNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	const d = 3
	x := correlatedRows(40, 51)
	newDSM := func(o DSMOptions) framework.Trainer { tr, _ := NewDenoisingScoreMatching(o); return tr }
	newSSM := func(o SSMOptions) framework.Trainer { tr, _ := NewSlicedScoreMatching(o); return tr }
	newNCE := func(o NCEOptions) framework.Trainer { tr, _ := NewNoiseContrastive(o); return tr }
	for _, tc := range []struct {
		name  string
		tr    framework.Trainer
		extra int
	}{
		{"sm", NewScoreMatching(SMOptions{}), 0},
		{"dsm", newDSM(DSMOptions{Sigma: 0.1, Draws: 2, Sigmas: []float64{1, 0.1}}), 0},
		{"ssm", newSSM(SSMOptions{Projections: 2, Projection: "rademacher"}), 0},
		{"ssm-vr", newSSM(SSMOptions{Projections: 1, Projection: "gaussian", VarianceReduced: true}), 0},
		{"nce", newNCE(DefaultNCEOptions()), 1},
		{"nce gmm", newNCE(NCEOptions{Noise: "gmm", Components: 2, EMSteps: 2, Nu: 1}), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, theta := mlp(t, d, 52)
			ev := framework.NewEvaluator(m)
			ev.Workers = 1
			require.NoError(t, tc.tr.Init(&framework.TrainContext{Eval: ev, Train: x}))
			theta = append(theta, make([]float64, tc.extra)...)
			grad := make([]float64, len(theta))
			ctx := &framework.StepContext{Eval: ev, RNG: rand.New(rand.NewPCG(1, 1))}
			_, err := tc.tr.Step(ctx, x, theta, grad)
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := tc.tr.Step(ctx, x, theta, grad); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs)
		})
	}
}
