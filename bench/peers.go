package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PeerSample is one workload's figures from one run of its peer script.
type PeerSample struct {
	PerStep  float64            `json:"sec_per_step_median"` // seconds per step (per epoch for digits)
	Accuracy float64            `json:"accuracy"`
	Extra    map[string]float64 `json:"extra,omitempty"`
}

// PeerEnv says how to run the peer scripts.
type PeerEnv struct {
	Dir    string // folder of the scripts (../shared/peers)
	Python string // interpreter; empty means /usr/bin/python3
	Seed   uint64
	Steps  int // when positive, --steps for the torch scripts
	// Stderr receives the scripts' standard error (warnings); nil discards it.
	Stderr *bytes.Buffer
}

// peerRun is how one group's peer script is run and read.
type peerRun struct {
	script  string
	args    func(env *PeerEnv, ws []Workload) []string
	blas1   bool // OPENBLAS_NUM_THREADS=1
	extract func(out map[string]any, w Workload) (PeerSample, error)
}

// peerRuns holds the fastest configuration of each peer (../shared/peers/README.md): one
// torch thread and one OpenBLAS thread for the training scripts, two torch threads for
// Langevin (elementwise work over 4096 chains that torch splits), scikit-learn as shipped.
var peerRuns = map[string]peerRun{
	"gauss20": {
		script: "torch_gauss_sm.py", blas1: true,
		args: func(env *PeerEnv, _ []Workload) []string {
			return withSteps(env, "--threads", "1", "--seed", strconv.FormatUint(env.Seed, 10))
		},
		extract: torchExtract("rel_fro_err"),
	},
	"ring8": {
		script: "torch_mlp2d.py", blas1: true,
		args: func(env *PeerEnv, ws []Workload) []string {
			var only []string
			for _, w := range ws {
				only = append(only, w.Peer)
			}
			return withSteps(env, "--threads", "1", "--seed", strconv.FormatUint(env.Seed, 10), "--only", strings.Join(only, ","))
		},
		extract: torchExtract("test_nll"),
	},
	"digits": {
		script: "sklearn_rbm_digits.py",
		args:   func(*PeerEnv, []Workload) []string { return []string{"--repeats", "1"} },
		extract: func(out map[string]any, w Workload) (PeerSample, error) {
			r, ok := out[w.Peer].(map[string]any)
			if !ok {
				return PeerSample{}, fmt.Errorf("no %q in the output", w.Peer)
			}
			s := PeerSample{PerStep: num(r, "sec_per_epoch"), Accuracy: num(r, "full_pseudo_loglik_mean"),
				Extra: map[string]float64{"fit_sec": num(r, "fit_sec")}}
			return s, nil
		},
	},
	"langevin": {
		script: "torch_langevin.py", blas1: true,
		args: func(env *PeerEnv, _ []Workload) []string {
			return withSteps(env, "--threads", "2", "--seed", strconv.FormatUint(env.Seed, 10))
		},
		extract: func(out map[string]any, w Workload) (PeerSample, error) {
			// The faster of the hand-written gradient and autograd.
			var best map[string]any
			var backend string
			for _, b := range []string{"hand", "autograd"} {
				r, ok := out[w.Peer+"_"+b].(map[string]any)
				if ok && (best == nil || num(r, "sec_per_step_median") < num(best, "sec_per_step_median")) {
					best, backend = r, b
				}
			}
			if best == nil {
				return PeerSample{}, fmt.Errorf("no %s_hand or %s_autograd in the output", w.Peer, w.Peer)
			}
			s := PeerSample{PerStep: num(best, "sec_per_step_median"),
				Extra: map[string]float64{"chain_steps_per_sec": num(best, "chain_steps_per_sec")}}
			if backend == "autograd" {
				s.Extra["autograd"] = 1
			}
			if fin, ok := best["final"].(map[string]any); ok {
				s.Extra["mean_err_l2"] = num(fin, "mean_err_l2")
			}
			if w.Peer == "mala" {
				s.Accuracy = num(best, "acceptance_rate")
				s.Extra["acceptance"] = s.Accuracy
			} else {
				s.Accuracy = s.Extra["mean_err_l2"]
			}
			return s, nil
		},
	},
}

func withSteps(env *PeerEnv, args ...string) []string {
	if env.Steps > 0 {
		args = append(args, "--steps", strconv.Itoa(env.Steps))
	}
	return args
}

func torchExtract(acc string) func(map[string]any, Workload) (PeerSample, error) {
	return func(out map[string]any, w Workload) (PeerSample, error) {
		r, ok := out[w.Peer].(map[string]any)
		if !ok {
			return PeerSample{}, fmt.Errorf("no %q in the output", w.Peer)
		}
		s := PeerSample{PerStep: num(r, "sec_per_step_median"), Accuracy: num(r, acc),
			Extra: map[string]float64{"sec_per_step_mean": num(r, "sec_per_step_mean"), "total_sec": num(r, "total_sec")}}
		if c, ok := r["contention"].(map[string]any); ok {
			s.Extra["other_procs_cpu_frac"] = num(c, "other_procs_cpu_frac_of_machine")
		}
		return s, nil
	}
}

// num returns m[key] as a number, NaN when absent.
func num(m map[string]any, key string) float64 {
	if v, ok := m[key].(float64); ok {
		return v
	}
	return nanValue
}

// RunPeer runs the peer script of group once for the workloads ws (all of that group) and
// returns their figures, keyed by workload name, and the script's command line.
func RunPeer(ctx context.Context, env *PeerEnv, group string, ws []Workload) (map[string]PeerSample, string, error) {
	pr, ok := peerRuns[group]
	if !ok {
		return nil, "", fmt.Errorf("bench: no peer for group %q", group)
	}
	py := env.Python
	if py == "" {
		py = "/usr/bin/python3"
	}
	script := filepath.Join(env.Dir, pr.script)
	if _, err := os.Stat(script); err != nil {
		return nil, "", fmt.Errorf("bench: peer script: %w (give --peer-dir)", err)
	}
	args := append([]string{script}, pr.args(env, ws)...)
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Env = os.Environ()
	line := py + " " + strings.Join(args, " ")
	if pr.blas1 {
		cmd.Env = append(cmd.Env, "OPENBLAS_NUM_THREADS=1")
		line = "OPENBLAS_NUM_THREADS=1 " + line
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, line, fmt.Errorf("bench: %s: %w\n%s", line, err, tail(stderr.String(), 2000))
	}
	if env.Stderr != nil {
		env.Stderr.Write(stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		return nil, line, fmt.Errorf("bench: %s: the last line of its output is not JSON: %w", line, err)
	}
	res := map[string]PeerSample{}
	for _, w := range ws {
		s, err := pr.extract(out, w)
		if err != nil {
			return nil, line, fmt.Errorf("bench: %s, %s: %w", line, w.Name, err)
		}
		res[w.Name] = s
	}
	return res, line, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
