// Package examples shows slotguard under real Go clients of the captcha
// APIs and real HTTP retry libraries, tested against captchaaitest (run
// them with go test -race ./examples). It is a nested module, so that the
// core never requires a third-party client. The provider's own count of
// billed tasks (captchaaitest's Stats.Accepted) is the judge in every
// test.
//
// # The official client, github.com/2captcha/2captcha-go v1.1.10
//
// slotguard solves under it end to end: NO_SLOT is retried below the
// client, polls pass through, and the client never sees a NO_SLOT. Read its
// source before you wire it up:
//
//   - Plain submits and every poll go through http.DefaultClient
//     (http.PostForm, http.Get). Only file uploads (multipart) use the
//     client given to NewClientExt. To put slotguard under all of it, set
//     http.DefaultClient.Transport, with an explicit base (setting
//     http.DefaultTransport itself would make slotguard call itself), as
//     below. If you would rather not touch a process-wide global, point
//     BaseURL at cmd/slotproxy instead.
//   - It writes Timeout on its http.Client on every call, so one
//     api2captcha.Client used from several goroutines, or an http.Client
//     shared with other code, is a data race. Give each goroutine its own
//     api2captcha.Client and its own http.Client; they can all share one
//     slotguard Transport (TestTwoCaptchaConcurrentClients, race-free under
//     -race).
//   - Every failure without an answer becomes api2captcha.ErrNetwork, and
//     every ERROR_... answer becomes ErrApi without its code: slotguard's
//     open breaker reaches you as ErrNetwork. Look at tr.Stats().Breaker to
//     tell an outage apart.
//   - BaseURL keeps only scheme and host (paths are resolved as /in.php).
//     NewClientExt leaves SoftId at 0. PollingInterval counts whole
//     seconds, and 0 polls in a tight loop: set slotguard's Config.Polls if
//     you must.
//
// Wired up:
//
//	tr, err := slotguard.New(http.DefaultTransport, slotguard.Config{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.DefaultClient.Transport = tr // 2captcha-go v1.1.10 sends through http.DefaultClient
//	client := api2captcha.NewClientExt(apiKey, &http.Client{Transport: tr}) // uploads
//	client.BaseURL, _ = url.Parse("https://ocr.captchaai.com")             // default https://2captcha.com
//
// # Below go-retryablehttp and resty: do not resubmit a billed task
//
// github.com/hashicorp/go-retryablehttp (v0.7.8) retries every request,
// POST included, on any connection error, timeout, 429 and 5xx (but 501).
// github.com/go-resty/resty/v2 (v2.17.2), once given SetRetryCount,
// retries every request that failed without an answer. A submit that
// failed that way may have been accepted and billed: the provider took it,
// then the connection dropped, or the answer came after the client's
// timeout. Retrying it bills a second task. With slotguard underneath,
// nothing above it needs to retry a submit at all: slotguard already
// retries the answers that prove a task was not accepted.
//
// The tests show it with the fake provider's own count of billed tasks
// (captchaaitest's AcceptDrop fault, and an answer slower than the
// client's timeout): for one logical submit whose first answer is lost,
// each library's default retries bill 2 tasks; with the guard, 1 task is
// billed and the error is returned.
//
// RetryableCheckRetry and RestyRetryCondition never retry a submit
// (IsSubmit), and leave polls to the library's own policy (they bill
// nothing, and the tests show them still retried):
//
//	// go-retryablehttp
//	client := retryablehttp.NewClient()
//	client.HTTPClient = &http.Client{Transport: tr} // tr: a slotguard Transport
//	client.CheckRetry = examples.RetryableCheckRetry(retryablehttp.DefaultRetryPolicy)
//	client.Logger = nil // its default logger prints every URL, query (your key) included
//
//	// resty: the only retry condition. resty retries as soon as any
//	// condition says yes, so no condition can veto another.
//	client := resty.New().SetTransport(tr).SetRetryCount(3).
//		AddRetryCondition(examples.RestyRetryCondition())
//
// Import them, or copy them (policy.go). The rule they encode: CheckRetry
// gets no request, so the path comes from resp.Request or, when there is
// no response, from the *url.Error; a request it cannot identify is not
// retried. Log errors with slotguard.RedactError: the *url.Error carries
// the key.
package examples
