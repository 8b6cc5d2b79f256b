package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/goebm/goebm/bench"
)

// runBench runs goebm's performance workloads (the settings and data of the PyTorch and
// scikit-learn peers, see docs/benchmarks.md) and, with --peers, the peer scripts in the same
// invocation, alternating the two sides and repeating them:
//
//	ebm bench [--peers] [--repeats N] [--only w1,w2] [--json FILE] [--data DIR]
//	          [--peer-dir DIR] [--python PATH] [--seed S] [--vary-seed] [--steps N]
//	          [--workers N] [--chunk N] [--no-request]
//
// It prints a Markdown table (time per step, speed-up, accuracy of each side) to stdout and a
// line per run to stderr.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	peers := fs.Bool("peers", false, "run the peer scripts too (needs python3-torch, python3-sklearn)")
	repeats := fs.Int("repeats", 3, "rounds; each round runs every workload on both sides, alternating which goes first")
	only := fs.String("only", "", "comma-separated workloads or groups (gauss20, ring8, digits, langevin; e.g. ring8/dsm)")
	jsonPath := fs.String("json", "", "write every run's figures to this JSON file")
	data := fs.String("data", "", "data folder (default: examples/data in the working directory or a parent)")
	peerDir := fs.String("peer-dir", "", "folder of the peer scripts (default: $EBM_PEERS_DIR, else ../shared/peers beside the module)")
	python := fs.String("python", "/usr/bin/python3", "Python interpreter of the peers")
	seed := fs.Uint64("seed", 0, "seed of both sides")
	varySeed := fs.Bool("vary-seed", false, "round r uses seed+r on both sides, so that accuracy shows its seed-to-seed spread")
	steps := fs.Int("steps", 0, "steps per training workload and sampler steps per Langevin run on both sides (0: the peers' settings; digits always runs 20 epochs)")
	workers := fs.Int("workers", 0, "[compute] workers of goebm's runs (0: all cores)")
	chunk := fs.Int("chunk", 0, "[compute] chunk of goebm's runs (0: the default)")
	noRequest := fs.Bool("no-request", false, "skip the MLP request measured against the dgemm rate")
	pos, err := parseArgs(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q (usage: ebm bench [--peers] [--repeats N] [--only w1,w2] [--json FILE])", pos[0])
	}
	if *repeats < 1 || *steps < 0 || *workers < 0 || *chunk < 0 {
		return usagef("--repeats must be ≥ 1 and --steps, --workers, --chunk ≥ 0")
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	ws, err := bench.Select(names)
	if err != nil {
		return usageError{err}
	}
	dir, err := bench.FindDataDir(*data)
	if err != nil {
		return usageError{err}
	}
	o := bench.Options{
		Env:       bench.Env{DataDir: dir, Seed: *seed, Workers: *workers, Chunk: *chunk, Steps: *steps},
		Workloads: ws, Peers: *peers, Repeats: *repeats, VarySeed: *varySeed, Request: !*noRequest, Log: stderr,
		PeerEnv: bench.PeerEnv{Python: *python, Steps: *steps},
	}
	if *peers {
		if o.PeerEnv.Dir, err = findPeerDir(*peerDir); err != nil {
			return usageError{err}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := bench.Compare(ctx, o)
	if err != nil {
		return err
	}
	res.Command = "ebm bench " + strings.Join(args, " ")
	res.WriteTable(stdout)
	if *jsonPath != "" {
		if err := res.WriteJSON(*jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", *jsonPath)
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
