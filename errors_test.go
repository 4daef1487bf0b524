package slotguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// TestErrNotSent: an error matches ErrNotSent exactly when the provider
// cannot have accepted the submit, and still matches its cause.
// It is long because of its table: one row per way a submit ends unsent.
func TestErrNotSent(t *testing.T) {
	errRead := errors.New("client went away")
	tests := []struct {
		name  string
		cfg   Config
		base  func(n int) (*http.Response, error) // the n-th attempt, from 1
		req   func(t *testing.T) *http.Request
		cause error
		sent  int // attempts of the second submit the provider saw
		not   bool
	}{
		{"breaker open", Config{Breaker: BreakerConfig{Failures: 1}, Retry: Backoff{Attempts: 1}},
			func(int) (*http.Response, error) { return textResp(200, CodeNoSlot), nil },
			submitReqT, ErrCircuitOpen, 0, true},
		{"pacer's next token after the deadline", Config{Rate: 0.1},
			func(int) (*http.Response, error) { return textResp(200, "OK|1"), nil },
			func(t *testing.T) *http.Request {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				t.Cleanup(cancel)
				return submitReq(t).WithContext(ctx)
			}, context.DeadlineExceeded, 0, true},
		{"request body unreadable", noPacing,
			func(int) (*http.Response, error) { return textResp(200, "OK|1"), nil },
			func(t *testing.T) *http.Request {
				req := submitReq(t)
				req.Body = io.NopCloser(errReader{errRead})
				req.GetBody = nil
				return req
			}, errRead, 0, true},
		{"transport error", noPacing,
			func(int) (*http.Response, error) { return nil, syscall.ECONNRESET },
			submitReqT, syscall.ECONNRESET, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int32
				base := rtFunc(func(r *http.Request) (*http.Response, error) {
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
					return tt.base(int(n.Add(1)))
				})
				tr := mustNew(t, base, tt.cfg)
				// A first submit fills the pacer, or opens the breaker.
				if resp, err := tr.RoundTrip(submitReq(t)); err == nil {
					resp.Body.Close()
				}
				n.Store(0)
				resp, err := tr.RoundTrip(tt.req(t))
				if err == nil {
					resp.Body.Close()
					t.Fatal("RoundTrip succeeded, want an error")
				}
				if errors.Is(err, ErrNotSent) != tt.not {
					t.Errorf("errors.Is(%v, ErrNotSent) = %v, want %v", err, !tt.not, tt.not)
				}
				if tt.cause != nil && !errors.Is(err, tt.cause) {
					t.Errorf("err = %v, want it to match %v", err, tt.cause)
				}
				if got := int(n.Load()); got != tt.sent {
					t.Errorf("provider saw %d attempts of the second submit, want %d", got, tt.sent)
				}
			})
		})
	}
}

func submitReqT(t *testing.T) *http.Request { return submitReq(t) }

// TestBudgetCountsLostAnswers: an attempt sent whose answer was lost (a
// transport error) may have been a NO_SLOT the provider counted, so it
// counts toward the NO_SLOT line: a run of lost answers cannot pass it
// (issue 11).
func TestBudgetCountsLostAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			r.Body.Close()
			n.Add(1)
			return nil, syscall.ECONNRESET
		})
		tr := mustNew(t, base, Config{Rate: math.Inf(1), Budget: BudgetConfig{NoSlotPerMinute: 3}})
		start := time.Now()
		for range 4 {
			if _, err := tr.RoundTrip(submitReq(t)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("err = %v, want ECONNRESET", err)
			}
		}
		// 3 at 0 s fill the line; the 4th waits for the first to age out
		// of the minute (counted in 1 s buckets).
		if got := time.Since(start); n.Load() != 4 || got != 61*time.Second {
			t.Errorf("4 lost attempts took %v (%d sent), want 1m1s", got, n.Load())
		}
	})
}

// TestRedactError: the *url.Error that http.Client wraps around a RoundTrip
// error carries the URL, key= included; RedactError blanks it and keeps
// errors.Is and errors.As (issue 11).
func TestRedactError(t *testing.T) {
	client := &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
		return nil, syscall.ECONNRESET
	})}
	for _, u := range []string{
		"http://provider.test/res.php?key=" + testKey + "&action=get&id=1",
		"http://provider.test/res.php?action=get&KEY=" + testKey,
		"http://provider.test/res.php%3Fkey%3D" + testKey + "%26action%3Dget",
	} {
		_, err := client.Get(u)
		if !strings.Contains(err.Error(), testKey) {
			t.Fatalf("client.Get(%q) = %v: the key is not there to redact", u, err)
		}
		red := RedactError(err)
		var ue *url.Error
		if strings.Contains(red.Error(), testKey) || !strings.Contains(red.Error(), "REDACTED") {
			t.Errorf("RedactError(%v) = %v, want the key REDACTED", err, red)
		}
		if !errors.Is(red, syscall.ECONNRESET) || !errors.As(red, &ue) || strings.Contains(ue.URL, testKey) {
			t.Errorf("RedactError(%v) = %#v: lost errors.Is/As, or the URL kept the key", err, red)
		}
	}
	wrapped := fmt.Errorf("submit: %w", &url.Error{Op: "Post", URL: "http://p/in.php?key=" + testKey, Err: context.Canceled})
	if red := RedactError(wrapped); strings.Contains(red.Error(), testKey) || !errors.Is(red, context.Canceled) {
		t.Errorf("RedactError(%v) = %v, want the key gone and context.Canceled kept", wrapped, red)
	}
	if plain := errors.New("no key here"); RedactError(plain) != plain || RedactError(nil) != nil {
		t.Error("RedactError changed an error without a key, or nil")
	}
}
