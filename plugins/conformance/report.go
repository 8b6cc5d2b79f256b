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

// recorder appends steps to a report and writes each to w as it completes.
type recorder struct {
	r *Report
	w io.Writer
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
	detail := strings.ReplaceAll(s.Detail, "\n", "\n       ")
	fmt.Fprintf(c.w, "%s  %-16s %s\n", mark, s.Name, detail)
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
