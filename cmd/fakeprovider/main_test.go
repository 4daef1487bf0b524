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

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string // the message names it
	}{
		{[]string{"-slots", "-1"}, "-slots"},
		{[]string{"-slots", "x"}, "-slots"},
		{[]string{"-balance", "-1"}, "-balance"},
		{[]string{"-time-scale", "0"}, "-time-scale"},
		{[]string{"-time-scale", "NaN"}, "-time-scale"},
		{[]string{"-key", "short"}, "-key"},
		{[]string{"-key", captchaaitest.DefaultKey + "," + captchaaitest.DefaultKey}, "-key"},
		{[]string{"-solve", "30s-10s"}, "-solve"},
		{[]string{"-solve", "soon"}, "-solve"},
		{[]string{"-fault", "boom"}, "-fault"},
		{[]string{"-fault", "500", "-fault-rate", "1.5"}, "-fault-rate"},
		{[]string{"-fault-delay", "-1s"}, "-fault-delay"},
		{[]string{"-capacity", "5m"}, "-capacity"},
		{[]string{"-capacity", "5m:2,1m:3"}, "-capacity"},
		{[]string{"-capacity", "5m:-2"}, "-capacity"},
		{[]string{"-hours", "0,2,0,0"}, "-hours"},
		{[]string{"-hours", "peak"}, "-hours"},
		{[]string{"-start-hour", "24"}, "-start-hour"},
		{[]string{"-listen", "0.0.0.0:8098"}, "-public"},
		{[]string{"-listen", ":8098"}, "-public"},
		{[]string{"-nope"}, "-nope"},
		{[]string{"extra"}, "extra"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("run(%q) = %d, want 2", tc.args, code)
			}
			if !strings.Contains(stderr.String(), tc.flag) {
				t.Errorf("run(%q): stderr = %q, want it to name %s", tc.args, stderr.String(), tc.flag)
			}
			if stdout.Len() != 0 {
				t.Errorf("run(%q): stdout = %q, want nothing", tc.args, stdout.String())
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("run(-h) = %d, want 0", code)
	}
	// Every flag with its default.
	for _, want := range []string{
		`-listen address`, `(default "127.0.0.1:8098")`, `(default "` + captchaaitest.DefaultKey + `")`,
		"-slots int", "(default 5)", "(default 100)", "-time-scale", "(default 1)", "-bans", "(default true)",
		"-solve", "-fault kind", "(default none)", "-fault-rate", "(default 0.05)", "-fault-delay", "(default 10s)",
		"-capacity", "-hours", `(default "off")`, "-start-hour", "-seed", "-public",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("run(-h): usage has no %q", want)
		}
	}
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

func TestFault(t *testing.T) {
	t.Run("500 on every submit", func(t *testing.T) {
		c := start(t, "-fault", "500", "-fault-rate", "1")
		for range 3 {
			if code, body := c.get(t, "/in.php", submitQuery(false)); code != 500 || !strings.Contains(body, "nginx") {
				t.Errorf("submit = %d %q, want 500 and nginx's page", code, body)
			}
		}
		// Polls are not faulted.
		poll := url.Values{"key": {captchaaitest.DefaultKey}, "action": {"get"}, "id": {"1"}}
		if code, body := c.get(t, "/res.php", poll); code != 200 || body != "ERROR_WRONG_CAPTCHA_ID" {
			t.Errorf("poll = %d %q, want 200 ERROR_WRONG_CAPTCHA_ID", code, body)
		}
		if a := c.stats(t).Accounts[captchaaitest.DefaultKey]; a.Accepted != 0 {
			t.Errorf("accepted = %d, want 0", a.Accepted)
		}
	})
	t.Run("no-slot on a share", func(t *testing.T) {
		c := start(t, "-fault", "no-slot", "-fault-rate", "0.5", "-slots", "1000", "-bans=false")
		const n = 100
		noSlot := 0
		for range n {
			if _, body := c.get(t, "/in.php", submitQuery(false)); body == "ERROR_NO_SLOT_AVAILABLE" {
				noSlot++
			}
		}
		if noSlot < 25 || noSlot > 75 {
			t.Errorf("NO_SLOT answers = %d of %d at -fault-rate 0.5, want about half", noSlot, n)
		}
		a := c.stats(t).Accounts[captchaaitest.DefaultKey]
		if a.Accepted+a.Rejected["ERROR_NO_SLOT_AVAILABLE"] != n || a.Rejected["ERROR_NO_SLOT_AVAILABLE"] != noSlot {
			t.Errorf("/stats = accepted %d, rejected %v; want %d accepted and %d NO_SLOT", a.Accepted, a.Rejected, n-noSlot, noSlot)
		}
	})
}

