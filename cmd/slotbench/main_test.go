package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestRunBadFlags(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "out.json")
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"negative workers", []string{"-workers", "-3"}, "-workers -3: must be at least 1"},
		{"zero slots", []string{"-slots", "0"}, "-slots 0: must be at least 1"},
		{"unknown policy", []string{"-policies", "guide,yolo"}, `unknown policy "yolo"`},
		{"empty policy", []string{"-policies", "guide,"}, "empty policy name"},
		{"policy twice", []string{"-policies", "guide,guide"}, `"guide" twice`},
		{"speed 0", []string{"-speed", "0"}, "-speed 0: must be a number of at least 1"},
		{"speed below 1", []string{"-speed", "0.5"}, "-speed 0.5"},
		{"speed NaN", []string{"-speed", "NaN"}, "-speed NaN"},
		{"solve max below min", []string{"-solve-min", "20s", "-solve-max", "10s"}, "-solve-max 10s: must be at least -solve-min (20s)"},
		{"negative solve", []string{"-solve-min", "-1s"}, "-solve-min -1s"},
		{"short duration", []string{"-duration", "0s"}, "-duration 0s"},
		{"hour 24", []string{"-hour", "24"}, "-hour 24: must be a UTC hour 0-23"},
		{"poll 0", []string{"-poll", "0s"}, "-poll 0s: must be positive"},
		{"negative pause", []string{"-pause", "-1s"}, "-pause -1s"},
		{"both to stdout", []string{"-json", "-", "-csv", "-"}, "only one of them can go to stdout"},
		{"plot to stdout", []string{"-plot", "-"}, "-plot -: needs a file name"},
		{"missing dir", []string{"-json", missing}, "does not exist"},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
		{"not a number", []string{"-workers", "many"}, `invalid value "many" for flag -workers`},
		{"unknown flag", []string{"-fast"}, "flag provided but not defined: -fast"},
		{"collapse to all slots", []string{"-slots", "20", "-collapse", "20"}, "-collapse 20: must be from 0 to -slots - 1 (19)"},
		{"collapse -2", []string{"-collapse", "-2"}, "-collapse -2"},
		{"fleet 0", []string{"-fleet", "0"}, "-fleet 0: must be at least 1"},
		{"fleet above workers", []string{"-fleet", "6", "-workers", "5"}, "-fleet 6: more processes than -workers (5)"},
		{"shared without redis", []string{"-policies", "slotguard,slotguard-shared"}, "slotguard-shared shares its state through Redis: give -redis host:port"},
		{"bypass unknown", []string{"-bypass", "pingback"}, `-bypass "pingback": must be taskdone, ceiling or ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2", tt.args, code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("run(%q) stdout = %q, want nothing", tt.args, stdout.String())
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("run(-h) = %d, want 0", code)
	}
	for _, p := range policies {
		if !strings.Contains(stderr.String(), p.name) {
			t.Errorf("run(-h) usage does not list policy %q", p.name)
		}
	}
}

func TestParseFlagsDefaults(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parseFlags(nil) error %v", err)
	}
	if o.w != defaultWorkload() {
		t.Errorf("parseFlags(nil) workload = %+v, want %+v", o.w, defaultWorkload())
	}
	var names []string
	for _, p := range o.policies {
		names = append(names, p.name)
	}
	if want := policyNames(false); !slices.Equal(names, want) || slices.Contains(names, "slotguard-shared") {
		t.Errorf("parseFlags(nil) runs %q, want every policy that needs no Redis, %q", names, want)
	}
	o, err = parseFlags([]string{"-redis", "127.0.0.1:6379", "-fleet", "8"}, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parseFlags -redis -fleet error %v", err)
	}
	if len(o.policies) != len(policies) || o.w.Fleet != 8 || o.w.Redis != "127.0.0.1:6379" {
		t.Errorf("parseFlags -redis -fleet 8: %d policies (want all %d), fleet %d, redis %q",
			len(o.policies), len(policies), o.w.Fleet, o.w.Redis)
	}
	o, err = parseFlags([]string{"-policies", " slotguard , guide", "-hour", "13", "-bans=false"}, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parseFlags error %v", err)
	}
	if got := []string{o.policies[0].name, o.policies[1].name}; got[0] != "slotguard" || got[1] != "guide" {
		t.Errorf("parseFlags -policies = %q, want [slotguard guide]", got)
	}
	if o.w.Hour != 13 || o.w.Bans {
		t.Errorf("parseFlags -hour 13 -bans=false: Hour %d Bans %v", o.w.Hour, o.w.Bans)
	}
}

// TestDefaultWorkloadOrdering runs the default workload (20 slots, 50
// workers, 10-30 s, 10 minutes, bans on) at speed 1 in a synctest bubble,
// where the 10 minutes pass in virtual time, and checks the ordering a user
// relies on: naive gets the key banned; slotguard's defaults start no ban
// and keep the slots at least as busy as the guide's loop.
func TestDefaultWorkloadOrdering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := defaultWorkload()
		w.Speed = 1
		var ps []policy
		for _, name := range []string{"naive", "guide", "slotguard"} {
			p, _ := lookupPolicy(name)
			ps = append(ps, p)
		}
		results, err := runAll(context.Background(), w, ps, nil)
		if err != nil {
			t.Fatalf("runAll: %v", err)
		}
		naive, guide, sg := results[0], results[1], results[2]
		for _, r := range results {
			t.Logf("%-10s %5.1f/min util %5.1f%% attempts/task %6.2f peak NO_SLOT/min %3d bans %v lost %d",
				r.Policy, r.AcceptedPerMin, 100*r.Utilization, r.AttemptsPerAcc, r.PeakNoSlot, r.BansBy, r.Lost)
		}
		if naive.BansBy["ERROR: 1001"] == 0 {
			t.Errorf("naive: bans %v, want ERROR: 1001", naive.BansBy)
		}
		if sg.Bans != 0 {
			t.Errorf("slotguard: bans %v, want none", sg.BansBy)
		}
		if sg.PeakNoSlot >= banLine {
			t.Errorf("slotguard: peak NO_SLOT/min %d, want under %d", sg.PeakNoSlot, banLine)
		}
		if sg.Utilization < guide.Utilization {
			t.Errorf("slotguard utilisation %.3f, want at least guide's %.3f", sg.Utilization, guide.Utilization)
		}
		if v := verdict(results); !strings.HasPrefix(v, "winner: slotguard,") {
			t.Errorf("verdict = %q, want slotguard to win", v)
		}
	})
}

// TestRunOutputs runs the command end to end on a short workload in a
// bubble, with every output, and checks the table and the files.
func TestRunOutputs(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "out.json")
	csvPath := filepath.Join(dir, "out.csv")
	plotPath := filepath.Join(dir, "out.png")
	synctest.Test(t, func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		args := []string{"-speed", "1", "-duration", "2m", "-slots", "5", "-workers", "12",
			"-policies", "guide-batch,slotguard-jitter", "-json", jsonPath, "-csv", csvPath, "-plot", plotPath}
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, stderr %q", args, code, stderr.String())
		}
		out := stdout.String()
		for _, want := range []string{"5 slots, 12 workers", "guide-batch", "slotguard-jitter", "winner: "} {
			if !strings.Contains(out, want) {
				t.Errorf("table does not contain %q:\n%s", want, out)
			}
		}
	})
	var rep struct {
		Workload map[string]any `json:"workload"`
		Results  []result       `json:"results"`
		Verdict  string         `json:"verdict"`
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("json: %v", err)
	}
	if len(rep.Results) != 2 || rep.Results[0].Policy != "guide-batch" || rep.Workload["duration"] != "2m0s" {
		t.Errorf("json: workload %v, %d results", rep.Workload, len(rep.Results))
	}
	if rep.Results[1].Accepted == 0 {
		t.Errorf("json: slotguard-jitter accepted no task")
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "policy" {
		t.Errorf("csv: %d rows, err %v", len(rows), err)
	}
	png, err := os.ReadFile(plotPath)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("plot: not a PNG (err %v)", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestWriteFileKeepsOldOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := writeFile(path, func(w io.Writer) error {
		w.Write([]byte("half"))
		return errors.New("disk on fire")
	})
	if err == nil {
		t.Fatal("writeFile: no error, want the writer's")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("after a failed write the file holds %q, want %q", b, "old")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestPeakPerMinute(t *testing.T) {
	s := time.Second
	tests := []struct {
		at   []time.Duration
		want int
	}{
		{nil, 0},
		{[]time.Duration{0}, 1},
		{[]time.Duration{0, 30 * s, 59 * s, 60 * s}, 3}, // 0 has left the window at 60 s
		{[]time.Duration{0, 1 * s, 2 * s, 61 * s, 62 * s, 63 * s, 64 * s}, 4},
	}
	for _, tt := range tests {
		if got := peakPerMinute(tt.at); got != tt.want {
			t.Errorf("peakPerMinute(%v) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Second)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Second}, {0.95, 95 * time.Second}, {0.99, 99 * time.Second}, {1, 100 * time.Second}} {
		if got := quantile(d, tt.q); got != tt.want {
			t.Errorf("quantile(1..100 s, %v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(nil) = %v, want 0", got)
	}
}

func TestVerdict(t *testing.T) {
	rs := []result{
		{Policy: "naive", Baseline: true, AcceptedPerMin: 3, Bans: 1, BansBy: map[string]int{"ERROR: 1001": 1}},
		{Policy: "batch", Baseline: true, AcceptedPerMin: 50, AttemptsPerAcc: 1.1},
		{Policy: "sg", AcceptedPerMin: 60, AttemptsPerAcc: 2},
		{Policy: "sg2", AcceptedPerMin: 59.9, AttemptsPerAcc: 1.5}, // ties sg on goodput, fewer attempts
	}
	got := verdict(rs)
	for _, want := range []string{"winner: sg2,", "vs the best ban-free policy without slotguard, batch", "+19.8% goodput, +36% attempts/task", "banned: naive"} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict = %q, want it to contain %q", got, want)
		}
	}
	twins := []result{{Policy: "first", AcceptedPerMin: 60, AttemptsPerAcc: 2}, {Policy: "second", AcceptedPerMin: 60.1, AttemptsPerAcc: 1.99}}
	if got := verdict(twins); !strings.HasPrefix(got, "tied: first, second (goodput and attempts/task within 2%") {
		t.Errorf("verdict(twins) = %q, want a tie of the first and the second, in table order", got)
	}
	all := []result{{Policy: "a", AcceptedPerMin: 1, Bans: 1}, {Policy: "b", AcceptedPerMin: 2, Bans: 2}}
	if got := verdict(all); !strings.Contains(got, "winner: b,") || !strings.Contains(got, "every policy started a ban") {
		t.Errorf("verdict(all banned) = %q", got)
	}
}

// TestLatencyFromWorkerCall checks that every policy measures time to
// acceptance alike: from the worker's call, its waits in the policy's
// queue included, to the accepted answer. Five workers start at once on
// an account with room for all: the loops without a queue accept each at
// once; guide-batch's lane (one task each 0.5 s) and slotguard's pacer (2
// attempts a second, burst 1; with thread permits, the permit first) take
// them 0.5 s apart. The run ends before a worker's first poll, so each
// accepts one task.
func TestLatencyFromWorkerCall(t *testing.T) {
	ms := time.Millisecond
	paced := []time.Duration{0, 500 * ms, 1000 * ms, 1500 * ms, 2000 * ms}
	at0 := []time.Duration{0, 0, 0, 0, 0}
	want := map[string][]time.Duration{
		"naive": at0, "guide": at0, "guide-batch": paced,
		"slotguard": paced, "slotguard-jitter": paced, "slotguard-adaptive": paced, "slotguard-threads": paced,
	}
	for _, name := range policyNames(false) {
		t.Run(name, func(t *testing.T) {
			wantLat, ok := want[name]
			if !ok {
				t.Fatalf("policy %s: no expected latencies; add them", name)
			}
			synctest.Test(t, func(t *testing.T) {
				w := defaultWorkload()
				w.Speed = 1
				w.Workers = 5
				w.Duration = 10 * time.Second
				results, err := runAll(context.Background(), w, mustPolicies(t, name), nil)
				if err != nil {
					t.Fatalf("runAll: %v", err)
				}
				if got := results[0].latency; !slices.Equal(got, wantLat) {
					t.Errorf("%s: times to acceptance = %v, want %v", name, got, wantLat)
				}
			})
		})
	}
}
