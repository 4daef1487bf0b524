package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/slotguard/slotguard"
)

var (
	// errResponseTooLarge is the error of an answer over
	// -max-response-body.
	errResponseTooLarge = errors.New("slotproxy: answer over -max-response-body")
	// errAnswerCut is the error of an answer whose body broke off: the
	// connection dropped before its Content-Length or last chunk.
	errAnswerCut = errors.New("slotproxy: the provider's answer was cut short")
)

// recorderKey is the context key of the request's *recorder.
type recorderKey struct{}

// modifyResponse bounds the answer's size and makes a failing one a failure
// the client sees:
//   - an answer that announces a Content-Length over -max-response-body is
//     refused (502);
//   - a submit's answer is read whole before any of it goes out: an answer
//     cut short, or over the limit, is answered 502 (answer-cut,
//     response-too-large), saying the task may have been accepted. It was a
//     200 whose body broke off after "OK|7346" (issue 11), which curl and
//     a careless client read as a task id. The answer is a few bytes, held
//     while the attempt holds its in-flight slot;
//   - any other answer streams: one that breaks off or turns out larger is
//     cut off, and ReverseProxy then aborts the connection, so that the
//     client sees an error rather than a short answer. capped notes why,
//     for the metrics.
func (p *proxy) modifyResponse(resp *http.Response) error {
	if resp.ContentLength > p.maxResp {
		return fmt.Errorf("%w (%d bytes)", errResponseTooLarge, resp.ContentLength)
	}
	body := &capped{ReadCloser: resp.Body, left: p.maxResp}
	if !slotguard.IsSubmit(resp.Request) {
		body.rec, _ = resp.Request.Context().Value(recorderKey{}).(*recorder)
		resp.Body = body
		return nil
	}
	b, err := io.ReadAll(body)
	body.Close()
	switch {
	case errors.Is(err, errResponseTooLarge):
		return err
	case err != nil:
		return fmt.Errorf("%w: %w", errAnswerCut, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return nil
}

// capped fails a read past its last allowed byte, and notes a read error
// in rec, when set.
type capped struct {
	io.ReadCloser
	left int64
	rec  *recorder
}

func (c *capped) Read(b []byte) (int, error) {
	if int64(len(b)) > c.left+1 {
		b = b[:c.left+1] // one byte more tells a body of exactly the cap from a longer one
	}
	n, err := c.ReadCloser.Read(b)
	c.left -= int64(n)
	if c.left < 0 {
		n, err = n+int(c.left), errResponseTooLarge
	}
	if err != nil && !errors.Is(err, io.EOF) && c.rec != nil {
		c.rec.side, c.rec.kind = sideUpstream, "answer-cut"
		if errors.Is(err, errResponseTooLarge) {
			c.rec.kind = "response-too-large"
		}
	}
	return n, err
}
