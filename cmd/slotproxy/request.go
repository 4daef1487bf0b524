package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
)

// checkRequest refuses what the provider's API never takes (issue 11), with
// the answer to give, and sets Allow in h for a method refused:
//   - methods other than GET and POST: CONNECT and TRACE were forwarded.
//     HEAD is refused too: PHP runs in.php for a HEAD as for a GET, so a
//     HEAD with a task in its query is billed, and its id is in a body
//     nobody gets.
//   - paths with a "." or ".." segment, in any encoding ("%2e%2e", "..%2f",
//     "..%5c", twice encoded): "/../x" went upstream as "/api/../x", which
//     the provider's server resolves out of the upstream's prefix.
func checkRequest(h http.Header, r *http.Request) *failure {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h.Set("Allow", "GET, POST")
		return &failure{status: http.StatusMethodNotAllowed, side: sideClient, kind: "bad-method",
			msg: "the provider's API takes GET and POST only"}
	}
	if dotSegment(r.URL.EscapedPath()) {
		return &failure{status: http.StatusBadRequest, side: sideClient, kind: "bad-path",
			msg: `a path with "." or ".." segments, which the provider's API never has`}
	}
	return nil
}

// dotSegment reports whether path, decoded as often as it decodes, has a
// "." or ".." segment between slashes or backslashes (a ";param" after it
// too), or is encoded too deep to tell.
func dotSegment(path string) bool {
	path, ok := decodeAll(path)
	if !ok {
		return true
	}
	for _, seg := range strings.FieldsFunc(path, func(c rune) bool { return c == '/' || c == '\\' }) {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

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
