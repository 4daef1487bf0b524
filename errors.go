package slotguard

import "errors"

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
