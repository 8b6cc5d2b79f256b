package run

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSetValue(t *testing.T) {
	src, err := Parse("dir/run.toml", []byte(good), nil)
	require.NoError(t, err)
	table := map[string]any{"method": "sm", "sigma": 0.25}
	require.NoError(t, src.SetValue("trainer", table, "study.toml:4"))
	require.NoError(t, src.SetValue("train.steps", int64(7), "study.toml:5"))
	table["sigma"] = -1.0 // the source holds its own copy
	r, err := Decode(src, testRegistry())
	require.NoError(t, err)
	assert.Equal(t, 7, r.Train.Steps)
	o := r.Trainer.Options.(*fakeOpts)
	assert.Equal(t, 0.25, o.Sigma)
	assert.Equal(t, 1, o.Draws, "the file's draws = 3 went with the replaced table")
	v, ok := src.Lookup("trainer.sigma")
	assert.True(t, ok)
	assert.Equal(t, 0.25, v)

	// Errors under a set key point at its origin.
	require.NoError(t, src.SetValue("trainer", table, "study.toml:9"))
	_, err = Decode(src, testRegistry())
	assert.EqualError(t, err, "--set study.toml:9: key trainer.sigma: must be > 0")
	assert.ErrorContains(t, src.SetValue("seed.x", int64(1), "s"), "key seed: is not a table")
}

func TestDecodeSection(t *testing.T) {
	text := "seed = 1\n[eval]\nmetric = \"nll\"\n[eval.inner]\npoints = 0\n"
	src, err := Parse("run.toml", []byte(text), nil)
	require.NoError(t, err)
	type inner struct {
		Points int `toml:"points"`
	}
	var o struct {
		Metric string `toml:"metric"`
		Inner  inner  `toml:"inner"`
	}
	require.NoError(t, src.DecodeSection("eval", nil, &o))
	assert.Equal(t, "nll", o.Metric)
	var bad struct {
		Metric int `toml:"metric"`
	}
	assert.EqualError(t, src.DecodeSection("eval", []string{"inner"}, &bad), `run.toml:3: key eval.metric: want an integer, got string "nll"`)
	var small struct{}
	assert.ErrorContains(t, src.DecodeSection("eval", nil, &small), "run.toml:4: key eval.inner: unknown key")
	f := &fakeOpts{}
	assert.EqualError(t, src.DecodeSection("absent", nil, f), "run.toml: key absent.sigma: must be > 0", "Validate runs on defaults too")
	assert.ErrorContains(t, src.DecodeSection("seed", nil, &small), "key seed: want a table")
}
