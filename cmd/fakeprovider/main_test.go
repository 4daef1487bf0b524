package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// syncBuffer is a bytes.Buffer that run writes to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// command is one run of the command in-process.
type command struct {
	base           string // http://127.0.0.1:port
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	code           chan int
}

var servingRE = regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+)`)

// start runs the command on 127.0.0.1:0 with args and waits until it
// prints the address it serves on. The command is stopped at cleanup.
func start(t *testing.T, args ...string) *command {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &command{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, code: make(chan int, 1)}
	go func() { c.code <- run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), c.stdout, c.stderr) }()
	t.Cleanup(func() { c.stop(t) })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := servingRE.FindStringSubmatch(c.stdout.String()); m != nil {
			c.base = m[1]
			return c
		}
		select {
		case code := <-c.code:
			close(c.code) // for stop at cleanup
			t.Fatalf("run exited %d before serving; stderr:\n%s", code, c.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not print its address; stdout:\n%s", c.stdout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop cancels the command's context, as SIGINT does, and returns its exit
// code; later calls return -1.
func (c *command) stop(t *testing.T) int {
	t.Helper()
	c.cancel()
	select {
	case code, ok := <-c.code:
		if !ok {
			return -1
		}
		close(c.code)
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
		return -1
	}
}

// get GETs path with the query q and returns the status and body.
func (c *command) get(t *testing.T, path string, q url.Values) (int, string) {
	t.Helper()
	resp, err := http.Get(c.base + path + "?" + q.Encode())
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// submitQuery is an in.php reCAPTCHA submit for DefaultKey.
func submitQuery(json bool) url.Values {
	q := url.Values{
		"key":       {captchaaitest.DefaultKey},
		"method":    {"userrecaptcha"},
		"googlekey": {"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"},
		"pageurl":   {"https://example.com/login"},
	}
	if json {
		q.Set("json", "1")
	}
	return q
}

// stats reads /stats.
func (c *command) stats(t *testing.T) statsJSON {
	t.Helper()
	code, body := c.get(t, "/stats", nil)
	if code != http.StatusOK {
		t.Fatalf("/stats: status %d, want 200: %s", code, body)
	}
	var s statsJSON
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/stats: %v in %s", err, body)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	// 2 s of provider time at 100x: 20 ms.
	c := start(t, "-slots", "1", "-solve", "2s", "-time-scale", "100")
	for _, tc := range []struct {
		name      string
		json      bool
		submitted *regexp.Regexp
		noSlot    string
		solved    *regexp.Regexp
	}{
		{"text", false, regexp.MustCompile(`^OK\|(\d+)$`), "ERROR_NO_SLOT_AVAILABLE", regexp.MustCompile(`^OK\|token\d+$`)},
		{"json", true, regexp.MustCompile(`^\{"status":1,"request":"(\d+)"\}$`), `{"status":0,"request":"ERROR_NO_SLOT_AVAILABLE"}`,
			regexp.MustCompile(`^\{"status":1,"request":"token\d+"\}$`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := c.get(t, "/in.php", submitQuery(tc.json))
			m := tc.submitted.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("submit = %q, want a match of %s", got, tc.submitted)
			}
			// The only slot is held until the task is solved.
			if _, got := c.get(t, "/in.php", submitQuery(tc.json)); got != tc.noSlot {
				t.Fatalf("second submit = %q, want %q", got, tc.noSlot)
			}
			poll := url.Values{"key": {captchaaitest.DefaultKey}, "action": {"get"}, "id": {m[1]}}
			if tc.json {
				poll.Set("json", "1")
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, got = c.get(t, "/res.php", poll)
				if !strings.Contains(got, "CAPCHA_NOT_READY") || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !tc.solved.MatchString(got) {
				t.Fatalf("poll = %q, want a match of %s", got, tc.solved)
			}
		})
	}
	s := c.stats(t)
	a := s.Accounts[captchaaitest.DefaultKey]
	if a.Accepted != 2 || a.Rejected["ERROR_NO_SLOT_AVAILABLE"] != 2 || a.Polls < 2 {
		t.Errorf("/stats = accepted %d, rejected %v, polls %d; want 2, 2 NO_SLOT, >= 2", a.Accepted, a.Rejected, a.Polls)
	}
}

func TestCreateTask(t *testing.T) {
	c := start(t, "-solve", "2s", "-time-scale", "100")
	post := func(path, body string) string {
		t.Helper()
		resp, err := http.Post(c.base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	key := captchaaitest.DefaultKey
	got := post("/createTask", `{"clientKey":"`+key+`","task":{"type":"RecaptchaV2TaskProxyless",`+
		`"websiteURL":"https://example.com/login","websiteKey":"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"}}`)
	if want := `{"errorId":0,"taskId":1}`; got != want {
		t.Fatalf("createTask = %s, want %s", got, want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = post("/getTaskResult", `{"clientKey":"`+key+`","taskId":1}`)
		if !strings.Contains(got, `"processing"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(got, `"status":"ready"`) || !strings.Contains(got, `"token":"token1"`) {
		t.Errorf("getTaskResult = %s, want ready with token1", got)
	}
}

