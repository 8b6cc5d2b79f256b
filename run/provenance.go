package run

import (
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/goebm/goebm/energy"
)

// Provenance says what produced a run folder: the goebm build, the machine and when. It is
// summary.json's "provenance".
type Provenance struct {
	Version   string `json:"goebm_version"`
	Commit    string `json:"commit,omitempty"`          // the build's VCS revision, when Go recorded one
	Modified  bool   `json:"commit_modified,omitempty"` // the build's working tree had changes
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Host      string `json:"host"`
	CPUs      int    `json:"cpus"`
	// CPUFeatures are the vector extensions of this CPU that goebm's kernels look for, and
	// Kernels the path they took (energy.Kernels: "avx2+fma" or "go").
	CPUFeatures []string  `json:"cpu_features"`
	Kernels     string    `json:"kernels"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	// ResumedAt is the step this process resumed the run at (0 for a run trained in one go):
	// Start is then when the resumed part started.
	ResumedAt int `json:"resumed_at_step,omitempty"`
}

// NewProvenance describes this process, with version the goebm version (empty: the module
// version Go recorded in the build, else "dev"), started now.
func NewProvenance(version string) *Provenance {
	bi, ok := debug.ReadBuildInfo()
	p := &Provenance{Version: version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), CPUFeatures: cpuFeatures(), Kernels: energy.Kernels(), Start: time.Now().UTC()}
	p.Host, _ = os.Hostname()
	p.fromBuild(bi, ok)
	return p
}

// ModuleVersion returns the main module's version that Go recorded in the build (a tag, or a
// pseudo-version from the commit), or "dev".
func ModuleVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "dev"
	}
	return bi.Main.Version
}

// fromBuild fills the version (when not given) and the commit from the build information.
func (p *Provenance) fromBuild(bi *debug.BuildInfo, ok bool) {
	if p.Version == "" {
		p.Version = ModuleVersion(bi, ok)
	}
	if !ok {
		return
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			p.Commit = s.Value
		case "vcs.modified":
			p.Modified = s.Value == "true"
		}
	}
}

// cpuFeatures lists the vector extensions this CPU offers among those goebm's kernels check.
func cpuFeatures() []string {
	f := []string{}
	for _, x := range []struct {
		name string
		has  bool
	}{
		{"sse4.2", cpu.X86.HasSSE42}, {"avx", cpu.X86.HasAVX}, {"avx2", cpu.X86.HasAVX2}, {"fma", cpu.X86.HasFMA},
		{"avx512f", cpu.X86.HasAVX512F}, {"asimd", cpu.ARM64.HasASIMD}, {"sve", cpu.ARM64.HasSVE},
	} {
		if x.has {
			f = append(f, x.name)
		}
	}
	return f
}
