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
	c := &o.cfg
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8099", "`address` to serve on; beyond loopback only with -public")
	fs.StringVar(&o.adminListen, "admin-listen", "", "`address` for /healthz and /metrics; empty: the same listener, at those exact paths")
	fs.BoolVar(&o.public, "public", false, "allow listen addresses beyond loopback")
	fs.StringVar(&upstream, "upstream", "https://ocr.captchaai.com", "the provider's base `URL`")
	fs.StringVar(&provider, "provider", "captchaai", "how to read ERROR_ZERO_BALANCE: captchaai (no free threads, retried) or 2captcha (no funds)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with this certificate `file` (PEM), for clients that force https")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the private key `file` (PEM) of -tls-cert")
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
	fs.Int64Var(&o.maxRequest, "max-request-body", 1<<20, "largest request body in `bytes`; larger ones are answered 413")
	fs.Int64Var(&o.maxQueued, "max-queued-bytes", 64<<20, "request body `bytes` that the requests inside the proxy (waiting in slotguard or sent) may hold in all; beyond it, 503 queue-full, nothing sent")
	fs.Int64Var(&o.maxResponse, "max-response-body", 1<<20, "largest answer body in `bytes`; a larger one is answered 502, or cut off by a reset once streaming")
	fs.DurationVar(&o.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time to read a request's headers")
	fs.DurationVar(&o.readTimeout, "read-timeout", 30*time.Second, "time to read a whole request, body included; a body still coming then is answered 408")
	fs.DurationVar(&o.requestTimeout, "request-timeout", 2*time.Minute, "time for one request through the proxy, slotguard's waits and retries included; then 504, or 503 not-sent for a submit still waiting to be sent")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection is kept")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 0, "on SIGINT or SIGTERM, how long requests in flight may finish (0: -request-timeout + 5s)")
	fs.BoolVar(&o.verbose, "v", false, "log each request (method, path, status, time; never the query) and each retry")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("slotproxy: unexpected argument %q", fs.Arg(0))
	}
	switch provider {
	case "captchaai":
		c.Provider = slotguard.CaptchaAI
	case "2captcha":
		c.Provider = slotguard.TwoCaptcha
	default:
		return nil, fmt.Errorf("slotproxy: -provider %q: want captchaai or 2captcha", provider)
	}
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("slotproxy: -upstream %q: want http(s)://host[:port][/path], no query or user", redact(upstream))
	}
	o.upstream = u
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("slotproxy: -tls-cert and -tls-key go together")
	}
	for _, l := range []string{o.listen, o.adminListen} {
		if l != "" && !o.public && !loopback(l) {
			return nil, fmt.Errorf("slotproxy: %q is beyond loopback: add -public to serve there", l)
		}
	}
	if o.maxRequest <= 0 || o.maxResponse <= 0 {
		return nil, errors.New("slotproxy: -max-request-body and -max-response-body must be positive")
	}
	if o.maxQueued < o.maxRequest+1 {
		return nil, fmt.Errorf("slotproxy: -max-queued-bytes %d: want more than -max-request-body (%d), or no body that large would ever pass", o.maxQueued, o.maxRequest)
	}
	for _, d := range []time.Duration{o.readHeaderTimeout, o.readTimeout, o.requestTimeout, o.idleTimeout} {
		if d <= 0 {
			return nil, errors.New("slotproxy: the timeouts must be positive")
		}
	}
	if o.shutdownTimeout == 0 {
		o.shutdownTimeout = o.requestTimeout + 5*time.Second
	}
	// Every body the proxy accepts can be replayed on a retry.
	c.MaxReplayBody = o.maxRequest
	return o, nil
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
	var tlsCfg *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			fmt.Fprintln(stderr, "slotproxy:", err)
			return 2
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	var servers []*http.Server
	errc := make(chan error, 2)
	serve := func(addr string, h http.Handler, tlsCfg *tls.Config) bool {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(stderr, "slotproxy:", err)
			return false
		}
		srv := o.server(h, tlsCfg, logger)
		servers = append(servers, srv)
		if tlsCfg != nil {
			fmt.Fprintf(stdout, "slotproxy: serving https://%s\n", ln.Addr())
			go func() { errc <- srv.ServeTLS(ln, "", "") }() // certificates from TLSConfig
		} else {
			fmt.Fprintf(stdout, "slotproxy: serving http://%s\n", ln.Addr())
			go func() { errc <- srv.Serve(ln) }()
		}
		return true
	}
	main := p.handler(o.adminListen == "")
	ok := serve(o.listen, main, tlsCfg)
	if ok && o.adminListen != "" {
		ok = serve(o.adminListen, p.admin(), nil)
	}
	if ok {
		fmt.Fprintf(stdout, "slotproxy: upstream %s\n", redact(o.upstream.Redacted()))
	}

	code := 0
	if ok {
		select {
		case <-ctx.Done():
		case err := <-errc:
			fmt.Fprintln(stderr, "slotproxy:", err)
			code = 1
		}
	} else {
		code = 1
	}
	// Shutdown stops accepting, lets the requests in flight finish
	// (slotguard's waits included), then returns; after shutdownTimeout
	// the rest are cut.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			fmt.Fprintln(stderr, "slotproxy: shutdown:", err)
			srv.Close()
			code = 1
		}
	}
	if code == 0 {
		fmt.Fprintln(stdout, "slotproxy: stopped")
	}
	return code
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
