package bench

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PeerSample is one workload's figures from one run of its peer script.
type PeerSample struct {
	PerStep float64 `json:"sec_per_step_median"` // seconds per step (per epoch for digits)
	// Loop is the whole training loop's time per unit, warm-up included: total_sec / steps
	// of the torch scripts, the fit time per epoch of scikit-learn; NaN for Langevin.
	Loop     float64            `json:"sec_per_unit_loop"`
	Accuracy float64            `json:"accuracy"`
	Extra    map[string]float64 `json:"extra,omitempty"`
}

// PeerEnv says how to run the peer scripts.
type PeerEnv struct {
	Dir     string // folder of the scripts (FindPeerDir)
	DataDir string // passed as --data-dir when set (examples/data)
	Python  string // interpreter; empty means /usr/bin/python3
	Seed    uint64
	Steps   int // when positive, --steps for the torch scripts
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
			return withData(env, withSteps(env, "--threads", "1", "--seed", strconv.FormatUint(env.Seed, 10)))
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
			return withData(env, withSteps(env, "--threads", "1", "--seed", strconv.FormatUint(env.Seed, 10), "--only", strings.Join(only, ",")))
		},
		extract: torchExtract("test_nll"),
	},
	"digits": {
		script: "sklearn_rbm_digits.py",
		args:   func(env *PeerEnv, _ []Workload) []string { return withData(env, []string{"--repeats", "1"}) },
		extract: func(out map[string]any, w Workload) (PeerSample, error) {
			r, ok := out[w.Peer].(map[string]any)
			if !ok {
				return PeerSample{}, fmt.Errorf("no %q in the output", w.Peer)
			}
			s := PeerSample{PerStep: num(r, "sec_per_epoch"), Loop: num(r, "sec_per_epoch"), Accuracy: num(r, "full_pseudo_loglik_mean"),
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
			s := PeerSample{PerStep: num(best, "sec_per_step_median"), Loop: nanValue,
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

func withData(env *PeerEnv, args []string) []string {
	if env.DataDir != "" {
		args = append(args, "--data-dir", env.DataDir)
	}
	return args
}

func torchExtract(acc string) func(map[string]any, Workload) (PeerSample, error) {
	return func(out map[string]any, w Workload) (PeerSample, error) {
		r, ok := out[w.Peer].(map[string]any)
		if !ok {
			return PeerSample{}, fmt.Errorf("no %q in the output", w.Peer)
		}
		s := PeerSample{PerStep: num(r, "sec_per_step_median"), Loop: num(r, "total_sec") / num(r, "steps"), Accuracy: num(r, acc),
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
	out, line, _, err := runScript(ctx, env, pr.script, pr.args(env, ws), pr.blas1)
	if err != nil {
		return nil, line, err
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

// runScript runs a peer script and returns the JSON object on the last line of its output,
// its command line and its process state (for its peak memory).
func runScript(ctx context.Context, env *PeerEnv, name string, args []string, blas1 bool, extraEnv ...string) (map[string]any, string, *os.ProcessState, error) {
	py := env.Python
	if py == "" {
		py = "/usr/bin/python3"
	}
	script := filepath.Join(env.Dir, name)
	if _, err := os.Stat(script); err != nil {
		return nil, "", nil, fmt.Errorf("bench: peer script: %w (give --peer-dir, or $EBM_PEERS_DIR)", err)
	}
	args = append([]string{script}, args...)
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Env = os.Environ()
	line := py + " " + strings.Join(args, " ")
	if blas1 {
		extraEnv = append([]string{"OPENBLAS_NUM_THREADS=1"}, extraEnv...)
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	if len(extraEnv) > 0 {
		line = strings.Join(extraEnv, " ") + " " + line
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, line, nil, fmt.Errorf("bench: %s: %w\n%s", line, err, tail(stderr.String(), 2000))
	}
	if env.Stderr != nil {
		env.Stderr.Write(stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		return nil, line, nil, fmt.Errorf("bench: %s: the last line of its output is not JSON: %w", line, err)
	}
	return out, line, cmd.ProcessState, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// The peer scripts, with their README, are part of the repository (bench/peers/) and of the
// ebm command, so that a clone, or the command alone, can run them.
//
//go:embed peers/*.py peers/README.md
var peerFiles embed.FS

// peerProbe is the script whose presence marks a folder of peer scripts.
const peerProbe = "torch_mlp2d.py"

// FindPeerDir returns the folder of the peer scripts: dir when given, else $EBM_PEERS_DIR,
// else bench/peers of the goebm checkout that holds the working directory (a folder with
// go.mod and bench/peers/, the working directory or a parent), else a temporary copy of the
// scripts built into the command, which cleanup removes. cleanup is never nil.
func FindPeerDir(dir string) (found string, cleanup func(), err error) {
	nothing := func() {}
	check := func(d, from string) (string, func(), error) {
		if _, err := os.Stat(filepath.Join(d, peerProbe)); err != nil {
			return "", nothing, fmt.Errorf("bench: peer folder %s (%s) has no %s: %w", d, from, peerProbe, err)
		}
		return d, nothing, nil
	}
	if dir != "" {
		return check(dir, "--peer-dir")
	}
	if d := os.Getenv("EBM_PEERS_DIR"); d != "" {
		return check(d, "$EBM_PEERS_DIR")
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				p := filepath.Join(d, "bench", "peers")
				if _, err := os.Stat(filepath.Join(p, peerProbe)); err == nil {
					return p, nothing, nil
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	tmp, err := os.MkdirTemp("", "goebm-peers-")
	if err != nil {
		return "", nothing, fmt.Errorf("bench: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if err := WritePeers(tmp); err != nil {
		cleanup()
		return "", nothing, err
	}
	return tmp, cleanup, nil
}

// WritePeers writes the peer scripts built into the command, and their README, into dir.
func WritePeers(dir string) error {
	ents, err := fs.ReadDir(peerFiles, "peers")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	for _, e := range ents {
		b, err := peerFiles.ReadFile("peers/" + e.Name())
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o755); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}
