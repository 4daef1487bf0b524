package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// TestHelperMain is not a test: TestSignals runs the test binary again
// with FAKEPROVIDER_ARGS set, and then this runs the command's main.
func TestHelperMain(t *testing.T) {
	args, ok := os.LookupEnv("FAKEPROVIDER_ARGS")
	if !ok {
		t.Skip("run by TestSignals only")
	}
	os.Args = append([]string{"fakeprovider"}, strings.Fields(args)...)
	main()
}

// TestSignals sends the real SIGINT and SIGTERM to the command: it stops,
// prints the accounting and exits 0.
func TestSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMain$")
			cmd.Env = append(os.Environ(), "FAKEPROVIDER_ARGS=-listen 127.0.0.1:0 -slots 1")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

			lines := bufio.NewReader(stdout)
			first, err := lines.ReadString('\n')
			m := servingRE.FindStringSubmatch(first)
			if err != nil || m == nil {
				t.Fatalf("first line = %q (%v), want the address served", first, err)
			}
			resp, err := http.Get(m[1] + "/in.php?" + submitQuery(false).Encode())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "OK|1" {
				t.Fatalf("submit = %q, want OK|1", body)
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(lines)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("after %v: %v, want exit 0", sig, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no exit 10 s after %v", sig)
			}
			for _, want := range []string{"key " + captchaaitest.DefaultKey, "accepted       1 (balance 99.997 USD)"} {
				if !strings.Contains(string(rest), want) {
					t.Errorf("stdout after %v has no %q:\n%s", sig, want, rest)
				}
			}
		})
	}
}
