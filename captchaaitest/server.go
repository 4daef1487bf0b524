package captchaaitest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
)

// ServeHTTP answers r as the provider, over a real connection: injected
// faults reset or close the connection, or cut the body, for real.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	ex := p.serve(r, body)
	defer ex.finish()
	f := ex.fault
	if p.wait(r.Context(), f.Delay) != nil {
		// The client is gone, or the provider closed: no answer.
		hijackClose(w, true)
		return
	}
	switch f.Kind {
	case Reset:
		hijackClose(w, true)
		return
	case AcceptDrop:
		hijackClose(w, false)
		return
	}
	wr := toWire(ex.rep, f)
	if wr.cut {
		// Content-Length promises the whole body; half of it is sent, then
		// the connection closes. net/http would not let a handler do that,
		// so the answer is written on the hijacked connection.
		conn, bw := hijack(w)
		if conn == nil {
			return
		}
		defer conn.Close()
		bw.WriteString("HTTP/1.1 " + itoa(wr.status) + " " + http.StatusText(wr.status) + "\r\n")
		wr.header.Set("Connection", "close")
		wr.header.Write(bw)
		bw.WriteString("\r\n")
		bw.Write(wr.body[:wr.split])
		bw.Flush()
		return
	}
	for k, v := range wr.header {
		w.Header()[k] = v
	}
	w.WriteHeader(wr.status)
	w.Write(wr.body[:wr.split])
	if wr.split < len(wr.body) {
		http.NewResponseController(w).Flush()
		if p.wait(r.Context(), f.BodyDelay) != nil {
			hijackClose(w, true)
			return
		}
		w.Write(wr.body[wr.split:])
	}
}

// hijack takes the connection over from net/http; nil if it cannot.
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	conn, bw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil
	}
	return conn, bw
}

// hijackClose closes the connection without an answer. With reset, the
// close sends a TCP RST (SO_LINGER 0), so the client's read fails with
// ECONNRESET; otherwise it sees an orderly close (EOF).
func hijackClose(w http.ResponseWriter, reset bool) {
	conn, _ := hijack(w)
	if conn == nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		tc.SetLinger(0)
	}
	conn.Close()
}

// Server is a Provider listening on a loopback port, like httptest.Server.
type Server struct {
	URL      string    // base URL, "http://127.0.0.1:port", without a slash
	Provider *Provider // the provider behind it: Stats, Transport, ...

	ts *httptest.Server
}

// NewServer starts a loopback server for a new Provider built from cfg.
// The caller must Close it. It panics if cfg is invalid or it cannot listen,
// as httptest.NewServer does.
//
// Loopback connections hang inside testing/synctest bubbles; use
// Provider.Transport there.
func NewServer(cfg Config) *Server {
	p := New(cfg)
	ts := httptest.NewServer(p)
	return &Server{URL: ts.URL, Provider: p, ts: ts}
}

// Client returns an http.Client for the server, as httptest.Server.Client
// does. Its transport decodes gzip answers transparently when it asked for
// them itself; note that it may also resend an idempotent request (a GET)
// on its own after a reset or drop on a reused connection, as net/http
// does.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close closes the provider (ending injected delays), then shuts the server
// down and waits for its requests to finish.
func (s *Server) Close() {
	s.Provider.Close()
	s.ts.Close()
}

// TB is the part of testing.TB that NewTestServer needs. The package does
// not import testing itself (as net/http/httptest does not), so that
// commands such as cmd/slotbench can use it without linking testing in;
// a *testing.T, *testing.B or *testing.F is a TB.
type TB interface {
	Helper()
	Cleanup(func())
}

// NewTestServer is NewServer with the server's Close registered with
// tb.Cleanup.
func NewTestServer(tb TB, cfg Config) *Server {
	tb.Helper()
	s := NewServer(cfg)
	tb.Cleanup(s.Close)
	return s
}
