package promguard_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
	"github.com/slotguard/slotguard/promguard"
)

const api = "https://ocr.captchaai.com"

// image is a base64 image body the fake takes (over 100 bytes).
var image = base64.StdEncoding.EncodeToString(make([]byte, 200))

// newTransport returns a Transport over an in-memory fake provider with
// cfg, and a client through it.
func newTransport(t *testing.T, pc captchaaitest.Config, cfg slotguard.Config) (*slotguard.Transport, *http.Client) {
	t.Helper()
	p := captchaaitest.New(pc)
	t.Cleanup(func() { p.Close() })
	tr, err := slotguard.New(p.Transport(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr, &http.Client{Transport: tr}
}

// submit sends one reCAPTCHA submit and returns the answer, or the
// error's text.
func submit(t *testing.T, c *http.Client) string {
	t.Helper()
	return submitMethod(t, c, "userrecaptcha")
}

// submitMethod sends one in.php submit of method and returns the answer,
// or the error's text.
func submitMethod(t *testing.T, c *http.Client, method string) string {
	t.Helper()
	resp, err := c.PostForm(api+"/in.php", url.Values{
		"key": {captchaaitest.DefaultKey}, "method": {method},
		"googlekey": {"6Le-x"}, "pageurl": {"https://example.com/"}, "body": {image},
	})
	if errors.Is(err, slotguard.ErrCircuitOpen) {
		return "circuit open"
	}
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return string(b)
}

// poll asks for task id's result and returns the answer.
func poll(t *testing.T, c *http.Client, id string) string {
	t.Helper()
	resp, err := c.Get(api + "/res.php?key=" + captchaaitest.DefaultKey + "&action=get&id=" + id)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// compare checks g's series of the metrics named in want, one
// `name{label="value",...} value` line each, in any order.
func compare(t *testing.T, g prometheus.Gatherer, want string) {
	t.Helper()
	wantLines := strings.Fields(strings.ReplaceAll(strings.TrimSpace(want), " ", "\x00"))
	names := map[string]bool{}
	for i, l := range wantLines {
		wantLines[i] = strings.ReplaceAll(l, "\x00", " ")
		names[strings.FieldsFunc(wantLines[i], func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if !names[mf.GetName()] {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			s := mf.GetName()
			if len(labels) > 0 {
				s += "{" + strings.Join(labels, ",") + "}"
			}
			got = append(got, fmt.Sprintf("%s %v", s, v))
		}
	}
	slices.Sort(got)
	slices.Sort(wantLines)
	if diff := strings.Join(got, "\n"); diff != strings.Join(wantLines, "\n") {
		t.Errorf("metrics:\n%s\nwant:\n%s", diff, strings.Join(wantLines, "\n"))
	}
}

func TestNoSlotAndBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, c := newTransport(t,
			captchaaitest.Config{Faults: captchaaitest.FirstSubmits(2, captchaaitest.Fault{Kind: captchaaitest.NoSlot})},
			slotguard.Config{Retry: slotguard.Backoff{Attempts: 2}, Breaker: slotguard.BreakerConfig{Failures: 2, OpenFor: time.Minute}})
		col := registry(t, promguard.New(tr, promguard.Options{}))

		// Nothing yet: NO_SLOT's count is there at 0, for rate().
		compare(t, col, `
slotguard_answers_total{code="ERROR_NO_SLOT_AVAILABLE"} 0
slotguard_breaker_state{state="closed"} 1
slotguard_breaker_state{state="half-open"} 0
slotguard_breaker_state{state="open"} 0
`)

		if got := submit(t, c); got != slotguard.CodeNoSlot {
			t.Fatalf("first submit = %q, want the last NO_SLOT handed back", got)
		}
		if got := submit(t, c); got != "circuit open" {
			t.Fatalf("second submit = %q, want circuit open", got)
		}
		compare(t, col, `
slotguard_submits_total 2
slotguard_attempts_total 2
slotguard_accepted_total 0
slotguard_retries_total 1
slotguard_answers_total{code="ERROR_NO_SLOT_AVAILABLE"} 2
slotguard_transport_errors_total 0
slotguard_failed_fast_total 1
slotguard_breaker_state{state="closed"} 0
slotguard_breaker_state{state="half-open"} 0
slotguard_breaker_state{state="open"} 1
slotguard_breaker_opens_total 1
slotguard_in_flight 0
slotguard_wait_seconds_total{cause="backoff"} 3
slotguard_wait_seconds_total{cause="budget"} 0
slotguard_wait_seconds_total{cause="limit"} 0
slotguard_wait_seconds_total{cause="pacer"} 0
slotguard_wait_seconds_total{cause="poll"} 0
slotguard_wait_seconds_total{cause="thread"} 0
`)

		// After OpenFor (from the opening, 3 s in), one probe goes through
		// and is accepted: closed.
		time.Sleep(time.Minute + time.Second)
		if got := submit(t, c); got != "OK|1" {
			t.Fatalf("probe = %q, want OK|1", got)
		}
		compare(t, col, `
slotguard_accepted_total 1
slotguard_breaker_state{state="closed"} 1
slotguard_breaker_state{state="half-open"} 0
slotguard_breaker_state{state="open"} 0
slotguard_breaker_opens_total 1
`)
	})
}

// TestByType: the figures by task type, with reCAPTCHA's workers out and
// image ones free: reCAPTCHA's breaker run opens and its rate falls while
// image's stays closed at the ceiling.
func TestByType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, c := newTransport(t,
			captchaaitest.Config{Pools: map[string]captchaaitest.Pool{"recaptcha": {Workers: 0}}},
			slotguard.Config{
				Rate:     2,
				Adaptive: slotguard.Adaptive{Enabled: true, Decrease: 0.5},
				Retry:    slotguard.Backoff{Attempts: 1},
				Breaker:  slotguard.BreakerConfig{Failures: 2, OpenFor: time.Minute},
			})
		col := registry(t, promguard.New(tr, promguard.Options{}))
		submit(t, c)
		submit(t, c)
		if got := submitMethod(t, c, "base64"); !strings.HasPrefix(got, "OK|") {
			t.Fatalf("image submit with reCAPTCHA out = %q, want accepted", got)
		}
		compare(t, col, `
slotguard_type_attempts_total{type="image"} 1
slotguard_type_attempts_total{type="recaptcha"} 2
slotguard_type_accepted_total{type="image"} 1
slotguard_type_accepted_total{type="recaptcha"} 0
slotguard_type_no_slot_total{type="image"} 0
slotguard_type_no_slot_total{type="recaptcha"} 2
slotguard_type_breaker_state{state="closed",type="image"} 1
slotguard_type_breaker_state{state="half-open",type="image"} 0
slotguard_type_breaker_state{state="open",type="image"} 0
slotguard_type_breaker_state{state="closed",type="recaptcha"} 0
slotguard_type_breaker_state{state="half-open",type="recaptcha"} 0
slotguard_type_breaker_state{state="open",type="recaptcha"} 1
slotguard_type_rate{type="image"} 2
slotguard_type_rate{type="recaptcha"} 0.5
`)
	})
}

