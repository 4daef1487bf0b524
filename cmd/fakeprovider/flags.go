package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// options is what the flags say: where to listen, and the provider's Config.
type options struct {
	listen string
	public bool
	keys   []string
	cfg    captchaaitest.Config
}

// flagValues holds the flags as given, before they become a Config.
type flagValues struct {
	listen, keys           string
	public, bans           bool
	slots                  int
	balance, timeScale     float64
	solve, capacity, hours string
	startHour              int
	fault                  string
	pools                  poolFlags
	faultRate              float64
	faultDelay             time.Duration
	seed                   uint64
}

// parseFlags reads args into options. Errors name the flag; flag's own
// errors (an unknown flag, a value that does not parse) are printed to
// stderr with the usage.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var v flagValues
	fs := newFlagSet(&v)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("fakeprovider: unexpected argument %q", fs.Arg(0))
	}
	return v.options()
}

// newFlagSet registers the flags into f; the caller sets its output.
func newFlagSet(f *flagValues) *flag.FlagSet {
	fs := flag.NewFlagSet("fakeprovider", flag.ContinueOnError)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8098", "`address` to serve on; beyond loopback only with -public")
	fs.BoolVar(&f.public, "public", false, "allow a listen address beyond loopback (default false)")
	fs.StringVar(&f.keys, "key", captchaaitest.DefaultKey, "the account's API `key` (32 letters or digits); several, comma-separated, make several accounts alike")
	fs.IntVar(&f.slots, "slots", captchaaitest.DefaultSlots, "worker slots (threads) of each account; 0: every submit is answered ERROR_NO_SLOT_AVAILABLE")
	fs.Float64Var(&f.balance, "balance", captchaaitest.DefaultBalance, "balance of each account in `USD`; 0: every submit is answered ERROR_ZERO_BALANCE")
	fs.Float64Var(&f.timeScale, "time-scale", 1, "provider time runs this many `times` faster than real time: solve times, ban windows and ban lengths")
	fs.BoolVar(&f.bans, "bans", true, "the published bans (ERROR: 1001, 1002, 1003, 1005, MAX_USER_TURN); -bans=false turns them all off")
	fs.StringVar(&f.solve, "solve", "", "solve time `range` of every method, provider time, as min-max or one duration (10s-30s); empty: each method's own (2-8s images, 10-30s tokens, 5-15s turnstile and geetest)")
	fs.StringVar(&f.fault, "fault", "", "inject this fault `kind` into a share of submits: "+strings.Join(faultNames(), ", ")+" (default none)")
	fs.Float64Var(&f.faultRate, "fault-rate", 0.05, "the `share` of submits (0 to 1) that get -fault")
	fs.DurationVar(&f.faultDelay, "fault-delay", 10*time.Second, "how long -fault slow holds the headers back, and slow-body the rest of the body (provider time)")
	fs.StringVar(&f.capacity, "capacity", "", "slot `steps` over provider time, at:slots comma-separated: 5m:2,10m:5 has -slots until 5 min, 2 until 10 min, then 5")
	fs.StringVar(&f.hours, "hours", "off", "the shared pool: the `shares` of submits refused NO_SLOT by other customers' load, by band of the UTC day (00-06,06-12,12-18,18-24): off, published (CaptchaAI's published hours, 0,0.1,0.3,0.1) or four shares")
	fs.Var(&f.pools, "pool", "a worker `pool` for one captcha type, type=workers[,at:workers...]: recaptcha=4,5m:0,10m:4 (repeat for more types; types as captchaaitest.PoolOf names them)")
	fs.IntVar(&f.startHour, "start-hour", 0, "UTC `hour` (0-23) at which the provider's day starts, for -hours: 13 starts at the 12-18 peak (default 0)")
	fs.Uint64Var(&f.seed, "seed", 0, "`seed` of the solve times and of -fault's draws (default 0)")
	return fs
}

