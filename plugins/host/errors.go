package host

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Errors of plugin requests, to match with errors.Is. The errors returned by an Energy are
// *Error values that wrap one of these (or a *RemoteError that does) when it applies.
var (
	// ErrClosed: a request on an energy whose plugins have been closed.
	ErrClosed = errors.New("plugin energy is closed")
	// ErrDied: the plugin process died during the request (and again on the retry).
	ErrDied = errors.New("the plugin process died")
	// ErrHung: the plugin did not answer within call_timeout (and again on the retry).
	ErrHung = errors.New("the plugin hung")
	// ErrThetaNotCached: the plugin does not hold the θ version the request names.
	ErrThetaNotCached = errors.New("the plugin does not hold this θ version")
	// ErrUnimplemented: the plugin does not offer what was asked (an output its spec does
	// not claim, a sampler, an RPC of a later protocol minor).
	ErrUnimplemented = errors.New("not implemented by the plugin")
	// ErrBadRequest: the plugin refused a malformed request.
	ErrBadRequest = errors.New("the plugin refused a malformed request")
	// ErrNotConfigured: the plugin was asked to compute before it was configured.
	ErrNotConfigured = errors.New("the plugin is not configured")
	// ErrUnsupported: the plugin cannot do this for its energy (e.g. a sampler that does not
	// fit the energy's domain).
	ErrUnsupported = errors.New("not supported for this energy")
	// ErrPluginFailed: the energy failed on a valid request, or the plugin has a bug (a
	// panic, an exception).
	ErrPluginFailed = errors.New("the plugin failed")
)

// Error is a failed plugin request: it names the plugin, the process, the request and what
// was wrong, with the last lines the plugin wrote to stderr.
type Error struct {
	Plugin  string   // the energy's name, or the plugin's program
	PID     int      // the process, 0 when unknown
	Request string   // e.g. "Evaluate(energy,grad_x; 256 rows)"
	Err     error    // what was wrong
	Stderr  []string // the plugin's last stderr lines, oldest first
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s", e.Plugin)
	if e.PID > 0 {
		fmt.Fprintf(&b, " (pid %d)", e.PID)
	}
	if e.Request != "" {
		fmt.Fprintf(&b, ", %s", e.Request)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if len(e.Stderr) > 0 {
		b.WriteString("\nlast lines of the plugin's stderr:")
		for _, l := range e.Stderr {
			b.WriteString("\n  | ")
			b.WriteString(l)
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// errorTail is how many stderr lines an Error carries: enough for a Go panic's stack.
const errorTail = 60

// RemoteError is an error status a plugin answered with. Its Reason comes from the
// goebm.v1.ErrorDetail the plugin attached (the SDKs always do); a plugin that attaches none
// is classified by its gRPC code alone. Is matches the sentinels above.
type RemoteError struct {
	Code    codes.Code
	Reason  pb.ErrorReason
	Key     string // the request field or config key at fault, when the plugin named one
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is matches the sentinel of the error's reason, or of its code when it has none.
func (e *RemoteError) Is(target error) bool {
	switch e.Reason {
	case pb.ErrorReason_ERROR_REASON_THETA_NOT_CACHED:
		return target == ErrThetaNotCached
	case pb.ErrorReason_ERROR_REASON_UNIMPLEMENTED:
		return target == ErrUnimplemented
	case pb.ErrorReason_ERROR_REASON_BAD_REQUEST:
		return target == ErrBadRequest
	case pb.ErrorReason_ERROR_REASON_NOT_CONFIGURED:
		return target == ErrNotConfigured
	case pb.ErrorReason_ERROR_REASON_UNSUPPORTED:
		return target == ErrUnsupported
	case pb.ErrorReason_ERROR_REASON_FAILED, pb.ErrorReason_ERROR_REASON_PANIC:
		return target == ErrPluginFailed
	}
	switch e.Code {
	case codes.Unimplemented:
		return target == ErrUnimplemented
	case codes.InvalidArgument:
		return target == ErrBadRequest
	case codes.Internal, codes.Unknown:
		return target == ErrPluginFailed
	}
	return false
}

// remoteError turns an error status that the plugin sent into a *RemoteError; other errors
// (the transport's, the context's) are returned as they are.
func remoteError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		return err // the transport or the context, not an answer
	}
	re := &RemoteError{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		if ed, ok := d.(*pb.ErrorDetail); ok {
			re.Reason, re.Key = ed.Reason, ed.Key
		}
	}
	return re
}

// FromStatus returns the *RemoteError of an error status a plugin answered with (so that
// errors.Is matches the sentinels above), or err itself when it is no such status. Tools
// that speak the protocol through a Conn use it.
func FromStatus(err error) error { return remoteError(err) }
