package run

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/goebm/goebm/framework"
)

// parseBytes reads a memory size: a number of bytes, or a number with a unit (KB, MB, GB, TB
// are powers of 1000; KiB, MiB, GiB, TiB powers of 1024).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != 'e' && r != 'E' && r != '+' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(t[:i]), strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("want a size like \"8GiB\", \"512MiB\" or a number of bytes, got %q", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q in %q (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", unit, s)
	}
	b := v * mult
	if !(b >= 1) || b > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a usable size (want at least 1 byte)", s)
	}
	return int64(b), nil
}

// memoryBudget returns the memory the run may use, and where that figure comes from.
func (r *Config) memoryBudget() (int64, string) {
	if r.Compute.MaxMemory != "" {
		b, _ := parseBytes(r.Compute.MaxMemory) // checked by Decode
		return b, fmt.Sprintf("[compute] max_memory = %q", r.Compute.MaxMemory)
	}
	if m := machineMemory(); m > 0 {
		return m, fmt.Sprintf("the %s of this machine (set [compute] max_memory to use less)", framework.FormatBytes(float64(m)))
	}
	return 0, ""
}

// need is a component's framework.Need with its full key.
type need struct {
	key   string
	bytes float64
}

// memoryCheck adds up what a configuration would allocate and refuses it, naming the key
// that asks for the most, when the total exceeds the budget.
type memoryCheck struct {
	r      *Config
	budget int64
	from   string
	dim    int
	needs  []need
}

// add records the needs of an options struct under the table key (its keys are relative to
// it); an empty Need.Key means the data's dimension.
func (m *memoryCheck) add(table string, opts any, s framework.Shape) {
	est, ok := opts.(framework.MemoryEstimator)
	if !ok {
		return
	}
	for _, n := range est.Memory(s) {
		key := "data.train"
		if n.Key != "" {
			key = join(table, n.Key)
		}
		m.needs = append(m.needs, need{key, n.Bytes})
	}
}

// check returns an error when the needs exceed the budget.
func (m *memoryCheck) check() error {
	if m.budget <= 0 {
		return nil
	}
	total := 0.0
	for _, n := range m.needs {
		total += n.bytes
	}
	if total <= float64(m.budget) {
		return nil
	}
	byKey := map[string]float64{}
	for _, n := range m.needs {
		byKey[n.key] += n.bytes
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return byKey[keys[i]] > byKey[keys[j]] || (byKey[keys[i]] == byKey[keys[j]] && keys[i] < keys[j])
	})
	top := keys[0]
	what := fmt.Sprintf("sets %s of the %s this run would need", framework.FormatBytes(byKey[top]), framework.FormatBytes(total))
	if top == "data.train" {
		what = fmt.Sprintf("(its values, and a model over its %d columns) takes %s of the %s this run would need", m.dim, framework.FormatBytes(byKey[top]), framework.FormatBytes(total))
	}
	return m.r.Source.Locate(&Error{Key: top, Msg: fmt.Sprintf("%s, more than %s allows: lower it, or raise [compute] max_memory if the machine has more", what, m.from)})
}
