//go:build !race

package trainers

const raceEnabled = false
