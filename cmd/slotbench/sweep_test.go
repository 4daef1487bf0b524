package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotguard/slotguard"
)

// TestSweepThreads runs -sweep -policies slotguard-threads on a short
// default workload in virtual time and reads its table: at least 5
// settings, a frontier, a recommended setting from the table, and a
// slotguard.Config literal that parses as Go and carries that setting.
func TestSweepThreads(t *testing.T) {
	plotPath := filepath.Join(t.TempDir(), "sweep.png")
	var out string
	synctest.Test(t, func(t *testing.T) {
		args := []string{"-sweep", "-policies", "slotguard-threads", "-speed", "1", "-duration", "3m", "-plot", plotPath}
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, stderr %q", args, code, stderr.String())
		}
		out = stdout.String()
	})
	t.Logf("\n%s", out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var settings, frontier int
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "Overbook" {
			settings++
			if f[2] == "*" {
				frontier++
			}
		}
	}
	if settings < 5 || frontier == 0 {
		t.Errorf("%d settings, %d on the frontier; want at least 5, and a frontier", settings, frontier)
	}
	rec, ok := strings.CutPrefix(lines[len(lines)-2], "recommended: ")
	if !ok || !strings.Contains(out, "\n  "+rec+" ") {
		t.Fatalf("no recommended setting from the table: %q", lines[len(lines)-2])
	}
	fields := configFields(t, strings.TrimSpace(lines[len(lines)-1]))
	if want := strings.TrimPrefix(rec, "Overbook "); want != "measured" && fields["Threads.Overbook"] != want || fields["Threads.Enabled"] != "true" {
		t.Errorf("recommended %q, Config fields %v", rec, fields)
	}
	if png, err := os.ReadFile(plotPath); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("plot: not a PNG (err %v)", err)
	}
}

