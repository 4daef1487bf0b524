package slotguard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// acquireInOrder starts n goroutines that each acquire a permit of th, one
// after the other (each queued before the next starts), and returns a
// channel that receives their indexes in the order they are granted.
func acquireInOrder(t *testing.T, th *threads, n int) <-chan int {
	t.Helper()
	order := make(chan int, n)
	for i := range n {
		go func() {
			if _, err := th.acquire(context.Background(), ""); err != nil {
				t.Errorf("waiter %d: %v", i, err)
			}
			order <- i
		}()
		synctest.Wait()
	}
	return order
}

// TestThreadsFIFO: waiters are served in arrival order, one per permit
// given back, however the permits come back.
func TestThreadsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Plan: 1, Overbook: 1}, 0) // limit 2
		for range 2 {
			if _, err := th.acquire(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
		}
		th.accepted("", "1", false)
		order := acquireInOrder(t, th, 5)
		if st := th.stats(); st.Waiters != 5 || st.Held != 2 {
			t.Fatalf("stats = %+v, want 5 waiters and 2 held", st)
		}
		// Permits come back by every path; each goes to the next in line.
		for _, giveBack := range []func(){
			func() { th.release("") },                                             // the submit that was not accepted
			func() { th.done("1", releasePolled) },                                // the task, seen to end
			func() { th.accepted("", "2", false); th.done("2", releaseExplicit) }, // waiter 0's task, TaskDone
			func() { th.release("") },                                             // waiter 1, not accepted
			func() { th.maybeAccepted("", false); time.Sleep(defaultCeiling) },    // waiter 2, to its ceiling
		} {
			giveBack()
			synctest.Wait()
		}
		var got []int
		for range 5 {
			got = append(got, <-order)
		}
		if fmt.Sprint(got) != "[0 1 2 3 4]" {
			t.Errorf("granted in order %v, want [0 1 2 3 4]", got)
		}
	})
}

// TestThreadsCancelWhileWaiting: a cancelled waiter leaves the line at
// once, with the context's error, takes no permit, and the one behind it
// moves up.
func TestThreadsCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Plan: 1, Overbook: 1}, 0)
		th.acquire(context.Background(), "")
		th.acquire(context.Background(), "")
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(3*time.Second, cancel)
		errc := make(chan error, 1)
		go func() {
			waited, err := th.acquire(ctx, "")
			if waited != 3*time.Second {
				t.Errorf("cancelled waiter waited %v, want 3s", waited)
			}
			errc <- err
		}()
		synctest.Wait()
		order := acquireInOrder(t, th, 1)
		time.Sleep(3 * time.Second)
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled waiter: err = %v, want context.Canceled", err)
		}
		if st := th.stats(); st.Held != 2 || st.Waiters != 1 {
			t.Errorf("after the cancel: %+v, want 2 held and 1 waiting", st)
		}
		th.release("")
		if got := <-order; got != 0 {
			t.Errorf("granted waiter %d, want 0", got)
		}
		if st := th.stats(); st.Held != 2 || st.Waiters != 0 {
			t.Errorf("after the release: %+v, want 2 held and none waiting", st)
		}
	})
}

// TestThreadsLearnCapacity: without a plan the capacity starts at one,
// rises by one per acceptance above it, falls to the tasks in flight at a
// NO_SLOT below it, rises slowly while NO_SLOT answers keep coming, and
// never passes the plan.
func TestThreadsLearnCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Overbook: 10}, 0) // room enough never to wait
		id := 0
		take := func() {
			t.Helper()
			if waited, err := th.acquire(context.Background(), ""); err != nil || waited != 0 {
				t.Fatalf("acquire waited %v, err %v; want a free permit", waited, err)
			}
			id++
			th.accepted("", strconv.Itoa(id), false)
		}
		for range 5 {
			take()
		}
		if c := th.stats().Capacity; c != 5 {
			t.Fatalf("capacity after 5 acceptances = %d, want 5", c)
		}
		for i := range 3 {
			th.done(strconv.Itoa(i+1), releasePolled)
		}
		if probe := th.noSlot(""); probe {
			t.Error("NO_SLOT with 2 tasks under a capacity of 5: probe, want a lesson")
		}
		if c := th.stats().Capacity; c != 2 {
			t.Fatalf("capacity after NO_SLOT at 2 tasks = %d, want 2", c)
		}
		if probe := th.noSlot(""); !probe {
			t.Error("NO_SLOT with 2 tasks filling a capacity of 2: not a probe")
		}
		// Within 10 s of a NO_SLOT, one step per capacity's worth (2) of
		// acceptances above it.
		take() // 3 tasks > 2: half a step
		if c := th.stats().Capacity; c != 2 {
			t.Errorf("capacity after one acceptance above it, NO_SLOT recent = %d, want 2", c)
		}
		take()
		if c := th.stats().Capacity; c != 3 {
			t.Errorf("capacity after two = %d, want 3", c)
		}
		time.Sleep(noSlotQuiet)
		take()
		if c := th.stats().Capacity; c != 4 {
			t.Errorf("capacity after an acceptance 10 s after the NO_SLOT = %d, want 4", c)
		}

		plan := newThreads(Threads{Plan: 3, Overbook: 2}, 0)
		for i := range 5 {
			plan.acquire(context.Background(), "")
			plan.accepted("", strconv.Itoa(i), false)
		}
		if st := plan.stats(); st.Capacity != 3 || st.Limit != 5 || st.Held != 5 {
			t.Errorf("with Plan 3: %+v, want capacity 3 (never above the plan), limit 5", st)
		}
	})
}

