package trainers

import "github.com/goebm/goebm/framework"

func registerSSM(r *framework.Registry) {}
