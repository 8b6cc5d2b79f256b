package framework

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// A device named as data (/dev/zero, which never ends) is refused at once, not read.
func TestReadCSVRefusesDevices(t *testing.T) {
	start := time.Now()
	_, err := ReadCSV("/dev/zero")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/dev/zero: is a character device, not a CSV file")
	assert.Less(t, time.Since(start), time.Second)
}

// ReadCSVLimit stops at the limit, with an error that names the file and wraps
// ErrDataTooLarge: too many values, too much text, or one line longer than a CSV row can be.
func TestReadCSVLimit(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("x,y\n")
	for i := 0; i < 1000; i++ {
		b.WriteString("0.5,1.5\n")
	}
	rows := filepath.Join(dir, "rows.csv")
	require.NoError(t, os.WriteFile(rows, []byte(b.String()), 0o644))
	ds, err := ReadCSVLimit(rows, 1<<20)
	require.NoError(t, err)
	n, _ := ds.X.Dims()
	assert.Equal(t, 1000, n)
	_, err = ReadCSVLimit(rows, 4096)
	require.ErrorIs(t, err, ErrDataTooLarge)
	assert.Contains(t, err.Error(), rows)

	long := filepath.Join(dir, "long.csv")
	require.NoError(t, os.WriteFile(long, []byte("x\n"+strings.Repeat("1", 3<<20)+"\n"), 0o644))
	_, err = ReadCSVLimit(long, 32<<20)
	require.ErrorIs(t, err, ErrDataTooLarge)
	assert.Contains(t, err.Error(), "long.csv:2: a line longer than 2 MiB")
}

// An error about a value of a data file quotes at most a few characters of it: naming any
// readable file as data must not print its first lines.
func TestCSVErrorsClipValues(t *testing.T) {
	secret := "root:$6$saltsaltsalt$hashhashhashhashhashhashhashhashhashhash:19000:0:99999:7:::"
	path := filepath.Join(t.TempDir(), "shadow")
	require.NoError(t, os.WriteFile(path, []byte(secret+"\n"+secret+"\n"), 0o644))
	_, err := ReadCSV(path)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "shadow:2: column 1: value")
	assert.NotContains(t, msg, "hashhashhash", "at most 24 characters of a value are echoed")
	assert.Less(t, len(msg), len(path)+120)
}

// ReadCSV records the sha256 of the file as stored (gzip included), for checkpoints.
func TestReadCSVDigest(t *testing.T) {
	for _, f := range []string{"../examples/data/ring8_test.csv", "../examples/data/ring8_train.csv.gz"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		sum := sha256.Sum256(b)
		ds, err := ReadCSV(f)
		require.NoError(t, err)
		assert.Equal(t, hex.EncodeToString(sum[:]), ds.SHA256, f)
	}
}

// Data that are all +1 belong to the spin domain as much as to the binary one.
func TestInDomain(t *testing.T) {
	ones := mat.NewDense(2, 2, []float64{1, 1, 1, 1})
	spins := mat.NewDense(1, 2, []float64{-1, 1})
	bits := mat.NewDense(1, 2, []float64{0, 1})
	assert.True(t, InDomain(ones, Spin))
	assert.True(t, InDomain(ones, Binary))
	assert.True(t, InDomain(spins, Spin))
	assert.False(t, InDomain(spins, Binary))
	assert.False(t, InDomain(bits, Spin))
	assert.True(t, InDomain(bits, Continuous))
	assert.Equal(t, Binary, DomainOf(ones), "the smallest domain is still reported as binary")
}
