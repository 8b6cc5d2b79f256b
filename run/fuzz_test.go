package run

import (
	"testing"
)

// FuzzDecode: any TOML text and --set override decode to a valid run or an error, never a
// panic; an error is positioned (it names the file or the --set).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(good), "train.steps=5")
	f.Add([]byte("seed = 1\n[trainer]\nmethod = 3"), "trainer.x=[1,2]")
	f.Add([]byte("[[data]]\ntrain = 1"), "a.b.c={x=1}")
	f.Add([]byte("seed = 18446744073709551615"), "seed=-1")
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, text []byte, set string) {
		src, err := Parse("fuzz.toml", text, []string{set})
		if err != nil {
			return
		}
		_, err = Decode(src, reg)
		if err == nil {
			return
		}
		msg := err.Error()
		if len(msg) < 10 || (msg[:9] != "fuzz.toml" && msg[:5] != "--set") {
			t.Fatalf("error without a position: %q", msg)
		}
	})
}
