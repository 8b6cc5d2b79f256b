package host

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// pluginConfig starts the test binary as a plugin in the given mode.
func pluginConfig(t testing.TB, mode string) Config {
	t.Helper()
	t.Setenv(modeEnv, mode)
	// A race-detector build sleeps a second at exit (GORACE atexit_sleep_ms, default 1000),
	// which would make a plugin built from this test binary look slow to shut down.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{Argv: []string{exe}, Logger: discardLogger()}
}
