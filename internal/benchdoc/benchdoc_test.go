package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const benchOut = `goos: linux
goarch: amd64
pkg: github.com/slotguard/slotguard
cpu: test
BenchmarkSubmit/mem/bare-2         	  500000	      2000 ns/op	    2680 B/op	      22 allocs/op
BenchmarkSubmit/mem/bare-2         	  500000	      2400 ns/op	    2680 B/op	      22 allocs/op
BenchmarkSubmit/mem/bare-2         	  500000	      2200 ns/op	    2680 B/op	      22 allocs/op
BenchmarkSubmit/mem/slotguard-2    	  300000	      3300 ns/op	    3900 B/op	      30 allocs/op
BenchmarkSubmit/mem/slotguard-2    	  300000	      3500 ns/op	    3900 B/op	      30 allocs/op
BenchmarkSubmit/mem/slotguard-2    	  300000	      3400 ns/op	    3900 B/op	      30 allocs/op
BenchmarkLongRun/1M-2              	       1	 900000000 ns/op	    300000 heap-B
PASS
ok  	github.com/slotguard/slotguard	12.3s
`

func TestBenchTable(t *testing.T) {
	got, err := benchTable(benchOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| Submit/mem/bare | 2.20 µs | 2.00 µs – 2.40 µs | baseline | 2680 | 22 |  |",
		"| Submit/mem/slotguard | 3.40 µs | 3.30 µs – 3.50 µs | 1.55x | 3900 | 30 |  |",
		"| LongRun/1M | 900 ms |  |  |  |  | 300000 |",
		"3 run(s) of each",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("benchTable output lacks %q:\n%s", want, got)
		}
	}
	if _, err := benchTable("PASS\n"); err == nil {
		t.Error("benchTable of output without benchmarks: no error")
	}
}

func TestBenchTablePackages(t *testing.T) {
	out := "pkg: example.com/a\nBenchmarkX/local-2 1 100 ns/op\npkg: example.com/b\nBenchmarkX/local-2 1 300 ns/op\nBenchmarkX/redis-2 1 600 ns/op\n"
	got, err := benchTable(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| a.X/local | 100 ns", "| b.X/local | 300 ns", "| b.X/redis | 600 ns |  | 2.00x |"} {
		if !strings.Contains(got, want) {
			t.Errorf("benchTable output lacks %q:\n%s", want, got)
		}
	}
}

// TestBenchTableLogLines: a test's log lines between a benchmark's name and
// its figures (go-redis's, when Redis is down) neither fail the table nor
// lose the result.
func TestBenchTableLogLines(t *testing.T) {
	out := "BenchmarkDown/local-2 \t 200\t 15558 ns/op\t 3256 B/op\n" +
		"BenchmarkDown/redis-down-2  \tredis: 2026/12/02 17:26:56 pool.go:762: redis: failed to dial after 5 attempts\n" +
		"redis: 2026/12/02 17:26:57 pool.go:762: redis: failed to dial after 5 attempts\n" +
		"     200\t   5013401 ns/op\t    4253 B/op\n"
	got, err := benchTable(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "| Down/redis-down | 5.01 ms |  | 322.24x | 4253 |"; !strings.Contains(got, want) {
		t.Errorf("benchTable output lacks %q:\n%s", want, got)
	}
}

func TestRegenerate(t *testing.T) {
	doc := "# T\n\nprose 1\n<!-- run: echo a -->\nold a\n<!-- end -->\nprose 2\n<!-- run: echo b -->\n<!-- end -->\ntail\n"
	ran := []string{}
	out, bodies, err := regenerate([]byte(doc), func(cmd string) (string, error) {
		ran = append(ran, cmd)
		if cmd == "echo b" {
			return "", errSkip
		}
		return "new a\n", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\nprose 1\n<!-- run: echo a -->\nnew a\n<!-- end -->\nprose 2\n<!-- run: echo b -->\n<!-- end -->\ntail\n"
	if string(out) != want {
		t.Errorf("regenerate:\n%s\nwant\n%s", out, want)
	}
	if len(ran) != 2 || bodies["echo a"] != "new a\n" || bodies["echo b"] != "" {
		t.Errorf("ran %q, bodies %q", ran, bodies)
	}
	rd, err := copyBlocks([]byte("intro\n<!-- copy: echo a -->\nstale\n<!-- end -->\n"), bodies)
	if err != nil || string(rd) != "intro\n<!-- copy: echo a -->\nnew a\n<!-- end -->\n" {
		t.Errorf("copyBlocks = %q, %v", rd, err)
	}
	if _, err := copyBlocks([]byte("<!-- copy: echo c -->\n<!-- end -->\n"), bodies); err == nil || !strings.Contains(err.Error(), "echo c") {
		t.Errorf("copy of an unknown command: err = %v, want one naming it", err)
	}
	for _, bad := range []string{"<!-- run: x -->\nno end\n", "<!-- run: x\n", "<!-- run:  -->\n<!-- end -->"} {
		if _, _, err := regenerate([]byte(bad), func(string) (string, error) { return "", nil }); err == nil {
			t.Errorf("regenerate(%q): no error", bad)
		}
	}
}

// TestRun regenerates real files end to end, and writes nothing when a
// command fails.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	bench := filepath.Join(dir, "B.md")
	readme := filepath.Join(dir, "R.md")
	os.WriteFile(bench, []byte("<!-- run: printf 'x  y\\n' -->\n<!-- end -->\n"), 0o644)
	os.WriteFile(readme, []byte("r\n<!-- copy: printf 'x  y\\n' -->\n<!-- end -->\n"), 0o644)
	if err := run([]string{"-bench", bench, "-readme", readme}, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bench)
	r, _ := os.ReadFile(readme)
	if want := "```text\nx  y\n```\n"; !strings.Contains(string(b), want) || !strings.Contains(string(r), want) {
		t.Errorf("after run:\n%s\n%s\nwant both to hold %q", b, r, want)
	}
	before := "<!-- run: echo ok -->\n<!-- end -->\n<!-- run: false -->\n<!-- end -->\n"
	os.WriteFile(bench, []byte(before), 0o644)
	if err := run([]string{"-bench", bench, "-readme", ""}, io.Discard); err == nil {
		t.Error("run with a failing command: no error")
	}
	if b, _ := os.ReadFile(bench); string(b) != before {
		t.Errorf("a failed run wrote the file:\n%s", b)
	}
}
