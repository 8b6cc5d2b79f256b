package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// progress draws a one-line progress display on a terminal, and nothing anywhere else (a
// file, a pipe, CI, TERM=dumb, --quiet). The line never takes more than the terminal's width
// less one column, so that it never wraps: the parts that do not fit (the bar first, then the
// note, then the estimate of the time left) are left out.
//
// The rate and the time left are measured from the first update the display sees, not from
// step 0: a resumed run that starts at step 2000 reports the speed of the steps it takes.
type progress struct {
	w     io.Writer
	on    bool
	unit  string           // what is counted, plural ("steps")
	width func() int       // the terminal's columns; 0 when unknown
	now   func() time.Time // the clock

	anchored   bool
	anchorDone int
	anchorTime time.Time
	last       time.Time
	drawn      bool
}

// newProgress returns a display of work counted in unit on w, drawn only when w is a terminal
// and quiet is false.
func newProgress(w io.Writer, quiet bool, unit string) *progress {
	p := &progress{w: w, unit: unit, now: time.Now, width: func() int { return 0 }}
	if !quiet && isTerminal(w) {
		f := w.(*os.File)
		p.on = true
		p.width = func() int { return terminalWidth(f) }
	}
	return p
}

// isTerminal reports whether w is a terminal a person watches: a character device, outside
// CI, with a TERM that can move the cursor.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("CI") == "" && os.Getenv("TERM") != "dumb"
}

// step is the training loop's hook: step of total done, with the last loss.
func (p *progress) step(step, total int, loss float64) {
	p.update(step, total, "loss "+strconv.FormatFloat(loss, 'g', 4, 64))
}

// update redraws the line with done of total units and a note, at most ten times a second
// (and always at the end).
func (p *progress) update(done, total int, note string) {
	if !p.on {
		return
	}
	now := p.now()
	if !p.anchored {
		p.anchored, p.anchorDone, p.anchorTime = true, done, now
	}
	if now.Sub(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last = now
	width := p.width()
	if width <= 0 {
		width = 80
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(done, total, note, width-1, now))
	p.drawn = true
}

// line composes the display in at most max columns.
func (p *progress) line(done, total int, note string, max int, now time.Time) string {
	count := fmt.Sprintf("%d/%d %s", done, total, p.unit)
	var rate, eta string
	if el := now.Sub(p.anchorTime).Seconds(); done > p.anchorDone && el > 0 {
		r := float64(done-p.anchorDone) / el
		rate = fmt.Sprintf("%.4g %s/s", r, p.unit)
		if total > done {
			eta = "eta " + (time.Duration(float64(total-done) / r * float64(time.Second))).Round(time.Second).String()
		}
	}
	// Parts by priority; the bar takes what is left.
	parts := []string{count}
	for _, s := range []string{rate, eta, note} {
		if s != "" && runes(strings.Join(append(parts, s), "  ")) <= max {
			parts = append(parts, s)
		}
	}
	text := strings.Join(parts, "  ")
	if room := max - runes(text) - 3; room >= 10 && total > 0 {
		bar := min(room, 30)
		fill := bar * min(done, total) / total
		text = "[" + strings.Repeat("#", fill) + strings.Repeat(".", bar-fill) + "] " + text
	}
	if runes(text) > max {
		text = string([]rune(text)[:max])
	}
	return text
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// done ends the line, if one was drawn.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
