//go:build unix

package framework

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Files written atomically get mode 0666 less the umask, like os.Create's, not CreateTemp's
// 0600, so that collaborators can read a run folder.
func TestWriteFileAtomicModeFollowsUmask(t *testing.T) {
	for _, c := range []struct{ umask, want os.FileMode }{{0o022, 0o644}, {0o002, 0o664}, {0o077, 0o600}} {
		old := syscall.Umask(int(c.umask))
		dir := t.TempDir()
		path := filepath.Join(dir, "x.json")
		err := WriteFileAtomic(path, []byte("{}"))
		syscall.Umask(old)
		require.NoError(t, err)
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, c.want, st.Mode().Perm(), "umask %#o", c.umask)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Len(t, entries, 1, "no temporary file is left behind")
	}
}
