package slotguard_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
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
// provider: under every fault it can inject, one logical submit is
// accepted (billed) at most once, in text, JSON and createTask modes.
func TestFaultsNeverDoubleSubmit(t *testing.T) {
	faults := map[string]captchaaitest.Fault{
		"500":               {Kind: captchaaitest.HTML500},
		"502":               {Kind: captchaaitest.HTML502},
		"reset":             {Kind: captchaaitest.Reset},
		"accepted, dropped": {Kind: captchaaitest.AcceptDrop},
		"cut body":          {Kind: captchaaitest.CutBody},
		"slow headers":      {Delay: 40 * time.Second},
		"slow body":         {BodyDelay: 40 * time.Second},
		"gzip":              {Gzip: true},
		"gzip cut":          {Kind: captchaaitest.CutBody, Gzip: true},
		"NO_SLOT":           {Kind: captchaaitest.NoSlot},
	}
	for name, fault := range faults {
		for _, mode := range []string{"text", "json", "createTask"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { oneFaultySubmit(t, fault, mode) })
			})
		}
	}
}

func oneFaultySubmit(t *testing.T, fault captchaaitest.Fault, mode string) {
	p := captchaaitest.New(captchaaitest.Config{Faults: captchaaitest.FirstSubmits(3, fault)})
	defer p.Close()
	tr, err := slotguard.New(p.Transport(), slotguard.Config{})
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
	ctx, cancel := contextWithTimeout(30 * time.Second)
	defer cancel()
	resp, err := tr.RoundTrip(req.WithContext(ctx))
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	st := p.Stats(captchaaitest.DefaultKey)
	if st.Accepted > 1 {
		t.Fatalf("one submit was accepted %d times (err %v)", st.Accepted, err)
	}
	if fault.Kind == captchaaitest.NoSlot && st.Accepted != 1 {
		t.Errorf("after 3 NO_SLOT answers: accepted %d, want 1 (retried)", st.Accepted)
	}
	if fault.Kind == captchaaitest.AcceptDrop && (err == nil || errors.Is(err, slotguard.ErrCircuitOpen)) {
		t.Errorf("accepted then dropped: err = %v, want the transport error", err)
	}
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
