package main

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/slotguard/slotguard"
)

// heldBytes bounds the request body bytes that the requests inside the
// proxy hold in all (-max-queued-bytes), from the first byte read to the
// request's end, waits in slotguard included. Each submit waiting for the
// pacer or the ban budget holds its body for replay: 400 submits of 1 MiB
// took the RSS from 16 MB to 581 MB (issue 11).
type heldBytes struct {
	max int64
	n   atomic.Int64
}

// take holds n bytes more, or reports false when that would pass max.
func (h *heldBytes) take(n int64) bool {
	for {
		cur := h.n.Load()
		if cur+n > h.max {
			return false
		}
		if h.n.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// minChunk is the first buffer of a body of unknown length.
const minChunk = 512

// readBody reads r's body whole before anything is sent, and returns the
// request to forward, whose body, and GetBody for slotguard's replays,
// serve the bytes read, and a func that lets the bytes go, to call when the
// request ends.
//
// A body that fails is the client's failure and is answered as one (issue
// 11): over -max-request-body, 413; stalled past -read-timeout, 408; cut
// off, 499. slotguard would buffer a submit's body anyway, to replay it;
// read here, a client's failure can never pass for the upstream's.
//
// The body's buffer is held in p.held as it grows: a body announced by
// Content-Length all at once, before a byte is read; a chunked one in
// steps. Beyond -max-queued-bytes the request is refused, 503 queue-full,
// and nothing is sent.
func (p *proxy) readBody(w http.ResponseWriter, r *http.Request) (*http.Request, func(), *failure) {
	var held int64
	release := func() { p.held.n.Add(-held) }
	hold := func(n int64) bool {
		ok := p.held.take(n)
		if ok {
			held += n
		}
		return ok
	}
	if r.ContentLength > p.maxReq {
		return nil, release, tooLarge(p.maxReq)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return r, release, nil
	}
	// w, not the recorder: MaxBytesReader tells the server to close the
	// connection after a body over the limit.
	body := http.MaxBytesReader(w, r.Body, p.maxReq)
	var (
		buf []byte
		err error
	)
	if r.ContentLength >= 0 {
		if !hold(r.ContentLength) {
			return nil, release, p.queueFull(r, nil, body)
		}
		buf = make([]byte, r.ContentLength)
		_, err = io.ReadFull(body, buf)
	} else {
		for err == nil {
			if len(buf) == cap(buf) {
				// Double, to one byte past the limit (which
				// MaxBytesReader needs to see a body over it).
				grow := min(max(int64(cap(buf)), minChunk), p.maxReq+1-int64(cap(buf)))
				if !hold(grow) {
					return nil, release, p.queueFull(r, buf, body)
				}
				buf = append(make([]byte, 0, int64(cap(buf))+grow), buf...)
			}
			var n int
			n, err = body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if f := bodyFailure(err, p.maxReq); f != nil {
		return nil, release, f
	}
	out := r.WithContext(r.Context())
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	out.Body, _ = out.GetBody()
	return out, release, nil
}

// queueFull is the answer to r, whose body would pass -max-queued-bytes;
// read is what was read of it, and rest the body still to come.
//
// A submit refused in the provider's dialect is answered in JSON when its
// form says json=1: the form is scanned as it streams past, never held.
func (p *proxy) queueFull(r *http.Request, read []byte, rest io.Reader) *failure {
	f := &failure{status: http.StatusServiceUnavailable, side: sideProxy, kind: "queue-full",
		msg:        "the requests waiting in the proxy hold -max-queued-bytes of bodies already: nothing was sent, safe to send again",
		retryAfter: time.Second}
	if p.refusal == refuseDialect && slotguard.IsSubmit(r) {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			f.jsonForm = hasParam(io.MultiReader(bytes.NewReader(read), rest), "json=1")
		}
	}
	return f
}

// hasParam reports whether the urlencoded form in r has the parameter
// param ("name=value") as sent, reading r as it streams, in bounded memory,
// to its end or its first error.
func hasParam(r io.Reader, param string) bool {
	var (
		cur   []byte // the current parameter's first len(param)+1 bytes
		found bool
		buf   = make([]byte, 4096)
	)
	check := func() {
		found = found || string(cur) == param
		cur = cur[:0]
	}
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			switch {
			case c == '&':
				check()
			case len(cur) <= len(param):
				cur = append(cur, c)
			}
		}
		if err != nil {
			check()
			return found
		}
	}
}

// bodyFailure tells what err, from reading a request body, means.
func bodyFailure(err error, limit int64) *failure {
	var (
		mbe *http.MaxBytesError
		ne  net.Error
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.As(err, &ne) && ne.Timeout():
		return &failure{status: http.StatusRequestTimeout, side: sideClient, kind: "client-timeout",
			msg: "the request body did not come within -read-timeout"}
	}
	return &failure{status: statusClientGone, side: sideClient, kind: "client-gone",
		msg: "the client went away before its request body ended"}
}
