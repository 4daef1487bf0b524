package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// shutdownTimeout bounds how long the requests in flight may take to finish
// once the command stops. Closing the provider first ends its injected
// delays, so they finish at once unless a client is slow to read.
const shutdownTimeout = 5 * time.Second

// run is the command: it serves the fake provider until ctx ends, then
// stops the server and prints the accounting to stdout. It returns the exit
// code: 0 after ctx ended (SIGINT, SIGTERM) or -h, 1 if it cannot listen, 2
// on bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		fmt.Fprintln(stderr, "fakeprovider:", err)
		return 1
	}
	start := time.Now()
	p := captchaaitest.New(o.cfg) // the Config was checked by parseFlags
	mux := http.NewServeMux()
	mux.Handle("/stats", statsHandler(p, o))
	mux.Handle("/", p)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	printStart(stdout, ln.Addr().String(), o)

	code := 0
	select {
	case <-ctx.Done():
	case err := <-errc:
		fmt.Fprintln(stderr, "fakeprovider:", err)
		code = 1
	}
	// The provider first, so that requests held by an injected delay fail
	// now rather than hold the shutdown for the delay.
	p.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	printAccounting(stdout, p, o, time.Since(start))
	return code
}

// printStart tells the user where the provider is and what it is like.
func printStart(w io.Writer, addr string, o *options) {
	c := &o.cfg
	fmt.Fprintf(w, "fakeprovider: serving http://%s (in.php, res.php, createTask, getTaskResult; /stats)\n", addr)
	fmt.Fprintf(w, "fakeprovider: key %s\n", strings.Join(o.keys, ","))
	a := c.Accounts[0]
	slots := fmt.Sprint(a.Slots)
	if len(a.Capacity) > 0 {
		var steps []string
		for _, st := range a.Capacity {
			if st.At > time.Nanosecond {
				steps = append(steps, fmt.Sprintf("%v:%d", st.At, st.Slots))
			}
		}
		if a.Slots == 0 || a.Capacity[0].At <= time.Nanosecond {
			slots = fmt.Sprint(a.Capacity[0].Slots)
		}
		if len(steps) > 0 {
			slots += ", then " + strings.Join(steps, ",")
		}
	}
	bans := "on"
	if c.No1001 {
		bans = "off"
	}
	fmt.Fprintf(w, "fakeprovider: slots %s, balance %.3f USD, -time-scale %g, bans %s\n", slots, a.Balance, c.TimeScale, bans)
}
