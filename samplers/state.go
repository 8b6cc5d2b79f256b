package samplers

import (
	"fmt"
	"math"

	"github.com/goebm/goebm/internal/binstate"
)

// adaptiveState is what MALA and HMC carry between calls: the step size and the state of
// its adaptation. It is saved in checkpoints (framework.Stateful) so that a resumed run
// continues bit for bit. The cached energies are not saved: they are recomputed, to the
// same bits, on the first Run after a restore.
type adaptiveState struct {
	Method  string  `json:"method"`
	Step    float64 `json:"step"`
	Active  bool    `json:"adapting"`
	T       int     `json:"adapt_t"`
	Mu      float64 `json:"adapt_mu"`
	HBar    float64 `json:"adapt_hbar"`
	LogStep float64 `json:"adapt_log_step"`
	LogBar  float64 `json:"adapt_log_bar"`
}

// marshalAdaptive writes the state in binary (package binstate), so that the divergence
// guard's snapshots and checkpoints keep any value, NaN included, without JSON.
func marshalAdaptive(method string, step float64, a *dualAveraging) ([]byte, error) {
	w := binstate.NewWriter("adaptive/1")
	w.String(method)
	w.Float(step)
	w.Bool(a.active)
	w.Int(a.t)
	for _, v := range []float64{a.mu, a.hBar, a.logStep, a.logBar} {
		w.Float(v)
	}
	return w.Bytes(), nil
}

func unmarshalAdaptive(method string, b []byte, step *float64, a *dualAveraging) error {
	r := binstate.NewReader(b, "adaptive/1")
	s := adaptiveState{Method: r.String(), Step: r.Float(), Active: r.Bool(), T: r.Int(),
		Mu: r.Float(), HBar: r.Float(), LogStep: r.Float(), LogBar: r.Float()}
	if err := r.Err(); err != nil {
		return fmt.Errorf("%s: state: %w", method, err)
	}
	if s.Method != method {
		return fmt.Errorf("%s: state was saved by sampler %q", method, s.Method)
	}
	if !(s.Step > 0) || math.IsInf(s.Step, 0) || s.T < 0 {
		return fmt.Errorf("%s: state: step size %v after %d adaptation steps", method, s.Step, s.T)
	}
	*step = s.Step
	a.active, a.t, a.mu, a.hBar, a.logStep, a.logBar = s.Active, s.T, s.Mu, s.HBar, s.LogStep, s.LogBar
	return nil
}

// MarshalBinary saves the step size and its adaptation state.
func (s *MALA) MarshalBinary() ([]byte, error) { return marshalAdaptive("mala", s.step, &s.adapt) }

// UnmarshalBinary restores the state saved by MarshalBinary.
func (s *MALA) UnmarshalBinary(b []byte) error {
	s.cache.valid = false
	return unmarshalAdaptive("mala", b, &s.step, &s.adapt)
}

// MarshalBinary saves the step size and its adaptation state.
func (s *HMC) MarshalBinary() ([]byte, error) { return marshalAdaptive("hmc", s.step, &s.adapt) }

// UnmarshalBinary restores the state saved by MarshalBinary.
func (s *HMC) UnmarshalBinary(b []byte) error {
	s.cache.valid = false
	return unmarshalAdaptive("hmc", b, &s.step, &s.adapt)
}
