module github.com/slotguard/slotguard/cmd/slotbench

go 1.25.0

require (
	github.com/slotguard/slotguard v0.0.0-00010101000000-000000000000
	gonum.org/v1/plot v0.17.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)

require (
	codeberg.org/go-fonts/liberation v0.5.0 // indirect
	codeberg.org/go-latex/latex v0.2.0 // indirect
	codeberg.org/go-pdf/fpdf v0.11.1 // indirect
	git.sr.ht/~sbinet/gg v0.7.0 // indirect
	github.com/ajstarks/svgo v0.0.0-20211024235047-1546f124cd8b // indirect
	github.com/golang/freetype v0.0.0-20170609003504-e2365dfdc4a0 // indirect
	github.com/redis/go-redis/v9 v9.22.0
	github.com/slotguard/slotguard/redisguard v0.0.0-00010101000000-000000000000
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	golang.org/x/image v0.30.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/text v0.28.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace github.com/slotguard/slotguard => ../..

replace github.com/slotguard/slotguard/redisguard => ../../redisguard
