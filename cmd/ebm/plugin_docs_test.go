package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every command in the ```sh blocks of docs/plugins.md runs, exactly as written, from the
// repository's root with this build of ebm first on PATH, and succeeds.
func TestPluginDocsCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plugins and starts Python")
	}
	pythonWith(t, "grpc, google.protobuf, numpy, torch")
	bin := buildEBM(t)
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "docs", "plugins.md"))
	require.NoError(t, err)
	var cmds []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		for _, line := range strings.Split(strings.TrimSpace(block[1]), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				cmds = append(cmds, line)
			}
		}
	}
	require.GreaterOrEqual(t, len(cmds), 5, "the commands of docs/plugins.md")
	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, c := range cmds {
		t.Run(c, func(t *testing.T) {
			cmd := exec.Command("bash", "-c", c)
			cmd.Dir, cmd.Env = root, env
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s\n%s", c, out)
		})
	}
}
