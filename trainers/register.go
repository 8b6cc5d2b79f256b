package trainers

import "github.com/goebm/goebm/framework"

// Register adds the trainers and optimizers of this package to r. Each file registers its
// own components through a small function; a new estimator adds one line here.
func Register(r *framework.Registry) {
	registerAdam(r)
	registerSGD(r)
	registerSM(r)
	registerDSM(r)
	registerSSM(r)
	registerNCE(r)
	registerPL(r)
	registerRM(r)
	registerCD(r)
}
