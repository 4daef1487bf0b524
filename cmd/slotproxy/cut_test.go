package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// cutUpstream answers every request with a chunked "OK|7346", then closes
// the connection before the last chunk.
func cutUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "OK|7346")
		http.NewResponseController(w).Flush() // chunked
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// An answer cut short reaches no client as whole (issue 11: curl exited 0
// with OK|7346). A submit's is answered 502 answer-cut, saying the task may
// have been accepted; any other is cut off by a reset. Both count as the
// upstream's failures.
func TestCutAnswer(t *testing.T) {
	p := startProxy(t, "-upstream", cutUpstream(t))
	c := client(t)
	submits, polls := 0, 0

	// Go's http.Client.
	submits++
	resp, err := c.PostForm(p.URL+"/in.php", recaptcha())
	if err != nil {
		t.Fatalf("cut submit answer: %v, want a 502", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Slotproxy-Error") != "answer-cut" ||
		!strings.Contains(string(b), "may have been accepted") {
		t.Errorf("cut submit answer = %d %q %q, %v; want 502 answer-cut saying it may have been accepted",
			resp.StatusCode, resp.Header.Get("X-Slotproxy-Error"), b, err)
	}
	polls++
	if resp, err := c.Get(p.URL + "/res.php?action=get&id=7346"); err == nil {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("cut poll answer read whole: %d %q, want an error", resp.StatusCode, b)
		}
	}

	// curl, which exited 0 with the cut submit answer before the core's fix.
	if _, err := exec.LookPath("curl"); err == nil || ci() {
		submits++
		out := curl(t, "-w", "\n%{http_code}", "-d", "key="+key, p.URL+"/in.php")
		if !strings.HasSuffix(out, "\n502") || !strings.Contains(out, "may have been accepted") {
			t.Errorf("curl cut submit = %q, want 502 saying it may have been accepted", out)
		}
		polls++
		var exit *exec.ExitError
		out2, err := exec.Command("curl", "-sS", "--max-time", "20", p.URL+"/res.php?action=get&id=7346").CombinedOutput()
		if !errors.As(err, &exit) {
			t.Errorf("curl cut poll exited 0 with %q, want a failure", out2)
		}
	}
	waitMetrics(t, c, p.URL,
		fmt.Sprintf(`slotproxy_errors_total{endpoint="in.php",kind="answer-cut",side="upstream"} %d`, submits),
		fmt.Sprintf(`slotproxy_errors_total{endpoint="res.php",kind="answer-cut",side="upstream"} %d`, polls))
}
