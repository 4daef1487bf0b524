package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/slotguard/slotguard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once, without waiting for requests in flight
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options is what the flags say.
type options struct {
	listen, adminListen string
	public              bool
	upstream            *url.URL
	tlsCert, tlsKey     string

	maxRequest, maxResponse, maxQueued int64

	readHeaderTimeout, readTimeout, requestTimeout time.Duration
	idleTimeout, shutdownTimeout                   time.Duration

	verbose bool
	cfg     slotguard.Config

	maxWait             time.Duration // -max-wait
	refusal             string        // -refusal
	redisAddr, redisKey string        // -redis, -redis-key

	// base sends to the upstream; nil: a clone of http.DefaultTransport.
	// Tests set an in-memory one.
	base http.RoundTripper
}

// parseFlags reads args into options; flag errors are printed to stderr.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("slotproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var upstream, provider string
	o.serverFlags(fs, &upstream, &provider)
	o.slotguardFlags(fs)
	o.limitFlags(fs)
	o.knobFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("slotproxy: unexpected argument %q", fs.Arg(0))
	}
	for _, check := range []func() error{
		func() error { return o.setProvider(provider) },
		func() error { return o.setUpstream(upstream) },
		o.checkListeners,
		o.checkLimits,
		func() error { return o.checkKnobs(fs) },
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	if o.shutdownTimeout == 0 {
		o.shutdownTimeout = o.requestTimeout + 5*time.Second
	}
	// Every body the proxy accepts can be replayed on a retry.
	o.cfg.MaxReplayBody = o.maxRequest
	return o, nil
}

// serverFlags registers where the proxy listens and what it forwards to.
func (o *options) serverFlags(fs *flag.FlagSet, upstream, provider *string) {
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8099", "`address` to serve on; beyond loopback only with -public")
	fs.StringVar(&o.adminListen, "admin-listen", "", "`address` for /healthz and /metrics; empty: the same listener, at those exact paths")
	fs.BoolVar(&o.public, "public", false, "allow listen addresses beyond loopback")
	fs.StringVar(upstream, "upstream", "https://ocr.captchaai.com", "the provider's base `URL`")
	fs.StringVar(provider, "provider", "captchaai", "how to read ERROR_ZERO_BALANCE: captchaai (no free threads, retried) or 2captcha (no funds)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with this certificate `file` (PEM), for clients that force https")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the private key `file` (PEM) of -tls-cert")
	fs.BoolVar(&o.verbose, "v", false, "log each request (method, path, status, time; never the query) and each retry")
}

// slotguardFlags registers the knobs of slotguard.Config.
func (o *options) slotguardFlags(fs *flag.FlagSet) {
	c := &o.cfg
	fs.Float64Var(&c.Rate, "rate", 0, "submit attempts per second, retries included (0: 2; +Inf: no pacing)")
	fs.IntVar(&c.Burst, "burst", 0, "pacer burst (0: 1)")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", 0, "submit attempts in flight at once (0: 8)")
	fs.IntVar(&c.Retry.Attempts, "attempts", 0, "attempts per submit, the first included (0: 5; 1: never retry)")
	fs.DurationVar(&c.Retry.Initial, "backoff", 0, "first wait after NO_SLOT (0: 3s)")
	fs.Float64Var(&c.Retry.Multiplier, "backoff-multiplier", 0, "growth of the wait per retry (0: 1.5)")
	fs.DurationVar(&c.Retry.Max, "backoff-max", 0, "cap on one wait (0: 15s)")
	fs.Float64Var(&c.Retry.Jitter, "jitter", 0, "spread of each wait, 0 to 1 (0: off)")
	fs.IntVar(&c.Breaker.Failures, "breaker-failures", 0, "consecutive NO_SLOT answers that open the breaker (0: 30)")
	fs.DurationVar(&c.Breaker.OpenFor, "breaker-open-for", 0, "how long the breaker stays open (0: 30s)")
	fs.BoolVar(&c.Polls.Enabled, "pace-polls", false, "pace res.php polls (5 s apart per task, under the ERROR: 1005 line)")
	fs.Float64Var(&c.TimeScale, "time-scale", 0, "run slotguard's durations this many times faster, for simulations against a fake provider (0: real time)")
}

// limitFlags registers the proxy's own bounds on bodies and time.
func (o *options) limitFlags(fs *flag.FlagSet) {
	fs.Int64Var(&o.maxRequest, "max-request-body", 1<<20, "largest request body in `bytes`; larger ones are answered 413")
	fs.Int64Var(&o.maxQueued, "max-queued-bytes", 64<<20, "request body `bytes` that the requests inside the proxy (waiting in slotguard or sent) may hold in all; beyond it, queue-full (see -refusal), nothing sent")
	fs.Int64Var(&o.maxResponse, "max-response-body", 1<<20, "largest answer body in `bytes`; a larger one is answered 502, or cut off by a reset once streaming")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time to read a request's headers")
	fs.DurationVar(&o.readTimeout, "read-timeout", 30*time.Second, "time to read a whole request, body included; a body still coming then is answered 408")
	fs.DurationVar(&o.requestTimeout, "request-timeout", 2*time.Minute, "time for one request through the proxy, slotguard's waits and retries included; then 504, or not-sent (see -refusal) for a submit still waiting to be sent")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection is kept")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 0, "on SIGINT or SIGTERM, how long requests in flight may finish (0: -request-timeout + 5s)")
}

