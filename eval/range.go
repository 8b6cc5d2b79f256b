package eval

import "math"

// Range returns the values a metric column can take, [lo, hi] (±Inf where unbounded), so
// that a figure never draws an interval beyond what the metric can be: errors, divergences
// and standard errors are ≥ 0; a pseudo-negative-log-likelihood of bits or spins is ≥ 0;
// coverage and the edge scores are in [0, 1]. The U-statistics ksd and mmd can be negative,
// and so can nll and sm_loss of continuous data.
func Range(column string) (lo, hi float64) {
	switch column {
	case "param_error", "param_maxabs", "fisher", "log_z_se", "pseudo_nll", "se_mean", "se_max", "se_singular", "n_edges":
		return 0, math.Inf(1)
	case "coverage", "edge_precision", "edge_recall", "edge_f1":
		return 0, 1
	}
	return math.Inf(-1), math.Inf(1)
}

// Better says which way a metric column improves: "lower" for losses, errors and
// divergences, "higher" for the edge scores, and "" where neither is better (the coverage of
// 95% intervals, best at 0.95; the number of edges).
func Better(column string) string {
	switch column {
	case "edge_precision", "edge_recall", "edge_f1":
		return "higher"
	case "coverage", "n_edges":
		return ""
	}
	return "lower"
}
