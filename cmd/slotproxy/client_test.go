package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingUpstream answers "OK|1" and counts the requests it saw.
func countingUpstream(t *testing.T) (url string, seen *atomic.Int64) {
	t.Helper()
	seen = new(atomic.Int64)
	up, _ := echoUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.Write([]byte("OK|1"))
	})
	return up.URL, seen
}

// waitMetrics polls base's /metrics until it holds every line of want, or
// fails the test after 5 s.
func waitMetrics(t *testing.T, c *http.Client, base string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, m := get(t, c, base+"/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(m, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, counts(m))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counts returns the proxy's request and error counts in m.
func counts(m string) string {
	return grep(m, "slotproxy_requests_total") + grep(m, "slotproxy_errors_total")
}

// A client that goes away while its submit waits for the pacer is its own
// failure: counted 499 on the client's side, never a 502 of the upstream's
// (issue 11).
func TestClientGone(t *testing.T) {
	up, seen := countingUpstream(t)
	p := startProxy(t, "-upstream", up, "-rate", "0.1")
	c := client(t)
	postForm(t, c, p.URL+"/in.php", recaptcha()) // takes the pacer's one token
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/in.php", strings.NewReader(recaptcha().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("second submit answered %d at once, want it held by the pacer", resp.StatusCode)
	}
	m := waitMetrics(t, c, p.URL,
		`slotproxy_requests_total{code="499",endpoint="in.php"} 1`,
		`slotproxy_errors_total{endpoint="in.php",kind="client-gone",side="client"} 1`)
	if strings.Contains(m, `code="502"`) || strings.Contains(m, `side="upstream"`) {
		t.Errorf("a client that went away counted as the upstream's failure:\n%s", counts(m))
	}
	if n := seen.Load(); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}

// A request body that stalls past -read-timeout is answered 408, the
// client's failure, and nothing is sent (issue 11: it was 502 canceled).
func TestStalledBody(t *testing.T) {
	up, seen := countingUpstream(t)
	p := startProxy(t, "-upstream", up, "-read-timeout", "200ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	// Ten bytes of the hundred promised, then nothing.
	conn.Write([]byte("POST /in.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Content-Length: 100\r\n\r\nkey=012345"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("stalled body: %v, want an answer", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Slotproxy-Error") != "client-timeout" {
		t.Errorf("stalled body = %d %q, want 408 client-timeout", resp.StatusCode, resp.Header.Get("X-Slotproxy-Error"))
	}
	waitMetrics(t, client(t), p.URL,
		`slotproxy_requests_total{code="408",endpoint="in.php"} 1`,
		`slotproxy_errors_total{endpoint="in.php",kind="client-timeout",side="client"} 1`)
	if n := seen.Load(); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
}

// rawRequest sends head (request line and headers, no final blank line) on
// a connection of its own to p and returns the answer's status and its
// X-Slotproxy-Error.
func rawRequest(t *testing.T, p *started, method, head string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write([]byte(head + "\r\nConnection: close\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", head, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Slotproxy-Error")
}

// Methods and paths the provider's API never uses are refused, not
// forwarded (issue 11).
func TestRefusesWhatTheAPINeverTakes(t *testing.T) {
	up, seen := countingUpstream(t)
	p := startProxy(t, "-upstream", up+"/api")
	refused := func(method, head string, status int, kind string) {
		t.Helper()
		if gotStatus, gotKind := rawRequest(t, p, method, head); gotStatus != status || gotKind != kind {
			t.Errorf("%q = %d %q, want %d %q", head, gotStatus, gotKind, status, kind)
		}
	}
	refused("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443", 405, "bad-method")
	for _, m := range []string{"TRACE", "HEAD", "PUT", "OPTIONS"} {
		refused(m, m+" /in.php?method=userrecaptcha HTTP/1.1\r\nHost: x\r\nContent-Length: 0", 405, "bad-method")
	}
	// Dot segments, plain and encoded: "/api/../x" would leave the
	// upstream's prefix.
	for _, path := range []string{"/../x", "/./in.php", "/%2e%2e/x", "/%2E%2E%2Fx", "/..%5cx", "/%252e%252e/x", "/a/..;/in.php"} {
		refused("GET", "GET "+path+" HTTP/1.1\r\nHost: x", 400, "bad-path")
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("upstream saw %d requests, want none", n)
	}
	// What the API does use still goes through, dots inside names included.
	for _, head := range []string{"GET /res.php?action=get&id=1 HTTP/1.1\r\nHost: x", "POST /x..y/in.php HTTP/1.1\r\nHost: x\r\nContent-Length: 0"} {
		if status, _ := rawRequest(t, p, "", head); status != http.StatusOK {
			t.Errorf("%q = %d, want 200", head, status)
		}
	}
	waitMetrics(t, client(t), p.URL,
		`slotproxy_errors_total{endpoint="in.php",kind="bad-method",side="client"} 4`,
		`slotproxy_errors_total{endpoint="other",kind="bad-path",side="client"} 5`)
}
