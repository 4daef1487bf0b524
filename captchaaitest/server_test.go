package captchaaitest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script injects its faults into the submits in order.
var script = []Fault{
	{},
	{Kind: HTML500},
	{Kind: HTML502},
	{Gzip: true},
	{Kind: NoSlot},
	{Kind: CutBody},
	{Kind: Reset},
	{Kind: AcceptDrop},
	{BodyDelay: 10 * time.Millisecond},
	{Kind: CutBody, Gzip: true},
	{Delay: 10 * time.Millisecond},
}

// outcome runs one submit and describes what the client saw: the status
// and body (gunzipped over loopback by http.Transport, so the in-memory
// answer is gunzipped here), or the class of error.
func outcome(t *testing.T, rt http.RoundTripper, baseURL string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", baseURL+"/in.php", strings.NewReader(recaptcha().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := rt.RoundTrip(req)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.EOF):
		return "eof"
	case err != nil:
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		// Only the in-memory transport leaves the body compressed.
		if _, ok := rt.(memTransport); !ok {
			t.Errorf("loopback answer still has Content-Encoding: gzip")
		}
		zr, err := gzipReader(resp.Body)
		if err != nil {
			return "cut " + err.Error()
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Sprintf("%d %q cut", resp.StatusCode, b)
	}
	return fmt.Sprintf("%d %q", resp.StatusCode, b)
}

func TestBothWaysIn(t *testing.T) {
	cfg := Config{Faults: func(fi FaultInfo) Fault {
		if fi.Endpoint.Submit() && fi.N < len(script) {
			return script[fi.N]
		}
		return Fault{}
	}}
	mem := New(cfg)
	defer mem.Close()
	srv := NewTestServer(t, cfg)

	// The loopback client must not retry on its own, nor reuse a broken
	// connection: a fresh transport per request, as the script drops some.
	for i := range script {
		loop := &http.Transport{DisableKeepAlives: true}
		got, want := outcome(t, loop, srv.URL), outcome(t, mem.Transport(), base)
		if got != want {
			t.Errorf("script step %d (%+v): loopback %s, in memory %s", i, script[i], got, want)
		}
		t.Logf("step %d: %s", i, want)
		loop.CloseIdleConnections()
	}
	if got, want := srv.Provider.Stats(DefaultKey), mem.Stats(DefaultKey); !reflect.DeepEqual(
		[]any{got.Accepted, got.Rejected, got.Balance}, []any{want.Accepted, want.Rejected, want.Balance}) {
		t.Errorf("loopback Stats = %+v, in memory %+v; want the same counts", got, want)
	}
}

func TestServerClient(t *testing.T) {
	srv := NewTestServer(t, Config{Methods: map[string]Method{"userrecaptcha": fixed(0)}})
	c := srv.Client()
	resp, err := c.PostForm(srv.URL+"/in.php", recaptcha("json", "1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(b), `{"status":1,"request":"1"}`; got != want {
		t.Errorf("POST in.php = %s, want %s", got, want)
	}
	resp, err = c.Get(srv.URL + "/res.php?" + url.Values{"key": {DefaultKey}, "action": {"get"}, "id": {"1"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(b), "OK|token1"; got != want {
		t.Errorf("GET res.php = %s, want %s", got, want)
	}
}

func TestServerSlowHeadersCancel(t *testing.T) {
	srv := NewTestServer(t, Config{Faults: always(Fault{Delay: time.Hour})})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/in.php?"+recaptcha().Encode(), nil)
	_, err := srv.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GET with a slow answer and a deadline = %v, want context.DeadlineExceeded", err)
	}
	// Close must not wait for the hour.
}