func TestThreadPermits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, c := newTransport(t,
			captchaaitest.Config{Methods: map[string]captchaaitest.Method{"userrecaptcha": {MinSolve: 20 * time.Second, MaxSolve: 20 * time.Second}}},
			slotguard.Config{Rate: 100, Threads: slotguard.Threads{Enabled: true, Plan: 1, Overbook: 1}})
		col := registry(t, promguard.New(tr, promguard.Options{}))

		for i, want := range []string{"OK|1", "OK|2"} {
			if got := submit(t, c); got != want {
				t.Fatalf("submit %d = %q, want %q", i+1, got, want)
			}
		}
		third := make(chan string)
		go func() { third <- submit(t, c) }()
		synctest.Wait() // the third waits for a permit
		compare(t, col, `
slotguard_thread_permits_held 2
slotguard_thread_tasks 2
slotguard_thread_capacity 1
slotguard_thread_limit 2
slotguard_thread_waiters 1
slotguard_thread_expected_wait_seconds -1
slotguard_thread_releases_total{reason="ceiling"} 0
slotguard_thread_releases_total{reason="explicit"} 0
slotguard_thread_releases_total{reason="not_accepted"} 0
slotguard_thread_releases_total{reason="polled"} 0
slotguard_type_thread_permits_held{type="recaptcha"} 2
slotguard_type_thread_capacity{type="recaptcha"} 1
slotguard_type_thread_limit{type="recaptcha"} 2
slotguard_type_thread_waiters{type="recaptcha"} 1
`)

		// Task 1 ends out of band after 5 s: the third goes.
		time.Sleep(5 * time.Second)
		if !tr.TaskDone("1") {
			t.Fatal("TaskDone(1) = false, want true")
		}
		if got := <-third; got != "OK|3" {
			t.Fatalf("third submit = %q, want OK|3", got)
		}
		// Task 2 is solved at 20 s; a poll through the Transport sees it.
		time.Sleep(15 * time.Second)
		if got := poll(t, c, "2"); !strings.HasPrefix(got, "OK|") {
			t.Fatalf("poll = %q, want the solution", got)
		}
		compare(t, col, `
slotguard_thread_permits_held 1
slotguard_thread_tasks 1
slotguard_thread_waiters 0
slotguard_thread_expected_wait_seconds 0
slotguard_thread_releases_total{reason="ceiling"} 0
slotguard_thread_releases_total{reason="explicit"} 1
slotguard_thread_releases_total{reason="not_accepted"} 0
slotguard_thread_releases_total{reason="polled"} 1
slotguard_wait_seconds_total{cause="backoff"} 0
slotguard_wait_seconds_total{cause="budget"} 0
slotguard_wait_seconds_total{cause="limit"} 0
slotguard_wait_seconds_total{cause="pacer"} 0.01
slotguard_wait_seconds_total{cause="poll"} 0
slotguard_wait_seconds_total{cause="thread"} 5
`)
	})
}

