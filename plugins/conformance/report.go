package conformance

import (
	"fmt"
	"io"
	"strings"
)

// Step is the outcome of one conformance step.
type Step struct {
	Name   string
	Pass   bool
	Warn   bool   // passed, with a remark worth reading
	Detail string // what was checked, or what was wrong
}

// Report is the outcome of Check.
type Report struct {
	Plugin string
	Steps  []Step
}

// OK reports whether every step passed.
func (r *Report) OK() bool {
	for _, s := range r.Steps {
		if !s.Pass {
			return false
		}
	}
	return true
}

// Failed returns the names of the steps that failed.
func (r *Report) Failed() []string {
	var out []string
	for _, s := range r.Steps {
		if !s.Pass {
			out = append(out, s.Name)
		}
	}
	return out
}

// Step returns the step with the given name.
func (r *Report) Step(name string) (Step, bool) {
	for _, s := range r.Steps {
		if s.Name == name {
			return s, true
		}
	}
	return Step{}, false
}

// recorder appends steps to a report and writes each to w: its name when it starts (so a
// slow step shows what is running), its verdict and detail when it ends.
type recorder struct {
	r     *Report
	w     io.Writer
	begun string
}

// begin writes the name of a step that starts.
func (c *recorder) begin(name string) {
	if c.begun != "" {
		fmt.Fprintln(c.w)
	}
	fmt.Fprintf(c.w, "%-16s", name)
	c.begun = name
}

func (c *recorder) add(s Step) bool {
	c.r.Steps = append(c.r.Steps, s)
	mark := "ok  "
	switch {
	case !s.Pass:
		mark = "FAIL"
	case s.Warn:
		mark = "warn"
	}
	if c.begun != s.Name {
		if c.begun != "" {
			fmt.Fprintln(c.w)
		}
		fmt.Fprintf(c.w, "%-16s", s.Name)
	}
	c.begun = ""
	detail := strings.ReplaceAll(s.Detail, "\n", "\n                       ")
	fmt.Fprintf(c.w, " %s  %s\n", mark, detail)
	return s.Pass
}

func (c *recorder) pass(name, format string, a ...any) bool {
	return c.add(Step{Name: name, Pass: true, Detail: fmt.Sprintf(format, a...)})
}

func (c *recorder) warn(name, format string, a ...any) bool {
	return c.add(Step{Name: name, Pass: true, Warn: true, Detail: fmt.Sprintf(format, a...)})
}

func (c *recorder) fail(name, format string, a ...any) bool {
	return c.add(Step{Name: name, Detail: fmt.Sprintf(format, a...)})
}

// result records a step that passes when failure is empty.
func (c *recorder) result(name, ok, failure string) bool {
	if failure != "" {
		return c.fail(name, "%s", failure)
	}
	return c.pass(name, "%s", ok)
}
