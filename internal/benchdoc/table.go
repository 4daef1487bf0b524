package main

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// baselines are the names a baseline sub-benchmark goes by.
var baselines = []string{"bare", "direct", "local"}

// sample is one benchmark's figures by unit, one value per run.
type sample struct {
	name  string
	units map[string][]float64
}

// parseBench reads `go test -bench` output: its benchmark lines, in order
// of first appearance, with the GOMAXPROCS suffix dropped. The package is
// kept in the name when the output holds more than one.
func parseBench(out string) ([]*sample, error) {
	var (
		order []*sample
		byKey = map[string]*sample{}
		pkgs  []string
		pkg   string
	)
	// pending is a benchmark whose name was printed without its figures:
	// a test's log line (a client library's, on stderr) came between them,
	// and the figures follow on a line of their own.
	pending := ""
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
			continue
		}
		f := strings.Fields(line)
		var name string
		switch {
		case len(f) > 0 && strings.HasPrefix(f[0], "Benchmark"):
			name, f = benchName(f[0]), f[1:]
			if _, ok := figures(f); !ok {
				pending = name
				continue
			}
		case pending != "":
			name = pending
		default:
			continue
		}
		units, ok := figures(f)
		if !ok {
			continue // a log line, while a name waits for its figures
		}
		pending = ""
		key := pkg + "\x00" + name
		s := byKey[key]
		if s == nil {
			s = &sample{name: key, units: map[string][]float64{}}
			byKey[key] = s
			order = append(order, s)
		}
		for u, v := range units {
			s.units[u] = append(s.units[u], v)
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no benchmark lines in the output")
	}
	for _, s := range order {
		p, n, _ := strings.Cut(s.name, "\x00")
		s.name = n
		if len(pkgs) > 1 {
			s.name = p[strings.LastIndex(p, "/")+1:] + "." + n
		}
	}
	return order, nil
}

// benchName is a benchmark's name without "Benchmark" and the GOMAXPROCS
// suffix.
func benchName(field string) string {
	name := strings.TrimPrefix(field, "Benchmark")
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	return name
}

// figures reads a result's fields after its name: the iterations, then
// value and unit pairs.
func figures(f []string) (map[string]float64, bool) {
	if len(f) < 3 || len(f)%2 == 0 {
		return nil, false
	}
	if _, err := strconv.ParseInt(f[0], 10, 64); err != nil {
		return nil, false
	}
	units := make(map[string]float64, len(f)/2)
	for i := 1; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, false
		}
		units[f[i+1]] = v
	}
	return units, true
}

// benchTable renders `go test -bench` output as a Markdown table.
func benchTable(out string) (string, error) {
	samples, err := parseBench(out)
	if err != nil {
		return "", err
	}
	byName := make(map[string]*sample, len(samples))
	var extra []string
	for _, s := range samples {
		byName[s.name] = s
		for u := range s.units {
			if u != "ns/op" && u != "B/op" && u != "allocs/op" && !slices.Contains(extra, u) {
				extra = append(extra, u)
			}
		}
	}
	sort.Strings(extra)
	var b strings.Builder
	b.WriteString("| benchmark | time/op (median) | range | vs baseline | B/op | allocs/op |")
	for _, u := range extra {
		b.WriteString(" " + u + " |")
	}
	b.WriteString("\n| --- | --- | --- | --- | --- | --- |" + strings.Repeat(" --- |", len(extra)) + "\n")
	for _, s := range samples {
		ns := s.units["ns/op"]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |", s.name, duration(median(ns)), spread(ns),
			ratio(s, byName), count(s.units["B/op"]), count(s.units["allocs/op"]))
		for _, u := range extra {
			b.WriteString(" " + count(s.units[u]) + " |")
		}
		b.WriteString("\n")
	}
	if n := len(samples[0].units["ns/op"]); n > 0 {
		fmt.Fprintf(&b, "\n%d run(s) of each; range: the fastest and the slowest.\n", n)
	}
	return b.String(), nil
}

// ratio is s's median time over its baseline's: the benchmark whose name
// has bare, direct or local in place of one of s's name elements.
func ratio(s *sample, byName map[string]*sample) string {
	parts := strings.Split(s.name, "/")
	for i := range parts {
		for _, base := range baselines {
			if parts[i] == base {
				return "baseline"
			}
			q := slices.Clone(parts)
			q[i] = base
			if b, ok := byName[strings.Join(q, "/")]; ok {
				bm := median(b.units["ns/op"])
				if bm == 0 {
					return ""
				}
				return strconv.FormatFloat(median(s.units["ns/op"])/bm, 'f', 2, 64) + "x"
			}
		}
	}
	return ""
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(ns []float64) string {
	if len(ns) < 2 {
		return ""
	}
	return duration(slices.Min(ns)) + " – " + duration(slices.Max(ns))
}

// duration formats nanoseconds with three significant figures.
func duration(ns float64) string {
	switch {
	case ns == 0:
		return ""
	case ns < 1e3:
		return sig(ns) + " ns"
	case ns < 1e6:
		return sig(ns/1e3) + " µs"
	case ns < 1e9:
		return sig(ns/1e6) + " ms"
	}
	return sig(ns/1e9) + " s"
}

func sig(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// count is a median of whole figures (bytes, allocations): an integer when
// it is one.
func count(v []float64) string {
	if len(v) == 0 {
		return ""
	}
	m := median(v)
	if m == float64(int64(m)) {
		return strconv.FormatInt(int64(m), 10)
	}
	return strconv.FormatFloat(m, 'f', 1, 64)
}
