#!/usr/bin/env python3
"""A CaptchaAI client written the way CaptchaAI's own examples are: the
requests library, a submit to in.php with its own NO_SLOT loop, then polls
of res.php until the answer. interop_test.go runs it through slotproxy.

Task i is, by i % 3: a reCAPTCHA in plain text mode, an image uploaded as
multipart (method=post), a reCAPTCHA in json=1 mode. Every wait is divided
by --scale (the fake provider's time scale). Prints one token per line.
"""
import argparse
import sys
import threading
import time

import requests

GOOGLEKEY = "6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"


def answer(r, json_mode):
    if json_mode:
        body = r.json()
        return ("OK|" + str(body["request"])) if body["status"] == 1 else body["request"]
    return r.text.strip()


def submit(s, args, i):
    json_mode = i % 3 == 2
    data = {"key": args.key, "method": "userrecaptcha", "googlekey": GOOGLEKEY,
            "pageurl": "https://example.com/login"}
    files = None
    if i % 3 == 1:
        data = {"key": args.key, "method": "post"}
        files = {"file": ("captcha.png", bytes(range(256)) * 8, "image/png")}
    if json_mode:
        data["json"] = "1"
    for _ in range(200):
        r = s.post(args.base + "/in.php", data=data, files=files, timeout=30, verify=args.verify)
        if r.status_code == 503 and r.headers.get("X-Slotproxy-Error") == "circuit-open":
            # slotproxy sent nothing upstream: safe to send again later.
            time.sleep(min(float(r.headers.get("Retry-After", "1")), args.max_wait))
            continue
        if r.status_code != 200:
            # The task may have been accepted: never resubmit blindly.
            raise RuntimeError("in.php: HTTP %d" % r.status_code)
        text = answer(r, json_mode)
        if text.startswith("OK|"):
            return text[3:], json_mode
        if text == "ERROR_NO_SLOT_AVAILABLE":
            time.sleep(5 / args.scale)  # CaptchaAI's guide: wait, submit again
            continue
        raise RuntimeError("in.php: " + text)
    raise RuntimeError("in.php: gave up")


def poll(s, args, task_id, json_mode):
    params = {"key": args.key, "action": "get", "id": task_id}
    if json_mode:
        params["json"] = "1"
    time.sleep(5 / args.scale)
    for _ in range(200):
        r = s.get(args.base + "/res.php", params=params, timeout=30, verify=args.verify)
        if r.status_code >= 500:
            time.sleep(5 / args.scale)  # a poll bills nothing: ask again
            continue
        text = answer(r, json_mode)
        if text == "CAPCHA_NOT_READY":
            time.sleep(5 / args.scale)
            continue
        if text.startswith("OK|"):
            return text[3:]
        raise RuntimeError("res.php: " + text)
    raise RuntimeError("res.php: gave up")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--tasks", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--max-wait", type=float, default=60.0)
    ap.add_argument("--cafile", help="verify https against this CA file")
    args = ap.parse_args()
    # Per request: requests lets REQUESTS_CA_BUNDLE override Session.verify.
    args.verify = args.cafile or True

    tokens = [None] * args.tasks
    errors = []

    def work(i):
        s = requests.Session()
        try:
            task_id, json_mode = submit(s, args, i)
            tokens[i] = poll(s, args, task_id, json_mode)
        except Exception as e:  # reported below; the test fails on it
            errors.append("task %d: %s" % (i, e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(args.tasks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tok in tokens:
        if tok is not None:
            print(tok)
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
