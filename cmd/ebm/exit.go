package main

import (
	"errors"
	"fmt"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/run"
)

// Exit statuses. Every command maps its error to one of them with exitCode, by the error's
// type, never its text.
const (
	exitOK          = 0   // the work is done
	exitFail        = 1   // the work started and failed
	exitUsage       = 2   // bad usage or configuration: nothing was done
	exitInterrupted = 3   // stopped by a signal (a training run or study resumes from where it stopped)
	exitSignal      = 130 // a second signal: quit at once
)

// exitStatusHelp is the exit-status paragraph of `ebm help`.
const exitStatusHelp = `Exit status:
  0    success
  1    the work started and failed (a diverged run, a failed evaluation, a write error)
  2    bad usage or configuration, found before any work: a flag, an argument, a run or
       study file, a data or parameter file, a component that does not fit the energy
  3    interrupted by a signal; a training run or study continues where it stopped
       (ebm train --resume RUN_DIR, or the same ebm study command)
  130  a second signal: quit at once`

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// interrupted is work stopped by a signal: exit status 3.
type interrupted struct{ err error }

func (i interrupted) Error() string { return i.err.Error() }
func (i interrupted) Unwrap() error { return i.err }

// exitCode maps an error to the exit status, by type: see exitStatusHelp.
func exitCode(err error) int {
	var ue usageError
	var ie interrupted
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ie):
		return exitInterrupted
	case errors.As(err, &ue), isConfigError(err):
		return exitUsage
	}
	return exitFail
}

// isConfigError reports whether err is a mistake in what the command was given (a run or
// study file's key, a data file, a component that does not fit the energy's domain, a run
// folder that cannot be used as asked), found before any work.
func isConfigError(err error) bool {
	var ke *run.Error
	var ie *run.InputError
	var ce *framework.CSVError
	var fe *run.FolderError
	return errors.As(err, &ke) || errors.As(err, &ie) || errors.As(err, &ce) ||
		errors.Is(err, framework.ErrUnsupportedDomain) ||
		(errors.As(err, &fe) && !errors.Is(err, run.ErrLockLost))
}
