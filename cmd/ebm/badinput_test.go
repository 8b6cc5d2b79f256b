package main

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Bad inputs reaching the command: each gives a clear error (what, where) and exit status 2
// (bad usage or configuration: the run file, its data and parameter files, and whether its
// components fit the energy are all what the user gave), never a panic, and leaves no
// half-written run folder.
func TestBadInputsThroughTheCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("good.csv", "x1,x2\n0.1,0.2\n-0.3,0.4\n0.5,-0.6\n")
	write("spins.csv", "a,b\n-1,1\n1,1\n")
	write("empty.csv", "")
	write("nan.csv", "x1,x2\n0.1,NaN\n")
	write("inf.csv", "x1,x2\n0.1,-Inf\n")
	write("huge.csv", "x1,x2\n0.1,1e999\n")
	write("ragged.csv", "x1,x2\n0.1,0.2\n0.3\n")
	write("text.csv", "x1,x2\n0.1,abc\n")
	write("truncated.csv.gz", "\x1f\x8b\x08\x00garbage")
	gz, _ := os.Create(filepath.Join(dir, "cut.csv.gz"))
	zw := gzip.NewWriter(gz)
	zw.Write([]byte("x1,x2\n0.1,0.2\n0.3,0.4\n"))
	zw.Flush() // no footer: the stream ends early
	gz.Close()
	write("params-wrong.json", `{"blocks":[{"name":"W","shape":[3,3],"values":[1,0,0,0,1,0,0,0,1]},{"name":"b","shape":[3],"values":[0,0,0]}]}`)
	write("params-trunc.json", `{"blocks":[{"name":"W","sha`)
	write("params-nan.json", `{"blocks":[{"name":"W","shape":[2,2],"values":[1,0,0,NaN]},{"name":"b","shape":[2],"values":[0,0]}]}`)
	write("params-inf.json", `{"blocks":[{"name":"W","shape":[2,2],"values":[1,0,0,1e999]},{"name":"b","shape":[2],"values":[0,0]}]}`)
	write("afile", "not a folder")
	base := "seed = 1\n[data]\ntrain = %q\n[energy]\nbuiltin = \"gaussian\"\n[trainer]\nmethod = \"sm\"\n[train]\nbatch = 2\nsteps = 2\n"
	cfg := func(name, data, extra string) string {
		return write(name, strings.Replace(base, "%q", `"`+data+`"`, 1)+extra)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"missing config", []string{"train", filepath.Join(dir, "nope.toml")}, exitUsage, []string{"nope.toml", "cannot read"}},
		{"config is a folder", []string{"train", dir}, exitUsage, []string{"cannot read"}},
		{"empty config", []string{"train", write("empty.toml", "")}, exitUsage, []string{"empty.toml", "data.train: missing"}},
		{"binary garbage config", []string{"train", write("garbage.toml", "\x00\x01\x02=")}, exitUsage, []string{"garbage.toml:1"}},
		{"missing data", []string{"train", cfg("c1.toml", "missing.csv", "")}, exitUsage, []string{"missing.csv", "no such file"}},
		{"empty data", []string{"train", cfg("c2.toml", "empty.csv", "")}, exitUsage, []string{"empty.csv", "empty file"}},
		{"nan data", []string{"train", cfg("c3.toml", "nan.csv", "")}, exitUsage, []string{"nan.csv:2: column 2", "not finite"}},
		{"inf data", []string{"train", cfg("c4.toml", "inf.csv", "")}, exitUsage, []string{"inf.csv:2: column 2", "not finite"}},
		{"huge data", []string{"train", cfg("c5.toml", "huge.csv", "")}, exitUsage, []string{"huge.csv:2: column 2", "not a number"}},
		{"ragged data", []string{"train", cfg("c6.toml", "ragged.csv", "")}, exitUsage, []string{"ragged.csv:3", "1 values, the header has 2"}},
		{"text in data", []string{"train", cfg("c7.toml", "text.csv", "")}, exitUsage, []string{"text.csv:2: column 2", `"abc"`}},
		{"corrupt gzip", []string{"train", cfg("c8.toml", "truncated.csv.gz", "")}, exitUsage, []string{"truncated.csv.gz"}},
		{"truncated gzip", []string{"train", cfg("c9.toml", "cut.csv.gz", "")}, exitUsage, []string{"cut.csv.gz", "unexpected EOF"}},
		{"data is a folder", []string{"train", cfg("c10.toml", ".", "")}, exitUsage, []string{"is a folder, not a CSV file"}},
		{"wrong dimension", []string{"train", cfg("c11.toml", "good.csv", "[energy]\n")}, exitUsage, []string{"c11.toml:11: Key 'energy' has already been defined"}},
		{"dim mismatch", []string{"train", cfg("c12.toml", "good.csv", ""), "--set", "energy.dim=5"}, exitUsage, []string{"energy.dim: is 5 but", "has 2 columns"}},
		{"ising on reals", []string{"train", cfg("c13.toml", "good.csv", ""), "--set", "energy.builtin=ising", "--set", "trainer.method=pl", "--out", filepath.Join(dir, "r13")}, exitUsage, []string{"energy ising is over spin data", "holds continuous values"}},
		{"sm on spins", []string{"train", cfg("c23.toml", "spins.csv", ""), "--set", "energy.builtin=ising", "--out", filepath.Join(dir, "r23")}, exitUsage, []string{"spin"}},
		{"params wrong shape", []string{"train", cfg("c14.toml", "good.csv", ""), "--set", "energy.params=" + filepath.Join(dir, "params-wrong.json")}, exitUsage, []string{"params-wrong.json", `block "W" has shape [3 3], the energy wants [2 2]`}},
		{"params truncated", []string{"train", cfg("c15.toml", "good.csv", ""), "--set", "energy.params=" + filepath.Join(dir, "params-trunc.json")}, exitUsage, []string{"params-trunc.json", "not a params.json"}},
		{"params NaN", []string{"train", cfg("c16.toml", "good.csv", ""), "--set", "energy.params=" + filepath.Join(dir, "params-nan.json")}, exitUsage, []string{"params-nan.json", "not a params.json"}},
		{"params Inf", []string{"train", cfg("c17.toml", "good.csv", ""), "--set", "energy.params=" + filepath.Join(dir, "params-inf.json")}, exitUsage, []string{"params-inf.json"}},
		{"params missing", []string{"train", cfg("c18.toml", "good.csv", ""), "--set", "energy.params=" + filepath.Join(dir, "none.json")}, exitUsage, []string{"none.json", "no such file"}},
		{"out is a file", []string{"train", cfg("c19.toml", "good.csv", ""), "--out", filepath.Join(dir, "afile")}, exitUsage, []string{"afile"}},
		{"out under a file", []string{"train", cfg("c20.toml", "good.csv", ""), "--out", filepath.Join(dir, "afile", "run")}, exitUsage, []string{"afile"}},
		{"resume nothing", []string{"train", "--resume", filepath.Join(dir, "no-run")}, exitUsage, []string{"cannot resume", "no-run"}},
		{"resume with config", []string{"train", "--resume", dir, "x.toml"}, exitUsage, []string{"takes no CONFIG.toml"}},
		{"two configs", []string{"train", "a.toml", "b.toml"}, exitUsage, []string{"want one CONFIG.toml"}},
		{"unknown flag", []string{"train", "--frob", "a.toml"}, exitUsage, []string{"unknown flag: --frob"}},
		{"negative lr", []string{"train", cfg("c21.toml", "good.csv", "[optimizer]\nlr = -1.0\n")}, exitUsage, []string{"c21.toml:12: key optimizer.lr"}},
		{"string steps", []string{"train", cfg("c22.toml", "good.csv", ""), "--set", "train.steps=many"}, exitUsage, []string{"--set train.steps=many", "want an integer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := ebm(t, tc.args...)
			assert.Equal(t, tc.code, code, errs)
			for _, w := range tc.want {
				assert.Contains(t, errs, w)
			}
		})
	}
}
