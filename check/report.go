package check

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
)

// Item is the outcome of one check: an output compared with its finite-difference
// reference, or one property of the contract (shapes, determinism, …).
type Item struct {
	Name   string  // output name ("grad_x", "mixed", …) or property ("determinism", …)
	Method string  // what it was compared with
	MaxAbs float64 // largest absolute error
	MaxRel float64 // largest relative error |got − want| / max(|want|, Floor)
	Tol    float64 // bound on MaxRel
	Pass   bool
	// Where locates the worst error ("row 3, x[1]", "θ[17] = W2[3,4]") or, for a property,
	// says what was wrong.
	Where     string
	Got, Want float64 // values at the worst error
	Compared  int     // number of values compared
}

// Report lists the checks made on one energy.
type Report struct {
	Energy string
	Items  []Item
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	for _, it := range r.Items {
		if !it.Pass {
			return false
		}
	}
	return true
}

// Err returns nil if every check passed, or an error that lists each failure with its
// output and location.
func (r *Report) Err() error {
	var errs []error
	for _, it := range r.Items {
		if !it.Pass {
			errs = append(errs, &Failure{Energy: r.Energy, Item: it})
		}
	}
	return errors.Join(errs...)
}

// Item returns the item with the given name, if any.
func (r *Report) Item(name string) (Item, bool) {
	for _, it := range r.Items {
		if it.Name == name {
			return it, true
		}
	}
	return Item{}, false
}

// String formats the report as a table, one line per check.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "energy %s\n", r.Energy)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "check\tresult\tmax abs\tmax rel\ttol\tworst at\tmethod")
	for _, it := range r.Items {
		res := "ok"
		if !it.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%.3g\t%s\t%s\n", it.Name, res, it.MaxAbs, it.MaxRel, it.Tol, it.Where, it.Method)
	}
	tw.Flush()
	return b.String()
}

// Failure is one failed check, as returned (joined) by Report.Err.
type Failure struct {
	Energy string
	Item   Item
}

func (f *Failure) Error() string {
	it := f.Item
	if it.Compared == 0 {
		return fmt.Sprintf("energy %s: %s: %s", f.Energy, it.Name, it.Where)
	}
	return fmt.Sprintf("energy %s: %s at %s: got %.10g, want %.10g (%s; abs err %.3g, rel err %.3g > tol %.3g)",
		f.Energy, it.Name, it.Where, it.Got, it.Want, it.Method, it.MaxAbs, it.MaxRel, it.Tol)
}

// comparer accumulates the worst error of one item.
type comparer struct {
	it    Item
	floor float64
}

func newComparer(name, method string, tol, floor float64) *comparer {
	return &comparer{it: Item{Name: name, Method: method, Tol: tol, Pass: true}, floor: floor}
}

// add compares got with want; where is called only when this is the worst error so far.
func (c *comparer) add(got, want float64, where func() string) {
	c.it.Compared++
	abs := math.Abs(got - want)
	rel := abs / math.Max(math.Abs(want), c.floor)
	if math.IsNaN(got) || math.IsNaN(want) || math.IsInf(got, 0) || math.IsInf(want, 0) {
		rel, abs = math.Inf(1), math.Inf(1)
	}
	if c.it.Compared == 1 || rel > c.it.MaxRel {
		c.it.MaxRel = rel
		c.it.Where = where()
		c.it.Got, c.it.Want = got, want
	}
	if abs > c.it.MaxAbs {
		c.it.MaxAbs = abs
	}
	if !(rel <= c.it.Tol) {
		c.it.Pass = false
	}
}

func (c *comparer) item() Item { return c.it }

// property returns an item for a yes/no property of the contract.
func property(name, method string, failure string) Item {
	return Item{Name: name, Method: method, Pass: failure == "", Where: failure}
}
