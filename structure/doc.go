// Package structure implements graph selection for pairwise energies: an L1 regularisation
// path with warm starts, selection by the extended BIC or by cross-validated
// pseudolikelihood, and the selected graph as an edge list.
//
// For the ising energy it is neighbourhood selection (Meinshausen and Bühlmann 2006;
// Ravikumar, Wainwright and Lafferty 2010, as IsingFit does): each spin's conditional
// distribution given the others is a logistic regression, fitted with an L1 penalty on its
// couplings by coordinate descent on iteratively reweighted least squares (Friedman, Hastie
// and Tibshirani 2010), and the neighbourhoods are symmetrised by the AND rule (an edge when
// both regressions select it) or the OR rule (when either does), the coupling being the mean of
// the two estimates. For the gaussian energy it is regularised score matching (Lin, Drton and
// Shojaie 2016): the score-matching loss, quadratic in (W, b), plus λ Σ_{j<k} |W_jk|, minimised
// by coordinate descent over the free parameters of the symmetric W.
//
// The method is registered as the trainer "graph": a run with [trainer] method = "graph"
// solves the path once (it is a closed form in the training loop's sense), writes the
// selected estimate as params.json, the edge list as edges.csv, and the path with its
// criteria in summary.json's "report".
package structure
