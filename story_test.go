package slotguard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
)

// TestWholeStory: a plain http.Client over slotguard against the fake
// provider: NO_SLOT while the account's only slot is busy, retries on the
// default schedule, acceptance, then polling to the solution.
func TestWholeStory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := captchaaitest.New(captchaaitest.Config{
			Accounts: []captchaaitest.Account{{Key: captchaaitest.DefaultKey, Slots: 1}},
			Methods:  map[string]captchaaitest.Method{"userrecaptcha": {MinSolve: 20 * time.Second, MaxSolve: 20 * time.Second}},
		})
		defer p.Close()
		tr, err := slotguard.New(p.Transport(), slotguard.Config{})
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: tr}
		submit := url.Values{"key": {captchaaitest.DefaultKey}, "method": {"userrecaptcha"},
			"googlekey": {"6Le-x"}, "pageurl": {"https://example.com/"}}
		start := time.Now()
		first := post(t, client, "in.php", submit)
		second := post(t, client, "in.php", submit)
		if first != "OK|1" || second != "OK|2" {
			t.Fatalf("submits = %q, %q; want OK|1, OK|2", first, second)
		}
		// The slot frees at 20 s; the second task's attempts came at
		// 0.5, 3.5, 8, 14.75 and 24.875 s.
		if got := time.Since(start); got != 24875*time.Millisecond {
			t.Errorf("second task accepted at %v, want 24.875s", got)
		}
		var polls int
		for {
			polls++
			ans := get(t, client, "res.php?key="+captchaaitest.DefaultKey+"&action=get&id=2")
			if ans != "CAPCHA_NOT_READY" {
				if ans != "OK|token2" {
					t.Fatalf("poll = %q, want OK|token2", ans)
				}
				break
			}
			time.Sleep(5 * time.Second)
		}
		if polls != 5 {
			t.Errorf("polls = %d, want 5 (solved 20 s after acceptance, polled every 5 s)", polls)
		}
		st, ps := tr.Stats(), p.Stats(captchaaitest.DefaultKey)
		if st.Attempts != 6 || st.Retries != 4 || st.Accepted != 2 || ps.Accepted != 2 || ps.Rejected[slotguard.CodeNoSlot] != 4 {
			t.Errorf("slotguard %+v; provider accepted %d, rejected %v", st, ps.Accepted, ps.Rejected)
		}
	})
}

// TestFaultsNeverDoubleSubmit is the double-submit oracle against the fake
// provider: under every fault it can inject, one logical submit reaches the
// provider once (the fault's attempt is never retried, since the task may
// have been accepted), and is accepted (billed) at most once, in text, JSON
// and createTask modes. Each attempt has its own 20 s timeout, as under an
// http.Transport's ResponseHeaderTimeout or a read deadline, inside a 120 s
// deadline for the submit: a retrier that resent a timed-out attempt would
// have the time to, and the provider would see it.
func TestFaultsNeverDoubleSubmit(t *testing.T) {
	faults := []struct {
		name  string
		fault captchaaitest.Fault
		// seen is the submits the provider must see; ok whether the
		// caller gets the answer without error; accepted is what the
		// provider bills.
		seen, accepted int
		ok             bool
	}{
		{"500", captchaaitest.Fault{Kind: captchaaitest.HTML500}, 1, 0, true},
		{"502", captchaaitest.Fault{Kind: captchaaitest.HTML502}, 1, 0, true},
		{"reset", captchaaitest.Fault{Kind: captchaaitest.Reset}, 1, 0, false},
		{"accepted, dropped", captchaaitest.Fault{Kind: captchaaitest.AcceptDrop}, 1, 1, false},
		{"cut body", captchaaitest.Fault{Kind: captchaaitest.CutBody}, 1, 1, false},
		{"slow headers", captchaaitest.Fault{Delay: 40 * time.Second}, 1, 1, false},
		{"slow body", captchaaitest.Fault{BodyDelay: 40 * time.Second}, 1, 1, false},
		{"gzip", captchaaitest.Fault{Gzip: true}, 1, 1, true},
		{"gzip cut", captchaaitest.Fault{Kind: captchaaitest.CutBody, Gzip: true}, 1, 1, false},
		{"NO_SLOT", captchaaitest.Fault{Kind: captchaaitest.NoSlot}, 4, 1, true},
	}
	for _, f := range faults {
		for _, mode := range []string{"text", "json", "createTask"} {
			t.Run(f.name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					seen, accepted, err := oneFaultySubmit(t, f.fault, mode)
					if seen != f.seen || accepted != f.accepted {
						t.Errorf("provider saw %d submits and accepted %d (err %v), want %d and %d", seen, accepted, err, f.seen, f.accepted)
					}
					if (err == nil) != f.ok {
						t.Errorf("err = %v, want an error: %v", err, !f.ok)
					}
					if errors.Is(err, slotguard.ErrNotSent) {
						t.Errorf("err = %v matches ErrNotSent, but the submit was sent", err)
					}
				})
			})
		}
	}
}

// oneFaultySubmit sends one submit through slotguard to a provider that
// answers the first 3 submits with fault, and reports the submits the
// provider saw, the tasks it accepted, and the caller's error (from
// RoundTrip or from reading the answer).
func oneFaultySubmit(t *testing.T, fault captchaaitest.Fault, mode string) (seen, accepted int, err error) {
	var mu sync.Mutex
	faults := captchaaitest.FirstSubmits(3, fault)
	p := captchaaitest.New(captchaaitest.Config{Faults: func(fi captchaaitest.FaultInfo) captchaaitest.Fault {
		if fi.Endpoint.Submit() {
			mu.Lock()
			seen++
			mu.Unlock()
		}
		return faults(fi)
	}})
	defer p.Close()
	tr, err := slotguard.New(attemptTimeout{p.Transport(), 20 * time.Second}, slotguard.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var req *http.Request
	switch mode {
	case "createTask":
		body, _ := json.Marshal(map[string]any{"clientKey": captchaaitest.DefaultKey,
			"task": map[string]string{"type": "RecaptchaV2TaskProxyless", "websiteURL": "https://example.com/", "websiteKey": "6Le-x"}})
		req, _ = http.NewRequest("POST", "http://provider.test/createTask", bytes.NewReader(body))
	default:
		form := url.Values{"key": {captchaaitest.DefaultKey}, "method": {"userrecaptcha"}, "googlekey": {"6Le-x"}, "pageurl": {"https://example.com/"}}
		if mode == "json" {
			form.Set("json", "1")
		}
		req, _ = http.NewRequest("POST", "http://provider.test/in.php", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	ctx, cancel := contextWithTimeout(120 * time.Second)
	defer cancel()
	resp, err := tr.RoundTrip(req.WithContext(ctx))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	return seen, p.Stats(captchaaitest.DefaultKey).Accepted, err
}

// attemptTimeout gives each request its own timeout, from the call until
// its body is closed, like http.Client.Timeout.
type attemptTimeout struct {
	base http.RoundTripper
	d    time.Duration
}

func (a attemptTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), a.d)
	resp, err := a.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func post(t *testing.T, c *http.Client, path string, form url.Values) string {
	t.Helper()
	resp, err := c.PostForm("http://provider.test/"+path, form)
	return body(t, resp, err)
}

func get(t *testing.T, c *http.Client, path string) string {
	t.Helper()
	resp, err := c.Get("http://provider.test/" + path)
	return body(t, resp, err)
}

func body(t *testing.T, resp *http.Response, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
