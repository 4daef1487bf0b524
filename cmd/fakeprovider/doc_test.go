package main

import (
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// The tests in this file hold the command doc (doc.go) to the code: the
// flags it lists with their defaults, and its sessions with curl and with
// Python requests, run as written against the command.

// docText returns doc.go's comment text, "// " and "//\t" taken off.
func docText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l, ok := strings.CutPrefix(l, "//"); ok {
			l, _ = strings.CutPrefix(l, " ")
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// section returns the doc's text from the line that starts with from up to
// the one that starts with to.
func section(t *testing.T, doc, from, to string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+from)
	j := strings.Index(doc[i+1:], "\n"+to)
	if i < 0 || j < 0 {
		t.Fatalf("doc.go has no section from %q to %q", from, to)
	}
	return doc[i+1 : i+1+j]
}

func TestDocFlags(t *testing.T) {
	doc := section(t, docText(t), "# Flags", "# A session")
	newFlagSet(&flagValues{}).VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		switch {
		case f.Name == "fault":
			def = "none"
		case def == "":
			def = `""`
		}
		if !regexp.MustCompile(`\n\t-` + regexp.QuoteMeta(f.Name) + ` ` + regexp.QuoteMeta(def) + `(\s|$)`).MatchString(doc) {
			t.Errorf("doc.go's flags have no line -%s %s", f.Name, def)
		}
	})
}

// TestDocCurlSession runs the doc's session: the command with the doc's
// flags, then each curl line in a shell, each answer as the doc gives it,
// then the accounting printed on stop.
func TestDocCurlSession(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	t.Parallel()
	doc := section(t, docText(t), "# A session", "The same task with Python")
	var steps []struct{ cmd, want string }
	inStep := false // a step's answer runs to the end of its indented block
	for _, l := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(l, "\t$ "):
			steps = append(steps, struct{ cmd, want string }{cmd: l[3:]})
			inStep = true
		case strings.HasPrefix(l, "\t") && inStep:
			steps[len(steps)-1].want += l[1:] + "\n"
		default:
			inStep = false
		}
	}
	if len(steps) < 5 {
		t.Fatalf("doc.go's session has %d commands, want the command and the curl lines", len(steps))
	}
	args, ok := strings.CutPrefix(steps[0].cmd, "fakeprovider ")
	if !ok {
		t.Fatalf("doc.go's session starts with %q, want fakeprovider", steps[0].cmd)
	}
	c := start(t, strings.Fields(args)...)
	// The start lines and the accounting, but for the address and the times.
	want := strings.ReplaceAll(steps[0].want, "http://127.0.0.1:8098", c.base)
	if got := c.stdout.String(); got != want {
		t.Errorf("start lines:\n%s\nwant, as in doc.go:\n%s", got, want)
	}

	// One shell for all the curl lines, so that K and B carry over; a
	// marker after each splits the answers apart.
	var script strings.Builder
	for _, s := range steps[1:] {
		cmd := strings.ReplaceAll(s.cmd, "http://127.0.0.1:8098", c.base)
		script.WriteString(strings.ReplaceAll(cmd, "curl ", "curl -sS ") + "; echo; echo @@\n")
	}
	out, err := exec.Command("bash", "-c", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("the curl session: %v\n%s", err, out)
	}
	answers := strings.Split(string(out), "@@\n")
	for i, s := range steps[1:] {
		want := strings.TrimSpace(s.want)
		if got := strings.TrimSpace(answers[i]); got != want {
			t.Errorf("$ %s\n%s\nwant, as in doc.go:\n%s", s.cmd, got, want)
		}
	}

	c.stop(t)
	acct := section(t, doc, "Ctrl-C then prints:", `"rejected" counts`)
	times := regexp.MustCompile(`\d+\.\d+s|\d+\.\d+%`)
	got := times.ReplaceAllString(c.stdout.String(), "T")
	for _, l := range strings.Split(strings.TrimSpace(acct), "\n")[1:] {
		l = times.ReplaceAllString(strings.TrimPrefix(l, "\t"), "T")
		if l != "" && !strings.Contains(got, l+"\n") {
			t.Errorf("the accounting has no line %q, as in doc.go:\n%s", l, got)
		}
	}
}

// TestDocPythonSession runs the doc's Python lines against the command
// started as the doc's session starts it, and checks what they print
// against the comments of their print lines.
func TestDocPythonSession(t *testing.T) {
	if exec.Command("python3", "-c", "import requests").Run() != nil {
		t.Skip("no python3 with requests")
	}
	t.Parallel()
	doc := docText(t)
	session := section(t, doc, "# A session", "With curl")
	args := strings.Fields(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(session), "# A session\n\n\t$ fakeprovider"), "\n", 2)[0])
	c := start(t, args...)

	var prog, want strings.Builder
	for _, l := range strings.Split(section(t, doc, "\timport time, requests", "# /stats"), "\n") {
		if !strings.HasPrefix(l, "\t") {
			continue
		}
		l = strings.ReplaceAll(l[1:], "http://127.0.0.1:8098", c.base)
		prog.WriteString(l + "\n")
		if strings.HasPrefix(l, "print(") {
			_, out, _ := strings.Cut(l, "  # ")
			want.WriteString(out + "\n")
		}
	}
	out, err := exec.Command("python3", "-c", prog.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s\nthe program:\n%s", err, out, prog.String())
	}
	if string(out) != want.String() {
		t.Errorf("python3 printed:\n%s\nwant, as in doc.go:\n%s", out, want.String())
	}
}
