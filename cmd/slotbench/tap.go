package main

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slotguard/slotguard"
)

// The accounting of a run, from both ends: the tap counts every submit
// attempt on the wire, the recorder every task's fate from the workers' side.

// tap is the provider's transport with every submit attempt recorded on the
// way (provider time and answer code), whichever policy sent it: the one
// place where attempts and NO_SLOT answers are counted alike for loops
// that retry in the open and for slotguard, which retries inside RoundTrip.
type tap struct {
	base  http.RoundTripper
	clock clock

	mu     sync.Mutex
	noSlot []time.Duration // provider times of NO_SLOT answers
	tries  []time.Duration // provider times of submit attempts

	end      time.Duration         // the run's end: no submit reaches the provider from then on
	outage   [2]time.Duration      // -type-outage's window, [from, to): its acceptances counted apart; zero: none
	byMethod map[string]methodWire // by the task's method
}

// errRunOver is the tap's answer to a submit sent at or after the run's end.
var errRunOver = errors.New("slotbench: the run is over")

// RoundTrip passes req to the provider. A submit sent at or after the run's
// end is refused unsent and unrecorded: the run reads the provider's
// accounting at its end, and a submit sent at that very instant (a retry
// delay or a pause that ends there) would otherwise be counted by one side
// and not the other, whichever goroutine ran first.
func (t *tap) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/in.php") {
		return t.base.RoundTrip(req)
	}
	at, m := t.clock.now(), methodOf(req.Context())
	if at >= t.end {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errRunOver
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.record(at, m, slotguard.Answer{})
		return resp, err
	}
	// In memory the answer is a few bytes: read it whole, hand back a copy.
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.record(at, m, slotguard.Answer{})
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	a, _ := slotguard.ParseAnswer(b)
	t.record(at, m, a)
	return resp, nil
}

// record counts an attempt of method m sent at at, answered a (zero: no
// answer).
func (t *tap) record(at time.Duration, m string, a slotguard.Answer) {
	noSlot := a.Code == slotguard.CodeNoSlot
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tries = append(t.tries, at)
	if noSlot {
		t.noSlot = append(t.noSlot, at)
	}
	if t.byMethod == nil {
		t.byMethod = make(map[string]methodWire)
	}
	mw := t.byMethod[m]
	mw.tries++
	if noSlot {
		mw.noSlot++
	}
	if a.Accepted {
		mw.accepted++
		if at >= t.outage[0] && at < t.outage[1] {
			mw.acceptedOut++
		}
	}
	t.byMethod[m] = mw
}

// snapshot returns the attempts and NO_SLOT times of the run, sorted, and
// the counts by method.
func (t *tap) snapshot() (tries, noSlot []time.Duration, byMethod map[string]methodWire) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sorted := func(s []time.Duration) []time.Duration {
		s = slices.Clone(s)
		slices.Sort(s)
		return s
	}
	return sorted(t.tries), sorted(t.noSlot), maps.Clone(t.byMethod)
}

// recorder is the accounting of the tasks, from the workers' side.
type recorder struct {
	mu         sync.Mutex
	latency    []time.Duration // per accepted task: first attempt to acceptance
	lostBy     map[string]int
	lostN      int
	cutOffN    int
	pollErrors int
	byMethod   map[string]*methodRec // the same, by the task's method
}

func (r *recorder) accepted(m string, latency time.Duration) {
	r.mu.Lock()
	r.latency = append(r.latency, latency)
	mr := r.recFor(m)
	mr.latency = append(mr.latency, latency)
	r.mu.Unlock()
}

func (r *recorder) lost(m, reason string) {
	r.mu.Lock()
	mr := r.recFor(m)
	mr.lostBy[reason]++
	mr.lost++
	if r.lostBy == nil {
		r.lostBy = make(map[string]int)
	}
	r.lostBy[reason]++
	r.lostN++
	r.mu.Unlock()
}

// arrivedDuringOutage counts a task of method m that arrived within
// -type-outage's window (-arrivals).
func (r *recorder) arrivedDuringOutage(m string) {
	r.mu.Lock()
	r.recFor(m).arrivedOut++
	r.mu.Unlock()
}

func (r *recorder) cutOff() {
	r.mu.Lock()
	r.cutOffN++
	r.mu.Unlock()
}

func (r *recorder) pollError() {
	r.mu.Lock()
	r.pollErrors++
	r.mu.Unlock()
}
