//go:build unix

package run

import "syscall"

// oNoFollow makes opening a symbolic link fail (ELOOP): files in a run folder are opened
// without following links, so that a link planted in a run folder cannot make ebm read or
// overwrite a file elsewhere.
const oNoFollow = syscall.O_NOFOLLOW
