package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
)

// readBody reads r's body whole before anything is sent, and returns the
// request to forward: its body, and its GetBody for slotguard's replays,
// serve the bytes read. A body that fails is the client's failure and is
// answered as one (issue 11): over -max-request-body, 413; stalled past
// -read-timeout, 408; cut off, 499. slotguard would buffer a submit's body
// anyway, to replay it; read here, a client's failure can never pass for
// the upstream's.
func (p *proxy) readBody(w http.ResponseWriter, r *http.Request) (*http.Request, *failure) {
	if r.ContentLength > p.maxReq {
		return nil, tooLarge(p.maxReq)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return r, nil
	}
	// w, not the recorder: MaxBytesReader tells the server to close the
	// connection after a body over the limit.
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.maxReq))
	if f := bodyFailure(err, p.maxReq); f != nil {
		return nil, f
	}
	out := r.WithContext(r.Context())
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	out.Body, _ = out.GetBody()
	return out, nil
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
