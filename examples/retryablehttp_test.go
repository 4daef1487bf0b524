package examples_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/examples"
)

// retryable returns a go-retryablehttp client over rt with check as its
// policy (nil: its default), two retries and short waits. Its Logger is
// nil: the default one prints every retry, URL and query (the key) in it,
// to stderr.
func retryable(rt http.RoundTripper, check retryablehttp.CheckRetry, timeout time.Duration) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: rt, Timeout: timeout}
	c.Logger = nil
	c.RetryMax = 2
	c.RetryWaitMin, c.RetryWaitMax = time.Millisecond, 10*time.Millisecond
	if check != nil {
		c.CheckRetry = check
	}
	return c
}

func TestRetryableHTTPOverSlotguardNoSlot(t *testing.T) {
	srv := newProvider(t, noSlot(3))
	tr := newGuard(t, slotguard.Config{})
	c := retryable(tr, examples.RetryableCheckRetry(nil), 0)
	var sent int
	c.RequestLogHook = func(retryablehttp.Logger, *http.Request, int) { sent++ }

	resp, err := c.PostForm(srv.URL+"/in.php", recaptcha())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "OK|1" || sent != 1 {
		t.Errorf("retryablehttp got %q after %d attempts, want OK|1 after 1", body, sent)
	}
	if gs := tr.Stats(); gs.Retries != 3 || billed(srv) != 1 {
		t.Errorf("%d retries below, %d billed; want 3, 1", gs.Retries, billed(srv))
	}
}

func TestRetryableHTTPResubmits(t *testing.T) {
	for _, tc := range resubmitCases {
		for _, guarded := range []bool{false, true} {
			name := tc.name + "/default policy"
			var check retryablehttp.CheckRetry
			want := 2 // billed twice for one logical submit
			if guarded {
				name = tc.name + "/RetryableCheckRetry"
				check = examples.RetryableCheckRetry(nil)
				want = 1
			}
			t.Run(name, func(t *testing.T) {
				srv := newProvider(t, tc.faults)
				tr := newGuard(t, slotguard.Config{})
				c := retryable(tr, check, tc.timeout)

				resp, err := c.PostForm(srv.URL+"/in.php", recaptcha())
				if err == nil {
					resp.Body.Close()
				}
				if guarded && err == nil {
					t.Errorf("PostForm() succeeded; want the first attempt's error, not a second task")
				}
				if got := billed(srv); got != want {
					t.Errorf("billed %d for one submit, want %d", got, want)
				}
				if gs := tr.Stats(); gs.Retries != 0 {
					t.Errorf("slotguard retried %d times, want 0 (never after a possibly-accepted submit)", gs.Retries)
				}
			})
		}
	}
}

// Polls stay retried under the guarded policy: they bill nothing.
func TestRetryableCheckRetryRetriesPolls(t *testing.T) {
	srv := newProvider(t, pollReset)
	tr := newGuard(t, slotguard.Config{})
	c := retryable(tr, examples.RetryableCheckRetry(nil), 0)

	resp, err := c.Get(srv.URL + "/res.php?action=getbalance&key=" + key)
	if err != nil {
		t.Fatalf("Get() error %v, want the poll retried", err)
	}
	resp.Body.Close()
	if st := srv.Provider.Stats(key); st.Polls != 1 {
		t.Errorf("provider handled %d polls, want 1 (the reset one was not handled)", st.Polls)
	}
}
