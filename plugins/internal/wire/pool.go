package wire

import (
	"fmt"

	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

// gRPC's default buffer pool has tiers of 256 B, 4, 16 and 32 KiB and 1 MiB, and clears the
// whole buffer it hands out: every message between 32 KiB and 1 MiB (θ, a request's rows, the
// θ-sized outputs of ring8's MLP, 35 KiB each) costs clearing 1 MiB when it is encoded and again
// when it is decoded, on both sides. With a tier at every power of two up to 4 MiB a message
// clears at most twice its size. The proto codec takes its buffers only from the default pool,
// so the default is what is set, once, when a host or a Go plugin starts.
func init() {
	exps := make([]uint8, 0, 15)
	for e := uint8(8); e <= 22; e++ {
		exps = append(exps, e)
	}
	pool, err := mem.NewBinaryTieredBufferPool(exps...)
	if err != nil {
		panic(fmt.Sprintf("wire: buffer pool: %v", err))
	}
	experimental.SetDefaultBufferPool(pool)
}
