package host

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goebm/goebm/framework"
)

// interpreter matches the program names of script interpreters: for them the pinned file is
// the script, since hashing the interpreter would say nothing about the plugin.
var interpreter = regexp.MustCompile(`^(python[0-9.]*|pypy[0-9.]*|node(js)?|deno|bun|ruby|perl|Rscript|julia|bash|sh|dash|zsh|lua[0-9.]*|php|java)$`)

// pinnedFile returns the file whose hash sha256 pins: argv[1] after an interpreter, else
// argv[0] resolved on PATH.
func pinnedFile(argv []string, dir string) (string, error) {
	prog := argv[0]
	if interpreter.MatchString(filepath.Base(prog)) {
		for _, a := range argv[1:] {
			if strings.HasPrefix(a, "-") {
				continue // interpreter flags such as -u
			}
			if !filepath.IsAbs(a) && dir != "" {
				a = filepath.Join(dir, a)
			}
			return a, nil
		}
		return "", fmt.Errorf("%s runs no script file to pin", prog)
	}
	return lookPath(prog)
}

// verifySHA256 checks the pinned file of argv against the hex digest want.
func verifySHA256(argv []string, dir, want string) error {
	want = strings.ToLower(strings.TrimSpace(want))
	sum, err := hex.DecodeString(want)
	if err != nil || len(sum) != sha256.Size {
		return &framework.KeyError{Key: "sha256", Msg: fmt.Sprintf("%q is not a hex sha256 (64 hex digits)", want)}
	}
	path, err := pinnedFile(argv, dir)
	if err != nil {
		return &framework.KeyError{Key: "sha256", Msg: err.Error()}
	}
	f, err := os.Open(path)
	if err != nil {
		return &framework.KeyError{Key: "sha256", Msg: fmt.Sprintf("cannot read the pinned file: %v", err)}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return &framework.KeyError{Key: "sha256", Msg: fmt.Sprintf("reading %s: %v", path, err)}
	}
	got := h.Sum(nil)
	if subtle.ConstantTimeCompare(got, sum) != 1 {
		return &framework.KeyError{Key: "sha256", Msg: fmt.Sprintf("%s has sha256 %x, want %s", path, got, want)}
	}
	return nil
}
