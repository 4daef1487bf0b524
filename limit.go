package slotguard

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Limit is an http.RoundTripper that bounds how many submit attempts (in.php
// and createTask requests) are in flight at once. An attempt is in flight
// from the moment it holds a slot of Sem until its response body has been
// read to the end or closed, or its RoundTrip has failed. Other requests pass
// straight through.
//
// The zero value passes everything through unbounded. Sem may be shared
// between Limits, and with any other user of the same *semaphore.Weighted.
type Limit struct {
	// Base is the RoundTripper that sends the request; nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Sem bounds submit attempts in flight, one unit each; nil means no
	// bound.
	Sem *semaphore.Weighted
}

// RoundTrip implements http.RoundTripper.
func (l *Limit) RoundTrip(req *http.Request) (*http.Response, error) {
	base := baseOf(l.Base)
	if !isSubmit(req) || l.Sem == nil {
		return base.RoundTrip(req)
	}
	if _, err := acquire(req.Context(), l.Sem); err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		l.Sem.Release(1)
		return nil, err
	}
	resp.Body = &releaseBody{rc: resp.Body, sem: l.Sem}
	return resp, nil
}

// acquire takes one unit of sem, waiting at most until ctx ends, and reports
// how long it waited. The fast path takes no clock reading.
func acquire(ctx context.Context, sem *semaphore.Weighted) (time.Duration, error) {
	if sem == nil || sem.TryAcquire(1) {
		return 0, nil
	}
	start := time.Now()
	err := sem.Acquire(ctx, 1)
	return time.Since(start), err
}

// releaseBody releases its semaphore unit exactly once: at the end of the
// body, at a read error, or at Close, whichever comes first. A caller that
// closes early, or reads to the end and never closes, frees the slot all
// the same.
type releaseBody struct {
	rc   io.ReadCloser
	sem  *semaphore.Weighted
	done atomic.Bool
}

func (b *releaseBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *releaseBody) Close() error {
	err := b.rc.Close()
	b.release()
	return err
}

func (b *releaseBody) release() {
	if b.sem != nil && b.done.CompareAndSwap(false, true) {
		b.sem.Release(1)
	}
}
