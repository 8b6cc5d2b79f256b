// Package study implements comparative studies of estimators: one TOML file names a base run
// file, a grid of key paths with lists of values, the seeds and the metrics; every combination
// of grid values and seeds is a cell, trained into its own run folder (package run) and
// evaluated (package eval), several cells at a time in parallel workers.
//
// A study resumes where it stopped. A cell is finished when its folder holds metrics.json,
// written atomically after summary.json: its metrics, or the error of a cell that failed
// (which the next execution runs again unless Options.KeepFailed). A finished cell is never
// run again, an interrupted one continues from its checkpoint (or starts afresh when that
// fails), and one trained but not evaluated is only evaluated. Every number in results.csv
// comes from files written by the cells and is computed from the saved parameters, so a study
// killed halfway and started again writes the same results.csv as one that ran straight
// through. Wall times, which differ from run to run, go to timing.csv instead.
//
// Cells are units of work that any process can take: a cell is run under a lock file beside
// its folder (package internal/lockfile: O_EXCL, with a rule that frees the lock of a process
// that died), so that any number of processes, on one machine or on several sharing the study
// folder, split a study and never run a cell twice. Study.Plan lists the cells with their
// states, Options.Cells runs chosen ones, Study.Merge writes the outputs from the finished
// ones, and Study.Submit runs the cells on a Slurm cluster as a job array with a merge job
// after it. A cell's identity does not depend on where the files are (identity.go), so a
// study folder that is moved, or mounted elsewhere on a cluster's nodes, is the same study.
//
// Outputs, in the study folder:
//
//	cells/NNN-LABELS-sSEED/  one run folder per cell, with cell.json, metrics.json and attempts.jsonl
//	cells/NNN-….lock         the lock of a cell being run
//	results.csv              one row per cell: grid labels, seed, metrics, steps, Evaluator counts, derivative paths
//	timing.csv               wall seconds of training and evaluation per cell
//	summary.md               per grid point: mean and 95% t-interval across seeds, compute
//	plots/*.{svg,pdf,png}    metric by grid point with intervals, learning curves, 2-D densities (package report)
//	report.html              the summary, every figure inline, the study files and provenance in one page
//	slurm/                   batch scripts, their logs and the submissions of Submit
package study
