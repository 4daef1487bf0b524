package slotguard

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// TestThreadsNeverLeak drives the permits of several task types through
// random event orders (acquire, cancel, accept, maybe accept, give back,
// see an end, TaskDone, NO_SLOT, time passing past ceilings), with and
// without a plan, and checks after each step that the permits out are
// exactly the submits under way plus the leases, per type and in all; that
// the plan's total holds; that no waiter is left waiting whose type has
// room (no type holds another up); that each type's line is served in
// arrival order; and at the end that every permit came back once.
func TestThreadsNeverLeak(t *testing.T) {
	for seed := range 50 {
		t.Run(strconv.Itoa(seed), func(t *testing.T) {
			var b [512]byte
			for i := range b {
				b[i] = byte((seed*131 + i*i*7 + i/3) % 251)
			}
			checkThreads(t, b[:])
		})
	}
}

// FuzzThreads is TestThreadsNeverLeak over any event order.
func FuzzThreads(f *testing.F) {
	f.Add([]byte{0, 0, 1, 3, 2, 7, 5, 8, 1, 4, 7, 7, 6})
	f.Add([]byte("accept-release-cancel-expire"))
	f.Add([]byte{1, 2, 1, 4, 1, 0, 1, 2, 3, 0, 7, 2, 7, 4, 2, 2, 6, 0, 5, 2})
	f.Fuzz(checkThreads)
}

// fuzzTypes are the task types the event orders draw on: the untyped
// entry and two of their own.
var fuzzTypes = [...]string{"", TypeImage, TypeRecaptcha}

func checkThreads(t *testing.T, ops []byte) {
	for _, plan := range []int{0, 3} {
		t.Run("plan"+strconv.Itoa(plan), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				runThreads(t, newThreads(Threads{Plan: plan, Overbook: 1}, 0), ops)
			})
		})
	}
}

// threadsModel is what the test knows of the permits it drives.
type threadsModel struct {
	th         *threads
	submitting map[string]int // permits held by submits under way, by type
	waiting    []*fuzzWaiter
	ids        []fuzzTask // leases the test gave
	next       int
	granted    int            // permits handed out in all
	served     map[string]int // by type: the latest arrival granted
	arrivals   int
}

type fuzzWaiter struct {
	typ       string
	arrival   int
	cancel    context.CancelFunc
	cancelled bool
	done      chan error
}

type fuzzTask struct{ typ, id string }

// collect takes in the waiters that are done, and checks that each type's
// line was served in arrival order.
func (m *threadsModel) collect(t *testing.T, step int) {
	synctest.Wait()
	kept := m.waiting[:0]
	for _, w := range m.waiting {
		select {
		case err := <-w.done:
			if err == nil {
				m.submitting[w.typ]++
				m.granted++
				m.served[w.typ] = max(m.served[w.typ], w.arrival)
			}
		default:
			kept = append(kept, w)
		}
	}
	m.waiting = kept
	for _, w := range m.waiting {
		if !w.cancelled && w.arrival < m.served[w.typ] {
			t.Fatalf("step %d: a %q waiter is still waiting behind a later one granted", step, w.typ)
		}
	}
}

// pick is a type with a submit under way, from arg's on; "" and false when
// there is none.
func (m *threadsModel) pick(arg int) (string, bool) {
	for i := range fuzzTypes {
		if typ := fuzzTypes[(arg/2+i)%len(fuzzTypes)]; m.submitting[typ] > 0 {
			m.submitting[typ]--
			return typ, true
		}
	}
	return "", false
}

func runThreads(t *testing.T, th *threads, ops []byte) {
	m := &threadsModel{th: th, submitting: map[string]int{}, served: map[string]int{}}
	t.Cleanup(func() {
		for _, w := range m.waiting {
			w.cancel() // a failed check leaves none blocked in the bubble
		}
	})
	for i, op := range ops {
		arg := 0
		if i+1 < len(ops) {
			arg = int(ops[i+1])
		}
		m.step(t, i, op, arg)
		m.collect(t, i)
		m.check(t, i)
	}
	// The end: every waiter leaves, every permit comes back.
	for _, w := range m.waiting {
		w.cancel()
	}
	m.collect(t, len(ops))
	for typ, n := range m.submitting {
		for range n {
			th.release(typ)
		}
	}
	time.Sleep(defaultCeilingSlow)
	st := th.stats()
	back := st.NotAccepted + st.Polled + st.Explicit + st.Ceiling
	if st.Held != 0 || st.Tasks != 0 || st.Waiters != 0 || back != int64(m.granted) {
		t.Fatalf("at the end: %+v; %d permits given back of %d handed out", st, back, m.granted)
	}
	for typ, ts := range th.typeStats() {
		if ts.Held != 0 || ts.Tasks != 0 || ts.Waiters != 0 {
			t.Fatalf("at the end, type %q: %+v", typ, ts)
		}
	}
}

