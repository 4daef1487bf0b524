package captchaaitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
)

// Transport returns an http.RoundTripper that calls the provider directly,
// without sockets: it works inside testing/synctest bubbles, where loopback
// connections hang. Any scheme and host reach the provider; the path picks
// the endpoint.
//
// It behaves as a real transport would on the client side: it reads and
// closes the request body, never changes the request, honours the request's
// context (a cancelled context during an injected delay returns ctx.Err()
// unchanged), and returns a real *http.Response with Status, Header,
// ContentLength, Body and Request set. It does not decompress: an answer
// sent with Content-Encoding: gzip arrives compressed, with the header, as
// with http.Transport when DisableCompression is set or the caller asked for
// gzip itself.
func (p *Provider) Transport() http.RoundTripper { return memTransport{p} }

// Client returns an http.Client that uses Transport.
func (p *Provider) Client() *http.Client { return &http.Client{Transport: p.Transport()} }

type memTransport struct{ p *Provider }

// errReset is what a connection reset looks like from a real transport.
var errReset = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

func (t memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		if req != nil && req.Body != nil {
			req.Body.Close()
		}
		return nil, errNilRequest
	}
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-t.p.done:
		return nil, ErrClosed
	default:
	}

	// The provider gets its own copy, as a server would: the caller's
	// request is never changed.
	sreq := req.Clone(ctx)
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	sreq.ContentLength = int64(len(body))
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "192.0.2.1:1234"

	ex := t.p.serve(sreq, body)
	defer ex.finish()
	f := ex.fault
	if err := t.p.wait(ctx, f.Delay); err != nil {
		return nil, err
	}
	switch f.Kind {
	case Reset:
		return nil, errReset
	case AcceptDrop:
		return nil, fmt.Errorf("captchaaitest: connection closed before the answer: %w", io.EOF)
	}
	w := toWire(ex.rep, f)
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		ContentLength: int64(len(w.body)),
		Body:          newMemBody(t.p, ctx, w, f),
		Request:       req,
	}, nil
}

// readBody reads and closes the request body, as a transport sends it.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err == nil {
		_, err = io.Copy(io.Discard, req.Body) // sent in full; the provider reads maxBody
	}
	if err != nil {
		return nil, fmt.Errorf("captchaaitest: reading the request body: %w", err)
	}
	return b, nil
}

// memBody is an in-memory response body that plays the wire's pause
// (BodyDelay) or cut (CutBody). Close ends a Read waiting out the pause, as
// closing a connection does.
type memBody struct {
	p     *Provider
	ctx   context.Context // the request's, ended by Close too
	stop  context.CancelFunc
	w     wire
	delay Fault

	mu     sync.Mutex
	off    int
	waited bool
	closed bool
}

func newMemBody(p *Provider, ctx context.Context, w wire, f Fault) *memBody {
	ctx, stop := context.WithCancel(ctx)
	return &memBody{p: p, ctx: ctx, stop: stop, w: w, delay: f}
}

var errBodyClosed = errors.New("captchaaitest: read on closed response body")

func (b *memBody) Read(buf []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if b.off == b.w.split && b.off < len(b.w.body) {
		if b.w.cut {
			return 0, io.ErrUnexpectedEOF
		}
		if !b.waited {
			b.waited = true
			// Not under the lock: a concurrent Close must not wait for
			// the pause, and ends it.
			b.mu.Unlock()
			err := b.p.wait(b.ctx, b.delay.BodyDelay)
			b.mu.Lock()
			if b.closed {
				return 0, errBodyClosed
			}
			if err != nil {
				return 0, err
			}
		}
	}
	end := len(b.w.body)
	if b.off < b.w.split {
		end = b.w.split
	}
	if b.off >= end {
		return 0, io.EOF
	}
	n := copy(buf, b.w.body[b.off:end])
	b.off += n
	return n, nil
}

func (b *memBody) Close() error {
	b.stop()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}
