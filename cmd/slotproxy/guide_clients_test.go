package main

// The provider's NO_SLOT guide, as users run it, through slotproxy to
// cmd/fakeprovider (issue 15, item 6): testdata/guide_client.py runs the
// guide's submit_with_slot_retry loop, unchanged but for its base URL, on
// many threads, with Python requests, with urllib, and with curl doing the
// HTTP. Nothing is scaled: the client's timeout=30 is 30 real seconds, its
// sleeps are real, the fake provider runs at -time-scale 1 (with solve
// times cut to 2-6 s, so that threads turn over within the run) and
// slotproxy in real time, on loopback sockets, outside synctest. The cases
// run at once and take about 90 s together, most of it the guide's own
// sleeps.
//
// Every case asserts what the guide's users need: no exception that the
// guide's code does not handle (ReadTimeout, a JSON decode error: any
// exception but the guide's own RuntimeError), no answer but a task id or
// NO_SLOT (the guide raises "Submit error" on any other, a ban included), no
// ban at the provider, fewer than 120 NO_SLOT answers in every provider
// minute, and the provider's accepted count equal to the task ids the
// clients received. Python with requests, curl and redis-server must be
// installed; under CI=true a missing one fails the test.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slotguard/slotguard/redisguard/redistest"
)

// A guideCase is one run of the guide through slotproxy.
type guideCase struct {
	name    string
	client  string // requests, urllib or curl
	threads int    // client threads (per proxy)
	slots   int    // the provider's
	fleet   bool   // two slotproxies sharing one key through Redis
	// run is how long each client thread starts new tasks, in seconds; a
	// task started before the end is finished (submitted, then polled).
	run int
}

// TestGuideClients runs every case at once (each takes about a minute of
// real time, the fleet more), then checks each in a subtest.
//
// Through one slotproxy, the provider has no slot at all from 15 s to 27 s
// of its time (real time here): slotproxy's breaker opens (4 NO_SLOT in a
// row at the default -rate 2, then 5 s open before a probe), and the
// clients get its refusals in the provider's dialect.
//
// The fleet: two slotproxies with -redis and one -redis-key, each driven by
// the guide on 12 threads, in front of one provider short of slots. Together
// they keep under the key's lines (no ban, under 120 NO_SLOT a minute),
// where each alone may spend the whole NO_SLOT budget (110 a minute).
func TestGuideClients(t *testing.T) {
	cases := []guideCase{
		{name: "requests", client: "requests", threads: 20, slots: 5, run: 45},
		{name: "urllib", client: "urllib", threads: 8, slots: 2, run: 45},
		{name: "curl", client: "curl", threads: 8, slots: 2, run: 45},
		{name: "fleet", client: "requests", threads: 12, slots: 2, fleet: true, run: 30},
	}
	need(t, "curl")
	bin := buildFakeProvider(t)
	type run struct {
		guideCase
		fp      *fakeProc
		proxies []*started
		sums    []guideSummary
		errs    []error
	}
	runs := make([]*run, len(cases))
	for i, c := range cases {
		r := &run{guideCase: c}
		s := strconv.Itoa(c.slots)
		if c.fleet {
			redis := redistest.Start(t)
			r.fp = startFakeProvider(t, bin, "-slots", s, "-solve", "2s-6s")
			for range 2 {
				r.proxies = append(r.proxies, startProxy(t, "-upstream", r.fp.URL,
					"-redis", redis.Addr, "-redis-key", key, "-rate", "5", "-max-wait", "10s"))
			}
		} else {
			r.fp = startFakeProvider(t, bin, "-slots", s, "-solve", "2s-6s", "-capacity", "15s:0,27s:"+s)
			r.proxies = append(r.proxies, startProxy(t, "-upstream", r.fp.URL,
				"-breaker-failures", "4", "-breaker-open-for", "5s"))
		}
		r.sums = make([]guideSummary, len(r.proxies))
		r.errs = make([]error, len(r.proxies))
		runs[i] = r
	}
	var wg sync.WaitGroup
	for _, r := range runs {
		g := guide(t, r.client, r.threads, r.run)
		for i, p := range r.proxies {
			wg.Go(func() {
				start := time.Now()
				r.sums[i], r.errs[i] = g(p.URL)
				t.Logf("%s: the clients of proxy %d ran %v", r.name, i, time.Since(start).Round(time.Second))
			})
		}
	}
	wg.Wait()

	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			var all guideSummary
			for i, s := range r.sums {
				if r.errs[i] != nil {
					t.Fatal(r.errs[i])
				}
				if len(s.Tasks) == 0 {
					t.Errorf("the clients of proxy %d received no task id", i)
				}
				all.Tasks = append(all.Tasks, s.Tasks...)
				all.Solved += s.Solved
				all.GaveUp += s.GaveUp
				all.NoSlot += s.NoSlot
				all.Unhandled = append(all.Unhandled, s.Unhandled...)
				all.Errors = mergeCounts(all.Errors, s.Errors)
			}
			st := r.fp.stats(t)
			checkGuide(t, all, st)
			var opens, refused float64
			for _, p := range r.proxies {
				opens += metric(t, p.URL, "slotguard_breaker_opens_total")
				refused += metric(t, p.URL, "slotproxy_refusals_total")
			}
			if !r.fleet && opens == 0 {
				t.Errorf("slotguard_breaker_opens_total = 0, want the breaker opened in the outage")
			}
			if !r.fleet && refused == 0 {
				t.Errorf("slotproxy_refusals_total = 0, want refusals in the provider's dialect while the breaker was open")
			}
			t.Logf("%s, %d proxies, %d threads each, %d slots: %d tasks, %d solved, %d gave up after 5 attempts, %d NO_SLOT seen by the clients; "+
				"provider: %d accepted, NO_SLOT per minute %v, bans %v; proxies: breaker opened %g times, %g refusals",
				r.client, len(r.proxies), r.threads, r.slots, len(all.Tasks), all.Solved, all.GaveUp, all.NoSlot,
				st.Accepted, st.NoSlotPerMinute, st.Bans, opens, refused)
		})
	}
}

