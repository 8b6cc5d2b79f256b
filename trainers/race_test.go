//go:build race

package trainers

// The race detector drops sync.Pool items on purpose, so allocation counts mean nothing
// under it.
const raceEnabled = true
