package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/mem"
)

// gRPC's default pool, as set by this package, hands out buffers at most twice the size asked
// for up to 4 MiB (its own default gives a 1 MiB buffer, cleared whole, for anything above
// 32 KiB), so that encoding and decoding θ-sized messages does not clear a megabyte each.
func TestDefaultBufferPoolTiers(t *testing.T) {
	for _, size := range []int{100, 5 << 10, 35 << 10, 70 << 10, 300 << 10, 3 << 20} {
		b := mem.DefaultBufferPool().Get(size)
		assert.Len(t, *b, size)
		assert.LessOrEqual(t, cap(*b), 2*size+256, "buffer for %d bytes", size)
		mem.DefaultBufferPool().Put(b)
	}
}