// guideSummary is what testdata/guide_client.py prints last.
type guideSummary struct {
	Tasks     []string       `json:"tasks"`     // task ids received
	Solved    int            `json:"solved"`    // of them, polled to the answer
	GaveUp    int            `json:"gave_up"`   // the guide's "Max retries exceeded"
	Errors    map[string]int `json:"errors"`    // the guide's other RuntimeErrors
	Unhandled []string       `json:"unhandled"` // any other exception
	NoSlot    int            `json:"-"`         // the guide's "No slot available" lines
}

func mergeCounts(a, b map[string]int) map[string]int {
	if a == nil {
		a = make(map[string]int)
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// guide returns a function that runs testdata/guide_client.py with client
// on threads threads against a base URL for run seconds, and returns
// its summary. The function may run on any goroutine.
func guide(t *testing.T, client string, threads, run int) func(base string) (guideSummary, error) {
	t.Helper()
	py := python(t)
	return func(base string) (guideSummary, error) {
		// A task started just before the end may still retry for 24 s
		// of sleeps, and wait up to -max-wait in the proxy per attempt.
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, "testdata/guide_client.py")
		cmd.Env = append(os.Environ(), "CAPTCHAAI_BASE="+base, "CAPTCHAAI_KEY="+key,
			"GUIDE_CLIENT="+client, "GUIDE_THREADS="+strconv.Itoa(threads), "GUIDE_RUN="+strconv.Itoa(run))
		cmd.WaitDelay = time.Second
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return guideSummary{}, fmt.Errorf("guide client (%s): %v\n%s", client, err, stderr.String())
		}
		var sum guideSummary
		for l := range strings.Lines(string(out)) {
			if j, ok := strings.CutPrefix(l, "SUMMARY "); ok {
				if err := json.Unmarshal([]byte(j), &sum); err != nil {
					return sum, fmt.Errorf("guide client (%s): summary %q: %v", client, j, err)
				}
			} else if strings.HasPrefix(l, "No slot available.") {
				sum.NoSlot++
			}
		}
		if sum.Tasks == nil {
			return sum, fmt.Errorf("guide client (%s) printed no summary:\n%s\n%s", client, out, stderr.String())
		}
		return sum, nil
	}
}