// Without Config.Threads the thread metrics are absent, not zero.
func TestThreadsOff(t *testing.T) {
	tr, _ := newTransport(t, captchaaitest.Config{}, slotguard.Config{})
	n, err := testutil.GatherAndCount(registry(t, promguard.New(tr, promguard.Options{})),
		"slotguard_thread_permits_held", "slotguard_thread_limit", "slotguard_thread_releases_total")
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("thread series without Threads = %d, want 0", n)
	}
}

func registry(t *testing.T, cs ...prometheus.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

func TestOptions(t *testing.T) {
	a, _ := newTransport(t, captchaaitest.Config{}, slotguard.Config{Threads: slotguard.Threads{Enabled: true}})
	b, _ := newTransport(t, captchaaitest.Config{}, slotguard.Config{Rate: 5})
	reg := registry(t,
		promguard.New(a, promguard.Options{Namespace: "captcha", ConstLabels: prometheus.Labels{"account": "a"}}),
		promguard.New(b, promguard.Options{Namespace: "captcha", ConstLabels: prometheus.Labels{"account": "b"}}),
	)
	compare(t, reg, `
captcha_rate{account="a"} 2
captcha_rate{account="b"} 5
`)
	if n, err := testutil.GatherAndCount(reg, "slotguard_rate"); err != nil || n != 0 {
		t.Errorf("slotguard_rate series = %d, %v; want 0 with Namespace captcha", n, err)
	}

	// Two collectors that nothing tells apart: the registry refuses the second.
	if err := prometheus.NewRegistry().Register(promguard.New(a, promguard.Options{})); err != nil {
		t.Fatal(err)
	}
	reg = prometheus.NewRegistry()
	reg.MustRegister(promguard.New(a, promguard.Options{}))
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(promguard.New(b, promguard.Options{})); !errors.As(err, &are) {
		t.Errorf("second Register = %v, want AlreadyRegisteredError", err)
	}
}

func TestLint(t *testing.T) {
	tr, _ := newTransport(t, captchaaitest.Config{}, slotguard.Config{Threads: slotguard.Threads{Enabled: true}})
	problems, err := testutil.CollectAndLint(promguard.New(tr, promguard.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
