package examples

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/slotguard/slotguard"
)

// IsSubmit reports whether u submits a task, as slotguard.IsSubmit decides:
// its path ends in /in.php or /createTask. A submit that got no clear
// answer (a connection error, a timeout, an HTTP 5xx) may have been
// accepted and billed: it must not be sent again by a generic retry loop.
func IsSubmit(u *url.URL) bool {
	return u != nil && slotguard.IsSubmit(&http.Request{URL: u})
}

// RetryableCheckRetry returns a go-retryablehttp CheckRetry that never
// retries a submit and asks next (nil: retryablehttp.DefaultRetryPolicy)
// about everything else (polls are safe to retry).
//
// slotguard, below, already retries the answers that prove a submit was
// not accepted (NO_SLOT and the other capacity codes); every other failure
// of a submit may follow an accepted, billed task, and retryablehttp's
// default policy would send it again: on any connection error, on a
// timeout, on HTTP 429 and on every 5xx but 501.
//
// CheckRetry is not given the request: it is found in resp.Request, or,
// when there is no response, in the *url.Error that http.Client returns. A
// request that cannot be identified is not retried.
func RetryableCheckRetry(next retryablehttp.CheckRetry) retryablehttp.CheckRetry {
	if next == nil {
		next = retryablehttp.DefaultRetryPolicy
	}
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		u, ok := requestURL(resp, err)
		if !ok || IsSubmit(u) {
			return false, nil
		}
		return next(ctx, resp, err)
	}
}

// requestURL finds the URL of the request behind resp or err.
func requestURL(resp *http.Response, err error) (*url.URL, bool) {
	if resp != nil && resp.Request != nil {
		return resp.Request.URL, true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		return u, perr == nil
	}
	return nil, false
}

// RestyRetryCondition returns a resty v2 retry condition that never retries
// a submit and, for everything else, retries when any of conds says so;
// with no conds, it retries connection errors, HTTP 429 and 5xx.
//
// Register it as the only condition (Client.AddRetryCondition): resty runs
// its conditions in order and retries as soon as one says yes, so no
// condition can veto another. resty's own default, with SetRetryCount and
// no condition, retries every request that failed without an answer, a
// submit the provider may have accepted included.
func RestyRetryCondition(conds ...resty.RetryConditionFunc) resty.RetryConditionFunc {
	return func(r *resty.Response, err error) bool {
		u, ok := restyURL(r)
		if !ok || IsSubmit(u) {
			return false
		}
		if len(conds) == 0 {
			return err != nil || r.StatusCode() == http.StatusTooManyRequests || r.StatusCode() >= 500
		}
		for _, c := range conds {
			if c(r, err) {
				return true
			}
		}
		return false
	}
}

// restyURL finds the URL of the request behind r.
func restyURL(r *resty.Response) (*url.URL, bool) {
	if r == nil || r.Request == nil {
		return nil, false
	}
	if r.Request.RawRequest != nil {
		return r.Request.RawRequest.URL, true
	}
	u, err := url.Parse(r.Request.URL)
	return u, err == nil
}
