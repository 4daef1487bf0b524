// Command benchdoc regenerates BENCHMARKS.md, and the tables README.md
// copies from it, by running the commands the documents name:
//
//	go run ./internal/benchdoc           # every block (about 15 minutes)
//	go run ./internal/benchdoc -only Submit
//
// A generated block sits between two markers that name its command:
//
//	<!-- run: go test -run '^$' -bench Submit -benchmem -count 6 . -->
//	...
//	<!-- end -->
//
// benchdoc runs the command with sh from the repository's root and puts its
// output between the markers: for `go test -bench`, a table of each
// benchmark's median time with its range, its ratio to the baseline run
// beside it (the sub-benchmark named bare, direct or local in the same
// place of the name) and its memory figures; for any other command, its
// standard output as it printed it. The prose around the blocks is left
// alone. README.md's blocks are marked `<!-- copy: COMMAND -->` and get the
// output of BENCHMARKS.md's block of the same command, without running it
// again. Nothing is written unless every command succeeds.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(1)
	}
}

func run(args []string, log io.Writer) error {
	fs := flag.NewFlagSet("benchdoc", flag.ContinueOnError)
	fs.SetOutput(log)
	only := fs.String("only", "", "regenerate only the blocks whose command matches this regexp")
	bench := fs.String("bench", "BENCHMARKS.md", "the document whose blocks are run")
	readme := fs.String("readme", "README.md", "the document whose blocks are copied (\"\": none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	re, err := regexp.Compile(*only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	src, err := os.ReadFile(*bench)
	if err != nil {
		return err
	}
	out, outputs, err := regenerate(src, func(cmd string) (string, error) {
		if !re.MatchString(cmd) {
			return "", errSkip
		}
		fmt.Fprintf(log, "benchdoc: %s\n", cmd)
		return runCommand(ctx, cmd)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", *bench, err)
	}
	var rd, rdOut []byte
	if *readme != "" {
		if rd, err = os.ReadFile(*readme); err != nil {
			return err
		}
		if rdOut, err = copyBlocks(rd, outputs); err != nil {
			return fmt.Errorf("%s: %w", *readme, err)
		}
	}
	if err := os.WriteFile(*bench, out, 0o644); err != nil {
		return err
	}
	if *readme != "" {
		return os.WriteFile(*readme, rdOut, 0o644)
	}
	return nil
}

// runCommand runs cmd with sh and renders what it printed.
func runCommand(ctx context.Context, cmd string) (string, error) {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", cmd, err, tail(stderr.String(), 20))
	}
	if isBench(cmd) {
		return benchTable(stdout.String())
	}
	return "```text\n" + strings.TrimRight(stdout.String(), "\n") + "\n```\n", nil
}

func isBench(cmd string) bool {
	return strings.Contains(cmd, "go test") && strings.Contains(cmd, "-bench")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var errSkip = errors.New("skipped")
