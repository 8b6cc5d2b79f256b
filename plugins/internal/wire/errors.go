package wire

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// codeOf is the gRPC code that goes with each error reason.
var codeOf = map[pb.ErrorReason]codes.Code{
	pb.ErrorReason_ERROR_REASON_BAD_REQUEST:      codes.InvalidArgument,
	pb.ErrorReason_ERROR_REASON_NOT_CONFIGURED:   codes.FailedPrecondition,
	pb.ErrorReason_ERROR_REASON_THETA_NOT_CACHED: codes.FailedPrecondition,
	pb.ErrorReason_ERROR_REASON_UNIMPLEMENTED:    codes.Unimplemented,
	pb.ErrorReason_ERROR_REASON_UNSUPPORTED:      codes.FailedPrecondition,
	pb.ErrorReason_ERROR_REASON_FAILED:           codes.Unknown,
	pb.ErrorReason_ERROR_REASON_PANIC:            codes.Internal,
}

// Errorf returns an error status of the code that goes with reason, carrying an ErrorDetail
// with the reason and key, so that the host classifies it without reading its message.
func Errorf(reason pb.ErrorReason, key, format string, a ...any) error {
	code, ok := codeOf[reason]
	if !ok {
		code = codes.Unknown
	}
	st := status.New(code, fmt.Sprintf(format, a...))
	if d, err := st.WithDetails(&pb.ErrorDetail{Reason: reason, Key: key}); err == nil {
		st = d
	}
	return st.Err()
}

// PanicError is a panic in an energy's Evaluate, with the stack where it happened.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("panic in Evaluate: %v\n%s", p.Value, p.Stack)
}

// chunkError is a chunk's error, naming its rows.
type chunkError struct {
	lo, hi int
	err    error
}

func (c chunkError) Error() string { return fmt.Sprintf("rows %d–%d: %v", c.lo, c.hi-1, c.err) }
func (c chunkError) Unwrap() error { return c.err }
