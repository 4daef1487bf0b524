package examples_test

// The official Go client, github.com/2captcha/2captcha-go v1.1.10, read in
// the module cache (api2captcha.go):
//
//   - Send without files calls http.PostForm, and every poll (res) calls
//     http.Get: both use http.DefaultClient. Only file uploads (multipart)
//     use the client given to NewClientExt. To put slotguard under the
//     plain calls, set http.DefaultClient.Transport (the tests below), or
//     point Client.BaseURL at cmd/slotproxy, which needs no change to the
//     process's globals.
//   - Send and res write c.httpClient.Timeout = DefaultTimeout on every
//     call: one api2captcha.Client used from several goroutines, or an
//     http.Client shared with other code, is a data race. Give each
//     goroutine its own api2captcha.Client and its own http.Client; they
//     may share one slotguard Transport, which is safe for concurrent use.
//   - Every failure without an answer becomes api2captcha.ErrNetwork, and
//     WaitForResult ignores it and polls on: slotguard's ErrCircuitOpen
//     reaches the caller of Send as ErrNetwork. Every ERROR_ answer
//     becomes ErrApi, without its code.
//   - BaseURL is a *url.URL, resolved against "/in.php" and "/res.php":
//     any path in it is dropped; scheme and host are what count.
//   - NewClientExt leaves SoftId 0; NewClient sets 4583.
//   - WaitForResult sleeps PollingInterval whole seconds before each poll;
//     0 polls in a tight loop (slotguard's Config.Polls would space it).

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	api2captcha "github.com/2captcha/2captcha-go"
	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
)

// underDefaultClient makes http.DefaultClient send through rt until t
// ends: the only way under 2captcha-go's plain submits and polls. Tests
// that call it must not run in parallel.
func underDefaultClient(t *testing.T, rt http.RoundTripper) {
	t.Helper()
	old := http.DefaultClient.Transport
	http.DefaultClient.Transport = rt
	t.Cleanup(func() { http.DefaultClient.Transport = old })
}

// twoCaptcha returns an official client for srv with its own http.Client
// over rt, polling every second.
func twoCaptcha(t *testing.T, srv *captchaaitest.Server, rt http.RoundTripper) *api2captcha.Client {
	t.Helper()
	c := api2captcha.NewClientExt(key, &http.Client{Transport: rt})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	c.PollingInterval = 1 // whole seconds; the solve takes 0.1-0.3 s at this scale
	c.DefaultTimeout = 30
	c.RecaptchaTimeout = 30
	return c
}

var googleKey = recaptcha().Get("googlekey")

func TestTwoCaptchaSolveUnderSlotguard(t *testing.T) {
	srv := newProvider(t, noSlot(3)) // a NO_SLOT storm: three in a row
	tr := newGuard(t, slotguard.Config{})
	underDefaultClient(t, tr)
	c := twoCaptcha(t, srv, tr)

	cap := api2captcha.ReCaptcha{SiteKey: googleKey, Url: "https://example.com/login"}
	token, id, err := c.Solve(cap.ToRequest())
	if err != nil {
		t.Fatalf("Solve() error %v, want a token", err)
	}
	if token != "token1" || id != "1" {
		t.Errorf("Solve() = %q, %q, want token1, 1", token, id)
	}
	st := srv.Provider.Stats(key)
	if st.Accepted != 1 || st.Rejected[slotguard.CodeNoSlot] != 3 || st.Polls < 1 {
		t.Errorf("provider: %d billed, %d NO_SLOT, %d polls; want 1, 3, at least 1",
			st.Accepted, st.Rejected[slotguard.CodeNoSlot], st.Polls)
	}
	gs := tr.Stats()
	if gs.Submits != 1 || gs.Attempts != 4 || gs.Retries != 3 || gs.Accepted != 1 {
		t.Errorf("slotguard: %d submits, %d attempts, %d retries, %d accepted; want 1, 4, 3, 1",
			gs.Submits, gs.Attempts, gs.Retries, gs.Accepted)
	}
}

