package energy

import "math"

// kconstList is the table of the assembly kernels' constants, the one place they are written:
// kconst_amd64.s (the data, each constant in four lanes of 8 bytes at ·kconsts+32i) and
// kconst_amd64.h (K_name for each) are generated from it by make asm, and
// TestGeneratedAssembly fails when they are out of date. The Go twins use the same named
// constants (softplus.go, exp.go). (The assembly's symbol is ·kconsts: a Go variable of that
// name would be the same symbol.)
var kconstList = func() []kconst {
	c := []kconst{
		{"ABS", 0x7fffffffffffffff, "|·| mask"},
		{"SIGN", 0x8000000000000000, "sign bit"},
		kf("CLAMP", spClamp, "exp's clamp: exp(−708) ≈ 3·10⁻³⁰⁸"),
		kf("LOG2E", spLog2e, "log₂ e"),
		kf("MAGIC", spMagic, "0x1.8p52: adding it rounds to an integer in the low mantissa bits"),
		kf("LN2HI", spLn2Hi, "ln 2, high part"),
		kf("LN2LO", spLn2Lo, "ln 2, low part"),
		kf("P1", spP1, "fdlibm exp's polynomial"),
		kf("P2", spP2, ""),
		kf("P3", spP3, ""),
		kf("P4", spP4, ""),
		kf("P5", spP5, ""),
		kf("ONE", 1, ""),
		kf("TWO", 2, ""),
		{"BIAS", 1023, "exponent bias (an int64)"},
	}
	for k, v := range spSeries {
		c = append(c, kf("SERIES"+itoa(k), v, "1/"+itoa(2*k+3)+": atanh(q)/q in q²"))
	}
	for k, v := range spTaylor {
		c = append(c, kf("TAYLOR"+itoa(k), v, "1/"+itoa(k+2)+"!"))
	}
	return append(c,
		kconst{"MANT", 1<<52 - 1, "mantissa mask"},
		kf("SQRT2", math.Sqrt2, "√2"),
		kf("HALF", 0.5, ""),
		kf("TWO52", 0x1p52, "2⁵²"),
		kf("F1023", 1023, "1023 as a float64"),
	)
}()

// kconst is one constant of the kernels: its name in kconst_amd64.h (K_name) and its bits.
type kconst struct {
	name string
	bits uint64
	doc  string
}

func kf(name string, v float64, doc string) kconst { return kconst{name, math.Float64bits(v), doc} }

// itoa formats a small non-negative integer.
func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
