package run

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goebm/goebm/framework"
)

// UseSampler gives a run file without a [sampler] table one with every key at its default;
// Build then chooses its method for the energy (samplers.ForEnergy: MALA for continuous
// energies, Gibbs for binary and spin ones, in blocks where the energy offers them). This is
// how `ebm sample` samples any run.
func (r *Config) UseSampler(reg *framework.Registry) {
	if r.Sampler != nil || reg.SamplerShared == nil {
		return
	}
	r.Sampler = &Component{Shared: reg.SamplerShared()}
}

// ReadParams sets θ from a run folder's params.json: the energy's blocks and the trainer's
// own (NCE's log Z), as training wrote them. Errors are *InputError.
func (b *Built) ReadParams(path string) error {
	if err := framework.ReadParams(path, b.Blocks, b.Run.Theta); err != nil {
		return &InputError{Err: err}
	}
	return nil
}

// Names of the files `ebm sample` writes into a run folder by default.
const (
	SamplesFile            = "samples.csv"
	SamplesDiagnosticsFile = "samples.json"
)

// SampleFiles are the files `ebm sample` writes: the samples (CSV) and their diagnostics
// (JSON).
type SampleFiles struct {
	CSV, JSON string
	dir       string // the folder that holds them, made by Prepare when it does not exist
}

// SampleOutputs returns the files `ebm sample` writes: out and out with the extension .json
// when out is given, else samples.csv and samples.json in folder. It checks them before any
// work and refuses, with an error that says what to do: a CSV whose diagnostics would be
// itself (out ending in .json), a file of a run folder (config.toml, params.json, ...) even
// with force (CheckOutputs), a file that exists unless force is set, and a folder that is
// not a folder or cannot be written.
func SampleOutputs(folder, out string, force bool) (*SampleFiles, error) {
	f := &SampleFiles{CSV: filepath.Join(folder, SamplesFile), JSON: filepath.Join(folder, SamplesDiagnosticsFile)}
	if out != "" {
		if strings.EqualFold(filepath.Ext(out), ".json") {
			return nil, fmt.Errorf("--out %s: name the CSV of the samples (e.g. %s.csv); the diagnostics go beside it as .json", out, strings.TrimSuffix(out, filepath.Ext(out)))
		}
		f.CSV, f.JSON = out, strings.TrimSuffix(out, filepath.Ext(out))+".json"
	}
	f.dir = filepath.Dir(f.CSV)
	if err := CheckOutputs(map[string]string{"samples": f.CSV, "diagnostics": f.JSON}); err != nil {
		return nil, err
	}
	if err := checkWritable(f.dir); err != nil {
		return nil, err
	}
	for _, p := range []string{f.CSV, f.JSON} {
		if err := checkSampleFile(p, force); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func checkSampleFile(path string, force bool) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("output %s: %w", path, err)
	case st.IsDir():
		return fmt.Errorf("output %s is a folder: give --out a file name", path)
	case !force:
		return fmt.Errorf("%s exists: pass --force to replace it, or --out FILE.csv to write elsewhere", path)
	}
	return nil
}

// checkWritable reports whether files can be made in dir, or, when dir does not exist yet,
// in the nearest folder above it that does.
func checkWritable(dir string) error {
	d := dir
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("output folder %s: %s is not a folder", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d {
			return fmt.Errorf("output folder %s: %w", dir, err)
		}
		d = filepath.Dir(d)
	}
	probe, err := os.CreateTemp(d, ".write-test-*")
	if err != nil {
		return fmt.Errorf("output folder %s cannot be written: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// Prepare makes the folder of the files when it does not exist.
func (f *SampleFiles) Prepare() error {
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	return nil
}
