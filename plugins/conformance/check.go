package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"gonum.org/v1/gonum/mat"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goebm/goebm/check"
	"github.com/goebm/goebm/framework"
	"github.com/goebm/goebm/plugins/host"
	"github.com/goebm/goebm/plugins/internal/wire"
	pb "github.com/goebm/goebm/plugins/proto/goebm/v1"
)

// Options tunes Check and Info. The zero value checks a plugin with an empty
// configuration on 3-dimensional continuous data.
type Options struct {
	// Config is the [energy.config] table to configure the plugin with.
	Config map[string]any
	// Env is the environment passed to Configure; Dim zero means the plugin's own
	// dimension when it declares one (a plugin whose dimension depends on its configuration
	// then fails the configure step, which asks for a dimension).
	Env framework.Env
	// Rows is the number of points of the contract checks; zero means 6.
	Rows int
	// Seed seeds θ₀, the points and the check's directions.
	Seed uint64
	// StartTimeout and CallTimeout as in host.Config; zero means the host's defaults
	// (host.DefaultStartTimeout, host.DefaultCallTimeout).
	StartTimeout, CallTimeout time.Duration
	// Check tunes the derivative checks (tolerances, steps).
	Check check.Options
	// LargeBytes is the size of X in the large-message step; zero means 6 MiB.
	LargeBytes int
	// Logger receives the plugin's stderr lines; nil discards them (the report shows the
	// last lines when a step fails).
	Logger *slog.Logger
	// Reattach checks a plugin already serving in-process (sdk.ServeTest) instead of argv.
	Reattach *plugin.ReattachConfig
}

func (o Options) hostConfig(argv []string) host.Config {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return host.Config{Argv: argv, StartTimeout: o.StartTimeout, CallTimeout: o.CallTimeout, Env: o.Env,
		Logger: log, Reattach: o.Reattach, MaxRestarts: -1}
}

// callTimeout bounds each raw request of the protocol steps.
func (o Options) callTimeout() time.Duration {
	if o.CallTimeout > 0 {
		return o.CallTimeout
	}
	return host.DefaultCallTimeout
}

// Check runs the conformance steps on the plugin argv, writes a report to w and returns it,
// with an error naming the failed steps when any failed.
func Check(argv []string, opts Options, w io.Writer) (*Report, error) {
	if opts.Rows <= 0 {
		opts.Rows = 6
	}
	if opts.LargeBytes <= 0 {
		opts.LargeBytes = 6 << 20
	}
	rec := &recorder{r: &Report{Plugin: strings.Join(argv, " ")}, w: w}
	if opts.Reattach != nil {
		rec.r.Plugin = "in-process plugin"
	}
	fmt.Fprintf(w, "goebm plugin check of %s (protocol %d.%d)\n", rec.r.Plugin, wire.ProtocolMajor, wire.ProtocolMinor)
	c := &checker{opts: opts, argv: argv, rec: rec}
	c.run()
	if failed := rec.r.Failed(); len(failed) > 0 {
		fmt.Fprintf(w, "FAILED: %d of %d steps (%s)\n", len(failed), len(rec.r.Steps), strings.Join(failed, ", "))
		return rec.r, fmt.Errorf("plugin check of %s failed: %s", rec.r.Plugin, strings.Join(failed, ", "))
	}
	fmt.Fprintf(w, "PASS: %d steps\n", len(rec.r.Steps))
	return rec.r, nil
}

type checker struct {
	opts Options
	argv []string
	rec  *recorder
	conn *host.Conn
	desc *pb.DescribeResponse
	spec framework.Spec
}

// call runs one raw request with the call timeout.
func (c *checker) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.callTimeout())
	defer cancel()
	return f(ctx)
}

// stderrTail formats the plugin's last stderr lines for a failure.
func (c *checker) stderrTail() string {
	if c.conn == nil {
		return ""
	}
	lines := c.conn.Stderr(20)
	if len(lines) == 0 {
		return ""
	}
	return "\nlast lines of the plugin's stderr:\n  | " + strings.Join(lines, "\n  | ")
}

func (c *checker) run() {
	if !c.handshake() {
		return
	}
	defer func() {
		if c.conn != nil {
			c.conn.Close()
		}
	}()
	if !c.describe() {
		return
	}
	c.schema()
	c.badConfig()
	if !c.configure() {
		return
	}
	c.badRequests()
	c.energy()
	c.shutdown()
}

