package wire

import (
	"context"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// GRPCPlugin is the go-plugin glue of the energy service: the plugin side registers Impl,
// the host side gets a pb.EnergyClient. net/rpc is not supported.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.EnergyServer // nil on the host side
}

// GRPCServer registers the energy service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterEnergyServer(s, p.Impl)
	return nil
}

// GRPCClient returns a pb.EnergyClient on the connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewEnergyClient(c), nil
}

// PluginSet is the go-plugin versioned plugin set of major version ProtocolMajor.
func PluginSet(srv pb.EnergyServer) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolMajor: {PluginName: &GRPCPlugin{Impl: srv}}}
}
