module github.com/slotguard/slotguard

go 1.25.0

require (
	github.com/sony/gobreaker/v2 v2.4.0
	golang.org/x/sync v0.20.0
	golang.org/x/time v0.15.0
)

require github.com/google/go-cmp v0.7.0
