package slotguard

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on what slotguard reads of a response.
const (
	// peekLimit is how much of an answer, decoded, is read to classify it.
	// Provider answers are well under 300 bytes; a longer body is not one.
	peekLimit = 1 << 10
	// drainLimit bounds what is read from a discarded response so that its
	// connection can be reused; past it the connection is closed instead.
	drainLimit = 4 << 10
	// inlineAnswer is the size of an answer kept inside its body value,
	// so handing back a short answer (an accepted one is 15 to 40 bytes) costs
	// one allocation.
	inlineAnswer = 64
)

// peekPool holds the buffers answers are read into.
var peekPool = sync.Pool{New: func() any { b := make([]byte, peekLimit+1); return &b }}

// releaser ends an attempt's hold on the in-flight bound.
type releaser interface{ release() }

// inspect reads a bounded prefix of a submit's answer, classifies it, and
// returns the response with a body that gives back the same bytes: the
// prefix, then the rest. Only 2xx answers are read: the providers answer
// in.php errors with 200, and a 5xx is never retried, so reading it would
// gain nothing. rel (may be nil) is released once the answer has been read
// to the end, or, for a longer body, when the caller finishes with it.
func inspect(resp *http.Response, p Provider, rel releaser) (*http.Response, action) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if rel != nil {
			resp.Body = &answerBody{rest: resp.Body, rel: rel}
		}
		return resp, retryAfter(resp)
	}
	body, got := peekAnswer(resp, rel)
	switch got {
	case answerComplete:
		return resp, classify(resp, body.b, p)
	case answerCut:
		// What came proves nothing: the provider may have accepted the
		// task and the id may be cut, so it is neither accepted nor
		// retried.
		return resp, action{verdict: verdictLost, code: codeUnreadable}
	}
	return resp, action{verdict: verdictOther}
}

// What peekAnswer read.
const (
	answerComplete = iota // the whole answer, ended by a clean EOF
	answerCut             // a prefix, then a read error
	answerLong            // a prefix of an answer longer than any answer
)

// peekAnswer reads a bounded prefix of resp's body and puts in its place a
// body that gives back the same bytes: the prefix, then the rest. rel (may
// be nil) is released once the answer has been read to the end, or, for a
// longer body, when the caller finishes with it.
func peekAnswer(resp *http.Response, rel releaser) (*answerBody, int) {
	bp := peekPool.Get().(*[]byte)
	buf := *bp
	n, err := peek(resp.Body, buf)
	body := &answerBody{}
	got := answerComplete
	switch {
	case err == nil && n < len(buf):
		// The whole answer is in buf: the connection can go back to the
		// pool and the attempt is over.
		resp.Body.Close()
		if rel != nil {
			rel.release()
		}
	case err != nil:
		// The answer was cut short (the connection dropped before
		// Content-Length or the last chunk): the caller gets the bytes
		// that came, then this error, as from a bare http.Transport.
		body.rest, body.err = resp.Body, err
		if rel != nil {
			rel.release()
		}
		got = answerCut
	default:
		// Longer than any answer: the caller reads the rest.
		body.rest, body.rel = resp.Body, rel
		got = answerLong
	}
	body.setPrefix(buf[:n])
	peekPool.Put(bp)
	resp.Body = body
	return body, got
}

// peek reads r into buf until buf is full or r ends. A clean io.EOF ends
// it with a nil error; any other error (io.ErrUnexpectedEOF from a body cut
// short included) is returned with the bytes read before it. Unlike
// io.ReadFull, it never mistakes a cut body for a complete one.
func peek(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// retryAfter reads an HTTP 429 that carries Retry-After (seconds or an
// HTTP date) as "not accepted, come back then": a rate limit refuses before
// any work is done. A 503 is not read so, Retry-After or not: a gateway's
// 503 can follow an origin that took the task, and a 5xx on a submit is
// never retried. Any other status says nothing about the task:
// verdictOther.
func retryAfter(resp *http.Response) action {
	if resp.StatusCode != http.StatusTooManyRequests {
		return action{verdict: verdictOther}
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return action{verdict: verdictOther}
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		d = time.Duration(min(secs, math.MaxInt64/int64(time.Second))) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = max(0, time.Until(at))
	} else {
		return action{verdict: verdictOther}
	}
	return action{verdict: verdictRetryAfter, code: "HTTP 429", hold: d}
}

// classify reads a complete answer.
func classify(resp *http.Response, b []byte, p Provider) action {
	b, ok := decoded(resp, b)
	if !ok {
		return action{verdict: verdictOther, code: codeUnreadable}
	}
	a, ok := parseAnswer(b)
	switch {
	case !ok:
		return action{verdict: verdictOther, code: codeUnreadable}
	case a.accepted:
		return action{verdict: verdictAccepted}
	}
	act := actionFor(p, a.code)
	if act.code == "" {
		act.code = string(a.code)
	}
	return act
}

// decoded is a complete answer as sent, or decoded when it is
// gzip-encoded (the caller asked to see it encoded, so net/http left it
// so), up to peekLimit bytes: a compressed bomb costs no more than a plain
// answer. ok is false for an encoding it cannot read, a corrupt or
// truncated stream, or a longer answer.
func decoded(resp *http.Response, b []byte) (_ []byte, ok bool) {
	ce := resp.Header.Get("Content-Encoding")
	if ce == "" || resp.Uncompressed {
		return b, true
	}
	if ce != "gzip" {
		return nil, false
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, false
	}
	dec := make([]byte, peekLimit+1)
	n, err := peek(zr, dec)
	if err != nil || n == len(dec) {
		return nil, false
	}
	return dec[:n], true
}

// codeUnreadable counts answers slotguard cannot read, in Stats.Answers.
const codeUnreadable = "unreadable"

// answerBody is a response body that gives back a peeked prefix, then the
// rest of the original body (or the error that cut it short).
type answerBody struct {
	inline [inlineAnswer]byte
	b      []byte
	off    int
	rest   io.ReadCloser // nil when b is the whole body
	err    error         // the read error that ended the peek
	rel    releaser
	done   atomic.Bool
}

func (a *answerBody) setPrefix(p []byte) {
	if len(p) <= len(a.inline) {
		a.b = a.inline[:copy(a.inline[:], p)]
	} else {
		a.b = bytes.Clone(p)
	}
}

func (a *answerBody) Read(p []byte) (int, error) {
	if a.off < len(a.b) {
		n := copy(p, a.b[a.off:])
		a.off += n
		return n, nil
	}
	switch {
	case a.err != nil:
		return 0, a.err
	case a.rest == nil:
		return 0, io.EOF
	}
	n, err := a.rest.Read(p)
	if err != nil {
		a.release()
	}
	return n, err
}

func (a *answerBody) Close() error {
	var err error
	if a.rest != nil {
		err = a.rest.Close()
	}
	a.release()
	return err
}

func (a *answerBody) release() {
	if a.rel != nil && a.done.CompareAndSwap(false, true) {
		a.rel.release()
	}
}

// discard drains a response that is not handed back, up to drainLimit, and
// closes it.
func discard(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, drainLimit)
	resp.Body.Close()
}
