package slotguard_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
)

// threadsProvider is a fake account with slots threads, its reCAPTCHA
// tasks solved in exactly 20 s, and a Transport over it with permits.
func threadsProvider(t *testing.T, slots int, faults func(captchaaitest.FaultInfo) captchaaitest.Fault, cfg slotguard.Config) (*captchaaitest.Provider, *slotguard.Transport) {
	t.Helper()
	p := captchaaitest.New(captchaaitest.Config{
		Accounts: []captchaaitest.Account{{Key: captchaaitest.DefaultKey, Slots: slots}},
		Methods:  map[string]captchaaitest.Method{"userrecaptcha": {MinSolve: 20 * time.Second, MaxSolve: 20 * time.Second}},
		Faults:   faults,
	})
	t.Cleanup(func() { p.Close() })
	cfg.Threads.Enabled = true
	tr, err := slotguard.New(p.Transport(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, tr
}

// submitTask sends one userrecaptcha submit in a dialect (text, json,
// createTask) and returns the task id, or the error.
func submitTask(rt http.RoundTripper, dialect, key string) (string, error) {
	var req *http.Request
	if dialect == "createTask" {
		body, _ := json.Marshal(map[string]any{"clientKey": key,
			"task": map[string]string{"type": "RecaptchaV2TaskProxyless", "websiteURL": "https://example.com/", "websiteKey": "6Le-x"}})
		req, _ = http.NewRequest("POST", "http://provider.test/createTask", bytes.NewReader(body))
	} else {
		form := url.Values{"key": {key}, "method": {"userrecaptcha"}, "googlekey": {"6Le-x"}, "pageurl": {"https://example.com/"}}
		if dialect == "json" {
			form.Set("json", "1")
		}
		req, _ = http.NewRequest("POST", "http://provider.test/in.php", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var v struct {
		Status  int
		Request string
		ErrorID int
		TaskID  json.Number
	}
	switch {
	case dialect == "text" && strings.HasPrefix(string(b), "OK|"):
		return strings.TrimPrefix(string(b), "OK|"), nil
	case dialect != "text" && json.Unmarshal(b, &v) == nil && v.Status == 1:
		return v.Request, nil
	case dialect == "createTask" && json.Unmarshal(b, &v) == nil && v.ErrorID == 0 && v.TaskID != "":
		return v.TaskID.String(), nil
	}
	return "", errors.New(string(b))
}

// pollTask polls task id once in a dialect and returns the answer.
func pollTask(t *testing.T, rt http.RoundTripper, dialect, id string) string {
	t.Helper()
	var req *http.Request
	if dialect == "createTask" {
		req, _ = http.NewRequest("POST", "http://provider.test/getTaskResult",
			strings.NewReader(`{"clientKey":"`+captchaaitest.DefaultKey+`","taskId":`+id+`}`))
	} else {
		q := url.Values{"key": {captchaaitest.DefaultKey}, "action": {"get"}, "id": {id}}
		if dialect == "json" {
			q.Set("json", "1")
		}
		req, _ = http.NewRequest("GET", "http://provider.test/res.php?"+q.Encode(), nil)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestThreadsReleasePaths: every way a permit comes back, through a real
// (fake) provider, counted apart in Stats.
func TestThreadsReleasePaths(t *testing.T) {
	type counts struct{ held, notAccepted, polled, explicit, ceiling int64 }
	tests := []struct {
		name    string
		dialect string
		fault   captchaaitest.FaultKind
		key     string
		// then runs after the submit; id is "" when it failed.
		then func(t *testing.T, p *captchaaitest.Provider, tr *slotguard.Transport, id string)
		want counts
	}{
		{"polled, text", "text", 0, "", func(t *testing.T, _ *captchaaitest.Provider, tr *slotguard.Transport, id string) {
			time.Sleep(20 * time.Second)
			pollTask(t, tr, "text", id)
		}, counts{0, 0, 1, 0, 0}},
		{"polled, json", "json", 0, "", func(t *testing.T, _ *captchaaitest.Provider, tr *slotguard.Transport, id string) {
			time.Sleep(20 * time.Second)
			pollTask(t, tr, "json", id)
		}, counts{0, 0, 1, 0, 0}},
		{"polled, getTaskResult", "createTask", 0, "", func(t *testing.T, _ *captchaaitest.Provider, tr *slotguard.Transport, id string) {
			time.Sleep(20 * time.Second)
			pollTask(t, tr, "createTask", id)
		}, counts{0, 0, 1, 0, 0}},
		{"not ready keeps it", "json", 0, "", func(t *testing.T, _ *captchaaitest.Provider, tr *slotguard.Transport, id string) {
			time.Sleep(15 * time.Second)
			if a := pollTask(t, tr, "json", id); !strings.Contains(a, slotguard.CodeNotReady) {
				t.Fatalf("poll at 15 s = %s, want not ready", a)
			}
		}, counts{1, 0, 0, 0, 0}},
		{"polled elsewhere keeps it", "text", 0, "", func(t *testing.T, p *captchaaitest.Provider, _ *slotguard.Transport, id string) {
			time.Sleep(20 * time.Second)
			pollTask(t, p.Transport(), "text", id)
		}, counts{1, 0, 0, 0, 0}},
		{"TaskDone", "text", 0, "", func(t *testing.T, _ *captchaaitest.Provider, tr *slotguard.Transport, id string) {
			if !tr.TaskDone(id) || tr.TaskDone(id) || tr.TaskDone("999") {
				t.Error("TaskDone: want true once for the task, then false, and false for an id never held")
			}
		}, counts{0, 0, 0, 1, 0}},
		{"ceiling", "text", 0, "", func(t *testing.T, _ *captchaaitest.Provider, tr *slotguard.Transport, _ string) {
			time.Sleep(time.Minute - time.Nanosecond)
			if st := tr.Stats().Threads; st.Held != 1 {
				t.Errorf("just before the ceiling: %+v, want the permit held", st)
			}
			time.Sleep(time.Nanosecond)
		}, counts{0, 0, 0, 0, 1}},
		{"not accepted", "text", 0, "0123456789abcdef0123456789abcdeX", nil, counts{0, 1, 0, 0, 0}},
		{"maybe accepted, held to the ceiling", "json", captchaaitest.AcceptDrop, "", func(t *testing.T, _ *captchaaitest.Provider, tr *slotguard.Transport, _ string) {
			time.Sleep(time.Minute - time.Nanosecond)
			if st := tr.Stats().Threads; st.Held != 1 || st.Tasks != 1 {
				t.Errorf("just before the ceiling: %+v, want the permit held by the task", st)
			}
			time.Sleep(time.Nanosecond)
		}, counts{0, 0, 0, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, tr := threadsProvider(t, 2, captchaaitest.FirstSubmits(1, captchaaitest.Fault{Kind: tt.fault}),
					slotguard.Config{Threads: slotguard.Threads{Plan: 1, Overbook: 1, Ceiling: time.Minute}})
				id, err := submitTask(tr, tt.dialect, cmpOr(tt.key, captchaaitest.DefaultKey))
				if (err == nil) != (tt.key == "" && tt.fault == 0) {
					t.Fatalf("submit: %q, %v", id, err)
				}
				if tt.then != nil {
					tt.then(t, p, tr, id)
				}
				st := tr.Stats().Threads
				got := counts{int64(st.Held), st.NotAccepted, st.Polled, st.Explicit, st.Ceiling}
				if got != tt.want {
					t.Errorf("permits: %+v, want %+v (Stats %+v)", got, tt.want, st)
				}
			})
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestThreadsQueue: with the account's one thread busy, a second submit
// holds the overbook's permit and probes (its NO_SLOT answers do not count
// toward Backoff.Attempts, so it is not given up), a third waits in line
// without sending anything, and both are accepted once the first task is
// seen to end. Every task is billed once.
func TestThreadsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		submits := 0
		p, tr := threadsProvider(t, 1, func(fi captchaaitest.FaultInfo) captchaaitest.Fault {
			if fi.Endpoint.Submit() {
				mu.Lock()
				submits++
				mu.Unlock()
			}
			return captchaaitest.Fault{}
		}, slotguard.Config{Threads: slotguard.Threads{Plan: 1, Overbook: 1}, Retry: slotguard.Backoff{Attempts: 2}})
		first, err := submitTask(tr, "text", captchaaitest.DefaultKey)
		if err != nil {
			t.Fatal(err)
		}
		type done struct {
			id  string
			err error
			at  time.Duration
		}
		start := time.Now()
		results := make(chan done, 2)
		for range 2 {
			go func() {
				id, err := submitTask(tr, "text", captchaaitest.DefaultKey)
				results <- done{id, err, time.Since(start)}
			}()
			synctest.Wait()
		}
		if st := tr.Stats().Threads; st.Held != 2 || st.Waiters != 1 {
			t.Fatalf("with the thread busy: %+v, want 2 permits held (the task, the prober) and 1 waiting", st)
		}
		time.Sleep(20 * time.Second) // the first task is solved
		if a := pollTask(t, tr, "text", first); !strings.HasPrefix(a, "OK|") {
			t.Fatalf("poll at 20 s = %q, want the solution", a)
		}
		var got []done
		for range 2 {
			r := <-results
			if r.err != nil {
				t.Fatalf("a queued submit failed: %v", r.err)
			}
			got = append(got, r)
			// Its task ends 20 s after it is accepted: seen, the next goes.
			time.Sleep(20 * time.Second)
			pollTask(t, tr, "text", r.id)
		}
		st, ps := tr.Stats(), p.Stats(captchaaitest.DefaultKey)
		if ps.Accepted != 3 || st.Accepted != 3 {
			t.Errorf("accepted: provider %d, Transport %d; want 3 and 3", ps.Accepted, st.Accepted)
		}
		mu.Lock()
		defer mu.Unlock()
		if noSlot := ps.Rejected[slotguard.CodeNoSlot]; submits != 3+noSlot || noSlot == 0 {
			t.Errorf("provider saw %d submits, %d NO_SLOT: want the probes' NO_SLOTs and 3 acceptances", submits, noSlot)
		}
		if got[0].at < 20*time.Second {
			t.Errorf("a queued submit was accepted at %v, before the first task ended (20s)", got[0].at)
		}
	})
}
