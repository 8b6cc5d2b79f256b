package layers

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/goebm/goebm"

// layers lists goebm's packages from the ground up, by path prefix. A package may import a
// package of a lower layer, or a package of its own layer under the same top folder (the
// plugin host imports the plugin wire format). A new package must be placed here.
var layers = [][]string{
	{"framework", "internal/numeric", "internal/lockfile", "internal/binstate"},
	{"energy", "samplers", "check"},
	{"trainers"},
	{"structure"},
	{"plugins"},
	{"run"},
	{"eval"},
	{"report"},
	{"study"},
	{"bench"},
	{"cmd"},
	{"internal/layers"},
}

// layerOf returns the layer and top folder of a goebm package path relative to the module.
func layerOf(rel string) (layer int, top string, ok bool) {
	for i, l := range layers {
		for _, p := range l {
			if rel == p || strings.HasPrefix(rel, p+"/") {
				return i, p, true
			}
		}
	}
	return 0, "", false
}

// allowed returns nil if package from may import package to (both relative to the module).
func allowed(from, to string) error {
	lf, tf, ok := layerOf(from)
	if !ok {
		return fmt.Errorf("package %s is in no layer: place it in layers_test.go", from)
	}
	lt, tt, ok := layerOf(to)
	if !ok {
		return fmt.Errorf("%s imports %s, which is in no layer", from, to)
	}
	if lt < lf || (lt == lf && tt == tf) {
		return nil
	}
	return fmt.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", from, lf, to, lt)
}

func TestAllowed(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"energy", "framework", true},
		{"framework", "energy", false},
		{"framework", "internal/numeric", false}, // same layer, another folder
		{"trainers", "samplers", true},
		{"samplers", "trainers", false},
		{"plugins/host", "plugins/internal/wire", true},
		{"plugins/host", "run", false},
		{"eval", "samplers", true},
		{"eval", "study", false},
		{"study", "run", true},
		{"bench", "cmd/ebm", false},
		{"cmd/ebm", "bench", true},
		{"energy", "nowhere", false},
	} {
		err := allowed(c.from, c.to)
		assert.Equal(t, c.ok, err == nil, "%s → %s: %v", c.from, c.to, err)
	}
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	require.NoError(t, cmd.Wait())
	require.NotEmpty(t, pkgs)
	return pkgs
}

func goebm(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// TestImportsPointDown checks every import of every package against the layer table.
func TestImportsPointDown(t *testing.T) {
	for _, p := range listPackages(t) {
		rel, _ := goebm(p.ImportPath)
		if _, _, ok := layerOf(rel); !assert.True(t, ok, "package %s is in no layer: place it in layers_test.go", rel) {
			continue
		}
		for _, imp := range p.Imports {
			ri, ok := goebm(imp)
			if !ok {
				continue
			}
			assert.NoError(t, allowed(rel, ri))
		}
	}
}

// TestFrameworkImportsNothingOfGoebm: the core depends on nothing else of the project, not
// even indirectly (go list -deps).
func TestFrameworkImportsNothingOfGoebm(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/framework").Output()
	require.NoError(t, err)
	for _, dep := range strings.Fields(string(out)) {
		if rel, ok := goebm(dep); ok {
			assert.Equal(t, "framework", rel, "framework depends on %s", dep)
		}
	}
}

// TestEvalUsesRealComponents: evaluation draws its chains with the samplers and uses the
// built-in energies, rather than copies of them.
func TestEvalUsesRealComponents(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", module+"/eval").Output()
	require.NoError(t, err)
	imports := strings.Fields(string(out))
	assert.Contains(t, imports, module+"/samplers")
	assert.Contains(t, imports, module+"/energy")
}
