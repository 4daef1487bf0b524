package slotguard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
)

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// Wrap any http.Client: NO_SLOT answers are retried below it, and the caller
// sees only the provider's final answer. The fake provider and slotguard
// both run 1000 times faster than real time here, so the account's single
// slot, busy for a 60 s solve, frees after 60 ms.
func Example() {
	provider := captchaaitest.NewServer(captchaaitest.Config{
		Accounts:  []captchaaitest.Account{{Key: captchaaitest.DefaultKey, Slots: 1}},
		Methods:   map[string]captchaaitest.Method{"userrecaptcha": {MinSolve: time.Minute, MaxSolve: time.Minute}},
		TimeScale: 1000,
	})
	defer provider.Close()

	tr, err := slotguard.New(provider.Client().Transport, slotguard.Config{
		Retry:     slotguard.Backoff{Attempts: 10},
		TimeScale: 1000, // drop this line against the real provider
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := &http.Client{Transport: tr}

	task := url.Values{
		"key": {captchaaitest.DefaultKey}, "method": {"userrecaptcha"},
		"googlekey": {"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"}, "pageurl": {"https://example.com/login"},
	}
	for range 2 {
		resp, err := client.PostForm(provider.URL+"/in.php", task)
		if err != nil {
			fmt.Println(err)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(answer))
	}
	st := tr.Stats()
	fmt.Println("retried NO_SLOT:", st.Retries > 0 && st.Answers[slotguard.CodeNoSlot] == st.Retries)
	// Output:
	// OK|1
	// OK|2
	// retried NO_SLOT: true
}

// One stage alone: a Breaker that fails fast once NO_SLOT answers run on.
func ExampleNewBreaker() {
	provider := captchaaitest.New(captchaaitest.Config{
		Faults: captchaaitest.FirstSubmits(100, captchaaitest.Fault{Kind: captchaaitest.NoSlot}),
	})
	defer provider.Close()
	b, err := slotguard.NewBreaker(provider.Transport(), slotguard.BreakerConfig{Failures: 2, OpenFor: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := &http.Client{Transport: b}
	task := url.Values{"key": {captchaaitest.DefaultKey}, "method": {"userrecaptcha"}, "googlekey": {"6Le-x"}, "pageurl": {"https://example.com/"}}
	for range 3 {
		resp, err := client.PostForm("https://ocr.captchaai.com/in.php", task)
		if errors.Is(err, slotguard.ErrCircuitOpen) {
			fmt.Println("failed fast:", errors.Is(err, slotguard.ErrCircuitOpen))
			continue
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(answer))
	}
	fmt.Println("sent:", provider.Stats(captchaaitest.DefaultKey).Rejected[slotguard.CodeNoSlot])
	// Output:
	// ERROR_NO_SLOT_AVAILABLE
	// ERROR_NO_SLOT_AVAILABLE
	// failed fast: true
	// sent: 2
}

// ParseAnswer reads the three answer formats the providers use.
func ExampleParseAnswer() {
	for _, body := range []string{
		"OK|7355608",
		`{"status":0,"request":"ERROR_NO_SLOT_AVAILABLE"}`,
		`{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"No idle workers"}`,
		"<html>ERROR_NO_SLOT_AVAILABLE</html>",
	} {
		a, ok := slotguard.ParseAnswer([]byte(body))
		fmt.Printf("%v %+v\n", ok, a)
	}
	// Output:
	// true {Format:text Accepted:true ID:7355608 Code:}
	// true {Format:json Accepted:false ID: Code:ERROR_NO_SLOT_AVAILABLE}
	// true {Format:task Accepted:false ID: Code:ERROR_NO_SLOT_AVAILABLE}
	// false {Format:unknown Accepted:false ID: Code:}
}
