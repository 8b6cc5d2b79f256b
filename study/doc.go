// Package study implements comparative studies of estimators: one TOML file names a base run
// file, a grid of key paths with lists of values, the seeds and the metrics; every combination
// of grid values and seeds is a cell, trained into its own run folder (package run) and
// evaluated (package eval), several cells at a time in parallel workers.
//
// A study resumes where it stopped. A cell is finished when its folder holds summary.json and
// metrics.json, both written atomically, the second after the first; a finished cell is never
// run again, an interrupted one continues from its checkpoint (or starts afresh when that
// fails), and one trained but not evaluated is only evaluated. Every number in results.csv
// comes from files written by the cells and is computed from the saved parameters, so a study
// killed halfway and started again writes the same results.csv as one that ran straight
// through. Wall times, which differ from run to run, go to timing.csv instead.
//
// Outputs, in the study folder:
//
//	cells/NNN-LABELS-sSEED/  one run folder per cell, with cell.json and metrics.json
//	results.csv              one row per cell: grid labels, seed, metrics, steps, Evaluator counts, derivative paths
//	timing.csv               wall seconds of training and evaluation per cell
//	summary.md               per grid point: mean and 95% t-interval across seeds, compute
//	plots/*.png              metric by grid point with intervals, learning curves, 2-D densities
package study
