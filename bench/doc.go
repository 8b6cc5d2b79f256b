// Package bench implements the side-by-side performance workloads of goebm: the settings and
// data of the PyTorch and scikit-learn peer scripts (../shared/peers), run through the
// framework's own components (energies, trainers and samplers built from a registry,
// framework.Train and framework.Evaluator), so that the speed measured is the speed a user of
// `ebm train` gets.
//
// A Workload returns seconds per step (one sample per step after a warm-up, or per block of
// sampler steps, or per epoch) and its accuracy figure: the relative error of the precision
// matrix (gauss20), the test NLL with log Z by quadrature (ring8), the full pseudo-log-
// likelihood (digits) and the mean and acceptance of the chains (Langevin). A Peer runs the
// matching peer script and reads the same figures from its JSON line. Compare alternates the
// two sides and repeats them, so that a noisy machine shows as a wide range of ratios rather
// than a wrong ratio, and Report prints the table and writes the JSON of everything.
//
// RequestRate measures the MLP request (E, ∇ₓE, Σwᵢ∇θE) at a large batch as a fraction of
// the machine's dgemm rate.
package bench