// options checks the flag values and builds the Config.
func (v *flagValues) options() (*options, error) {
	o := &options{listen: v.listen, public: v.public}
	if !v.public && !loopback(v.listen) {
		return nil, fmt.Errorf("fakeprovider: -listen %q is beyond loopback: add -public to serve there", v.listen)
	}
	c := &o.cfg
	c.Seed = v.seed
	if !(v.timeScale > 0) || math.IsInf(v.timeScale, 0) {
		return nil, fmt.Errorf("fakeprovider: -time-scale %v: want a positive number (1: real time)", v.timeScale)
	}
	c.TimeScale = v.timeScale
	if !v.bans {
		c.No1001, c.No1002, c.No1003, c.NoMaxUserTurn, c.No1005 = true, true, true, true, true
	}
	acct, err := v.account()
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	for _, k := range strings.Split(v.keys, ",") {
		k = strings.TrimSpace(k)
		if !validKey(k) {
			// The key stays out of the message, as the provider's own.
			return nil, errors.New("fakeprovider: -key: each key must be 32 letters or digits")
		}
		if seen[k] {
			return nil, errors.New("fakeprovider: -key: a key is given twice")
		}
		seen[k] = true
		a := acct
		a.Key = k
		a.Capacity = append([]captchaaitest.Step(nil), acct.Capacity...)
		o.keys = append(o.keys, k)
		c.Accounts = append(c.Accounts, a)
	}
	if c.Methods, err = solveTimes(v.solve); err != nil {
		return nil, err
	}
	if c.SharedPool, err = sharedPool(v.hours); err != nil {
		return nil, err
	}
	if v.startHour < 0 || v.startHour > 23 {
		return nil, fmt.Errorf("fakeprovider: -start-hour %d: want 0 to 23", v.startHour)
	}
	c.StartOfDay = time.Duration(v.startHour) * time.Hour
	if c.Faults, err = v.faults(); err != nil {
		return nil, err
	}
	if c.Pools, err = v.pools.config(); err != nil {
		return nil, err
	}
	return o, nil
}

// poolFlags are the -pool flags, as given.
type poolFlags []string

func (p *poolFlags) String() string { return strings.Join(*p, " ") }

func (p *poolFlags) Set(s string) error {
	*p = append(*p, s)
	return nil
}

// config parses the -pool flags: "recaptcha=4,5m:0,10m:4".
func (p poolFlags) config() (map[string]captchaaitest.Pool, error) {
	if len(p) == 0 {
		return nil, nil
	}
	pools := make(map[string]captchaaitest.Pool)
	for _, s := range p {
		name, spec, ok := strings.Cut(s, "=")
		first, rest, _ := strings.Cut(spec, ",")
		workers, err := strconv.Atoi(strings.TrimSpace(first))
		switch {
		case !ok || err != nil || workers < 0:
			return nil, fmt.Errorf("fakeprovider: -pool %q: want type=workers[,at:workers...], as recaptcha=4,5m:0,10m:4", s)
		case captchaaitest.PoolOf(name) != name:
			return nil, fmt.Errorf("fakeprovider: -pool %q: %q is not a type; captchaaitest.PoolOf(%q) is %q", s, name, name, captchaaitest.PoolOf(name))
		}
		if _, dup := pools[name]; dup {
			return nil, fmt.Errorf("fakeprovider: -pool %q: type %s given twice", s, name)
		}
		steps, err := parseSteps("-pool "+name, rest)
		if err != nil {
			return nil, err
		}
		pools[name] = captchaaitest.Pool{Workers: workers, Capacity: steps}
	}
	return pools, nil
}

// account builds the Account each key gets from -slots, -balance and
// -capacity.
func (v *flagValues) account() (captchaaitest.Account, error) {
	var a captchaaitest.Account
	if v.slots < 0 {
		return a, fmt.Errorf("fakeprovider: -slots %d: must not be negative", v.slots)
	}
	if !(v.balance >= 0) || math.IsInf(v.balance, 0) {
		return a, fmt.Errorf("fakeprovider: -balance %v: must not be negative", v.balance)
	}
	steps, err := parseSteps("-capacity", v.capacity)
	if err != nil {
		return a, err
	}
	a.Slots, a.Balance, a.Capacity = v.slots, v.balance, steps
	if v.slots == 0 {
		// Account.Slots 0 means DefaultSlots; a step to 0 slots at the first
		// nanosecond of provider time, before any request can arrive, gives
		// an account with none (captchaaitest.Step allows 0).
		if len(steps) == 0 || steps[0].At > time.Nanosecond {
			a.Capacity = append([]captchaaitest.Step{{At: time.Nanosecond, Slots: 0}}, steps...)
		}
	}
	if v.balance == 0 {
		// Account.Balance 0 means DefaultBalance; a balance below a
		// micro-dollar is kept by the provider as exactly 0.
		a.Balance = 1e-9
	}
	return a, nil
}

// parseSteps parses steps over provider time, for the flag named flag:
// "5m:2,10m:5".
func parseSteps(flag, s string) ([]captchaaitest.Step, error) {
	if s == "" {
		return nil, nil
	}
	var steps []captchaaitest.Step
	for _, part := range strings.Split(s, ",") {
		at, n, ok := strings.Cut(strings.TrimSpace(part), ":")
		d, err1 := time.ParseDuration(at)
		slots, err2 := strconv.Atoi(n)
		switch {
		case !ok || err1 != nil || err2 != nil:
			return nil, fmt.Errorf("fakeprovider: %s %q: want at:count, comma-separated, as 5m:2,10m:5", flag, part)
		case d <= 0 || slots < 0:
			return nil, fmt.Errorf("fakeprovider: %s %q: want a positive time and a count >= 0", flag, part)
		case len(steps) > 0 && d <= steps[len(steps)-1].At:
			return nil, fmt.Errorf("fakeprovider: %s %q: the times must increase", flag, part)
		}
		steps = append(steps, captchaaitest.Step{At: d, Slots: slots})
	}
	return steps, nil
}

// solveTimes parses -solve into methods with that solve range and their
// own prices; nil for "".
func solveTimes(s string) (map[string]captchaaitest.Method, error) {
	if s == "" {
		return nil, nil
	}
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		hi = lo
	}
	least, err1 := time.ParseDuration(strings.TrimSpace(lo))
	most, err2 := time.ParseDuration(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || least < 0 || most < least {
		return nil, fmt.Errorf("fakeprovider: -solve %q: want min-max (10s-30s) or one duration, 0 <= min <= max", s)
	}
	methods := captchaaitest.DefaultMethods()
	for name, m := range methods {
		m.MinSolve, m.MaxSolve = least, most
		methods[name] = m
	}
	return methods, nil
}

// sharedPool parses -hours.
func sharedPool(s string) ([4]float64, error) {
	var pool [4]float64
	switch s {
	case "off", "":
		return pool, nil
	case "published":
		return captchaaitest.PublishedHours(), nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != len(pool) {
		return pool, fmt.Errorf("fakeprovider: -hours %q: want off, published or four shares 0 to 1", s)
	}
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return pool, fmt.Errorf("fakeprovider: -hours %q: want off, published or four shares 0 to 1", s)
		}
		pool[i] = f
	}
	return pool, nil
}

// faultKinds are the -fault kinds: captchaaitest's FaultKinds, and the
// parts of its Fault that slow or compress an answer (the delays are
// -fault-delay's, set by faults).
var faultKinds = map[string]captchaaitest.Fault{
	"500":         {Kind: captchaaitest.HTML500},
	"502":         {Kind: captchaaitest.HTML502},
	"reset":       {Kind: captchaaitest.Reset},
	"accept-drop": {Kind: captchaaitest.AcceptDrop},
	"cut-body":    {Kind: captchaaitest.CutBody},
	"no-slot":     {Kind: captchaaitest.NoSlot},
	"slow":        {},
	"slow-body":   {},
	"gzip":        {Gzip: true},
}

// faultNames lists the -fault kinds in the order the help gives them.
func faultNames() []string {
	return []string{"500", "502", "reset", "accept-drop", "cut-body", "no-slot", "slow", "slow-body", "gzip"}
}

// faults builds the Config.Faults function of -fault and -fault-rate; nil
// without -fault. Whether submit n gets the fault is drawn from a generator
// seeded by (-seed, n): the same submits get it on every run with the same
// seed, and concurrent requests share no generator, so no lock.
func (v *flagValues) faults() (func(captchaaitest.FaultInfo) captchaaitest.Fault, error) {
	if !(v.faultRate >= 0 && v.faultRate <= 1) {
		return nil, fmt.Errorf("fakeprovider: -fault-rate %v: want a share from 0 to 1", v.faultRate)
	}
	if v.faultDelay < 0 {
		return nil, fmt.Errorf("fakeprovider: -fault-delay %v: must not be negative", v.faultDelay)
	}
	if v.fault == "" {
		return nil, nil
	}
	f, ok := faultKinds[v.fault]
	if !ok {
		return nil, fmt.Errorf("fakeprovider: -fault %q: want one of %s", v.fault, strings.Join(faultNames(), ", "))
	}
	switch v.fault {
	case "slow":
		f.Delay = v.faultDelay
	case "slow-body":
		f.BodyDelay = v.faultDelay
	}
	rate, seed := v.faultRate, v.seed
	return func(fi captchaaitest.FaultInfo) captchaaitest.Fault {
		if !fi.Endpoint.Submit() || rate == 0 {
			return captchaaitest.Fault{}
		}
		if rate < 1 && rand.New(rand.NewPCG(seed, uint64(fi.N))).Float64() >= rate {
			return captchaaitest.Fault{}
		}
		return f
	}, nil
}

// validKey reports whether key has the provider's format: 32 letters or
// digits (captchaaitest checks the same, and panics on a bad Config).
func validKey(key string) bool {
	if len(key) != 32 {
		return false
	}
	for _, c := range key {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// loopback reports whether addr ("host:port") listens on loopback only, as
// in cmd/slotproxy.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false // ":8098" is every interface
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
