package redisguard

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotguard/slotguard"
)

func TestNewConfigErrors(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer c.Close()
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{Rate: -1}, "Config.Rate"},
		{Config{Rate: math.NaN()}, "Config.Rate"},
		{Config{Burst: -1}, "Config.Burst"},
		{Config{Budget: slotguard.BudgetConfig{NoSlotPerMinute: -1}}, "Config.Budget.NoSlotPerMinute"},
		{Config{Budget: slotguard.BudgetConfig{SubmitsPer3s: -1}}, "Config.Budget.SubmitsPer3s"},
		{Config{Pending: -time.Second}, "Config.Pending"},
		{Config{Poll: -time.Second}, "Config.Poll"},
		{Config{ProbeTimeout: -time.Second}, "Config.ProbeTimeout"},
		{Config{Timeout: -time.Second}, "Config.Timeout"},
		{Config{Backoff: -time.Second}, "Config.Backoff"},
		{Config{TimeScale: 0.5}, "Config.TimeScale"},
		{Config{TimeScale: math.Inf(1)}, "Config.TimeScale"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, err := New(c, "key", tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.field+" = ") {
				t.Errorf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.field)
			}
		})
	}
}

func TestNewZeroConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer c.Close()
	f, err := New(c, "key", Config{})
	if err != nil {
		t.Fatalf("New(zero Config) = %v", err)
	}
	if f.Pacer == nil || f.Budget == nil || f.Breaker == nil || f.Threads == nil {
		t.Fatalf("New(zero Config) = %+v, want all four parts", f)
	}
	if s := f.Shared(); s.Pacer == nil || s.Budget == nil || s.Breaker == nil || s.Threads == nil {
		t.Errorf("Shared() = %+v, want all four parts", s)
	}
	if got := f.Pacer.Limit(); got != 2 {
		t.Errorf("Pacer.Limit() = %v, want 2", got)
	}
	f, err = New(c, "key", Config{Rate: math.Inf(1)})
	if err != nil || f.Pacer != nil || f.Shared().Pacer != nil {
		t.Errorf("New(Rate: +Inf) = %+v, %v, want no pacer", f, err)
	}
}

func TestNewRefusesClientWithoutContextTimeout(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	_, err := New(c, "key", Config{})
	if err == nil || !strings.Contains(err.Error(), "ContextTimeoutEnabled") {
		t.Errorf("New(client without ContextTimeoutEnabled) = %v, want an error naming it", err)
	}
}

func TestKeyBase(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	got := KeyBase("", key)
	if want := "slotguard:{3eb1bd439947eb76}:"; got != want {
		t.Errorf("KeyBase(\"\", key) = %q, want %q", got, want)
	}
	if strings.Contains(got, key) || strings.Contains(KeyBase("p", key), key) {
		t.Errorf("KeyBase contains the API key")
	}
	if got := KeyBase("fleet7", key); !strings.HasPrefix(got, "fleet7:{") {
		t.Errorf("KeyBase(\"fleet7\", key) = %q, want the prefix first", got)
	}
	if KeyBase("", key) == KeyBase("", key+"x") {
		t.Errorf("KeyBase is the same for two keys")
	}
}
