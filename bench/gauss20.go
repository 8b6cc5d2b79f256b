package bench

import (
	"context"
	"fmt"
	"math"

	"github.com/goebm/goebm/run"
)

// gauss20 is torch_gauss_sm.py: the quadratic energy E(x) = ½xᵀWx − bᵀx, W = (A+Aᵀ)/2 from
// A = I, b = 0, on gauss20 (20000 × 20), Adam lr 1e-2, batch 256, 2000 steps. The peer draws
// its batches with replacement; the framework's loop shuffles the rows at every epoch (the
// same expected gradient and, at batch 256 of 20000 rows, the same noise to within 1.3%).
const gauss20Config = `
[data]
train = "gauss20_train.csv.gz"

[energy]
builtin = "gaussian"

[trainer]
%s

[optimizer]
method = "adam"
lr = 1e-2

[train]
batch = 256
steps = %d
shuffle = true
`

func gauss20Workloads() []Workload {
	mk := func(name, peer, trainer string) Workload {
		return Workload{
			Name: "gauss20/" + name, Group: "gauss20", Peer: peer, Unit: "step",
			Accuracy: "‖W−K‖/‖K‖",
			Run: func(ctx context.Context, env *Env) (*Sample, error) {
				return runGauss20(ctx, env, trainer)
			},
			RunFile: func(env *Env) string { return fmt.Sprintf(gauss20Config, trainer, env.steps(2000)) },
		}
	}
	return []Workload{
		mk("exact_sm", "exact_sm", `method = "sm"`),
		mk("dsm", "dsm", "method = \"dsm\"\nsigma = 0.1"),
		mk("ssm", "ssm", "method = \"ssm\"\nprojections = 1\nprojection = \"gaussian\""),
	}
}

func runGauss20(ctx context.Context, env *Env, trainer string) (*Sample, error) {
	b, err := env.config("bench-gauss20.toml", fmt.Sprintf(gauss20Config, trainer, env.steps(2000)))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	k, err := env.data("gauss20_precision.csv")
	if err != nil {
		return nil, err
	}
	s, _, err := env.train(ctx, b)
	if err != nil {
		return nil, err
	}
	s.Accuracy, err = precisionError(b, k.RawMatrix().Data)
	return s, err
}

// precisionError returns ‖W − K‖_F/‖K‖_F with W = (A + Aᵀ)/2 from the block "W" of θ.
func precisionError(b *run.Built, k []float64) (float64, error) {
	off, size, ok := b.Spec.BlockOffset("W")
	if !ok || size != len(k) {
		return 0, fmt.Errorf("bench: energy %s has no %d-entry block W", b.Spec.Name, len(k))
	}
	d := int(math.Round(math.Sqrt(float64(size))))
	a := b.Run.Theta[off : off+size]
	num, den := 0.0, 0.0
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			w := 0.5 * (a[i*d+j] + a[j*d+i])
			num += (w - k[i*d+j]) * (w - k[i*d+j])
			den += k[i*d+j] * k[i*d+j]
		}
	}
	return math.Sqrt(num / den), nil
}
