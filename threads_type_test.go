package slotguard

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// waitFor starts a submit of type typ waiting for a permit of th and
// returns a channel that receives name when it is granted.
func waitFor(t *testing.T, th *threads, typ, name string, granted chan<- string) {
	t.Helper()
	ctx := t.Context() // ends with the test: a failed one leaves none blocked
	go func() {
		if _, err := th.acquire(ctx, typ); err == nil {
			granted <- name
		} else if ctx.Err() == nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	synctest.Wait()
}

// received drains what was granted so far, in order.
func received(c <-chan string) string {
	var got []string
	for {
		select {
		case s := <-c:
			got = append(got, s)
		default:
			return strings.Join(got, " ")
		}
	}
}

// TestThreadsNoHeadOfLine: without a plan, a submit of a type with room
// goes at once while an older submit of another type waits for its own
// type's room; each type's line is its own, first come first served.
func TestThreadsNoHeadOfLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Overbook: 1}, 0) // each type: capacity 1, limit 2
		for range 2 {
			th.acquire(context.Background(), TypeRecaptcha)
		}
		granted := make(chan string, 8)
		waitFor(t, th, TypeRecaptcha, "r0", granted)
		waitFor(t, th, TypeRecaptcha, "r1", granted)
		waitFor(t, th, TypeImage, "i0", granted)
		waitFor(t, th, TypeImage, "i1", granted)
		waitFor(t, th, TypeImage, "i2", granted)
		if got := received(granted); got != "i0 i1" {
			t.Fatalf("granted %q with recaptcha full, want \"i0 i1\": image has room", got)
		}
		th.release(TypeRecaptcha)
		synctest.Wait()
		th.release(TypeImage)
		synctest.Wait()
		th.release(TypeRecaptcha)
		synctest.Wait()
		if got := received(granted); got != "r0 i2 r1" {
			t.Errorf("granted %q as permits came back, want \"r0 i2 r1\"", got)
		}
		st := th.typeStats()
		if st[TypeImage].Held != 2 || st[TypeRecaptcha].Held != 2 || st[TypeImage].Waiters+st[TypeRecaptcha].Waiters != 0 {
			t.Errorf("typeStats = %+v, want 2 held of each and none waiting", st)
		}
	})
}

// TestThreadsPlanOldestFirst: when the plan's total is what holds the
// waiters, a permit that comes back goes to the oldest of any type with
// room, not to its own type's next.
func TestThreadsPlanOldestFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Plan: 1, Overbook: 1}, 0) // key limit 2, each type's 2
		th.acquire(context.Background(), TypeImage)
		th.acquire(context.Background(), TypeImage)
		granted := make(chan string, 8)
		waitFor(t, th, TypeRecaptcha, "r0", granted)
		waitFor(t, th, TypeImage, "i0", granted)
		waitFor(t, th, TypeRecaptcha, "r1", granted)
		if got := received(granted); got != "" {
			t.Fatalf("granted %q with the plan's total out, want none", got)
		}
		if st := th.stats(); st.Held != 2 || st.Limit != 2 || st.Waiters != 3 {
			t.Fatalf("stats = %+v, want 2 of 2 held, 3 waiting", st)
		}
		for range 3 {
			th.release(TypeImage) // the two image permits, then i0's
			synctest.Wait()
		}
		if got := received(granted); got != "r0 i0 r1" {
			t.Errorf("granted %q, want the oldest first across types: \"r0 i0 r1\"", got)
		}
	})
}

// TestThreadsLearnPerType: a NO_SLOT of one type lowers that type's
// capacity only, its acceptances raise its own; a NO_SLOT while the key's
// tasks fill the plan teaches no type anything.
func TestThreadsLearnPerType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := newThreads(Threads{Overbook: 10}, 0)
		id := 0
		take := func(typ string) {
			t.Helper()
			if waited, err := th.acquire(context.Background(), typ); err != nil || waited != 0 {
				t.Fatalf("acquire %s waited %v, err %v; want a free permit", typ, waited, err)
			}
			id++
			th.accepted(typ, strconv.Itoa(id), false)
		}
		for range 5 {
			take(TypeImage)
		}
		th.done("1", releasePolled) // image: 4 tasks under a capacity of 5
		take(TypeRecaptcha)
		take(TypeRecaptcha)
		th.done(strconv.Itoa(id), releasePolled)
		if probe := th.noSlot(TypeRecaptcha); probe {
			t.Error("recaptcha NO_SLOT at 1 task of a capacity of 2: a probe, want a lesson")
		}
		st := th.typeStats()
		if st[TypeImage].Capacity != 5 || st[TypeRecaptcha].Capacity != 1 {
			t.Errorf("capacities image %d, recaptcha %d; want 5 (untouched) and 1", st[TypeImage].Capacity, st[TypeRecaptcha].Capacity)
		}
		take(TypeImage)
		take(TypeImage) // 6 image tasks: above 5
		if c := th.typeStats()[TypeImage].Capacity; c != 6 {
			t.Errorf("image capacity after an acceptance above it = %d, want 6: recaptcha's NO_SLOT does not slow it", c)
		}
		if c := th.stats().Capacity; c != 7 {
			t.Errorf("key capacity without a plan = %d, want the sum, 7", c)
		}

		plan := newThreads(Threads{Plan: 4, Overbook: 2}, 0)
		for i := range 4 {
			plan.acquire(context.Background(), TypeImage)
			plan.accepted(TypeImage, strconv.Itoa(i), false)
		}
		plan.acquire(context.Background(), TypeRecaptcha)
		if probe := plan.noSlot(TypeRecaptcha); !probe {
			t.Error("recaptcha NO_SLOT with the plan's 4 tasks out: not a probe")
		}
		if c := plan.typeStats()[TypeRecaptcha].Capacity; c != 4 {
			t.Errorf("recaptcha capacity after a NO_SLOT at the plan's total = %d, want the plan, 4", c)
		}
	})
}

// TestThreadsTypesBounded: submits with random method names keep at most
// maxTypes types apart (the rest share the untyped entry), in the permits
// and in Stats.ByType, and every permit still comes back. In virtual
// time: the pacer spaces the 500 submits.
func TestThreadsTypesBounded(t *testing.T) {
	synctest.Test(t, testThreadsTypesBounded)
}

func testThreadsTypesBounded(t *testing.T) {
	var n atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "OK|"+strconv.FormatInt(n.Add(1), 10))
	})
	tr := mustNew(t, memRT{h}, Config{Threads: Threads{Enabled: true, Plan: 4}})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		form := fmt.Sprintf("key=k&method=m%x", rng.Uint64())
		req, _ := http.NewRequest("POST", "http://provider.test/in.php", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !tr.TaskDone(strings.TrimPrefix(string(b), "OK|")) {
			t.Fatalf("submit %d: TaskDone found no permit", i)
		}
	}
	th := tr.threads
	th.mu.Lock()
	kinds, order := len(th.kinds), len(th.order)
	th.mu.Unlock()
	if kinds != maxTypes+1 || order != kinds {
		t.Errorf("%d type entries (%d in line order) after 500 random methods, want %d and the untyped one", kinds, order, maxTypes)
	}
	st := tr.Stats()
	if len(st.ByType) > maxTypes {
		t.Errorf("Stats.ByType has %d types, want at most %d", len(st.ByType), maxTypes)
	}
	if st.Threads.Held != 0 || st.Threads.Explicit != 500 {
		t.Errorf("Stats.Threads = %+v, want none held and 500 given back by TaskDone", st.Threads)
	}
}
