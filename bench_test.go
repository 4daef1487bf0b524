package slotguard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// The overhead of the chain on its hot path, a submit accepted at the first
// attempt, against the bare transport in the same run. Run with
//
//	go test -run '^$' -bench Submit -benchmem -count 6 . | tee new.txt
//
// and compare the slotguard rows with the bare ones (benchstat helps).

// acceptHandler answers every submit as a provider that accepts it.
var acceptHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "OK|74319520867")
})

// benchConfig exercises every stage (a limiter that always has a token, the
// semaphore, the breaker, the ban budget) without making the benchmark wait
// on the pacer or the budget: its lines are set far above what it sends.
var benchConfig = Config{Rate: 1e9, Burst: 1 << 20, Budget: BudgetConfig{NoSlotPerMinute: 1 << 40, SubmitsPer3s: 1 << 40}}

// handWritten is the same three libraries and a body peek composed by hand,
// as a user would write them without slotguard: the yardstick for its
// overhead.
type handWritten struct {
	base http.RoundTripper
	lim  *rate.Limiter
	sem  *semaphore.Weighted
	cb   *gobreaker.TwoStepCircuitBreaker[struct{}]
}

func (h *handWritten) RoundTrip(req *http.Request) (*http.Response, error) {
	done, err := h.cb.Allow()
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	if err := h.lim.Wait(ctx); err != nil {
		done(err)
		return nil, err
	}
	if err := h.sem.Acquire(ctx, 1); err != nil {
		done(err)
		return nil, err
	}
	defer h.sem.Release(1)
	resp, err := h.base.RoundTrip(req)
	if err != nil {
		done(err)
		return nil, err
	}
	br := bufio.NewReaderSize(resp.Body, 512)
	peek, _ := br.Peek(512)
	if bytes.Equal(bytes.TrimSpace(peek), []byte(CodeNoSlot)) {
		done(errNoSlot)
	} else {
		done(nil)
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{br, resp.Body}
	return resp, nil
}

func newHandWritten(base http.RoundTripper) http.RoundTripper {
	return &handWritten{
		base: base,
		lim:  rate.NewLimiter(1e9, 1<<20),
		sem:  semaphore.NewWeighted(8),
		cb:   gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{}),
	}
}

func BenchmarkSubmit(b *testing.B) {
	mem := memRT{acceptHandler}
	srv := httptest.NewServer(acceptHandler)
	defer srv.Close()
	loop := srv.Client().Transport.(*http.Transport)
	loop.MaxIdleConnsPerHost = 64

	chain := func(base http.RoundTripper) http.RoundTripper {
		tr, err := New(base, benchConfig)
		if err != nil {
			b.Fatal(err)
		}
		return tr
	}
	for _, net := range []struct {
		name string
		url  string
		base http.RoundTripper
	}{
		{"mem", "http://provider.test/in.php", mem},
		{"loopback", srv.URL + "/in.php", loop},
	} {
		for _, rt := range []struct {
			name string
			rt   http.RoundTripper
		}{
			{"bare", net.base},
			{"slotguard", chain(net.base)},
			{"handwritten", newHandWritten(net.base)},
		} {
			b.Run(net.name+"/"+rt.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					submitOnce(b, rt.rt, net.url)
				}
			})
			b.Run(net.name+"/"+rt.name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						submitOnce(b, rt.rt, net.url)
					}
				})
			})
		}
	}
}

const benchForm = "key=0123456789abcdef0123456789abcdef&method=userrecaptcha&googlekey=6Le-x&pageurl=https%3A%2F%2Fexample.com%2F"

func submitOnce(b *testing.B, rt http.RoundTripper, url string) {
	req, err := http.NewRequest("POST", url, strings.NewReader(benchForm))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// BenchmarkParseAnswer is the classifier alone, per format.
func BenchmarkParseAnswer(b *testing.B) {
	for _, tt := range []struct{ name, body string }{
		{"text", "OK|74319520867"},
		{"json", `{"status":1,"request":"74319520867"}`},
		{"createTask", `{"errorId":0,"taskId":74319520867}`},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			body := []byte(tt.body)
			for b.Loop() {
				if _, ok := parseAnswer(body); !ok {
					b.Fatal("not parsed")
				}
			}
		})
	}
}

// BenchmarkJSONAnswer compares the flat lexer (flatjson.go) with
// encoding/json on the answers it reads, to justify keeping it.
func BenchmarkJSONAnswer(b *testing.B) {
	for _, body := range []string{
		`{"status":1,"request":"74319520867"}`,
		`{"status":0,"request":"ERROR_NO_SLOT_AVAILABLE"}`,
		`{"errorId":0,"taskId":74319520867}`,
	} {
		bb := []byte(body)
		b.Run("flat/"+body[2:8], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := scanFlat(bb); !ok {
					b.Fatal("not read")
				}
			}
		})
		b.Run("struct/"+body[2:8], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var v struct{ Status, Request, ErrorID, ErrorCode, TaskID json.RawMessage }
				if err := json.Unmarshal(bb, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("generic/"+body[2:8], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := scanStd(bb); !ok {
					b.Fatal("not read")
				}
			}
		})
	}
}

// BenchmarkSubmitThreads is one task's life with thread permits on, the
// permit taken, kept as the task's lease and given back by TaskDone, beside
// the same submit without permits and the bare transport, in memory.
func BenchmarkSubmitThreads(b *testing.B) {
	var n atomic.Int64
	ids := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "OK|"+strconv.FormatInt(n.Add(1), 10))
	})
	threadsCfg := benchConfig
	threadsCfg.Threads = Threads{Enabled: true, Plan: 1 << 20}
	for _, rt := range []struct {
		name string
		cfg  *Config
	}{{"bare", nil}, {"slotguard", &benchConfig}, {"threads", &threadsCfg}} {
		var tr http.RoundTripper = memRT{ids}
		var sg *Transport
		if rt.cfg != nil {
			sg = mustNew(b, memRT{ids}, *rt.cfg)
			tr = sg
		}
		b.Run(rt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest("POST", "http://provider.test/in.php", strings.NewReader(benchForm))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := tr.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if sg != nil && sg.threads != nil && !sg.TaskDone(strings.TrimPrefix(string(body), "OK|")) {
					b.Fatal("TaskDone found no permit")
				}
			}
		})
	}
}
