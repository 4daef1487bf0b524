package captchaaitest

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"time"
)

// FaultKind is what an injected Fault does to the answer.
type FaultKind int

const (
	// None answers normally.
	None FaultKind = iota
	// HTML500 answers HTTP 500 with an nginx HTML page; the request is not
	// handled (nothing accepted, nothing billed, nothing counted).
	HTML500
	// HTML502 is HTML500 with 502 Bad Gateway.
	HTML502
	// Reset drops the connection before the request is handled. In memory,
	// RoundTrip returns an error matching syscall.ECONNRESET; over loopback
	// the server resets the TCP connection.
	Reset
	// AcceptDrop handles the request (a submit is accepted and billed), then
	// drops the connection before the answer. In memory, RoundTrip returns an
	// error matching io.EOF; over loopback the server closes the connection.
	AcceptDrop
	// CutBody handles the request and sends the headers with the full
	// Content-Length, then only the first half of the body, then closes. In
	// memory, the body's Read returns io.ErrUnexpectedEOF after those bytes.
	CutBody
	// NoSlot makes a submit find every slot busy: it is answered
	// ERROR_NO_SLOT_AVAILABLE, counted, and feeds the bans like any NO_SLOT.
	// On other endpoints it does nothing.
	NoSlot
)

// Fault is an injected fault: what happens to one request. The zero Fault
// answers normally. The fields combine: a slow, gzip-compressed answer whose
// body is cut short is Fault{Kind: CutBody, Delay: d, Gzip: true}.
type Fault struct {
	Kind FaultKind

	// Delay holds the answer's headers back this long (provider time: divided
	// by Config.TimeScale). The request is handled when it arrives, before
	// the delay: a client that gives up waiting may still have been billed.
	Delay time.Duration

	// BodyDelay sends the first half of the body, then waits this long
	// (provider time) before the rest.
	BodyDelay time.Duration

	// Gzip compresses the answer and sets Content-Encoding: gzip, as a server
	// does when the client accepts it. The in-memory transport hands the
	// compressed body over as it is; http.Transport over loopback decodes it
	// (and drops the header) when it asked for gzip itself.
	Gzip bool
}

// FaultInfo describes the request a Config.Faults function is asked about.
type FaultInfo struct {
	// Request is the request as the provider sees it. Its body has been
	// read already; the function must not change the request.
	Request *http.Request
	// Endpoint is the API call the request is for.
	Endpoint Endpoint
	// N counts the requests to this Endpoint before this one, from 0, in the
	// order they reached the provider; in.php and createTask share one count
	// (submits), res.php and getTaskResult another (polls).
	N int
}

// FirstSubmits returns a Config.Faults function that injects f into the
// first n submits (in.php and createTask) and nothing after: with
// Fault{Kind: NoSlot}, the first n submits answer NO_SLOT, then normally.
func FirstSubmits(n int, f Fault) func(FaultInfo) Fault {
	return func(fi FaultInfo) Fault {
		if fi.Endpoint.Submit() && fi.N < n {
			return f
		}
		return Fault{}
	}
}

// counter returns the fault counter an endpoint shares.
func counter(e Endpoint) Endpoint {
	switch e {
	case CreateTask:
		return In
	case GetTaskResult:
		return Res
	}
	return e
}

// handled reports whether the provider handles a request under fault k.
func (k FaultKind) handled() bool { return k != HTML500 && k != HTML502 && k != Reset }

// faultReply is the answer an unhandled request gets.
func faultReply(k FaultKind) reply {
	switch k {
	case HTML500:
		return reply{http.StatusInternalServerError, ctypeHTML, htmlPage(500, "Internal Server Error")}
	case HTML502:
		return reply{http.StatusBadGateway, ctypeHTML, htmlPage(502, "Bad Gateway")}
	}
	return reply{}
}

// wire is an answer as it travels: the header and the bytes sent, with the
// point at which the body stops (cut) or pauses (BodyDelay).
type wire struct {
	status int
	header http.Header
	body   []byte // all of it: Content-Length is len(body)
	split  int    // first part; the rest follows after BodyDelay, or never when cut
	cut    bool
}

// toWire applies the Gzip, CutBody and BodyDelay parts of f to rep.
func toWire(rep reply, f Fault) wire {
	w := wire{status: rep.status, header: make(http.Header), body: rep.body}
	w.header.Set("Content-Type", rep.ctype)
	if f.Gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(rep.body) // writes to a bytes.Buffer do not fail
		zw.Close()
		w.body = buf.Bytes()
		w.header.Set("Content-Encoding", "gzip")
	}
	w.header.Set("Content-Length", itoa(len(w.body)))
	w.split = len(w.body)
	if f.Kind == CutBody || f.BodyDelay > 0 {
		w.split = len(w.body) / 2
	}
	w.cut = f.Kind == CutBody
	return w
}
