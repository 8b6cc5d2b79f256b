package samplers

import (
	"encoding/json"
	"fmt"
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

func marshalAdaptive(method string, step float64, a *dualAveraging) ([]byte, error) {
	return json.Marshal(adaptiveState{Method: method, Step: step, Active: a.active, T: a.t, Mu: a.mu,
		HBar: a.hBar, LogStep: a.logStep, LogBar: a.logBar})
}

func unmarshalAdaptive(method string, b []byte, step *float64, a *dualAveraging) error {
	var s adaptiveState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s: state: %w", method, err)
	}
	if s.Method != method {
		return fmt.Errorf("%s: state was saved by sampler %q", method, s.Method)
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
