package sdk

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
	"github.com/goebm/goebm/samplers"
)

// Option configures Serve.
type Option func(*config)

type config struct {
	limit          int
	logger         hclog.Logger
	samplers       map[string]framework.Entry[framework.Sampler]
	implementation string
}

// WithLogger replaces the default logger (hclog JSON lines on stderr at the level of the
// environment variable GOEBM_PLUGIN_LOG_LEVEL, default info).
func WithLogger(l hclog.Logger) Option { return func(c *config) { c.logger = l } }

// WithSamplers sets the samplers that the Sample request may run, by name (the Samplers map
// of a framework.Registry). The default is every goebm sampler (samplers.Register); an
// empty map turns plugin-side sampling off.
func WithSamplers(m map[string]framework.Entry[framework.Sampler]) Option {
	return func(c *config) { c.samplers = m }
}

// WithMaxMessageBytes sets the largest message the plugin receives and sends, which it
// declares to the host; the default is wire's 256 MiB. The host splits requests and the SDK
// splits answers (θ-sized ones too) to fit it.
func WithMaxMessageBytes(n int) Option { return func(c *config) { c.limit = n } }

// WithImplementation sets the free text that `ebm plugin info` shows, e.g. "mylab-banana 1.2".
func WithImplementation(s string) Option { return func(c *config) { c.implementation = s } }

func newConfig(name string, opts []Option) *config {
	c := &config{implementation: "goebm Go SDK", limit: wire.MaxMessageBytes}
	for _, o := range opts {
		o(c)
	}
	if c.samplers == nil {
		reg := framework.NewRegistry()
		samplers.Register(reg)
		c.samplers = reg.Samplers
	}
	if c.logger == nil {
		level := hclog.LevelFromString(os.Getenv("GOEBM_PLUGIN_LOG_LEVEL"))
		if level == hclog.NoLevel {
			level = hclog.Info
		}
		// os.Stderr is captured now, before go-plugin swaps it for a pipe after the handshake,
		// so log lines reach the host's stderr reader directly.
		c.logger = hclog.New(&hclog.LoggerOptions{Name: name, Level: level, Output: os.Stderr, JSONFormat: true})
	}
	return c
}

// Serve serves the energy e as a goebm plugin and returns when the host shuts the plugin
// down. It accepts only an empty [energy.config] table. Call it from main, before anything
// is printed to stdout.
func Serve(e framework.Energy, opts ...Option) {
	c := newConfig(e.Spec().Name, opts)
	serve(newServer(e, nil, c), c, nil)
}

// ServeEntry serves the energies that entry builds. The host sends the [energy.config]
// table, which is decoded into entry.Options() by `toml` tag (unknown keys and wrong types
// are errors naming the key), validated by the options' Validate method if it has one,
// and passed to entry.New with the run's environment. The options struct's tags are the
// schema the host checks the user's table against before it starts the run.
func ServeEntry(entry framework.Entry[framework.Energy], opts ...Option) {
	c := newConfig(entry.Name, opts)
	serve(newServer(nil, &entry, c), c, nil)
}

// serve runs go-plugin's Serve with goebm's handshake, gRPC options and watchdogs. With
// test set it serves in-process (no cookie, no stdout, no watchdog).
func serve(srv *server, c *config, test *plugin.ServeTestConfig) {
	var wd *watchdog
	if test == nil {
		wd = startWatchdog(c.logger)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: wire.PluginSet(srv),
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			o = append(o,
				grpc.MaxRecvMsgSize(c.limit),
				grpc.MaxSendMsgSize(c.limit),
				grpc.InitialWindowSize(wire.WindowSize),
				grpc.InitialConnWindowSize(wire.WindowSize),
				grpc.ChainUnaryInterceptor(recoverUnary(c.logger)),
				grpc.ChainStreamInterceptor(recoverStream(c.logger)),
			)
			if wd != nil {
				o = append(o, grpc.StatsHandler(wd))
			}
			return grpc.NewServer(o...)
		},
		Logger: c.logger,
		Test:   test,
	})
}

// ServeTest serves e (or, when e is nil, the energies entry builds) in-process, as tests
// and the conformance kit do, and returns the go-plugin reattach configuration the host
// connects with. Serving stops when ctx is cancelled; done is closed then.
func ServeTest(ctx context.Context, e framework.Energy, entry *framework.Entry[framework.Energy], opts ...Option) (cfg *plugin.ReattachConfig, done <-chan struct{}, err error) {
	if (e == nil) == (entry == nil) {
		return nil, nil, fmt.Errorf("ServeTest needs exactly one of an energy and an entry")
	}
	name := ""
	if e != nil {
		name = e.Spec().Name
	} else {
		name = entry.Name
	}
	if os.Getenv("GOEBM_PLUGIN_LOG_LEVEL") == "" {
		// In-process plugins are quiet unless asked: their logs would mix with the host's.
		opts = append([]Option{WithLogger(hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Off}))}, opts...)
	}
	c := newConfig(name, opts)
	ch := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go serve(newServer(e, entry, c), c, &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: ch, CloseCh: closed})
	select {
	case cfg = <-ch:
		return cfg, closed, nil
	case <-closed:
		return nil, nil, fmt.Errorf("in-process plugin %s stopped before it served", name)
	}
}

// recoverUnary turns a panic in a handler into an Internal error that carries the panic
// value and the stack, and logs it; the plugin keeps serving.
func recoverUnary(log hclog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicError(log, info.FullMethod, r)
			}
		}()
		return h(ctx, req)
	}
}

func recoverStream(log hclog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicError(log, info.FullMethod, r)
			}
		}()
		return h(srv, ss)
	}
}

func panicError(log hclog.Logger, method string, r any) error {
	stack := string(debug.Stack())
	log.Error("panic in handler", "method", method, "panic", fmt.Sprint(r), "stack", stack)
	return wire.Errorf(pb.ErrorReason_ERROR_REASON_PANIC, "", "panic in %s: %v\n%s", method[strings.LastIndex(method, "/")+1:], r, stack)
}
