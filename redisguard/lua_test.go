package redisguard

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// sourceOf is a redis.Scripter that only records the source of the script
// Load gives it.
type sourceOf struct {
	redis.Scripter
	src string
}

func (s *sourceOf) ScriptLoad(_ context.Context, src string) *redis.StringCmd {
	s.src = src
	sum := sha1.Sum([]byte(src))
	return redis.NewStringResult(hex.EncodeToString(sum[:]), nil)
}

func TestScriptsReplicateCommands(t *testing.T) {
	// A script that reads TIME and writes must be replicated by its
	// effects: redis.replicate_commands() first (a no-op on Redis 7,
	// required where effects replication is off on 5 and 6).
	timed := 0
	for i, s := range scripts {
		var rec sourceOf
		s.Load(context.Background(), &rec)
		if !strings.Contains(rec.src, "'TIME'") {
			continue
		}
		timed++
		if !strings.HasPrefix(strings.TrimSpace(rec.src), "redis.replicate_commands()") {
			t.Errorf("script %d reads TIME but does not start with redis.replicate_commands():\n%s", i, rec.src)
		}
	}
	if timed == 0 {
		t.Error("no script reads TIME: the test finds nothing")
	}
}
