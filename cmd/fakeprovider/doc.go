// Command fakeprovider serves a fake CaptchaAI on loopback: the
// captchaaitest package as a command, so that scripts in any language can
// run against a provider with the real bans before they spend money.
//
//	go run ./cmd/fakeprovider -slots 5 -listen 127.0.0.1:8098
//
// It answers in.php and res.php (text, or JSON with json=1; GET or POST,
// urlencoded or multipart) and createTask / getTaskResult, under any path
// prefix, as captchaaitest documents: an account with worker slots (threads)
// that accepted tasks hold for their solve time, ERROR_NO_SLOT_AVAILABLE when
// they are all busy, and the published bans:
//
//	ERROR: 1001     120 NO_SLOT answers in a rolling minute: in.php blocked 10 min
//	ERROR: 1002     120 ZERO_BALANCE answers in a rolling minute: blocked 5 min
//	ERROR: 1003     NO_SLOT >= 3 x accepted in a minute, once NO_SLOT >= 120: 30 s
//	MAX_USER_TURN   more than 60 in.php requests within 3 s: 10 s
//	ERROR: 1005     res.php requests > 20 x accepted + 1200 in a rolling hour: 10 min
//
// It never touches the internet, and listens on loopback unless -public is
// given. On SIGINT or SIGTERM it stops the server, prints the provider's
// accounting per key to stdout and exits 0.
//
// # Flags
//
// fakeprovider -h lists them with their defaults. Times are provider time,
// which runs -time-scale times faster than real time.
//
//	-listen 127.0.0.1:8098  address to serve on; beyond loopback only with -public
//	-public false           allow a listen address beyond loopback
//	-key 0123456789abcdef0123456789abcdef
//	                        the account's API key (captchaaitest.DefaultKey);
//	                        several, comma-separated, make several accounts alike
//	-slots 5                worker slots of each account; 0: every submit is NO_SLOT
//	-balance 100            USD per account; 0: every submit is ERROR_ZERO_BALANCE
//	-time-scale 1           provider time runs this many times faster (solve
//	                        times, ban windows, ban lengths): 60 makes a minute a second
//	-bans true              -bans=false turns every published ban off
//	-solve ""               solve time of every method, min-max or one duration
//	                        (10s-30s); empty: 2-8s images, 10-30s reCAPTCHA,
//	                        hCaptcha and FunCaptcha, 5-15s Turnstile and GeeTest
//	-fault none             inject a fault into a share of submits: 500, 502 (an
//	                        nginx HTML page, nothing handled), reset (the connection
//	                        reset, nothing handled), accept-drop (accepted and
//	                        billed, then the connection closed without an answer),
//	                        cut-body, no-slot, slow (headers held -fault-delay),
//	                        slow-body, gzip
//	-fault-rate 0.05        the share of submits that get -fault
//	-fault-delay 10s        the hold of -fault slow and slow-body
//	-capacity ""            slot steps over time, at:slots: 5m:2,10m:5 gives -slots
//	                        until 5 min, 2 until 10 min, then 5
//	-hours off              other customers' load on the shared pool, by six-hour
//	                        band of the UTC day: off, published (CaptchaAI's
//	                        published hours: 0,0.1,0.3,0.1) or four shares
//	-pool ""                a worker pool for one captcha type (repeat for more):
//	                        type=workers[,at:workers...], as recaptcha=4,5m:0,10m:4:
//	                        4 reCAPTCHA workers, none from 5 to 10 min, then 4
//	                        again; types as captchaaitest.PoolOf names them (image,
//	                        recaptcha, hcaptcha, funcaptcha, turnstile, geetest)
//	-start-hour 0           UTC hour at which the provider's day starts, for -hours
//	-seed 0                 seed of the solve times and of -fault's draws
//
// A flag that does not parse, or a value out of range, exits 2 with a message
// that names the flag.
//
// A type's pool (-pool) that runs short answers NO_SLOT to that type's
// submits only, even while the account has free threads: the shortage of
// one type's workers while another's are free.
//
// # A session
//
//	$ fakeprovider -slots 1 -solve 20s -time-scale 10
//	fakeprovider: serving http://127.0.0.1:8098 (in.php, res.php, createTask, getTaskResult; /stats)
//	fakeprovider: key 0123456789abcdef0123456789abcdef
//	fakeprovider: slots 1, balance 100.000 USD, -time-scale 10, bans on
//
// With curl, in another terminal:
//
//	$ K=0123456789abcdef0123456789abcdef B=http://127.0.0.1:8098
//	$ curl "$B/in.php?key=$K&method=userrecaptcha&googlekey=6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-&pageurl=https://example.com/login"
//	OK|1
//	$ curl $B/in.php -d key=$K -d method=userrecaptcha -d googlekey=6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ- -d pageurl=https://example.com/login -d json=1
//	{"status":0,"request":"ERROR_NO_SLOT_AVAILABLE"}
//	$ curl "$B/res.php?key=$K&action=get&id=1"
//	CAPCHA_NOT_READY
//	$ sleep 2; curl "$B/res.php?key=$K&action=get&id=1&json=1"
//	{"status":1,"request":"token1"}
//
// Ctrl-C then prints:
//
//	fakeprovider: 35.744s of provider time (3.574s real, -time-scale 10)
//	key 0123456789abcdef0123456789abcdef
//	  accepted       1 (balance 99.997 USD)
//	  rejected       1 (ERROR_NO_SLOT_AVAILABLE 1)
//	  bans           0
//	  polls          2
//	  max in flight  1
//	  utilization    56.0% (slots now: 1)
//	  NO_SLOT peak   1 in minute 0 (ERROR: 1001 at 120)
//
// "rejected" counts the submits refused, never billed, by code (and polls
// refused by ERROR: 1005); "bans" counts the blocks started, by code.
//
// The same task with Python requests, as CaptchaAI's own examples use it
// (for real, change the base URL back to https://ocr.captchaai.com, and the
// key):
//
//	import time, requests
//	BASE, KEY = "http://127.0.0.1:8098", "0123456789abcdef0123456789abcdef"
//	r = requests.post(BASE + "/in.php", data={"key": KEY, "method": "userrecaptcha", "json": 1,
//	    "googlekey": "6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-", "pageurl": "https://example.com/login"},
//	    timeout=30).json()
//	if r["status"] != 1:
//	    raise SystemExit(r["request"])  # ERROR_NO_SLOT_AVAILABLE, ERROR: 1001, ...
//	while True:
//	    time.sleep(0.5)  # 5 s of provider time at -time-scale 10
//	    a = requests.get(BASE + "/res.php", params={"key": KEY, "action": "get", "id": r["request"], "json": 1},
//	        timeout=30).json()
//	    if a["request"] != "CAPCHA_NOT_READY":
//	        break
//	print(a)  # {'status': 1, 'request': 'token1'}
//	print(requests.get(BASE + "/stats").json()["accounts"][KEY]["accepted"])  # 1
//
// # /stats
//
// GET /stats serves the same accounting as JSON, at any moment: time in
// seconds of provider time, every account by its key. GET /stats?key=K
// serves the object of account K alone (404 for a key it does not have).
// The field names are stable; maps and lists are never null.
//
//	{
//	  "time_scale": 10,                  // -time-scale
//	  "elapsed_seconds": 35.67,          // provider time since the start
//	  "accounts": {
//	    "0123456789abcdef0123456789abcdef": {
//	      "accepted": 1,                 // submits accepted and billed
//	      "rejected": {"ERROR_NO_SLOT_AVAILABLE": 1},  // refused, by code
//	      "bans": {},                    // blocks started, by code ("ERROR: 1001": 1)
//	      "polls": 2,                    // res.php and getTaskResult requests
//	      "max_in_flight": 1,            // most of the key's requests handled at once
//	      "slots": 1,                    // worker slots now (-capacity)
//	      "balance": 99.997,             // USD left
//	      "busy_slot_seconds": 20,       // slot time held by tasks
//	      "offered_slot_seconds": 35.67, // slot time the account offered
//	      "used_slot_seconds": 20,       // the part of it that held a task
//	      "utilization": 0.56,           // used / offered
//	      "no_slot_per_minute": [1]      // NO_SLOT answers in each provider minute
//	    }
//	  }
//	}
package main
