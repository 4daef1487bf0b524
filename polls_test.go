package slotguard

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestPollPacing: the first poll waits 15 s after a reCAPTCHA submit (5 s
// for an image), later ones 5 s apart; other res.php calls pass.
// It is long because it follows two tasks' polls on one timeline.
func TestPollPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var polls []time.Duration
		start := time.Now()
		ready := false
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if IsSubmit(r) {
				if strings.Contains(r.URL.RawQuery, "method=post") {
					io.WriteString(w, "OK|2")
					return
				}
				io.WriteString(w, "OK|1")
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if r.URL.Query().Get("action") != "get" {
				io.WriteString(w, "12.5")
				return
			}
			polls = append(polls, time.Since(start))
			if ready {
				io.WriteString(w, "OK|token")
				return
			}
			io.WriteString(w, CodeNotReady)
		})
		tr := mustNew(t, memRT{h}, Config{Rate: math.Inf(1), Polls: PollPacing{Enabled: true}})
		resp, _ := tr.RoundTrip(submitReq(t)) // userrecaptcha: 15 s
		resp.Body.Close()
		img, _ := http.NewRequest("POST", "http://provider.test/in.php?method=post", strings.NewReader("file"))
		resp, _ = tr.RoundTrip(img) // image: 5 s
		resp.Body.Close()
		poll := func(id string) string {
			resp, err := tr.RoundTrip(pollReq(t, id))
			if err != nil {
				t.Fatal(err)
			}
			return readAll(t, resp)
		}
		poll("2")
		poll("2")
		poll("1")
		poll("1")
		mu.Lock()
		ready = true
		mu.Unlock()
		if got := poll("1"); got != "OK|token" {
			t.Errorf("poll = %q, want OK|token", got)
		}
		before := time.Now()
		bal, _ := http.NewRequest("GET", "http://provider.test/res.php?key="+testKey+"&action=getbalance", nil)
		resp, _ = tr.RoundTrip(bal)
		resp.Body.Close()
		if time.Since(before) != 0 {
			t.Error("a balance check was held")
		}
		want := []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second, 25 * time.Second}
		if fmt.Sprint(polls) != fmt.Sprint(want) {
			t.Errorf("polls at %v, want %v", polls, want)
		}
		// Solved: the task is forgotten.
		if _, ok := tr.polls.tasks["1"]; ok {
			t.Error("a solved task is still remembered")
		}
		if st := tr.Stats(); st.Polls != 5 || st.PollWait == 0 {
			t.Errorf("Stats Polls = %d, PollWait = %v; want 5 and some wait", st.Polls, st.PollWait)
		}
	})
}

// TestPollBudget: with no captchas sent, 1100 polls an hour (1200 less a
// margin of 100) go, and the next waits for the oldest to age out.
func TestPollBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers()
		tr := mustNew(t, memRT{s}, Config{Polls: PollPacing{Enabled: true}})
		start := time.Now()
		for i := range 1101 {
			resp, err := tr.RoundTrip(pollReq(t, fmt.Sprint(i)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if i == 1099 && time.Since(start) != 0 {
				t.Fatalf("1100 polls took %v, want 0", time.Since(start))
			}
		}
		if got := time.Since(start); got != 61*time.Minute {
			t.Errorf("the 1101st poll waited %v, want 61m (an hour and one bucket)", got)
		}
	})
}
