package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	redis.SetLogger(quietRedis{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: it returns the exit code (0 ok, 1 failure, 2 bad
// command line).
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		if msg := strings.TrimPrefix(err.Error(), errUsage.Error()); msg != "" {
			fmt.Fprintf(stderr, "slotbench%s\nRun 'slotbench -h' for the flags.\n", msg)
		}
		return 2
	}
	if o.w.Redis != "" {
		if err := checkRedis(context.Background(), o.w.Redis); err != nil {
			fmt.Fprintf(stderr, "slotbench: %v\n", err)
			return 1
		}
	}
	o.w.warn = stderr
	if o.sweep {
		return sweepCommand(o, stdout, stderr)
	}
	results, err := runRepeated(context.Background(), o.w, o.policies, o.runs, progressTo(stderr, o.w.Duration))
	if err != nil {
		fmt.Fprintf(stderr, "slotbench: %v\n", err)
		return 1
	}
	if o.json != "-" && o.csv != "-" {
		if err := writeTable(stdout, o.w, results); err != nil {
			fmt.Fprintf(stderr, "slotbench: %v\n", err)
			return 1
		}
	} else if warn := latenessWarning(o.w, results); warn != "" {
		fmt.Fprintf(stderr, "slotbench: %s\n", warn) // the table's footer would have said it
	}
	return writeOutputs(stdout, stderr, []output{
		{o.json, func(f io.Writer) error { return writeJSON(f, o.w, results) }},
		{o.csv, func(f io.Writer) error { return writeCSV(f, o.w, results) }},
		{o.plot, func(f io.Writer) error { return writePlot(f, o.w, results) }},
	})
}

// output is one of the files the flags ask for: "" none, "-" stdout.
type output struct {
	path  string
	write func(io.Writer) error
}

// writeOutputs writes each output the flags ask for and returns the exit
// code: 1 when any failed (each failure is reported, the others written).
func writeOutputs(stdout, stderr io.Writer, outs []output) int {
	code := 0
	for _, out := range outs {
		var err error
		switch out.path {
		case "":
			continue
		case "-":
			err = out.write(stdout)
		default:
			err = writeFile(out.path, out.write)
		}
		if err != nil {
			fmt.Fprintf(stderr, "slotbench: %v\n", err)
			code = 1
		}
	}
	return code
}

// runAll runs the policies one after another.
func runAll(ctx context.Context, w workload, ps []policy, progress func(i, n int, name string, at time.Duration)) ([]result, error) {
	results := make([]result, 0, len(ps))
	for i, p := range ps {
		var pf func(time.Duration)
		if progress != nil {
			pf = func(at time.Duration) { progress(i, len(ps), p.name, at) }
			pf(0)
		}
		r, err := runPolicy(ctx, w, p, pf)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	if progress != nil {
		progress(len(ps), len(ps), "", 0)
	}
	return results, nil
}

// progressTo returns a progress reporter that rewrites one line on stderr,
// or nil when stderr is not a terminal.
func progressTo(stderr io.Writer, total time.Duration) func(i, n int, name string, at time.Duration) {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(i, n int, name string, at time.Duration) {
		if name == "" {
			fmt.Fprint(f, "\r\033[K") // done: clear the line
			return
		}
		fmt.Fprintf(f, "\r\033[Kslotbench: run %d/%d (%s): %v of %v provider time", i+1, n, name,
			min(at, total).Truncate(time.Second), total)
	}
}

// writeFile writes path through a temporary file in the same directory,
// renamed into place only when complete: never a half-written file.
func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
