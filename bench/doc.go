// Package bench implements the side-by-side performance workloads of goebm: the settings and
// data of the PyTorch and scikit-learn peer scripts (bench/peers, built into the command and
// found by FindPeerDir), run through the framework's own components (energies, trainers and
// samplers built from a registry, framework.Train and framework.Evaluator), so that the speed
// measured is the speed a user of `ebm train` gets.
//
// A Workload returns seconds per step (one sample per step after a warm-up, or per block of
// sampler steps, or per epoch) and its accuracy figure: the relative error of the precision
// matrix (gauss20), the test NLL with log Z by quadrature (ring8), the full pseudo-log-
// likelihood (digits) and the mean and acceptance of the chains (Langevin). A Peer runs the
// matching peer script and reads the same figures from its JSON line. Compare alternates the
// two sides and repeats them, so that a noisy machine shows as a wide range of ratios rather
// than a wrong ratio, and Report prints the table and writes the JSON of everything. With a
// Trainer it also times each training workload end to end, through `ebm train` and its
// summary.json; TimeRunFiles does the same for any run files.
//
// A Watcher records the load on the machine (the load average, and the CPU time other
// processes take, from /proc) before, during and after a benchmark, and judges it busy by
// BusyLoad and BusyCPU; tables with ratios from a busy machine are refused (ErrBusy) unless
// allowed, and then marked.
//
// Scaling measures seconds per step and peak memory of the MLP's score-matching estimators as
// the batch, the width and the dimension grow, each point in a child process on each side
// (ServeChild), and writes the CSV, the tables and log–log plots. StudyRate measures a study's
// cells per hour against its number of workers. ExactSMFlops counts the matrix-product FLOPs of
// an exact score-matching step.
//
// RequestRate measures the MLP request (E, ∇ₓE, Σwᵢ∇θE) at a large batch as a fraction of
// the machine's dgemm rate.
package bench
