package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/slotguard/slotguard"
)

// proxy forwards requests to the upstream provider through a slotguard
// Transport.
type proxy struct {
	tr       *slotguard.Transport
	rp       *httputil.ReverseProxy
	upstream *url.URL
	maxReq   int64
	held     heldBytes // request bodies held, bounded by -max-queued-bytes
	maxResp  int64
	timeout  time.Duration
	maxWait  time.Duration // -max-wait; 0: none of its own
	refusal  string        // -refusal: refuseDialect or refuseHTTP
	threads  bool          // thread permits on (-threads)
	redisKey string        // -redis-key: the one key served; "": any
	close    func()        // closes the Redis client of -redis
	logger   *slog.Logger
	verbose  bool
	metrics  *metrics
}

// newProxy builds the Transport and the ReverseProxy that o describes.
func newProxy(o *options, logger *slog.Logger) (*proxy, error) {
	base := o.base
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// The client's Accept-Encoding, or its absence, goes upstream as
		// sent, and the answer comes back as the provider encoded it: with
		// compression on, net/http would ask for gzip itself and hand the
		// client decoded bytes with other headers.
		t.DisableCompression = true
		t.MaxIdleConnsPerHost = 64
		base = t
	}
	closeFleet := func() {}
	if o.redisAddr != "" {
		var err error
		if closeFleet, err = o.joinFleet(logger); err != nil {
			return nil, err
		}
	}
	tr, err := slotguard.New(sentBase{base}, o.cfg)
	if err != nil {
		closeFleet()
		return nil, err
	}
	p := &proxy{
		tr:       tr,
		upstream: o.upstream,
		maxReq:   o.maxRequest,
		held:     heldBytes{max: o.maxQueued},
		maxResp:  o.maxResponse,
		timeout:  o.requestTimeout,
		maxWait:  o.maxWait,
		refusal:  o.refusal,
		threads:  o.cfg.Threads.Enabled,
		redisKey: o.redisKey,
		close:    closeFleet,
		logger:   logger,
		verbose:  o.verbose,
	}
	p.metrics = newMetrics(tr, &p.held)
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      tr,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		// ReverseProxy logs body copy errors here; they pass redact.
		ErrorLog:   redactedLog(logger),
		BufferPool: &bufferPool{},
	}
	return p, nil
}

// rewrite points the outbound request at the upstream: scheme, host (and
// the Host header), and the upstream's path prefix before the client's
// path. The query and the body are the client's, untouched.
//
// Rewrite (unlike Director) has already dropped the hop-by-hop headers and
// any Forwarded and X-Forwarded-* headers the client sent; SetXForwarded is
// not called, so the provider learns nothing of the hosts behind the proxy.
func (p *proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.upstream)
}

// handler is the main listener's handler: the proxy, and with admin the
// proxy's own /healthz and /metrics at exactly those paths. The providers'
// APIs live under paths ending in .php, /createTask, /getTaskResult and
// the like, never at /healthz or /metrics; with -admin-listen every path
// is forwarded.
func (p *proxy) handler(admin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if admin {
			switch r.URL.Path {
			case "/healthz":
				p.healthz(w, r)
				return
			case "/metrics":
				p.metrics.ServeHTTP(w, r)
				return
			}
		}
		p.serveProxy(w, r)
	})
}

// admin is the -admin-listen handler: /healthz and /metrics, else 404.
func (p *proxy) admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", p.healthz)
	mux.Handle("/metrics", p.metrics)
	return mux
}

func (p *proxy) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, "ok\n")
}

// serveProxy forwards one request, with its body read first and bounded,
// and its time bounded (slotguard's waits included).
func (p *proxy) serveProxy(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	// Runs also when ReverseProxy aborts an answer mid-body: it panics
	// with http.ErrAbortHandler, and the server resets the connection.
	defer func() { p.served(r, rec, start, recover()) }()
	f := checkRequest(rec.Header(), r)
	out := r
	if f == nil {
		var release func()
		out, release, f = p.readBody(w, r)
		defer release()
		if f == nil && p.redisKey != "" && requestKey(out) != p.redisKey {
			f = wrongKey()
		}
	}
	if f != nil {
		p.logger.Log(r.Context(), levelOf(f.side), "slotproxy: request refused", "method", r.Method, "path", redact(r.URL.Path),
			"status", f.status, "kind", f.kind)
		// r, not out (nil): a body refused unread shows json=1 only
		// in the query.
		p.failOrRefuse(rec, r, *f, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	// modifyResponse reaches the recorder through the context.
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	if p.maxWait > 0 && slotguard.IsSubmit(r) {
		// Never outwait the client (issue 15): a submit that cannot leave
		// within -max-wait is refused, as NO_SLOT, before the client's
		// own timeout fires.
		if wait, over := p.overrun(); over {
			f := overrunFailure(wait)
			p.logger.Warn("slotproxy: request refused", "method", r.Method, "path", redact(r.URL.Path), "kind", f.kind)
			p.failOrRefuse(rec, out, *f, nil)
			return
		}
		var wcancel context.CancelFunc
		ctx, wcancel = withMaxWait(ctx, p.maxWait)
		defer wcancel()
	}
	p.rp.ServeHTTP(rec, out.WithContext(ctx))
}

// served counts and logs a request once it is over, and passes on the
// panic v that ended it, if any.
func (p *proxy) served(r *http.Request, rec *recorder, start time.Time, v any) {
	if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		if rec.kind == "" {
			// capped noted no read error: the answer came fine, and the
			// client stopped reading it.
			rec.side, rec.kind = sideClient, "client-gone"
		}
		p.logger.Log(r.Context(), levelOf(rec.side), "slotproxy: answer cut off", "method", r.Method, "path", redact(r.URL.Path),
			"status", rec.status, "kind", rec.kind)
	}
	p.metrics.observe(r.URL.Path, rec, time.Since(start))
	if p.verbose {
		// The path only, redacted: keys travel in the query and the form,
		// and a client can hide one in an encoded path.
		p.logger.Debug("slotproxy: request", "method", r.Method, "path", redact(r.URL.Path),
			"status", rec.status, "took", time.Since(start).Round(time.Microsecond))
	}
	if v != nil {
		panic(v)
	}
}

// bufferPool reuses ReverseProxy's copy buffers, 32 KiB each, which it
// would otherwise allocate per request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// recorder remembers the status written, for metrics and the access log,
// and the side and kind of a failure the proxy answered itself.
type recorder struct {
	http.ResponseWriter
	status     int
	side, kind string
	refused    string // the provider's code a refusal answered in (-refusal dialect)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and the deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