// configFields parses src as a slotguard.Config composite literal and
// returns its fields' values as written, nested ones as Outer.Inner.
func configFields(t *testing.T, src string) map[string]string {
	t.Helper()
	e, err := parser.ParseExpr(src)
	if err != nil {
		t.Fatalf("Config literal %q does not parse: %v", src, err)
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok || typeName(lit.Type) != "slotguard.Config" {
		t.Fatalf("%q is not a slotguard.Config literal", src)
	}
	fields := map[string]string{}
	var walk func(prefix string, lit *ast.CompositeLit)
	walk = func(prefix string, lit *ast.CompositeLit) {
		for _, elt := range lit.Elts {
			kv, ok := elt.(*ast.KeyValueExpr)
			if !ok {
				t.Fatalf("%q: unkeyed field", src)
			}
			name := prefix + kv.Key.(*ast.Ident).Name
			switch v := kv.Value.(type) {
			case *ast.CompositeLit:
				if typeName(v.Type) != "slotguard."+kv.Key.(*ast.Ident).Name {
					t.Errorf("%q: field %s of type %s", src, name, typeName(v.Type))
				}
				walk(name+".", v)
			case *ast.BasicLit:
				fields[name] = v.Value
			case *ast.Ident:
				fields[name] = v.Name
			default:
				t.Errorf("%q: field %s is not a literal", src, name)
			}
		}
	}
	walk("", lit)
	return fields
}

func typeName(e ast.Expr) string {
	if s, ok := e.(*ast.SelectorExpr); ok {
		if x, ok := s.X.(*ast.Ident); ok {
			return x.Name + "." + s.Sel.Name
		}
	}
	return ""
}

// TestSweepLiterals checks every setting of every sweep: its literal
// parses as a slotguard.Config and says what its Config runs.
func TestSweepLiterals(t *testing.T) {
	for _, name := range strings.Split(sweepable, ", ") {
		spec, ok := sweepFor(name)
		if !ok || len(spec.settings) < 5 {
			t.Fatalf("%s: %d settings, want at least 5", name, len(spec.settings))
		}
		for _, s := range spec.settings {
			got := configFields(t, s.literal)
			want := map[string]string{}
			num := func(k string, f float64) {
				if f != 0 {
					want[k] = fmtFloat(f)
				}
			}
			num("Rate", s.cfg.Rate)
			if a := s.cfg.Adaptive; a.Enabled {
				want["Adaptive.Enabled"] = "true"
				num("Adaptive.Decrease", a.Decrease)
				num("Adaptive.Increase", a.Increase)
			}
			if th := s.cfg.Threads; th.Enabled {
				want["Threads.Enabled"] = "true"
				num("Threads.Overbook", float64(th.Overbook))
			}
			if len(got) != len(want) {
				t.Errorf("%s %s: literal %v, Config %v", name, s.label, got, want)
			}
			for k, v := range want {
				if g, err := strconv.ParseFloat(got[k], 64); got[k] != v && (err != nil || fmtFloat(g) != v) {
					t.Errorf("%s %s: literal %s = %q, Config %s", name, s.label, k, got[k], v)
				}
			}
		}
	}
}

// TestFrontierAndRule checks the frontier and the recommendation on made-up
// rows: a dominated setting is off the frontier, a banned one is never
// recommended, and of the frugal ones the best utilisation wins.
func TestFrontierAndRule(t *testing.T) {
	row := func(name string, util, attempts, p99 float64, bans int) sweepRow {
		return sweepRow{Setting: name, Result: result{Utilization: util, AttemptsPerAcc: attempts, P99: p99, Bans: bans}}
	}
	rows := []sweepRow{
		row("greedy", 0.97, 2.0, 80, 0),
		row("frugal", 0.95, 1.4, 40, 0),
		row("dominated", 0.94, 1.45, 45, 0), // worse than frugal on every count
		row("banned", 0.98, 1.3, 30, 1),
		row("stingy", 0.80, 1.1, 200, 0),
	}
	markFrontier(rows)
	for _, r := range rows {
		if want := r.Setting != "dominated"; r.Frontier != want {
			t.Errorf("%s: frontier %v, want %v", r.Setting, r.Frontier, want)
		}
	}
	if rec := recommend(rows, false); rec.row == nil || rec.row.Setting != "frugal" {
		t.Errorf("recommended %+v, want frugal (rule: %s)", rec.row, rec.rule)
	}
	// Within a point of utilisation, fewer attempts per task win.
	rows = append(rows, row("close", 0.945, 1.2, 60, 0))
	markFrontier(rows)
	if rec := recommend(rows, false); rec.row == nil || rec.row.Setting != "close" {
		t.Errorf("recommended %+v, want close (rule: %s)", rec.row, rec.rule)
	}
	// None frugal: the fewest attempts; all banned: none.
	rows = []sweepRow{row("a", 0.97, 2.0, 80, 0), row("b", 0.9, 1.8, 80, 0), row("c", 0.99, 1.6, 80, 2)}
	markFrontier(rows)
	if rec := recommend(rows, false); rec.row == nil || rec.row.Setting != "b" {
		t.Errorf("none frugal: recommended %+v, want b", rec.row)
	}
	rows = []sweepRow{row("a", 0.97, 1.2, 80, 1)}
	markFrontier(rows)
	if rec := recommend(rows, false); rec.row != nil || !strings.Contains(rec.rule, "none") {
		t.Errorf("all banned: recommended %+v, rule %q", rec.row, rec.rule)
	}
	// Under -arrivals the missed share is a count of the frontier, and the
	// rule's main figure: the busiest setting that misses more loses.
	open := func(name string, util, missed float64) sweepRow {
		r := row(name, util, 1.3, 40, 0)
		r.Result.ArrivalStats = &ArrivalStats{MissedShare: missed}
		return r
	}
	rows = []sweepRow{open("busy", 0.95, 0.10), open("timely", 0.92, 0.02), open("worse", 0.92, 0.03)}
	markFrontier(rows)
	if !rows[0].Frontier || !rows[1].Frontier || rows[2].Frontier {
		t.Errorf("open: frontier %v %v %v, want busy and timely only", rows[0].Frontier, rows[1].Frontier, rows[2].Frontier)
	}
	if rec := recommend(rows, true); rec.row == nil || rec.row.Setting != "timely" {
		t.Errorf("open: recommended %+v, want timely (rule: %s)", rec.row, rec.rule)
	}
}

// TestSweepJSON checks -sweep -json -: the settings, the frontier marks,
// the rule and a recommended Config that parses.
func TestSweepJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		args := []string{"-sweep", "-policies", "slotguard", "-speed", "1", "-duration", "2m", "-json", "-"}
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, stderr %q", args, code, stderr.String())
		}
		var doc struct {
			Policy   string `json:"policy"`
			Settings []struct {
				Setting  string         `json:"setting"`
				Frontier bool           `json:"frontier"`
				Result   map[string]any `json:"result"`
			} `json:"settings"`
			Rule, Recommended, Config string
		}
		if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
			t.Fatalf("json: %v\n%s", err, stdout.String())
		}
		if doc.Policy != "slotguard" || len(doc.Settings) < 5 || doc.Rule == "" || doc.Recommended == "" {
			t.Fatalf("json: policy %q, %d settings, rule %q, recommended %q", doc.Policy, len(doc.Settings), doc.Rule, doc.Recommended)
		}
		if _, ok := doc.Settings[0].Result["utilization"]; !ok {
			t.Errorf("json: a setting's result has no utilization")
		}
		configFields(t, doc.Config)
	})
}

// TestSweepArrivals checks a sweep under -arrivals: the missed share is a
// column, and the rule reads it.
func TestSweepArrivals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		args := []string{"-sweep", "-policies", "slotguard-adaptive", "-speed", "1", "-duration", "1m", "-arrivals", "1", "-deadline", "30s"}
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, stderr %q", args, code, stderr.String())
		}
		for _, want := range []string{"tasks arriving at 1/s", "missed share", "of the smallest missed share", "slotguard.Adaptive{Enabled: true"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("sweep table does not contain %q:\n%s", want, stdout.String())
			}
		}
	})
}

func TestSweepFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-sweep"}, "-sweep: give exactly one policy with -policies"},
		{[]string{"-sweep", "-policies", "slotguard,slotguard-threads"}, "-sweep: give exactly one policy"},
		{[]string{"-sweep", "-policies", "guide"}, "-sweep: policy guide has no setting to sweep"},
		{[]string{"-sweep", "-policies", "slotguard", "-csv", "out.csv"}, "-sweep: -csv is not written by a sweep"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) || stdout.Len() != 0 {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

// The sweeps' Configs must be valid: slotguard.New takes each.
func TestSweepConfigsValid(t *testing.T) {
	for _, name := range strings.Split(sweepable, ", ") {
		spec, _ := sweepFor(name)
		for _, s := range spec.settings {
			if _, err := slotguard.New(nil, s.cfg); err != nil {
				t.Errorf("%s %s: slotguard.New: %v", name, s.label, err)
			}
		}
	}
}

// TestSweepLateness: a sweep whose timers wake late warns as the main
// command does: in its table's footer, and with -json - in the JSON and on
// stderr, where no table says it.
func TestSweepLateness(t *testing.T) {
	w := defaultWorkload()
	w.Duration, w.Slots, w.Workers = time.Minute, 5, 12
	w.timerDelay = 2 * time.Millisecond // 300 ms of provider time at x150, past the 200 ms bar
	p, _ := lookupPolicy("slotguard-threads")
	for _, js := range []string{"", "-"} {
		var stdout, stderr bytes.Buffer
		synctest.Test(t, func(t *testing.T) {
			o := options{w: w, policies: []policy{p}, runs: 1, json: js, sweep: true}
			if code := sweepCommand(o, &stdout, &stderr); code != 0 {
				t.Fatalf("sweepCommand(-json %q) = %d, stderr %q", js, code, stderr.String())
			}
		})
		if js == "" {
			if !strings.Contains(stdout.String(), "warning: timers woke late") {
				t.Errorf("sweep table: no lateness warning:\n%s", stdout.String())
			}
			continue
		}
		var doc struct{ Warning string }
		if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
			t.Fatalf("json: %v", err)
		}
		if !strings.Contains(doc.Warning, "timers woke late") || !strings.Contains(stderr.String(), doc.Warning) {
			t.Errorf("sweep -json -: warning %q in the JSON, stderr %q; want it in both", doc.Warning, stderr.String())
		}
	}
}

// TestRecommendBannedInOneRun: a setting that started a ban in one run of
// three (its median, 0) is banned as the main command's verdict counts it:
// never recommended, and it keeps no setting that never started one off the
// frontier.
func TestRecommendBannedInOneRun(t *testing.T) {
	risky := sweepRow{Setting: "risky", Result: result{Runs: 3, Utilization: 0.97, AttemptsPerAcc: 1.3, P99: 40,
		Range: map[string]span{"bans": {Median: 0, Min: 0, Max: 1, Spread: 0.5}}}}
	safe := sweepRow{Setting: "safe", Result: result{Runs: 3, Utilization: 0.96, AttemptsPerAcc: 1.4, P99: 40,
		Range: map[string]span{"bans": {}}}}
	rows := []sweepRow{risky, safe}
	markFrontier(rows)
	if !rows[1].Frontier {
		t.Errorf("safe: off the frontier, dominated by a setting banned in one run")
	}
	if rec := recommend(rows, false); rec.row == nil || rec.row.Setting != "safe" {
		t.Errorf("recommended %+v, want safe: risky started a ban in one run (rule: %s)", rec.row, rec.rule)
	}
}

// TestSweepTableArrivalsSpread: the sweep's missed share (under
// -arrivals), NO_SLOT peak and tasks lost are medians of the runs like its
// other figures, with their spreads.
func TestSweepTableArrivalsSpread(t *testing.T) {
	var runs []result
	for _, s := range []float64{0.10, 0.12, 0.16} {
		runs = append(runs, result{Utilization: 0.9, Lost: int(100 * s), PeakNoSlot: int(200 * s), ArrivalStats: &ArrivalStats{MissedShare: s}})
	}
	w := defaultWorkload()
	w.Arrivals, w.Deadline = 1, time.Minute
	doc := sweepReport{Workload: w, Policy: "slotguard", Settings: []sweepRow{{Setting: "Rate 1", Result: aggregate(runs)}}}
	var out bytes.Buffer
	if err := writeSweepTable(&out, doc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"12.0% ±3.0", "24 ±6.0", "12 ±3.0"} { // missed share, peak NO_SLOT/min, lost
		if !strings.Contains(out.String(), want) {
			t.Errorf("sweep table does not contain %q:\n%s", want, out.String())
		}
	}
}
