package main

import (
	"github.com/goebm/goebm/energy"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/host"
	"github.com/goebm/goebm/samplers"
	"github.com/goebm/goebm/structure"
	"github.com/goebm/goebm/trainers"
)

// registry returns every component this build of ebm knows.
func registry() *framework.Registry {
	r := framework.NewRegistry()
	energy.Register(r)
	trainers.Register(r)
	structure.Register(r)
	samplers.Register(r)
	r.SamplerShared = func() any {
		o := samplers.DefaultDrawOptions()
		return &o
	}
	host.Register(r)
	return r
}
