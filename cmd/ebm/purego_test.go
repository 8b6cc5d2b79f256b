package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/goebm/goebm/run"
	"github.com/stretchr/testify/require"
)

// Training gives the same parameters, byte for byte, whether the energies run their AVX2/FMA
// assembly or the Go twins of it: the ring8 MLP (2→64→64→1 softplus, batch 256) trained for
// 50 steps by exact score matching, denoising score matching and persistent contrastive
// divergence (ULA chains), with ebm built twice, by default and with -tags purego.
// (energy's TestBitsGolden checks the energies themselves on 386, arm64 and with fused
// arithmetic; TestTrainingBitIdenticalWithoutFMA, under the slow tag, a CPU without FMA.)
func TestTrainingBitIdenticalPureGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ebm twice and trains six runs; run without -short")
	}
	def := buildTagged(t, "")
	pure := buildTagged(t, "purego")
	for _, tr := range ring8Trainers {
		t.Run(tr.name, func(t *testing.T) {
			want := trainRing8(t, def, tr.set, 50, nil)
			got := trainRing8(t, pure, tr.set, 50, nil)
			require.Equal(t, string(want), string(got), "params.json of the purego build differs from the default build's")
		})
	}
}

// ring8Trainers are the three estimators of the bit-identity tests, as --set overrides of
// examples/ring8-sm.toml.
var ring8Trainers = []struct {
	name string
	set  []string
}{
	{"sm", []string{"trainer.method=sm"}},
	{"dsm", []string{"trainer.method=dsm", "trainer.sigma=0.1"}},
	{"pcd", []string{"trainer.method=pcd", "trainer.k=5", "trainer.init_low=-4", "trainer.init_high=4",
		"sampler.method=ula", "sampler.step=0.01"}},
}

// buildTagged builds ebm with the given build tags into a temporary folder.
func buildTagged(t *testing.T, tags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ebm")
	args := []string{"build", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// trainRing8 trains examples/ring8-sm.toml with bin for the given steps and overrides, with
// extra environment variables env, and returns its params.json.
func trainRing8(t *testing.T, bin string, set []string, steps int, env []string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "../../examples/ring8-sm.toml", "--out", out,
		"--set", "train.steps=" + strconv.Itoa(steps), "--set", "train.log_every=" + strconv.Itoa(steps)}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, string(msg))
	params, err := os.ReadFile(filepath.Join(out, run.ParamsFile))
	require.NoError(t, err)
	return params
}
