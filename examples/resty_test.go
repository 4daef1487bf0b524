package examples_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/examples"
)

// quiet is a resty logger that drops everything: resty's default one
// prints every failed attempt, URL and query (the key) in it.
type quiet struct{}

func (quiet) Errorf(string, ...any) {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Debugf(string, ...any) {}

// restyClient returns a resty client over rt with two retries and short
// waits, and cond as its only retry condition (nil: resty's default,
// which retries every request that failed without an answer).
func restyClient(rt http.RoundTripper, cond resty.RetryConditionFunc, timeout time.Duration) *resty.Client {
	c := resty.NewWithClient(&http.Client{Transport: rt, Timeout: timeout}).
		SetLogger(quiet{}).
		SetRetryCount(2).
		SetRetryWaitTime(time.Millisecond).
		SetRetryMaxWaitTime(10 * time.Millisecond)
	if cond != nil {
		c.AddRetryCondition(cond)
	}
	return c
}

func formOf() map[string]string {
	m := make(map[string]string)
	for k, v := range recaptcha() {
		m[k] = v[0]
	}
	return m
}

func TestRestyOverSlotguardNoSlot(t *testing.T) {
	srv := newProvider(t, noSlot(3))
	tr := newGuard(t, slotguard.Config{})
	c := restyClient(tr, examples.RestyRetryCondition(), 0)

	resp, err := c.R().SetFormData(formOf()).Post(srv.URL + "/in.php")
	if err != nil {
		t.Fatal(err)
	}
	if resp.String() != "OK|1" || resp.Request.Attempt != 1 {
		t.Errorf("resty got %q after %d attempts, want OK|1 after 1", resp.String(), resp.Request.Attempt)
	}
	if gs := tr.Stats(); gs.Retries != 3 || billed(srv) != 1 {
		t.Errorf("%d retries below, %d billed; want 3, 1", gs.Retries, billed(srv))
	}
}

func TestRestyResubmits(t *testing.T) {
	for _, tc := range resubmitCases {
		for _, guarded := range []bool{false, true} {
			name := tc.name + "/default condition"
			var cond resty.RetryConditionFunc
			want := 2
			if guarded {
				name = tc.name + "/RestyRetryCondition"
				cond = examples.RestyRetryCondition()
				want = 1
			}
			t.Run(name, func(t *testing.T) {
				srv := newProvider(t, tc.faults)
				tr := newGuard(t, slotguard.Config{})
				c := restyClient(tr, cond, tc.timeout)

				_, err := c.R().SetFormData(formOf()).Post(srv.URL + "/in.php")
				if guarded && err == nil {
					t.Errorf("Post() succeeded; want the first attempt's error, not a second task")
				}
				if got := billed(srv); got != want {
					t.Errorf("billed %d for one submit, want %d", got, want)
				}
			})
		}
	}
}

func TestRestyRetryConditionRetriesPolls(t *testing.T) {
	srv := newProvider(t, pollReset)
	tr := newGuard(t, slotguard.Config{})
	c := restyClient(tr, examples.RestyRetryCondition(), 0)

	resp, err := c.R().SetQueryParams(map[string]string{"key": key, "action": "getbalance"}).Get(srv.URL + "/res.php")
	if err != nil || resp.StatusCode() != http.StatusOK {
		t.Fatalf("Get() = %v, %v; want the poll retried to 200", resp, err)
	}
	if resp.Request.Attempt != 2 {
		t.Errorf("poll took %d attempts, want 2", resp.Request.Attempt)
	}
}
