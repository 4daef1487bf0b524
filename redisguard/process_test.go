package redisguard

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotguard/slotguard/redisguard/redistest"
)

// TestHelperProcess is not a test: it is one process of the fleet in
// TestPacerProcesses, started by re-running the test binary.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("REDISGUARD_HELPER") != "pacer" {
		return // a helper process of TestPacerProcesses only
	}
	env := func(k string) int64 {
		n, err := strconv.ParseInt(os.Getenv(k), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return n
	}
	rate, _ := strconv.ParseFloat(os.Getenv("REDISGUARD_RATE"), 64)
	start, end := time.Unix(0, env("REDISGUARD_START")), time.Unix(0, env("REDISGUARD_END"))
	c := redis.NewClient(&redis.Options{Addr: os.Getenv("REDISGUARD_ADDR"), ContextTimeoutEnabled: true})
	defer c.Close()
	f, err := New(c, os.Getenv("REDISGUARD_KEY"), Config{Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(start))
	ctx, cancel := context.WithDeadline(context.Background(), end)
	defer cancel()
	n := 0
	for f.Pacer.Wait(ctx) == nil && ctx.Err() == nil {
		n++
	}
	fmt.Printf("tokens=%d\n", n)
}

func TestPacerProcesses(t *testing.T) {
	// 4 OS processes share 40/s for 3 s: 120 tokens between them, within 5 %.
	addr := redistest.Addr(t)
	const n, rate, run = 4, 40.0, 3 * time.Second
	key := testKey(t)
	start := time.Now().Add(time.Second) // every process is up by then
	end := start.Add(run)
	counts := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"REDISGUARD_HELPER=pacer",
			"REDISGUARD_ADDR="+addr,
			"REDISGUARD_KEY="+key,
			"REDISGUARD_RATE="+strconv.FormatFloat(rate, 'g', -1, 64),
			"REDISGUARD_START="+strconv.FormatInt(start.UnixNano(), 10),
			"REDISGUARD_END="+strconv.FormatInt(end.UnixNano(), 10),
		)
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("process %d: %v\n%s", i, err, out)
				return
			}
			_, after, ok := strings.Cut(string(out), "tokens=")
			if !ok {
				t.Errorf("process %d printed no count:\n%s", i, out)
				return
			}
			counts[i], _ = strconv.Atoi(strings.Fields(after)[0])
		})
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	want := rate * run.Seconds()
	t.Logf("%d processes at a shared %v/s for %v: %d tokens (%.2f %% off %v), per process %v",
		n, rate, run, total, 100*(float64(total)-want)/want, want, counts)
	if math.Abs(float64(total)-want) > 0.05*want {
		t.Errorf("tokens = %d, want %v within 5 %%", total, want)
	}
}