// step runs one event.
func (m *threadsModel) step(t *testing.T, i int, op byte, arg int) {
	th, typ := m.th, fuzzTypes[(arg/2)%len(fuzzTypes)]
	switch op % 9 {
	case 0: // try: a context already ended takes a free permit, or none
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := th.acquire(ctx, typ); err == nil {
			m.submitting[typ]++
			m.granted++
		}
	case 1: // wait in line
		ctx, cancel := context.WithCancel(context.Background())
		w := &fuzzWaiter{typ: typ, arrival: m.arrivals, cancel: cancel, done: make(chan error, 1)}
		m.arrivals++
		go func() { _, err := th.acquire(ctx, typ); w.done <- err }()
		m.waiting = append(m.waiting, w)
	case 2:
		if typ, ok := m.pick(arg); ok {
			th.release(typ)
		}
	case 3:
		if typ, ok := m.pick(arg); ok {
			m.next++
			id := strconv.Itoa(m.next)
			m.ids = append(m.ids, fuzzTask{typ, id})
			th.accepted(typ, id, arg%2 == 0)
		}
	case 4:
		if typ, ok := m.pick(arg); ok {
			th.maybeAccepted(typ, arg%2 == 0)
		}
	case 5, 6: // a poll or TaskDone sees a task end, maybe one never held
		if len(m.ids) > 0 {
			k := arg % (len(m.ids) + 1)
			id := "unknown"
			if k < len(m.ids) {
				id = m.ids[k].id
				m.ids = append(m.ids[:k], m.ids[k+1:]...)
			}
			th.done(id, releasePolled+int(op%9)-5)
			if th.done(id, releaseExplicit) {
				t.Fatalf("step %d: task %s released twice", i, id)
			}
		}
	case 7:
		th.noSlot(typ)
	case 8:
		if len(m.waiting) > 0 {
			w := m.waiting[arg%len(m.waiting)]
			w.cancelled = true
			w.cancel()
		} else {
			time.Sleep(time.Duration(arg) * time.Second) // up to 4 min: ceilings pass
		}
	}
}

// check compares the permits with the model, per type and in all.
func (m *threadsModel) check(t *testing.T, step int) {
	th := m.th
	th.mu.Lock()
	defer th.mu.Unlock()
	submitting := 0
	for _, n := range m.submitting {
		submitting += n
	}
	if th.held != submitting+th.tasks || th.tasks != len(th.leases) || th.tasks != len(th.byEnd) || th.held < 0 {
		t.Fatalf("step %d: held %d, tasks %d, leases %d (heap %d); the test has %d submits under way",
			step, th.held, th.tasks, len(th.leases), len(th.byEnd), submitting)
	}
	if th.waiting != len(m.waiting) {
		t.Fatalf("step %d: %d waiters, the test has %d", step, th.waiting, len(m.waiting))
	}
	if th.plan > 0 && th.held > th.plan+th.over(th.plan) {
		t.Fatalf("step %d: %d permits out, over the plan's %d + %d", step, th.held, th.plan, th.over(th.plan))
	}
	tasks := map[*threadKind]int{}
	for _, l := range th.leases {
		tasks[l.kind]++
	}
	waiters := 0
	for _, typ := range fuzzTypes {
		k := th.kinds[typ]
		if k == nil {
			continue
		}
		waiters += k.waiters.Len()
		if k.held != m.submitting[typ]+k.tasks || k.tasks != tasks[k] {
			t.Fatalf("step %d, type %q: held %d, tasks %d (leases %d); the test has %d submits under way",
				step, typ, k.held, k.tasks, tasks[k], m.submitting[typ])
		}
		if k.waiters.Len() > 0 && th.room(k) {
			t.Fatalf("step %d, type %q: %d waiting with room (held %d of %d, key %d)",
				step, typ, k.waiters.Len(), k.held, th.kindLimit(k), th.held)
		}
	}
	if waiters != th.waiting || len(th.kinds) != len(th.order) {
		t.Fatalf("step %d: %d waiters in the types' lines, %d counted", step, waiters, th.waiting)
	}
}
