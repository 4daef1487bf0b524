package examples_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
	"github.com/slotguard/slotguard/examples"
)

// slotguard under go-retryablehttp: slotguard retries NO_SLOT below it, and
// RetryableCheckRetry keeps retryablehttp from resubmitting a task that
// may have been billed. Polls keep the default policy.
func ExampleRetryableCheckRetry() {
	srv := captchaaitest.NewServer(captchaaitest.Config{
		TimeScale: 100,
		Faults:    captchaaitest.FirstSubmits(2, captchaaitest.Fault{Kind: captchaaitest.NoSlot}),
	})
	defer srv.Close()
	tr, err := slotguard.New(nil, slotguard.Config{TimeScale: 100})
	if err != nil {
		fmt.Println(err)
		return
	}

	client := retryablehttp.NewClient()
	client.HTTPClient = &http.Client{Transport: tr}
	client.CheckRetry = examples.RetryableCheckRetry(retryablehttp.DefaultRetryPolicy)
	client.Logger = nil // the default logger prints URLs, query (key) included

	resp, err := client.PostForm(srv.URL+"/in.php", url.Values{
		"key": {captchaaitest.DefaultKey}, "method": {"userrecaptcha"},
		"googlekey": {"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"}, "pageurl": {"https://example.com/"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body), tr.Stats().Retries)
	// Output:
	// OK|1 2
}

// slotguard under resty: RestyRetryCondition as the only retry condition.
func ExampleRestyRetryCondition() {
	srv := captchaaitest.NewServer(captchaaitest.Config{
		TimeScale: 100,
		Faults:    captchaaitest.FirstSubmits(2, captchaaitest.Fault{Kind: captchaaitest.NoSlot}),
	})
	defer srv.Close()
	tr, err := slotguard.New(nil, slotguard.Config{TimeScale: 100})
	if err != nil {
		fmt.Println(err)
		return
	}

	client := resty.New().
		SetTransport(tr).
		SetRetryCount(3).
		SetRetryWaitTime(time.Second).
		AddRetryCondition(examples.RestyRetryCondition())

	resp, err := client.R().SetFormData(map[string]string{
		"key": captchaaitest.DefaultKey, "method": "userrecaptcha",
		"googlekey": "6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-", "pageurl": "https://example.com/",
	}).Post(srv.URL + "/in.php")
	fmt.Println(resp, err, tr.Stats().Retries)
	// Output:
	// OK|1 <nil> 2
}
