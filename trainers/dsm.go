package trainers

import "github.com/goebm/goebm/framework"

func registerDSM(r *framework.Registry) {}
