// Package redistest starts and stops a real redis-server for tests: the
// tests of redisguard, of cmd/slotbench's fleet mode, and of programs that
// run a fleet on redisguard and want to test it against the real thing.
//
// Addr is the usual entry point: the server at SLOTGUARD_REDIS_ADDR
// (host:port) when that is set, otherwise a redis-server of the test's own
// on a free loopback port, stopped in the test's cleanup. Without
// redis-server on the PATH the test is skipped with a message saying how
// to get one, except under CI=true, where it fails: a CI that cannot run
// the Redis tests must not pass.
package redistest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr names the environment variable that points the tests at a running
// Redis instead of one they start.
const EnvAddr = "SLOTGUARD_REDIS_ADDR"

// Addr returns the address of a Redis for t: $SLOTGUARD_REDIS_ADDR, or a
// server started with Start.
func Addr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		return addr
	}
	return Start(t).Addr
}

// Need skips t (fails it under CI=true) when redis-server is not on the
// PATH.
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		msg := "redis-server not found (apt-get install redis-server, or set " + EnvAddr + "=host:port)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Server is a redis-server a test started: no persistence, bound to
// loopback, its files in a temporary directory.
type Server struct {
	Addr string // host:port

	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// Start starts a redis-server on a free loopback port and waits until it
// answers PING; t's cleanup stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	Need(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t, port: port}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts the server again on its port after Stop (a Redis that
// comes back, empty) and waits until it answers PING. It fails the test
// after 5 s without an answer.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s does not answer PING: %v", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server and waits for it: a Redis that is down. It may be
// called more than once.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // in case it was paused
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Pause stops the server's process without closing its sockets: a Redis
// that stalls. Resume lets it go on.
func (s *Server) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume ends a Pause.
func (s *Server) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }
