package redisguard_test

import (
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"
	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/redisguard"
)

// Every process of the fleet runs this with the same API key and Config:
// together they send 2 attempts a second, keep one NO_SLOT budget and see
// one outage.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "redis.internal:6379",
		ContextTimeoutEnabled: true, // so that Config.Timeout bounds each call
	})
	apiKey := "0123456789abcdef0123456789abcdef"
	fleet, err := redisguard.New(rdb, apiKey, redisguard.Config{Rate: 2})
	if err != nil {
		log.Fatal(err)
	}
	tr, err := slotguard.New(nil, slotguard.Config{Shared: fleet.Shared()})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	_ = client // submit through client as usual
}
