package study

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"github.com/goebm/goebm/run"
)

// A cell's identity is two fingerprints, kept in its cell.json: one of what its training
// depends on and one of what its evaluation depends on. Neither depends on where the files
// are: every file a cell reads (data, initial parameters, a plugin, an evaluation reference)
// enters by the sha256 of its content, or by its path relative to the study file's folder when
// it cannot be read. A study folder that is moved or copied, or a shared file system mounted
// at another path on the compute nodes, is therefore the same study; a data file whose content
// changed is not. compute.workers does not enter (results do not depend on it), nor do
// [output] and base_dir (the base run file's folder).

// trainPathKeys are the path-valued keys of a resolved run file.
var trainPathKeys = []string{"data.train", "data.test", "data.valid", "energy.params"}

// evalPathKeys are the path-valued keys of an [eval] table, below eval.
var evalPathKeys = []string{"data", "params.reference", "target.params"}

// fingerprints computes the cell's trainHash and evalHash, and the fingerprints that an
// earlier goebm wrote into cell.json (of the resolved run file and [eval] table as they were,
// absolute paths included), which are accepted too.
func (s *Study) fingerprints(c *Cell, cfg *run.Config, src *run.Source) error {
	trainOnly := *cfg
	trainOnly.Eval = nil // what training depends on: evaluation settings may change freely
	resolved, err := trainOnly.Resolved()
	if err != nil {
		return err
	}
	evalTree := src.Tree["eval"]
	legacyEval, err := json.Marshal(map[string]any{"eval": evalTree, "metrics": s.Metrics})
	if err != nil {
		return err
	}
	c.legacyTrain, c.legacyEval = hash(withoutBaseDir(resolved)), hash(legacyEval)

	rsrc, err := run.Parse("(resolved)", resolved, nil)
	if err != nil {
		return err
	}
	tree := rsrc.Tree
	if comp, ok := tree["compute"].(map[string]any); ok {
		delete(comp, "workers")
	}
	delete(tree, "output")
	delete(tree, "base_dir") // where the base run file is; the paths it resolves enter by content
	for _, key := range trainPathKeys {
		if err := s.replacePath(rsrc, key, func(p string) string { return p }); err != nil {
			return err
		}
	}
	if argv, ok := rsrc.Lookup("energy.plugin"); ok {
		if a, ok := argv.([]any); ok && len(a) > 0 {
			if p, ok := a[0].(string); ok {
				a[0] = s.fileID(p)
			}
		}
	}
	var tb bytes.Buffer
	if err := toml.NewEncoder(&tb).Encode(tree); err != nil {
		return fmt.Errorf("fingerprint: %w", err)
	}

	// The [eval] table, on a copy (SetValue copies), its paths as the cell resolves them.
	esrc, err := run.Parse("(eval)", nil, nil)
	if err != nil {
		return err
	}
	if evalTree != nil {
		if err := esrc.SetValue("eval", evalTree, "(fingerprint)"); err != nil {
			return err
		}
		for _, key := range evalPathKeys {
			if err := s.replacePath(esrc, "eval."+key, func(p string) string { return src.Path("eval."+key, p) }); err != nil {
				return err
			}
		}
	}
	eb, err := json.Marshal(map[string]any{"eval": esrc.Tree["eval"], "metrics": s.Metrics})
	if err != nil {
		return err
	}
	c.trainHash, c.evalHash = hash(tb.Bytes()), hash(eb)
	return nil
}

// replacePath replaces the path at key in src, when it has one, by the fileID of the file it
// names (resolve turns the value into the path to read).
func (s *Study) replacePath(src *run.Source, key string, resolve func(string) string) error {
	v, ok := src.Lookup(key)
	p, isString := v.(string)
	if !ok || !isString || p == "" {
		return nil
	}
	return src.SetValue(key, s.fileID(resolve(p)), "(fingerprint)")
}

// fileID names a file by its content, "sha256:HEX", or, when it cannot be read, by its path
// relative to the study file's folder, "path:REL". Contents are hashed once per study.
func (s *Study) fileID(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	if id, ok := s.fileIDs[abs]; ok {
		return id
	}
	id := ""
	if f, err := os.Open(abs); err == nil {
		h := sha256.New()
		st, serr := f.Stat()
		if _, cerr := io.Copy(h, f); cerr == nil && serr == nil && st.Mode().IsRegular() {
			id = "sha256:" + hex.EncodeToString(h.Sum(nil))
		}
		f.Close()
	}
	if id == "" {
		rel, err := filepath.Rel(s.dir, abs)
		if err != nil {
			rel = abs
		}
		id = "path:" + filepath.ToSlash(rel)
	}
	s.fileIDs[abs] = id
	return id
}

// withoutBaseDir removes the top-level base_dir line from a resolved run file: the form in
// which goebm wrote it before base_dir was added, whose fingerprints old cell.json files hold.
func withoutBaseDir(resolved []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(resolved, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("base_dir = ")) {
			out = append(out, line...)
		}
	}
	return out
}

func hash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
