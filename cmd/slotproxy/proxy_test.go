package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// seen is what an echo upstream received.
type seen struct {
	method, host, uri string
	header            http.Header
	body              []byte
}

// echoUpstream records each request and answers with answer.
func echoUpstream(t *testing.T, answer http.HandlerFunc) (*httptest.Server, func() seen) {
	t.Helper()
	var mu sync.Mutex
	var last seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{r.Method, r.Host, r.RequestURI, r.Header.Clone(), b}
		mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() seen { mu.Lock(); defer mu.Unlock(); return last }
}

// TestForwardsUnchanged: paths, queries, bodies (multipart too), encodings
// and answers go through byte for byte. It is long because it is one table
// of requests, each checked against what the upstream saw.
func TestForwardsUnchanged(t *testing.T) {
	gz := func() []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte("OK|12345"))
		zw.Close()
		return b.Bytes()
	}()
	up, last := echoUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Provider", "yes")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "drop me")
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz)
			return
		}
		io.WriteString(w, "OK|12345")
	})
	p := startProxy(t, "-upstream", up.URL+"/api")
	c := client(t)
	c.Transport.(*http.Transport).DisableCompression = true // no Accept-Encoding of its own

	// Multipart with a binary file, the way clients upload images.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("key", key)
	mw.WriteField("method", "post")
	fw, _ := mw.CreateFormFile("file", "captcha.png")
	fw.Write(bytes.Repeat([]byte{0, 0xff, '\r', '\n', 0x89}, 300))
	mw.Close()
	query := "json=0&soft_id=4583&x=%2F%3F+a%20b"
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/in.php?"+query, bytes.NewReader(body.Bytes()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("Forwarded", "for=10.0.0.1")
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "hop-by-hop")
	req.Header.Set("User-Agent", "python-requests/2.32")
	resp, got := do(t, c, req)

	s := last()
	upURL, _ := url.Parse(up.URL)
	if s.method != "POST" || s.uri != "/api/in.php?"+query || s.host != upURL.Host {
		t.Errorf("upstream saw %s %s Host %s, want POST /api/in.php?%s Host %s", s.method, s.uri, s.host, query, upURL.Host)
	}
	if !bytes.Equal(s.body, body.Bytes()) || s.header.Get("Content-Type") != mw.FormDataContentType() {
		t.Errorf("upstream body differs (%d bytes, want %d) or Content-Type %q", len(s.body), body.Len(), s.header.Get("Content-Type"))
	}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Secret", "Accept-Encoding"} {
		if v := s.header.Get(h); v != "" {
			t.Errorf("upstream saw %s: %q, want none", h, v)
		}
	}
	if ua := s.header.Get("User-Agent"); ua != "python-requests/2.32" {
		t.Errorf("upstream saw User-Agent %q, want the client's", ua)
	}
	if got != "OK|12345" || resp.Header.Get("X-Provider") != "yes" || resp.Header.Get("X-Hop") != "" {
		t.Errorf("answer %q, X-Provider %q, X-Hop %q; want OK|12345, yes, none", got, resp.Header.Get("X-Provider"), resp.Header.Get("X-Hop"))
	}

	// A client that asks for gzip gets the provider's gzip bytes as sent.
	req, _ = http.NewRequest(http.MethodGet, p.URL+"/res.php?action=get&id=1", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, got = do(t, c, req)
	if got != string(gz) || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip answer changed: %q, Content-Encoding %q", got, resp.Header.Get("Content-Encoding"))
	}
	if ae := last().header.Get("Accept-Encoding"); ae != "gzip" {
		t.Errorf("upstream saw Accept-Encoding %q, want the client's gzip", ae)
	}
}

