package sdk

import (
	"sync"

	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// thetaSlots is how many versions of θ a plugin keeps: enough for a host that evaluates at
// a few θ in turn (a line search, a derivative check) without resending.
const thetaSlots = 4

// thetaCache keeps the last θ vectors decoded, by version. Version 0 is never cached.
type thetaCache struct {
	mu    sync.Mutex
	slots [thetaSlots]struct {
		version uint64
		theta   []float64
	}
	next int
}

// get returns θ of length p (any length when p < 0) for the request's params: decoded from data when present (and
// cached under its version), else taken from the cache. The returned slice must not be
// modified.
func (c *thetaCache) get(prm *pb.Params, p int) ([]float64, error) {
	if prm == nil {
		if p <= 0 {
			return nil, nil
		}
		return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "theta is missing (the energy has %d parameters)", p)
	}
	if len(prm.Data) > 0 || p == 0 {
		if p < 0 {
			p = len(prm.Data) / 8
		}
		if len(prm.Data) != 8*p {
			return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "", "theta has %d bytes, want 8·%d = %d", len(prm.Data), p, 8*p)
		}
		theta := make([]float64, p)
		wire.CopyFloats(theta, prm.Data)
		if prm.Version != 0 {
			c.mu.Lock()
			c.put(prm.Version, theta)
			c.mu.Unlock()
		}
		return theta, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		if s := &c.slots[i]; s.version == prm.Version && s.version != 0 {
			if p >= 0 && len(s.theta) != p {
				return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_BAD_REQUEST, "theta", "theta version %d has %d values, want %d", prm.Version, len(s.theta), p)
			}
			return s.theta, nil
		}
	}
	return nil, wire.Errorf(pb.ErrorReason_ERROR_REASON_THETA_NOT_CACHED, "theta", "theta version %d not cached", prm.Version)
}

func (c *thetaCache) put(version uint64, theta []float64) {
	for i := range c.slots {
		if c.slots[i].version == version {
			c.slots[i].theta = theta
			return
		}
	}
	c.slots[c.next].version, c.slots[c.next].theta = version, theta
	c.next = (c.next + 1) % thetaSlots
}

// reset forgets every cached θ (after a reconfiguration changes the parameter count).
func (c *thetaCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		c.slots[i].version, c.slots[i].theta = 0, nil
	}
}
