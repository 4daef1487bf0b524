package redisguard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tests run against a real redis-server: the one at
// SLOTGUARD_REDIS_ADDR (host:port) when set, otherwise one each test starts
// on a free loopback port and stops in its cleanup. Without redis-server
// they skip, except under CI=true, where they fail.

// redisServer is a redis-server this test started.
type redisServer struct {
	t    testing.TB
	addr string
	port int
	cmd  *exec.Cmd
}

// needRedis skips (or, under CI=true, fails) when redis-server is missing.
func needRedis(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not found (apt-get install redis-server, or set SLOTGUARD_REDIS_ADDR=host:port)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// startRedis starts a redis-server of the test's own, on a free port.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	needRedis(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{t: t, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s does not answer PING: %v", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop kills the server and waits for it; a stopped server stays stopped.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // in case it was paused
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// pause stops the server's process without closing its sockets: a
// stalled Redis.
func (s *redisServer) pause()  { s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *redisServer) resume() { s.cmd.Process.Signal(syscall.SIGCONT) }

// redisAddr is SLOTGUARD_REDIS_ADDR, or a server of the test's own.
func redisAddr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("SLOTGUARD_REDIS_ADDR"); addr != "" {
		return addr
	}
	return startRedis(t).addr
}

// newClient is a client as the README asks: context deadlines honoured.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// testKey is an API key of the test's own, so that tests sharing a Redis
// never meet.
func testKey(t testing.TB) string {
	t.Helper()
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fleetOf returns n fleets for one key, each with its own client (n
// processes as far as Redis can tell), connected and with the scripts
// loaded. Unless the test sets one, the timeout is a generous 1 s: these
// tests are about what is shared, not about a loaded machine's latency
// (the outage tests set their own).
func fleetOf(t testing.TB, addr, key string, n int, cfg Config) []*Fleet {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	fs := make([]*Fleet, n)
	for i := range fs {
		f, err := New(newClient(t, addr), key, cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = f.Load(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		fs[i] = f
	}
	return fs
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