func TestStatsJSON(t *testing.T) {
	c := start(t, "-slots", "0", "-time-scale", "10", "-key", captchaaitest.DefaultKey+",ABCDEFabcdef0123456789ABCDEFabcd")
	c.get(t, "/in.php", submitQuery(false))
	_, body := c.get(t, "/stats", nil)
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("/stats: %v in %s", err, body)
	}
	for _, f := range []string{"time_scale", "elapsed_seconds", "accounts"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("/stats has no %q: %s", f, body)
		}
	}
	accounts, _ := raw["accounts"].(map[string]any)
	if len(accounts) != 2 {
		t.Fatalf("/stats accounts = %d, want 2: %s", len(accounts), body)
	}
	a, _ := accounts[captchaaitest.DefaultKey].(map[string]any)
	want := map[string]any{
		"accepted": 0.0, "polls": 0.0, "max_in_flight": 1.0, "slots": 0.0, "balance": 100.0,
		"rejected": map[string]any{"ERROR_NO_SLOT_AVAILABLE": 1.0}, "bans": map[string]any{},
		"busy_slot_seconds": 0.0, "used_slot_seconds": 0.0, "utilization": 0.0, "no_slot_per_minute": []any{1.0},
	}
	for f, w := range want {
		if got, ok := a[f]; !ok || !jsonEqual(got, w) {
			t.Errorf("/stats %s = %v, want %v", f, got, w)
		}
	}
	if _, ok := a["offered_slot_seconds"]; !ok {
		t.Errorf("/stats has no offered_slot_seconds: %s", body)
	}
	other, _ := accounts["ABCDEFabcdef0123456789ABCDEFabcd"].(map[string]any)
	if got := other["rejected"]; !jsonEqual(got, map[string]any{}) {
		t.Errorf("/stats of the second key: rejected = %v, want {}", got)
	}

	code, body := c.get(t, "/stats", url.Values{"key": {captchaaitest.DefaultKey}})
	var one accountJSON
	if err := json.Unmarshal([]byte(body), &one); code != 200 || err != nil || one.Rejected["ERROR_NO_SLOT_AVAILABLE"] != 1 {
		t.Errorf("/stats?key=K = %d %s, want 200 and that account", code, body)
	}
	if code, _ := c.get(t, "/stats", url.Values{"key": {"nope"}}); code != http.StatusNotFound {
		t.Errorf("/stats?key=unknown = %d, want 404", code)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestStopPrintsAccounting(t *testing.T) {
	c := start(t, "-slots", "1", "-time-scale", "10")
	c.get(t, "/in.php", submitQuery(false))
	c.get(t, "/in.php", submitQuery(true))
	c.get(t, "/res.php", url.Values{"key": {captchaaitest.DefaultKey}, "action": {"get"}, "id": {"1"}})
	if code := c.stop(t); code != 0 {
		t.Errorf("run after cancel = %d, want 0; stderr:\n%s", code, c.stderr)
	}
	out := c.stdout.String()
	for _, want := range []string{
		"key " + captchaaitest.DefaultKey,
		"accepted       1 (balance 99.997 USD)",
		"rejected       1 (ERROR_NO_SLOT_AVAILABLE 1)",
		"bans           0",
		"polls          1",
		"utilization    ",
		"of provider time",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout has no %q:\n%s", want, out)
		}
	}
	// The server is down.
	if resp, err := http.Get(c.base + "/stats"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /stats after stop: %s, want an error", resp.Status)
	}
}

func TestListenBusy(t *testing.T) {
	c := start(t)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-listen", strings.TrimPrefix(c.base, "http://")}, &stdout, &stderr); code != 1 {
		t.Errorf("run on a busy address = %d, want 1; stderr %q", code, stderr.String())
	}
}

func TestStopEndsInjectedDelays(t *testing.T) {
	// A submit held for an hour of provider time: stopping the command ends
	// the hold at once rather than wait for it, or for the shutdown timeout.
	c := start(t, "-fault", "slow", "-fault-delay", "1h", "-fault-rate", "1")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get(c.base + "/in.php?" + submitQuery(false).Encode())
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for c.stats(t).Accounts[captchaaitest.DefaultKey].MaxInFlight == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow submit never reached the provider")
		}
		time.Sleep(5 * time.Millisecond)
	}
	begin := time.Now()
	if code := c.stop(t); code != 0 {
		t.Errorf("run after cancel = %d, want 0", code)
	}
	if d := time.Since(begin); d >= shutdownTimeout {
		t.Errorf("stop took %v, want well under the shutdown timeout %v", d, shutdownTimeout)
	}
	if err := <-errc; err == nil {
		t.Error("the held submit got an answer, want the connection closed")
	}
	if out := c.stdout.String(); !strings.Contains(out, "accepted       1") {
		t.Errorf("stdout: want the held submit accepted (handled before its delay):\n%s", out)
	}
}