func (c *checker) handshake() bool {
	c.rec.begin("handshake")
	t := time.Now()
	conn, err := host.Dial(c.opts.hostConfig(c.argv))
	if err != nil {
		return c.rec.fail("handshake", "%v", err)
	}
	c.conn = conn
	return c.rec.pass("handshake", "gRPC, cookie and protocol %d accepted; pid %d; started in %v", wire.ProtocolMajor, conn.PID(), time.Since(t).Round(time.Millisecond))
}

func (c *checker) describe() bool {
	c.rec.begin("describe")
	var desc *pb.DescribeResponse
	err := c.call(func(ctx context.Context) (err error) {
		desc, err = c.conn.RPC.Describe(ctx, &pb.DescribeRequest{HostProtocolMinor: wire.ProtocolMinor})
		return err
	})
	if err != nil {
		return c.rec.fail("describe", "%v%s", err, c.stderrTail())
	}
	c.desc = desc
	var problems []string
	if desc.ProtocolMajor != wire.ProtocolMajor {
		problems = append(problems, fmt.Sprintf("protocol_major is %d, want %d", desc.ProtocolMajor, wire.ProtocolMajor))
	}
	if desc.ProtocolMinor < wire.MinPluginMinor {
		problems = append(problems, fmt.Sprintf("protocol_minor %d is older than %d", desc.ProtocolMinor, wire.MinPluginMinor))
	}
	if desc.Spec != nil {
		if _, err := wire.FromSpec(desc.Spec); err != nil {
			problems = append(problems, "spec: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return c.rec.fail("describe", "%s", strings.Join(problems, "; "))
	}
	limit := "max_message_bytes not set: the host assumes its own 64 MiB limit, so set your server's receive limit and advertise it"
	if desc.MaxMessageBytes > 0 {
		limit = fmt.Sprintf("max message %d MiB", desc.MaxMessageBytes>>20)
	}
	detail := fmt.Sprintf("protocol %d.%d, %s, implementation %q", desc.ProtocolMajor, desc.ProtocolMinor, limit, desc.Implementation)
	if desc.MaxMessageBytes <= 0 || desc.MaxMessageBytes < 8<<20 {
		return c.rec.warn("describe", "%s (below 8 MiB, large batches are split into many requests)", detail)
	}
	return c.rec.pass("describe", "%s", detail)
}

var knownTypes = map[string]bool{"bool": true, "int": true, "float": true, "string": true, "duration": true, "table": true}

func knownType(t string) bool {
	for strings.HasPrefix(t, "[]") {
		t = t[2:]
	}
	return knownTypes[t]
}

// ConfigFromJSON decodes a JSON object into an [energy.config] table with the types the
// host's TOML decoder gives: integers as int64, other numbers as float64.
func ConfigFromJSON(s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	return jsonToTOML(m).(map[string]any), nil
}

// jsonToTOML turns a decoded JSON value into the types the host's TOML decoder produces.
func jsonToTOML(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(x.String(), ".eE") {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = jsonToTOML(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jsonToTOML(x[k])
		}
	}
	return v
}

func (c *checker) schema() {
	c.rec.begin("schema")
	seen := map[string]bool{}
	var problems, remarks []string
	for _, f := range c.desc.ConfigSchema {
		switch {
		case f.Key == "":
			problems = append(problems, "a field has no key")
			continue
		case seen[f.Key]:
			problems = append(problems, fmt.Sprintf("key %s is declared twice", f.Key))
		case !knownType(f.Type):
			problems = append(problems, fmt.Sprintf("key %s has unknown type %q (want bool, int, float, string, duration, table or []T)", f.Key, f.Type))
		}
		seen[f.Key] = true
		if f.DefaultJson != "" {
			dec := json.NewDecoder(strings.NewReader(f.DefaultJson))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				problems = append(problems, fmt.Sprintf("key %s: default %q is not JSON", f.Key, f.DefaultJson))
			} else if v != nil && !wire.TypeMatches(f.Type, jsonToTOML(v)) {
				problems = append(problems, fmt.Sprintf("key %s: default %s is not a %s", f.Key, f.DefaultJson, f.Type))
			}
		}
		if f.Help == "" {
			remarks = append(remarks, f.Key)
		}
	}
	switch {
	case len(problems) > 0:
		c.rec.fail("schema", "%s", strings.Join(problems, "; "))
	case len(remarks) > 0:
		c.rec.warn("schema", "%d keys; no help text for %s", len(c.desc.ConfigSchema), strings.Join(remarks, ", "))
	default:
		c.rec.pass("schema", "%d keys, each with a type, a default and help", len(c.desc.ConfigSchema))
	}
}

// configureRaw sends a configuration on the raw connection.
func (c *checker) configureRaw(configJSON string) (*pb.ConfigureResponse, error) {
	var resp *pb.ConfigureResponse
	err := c.call(func(ctx context.Context) (err error) {
		resp, err = c.conn.RPC.Configure(ctx, &pb.ConfigureRequest{ConfigJson: configJSON, Env: c.env()})
		return err
	})
	return resp, err
}

func (c *checker) env() *pb.Env {
	d := c.opts.Env.Dim
	if d == 0 && c.desc != nil && c.desc.Spec != nil {
		d = int(c.desc.Spec.Dim)
	}
	return &pb.Env{Dim: int64(d), Domain: pb.Domain(c.opts.Env.Domain), Dir: c.opts.Env.Dir}
}

// refused reports whether a Configure answer refuses the configuration with an error
// diagnostic, and the key it names.
func refused(resp *pb.ConfigureResponse) (bool, []string) {
	var keys []string
	bad := false
	for _, d := range resp.Diagnostics {
		if d.Severity == pb.Diagnostic_SEVERITY_ERROR {
			bad = true
			keys = append(keys, d.Key)
		}
	}
	return bad, keys
}

// wrongValue returns a JSON value of the wrong type for a schema type.
func wrongValue(typ string) string {
	switch {
	case strings.HasPrefix(typ, "[]"), typ == "table":
		return `"not a ` + typ + `"`
	case typ == "string", typ == "duration":
		return `[1, 2]`
	}
	return `"not a ` + typ + `"`
}

func (c *checker) badConfig() {
	c.rec.begin("bad_config")
	const unknown = "goebm_check_unknown_key"
	var problems []string
	try := func(what, key, js string) {
		resp, err := c.configureRaw(js)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: Configure failed (%v) instead of answering with a diagnostic", what, err))
		default:
			bad, keys := refused(resp)
			if !bad {
				problems = append(problems, fmt.Sprintf("%s was accepted", what))
			} else if !contains(keys, key) {
				problems = append(problems, fmt.Sprintf("%s was refused, but the diagnostics name %q instead of %q", what, keys, key))
			}
		}
		if c.conn.Exited() {
			problems = append(problems, what+" killed the plugin")
		}
	}
	try("an unknown key", unknown, `{"`+unknown+`": 1}`)
	n := 1
	for _, f := range c.desc.ConfigSchema {
		if f.Key == "" {
			continue
		}
		try(fmt.Sprintf("key %s (%s) set to %s", f.Key, f.Type, wrongValue(f.Type)), f.Key, `{"`+f.Key+`": `+wrongValue(f.Type)+`}`)
		n++
	}
	if len(problems) > 0 {
		c.rec.fail("bad_config", "%s%s", strings.Join(problems, "; "), c.stderrTail())
		return
	}
	c.rec.pass("bad_config", "%d bad configurations refused with diagnostics naming the key", n)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (c *checker) configure() bool {
	c.rec.begin("configure")
	if errs := wire.CheckConfig(c.opts.Config, c.desc.ConfigSchema); len(errs) > 0 {
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		return c.rec.fail("configure", "the configuration given to the check does not fit the plugin's schema: %s", strings.Join(msgs, "; "))
	}
	js, err := wire.ConfigJSON(c.opts.Config)
	if err != nil {
		return c.rec.fail("configure", "%v", err)
	}
	resp, err := c.configureRaw(js)
	if err != nil {
		return c.rec.fail("configure", "%v%s", err, c.stderrTail())
	}
	if bad, _ := refused(resp); bad && c.env().Dim == 0 {
		return c.rec.fail("configure", "the plugin declares no dimension of its own and was given none: pass the data's dimension (ebm plugin check --dim D, or Options.Env.Dim)")
	}
	if bad, _ := refused(resp); bad {
		var msgs []string
		for _, d := range resp.Diagnostics {
			msgs = append(msgs, fmt.Sprintf("%s: %s", d.Key, d.Message))
		}
		return c.rec.fail("configure", "configuration %s refused: %s", js, strings.Join(msgs, "; "))
	}
	spec, err := wire.FromSpec(resp.Spec)
	if err != nil {
		return c.rec.fail("configure", "invalid spec: %v", err)
	}
	if d := c.env().Dim; d == 0 {
		c.opts.Env.Dim = spec.Dim // the plugin's configuration fixed it
	} else if int64(spec.Dim) != d {
		return c.rec.fail("configure", "spec has dimension %d, but the environment says %d", spec.Dim, d)
	}
	c.spec = spec
	return c.rec.pass("configure", "config %s → %s", js, wire.SpecString(spec))
}

// badRequests sends malformed requests on the raw connection: each must be an error, and the
// plugin must survive them.
func (c *checker) badRequests() {
	c.rec.begin("bad_request")
	d, p := c.spec.Dim, c.spec.NumParams()
	theta := &pb.Params{Version: 0, Data: make([]byte, 8*p)}
	x := func(n, cols int) *pb.Tensor {
		return &pb.Tensor{Shape: []int64{int64(n), int64(cols)}, Data: make([]byte, 8*n*cols)}
	}
	type bad struct {
		what string
		req  *pb.EvaluateRequest
		code codes.Code // required code, or OK for any error
		is   error      // required host sentinel (errors.Is), or nil
	}
	cases := []bad{
		{"no outputs", &pb.EvaluateRequest{Outputs: 0, X: x(2, d), Theta: theta}, codes.InvalidArgument, host.ErrBadRequest},
		{"unknown output bit 1<<20", &pb.EvaluateRequest{Outputs: 1 << 20, X: x(2, d), Theta: theta}, codes.InvalidArgument, host.ErrBadRequest},
		{fmt.Sprintf("X of width %d", d+1), &pb.EvaluateRequest{Outputs: 1, X: x(2, d+1), Theta: theta}, codes.InvalidArgument, host.ErrBadRequest},
		{"X with too few bytes", &pb.EvaluateRequest{Outputs: 1, X: &pb.Tensor{Shape: []int64{2, int64(d)}, Data: make([]byte, 8)}, Theta: theta}, codes.InvalidArgument, host.ErrBadRequest},
		{"X of rank 1", &pb.EvaluateRequest{Outputs: 1, X: &pb.Tensor{Shape: []int64{int64(d)}, Data: make([]byte, 8*d)}, Theta: theta}, codes.InvalidArgument, host.ErrBadRequest},
		{"weights of the wrong length", &pb.EvaluateRequest{Outputs: uint32(framework.OutParamVJP), X: x(2, d), Theta: theta, Weights: make([]byte, 8*3)}, codes.InvalidArgument, host.ErrBadRequest},
		{fmt.Sprintf("θ of %d values", p+1), &pb.EvaluateRequest{Outputs: 1, X: x(2, d), Theta: &pb.Params{Data: make([]byte, 8*(p+1))}}, codes.InvalidArgument, host.ErrBadRequest},
	}
	if p > 0 {
		cases = append(cases, bad{"a θ version never sent", &pb.EvaluateRequest{Outputs: 1, X: x(2, d), Theta: &pb.Params{Version: 0x5eed}},
			codes.FailedPrecondition, host.ErrThetaNotCached})
	}
	if missing := (framework.OutMixed | framework.OutLaplacian | framework.OutHVP) &^ c.spec.Caps.Exact(); missing != 0 {
		o := framework.OutHVP
		for _, k := range []framework.Output{framework.OutMixed, framework.OutLaplacian, framework.OutHVP} {
			if missing.Has(k) {
				o = k
				break
			}
		}
		cases = append(cases, bad{fmt.Sprintf("output %s, which the spec does not claim", o),
			&pb.EvaluateRequest{Outputs: uint32(o), X: x(2, d), V: x(2, d), U: x(2, d), Theta: theta}, codes.Unimplemented, host.ErrUnimplemented})
	}
	var problems []string
	for _, b := range cases {
		err := c.call(func(ctx context.Context) error {
			_, err := c.conn.RPC.Evaluate(ctx, b.req)
			return err
		})
		st := status.Convert(err)
		switch {
		case c.conn.Exited():
			problems = append(problems, fmt.Sprintf("%s killed the plugin", b.what))
		case err == nil:
			problems = append(problems, fmt.Sprintf("%s was answered instead of refused", b.what))
		case st.Code() == codes.Unavailable:
			problems = append(problems, fmt.Sprintf("%s broke the connection: %v", b.what, err))
		case b.code != codes.OK && st.Code() != b.code:
			problems = append(problems, fmt.Sprintf("%s: code %s, want %s", b.what, st.Code(), b.code))
		case b.is != nil && !errors.Is(host.FromStatus(err), b.is):
			problems = append(problems, fmt.Sprintf("%s: the error carries no goebm.v1.ErrorDetail of reason %q (got %v)", b.what, b.is, host.FromStatus(err)))
		}
		if c.conn.Exited() {
			break
		}
	}
	if len(problems) > 0 {
		c.rec.fail("bad_request", "%s%s", strings.Join(problems, "; "), c.stderrTail())
		return
	}
	c.rec.pass("bad_request", "%d malformed requests refused, the plugin still serving", len(cases))
}

// points returns n random points of the spec's domain.
func points(spec framework.Spec, n int, rng *rand.Rand) *mat.Dense {
	x := mat.NewDense(n, spec.Dim, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < spec.Dim; j++ {
			switch spec.Domain {
			case framework.Binary:
				x.Set(i, j, float64(rng.IntN(2)))
			case framework.Spin:
				x.Set(i, j, float64(2*rng.IntN(2)-1))
			default:
				x.Set(i, j, rng.NormFloat64())
			}
		}
	}
	return x
}

// energy opens the plugin through the host, as a run would, and checks the energy contract.
func (c *checker) energy() {
	cfg := c.opts.hostConfig(c.argv)
	cfg.Config = c.opts.Config
	cfg.Env.Dim = int(c.env().Dim)
	c.rec.begin("open")
	e, err := host.Open(cfg)
	if err != nil {
		c.rec.fail("open", "%v", err)
		return
	}
	defer e.Close()
	c.rec.pass("open", "the host opened and configured a second process")

	p := e.Spec().NumParams()
	c.rec.begin("init_params")
	theta, again := make([]float64, p), make([]float64, p)
	err1 := e.InitParams(theta, rand.New(rand.NewPCG(c.opts.Seed, 1)))
	err2 := e.InitParams(again, rand.New(rand.NewPCG(c.opts.Seed, 1)))
	switch {
	case err1 != nil:
		c.rec.fail("init_params", "%v", err1)
		return
	case err2 != nil:
		c.rec.fail("init_params", "second call: %v", err2)
		return
	}
	if i := firstBitDiff(theta, again); i >= 0 {
		c.rec.fail("init_params", "not deterministic: θ[%d] is %v, then %v from the same random words", i, theta[i], again[i])
	} else {
		c.rec.pass("init_params", "%d finite parameters, the same bits from the same random words", p)
	}

	rng := rand.New(rand.NewPCG(c.opts.Seed, 2))
	x := points(e.Spec(), c.opts.Rows, rng)
	copts := c.opts.Check
	copts.Seed = c.opts.Seed
	c.rec.begin("contract")
	rep, err := check.Energy(e, theta, x, copts)
	table := strings.TrimRight(rep.String(), "\n")
	if err != nil {
		c.rec.fail("contract", "%v\n%s", err, table)
	} else {
		c.rec.pass("contract", "shapes, finiteness, determinism, batch, concurrency, bad requests and every exact output against finite differences on %d points:\n%s", c.opts.Rows, table)
	}
	c.linear(e, theta)
	c.blockGibbs(e, theta)
	c.large(e, theta)
	c.sample(e, theta)
}

// linear checks an energy that declares capability linear, E(x; θ) = θᵀT(x) + c(x): its
// Statistics must give ∇ₓE = J(x)ᵀθ + ∇ₓc(x) and ΔₓE = Σₖ θₖΔₓTₖ(x) + Δₓc(x) for the
// gradients and Laplacians that Evaluate gives (exact, or by the host's differences), at θ₀
// and at another θ.
func (c *checker) linear(e *host.Energy, theta []float64) {
	spec := e.Spec()
	if !spec.Caps.Has(framework.CapLinear) {
		return
	}
	c.rec.begin("linear")
	d, p := spec.Dim, spec.NumParams()
	x := points(spec, c.opts.Rows, rand.New(rand.NewPCG(c.opts.Seed, 5)))
	other := make([]float64, p)
	for i, v := range theta {
		other[i] = 0.5*v + 0.25
	}
	worst := 0.0
	failure := func() (msg string) {
		defer func() {
			if r := recover(); r != nil {
				msg = fmt.Sprintf("Statistics failed: %v", r)
			}
		}()
		for _, th := range [][]float64{theta, other} {
			ev := framework.NewEvaluator(e)
			var res framework.Result
			if err := ev.Evaluate(&framework.Request{Outputs: framework.OutGradX | framework.OutLaplacian, X: x, Theta: th}, &res); err != nil {
				return err.Error()
			}
			jac := mat.NewDense(p, d, nil)
			lap, gc := make([]float64, p), make([]float64, d)
			for i := 0; i < c.opts.Rows; i++ {
				row := x.RawRowView(i)
				jac.Zero()
				clear(lap)
				e.Statistics(row, jac, lap)
				lc := e.OffsetGrad(row, gc)
				for j := 0; j < d; j++ {
					g := gc[j]
					for k := 0; k < p; k++ {
						g += jac.At(k, j) * th[k]
					}
					want := res.GradX.At(i, j)
					if r := math.Abs(g-want) / (1 + math.Abs(want)); r > 1e-8 {
						return fmt.Sprintf("row %d: Jᵀθ + ∇c gives ∂E/∂x%d = %v, Evaluate %v", i, j, g, want)
					} else {
						worst = math.Max(worst, r)
					}
				}
				l := lc
				for k := 0; k < p; k++ {
					l += th[k] * lap[k]
				}
				if r := math.Abs(l-res.Laplacian[i]) / (1 + math.Abs(res.Laplacian[i])); r > 1e-5 {
					return fmt.Sprintf("row %d: Σθₖ ΔTₖ + Δc gives ΔE = %v, Evaluate %v", i, l, res.Laplacian[i])
				}
			}
		}
		return ""
	}()
	c.rec.result("linear", fmt.Sprintf("Statistics agree with Evaluate's ∇ₓE and ΔₓE on %d points at two θ (worst relative gap %.2g)", c.opts.Rows, worst), failure)
}

// blockGibbs checks an energy that declares capability block-gibbs: a sweep keeps the
// chains' shape and domain, moves them, and gives the same states from the same streams.
func (c *checker) blockGibbs(e *host.Energy, theta []float64) {
	spec := e.Spec()
	if !spec.Caps.Has(framework.CapBlockGibbs) {
		return
	}
	c.rec.begin("block_gibbs")
	const chains = 16
	x0 := points(spec, chains, rand.New(rand.NewPCG(c.opts.Seed, 6)))
	var runs [2]*mat.Dense
	for k := range runs {
		runs[k] = mat.DenseCopyOf(x0)
		rngs := framework.Streams{Seed: c.opts.Seed}.Rands("check-gibbs", chains)
		for sweep := 0; sweep < 3; sweep++ {
			if err := e.BlockGibbs(theta, runs[k], rngs); err != nil {
				c.rec.fail("block_gibbs", "%v", err)
				return
			}
		}
	}
	if i := firstBitDiff(runs[0].RawMatrix().Data, runs[1].RawMatrix().Data); i >= 0 {
		c.rec.fail("block_gibbs", "not deterministic: entry %d differs between two runs from the same streams", i)
		return
	}
	for _, v := range runs[0].RawMatrix().Data {
		if (spec.Domain == framework.Binary && v != 0 && v != 1) || (spec.Domain == framework.Spin && v != -1 && v != 1) {
			c.rec.fail("block_gibbs", "a state %v outside the %s domain", v, spec.Domain)
			return
		}
	}
	if firstBitDiff(runs[0].RawMatrix().Data, x0.RawMatrix().Data) < 0 {
		c.rec.fail("block_gibbs", "3 sweeps of %d chains left every state as it was", chains)
		return
	}
	c.rec.pass("block_gibbs", "3 sweeps of %d chains: states in the %s domain, moved, the same from the same streams", chains, spec.Domain)
}

func firstBitDiff(a, b []float64) int {
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return i
		}
	}
	return -1
}

