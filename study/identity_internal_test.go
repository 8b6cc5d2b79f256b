package study

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/samplers"
	"github.com/goebm/goebm/trainers"
)

// A cell folder written by an earlier goebm, whose cell.json holds the fingerprints of the
// resolved run file as it was then (absolute paths, no base_dir) and of the [eval] table as
// written, is still recognised as the cell: finished, not trained nor evaluated again. A
// fingerprint of another configuration is refused with ErrOtherConfiguration.
func TestLegacyFingerprints(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte("x1,x2\n0.1,0.2\n-0.3,0.5\n1.2,-0.7\n0.4,0.4\n-1.1,-0.2\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "base.toml"), []byte("[data]\ntrain = \"train.csv\"\n[energy]\nbuiltin = \"gaussian\"\n[trainer]\nmethod = \"sm\"\nclosed_form = true\n[optimizer]\nmethod = \"adam\"\n"), 0o644))
	path := filepath.Join(dir, "study.toml")
	require.NoError(t, os.WriteFile(path, []byte("base = \"base.toml\"\nmetrics = [\"sm_loss\"]\n[eval.ksd]\nmax_points = 10\n"), 0o644))
	reg := framework.NewRegistry()
	energy.Register(reg)
	trainers.Register(reg)
	samplers.Register(reg)
	s, err := Load(path, reg)
	require.NoError(t, err)
	out := filepath.Join(dir, "out")
	_, err = s.Run(t.Context(), Options{Out: out})
	require.NoError(t, err)

	c := s.Cells[0]
	trainOnly := *c.cfg
	trainOnly.Eval = nil
	resolved, err := trainOnly.Resolved()
	require.NoError(t, err)
	old := regexp.MustCompile(`(?m)^base_dir = .*\n`).ReplaceAll(resolved, nil)
	require.NotEqual(t, resolved, old, "the resolved file has a base_dir line")
	sum := sha256.Sum256(old)
	evalJSON, err := json.Marshal(map[string]any{"eval": c.source.Tree["eval"], "metrics": s.Metrics})
	require.NoError(t, err)
	esum := sha256.Sum256(evalJSON)
	info := s.cellInfo(c)
	info.Train, info.Eval = hex.EncodeToString(sum[:]), hex.EncodeToString(esum[:])
	require.NotEqual(t, c.trainHash, info.Train)
	cellDir := filepath.Join(out, "cells", c.Dir)
	require.NoError(t, framework.WriteJSONAtomic(filepath.Join(cellDir, CellFile), info))

	res, err := s.Run(t.Context(), Options{Out: out})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Skipped, "recognised as finished")
	assert.Equal(t, 0, res.Ran)

	info.Train = hex.EncodeToString(make([]byte, 32))
	require.NoError(t, framework.WriteJSONAtomic(filepath.Join(cellDir, CellFile), info))
	_, err = s.Run(t.Context(), Options{Out: out})
	require.ErrorIs(t, err, ErrOtherConfiguration)
}
