package main

import (
	"bytes"
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

	end      time.Duration         // the run's end: byMethod counts the attempts sent up to it
	byMethod map[string]methodWire // by the task's method
}

func (t *tap) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/in.php") {
		return t.base.RoundTrip(req)
	}
	at, m := t.clock.now(), methodOf(req.Context())
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
	if at > t.end {
		return
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
	}
	t.byMethod[m] = mw
}

// snapshot returns the attempts and NO_SLOT times up to end, sorted, and
// the counts by method.
func (t *tap) snapshot(end time.Duration) (tries, noSlot []time.Duration, byMethod map[string]methodWire) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cut := func(s []time.Duration) []time.Duration {
		s = slices.Clone(s)
		slices.Sort(s)
		i, _ := slices.BinarySearch(s, end+1)
		return s[:i]
	}
	return cut(t.tries), cut(t.noSlot), maps.Clone(t.byMethod)
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
