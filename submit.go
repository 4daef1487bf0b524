package slotguard

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// submit runs a submit's attempts holding a thread permit (Config.Threads),
// taken before the first attempt, once the submit's type is read: the
// fleet's, from Shared.Threads, or the Transport's own, in arrival order
// within the type. The permit becomes the task's lease when the submit is
// accepted, or may have been; otherwise it goes back at once.
func (t *Transport) submit(req *http.Request) (*http.Response, error) {
	s := &submission{t: t}
	resp, err := t.retry.do(req, s)
	if s.held {
		s.end(context.WithoutCancel(req.Context()))
	}
	return resp, err
}

// submission is one submit's attempts through a Transport with thread
// permits: it holds the permit and notes what the last attempt came to.
// The retrier stops at the first attempt that may have been accepted, so
// the last is the one that says.
type submission struct {
	t     *Transport
	typ   string // the task type (TaskType)
	held  bool   // a permit is taken
	token string // the fleet's permit; "": the Transport's own
	id    string // the task id, when accepted
	maybe bool   // sent, and may have been accepted: no answer, a 5xx, a cut answer
	slow  bool   // a reCAPTCHA-like task, for its ceiling
}

// take takes a permit for the submit's type: the fleet's when
// Shared.Threads answers, the Transport's own otherwise.
func (s *submission) take(ctx context.Context) error {
	th := s.t.threads
	if st := s.t.shared.Threads; st != nil {
		token, err := st.Acquire(ctx, s.typ, th.plan, th.overbookNow(), th.ceilingSlow)
		switch err := s.t.sharedResult(ctx, sharedThreads, err); err {
		case nil:
			s.token = token
			return nil
		case errSharedDown:
		default:
			return err
		}
	}
	_, err := th.acquire(ctx, s.typ)
	return err
}

// end turns the permit into the task's lease, or gives it back.
func (s *submission) end(ctx context.Context) {
	t, th := s.t, s.t.threads
	if s.token == "" {
		switch {
		case s.id != "":
			th.accepted(s.typ, s.id, s.slow)
		case s.maybe:
			th.maybeAccepted(s.typ, s.slow)
		default:
			th.release(s.typ)
		}
		return
	}
	st := t.shared.Threads
	var err error
	switch {
	case s.id != "":
		th.watch(s.id)
		err = st.Accepted(ctx, s.token, s.id, th.ceilingFor(s.slow), th.plan, th.quiet)
	case s.maybe:
		err = st.Release(ctx, s.token, th.ceilingFor(s.slow))
	default:
		err = st.Release(ctx, s.token, 0)
	}
	if err != nil {
		t.sharedDown(ctx, sharedThreads, err)
	}
}

func (s *submission) attempt(ctx context.Context, req *http.Request, typ string) (*http.Response, action, error) {
	if !s.held {
		// The first attempt: the permit first, for the type the
		// retrier read.
		s.typ = typ
		start := time.Now()
		err := s.take(ctx)
		s.t.stats.threadWait.Add(int64(time.Since(start)))
		if err != nil {
			closeBody(req)
			return nil, action{}, notSent(err)
		}
		s.held = true
	}
	resp, act, err := s.t.attempt(ctx, req, typ)
	switch {
	case err != nil:
		s.maybe = !errors.Is(err, ErrNotSent)
	case act.verdict == verdictAccepted:
		s.id = acceptedID(resp)
		s.maybe = s.id == ""
	case act.verdict == verdictNoSlot:
		act.probe = s.noSlot(ctx)
	default:
		s.maybe = act.verdict == verdictLost || resp.StatusCode >= 500
	}
	if s.id != "" || s.maybe {
		s.slow = slowType(typ)
	}
	return resp, act, err
}

// noSlot learns from a NO_SLOT answer, from the fleet's count of tasks or
// the Transport's own, and reports whether it was a probe.
func (s *submission) noSlot(ctx context.Context) bool {
	if st := s.t.shared.Threads; st != nil && s.token != "" {
		probe, err := st.NoSlot(ctx, s.typ, s.t.threads.plan)
		if s.t.sharedResult(ctx, sharedThreads, err) == nil {
			return probe
		}
	}
	return s.t.threads.noSlot(s.typ)
}

// taskEnded gives back the permit of task id, seen to end: the fleet's
// lease, whichever process holds it, and the Transport's own.
func (t *Transport) taskEnded(ctx context.Context, id string, reason int) bool {
	ended := t.threads.done(id, reason)
	if st := t.shared.Threads; st != nil {
		found, err := st.Done(context.WithoutCancel(ctx), id)
		if err != nil {
			t.sharedDown(ctx, sharedThreads, err)
		}
		ended = ended || found
	}
	return ended
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
