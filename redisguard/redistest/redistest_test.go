package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func ping(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	return c.Ping(ctx).Err()
}

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr); err != nil {
		t.Fatalf("started: PING: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr); err == nil {
		t.Fatal("stopped: PING answered")
	}
	s.Stop() // twice is fine
	s.Restart()
	if err := ping(s.Addr); err != nil {
		t.Fatalf("restarted: PING: %v", err)
	}
	s.Pause()
	if err := ping(s.Addr); err == nil {
		t.Error("paused: PING answered")
	}
	s.Resume()
	if err := ping(s.Addr); err != nil {
		t.Errorf("resumed: PING: %v", err)
	}
}
