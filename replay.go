package slotguard

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// replayer gives each retry a fresh copy of the request body.
type replayer struct {
	getBody func() (io.ReadCloser, error) // nil: no body
	ok      bool                          // false: the body cannot be replayed
	own     bool                          // getBody reads slotguard's own copy
}

// prepareBody readies req for retries. It returns the request for the first
// attempt (req itself unless the body had to be buffered) and a replayer.
// A body without GetBody is buffered once, up to max bytes; a longer one is
// sent as it is, once.
func prepareBody(req *http.Request, max int64) (*http.Request, replayer, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return req, replayer{ok: true}, nil
	case req.GetBody != nil:
		return req, replayer{getBody: req.GetBody, ok: true}, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, max+1))
	if err != nil {
		req.Body.Close()
		return nil, replayer{}, fmt.Errorf("slotguard: reading the request body: %w", err)
	}
	r := shallowCopy(req)
	if int64(len(buf)) > max {
		// Too long to keep: send what was read, then the rest, once.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return r, replayer{}, nil
	}
	req.Body.Close()
	get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	r.Body, _ = get()
	r.GetBody = get
	return r, replayer{getBody: get, ok: true, own: true}, nil
}

// next returns the request for a retry: a copy of req with a fresh body.
func (rp replayer) next(req *http.Request) (*http.Request, error) {
	r := shallowCopy(req)
	if rp.getBody != nil {
		body, err := rp.getBody()
		if err != nil {
			return nil, fmt.Errorf("slotguard: GetBody for a retry: %w", err)
		}
		r.Body = body
	}
	return r, nil
}

// shallowCopy copies req so that its Body can change without touching the
// caller's request; nothing else is modified, so the header map and URL are
// shared, as in http.Request.WithContext.
func shallowCopy(req *http.Request) *http.Request {
	r := new(http.Request)
	*r = *req
	return r
}