func TestNoSlotRetriedThroughProxy(t *testing.T) {
	srv := fakeProvider(t, noSlot(3))
	p := guarded(t, srv)
	c := client(t)

	_, got := postForm(t, c, p.URL+"/in.php", recaptcha())
	if got != "OK|1" {
		t.Fatalf("submit answered %q, want OK|1", got)
	}
	if st := srv.Provider.Stats(key); st.Accepted != 1 || st.Rejected[slotNoSlot] != 3 {
		t.Errorf("provider: %d billed, %d NO_SLOT; want 1, 3", st.Accepted, st.Rejected[slotNoSlot])
	}
	_, m := get(t, c, p.URL+"/metrics")
	for _, want := range []string{
		"slotguard_submits_total 1", "slotguard_attempts_total 4", "slotguard_accepted_total 1",
		"slotguard_retries_total 3", `slotguard_answers_total{code="ERROR_NO_SLOT_AVAILABLE"} 3`,
		`slotguard_breaker_state{state="closed"} 1`, "slotguard_breaker_opens_total 0",
		`slotguard_wait_seconds_total{cause="backoff"}`, `slotproxy_requests_total{code="200",endpoint="in.php"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

const slotNoSlot = "ERROR_NO_SLOT_AVAILABLE"

func TestAdminPaths(t *testing.T) {
	up, last := echoUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") })
	c := client(t)

	p := startProxy(t, "-upstream", up.URL)
	if _, got := get(t, c, p.URL+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q, want ok", got)
	}
	if _, got := get(t, c, p.URL+"/metrics"); !strings.Contains(got, "slotguard_attempts_total") {
		t.Errorf("/metrics lacks slotguard_attempts_total")
	}
	// Only the exact paths are the proxy's own.
	for _, path := range []string{"/healthz/", "/api/metrics", "/metrics.php"} {
		if _, got := get(t, c, p.URL+path); got != "upstream" || last().uri != path {
			t.Errorf("GET %s = %q, upstream saw %q; want it forwarded", path, got, last().uri)
		}
	}

	p = startProxy(t, "-upstream", up.URL, "-admin-listen", "127.0.0.1:0")
	if _, got := get(t, c, p.URL+"/healthz"); got != "upstream" {
		t.Errorf("with -admin-listen, /healthz = %q, want it forwarded", got)
	}
	if _, got := get(t, c, p.Admin+"/healthz"); got != "ok\n" {
		t.Errorf("admin /healthz = %q, want ok", got)
	}
	if resp, _ := get(t, c, p.Admin+"/in.php"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("admin /in.php = %d, want 404", resp.StatusCode)
	}
}

func TestCircuitOpen(t *testing.T) {
	srv := fakeProvider(t, noSlot(1000))
	p := guarded(t, srv, "-attempts", "2", "-breaker-failures", "2", "-breaker-open-for", "10m", "-refusal", "http")
	c := client(t)

	if _, got := postForm(t, c, p.URL+"/in.php", recaptcha()); got != slotNoSlot {
		t.Errorf("first submit = %q, want the last NO_SLOT handed back", got)
	}
	resp, got := postForm(t, c, p.URL+"/in.php", recaptcha())
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Slotproxy-Error") != "circuit-open" ||
		resp.Header.Get("Retry-After") != "6" { // 10 min at scale 100
		t.Errorf("second submit = %d %q, X-Slotproxy-Error %q, Retry-After %q; want 503 circuit-open, 6",
			resp.StatusCode, got, resp.Header.Get("X-Slotproxy-Error"), resp.Header.Get("Retry-After"))
	}
	if st := srv.Provider.Stats(key); st.Rejected[slotNoSlot] != 2 {
		t.Errorf("provider saw %d submits, want 2 (nothing sent while open)", st.Rejected[slotNoSlot])
	}
	_, m := get(t, c, p.URL+"/metrics")
	for _, want := range []string{`slotguard_breaker_state{state="open"} 1`, "slotguard_breaker_opens_total 1", "slotguard_failed_fast_total 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestBounds(t *testing.T) {
	big := strings.Repeat("x", 4096)
	up, _ := echoUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			io.WriteString(w, big)
		case "/stream", "/stream/in.php":
			w.Write([]byte(big[:2048]))
			http.NewResponseController(w).Flush() // chunked: no Content-Length
			w.Write([]byte(big[2048:]))
		default:
			io.WriteString(w, "OK|1")
		}
	})
	p := startProxy(t, "-upstream", up.URL, "-max-request-body", "1024", "-max-response-body", "1024")
	c := client(t)

	resp, _ := postForm(t, c, p.URL+"/in.php", url.Values{"body": {big}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("large form = %d, want 413", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/in.php", io.MultiReader(strings.NewReader(big))) // chunked
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := do(t, c, req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("large chunked body = %d, want 413", resp.StatusCode)
	}
	if resp, _ := get(t, c, p.URL+"/big"); resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Slotproxy-Error") != "response-too-large" {
		t.Errorf("large answer = %d %q, want 502 response-too-large", resp.StatusCode, resp.Header.Get("X-Slotproxy-Error"))
	}
	if resp, err := c.Get(p.URL + "/stream"); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("large streamed answer read whole, want an error past the cap")
		}
	}
	// A submit's answer is read whole first: one over the cap is a 502.
	if resp, got := postForm(t, c, p.URL+"/stream/in.php", url.Values{"key": {key}}); resp.StatusCode != http.StatusBadGateway ||
		resp.Header.Get("X-Slotproxy-Error") != "response-too-large" || !strings.Contains(got, "may have been accepted") {
		t.Errorf("large streamed submit answer = %d %q %q, want 502 response-too-large saying it may have been accepted",
			resp.StatusCode, resp.Header.Get("X-Slotproxy-Error"), got)
	}
	if _, got := get(t, c, p.URL+"/res.php"); got != "OK|1" {
		t.Errorf("small answer = %q, want OK|1", got)
	}
}

func TestRequestTimeout(t *testing.T) {
	srv := fakeProvider(t, captchaaitest.FirstSubmits(1, captchaaitest.Fault{Delay: time.Minute})) // 600 ms at scale
	p := guarded(t, srv, "-request-timeout", "100ms")
	resp, got := postForm(t, client(t), p.URL+"/in.php", recaptcha())
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(got, "may have been accepted") {
		t.Errorf("slow submit = %d %q, want 504 saying the task may have been accepted", resp.StatusCode, got)
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"-listen", "0.0.0.0:8099"}, false},
		{[]string{"-listen", ":8099"}, false},
		{[]string{"-listen", "192.168.1.2:8099"}, false},
		{[]string{"-listen", "0.0.0.0:8099", "-public"}, true},
		{[]string{"-listen", "[::1]:8099"}, true},
		{[]string{"-listen", "localhost:8099"}, true},
		{[]string{"-admin-listen", ":9090"}, false},
		{[]string{"-upstream", "ftp://x"}, false},
		{[]string{"-upstream", "https://x/?key=1"}, false},
		{[]string{"-provider", "anticaptcha"}, false},
		{[]string{"-provider", "2captcha"}, true},
		{[]string{"-tls-cert", "c.pem"}, false},
		{[]string{"-max-request-body", "0"}, false},
		{[]string{"-max-queued-bytes", "1048576"}, false}, // no room for one body of -max-request-body
		{[]string{"-max-queued-bytes", "1048577"}, true},
		{[]string{"-max-request-body", "100", "-max-queued-bytes", "1000"}, true},
		{[]string{"-read-timeout", "0s"}, false},
		{[]string{"extra"}, false},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("parseFlags(%q) error %v, want ok %v", tc.args, err, tc.ok)
		}
	}
	var stderr strings.Builder
	if code := run(t.Context(), []string{"-rate", "-1"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "Config.Rate") {
		t.Errorf("run(-rate -1) = %d, %q; want 2 naming Config.Rate", code, stderr.String())
	}
}

// SIGINT or SIGTERM (here: the context) lets a request in slotguard's
// backoff finish before run returns.
func TestGracefulShutdown(t *testing.T) {
	srv := fakeProvider(t, noSlot(3)) // waits of 30, 45, 67.5 ms at scale
	p := guarded(t, srv)
	c := client(t)
	type answer struct {
		body string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := c.PostForm(p.URL+"/in.php", recaptcha())
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- answer{string(b), err}
	}()
	for srv.Provider.Stats(key).Rejected[slotNoSlot] == 0 {
		time.Sleep(time.Millisecond)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("run returned %d, want 0: %s", code, p.stderr)
	}
	a := <-done
	if a.err != nil || a.body != "OK|1" {
		t.Errorf("request in flight at shutdown = %q, %v; want OK|1", a.body, a.err)
	}
	if _, err := c.Get(p.URL + "/healthz"); err == nil {
		t.Errorf("proxy still serving after shutdown")
	}
}
