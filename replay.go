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
	head    []byte                        // the body's first bytes, when slotguard read them (buffered, or over the cap)
}

// prepareBody readies req for retries. It returns the request for the first
// attempt (req itself unless the body had to be buffered) and a replayer.
// A body without GetBody is buffered once, up to max bytes; a longer one is
// sent as it is, once.
//
// With own set, a body with GetBody is buffered too: the Transport reads
// each submit's task type from the copy, and never calls the caller's
// GetBody before the first attempt (go-retryablehttp's rewinds the very
// body the request carries).
func prepareBody(req *http.Request, max int64, own bool) (*http.Request, replayer, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return req, replayer{ok: true}, nil
	case req.GetBody != nil && !own:
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
		// Retries, which come after this body is sent, may still use
		// the caller's GetBody.
		return r, replayer{getBody: req.GetBody, ok: req.GetBody != nil, head: buf}, nil
	}
	req.Body.Close()
	get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	r.Body, _ = get()
	r.GetBody = get
	return r, replayer{getBody: get, ok: true, own: true, head: buf}, nil
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
