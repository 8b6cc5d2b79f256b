package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const dataDir = "../examples/data"

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  []string
		err   string
	}{
		{nil, []string{"gauss20/exact_sm", "gauss20/dsm", "gauss20/ssm", "ring8/dsm", "ring8/exact_sm", "ring8/ssm", "ring8/pcd_ula", "digits/rbm64", "langevin/ula", "langevin/mala"}, ""},
		{[]string{"langevin/mala", "gauss20"}, []string{"gauss20/exact_sm", "gauss20/dsm", "gauss20/ssm", "langevin/mala"}, ""},
		{[]string{"ring8/dsm", "ring8"}, []string{"ring8/dsm", "ring8/exact_sm", "ring8/ssm", "ring8/pcd_ula"}, ""},
		{[]string{"ring8/nce"}, nil, `no workload "ring8/nce"`},
	} {
		t.Run(strings.Join(tc.names, ","), func(t *testing.T) {
			ws, err := Select(tc.names)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			var got []string
			for _, w := range ws {
				got = append(got, w.Name)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMedianAndStats(t *testing.T) {
	v := []float64{5, 1, 4, 2}
	assert.Equal(t, 3.0, median(v))
	assert.Equal(t, []float64{5, 1, 4, 2}, v, "median leaves its input alone")
	assert.Equal(t, 4.0, median([]float64{9, 4, 1}))
	assert.True(t, math.IsNaN(median(nil)))
	assert.Equal(t, Stats{Median: 2, Min: 1, Max: 7}, statsOf([]float64{7, math.NaN(), 1, 2}))
}

// The FLOP count of the MLP request, by hand for 2→64→64→1: forward 2n(2·64 + 64·64 + 64),
// the same for the weight gradients, and the backward products g₂W₂ and g₁W₁ of the two hidden
// layers, 2n(64·64 + 64·2).
func TestMLPRequestFlops(t *testing.T) {
	n := 4096.0
	want := 2*n*(128+4096+64)*2 + 2*n*(4096+128)
	assert.Equal(t, want, mlpRequestFlops(2, []int{64, 64}, 4096))
}

// The accuracy figure of gauss20 at the initial θ (W = I) is ‖I − K‖/‖K‖ with K tridiagonal
// (1 on the diagonal, −0.4 beside it, d = 20): √(38·0.16/(20 + 38·0.16)).
func TestPrecisionErrorAtInit(t *testing.T) {
	env := &Env{DataDir: dataDir}
	b, err := env.config("bench-gauss20.toml", fmt.Sprintf(gauss20Config, `method = "sm"`, 1))
	require.NoError(t, err)
	defer b.Close()
	k, err := env.data("gauss20_precision.csv")
	require.NoError(t, err)
	got, err := precisionError(b, k.RawMatrix().Data)
	require.NoError(t, err)
	assert.InDelta(t, math.Sqrt(38*0.16/(20+38*0.16)), got, 1e-12)
}

// The test NLL of the exact ring8 mixture by the peer's quadrature is the true test NLL of
// PROVENANCE.md, 2.151408443896475, and log Z is 0 (the mixture is normalised and the grid
// holds its mass).
func TestTestNLLOfTrueMixture(t *testing.T) {
	env := &Env{DataDir: dataDir}
	b, err := env.config("bench-nll.toml", `
[data]
train = "ring8_train.csv.gz"
test = "ring8_test.csv"

[energy]
builtin = "gmm"
[energy.config]
preset = "ring8"
components = 8
`)
	require.NoError(t, err)
	defer b.Close()
	nll, logZ, mass, err := testNLL(b)
	require.NoError(t, err)
	assert.InDelta(t, 2.151408443896475, nll, 1e-6)
	assert.InDelta(t, 0, logZ, 1e-6)
	assert.Less(t, mass, 1e-6)
}

// The full pseudo-log-likelihood at scikit-learn's fitted RBM is the figure the peer prints for
// it (sklearn_rbm_digits.py, mean over the rows of Σᵢ log σ(F(v⁽ⁱ⁾) − F(v))).
func TestPseudoLogLikOfSklearnFit(t *testing.T) {
	env := &Env{DataDir: dataDir}
	text := strings.Replace(fmt.Sprintf(digitsConfig, 1), "hidden = 64", "hidden = 64\ninit = \"rbm64_sklearn_digits_params.json\"", 1)
	b, err := env.config("bench-digits.toml", text)
	require.NoError(t, err)
	defer b.Close()
	got, err := pseudoLogLik(b)
	require.NoError(t, err)
	assert.InDelta(t, -15.87004838825286, got, 1e-9)
}

// Each workload runs on a few steps, reports one time per step after the warm-up and a finite
// accuracy figure.
func TestWorkloadsShort(t *testing.T) {
	env := &Env{DataDir: dataDir, Steps: 30, Epochs: 1}
	for _, w := range Workloads() {
		t.Run(w.Name, func(t *testing.T) {
			s, err := w.Run(context.Background(), env)
			require.NoError(t, err)
			switch w.Group {
			case "digits":
				assert.Len(t, s.Seconds, 1, "one epoch")
			case "langevin":
				assert.Len(t, s.Seconds, 1, "one block of 30 steps")
			default:
				assert.Len(t, s.Seconds, 30-Warmup)
			}
			assert.Greater(t, s.PerStep, 0.0)
			assert.False(t, math.IsNaN(s.Accuracy) || math.IsInf(s.Accuracy, 0), "accuracy %v", s.Accuracy)
		})
	}
}

// MALA with h = 0.01 on ring8 accepts 97.7% of its proposals over 1000 steps of 4096 chains
// from N(0, I): the peer's figure (0.9767), which the sampler must reproduce in expectation;
// the Monte Carlo error over 4·10⁶ proposals is below 10⁻³. ULA accepts everything.
func TestLangevinAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 MALA steps")
	}
	env := &Env{DataDir: dataDir}
	s, err := runLangevin(context.Background(), env, "mala")
	require.NoError(t, err)
	assert.InDelta(t, 0.9767, s.Accuracy, 0.002)
	env.Steps = 50
	s, err = runLangevin(context.Background(), env, "ula")
	require.NoError(t, err)
	assert.Equal(t, 1.0, s.Extra["acceptance"])
}

// fakePeers writes shell scripts under the peers' names that print a JSON line like the
// peers' and the arguments they were given, for RunPeer to run with /bin/sh.
func fakePeers(t *testing.T) string {
	dir := t.TempDir()
	scripts := map[string]string{
		"torch_gauss_sm.py":     `{"args": "%s", "exact_sm": {"sec_per_step_median": 0.002, "rel_fro_err": 0.07, "contention": {"other_procs_cpu_frac_of_machine": 0.1}}, "dsm": {"sec_per_step_median": 0.0004, "rel_fro_err": 0.15}, "ssm": {"sec_per_step_median": 0.0005, "rel_fro_err": 0.12}}`,
		"torch_mlp2d.py":        `{"args": "%s", "dsm": {"sec_per_step_median": 0.0013, "test_nll": 2.6}, "pcd_ula": {"sec_per_step_median": 0.011, "test_nll": 2.7}}`,
		"torch_langevin.py":     `{"args": "%s", "ula_hand": {"sec_per_step_median": 0.002, "chain_steps_per_sec": 2e6, "final": {"mean_err_l2": 0.03}}, "ula_autograd": {"sec_per_step_median": 0.001, "chain_steps_per_sec": 4e6, "final": {"mean_err_l2": 0.05}}, "mala_hand": {"sec_per_step_median": 0.002, "acceptance_rate": 0.977, "final": {"mean_err_l2": 0.02}}, "mala_autograd": {"sec_per_step_median": 0.003, "acceptance_rate": 0.976, "final": {"mean_err_l2": 0.02}}}`,
		"sklearn_rbm_digits.py": `{"args": "%s", "rbm64": {"sec_per_epoch": 0.0117, "fit_sec": 0.234, "full_pseudo_loglik_mean": -15.87}}`,
	}
	for name, js := range scripts {
		body := "#!/bin/sh\necho warming up >&2\necho 'not json'\ncat <<EOF\n" + fmt.Sprintf(js, "$*") + "\nEOF\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755))
	}
	return dir
}

func TestRunPeerParses(t *testing.T) {
	dir := fakePeers(t)
	env := &PeerEnv{Dir: dir, Python: "/bin/sh", Seed: 3, Steps: 50}
	sel := func(names ...string) []Workload {
		ws, err := Select(names)
		require.NoError(t, err)
		return ws
	}
	for _, tc := range []struct {
		group   string
		ws      []Workload
		want    map[string][2]float64 // time, accuracy
		cmdPart string
	}{
		{"gauss20", sel("gauss20"), map[string][2]float64{"gauss20/exact_sm": {0.002, 0.07}, "gauss20/dsm": {0.0004, 0.15}, "gauss20/ssm": {0.0005, 0.12}},
			"OPENBLAS_NUM_THREADS=1 /bin/sh " + dir + "/torch_gauss_sm.py --threads 1 --seed 3 --steps 50"},
		{"ring8", sel("ring8/dsm", "ring8/pcd_ula"), map[string][2]float64{"ring8/dsm": {0.0013, 2.6}, "ring8/pcd_ula": {0.011, 2.7}},
			"--only dsm,pcd_ula --steps 50"},
		{"langevin", sel("langevin"), map[string][2]float64{"langevin/ula": {0.001, 0.05}, "langevin/mala": {0.002, 0.977}},
			"torch_langevin.py --threads 2 --seed 3"},
		{"digits", sel("digits"), map[string][2]float64{"digits/rbm64": {0.0117, -15.87}}, "sklearn_rbm_digits.py --repeats 1"},
	} {
		t.Run(tc.group, func(t *testing.T) {
			got, line, err := RunPeer(context.Background(), env, tc.group, tc.ws)
			require.NoError(t, err)
			assert.Contains(t, line, tc.cmdPart)
			for name, want := range tc.want {
				assert.Equal(t, want[0], got[name].PerStep, name)
				assert.Equal(t, want[1], got[name].Accuracy, name)
			}
		})
	}
	// the faster Langevin backend is kept, and says so
	got, _, err := RunPeer(context.Background(), env, "langevin", sel("langevin/ula"))
	require.NoError(t, err)
	assert.Equal(t, 1.0, got["langevin/ula"].Extra["autograd"])
	assert.Equal(t, 4e6, got["langevin/ula"].Extra["chain_steps_per_sec"])

	_, _, err = RunPeer(context.Background(), &PeerEnv{Dir: t.TempDir(), Python: "/bin/sh"}, "gauss20", sel("gauss20"))
	assert.ErrorContains(t, err, "give --peer-dir")

	// the data folder is passed on, so the scripts never look for ../data
	env.DataDir = "/data/here"
	_, line, err := RunPeer(context.Background(), env, "digits", sel("digits"))
	require.NoError(t, err)
	assert.Contains(t, line, "sklearn_rbm_digits.py --repeats 1 --data-dir /data/here")
}

// Compare alternates the sides round by round, pairs the rounds' times into speed-ups and
// summarises them.
func TestCompareAlternatesAndPairs(t *testing.T) {
	var order []string
	times := []float64{1e-3, 2e-3, 4e-3}
	round, runs := 0, 0
	w := Workload{Name: "g/w", Group: "g", Peer: "w", Unit: "step", Accuracy: "acc",
		Run: func(ctx context.Context, env *Env) (*Sample, error) {
			order = append(order, "goebm")
			runs++
			return &Sample{PerStep: times[runs-1], Accuracy: float64(env.Seed)}, nil
		}}
	peerTimes := []float64{10e-3, 10e-3, 40e-3}
	o := Options{Workloads: []Workload{w}, Peers: true, Repeats: 3, VarySeed: true, Env: Env{Seed: 5}, Watching: Watching{Machine: quietMachine()},
		runPeer: func(ctx context.Context, env *PeerEnv, group string, ws []Workload) (map[string]PeerSample, string, error) {
			order = append(order, "peer")
			s := PeerSample{PerStep: peerTimes[round], Accuracy: 1}
			round++
			return map[string]PeerSample{"g/w": s}, "fake", nil
		}}
	res, err := Compare(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, []string{"goebm", "peer", "peer", "goebm", "goebm", "peer"}, order)
	wr := res.Workloads[0]
	assert.Equal(t, []uint64{5, 6, 7}, wr.Seeds)
	assert.Equal(t, Stats{Median: 2e-3, Min: 1e-3, Max: 4e-3}, wr.GoebmTime)
	assert.Equal(t, Stats{Median: 10, Min: 5, Max: 10}, *wr.Ratio) // 10/1, 10/2, 40/4
	assert.Equal(t, Stats{Median: 6, Min: 5, Max: 7}, wr.GoebmAccuracy)
	assert.Equal(t, []string{"fake"}, res.PeerCommands)

	var buf bytes.Buffer
	require.NoError(t, res.WriteTable(&buf, false))
	assert.Contains(t, buf.String(), "| g/w | step | 2 ms (1 ms–4 ms) | 10 ms (10 ms–40 ms) | **10× (5×–10×)** | acc | 6 (5–7) | 1 |")
	assert.Contains(t, buf.String(), "Load: load average 0.05 0.10 0.20 before")
	assert.NotContains(t, buf.String(), "†")

	path := filepath.Join(t.TempDir(), "out.json")
	res.Workloads[0].Peer[0].Accuracy = math.NaN() // JSON has no NaN: written as null
	require.NoError(t, res.WriteJSON(path))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(raw, &back))
	first := back["workloads"].([]any)[0].(map[string]any)
	assert.Nil(t, first["peer_runs"].([]any)[0].(map[string]any)["accuracy"])
	assert.Equal(t, 10.0, first["speedup"].(map[string]any)["median"])
}