func TestBan1001(t *testing.T) {
	// No slots: every submit is NO_SLOT. The 120th in a rolling minute starts
	// the 10-minute block, so the 121st is ERROR: 1001. At -time-scale 30 a
	// minute lasts 2 s; 3 ms between submits (90 ms of provider time) keeps
	// under MAX_USER_TURN's 60 in 3 s, and 121 of them fit in the minute.
	c := start(t, "-slots", "0", "-time-scale", "30")
	for i := range 120 {
		if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_NO_SLOT_AVAILABLE" {
			t.Fatalf("submit %d = %q, want ERROR_NO_SLOT_AVAILABLE", i+1, body)
		}
		time.Sleep(3 * time.Millisecond)
	}
	if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR: 1001" {
		t.Fatalf("submit 121 = %q, want ERROR: 1001", body)
	}
	if _, body := c.get(t, "/in.php", submitQuery(true)); body != `{"status":0,"request":"ERROR: 1001"}` {
		t.Errorf("submit 122 in json=1 = %q, want the ban", body)
	}
	a := c.stats(t).Accounts[captchaaitest.DefaultKey]
	if a.Bans["ERROR: 1001"] != 1 || a.Rejected["ERROR: 1001"] != 2 || a.Rejected["ERROR_NO_SLOT_AVAILABLE"] != 120 {
		t.Errorf("/stats = bans %v, rejected %v; want one 1001, 120 NO_SLOT, 2 refused by the ban", a.Bans, a.Rejected)
	}
	c.stop(t)
	if out := c.stdout.String(); !strings.Contains(out, "bans           1 (ERROR: 1001 1)") {
		t.Errorf("stdout has no ban line:\n%s", out)
	}
}

func TestBansOff(t *testing.T) {
	c := start(t, "-slots", "0", "-bans=false")
	for i := range 130 {
		if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_NO_SLOT_AVAILABLE" {
			t.Fatalf("submit %d = %q, want ERROR_NO_SLOT_AVAILABLE with -bans=false", i+1, body)
		}
	}
}

func TestZeroBalance(t *testing.T) {
	c := start(t, "-balance", "0")
	if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_ZERO_BALANCE" {
		t.Errorf("submit with -balance 0 = %q, want ERROR_ZERO_BALANCE", body)
	}
}

func TestCapacity(t *testing.T) {
	// At 1000x, the step at 1m comes after 60 ms.
	c := start(t, "-slots", "0", "-capacity", "1m:3", "-time-scale", "1000", "-bans=false")
	if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_NO_SLOT_AVAILABLE" {
		t.Errorf("submit before the step = %q, want ERROR_NO_SLOT_AVAILABLE", body)
	}
	time.Sleep(100 * time.Millisecond)
	if _, body := c.get(t, "/in.php", submitQuery(false)); !strings.HasPrefix(body, "OK|") {
		t.Errorf("submit after the step = %q, want OK|id", body)
	}
	if got := c.stats(t).Accounts[captchaaitest.DefaultKey].Slots; got != 3 {
		t.Errorf("slots after the step = %d, want 3", got)
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
