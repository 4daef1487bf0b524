package slotguard_test

import (
	"encoding/base64"
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

// mixRun is what one run of mixed types came to.
type mixRun struct {
	provider captchaaitest.Stats
	client   slotguard.Stats
}

// runMix runs image and reCAPTCHA clients on one key for 10 minutes of
// provider time: each client submits, polls through the Transport from
// the solve's end every second until the task ends, and starts over. The
// account has 12 threads; images solve in 5 s with no pool limit, and
// reCAPTCHA tasks in 20 s from a pool of recaptchaWorkers.
func runMix(t *testing.T, images, recaptchas, recaptchaWorkers int) mixRun {
	t.Helper()
	var run mixRun
	synctest.Test(t, func(t *testing.T) {
		p := captchaaitest.New(captchaaitest.Config{
			Accounts: []captchaaitest.Account{{Key: captchaaitest.DefaultKey, Slots: 12}},
			Methods: map[string]captchaaitest.Method{
				"base64":        {MinSolve: 5 * time.Second, MaxSolve: 5 * time.Second},
				"userrecaptcha": {MinSolve: 20 * time.Second, MaxSolve: 20 * time.Second},
			},
			Pools: map[string]captchaaitest.Pool{"recaptcha": {Workers: recaptchaWorkers}},
		})
		defer p.Close()
		// A pace above what both types need: the pace is the key's, and
		// this test is about the threads.
		tr, err := slotguard.New(p.Transport(), slotguard.Config{Rate: 5, Threads: slotguard.Threads{Enabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		end := time.Now().Add(10 * time.Minute)
		var wg sync.WaitGroup
		for i := range images + recaptchas {
			method, solve := "base64", 5*time.Second
			if i >= images {
				method, solve = "userrecaptcha", 20*time.Second
			}
			wg.Go(func() { mixClient(tr, method, solve, end) })
		}
		wg.Wait() // every task polled to its end
		run = mixRun{p.Stats(captchaaitest.DefaultKey), tr.Stats()}
	})
	return run
}

// mixClient submits tasks of one method one after the other until end.
func mixClient(tr http.RoundTripper, method string, solve time.Duration, end time.Time) {
	form := url.Values{"key": {captchaaitest.DefaultKey}, "method": {method}}
	if method == "base64" {
		form.Set("body", base64.StdEncoding.EncodeToString(make([]byte, 200)))
	} else {
		form.Set("googlekey", "6Le-x")
		form.Set("pageurl", "https://example.com/")
	}
	for time.Now().Before(end) {
		req, _ := http.NewRequest("POST", "http://provider.test/in.php", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		answer, err := roundTrip(tr, req)
		id, ok := strings.CutPrefix(answer, "OK|")
		if err != nil || !ok {
			time.Sleep(time.Second) // a refusal or an open breaker
			continue
		}
		time.Sleep(solve)
		for {
			req, _ := http.NewRequest("GET", "http://provider.test/res.php?key="+captchaaitest.DefaultKey+"&action=get&id="+id, nil)
			if a, err := roundTrip(tr, req); err == nil && a != slotguard.CodeNotReady {
				break
			}
			time.Sleep(time.Second)
		}
	}
}

func roundTrip(tr http.RoundTripper, req *http.Request) (string, error) {
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestThreadsTypeShortage: with the reCAPTCHA workers short (2) and the
// image workers unlimited on one key, image submits keep the throughput
// they get alone, are never answered NO_SLOT, and their learned capacity
// is not pulled down by reCAPTCHA's NO_SLOT answers, which lower
// reCAPTCHA's only.
func TestThreadsTypeShortage(t *testing.T) {
	alone := runMix(t, 6, 0, 2)
	mixed := runMix(t, 6, 6, 2)
	imgAlone, img := alone.provider.ByType["image"], mixed.provider.ByType["image"]
	t.Logf("image accepted alone %d, beside short reCAPTCHA %d; reCAPTCHA %+v", imgAlone.Accepted, img.Accepted, mixed.provider.ByType["recaptcha"])
	if img.Accepted < imgAlone.Accepted*95/100 {
		t.Errorf("image accepted beside short reCAPTCHA: %d, want 95%% or more of the %d alone", img.Accepted, imgAlone.Accepted)
	}
	if img.NoSlot != 0 {
		t.Errorf("the provider answered %d image submits NO_SLOT, want none: image workers are unlimited", img.NoSlot)
	}
	if rc := mixed.provider.ByType["recaptcha"]; rc.Accepted == 0 || rc.NoSlot == 0 {
		t.Errorf("reCAPTCHA at the provider: %+v, want some accepted and some NO_SLOT", rc)
	}
	by := mixed.client.ByType
	if c := by[slotguard.TypeImage].Threads.Capacity; c < 6 {
		t.Errorf("learned image capacity = %d, want 6 or more: its 6 clients, never refused", c)
	}
	if c := by[slotguard.TypeRecaptcha].Threads.Capacity; c > 3 {
		t.Errorf("learned reCAPTCHA capacity = %d, want about its 2 workers", c)
	}
	if st := mixed.client.Threads; st.Held != 0 || st.Waiters != 0 {
		t.Errorf("at the end: %+v, want every permit back", st)
	}
}
