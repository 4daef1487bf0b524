module github.com/slotguard/slotguard/redisguard

go 1.25.0

require (
	github.com/redis/go-redis/v9 v9.22.0
	github.com/slotguard/slotguard v0.0.0-00010101000000-000000000000
	golang.org/x/sync v0.20.0
	golang.org/x/time v0.15.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)

replace github.com/slotguard/slotguard => ..
