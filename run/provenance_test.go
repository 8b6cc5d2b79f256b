package run

import (
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/goebm/goebm/energy"
)

// NewProvenance describes this process; the commit and the version come from the build's
// information when Go recorded it.
func TestProvenance(t *testing.T) {
	before := time.Now().UTC()
	p := NewProvenance("v1.2.3")
	assert.Equal(t, "v1.2.3", p.Version)
	assert.Equal(t, runtime.Version(), p.GoVersion)
	assert.Equal(t, runtime.GOOS+"/"+runtime.GOARCH, p.OS+"/"+p.Arch)
	host, _ := os.Hostname()
	assert.Equal(t, host, p.Host)
	assert.False(t, p.Start.Before(before))
	assert.Equal(t, energy.Kernels(), p.Kernels)
	if p.Kernels == "avx2+fma" {
		assert.Subset(t, p.CPUFeatures, []string{"avx2", "fma"}, "the assembly runs only where the CPU has both")
	} else {
		assert.False(t, slices.Contains(p.CPUFeatures, "avx2") && slices.Contains(p.CPUFeatures, "fma") && runtime.GOARCH == "amd64")
	}

	for _, tc := range []struct {
		bi       *debug.BuildInfo
		ok       bool
		version  string
		commit   string
		modified bool
	}{
		{nil, false, "dev", "", false},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "dev", "", false},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "9f77c710783f18f91fafe285a0515a619b48a3d6"}, {Key: "vcs.modified", Value: "true"}}},
			true, "v0.3.0", "9f77c710783f18f91fafe285a0515a619b48a3d6", true},
	} {
		q := &Provenance{}
		q.fromBuild(tc.bi, tc.ok)
		assert.Equal(t, tc.version, q.Version)
		assert.Equal(t, tc.commit, q.Commit)
		assert.Equal(t, tc.modified, q.Modified)
	}
	q := &Provenance{Version: "v9"}
	q.fromBuild(&debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}, true)
	assert.Equal(t, "v9", q.Version, "a stamped version wins over the module's")
}