// large sends one request whose X exceeds gRPC's default 4 MiB limit and compares it with
// the same rows sent in small requests.
func (c *checker) large(e *host.Energy, theta []float64) {
	c.rec.begin("large_message")
	spec := e.Spec()
	n := c.opts.LargeBytes/(8*spec.Dim) + 1
	x := points(spec, n, rand.New(rand.NewPCG(c.opts.Seed, 3)))
	out := framework.OutEnergy | framework.OutGradX
	var big framework.Result
	big.Reset(out, n, spec.Dim, spec.NumParams())
	before := e.RoundTrips()
	t := time.Now()
	// One request, which the plugin evaluates in chunks of 256 rows ...
	if err := e.EvaluateChunks(&framework.Request{Outputs: out, X: x, Theta: theta}, &big, 256); err != nil {
		c.rec.fail("large_message", "%d rows (%.1f MiB each way): %v", n, float64(8*n*spec.Dim)/(1<<20), err)
		return
	}
	elapsed, trips := time.Since(t), e.RoundTrips()-before
	// ... against one request per chunk.
	var small framework.Result
	small.Reset(out, n, spec.Dim, spec.NumParams())
	for lo := 0; lo < n; lo += 256 {
		hi := min(lo+256, n)
		var part framework.Result
		part.Reset(out, hi-lo, spec.Dim, spec.NumParams())
		if err := e.Evaluate(&framework.Request{Outputs: out, X: x.Slice(lo, hi, 0, spec.Dim).(*mat.Dense), Theta: theta}, &part); err != nil {
			c.rec.fail("large_message", "the same rows in requests of 256: %v", err)
			return
		}
		copy(small.Energy[lo:hi], part.Energy)
		for i := lo; i < hi; i++ {
			copy(small.GradX.RawRowView(i), part.GradX.RawRowView(i-lo))
		}
	}
	if i := firstBitDiff(big.Energy, small.Energy); i >= 0 {
		c.rec.fail("large_message", "row %d: energy %v in the large request, %v in a small one", i, big.Energy[i], small.Energy[i])
		return
	}
	if i := firstBitDiff(big.GradX.RawMatrix().Data, small.GradX.RawMatrix().Data); i >= 0 {
		c.rec.fail("large_message", "grad_x entry %d differs between the large request and small ones", i)
		return
	}
	c.rec.pass("large_message", "%d rows, %.1f MiB each way, in %d request(s) and %v; the same bits as in requests of 256 rows",
		n, float64(8*n*spec.Dim)/(1<<20), trips, elapsed.Round(time.Millisecond))
}

