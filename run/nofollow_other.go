//go:build !unix

package run

// oNoFollow is 0 where the system has no O_NOFOLLOW; there, files in a run folder are
// checked with os.Lstat before they are opened (see openRunFile).
const oNoFollow = 0
