package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumPath returns Debian's headless browser. CI installs it (.ci/run); a developer
// machine without it skips the browser tests, and CI never does.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI installs it (.ci/run): the report cannot be checked")
	}
	t.Skip("chromium is not installed (apt-get install chromium; .ci/run does)")
	return ""
}

// chromium runs the browser headless, offline, on the file with the extra flags (--dump-dom,
// --screenshot=...), and returns its standard output.
func chromium(t *testing.T, file string, extra ...string) []byte {
	t.Helper()
	abs, err := filepath.Abs(file)
	require.NoError(t, err)
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}, extra...)
	cmd := exec.Command(chromiumPath(t), append(args, "file://"+abs)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), errb.String())
	return out.Bytes()
}

// drawn returns the data-drawn sizes ("WxH") of the elements of a rendered DOM that match
// the opening tag pattern.
func drawn(dom []byte, tag string) []string {
	var sizes []string
	for _, m := range regexp.MustCompile(`<`+tag+`[^>]*>`).FindAll(dom, -1) {
		s := regexp.MustCompile(`data-(?:drawn|bbox)="(\d+x\d+)"`).FindSubmatch(m)
		if s == nil {
			sizes = append(sizes, "")
			continue
		}
		sizes = append(sizes, string(s[1]))
	}
	return sizes
}

func nonZero(t *testing.T, what string, sizes []string) {
	t.Helper()
	for i, s := range sizes {
		var w, h int
		_, err := fmt.Sscanf(s, "%dx%d", &w, &h)
		assert.NoError(t, err, "%s %d was not drawn (%q)", what, i, s)
		assert.True(t, w > 50 && h > 20, "%s %d drawn at %s", what, i, s)
	}
}

// ebm study writes a self-contained report.html: rendered by headless Chromium with no
// network, every figure (as many as the SVG files in plots/) and every table is drawn at a
// real size, the figures' SVG has content, nothing refers to another host, and the study file
// is in the page. A screenshot is taken. ebm eval --html writes one for a run the same way.
func TestReportRendersInABrowser(t *testing.T) {
	chromiumPath(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("x1,x2\n")
	for i := 0; i < 300; i++ {
		z1, z2 := rng.NormFloat64(), rng.NormFloat64()
		fmt.Fprintf(&b, "%v,%v\n", z1, 0.6*z1+0.8*z2)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "train.csv"), []byte(b.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "base.toml"), []byte(`[data]
train = "train.csv"
valid_fraction = 0.2
[energy]
builtin = "gaussian"
[trainer]
method = "sm"
[optimizer]
method = "adam"
lr = 0.05
[train]
batch = 100
steps = 40
log_every = 5
valid_every = 5
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "study.toml"), []byte(`name = "browser"
base = "base.toml"
seeds = [1, 2]
metrics = ["sm_loss", "param_error"]
[[grid]]
key = "trainer"
values = [{method = "sm"}, {method = "dsm", sigma = 0.2}]
labels = ["sm", "dsm"]
[eval.samples]
chains = 20
warmup = 20
draws = 2
thin = 5
`), 0o644))
	out := filepath.Join(dir, "out")
	code, stdout, errs := ebm(t, "study", filepath.Join(dir, "study.toml"), "--out", out, "--quiet", "--json")
	require.Equal(t, exitOK, code, errs)
	var res struct {
		Cells  int    `json:"cells"`
		Ran    int    `json:"ran"`
		Report string `json:"report"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.Equal(t, 4, res.Cells)
	assert.Equal(t, 4, res.Ran)
	assert.Equal(t, filepath.Join(out, "report.html"), res.Report)

	page := filepath.Join(out, "report.html")
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	assert.False(t, regexp.MustCompile(`(src|href)="(https?:)?//`).Match(html), "nothing is loaded from elsewhere")
	assert.True(t, bytes.Contains(html, []byte("seeds = [1, 2]\nmetrics = [&#34;sm_loss&#34;, &#34;param_error&#34;]")), "the study file is in the page")
	svgs, err := filepath.Glob(filepath.Join(out, "plots", "*.svg"))
	require.NoError(t, err)
	// sm_loss by grid point (param_error has no reference here: no value, no figure), the
	// learning curves of the two points, their two densities.
	require.Len(t, svgs, 5)

	dom := chromium(t, page, "--dump-dom", "--window-size=1200,900")
	figures, tables := drawn(dom, "figure"), drawn(dom, "table")
	assert.Len(t, figures, len(svgs), "every figure file is in the page")
	nonZero(t, "figure", figures)
	nonZero(t, "figure drawing", drawn(dom, "svg"))
	assert.Len(t, tables, 1, "the summary table")
	nonZero(t, "table", tables)

	shot := filepath.Join(t.TempDir(), "report.png")
	chromium(t, page, "--screenshot="+shot, "--window-size=1200,1600", "--hide-scrollbars")
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, 1200, img.Bounds().Dx())

	// One run's report: the metrics and training tables, its learning curve and density.
	cell, err := filepath.Glob(filepath.Join(out, "cells", "*-sm-s1"))
	require.NoError(t, err)
	require.Len(t, cell, 1)
	code, _, errs = ebm(t, "eval", cell[0], "--metric", "sm_loss,ksd", "--html")
	require.Equal(t, exitOK, code, errs)
	dom = chromium(t, filepath.Join(cell[0], "report.html"), "--dump-dom", "--window-size=1200,900")
	figures, tables = drawn(dom, "figure"), drawn(dom, "table")
	assert.Len(t, figures, 2, "learning curve and density")
	nonZero(t, "figure", figures)
	assert.Len(t, tables, 2, "metrics and training")
	nonZero(t, "table", tables)
}