// The claim behind underDefaultClient: the client given to NewClientExt
// carries file uploads only.
func TestTwoCaptchaPlainCallsIgnoreGivenClient(t *testing.T) {
	srv := newProvider(t, noSlot(2))
	tr := newGuard(t, slotguard.Config{})
	c := twoCaptcha(t, srv, tr) // http.DefaultClient left alone

	cap := api2captcha.ReCaptcha{SiteKey: googleKey, Url: "https://example.com/login"}
	if _, err := c.Send(cap.ToRequest()); !errors.Is(err, api2captcha.ErrApi) {
		t.Errorf("plain Send() error %v, want ErrApi: NO_SLOT reached the client", err)
	}
	if _, err := c.GetBalance(); err != nil {
		t.Errorf("GetBalance() error %v", err)
	}
	if n := tr.Stats().Submits; n != 0 {
		t.Errorf("slotguard saw %d submits of plain calls, want 0", n)
	}

	img := filepath.Join(t.TempDir(), "captcha.png")
	if err := os.WriteFile(img, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	normal := api2captcha.Normal{File: img}
	id, err := c.Send(normal.ToRequest())
	if err != nil || id != "1" {
		t.Errorf("upload Send() = %q, %v, want 1, nil", id, err)
	}
	if gs := tr.Stats(); gs.Submits != 1 || gs.Retries != 1 {
		t.Errorf("slotguard: %d submits, %d retries of the upload; want 1, 1", gs.Submits, gs.Retries)
	}
	if n := billed(srv); n != 1 {
		t.Errorf("billed %d, want 1", n)
	}
}

// One api2captcha.Client per goroutine, one shared Transport: race-free
// (go test -race), every task billed once.
func TestTwoCaptchaConcurrentClients(t *testing.T) {
	const workers = 4
	srv := newProvider(t, noSlot(6))
	tr := newGuard(t, slotguard.Config{})
	underDefaultClient(t, tr)

	tokens := make([]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			c := twoCaptcha(t, srv, tr)
			cap := api2captcha.ReCaptcha{SiteKey: googleKey, Url: "https://example.com/login"}
			tokens[i], _, errs[i] = c.Solve(cap.ToRequest())
		})
	}
	wg.Wait()
	seen := make(map[string]bool)
	for i := range workers {
		if errs[i] != nil || seen[tokens[i]] {
			t.Errorf("worker %d: token %q, error %v; want a token of its own", i, tokens[i], errs[i])
		}
		seen[tokens[i]] = true
	}
	if n := billed(srv); n != workers {
		t.Errorf("billed %d, want %d", n, workers)
	}
}

// An open breaker reaches the official client as ErrNetwork: look at
// Transport.Stats (or errors.Is on your own calls) to tell an outage.
func TestTwoCaptchaSeesOpenBreakerAsNetworkError(t *testing.T) {
	srv := newProvider(t, noSlot(1000)) // an outage
	tr := newGuard(t, slotguard.Config{
		Retry:   slotguard.Backoff{Attempts: 2},
		Breaker: slotguard.BreakerConfig{Failures: 2},
	})
	underDefaultClient(t, tr)
	c := twoCaptcha(t, srv, tr)

	cap := api2captcha.ReCaptcha{SiteKey: googleKey, Url: "https://example.com/login"}
	if _, err := c.Send(cap.ToRequest()); !errors.Is(err, api2captcha.ErrApi) {
		t.Errorf("first Send() error %v, want ErrApi (the last NO_SLOT, handed back)", err)
	}
	if _, err := c.Send(cap.ToRequest()); !errors.Is(err, api2captcha.ErrNetwork) {
		t.Errorf("second Send() error %v, want ErrNetwork (slotguard's open breaker)", err)
	}
	gs := tr.Stats()
	if gs.FailedFast != 1 || gs.BreakerOpens != 1 {
		t.Errorf("slotguard: %d failed fast, %d opens; want 1, 1", gs.FailedFast, gs.BreakerOpens)
	}
	if st := srv.Provider.Stats(key); st.Accepted != 0 || st.Rejected[slotguard.CodeNoSlot] != 2 {
		t.Errorf("provider: %d billed, %d NO_SLOT; want 0, 2", st.Accepted, st.Rejected[slotguard.CodeNoSlot])
	}
}

// The official client solving a reCAPTCHA through NO_SLOT answers, with
// slotguard under http.DefaultClient, against a fake provider.
func Example_twoCaptcha() {
	srv := captchaaitest.NewServer(captchaaitest.Config{
		TimeScale: 100, // a 10-30 s solve lasts 0.1-0.3 s
		Faults:    captchaaitest.FirstSubmits(2, captchaaitest.Fault{Kind: captchaaitest.NoSlot}),
	})
	defer srv.Close()

	tr, err := slotguard.New(http.DefaultTransport, slotguard.Config{TimeScale: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	// 2captcha-go v1.1.10 sends plain submits and polls through
	// http.DefaultClient; keep http.DefaultTransport as slotguard's base.
	old := http.DefaultClient.Transport
	http.DefaultClient.Transport = tr
	defer func() { http.DefaultClient.Transport = old }()

	client := api2captcha.NewClient(captchaaitest.DefaultKey)
	client.BaseURL, _ = url.Parse(srv.URL) // https://2captcha.com by default
	client.PollingInterval = 1

	cap := api2captcha.ReCaptcha{SiteKey: "6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-", Url: "https://example.com/"}
	token, _, err := client.Solve(cap.ToRequest())
	st := tr.Stats()
	fmt.Println(token, err, st.Retries, srv.Provider.Stats(captchaaitest.DefaultKey).Accepted)
	// Output:
	// token1 <nil> 2 1
}
