package run

import (
	"fmt"
	"strings"
	"testing"

	"github.com/goebm/goebm/framework"
)

// FuzzDecode: any TOML text and --set override decode to a valid run or an error, never a
// panic; an error is positioned (it names the file or the --set).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(good), "train.steps=5")
	f.Add([]byte("seed = 1\n[trainer]\nmethod = 3"), "trainer.x=[1,2]")
	f.Add([]byte("[[data]]\ntrain = 1"), "a.b.c={x=1}")
	f.Add([]byte("seed = 18446744073709551615"), "seed=-1")
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, text []byte, set string) {
		src, err := Parse("fuzz.toml", text, []string{set})
		if err != nil {
			return
		}
		_, err = Decode(src, reg)
		if err == nil {
			return
		}
		msg := err.Error()
		if len(msg) < 10 || (msg[:9] != "fuzz.toml" && msg[:5] != "--set") {
			t.Fatalf("error without a position: %q", msg)
		}
	})
}

// FuzzBuild: any run file that decodes builds into a run or gives an error, never a panic,
// and never allocates beyond the memory it is allowed. The data file and [compute] max_memory
// are fixed, so that the fuzzer explores the keys, not the file system. The seeds include the
// configurations of issue 12 that crashed (each unbounded key, nested tables).
func FuzzBuild(f *testing.F) {
	base := fmt.Sprintf(limitsBase, "data.csv")
	f.Add([]byte(base), "trainer.method=dsm")
	for _, set := range []string{
		"trainer.draws=100000", "trainer.levels=10000000", "energy.config.hidden=[4096, 4096]",
		"energy.config.components=1000000", "sampler.chains=10000000", "trainer.projections=100000",
		"trainer.grid_points=10000000", "trainer.nu=1e5", "trainer.chains=10000000",
	} {
		f.Add([]byte(base+"[trainer]\n"), set)
	}
	f.Add([]byte(strings.Replace(base, `builtin = "gaussian"`, `builtin = "mlp"`, 1)), "energy.config.hidden=[16, 16]")
	f.Add([]byte(strings.Replace(base, `method = "sm"`, `method = "pcd"`, 1)+"[sampler]\nmethod = \"ula\"\nchains = 1000\n"), "trainer.chains=9")
	f.Add([]byte(strings.Replace(base, `builtin = "gaussian"`, `builtin = "gmm"`, 1)), "energy.config.preset=ring8")
	f.Add([]byte("a = "+strings.Repeat("{b = ", 20)+"1"+strings.Repeat("}", 20)), "x=1")
	reg := samplingRegistry() // no plugin energy: a fuzzed run file must not start programs
	data := dataPath(f, "ring8_test.csv")
	f.Fuzz(func(t *testing.T, text []byte, set string) {
		src, err := Parse("fuzz.toml", text, []string{set})
		if err != nil {
			return
		}
		for key, v := range map[string]any{"data.train": data, "data.test": "", "data.valid": "", "energy.params": "",
			"compute.max_memory": "256MiB"} {
			if src.SetValue(key, v, "fuzz") != nil {
				return
			}
		}
		if e, ok := src.Tree["energy"].(map[string]any); ok {
			if c, ok := e["config"].(map[string]any); ok {
				delete(c, "init") // a file name: the fuzzer must not read the machine's files
			}
		}
		cfg, err := Decode(src, reg)
		if err != nil {
			return
		}
		b, err := Build(cfg, reg)
		if err != nil {
			return
		}
		defer b.Close()
		if err := framework.FiniteVec("theta", "fuzz", b.Run.Theta); err != nil {
			t.Fatal(err)
		}
	})
}
