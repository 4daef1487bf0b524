package examples_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
)

// scale compresses provider time in every test, on both sides: the fake
// provider's solve times and the slotguard backoff (3 s, 4.5 s, ...) last
// 1/scale of their provider time.
const scale = 100

// key is the fake provider's one account.
const key = captchaaitest.DefaultKey

// newProvider starts a loopback fake provider, closed when t ends.
func newProvider(t *testing.T, faults func(captchaaitest.FaultInfo) captchaaitest.Fault) *captchaaitest.Server {
	t.Helper()
	return captchaaitest.NewTestServer(t, captchaaitest.Config{TimeScale: scale, Faults: faults})
}

// newGuard returns a slotguard Transport at the test's time scale over a
// transport of its own, whose idle connections are closed when t ends.
func newGuard(t *testing.T, cfg slotguard.Config) *slotguard.Transport {
	t.Helper()
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	cfg.TimeScale = scale
	tr, err := slotguard.New(base, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// recaptcha is a submit's form: a reCAPTCHA v2 task.
func recaptcha() url.Values {
	return url.Values{
		"key":       {key},
		"method":    {"userrecaptcha"},
		"googlekey": {"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"},
		"pageurl":   {"https://example.com/login"},
	}
}

// noSlot answers the first n submits ERROR_NO_SLOT_AVAILABLE.
func noSlot(n int) func(captchaaitest.FaultInfo) captchaaitest.Fault {
	return captchaaitest.FirstSubmits(n, captchaaitest.Fault{Kind: captchaaitest.NoSlot})
}

// billed is the number of tasks the provider accepted, and billed.
func billed(srv *captchaaitest.Server) int { return srv.Provider.Stats(key).Accepted }

// resubmitCase is a submit that may have been accepted without the caller
// knowing: a generic retry loop above slotguard sends it again.
type resubmitCase struct {
	name    string
	faults  func(captchaaitest.FaultInfo) captchaaitest.Fault
	timeout time.Duration // the caller's http.Client.Timeout; 0: none
}

var resubmitCases = []resubmitCase{
	{
		// The provider accepts and bills the task, then the connection
		// drops before the answer (a gateway restart, a NAT timeout).
		name:   "accepted then dropped",
		faults: captchaaitest.FirstSubmits(1, captchaaitest.Fault{Kind: captchaaitest.AcceptDrop}),
	},
	{
		// The provider accepts and bills the task at once, but its answer
		// comes after the caller's timeout.
		name:    "accepted then late",
		faults:  captchaaitest.FirstSubmits(1, captchaaitest.Fault{Delay: 20 * time.Second}), // 200 ms at scale
		timeout: 50 * time.Millisecond,
	},
}

// pollReset resets the connection of the first poll: a failure that is
// safe to retry, since a poll bills nothing.
func pollReset(fi captchaaitest.FaultInfo) captchaaitest.Fault {
	if fi.Endpoint == captchaaitest.Res && fi.N == 0 {
		return captchaaitest.Fault{Kind: captchaaitest.Reset}
	}
	return captchaaitest.Fault{}
}