// checkGuide asserts what the guide's users need of a run.
func checkGuide(t *testing.T, sum guideSummary, st accountStats) {
	t.Helper()
	if len(sum.Unhandled) > 0 {
		t.Errorf("the guide's code met %d exceptions it does not handle: %q", len(sum.Unhandled), sum.Unhandled)
	}
	if len(sum.Errors) > 0 {
		t.Errorf("the guide's code raised on answers other than a task id or NO_SLOT: %v", sum.Errors)
	}
	if len(sum.Tasks) == 0 {
		t.Errorf("the clients received no task id")
	}
	distinct := slices.Compact(slices.Sorted(slices.Values(sum.Tasks)))
	if len(distinct) != len(sum.Tasks) {
		t.Errorf("the clients received %d task ids, %d distinct", len(sum.Tasks), len(distinct))
	}
	if sum.Solved != len(sum.Tasks) {
		t.Errorf("%d of %d tasks polled to their answer, want all", sum.Solved, len(sum.Tasks))
	}
	if st.Accepted != len(sum.Tasks) {
		t.Errorf("provider accepted %d tasks, the clients received %d ids, want equal", st.Accepted, len(sum.Tasks))
	}
	if len(st.Bans) > 0 {
		t.Errorf("provider bans = %v, want none", st.Bans)
	}
	if peak := slices.Max(append([]int{0}, st.NoSlotPerMinute...)); peak >= 120 {
		t.Errorf("provider answered %d NO_SLOT in one minute (%v), want under 120 (ERROR: 1001)", peak, st.NoSlotPerMinute)
	}
}

// fakeProc is cmd/fakeprovider running as a process.
type fakeProc struct{ URL string }

// accountStats is one account of fakeprovider's /stats.
type accountStats struct {
	Accepted        int            `json:"accepted"`
	Rejected        map[string]int `json:"rejected"`
	Bans            map[string]int `json:"bans"`
	NoSlotPerMinute []int          `json:"no_slot_per_minute"`
}

func (f *fakeProc) stats(t *testing.T) accountStats {
	t.Helper()
	resp, body := get(t, client(t), f.URL+"/stats?key="+key)
	var st accountStats
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("fakeprovider /stats: %d %q: %v", resp.StatusCode, body, err)
	}
	return st
}

// buildFakeProvider builds cmd/fakeprovider of the root module.
func buildFakeProvider(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakeprovider")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fakeprovider")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fakeprovider: %v\n%s", err, out)
	}
	return bin
}

// startFakeProvider runs the fakeprovider at bin with args on a free
// loopback port until the test ends.
func startFakeProvider(t *testing.T, bin string, args ...string) *fakeProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "fakeprovider: serving "); ok {
			u, _, _ := strings.Cut(rest, " ")
			// Read the rest (the accounting at the end), so the process
			// never blocks on a full pipe.
			go func() {
				for lines.Scan() {
				}
			}()
			return &fakeProc{URL: u}
		}
	}
	t.Fatalf("fakeprovider %v did not start: %s", args, stderr.String())
	return nil
}

// metric sums the samples of the Prometheus metric name (all its labels)
// on slotproxy's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	_, body := get(t, client(t), base+"/metrics")
	var sum float64
	for l := range strings.Lines(body) {
		rest, ok := strings.CutPrefix(l, name)
		if !ok || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("/metrics: %q: %v", l, err)
		}
		sum += v
	}
	return sum
}
