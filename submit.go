package slotguard

import (
	"context"
	"errors"
	"net/http"
)

// submit runs a submit's attempts holding a thread permit (Config.Threads),
// taken first, in arrival order. The permit becomes the task's lease when
// the submit is accepted, or may have been; otherwise it goes back at once.
func (t *Transport) submit(req *http.Request) (*http.Response, error) {
	waited, err := t.threads.acquire(req.Context())
	t.stats.threadWait.Add(int64(waited))
	if err != nil {
		t.stats.submits.Add(1)
		closeBody(req)
		return nil, notSent(err)
	}
	s := &submission{t: t}
	resp, err := t.retry.do(req, s)
	switch {
	case s.id != "":
		t.threads.accepted(s.id, s.slow)
	case s.maybe:
		t.threads.maybeAccepted(s.slow)
	default:
		t.threads.release()
	}
	return resp, err
}

// submission is one submit's attempts through a Transport with thread
// permits: it notes what the last attempt came to. The retrier stops at
// the first attempt that may have been accepted, so the last is the one
// that says.
type submission struct {
	t     *Transport
	id    string // the task id, when accepted
	maybe bool   // sent, and may have been accepted: no answer, a 5xx, a cut answer
	slow  bool   // a reCAPTCHA-like task, for its ceiling
}

func (s *submission) attempt(ctx context.Context, req *http.Request) (*http.Response, action, error) {
	resp, act, err := s.t.attempt(ctx, req)
	switch {
	case err != nil:
		s.maybe = !errors.Is(err, ErrNotSent)
	case act.verdict == verdictAccepted:
		s.id = acceptedID(resp)
		s.maybe = s.id == ""
	default:
		s.maybe = act.verdict == verdictLost || resp.StatusCode >= 500
	}
	if s.id != "" || s.maybe {
		s.slow = slowMethod(req)
	}
	return resp, act, err
}

// acceptedID is the task id in an accepted answer that inspect read whole.
func acceptedID(resp *http.Response) string {
	if ab, ok := resp.Body.(*answerBody); ok && ab.rest == nil {
		if b, ok := decoded(resp, ab.b); ok {
			if a, ok := parseAnswer(b); ok && a.accepted {
				return string(a.id)
			}
		}
	}
	return ""
}
