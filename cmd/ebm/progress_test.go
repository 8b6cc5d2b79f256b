package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProgress is a display drawn on a buffer of the given width, with a clock the test moves.
func fakeProgress(width int, clock *time.Time) (*progress, *bytes.Buffer) {
	var b bytes.Buffer
	p := &progress{w: &b, on: true, unit: "steps", width: func() int { return width }, now: func() time.Time { return *clock }}
	return p, &b
}

// drawnLines returns the lines drawn, without the carriage returns and erase sequences.
func drawnLines(b *bytes.Buffer) []string {
	var out []string
	for _, s := range strings.Split(b.String(), "\r") {
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\x1b[K")
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Every line fits in the terminal's width less one column, whatever the width, and keeps
// the count; the wider the terminal, the more it shows.
func TestProgressFitsTheWidth(t *testing.T) {
	for _, width := range []int{20, 40, 60, 80, 100, 200} {
		clock := time.Unix(1e9, 0)
		p, b := fakeProgress(width, &clock)
		for step := 1; step <= 30000; step += 997 {
			p.step(step, 30000, -1234.56789e-10)
			clock = clock.Add(150 * time.Millisecond)
		}
		p.step(30000, 30000, 0.5)
		got := drawnLines(b)
		require.NotEmpty(t, got)
		for _, l := range got {
			assert.LessOrEqual(t, utf8.RuneCountInString(l), width-1, "width %d: %q", width, l)
			assert.Contains(t, l, "/30000 steps")
		}
		last := got[len(got)-1]
		switch {
		case width >= 80:
			assert.Contains(t, last, "[##############################]", "width %d", width)
			assert.Contains(t, last, "loss 0.5")
		case width <= 40:
			assert.NotContains(t, last, "[", "width %d: no room for a bar", width)
		}
	}
}

// After a resume at step 2000, the rate and the time left come from the steps this process
// took: 100 steps in 1 s is 100 steps/s, and 900 steps are left, 9 s.
func TestProgressRateFromTheResumePoint(t *testing.T) {
	clock := time.Unix(1e9, 0)
	p, b := fakeProgress(120, &clock)
	p.step(2001, 3000, 1)
	clock = clock.Add(time.Second)
	p.step(2101, 3000, 1)
	got := drawnLines(b)
	last := got[len(got)-1]
	assert.Contains(t, last, "2101/3000 steps")
	assert.Contains(t, last, "100 steps/s")
	assert.Contains(t, last, "eta 9s")
	// The first line has no rate yet: one point measures nothing.
	assert.NotContains(t, got[0], "steps/s")
}

// Nothing is drawn when the display is off (not a terminal, or --quiet).
func TestProgressOffDrawsNothing(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, false, "steps")
	p.step(1, 10, 0)
	p.done()
	assert.Empty(t, b.String())
	assert.False(t, isTerminal(&b))
}
