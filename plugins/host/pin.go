package host

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/goebm/goebm/framework"
)

// verifySHA256 checks the pinned file of the resolved argv against the hex digest want.
func verifySHA256(argv []string, want string) error {
	want = strings.ToLower(strings.TrimSpace(want))
	sum, err := hex.DecodeString(want)
	if err != nil || len(sum) != sha256.Size {
		return &framework.KeyError{Key: "sha256", Msg: fmt.Sprintf("%q is not a hex sha256 (64 hex digits)", want)}
	}
	path, err := pinnedFile(argv)
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
