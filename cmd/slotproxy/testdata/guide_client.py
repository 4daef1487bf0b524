#!/usr/bin/env python3
"""The provider's NO_SLOT guide, run as scrapers run it (guide_clients_test.go).

submit_with_slot_retry below is the guide's "Basic Retry Logic" for requests,
unchanged but for its base URL: json=1, timeout=30, resp.json() without a look
at the HTTP status, 3 s x1.5 (cap 15 s) for 5 attempts, RuntimeError on any
other answer. The urllib and curl versions are the same loop, line for line,
with that HTTP client instead. Nothing here knows about slotproxy.

Around it, as scrapers run the guide's loop: GUIDE_THREADS threads
each submit a task, poll res.php every 5 s until the answer, and start again,
until GUIDE_RUN seconds have passed. A RuntimeError is raised by the guide's own
code, so the scraper catches it and goes on with its next task; any other
exception (ReadTimeout, a JSON decode error, ...) is one the guide's code does
not handle: it kills its thread, as it would in a real script.

Real time: no sleep is scaled, so timeout=30 means 30 s.

Environment: CAPTCHAAI_BASE (the base URL), CAPTCHAAI_KEY, GUIDE_CLIENT
(requests, urllib or curl), GUIDE_THREADS, GUIDE_RUN (seconds). The guide's
own prints go to stdout; the last line is "SUMMARY " and a JSON object.
"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import requests

BASE = os.environ["CAPTCHAAI_BASE"]  # was https://ocr.captchaai.com
KEY = os.environ["CAPTCHAAI_KEY"]
PARAMS = {"googlekey": "6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-", "pageurl": "https://example.com/login"}


# The guide's loop, as it is written, with requests.
def submit_with_slot_retry(api_key, method, params, max_retries=5):
    """Submit task with automatic retry on NO_SLOT_AVAILABLE."""
    delay = 3

    for attempt in range(max_retries):
        resp = requests.post(BASE + "/in.php", data={
            "key": api_key,
            "method": method,
            "json": 1,
            **params,
        }, timeout=30)
        result = resp.json()

        if result.get("status") == 1:
            return result["request"]

        error = result.get("request", "")

        if error == "ERROR_NO_SLOT_AVAILABLE":
            print(f"No slot available. Retry in {delay}s (attempt {attempt + 1})")
            time.sleep(delay)
            delay = min(delay * 1.5, 15)  # Cap at 15 seconds
            continue

        # Non-retriable error
        raise RuntimeError(f"Submit error: {error}")

    raise RuntimeError("Max retries exceeded — no slots available")


def poll_requests(api_key, task_id):
    while True:
        time.sleep(5)
        result = requests.get(BASE + "/res.php", params={
            "key": api_key, "action": "get", "id": task_id, "json": 1,
        }, timeout=30).json()
        if result.get("status") == 1:
            return result["request"]
        if result.get("request") != "CAPCHA_NOT_READY":
            raise RuntimeError(f"Solve error: {result.get('request')}")


# The same loop with the standard library alone: urlopen raises HTTPError on
# any status but 2xx, and json.loads raises on anything but JSON.
def urllib_json(url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=30) as resp:
        return json.loads(resp.read())


def submit_urllib(api_key, method, params, max_retries=5):
    delay = 3
    for attempt in range(max_retries):
        result = urllib_json(BASE + "/in.php", {"key": api_key, "method": method, "json": 1, **params})
        if result.get("status") == 1:
            return result["request"]
        error = result.get("request", "")
        if error == "ERROR_NO_SLOT_AVAILABLE":
            print(f"No slot available. Retry in {delay}s (attempt {attempt + 1})")
            time.sleep(delay)
            delay = min(delay * 1.5, 15)
            continue
        raise RuntimeError(f"Submit error: {error}")
    raise RuntimeError("Max retries exceeded — no slots available")


def poll_urllib(api_key, task_id):
    while True:
        time.sleep(5)
        q = urllib.parse.urlencode({"key": api_key, "action": "get", "id": task_id, "json": 1})
        result = urllib_json(BASE + "/res.php?" + q)
        if result.get("status") == 1:
            return result["request"]
        if result.get("request") != "CAPCHA_NOT_READY":
            raise RuntimeError(f"Solve error: {result.get('request')}")


# The same loop with curl doing the HTTP: curl -sS --max-time 30, its
# output read with json.loads; a failed curl (exit 28 on the timeout)
# raises CalledProcessError.
def curl_json(*args):
    out = subprocess.run(["curl", "-sS", "--max-time", "30", *args],
                         capture_output=True, check=True).stdout
    return json.loads(out)


def submit_curl(api_key, method, params, max_retries=5):
    delay = 3
    form = {"key": api_key, "method": method, "json": 1, **params}
    args = [a for k, v in form.items() for a in ("-d", f"{k}={v}")]
    for attempt in range(max_retries):
        result = curl_json(*args, BASE + "/in.php")
        if result.get("status") == 1:
            return result["request"]
        error = result.get("request", "")
        if error == "ERROR_NO_SLOT_AVAILABLE":
            print(f"No slot available. Retry in {delay}s (attempt {attempt + 1})")
            time.sleep(delay)
            delay = min(delay * 1.5, 15)
            continue
        raise RuntimeError(f"Submit error: {error}")
    raise RuntimeError("Max retries exceeded — no slots available")


def poll_curl(api_key, task_id):
    while True:
        time.sleep(5)
        q = urllib.parse.urlencode({"key": api_key, "action": "get", "id": task_id, "json": 1})
        result = curl_json(BASE + "/res.php?" + q)
        if result.get("status") == 1:
            return result["request"]
        if result.get("request") != "CAPCHA_NOT_READY":
            raise RuntimeError(f"Solve error: {result.get('request')}")


CLIENTS = {
    "requests": (submit_with_slot_retry, poll_requests),
    "urllib": (submit_urllib, poll_urllib),
    "curl": (submit_curl, poll_curl),
}


def main():
    submit, poll = CLIENTS[os.environ.get("GUIDE_CLIENT", "requests")]
    threads = int(os.environ.get("GUIDE_THREADS", "20"))
    stop = time.monotonic() + float(os.environ.get("GUIDE_RUN", "45"))
    lock = threading.Lock()
    summary = {"tasks": [], "solved": 0, "gave_up": 0, "errors": {}, "unhandled": []}

    def note(field, value):
        with lock:
            if field == "errors":
                summary["errors"][value] = summary["errors"].get(value, 0) + 1
            elif field in ("tasks", "unhandled"):
                summary[field].append(value)
            else:
                summary[field] += value

    def work():
        while time.monotonic() < stop:
            try:
                task_id = submit(KEY, "userrecaptcha", PARAMS)
                note("tasks", str(task_id))
                poll(KEY, task_id)
                note("solved", 1)
            except RuntimeError as e:  # raised by the guide's own code
                if str(e).startswith("Max retries exceeded"):
                    note("gave_up", 1)
                else:
                    note("errors", str(e))
            except Exception as e:  # not handled by the guide's code: the thread dies
                note("unhandled", f"{type(e).__module__}.{type(e).__name__}: {e}")
                return

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    sys.stdout.flush()
    print("SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