func (o *options) setProvider(provider string) error {
	switch provider {
	case "captchaai":
		o.cfg.Provider = slotguard.CaptchaAI
	case "2captcha":
		o.cfg.Provider = slotguard.TwoCaptcha
	default:
		return fmt.Errorf("slotproxy: -provider %q: want captchaai or 2captcha", provider)
	}
	return nil
}

func (o *options) setUpstream(upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("slotproxy: -upstream %q: want http(s)://host[:port][/path], no query or user", redact(upstream))
	}
	o.upstream = u
	return nil
}

func (o *options) checkListeners() error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("slotproxy: -tls-cert and -tls-key go together")
	}
	for _, l := range []string{o.listen, o.adminListen} {
		if l != "" && !o.public && !loopback(l) {
			return fmt.Errorf("slotproxy: %q is beyond loopback: add -public to serve there", l)
		}
	}
	return nil
}

func (o *options) checkLimits() error {
	if o.maxRequest <= 0 || o.maxResponse <= 0 {
		return errors.New("slotproxy: -max-request-body and -max-response-body must be positive")
	}
	if o.maxQueued < o.maxRequest+1 {
		return fmt.Errorf("slotproxy: -max-queued-bytes %d: want more than -max-request-body (%d), or no body that large would ever pass", o.maxQueued, o.maxRequest)
	}
	for _, d := range []time.Duration{o.readHeaderTimeout, o.readTimeout, o.requestTimeout, o.idleTimeout} {
		if d <= 0 {
			return errors.New("slotproxy: the timeouts must be positive")
		}
	}
	return nil
}

// loopback reports whether addr ("host:port") listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false // ":8099" is every interface
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// run is the command: it serves until ctx ends, then shuts down
// gracefully. It returns the exit code: 0 after a clean shutdown, 1 on a
// failure, 2 on bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.cfg.Logger = logger

	p, err := newProxy(o, logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer p.close()
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		fmt.Fprintln(stderr, "slotproxy:", err)
		return 2
	}
	l := &listeners{o: o, logger: logger, stdout: stdout, stderr: stderr, errc: make(chan error, 2)}
	ok := l.serve(o.listen, p.handler(o.adminListen == ""), tlsCfg)
	if ok && o.adminListen != "" {
		ok = l.serve(o.adminListen, p.admin(), nil)
	}
	code := 1
	if ok {
		fmt.Fprintf(stdout, "slotproxy: upstream %s\n", redact(o.upstream.Redacted()))
		code = l.wait(ctx)
	}
	if l.shutdown(ctx) && code == 0 {
		fmt.Fprintln(stdout, "slotproxy: stopped")
		return 0
	}
	return max(code, 1)
}

// tlsConfig loads -tls-cert and -tls-key; nil without them.
func (o *options) tlsConfig() (*tls.Config, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// listeners are the command's servers: the proxy's, and the admin one.
type listeners struct {
	o              *options
	logger         *slog.Logger
	stdout, stderr io.Writer
	servers        []*http.Server
	errc           chan error // a server that stopped serving
}

// serve starts serving h on addr, and reports whether it could listen.
func (l *listeners) serve(addr string, h http.Handler, tlsCfg *tls.Config) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(l.stderr, "slotproxy:", err)
		return false
	}
	srv := l.o.server(h, tlsCfg, l.logger)
	l.servers = append(l.servers, srv)
	if tlsCfg != nil {
		fmt.Fprintf(l.stdout, "slotproxy: serving https://%s\n", ln.Addr())
		go func() { l.errc <- srv.ServeTLS(ln, "", "") }() // certificates from TLSConfig
	} else {
		fmt.Fprintf(l.stdout, "slotproxy: serving http://%s\n", ln.Addr())
		go func() { l.errc <- srv.Serve(ln) }()
	}
	return true
}

// wait serves until ctx ends (0) or a server fails (1).
func (l *listeners) wait(ctx context.Context) int {
	select {
	case <-ctx.Done():
		return 0
	case err := <-l.errc:
		fmt.Fprintln(l.stderr, "slotproxy:", err)
		return 1
	}
}

// shutdown stops accepting, lets the requests in flight finish
// (slotguard's waits included), then returns; after -shutdown-timeout the
// rest are cut. It reports whether every server finished in time.
func (l *listeners) shutdown(ctx context.Context) bool {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.o.shutdownTimeout)
	defer cancel()
	clean := true
	for _, srv := range l.servers {
		if err := srv.Shutdown(sctx); err != nil {
			fmt.Fprintln(l.stderr, "slotproxy: shutdown:", err)
			srv.Close()
			clean = false
		}
	}
	return clean
}

// server returns an http.Server with timeouts that keep a slow client from
// pinning the proxy, yet let slotguard wait out its backoff: the handler
// gives up at requestTimeout (504) before the write deadline cuts the
// connection.
func (o *options) server(h http.Handler, tlsCfg *tls.Config, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: o.readHeaderTimeout,
		ReadTimeout:       o.readTimeout,
		WriteTimeout:      o.readTimeout + o.requestTimeout + 5*time.Second,
		IdleTimeout:       o.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          redactedLog(logger),
	}
}