// sample runs two steps of the first sampler the plugin offers.
func (c *checker) sample(e *host.Energy, theta []float64) {
	c.rec.begin("sample")
	names := e.Describe().Samplers
	if len(names) == 0 {
		c.rec.pass("sample", "no plugin-side samplers offered (optional)")
		return
	}
	spec := e.Spec()
	var tried []string
	for _, name := range names {
		smp, err := e.Sampler(name, nil, nil)
		if err != nil {
			c.rec.fail("sample", "%s: %v", name, err)
			return
		}
		if smp.Supports(spec) != nil {
			continue
		}
		const chains = 4
		x := points(spec, chains, rand.New(rand.NewPCG(c.opts.Seed, 4)))
		ch := &framework.Chains{X: x, Theta: theta, Eval: framework.NewEvaluator(e),
			RNG: framework.Streams{Seed: c.opts.Seed}.Rands("check-sampler", chains)}
		if err := smp.Run(ch, 2); err != nil {
			if errors.Is(err, host.ErrUnsupported) {
				tried = append(tried, name)
				continue // the sampler does not support this energy
			}
			c.rec.fail("sample", "%s, 2 steps on %d chains: %v", name, chains, err)
			return
		}
		c.rec.pass("sample", "%s ran 2 steps on %d chains inside the plugin (offered: %s)", name, chains, strings.Join(names, ", "))
		return
	}
	c.rec.warn("sample", "none of the offered samplers (%s) supports this energy (refused as unsupported: %s)", strings.Join(names, ", "), strings.Join(tried, ", "))
}

func (c *checker) shutdown() {
	c.rec.begin("shutdown")
	d := c.conn.Close()
	c.conn = nil
	if d > time.Second {
		c.rec.warn("shutdown", "took %v: implement plugin.GRPCController/Shutdown, or go-plugin waits 2 s and kills the plugin", d.Round(time.Millisecond))
		return
	}
	c.rec.pass("shutdown", "graceful, in %v", d.Round(time.Millisecond))
}
