package bench

import (
	"context"
	"fmt"

	"github.com/goebm/goebm/eval"
	"github.com/goebm/goebm/run"
)

// digits is sklearn_rbm_digits.py: BernoulliRBM(n_components=64, learning_rate=0.05,
// batch_size=10, n_iter=20) on digits_bin (1797 × 64), batches in data order.
//
// scikit-learn's update is PCD-1 with a persistent chain of batch_size = 10 hidden states:
// v⁻ ~ p(v|h), the negative statistics at the hidden means of v⁻, then h ~ p(h|v⁻) kept for
// the next batch; θ += (lr/n)(Σ positive − Σ negative statistics), n the batch's rows. On the
// visible units this is one block-Gibbs sweep v → h → v of 10 persistent chains per update,
// which is the pcd trainer with k = 1, chains = 10 and the block Gibbs sampler, and the step
// −lr·∇(mean E(data) − mean E(chains)) of plain SGD is the same update. Two details differ by
// construction: the chains start from uniform bits, where scikit-learn starts its hidden
// chain at h = 0 (so that its first v⁻ is uniform bits as well, since b = 0); and on the last
// batch of each epoch (7 rows) scikit-learn divides the 10 chains' statistics by 7, the pcd
// trainer by 10 (one update in 180). The weights start from N(0, 0.01²) as scikit-learn's,
// but from another random stream.
const digitsConfig = `
[data]
train = "digits_bin.csv"

[energy]
builtin = "rbm"
[energy.config]
hidden = 64

[trainer]
method = "pcd"
k = 1
chains = 10
init = "uniform"

[sampler]
method = "gibbs"
block = true

[optimizer]
method = "sgd"
lr = 0.05

[train]
batch = 10
steps = 0
epochs = %d
shuffle = false
`

func digitsWorkloads() []Workload {
	return []Workload{{
		Name: "digits/rbm64", Group: "digits", Peer: "rbm64", Unit: "epoch",
		Accuracy: "full pseudo-log-likelihood", Higher: true,
		Run:     runDigits,
		RunFile: func(env *Env) string { return fmt.Sprintf(digitsConfig, env.epochs()) },
	}}
}

func runDigits(ctx context.Context, env *Env) (*Sample, error) {
	epochs := env.epochs()
	b, err := env.config("bench-digits.toml", fmt.Sprintf(digitsConfig, epochs))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	s, _, err := env.train(ctx, b)
	if err != nil {
		return nil, err
	}
	// Seconds per epoch: the whole loop over the epochs, as scikit-learn's fit time / n_iter;
	// the samples are the epochs' own times.
	n, _ := b.Train.X.Dims()
	per := (n + 9) / 10
	s.Seconds = s.Seconds[:0]
	for e := 0; e+1 <= len(s.all)/per; e++ {
		t := 0.0
		for _, v := range s.all[e*per : (e+1)*per] {
			t += v
		}
		s.Seconds = append(s.Seconds, t)
	}
	s.PerStep = s.Total / float64(epochs)
	s.Mean = s.PerStep
	s.Extra["sec_per_step_median"] = median(s.all)
	s.Extra["epoch_sec_median"] = median(s.Seconds)
	s.Accuracy, err = pseudoLogLik(b)
	return s, err
}

// pseudoLogLik returns the full pseudo-log-likelihood Σᵢ log p(vᵢ | v₋ᵢ) averaged over the
// training rows, at the run's θ.
func pseudoLogLik(b *run.Built) (float64, error) {
	pnll, err := eval.PseudoNLL(b.Run.Eval, b.Run.Theta[:b.Spec.NumParams()], b.Train.X)
	return -pnll, err
}
