package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// progress draws a one-line progress display on a terminal and nothing otherwise.
type progress struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, on: !quiet && isTerminal(w), start: time.Now()}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("CI") == "" && os.Getenv("TERM") != "dumb"
}

func (p *progress) step(step, total int, loss float64) {
	if !p.on {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && step != total {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(step) / el
	eta := time.Duration(float64(total-step)/rate) * time.Second
	const width = 24
	fill := width * step / total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d  loss %-10.4g %7.1f steps/s  eta %s   ",
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), step, total, loss, rate, eta.Round(time.Second))
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
