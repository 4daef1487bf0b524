package slotguard

import (
	"errors"
	"net/url"
	"strings"
)

// ErrNotSent matches, with errors.Is, the error of a submit that the
// provider cannot have accepted: none of its attempts left slotguard (the
// breaker was open, a wait for the pacer, the ban budget or the in-flight
// bound ended, the request body could not be read), or every one that did
// was refused (NO_SLOT and the like) and the wait for the next ended.
// Sending the same task again cannot bill it twice.
//
// An error that does not match ErrNotSent may follow an attempt the
// provider accepted (a transport error, a cut answer): sending the task
// again may bill it twice.
//
// The error also matches its cause: ErrCircuitOpen, context.Canceled,
// context.DeadlineExceeded, ...
var ErrNotSent = errors.New("slotguard: submit not sent")

// notSentError marks an error as ErrNotSent and keeps its cause and text.
type notSentError struct{ err error }

func (e *notSentError) Error() string   { return e.err.Error() }
func (e *notSentError) Unwrap() []error { return []error{e.err, ErrNotSent} }

func notSent(err error) error { return &notSentError{err} }

// RedactError returns err with the API key blanked, for logging. http.Client
// wraps a RoundTrip error in a *url.Error that carries the request's whole
// URL, key= included, so logging err from client.Do leaks the key:
//
//	resp, err := client.Do(req)
//	if err != nil {
//		logger.Error("submit failed", "error", slotguard.RedactError(err))
//	}
//
// A *url.Error comes back as a *url.Error whose URL has the value of every
// parameter whose name ends in "key" (key, clientKey, also percent-encoded
// as key%3D, and site keys with them) replaced by REDACTED; any other
// error comes back wrapped, with the same redaction applied to its text.
// Either way the result matches what err matched with errors.Is and
// errors.As. Errors that slotguard itself makes never carry the key.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: redactKeys(ue.URL), Err: RedactError(ue.Err)}
	}
	if s := err.Error(); redactKeys(s) != s {
		return &redactedError{err}
	}
	return err
}

// redactedError is an error whose text has its API keys blanked.
type redactedError struct{ err error }

func (e *redactedError) Error() string { return redactKeys(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

// redactKeys blanks the value of every parameter whose name ends in "key"
// (key=, clientKey=, in any case, also percent-encoded as key%3D, or as a
// JSON "clientKey":"..."), up to the next &, ;, space, quote or
// percent-encoded &. It may blank more than the API key; never less.
func redactKeys(s string) string {
	lower := strings.ToLower(s)
	var b strings.Builder
	last := 0
	for i := 0; i < len(lower); {
		j := strings.Index(lower[i:], "key")
		if j < 0 {
			break
		}
		i += j + len("key")
		var n int
		switch {
		case strings.HasPrefix(lower[i:], "="):
			n = 1
		case strings.HasPrefix(lower[i:], "%3d"):
			n = 3
		case strings.HasPrefix(lower[i:], `":"`): // a JSON clientKey
			n = 3
		default:
			continue
		}
		start := i + n
		end := start
		for end < len(lower) && !strings.ContainsRune("&; \t\r\n\"'", rune(lower[end])) && !strings.HasPrefix(lower[end:], "%26") {
			end++
		}
		if end == start {
			i = start
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString("REDACTED")
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
