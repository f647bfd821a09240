#!/usr/bin/env python3
"""Browser test for the typeahead demo page (assets/index.html).

Drives Debian's chromium through chromedriver's W3C WebDriver HTTP API,
using only the Python standard library.

Usage:
    python3 tests/browser/demo_test.py --url http://127.0.0.1:PORT/ \
        [--screenshot docs/demo.png]

The server behind --url must serve the demo page at the given URL and a trie
(default "users", or the page's ?trie=NAME) holding at least one key that
starts with "ma".

Requires: apt-get install -y chromium chromium-driver
Exit status: 0 on success, 1 on failure (a "FAIL: ..." line is printed).
"""

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"  # W3C web element identifier
KEY_DOWN = "\ue015"
KEY_ENTER = "\ue007"
PREFIX = "ma"


class TestFailure(Exception):
    pass


class WebDriverError(Exception):
    def __init__(self, status, error, message):
        super().__init__("%s (HTTP %s): %s" % (error, status, message))
        self.status = status
        self.error = error


def ok(msg):
    print("ok: " + msg, flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class WebDriver:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.session = None

    def request(self, method, path, body=None, timeout=30):
        data = None
        headers = {}
        if body is not None or method == "POST":
            data = json.dumps(body if body is not None else {}).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                value = json.loads(raw.decode("utf-8")).get("value", {})
                raise WebDriverError(e.code, value.get("error", "unknown error"),
                                     value.get("message", "").split("\n")[0])
            except (ValueError, AttributeError):
                raise WebDriverError(e.code, "http error", raw[:300].decode("utf-8", "replace"))
        return json.loads(raw.decode("utf-8")).get("value") if raw else None

    # -- session-scoped helpers ---------------------------------------------

    def s(self, method, path, body=None, timeout=30):
        return self.request(method, "/session/%s%s" % (self.session, path), body, timeout)

    def new_session(self, capabilities, timeout=60):
        value = self.request("POST", "/session",
                             {"capabilities": {"alwaysMatch": capabilities}}, timeout=timeout)
        self.session = value["sessionId"]
        return value

    def delete_session(self):
        if self.session is None:
            return
        try:
            self.request("DELETE", "/session/%s" % self.session, timeout=15)
        finally:
            self.session = None

    def get(self, url):
        self.s("POST", "/url", {"url": url}, timeout=60)

    def find_all(self, css, root=None):
        path = "/element/%s/elements" % root if root else "/elements"
        return [e[ELEMENT_KEY] for e in self.s("POST", path, {"using": "css selector", "value": css})]

    def find(self, css, root=None):
        path = "/element/%s/element" % root if root else "/element"
        return self.s("POST", path, {"using": "css selector", "value": css})[ELEMENT_KEY]

    def text(self, element):
        return self.s("GET", "/element/%s/text" % element)

    def attribute(self, element, name):
        return self.s("GET", "/element/%s/attribute/%s" % (element, name))

    def send_keys(self, element, text):
        self.s("POST", "/element/%s/value" % element, {"text": text})

    def script(self, js, *args):
        return self.s("POST", "/execute/sync", {"script": js, "args": list(args)})

    def screenshot(self):
        return base64.b64decode(self.s("GET", "/screenshot", timeout=60))


def wait_for(what, fn, timeout=10.0, interval=0.1):
    """Polls fn() until it returns a truthy value or the deadline passes.

    WebDriver errors raised while polling (e.g. a stale element while the
    page re-renders) are retried; the last one is reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            result = fn()
            if result:
                return result
        except WebDriverError as e:
            last_err = e
        if time.monotonic() >= deadline:
            extra = " (last error: %s)" % last_err if last_err else ""
            raise TestFailure("timed out after %.0fs waiting for %s%s" % (timeout, what, extra))
        time.sleep(interval)


def start_chromedriver(binary, log_path):
    port = free_port()
    log = open(log_path, "wb")
    proc = subprocess.Popen([binary, "--port=%d" % port], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    log.close()
    wd = WebDriver("http://127.0.0.1:%d" % port)

    def ready():
        if proc.poll() is not None:
            raise TestFailure("chromedriver exited early with status %s" % proc.returncode)
        try:
            return bool(wd.request("GET", "/status", timeout=2).get("ready"))
        except (OSError, ValueError, WebDriverError):
            return False

    try:
        wait_for("chromedriver /status to report ready", ready, timeout=20)
    except Exception:
        stop_process(proc)
        raise
    return proc, wd


def stop_process(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def run_checks(wd, args):
    wd.get(args.url)
    ok("opened %s" % args.url)

    q = wd.find("#q")
    focused = wd.script("return document.activeElement && document.activeElement.id;")
    check(focused == "q", "#q is not focused on load (activeElement id=%r)" % focused)
    ok("#q exists and has focus")

    wd.send_keys(q, PREFIX)
    ok("typed %r into #q" % PREFIX)

    # Wait until the list shows the answer for the full prefix (the page tags
    # the list with the query it rendered, so answers for "m" don't count).
    def rendered():
        if wd.attribute(wd.find("#suggestions"), "data-query") != PREFIX:
            return None
        return wd.find_all("#suggestions .suggestion") or None

    rows = wait_for("at least one .suggestion row for %r" % PREFIX, rendered, timeout=10)
    keys = []
    for row in rows:
        keys.append(wd.text(wd.find(".key", root=row)))
    check(len(keys) >= 1, "no suggestion rows")
    bad = [k for k in keys if not k.lower().startswith(PREFIX)]
    check(not bad, "rows whose key does not start with %r: %r" % (PREFIX, bad))
    ok("%d row(s), all starting with %r: %s" % (len(keys), PREFIX, ", ".join(keys)))

    mark = wd.text(wd.find("mark", root=rows[0]))
    check(mark.lower() == PREFIX, "first row's <mark> is %r, expected %r" % (mark, PREFIX))
    ok("first row highlights %r in <mark>" % mark)

    wd.send_keys(q, KEY_DOWN)
    classes = (wd.attribute(rows[0], "class") or "").split()
    check("active" in classes, "first row not active after ArrowDown (class=%r)" % classes)
    check(wd.attribute(rows[0], "aria-selected") == "true",
          "first row lacks aria-selected=true after ArrowDown")
    ok("ArrowDown highlights the first row")

    wd.send_keys(q, KEY_ENTER)
    first_key = keys[0]
    selected = wait_for("#selected to contain %r" % first_key,
                        lambda: (lambda t: t if first_key in t else None)(wd.text(wd.find("#selected"))),
                        timeout=10)
    check(first_key in selected, "#selected is %r, expected it to contain %r" % (selected, first_key))
    ok("Enter chose it: %s" % selected)

    latency = wd.text(wd.find("#latency"))
    check(re.search(r"\d", latency or ""), "#latency has no digits: %r" % latency)
    ok("latency shown: %s" % latency)

    stats = wait_for("#stats to contain 'keys'",
                     lambda: (lambda t: t if "keys" in t else None)(wd.text(wd.find("#stats"))),
                     timeout=10)
    ok("stats shown: %s" % stats)

    err = wd.text(wd.find("#error"))
    check(not err, "#error is not empty: %r" % err)
    ok("no error shown")

    if args.screenshot:
        png = wd.screenshot()
        check(png[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG")
        parent = os.path.dirname(os.path.abspath(args.screenshot))
        os.makedirs(parent, exist_ok=True)
        with open(args.screenshot, "wb") as f:
            f.write(png)
        ok("screenshot saved to %s (%d bytes)" % (args.screenshot, len(png)))


def diagnose(wd):
    """Best effort: prints what the page showed, to help explain a failure."""
    try:
        info = wd.script(
            "var t = function (id) { var e = document.getElementById(id);"
            " return e ? e.textContent : null; };"
            "return {url: location.href, title: document.title, error: t('error'),"
            " stats: t('stats'), latency: t('latency'),"
            " rows: document.querySelectorAll('.suggestion').length};")
        print("page state: %s" % json.dumps(info, ensure_ascii=False), flush=True)
    except Exception as e:
        print("page state unavailable: %s" % e, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="URL of the demo page, e.g. http://127.0.0.1:8080/")
    ap.add_argument("--screenshot", help="write a PNG screenshot to this path")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()

    for path in (args.chromedriver, args.chromium):
        if not os.path.exists(path):
            print("FAIL: %s not found (apt-get install -y chromium chromium-driver)" % path)
            return 1

    tmp = tempfile.mkdtemp(prefix="typeahead-browser-test-")
    profile = os.path.join(tmp, "profile")
    os.mkdir(profile)
    log_path = os.path.join(tmp, "chromedriver.log")
    proc = None
    wd = None
    status = 1
    try:
        proc, wd = start_chromedriver(args.chromedriver, log_path)
        ok("chromedriver ready at %s" % wd.base)
        wd.new_session({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": args.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1000,800",
                    "--user-data-dir=%s" % profile,
                ],
            },
        })
        ok("session %s created" % wd.session)
        run_checks(wd, args)
        print("PASS: demo page works", flush=True)
        status = 0
    except TestFailure as e:
        print("FAIL: %s" % e, flush=True)
    except WebDriverError as e:
        print("FAIL: WebDriver error: %s" % e, flush=True)
    except Exception as e:  # connection refused, timeouts, ...
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
    finally:
        if status != 0 and wd is not None and wd.session is not None:
            diagnose(wd)
        if wd is not None:
            try:
                wd.delete_session()
            except Exception as e:
                print("warning: could not delete session: %s" % e, flush=True)
        stop_process(proc)
        if status != 0 and os.path.exists(log_path):
            with open(log_path, "rb") as f:
                tail = f.read()[-2000:].decode("utf-8", "replace").strip()
            if tail:
                print("--- chromedriver log (tail) ---\n" + tail, flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