// TestThreadsMeasuredOverbook: the overbook is the threads expected free
// unseen: capacity x (half the poll gap) / (time a task holds its thread).
func TestThreadsMeasuredOverbook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Plan: 20}, 0)
		if l := th.stats().Limit; l != 20+defaultOverbook {
			t.Fatalf("limit before any measure = %d, want %d", l, 20+defaultOverbook)
		}
		// Each task: accepted, found running at 15 s, seen ended at 20 s
		// (a 5 s poll gap: 2.5 s free unseen, in 20 s held).
		for i := range 200 {
			id := strconv.Itoa(i)
			th.acquire(context.Background(), "")
			th.accepted("", id, false)
			time.Sleep(15 * time.Second)
			th.pending(id)
			time.Sleep(5 * time.Second)
			th.done(id, releasePolled)
		}
		// 20 x 2.5 / 20 = 2.5, rounded: 3. With a 1 s gap: 20 x 0.5 / 16 = 0.6: 1.
		if l := th.stats().Limit; l != 23 {
			t.Errorf("limit with a 5 s poll gap = %d, want 23", l)
		}
		for i := range 200 {
			id := "b" + strconv.Itoa(i)
			th.acquire(context.Background(), "")
			th.accepted("", id, false)
			time.Sleep(15 * time.Second)
			th.pending(id)
			time.Sleep(time.Second)
			th.done(id, releasePolled)
		}
		if l := th.stats().Limit; l != 21 {
			t.Errorf("limit with a 1 s poll gap = %d, want 21", l)
		}
	})
}

// TestThreadsCancelAsGranted: a waiter whose context ends at the moment a
// permit is handed to it gives that permit back, to the next in line.
func TestThreadsCancelAsGranted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Plan: 1, Overbook: 1}, 0)
		th.acquire(context.Background(), "")
		th.acquire(context.Background(), "")
		for range 100 { // the select picks either way: both ways, often
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { _, err := th.acquire(ctx, ""); done <- err }()
			synctest.Wait()
			// Both before the waiter runs again: its select finds both
			// ready, and picks either.
			cancel()
			th.release("")
			if err := <-done; err == nil {
				th.release("") // it won the permit: the test gives it back
			}
			th.acquire(context.Background(), "") // the permit given back is free again
			if st := th.stats(); st.Held != 2 || st.Waiters != 0 {
				t.Fatalf("%+v, want 2 held and none waiting", st)
			}
		}
	})
}

// TestThreadsWaiterWakesAtLaterCeiling: a waiter that began waiting while
// no task held a lease (every permit a submit under way) is granted at the
// ceiling of the leases those submits took when accepted, though no poll
// ever sees their tasks end.
func TestThreadsWaiterWakesAtLaterCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Plan: 1, Overbook: 1}, 0) // limit 2
		th.acquire(context.Background(), "")
		th.acquire(context.Background(), "")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		type result struct {
			waited time.Duration
			err    error
		}
		done := make(chan result, 1)
		go func() {
			waited, err := th.acquire(ctx, "")
			done <- result{waited, err}
		}()
		synctest.Wait()
		th.accepted("", "1", false)
		th.accepted("", "2", false)
		if r := <-done; r.err != nil || r.waited != defaultCeiling {
			t.Errorf("acquire = %v, %v, want granted after the ceiling, %v", r.waited, r.err, defaultCeiling)
		}
	})
}
