//go:build !race

package samplers

const raceEnabled = false
