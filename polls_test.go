package slotguard

import (
	"context"
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

// TestParsePoll: what a poll's answer says of its task, in every dialect.
// Only a solution or a final error about the task ends it; refusals of the
// request, the key or the account say nothing of it.
func TestParsePoll(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{"OK|03AGdBq24", pollEnded},
		{" OK|text42\n", pollEnded},
		{CodeNotReady, pollPending},
		{"ERROR_CAPTCHA_UNSOLVABLE", pollEnded},
		{"ERROR_WRONG_CAPTCHA_ID", pollEnded},
		{"ERROR: 1005", pollUnknown},
		{"ERROR_WRONG_USER_KEY", pollUnknown},
		{"MAX_USER_TURN", pollUnknown},
		{`{"status":1,"request":"03AGdBq24"}`, pollEnded},
		{`{"status":0,"request":"CAPCHA_NOT_READY"}`, pollPending},
		{`{"status":0,"request":"ERROR_CAPTCHA_UNSOLVABLE"}`, pollEnded},
		{`{"status":0,"request":"ERROR_KEY_DOES_NOT_EXIST"}`, pollUnknown},
		{`{"errorId":0,"status":"ready","solution":{"gRecaptchaResponse":"03A"},"cost":"0.003"}`, pollEnded},
		{`{"errorId":0,"status":"processing"}`, pollPending},
		{`{"errorId":12,"errorCode":"ERROR_CAPTCHA_UNSOLVABLE","errorDescription":"x"}`, pollEnded},
		{`{"errorId":1,"errorCode":"ERROR_KEY_DOES_NOT_EXIST"}`, pollUnknown},
		{`{"errorId":0,"status":"odd"}`, pollUnknown},
		{`{"status":"1"}`, pollUnknown},
		{"<html>502 Bad Gateway</html>", pollUnknown},
		{"", pollUnknown},
		{"the answer is OK|x", pollUnknown},
	}
	for _, tt := range tests {
		if got := parsePoll([]byte(tt.body)); got != tt.want {
			t.Errorf("parsePoll(%q) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

// TestPollLongSolution: a solution longer than any code (a reCAPTCHA
// token runs to kilobytes) is read by its prefix, handed back whole, and
// ends the task.
func TestPollLongSolution(t *testing.T) {
	token := strings.Repeat("03AGdBq24", 400)
	for _, body := range []string{"OK|" + token, `{"status":1,"request":"` + token + `"}`, `{"status":0,"request":"` + token + `"}`} {
		resp := textResp(200, body)
		got := pollAnswerState(resp)
		b, err := io.ReadAll(resp.Body)
		if string(b) != body || err != nil {
			t.Errorf("body handed back: %d bytes, %v; want %d bytes", len(b), err, len(body))
		}
		if want := pollEnded; got != want && !strings.Contains(body, `"status":0`) {
			t.Errorf("pollAnswerState(%.20q...) = %d, want %d", body, got, want)
		}
		if strings.Contains(body, `"status":0`) && got == pollEnded {
			t.Errorf("pollAnswerState(%.20q...) = ended for a status 0 answer", body)
		}
	}
}

// TestPollSharedGetBody: a getTaskResult whose GetBody rewinds the very
// body the request carries (go-retryablehttp's does, for a seekable body)
// still reaches the provider whole, and the Transport reads its taskId.
func TestPollSharedGetBody(t *testing.T) {
	const body = `{"clientKey":"k","taskId":42}`
	var got string
	tr := mustNew(t, recordBody(&got, `{"errorId":0,"status":"ready","solution":{"text":"x"}}`), Config{Threads: Threads{Enabled: true}})
	tr.threads.acquire(context.Background(), "")
	tr.threads.accepted("", "42", false)
	resp, err := tr.RoundTrip(rewindingRequest("http://provider.test/getTaskResult", body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != body {
		t.Errorf("the provider got %q, want %q", got, body)
	}
	if st := tr.Stats().Threads; st.Polled != 1 || st.Held != 0 {
		t.Errorf("threads %+v, want task 42's permit back, seen ended by the poll", st)
	}
}
