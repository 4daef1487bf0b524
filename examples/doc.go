// Package examples shows slotguard under real Go clients of the captcha
// APIs and real HTTP retry libraries, tested against captchaaitest. It is a
// nested module, so that the core never requires a third-party client.
//
// Three things are shown, each by a test:
//
//   - Under the official client, github.com/2captcha/2captcha-go v1.1.10:
//     NO_SLOT is retried below the client, polls pass through, and the
//     client is none the wiser. Its plain submits and polls go through
//     http.DefaultClient, whatever client it was given (see
//     twocaptcha_test.go).
//   - Under github.com/hashicorp/go-retryablehttp and
//     github.com/go-resty/resty/v2 as the caller's client: their default
//     retries resubmit a task the provider may have accepted and billed.
//     RetryableCheckRetry and RestyRetryCondition never retry a submit.
//   - The provider's own count of billed tasks (captchaaitest's
//     Stats.Accepted) is the judge in every test.
package examples
