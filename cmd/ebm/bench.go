package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/goebm/goebm/bench"
)

// benchOptions are the flags of ebm bench.
type benchOptions struct {
	peers, varySeed, noRequest            bool
	repeats, steps, workers, chunk        int
	only, jsonPath, data, peerDir, python string
	seed                                  uint64
}

// newBenchCmd returns ebm bench, which runs goebm's performance workloads (the settings and
// data of the PyTorch and scikit-learn peers, see docs/benchmarks.md) and, with --peers, the
// peer scripts in the same invocation, alternating the two sides and repeating them:
//
//	ebm bench [--peers] [--repeats N] [--only w1,w2] [--json FILE] [--data DIR]
//	          [--peer-dir DIR] [--python PATH] [--seed S] [--vary-seed] [--steps N]
//	          [--workers N] [--chunk N] [--no-request]
//
// It prints a Markdown table (time per step, speed-up, accuracy of each side) to stdout and a
// line per run to stderr.
func newBenchCmd() *cobra.Command {
	var o benchOptions
	c := &cobra.Command{
		Use:   "bench [flags]",
		Short: "time the peer workloads, side by side with PyTorch and scikit-learn (--peers)",
		Long: `Bench runs goebm's performance workloads (the settings and data of the PyTorch and
scikit-learn peers, see docs/benchmarks.md) and, with --peers, the peer scripts in the same
invocation, alternating the two sides and repeating them. It prints a Markdown table (time per
step, speed-up, accuracy of each side) to stdout and a line per run to stderr; --json FILE
writes every run's figures.`,
		Example: `  ebm bench --only gauss20 --repeats 1
  ebm bench --peers --repeats 3 --vary-seed --json runs/bench-peers.json`,
		RunE: func(c *cobra.Command, args []string) error {
			return runBench(c, args, &o)
		},
	}
	fs := c.Flags()
	fs.BoolVar(&o.peers, "peers", false, "run the peer scripts too (needs python3-torch, python3-sklearn)")
	fs.IntVar(&o.repeats, "repeats", 3, "rounds; each round runs every workload on both sides, alternating which goes first")
	fs.StringVar(&o.only, "only", "", "comma-separated workloads or groups (gauss20, ring8, digits, langevin; e.g. ring8/dsm)")
	fs.StringVar(&o.jsonPath, "json", "", "write every run's figures to this JSON file")
	fs.StringVar(&o.data, "data", "", "data folder (default: examples/data in the working directory or a parent)")
	fs.StringVar(&o.peerDir, "peer-dir", "", "folder of the peer scripts (default: $EBM_PEERS_DIR, else ../shared/peers beside the module)")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "Python interpreter of the peers")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of both sides")
	fs.BoolVar(&o.varySeed, "vary-seed", false, "round r uses seed+r on both sides, so that accuracy shows its seed-to-seed spread")
	fs.IntVar(&o.steps, "steps", 0, "steps per training workload and sampler steps per Langevin run on both sides (0: the peers' settings; digits always runs 20 epochs)")
	fs.IntVar(&o.workers, "workers", 0, "[compute] workers of goebm's runs (0: all cores)")
	fs.IntVar(&o.chunk, "chunk", 0, "[compute] chunk of goebm's runs (0: the default)")
	fs.BoolVar(&o.noRequest, "no-request", false, "skip the MLP request measured against the dgemm rate")
	return c
}

func runBench(c *cobra.Command, pos []string, f *benchOptions) error {
	stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
	if len(pos) != 0 {
		return usagef("unexpected argument %q (usage: ebm bench [--peers] [--repeats N] [--only w1,w2] [--json FILE])", pos[0])
	}
	if f.repeats < 1 || f.steps < 0 || f.workers < 0 || f.chunk < 0 {
		return usagef("--repeats must be ≥ 1 and --steps, --workers, --chunk ≥ 0")
	}
	var names []string
	if f.only != "" {
		names = strings.Split(f.only, ",")
	}
	ws, err := bench.Select(names)
	if err != nil {
		return usageError{err}
	}
	dir, err := bench.FindDataDir(f.data)
	if err != nil {
		return usageError{err}
	}
	o := bench.Options{
		Env:       bench.Env{DataDir: dir, Seed: f.seed, Workers: f.workers, Chunk: f.chunk, Steps: f.steps},
		Workloads: ws, Peers: f.peers, Repeats: f.repeats, VarySeed: f.varySeed, Request: !f.noRequest, Log: stderr,
		PeerEnv: bench.PeerEnv{Python: f.python, Steps: f.steps},
	}
	if f.peers {
		if o.PeerEnv.Dir, err = findPeerDir(f.peerDir); err != nil {
			return usageError{err}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Compare(ctx, o)
	if err != nil {
		return err
	}
	res.Command = commandLine(c)
	res.WriteTable(stdout)
	if f.jsonPath != "" {
		if err := res.WriteJSON(f.jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", f.jsonPath)
	}
	return nil
}

// findPeerDir returns dir, else $EBM_PEERS_DIR, else ../shared/peers beside the folder that
// holds go.mod (the working directory or a parent).
func findPeerDir(dir string) (string, error) {
	probe := "torch_mlp2d.py"
	check := func(d string) (string, error) {
		if _, err := os.Stat(filepath.Join(d, probe)); err != nil {
			return "", fmt.Errorf("peer folder %s has no %s", d, probe)
		}
		return d, nil
	}
	if dir != "" {
		return check(dir)
	}
	if d := os.Getenv("EBM_PEERS_DIR"); d != "" {
		return check(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return check(filepath.Join(filepath.Dir(d), "shared", "peers"))
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or its parents to find ../shared/peers from; give --peer-dir", wd)
		}
	}
}
