#!/usr/bin/env python3
"""Browser test for the typeahead demo page (assets/index.html).

Drives Debian's chromium through chromedriver's W3C WebDriver HTTP API,
using only the Python standard library.

Usage:
    python3 tests/browser/demo_test.py --url http://127.0.0.1:PORT/ \
        [--screenshot docs/demo.png]

The server behind --url must serve the demo page at the given URL and the
demo's trie "users" (serve --demo): people as values ({"id", "name",
"username"}) under their first name, last name and username in a trie that
folds case and accents (fold=full), each pair scored with the person's
follower count.

What it checks: typing "mar" shows the most-followed people found by a first
name, last name or username starting with "mar", highest first, each person
once, by name (not raw JSON), with their followers; the list is the server's
own order=score&dedupe=value answer, and no entry whose key starts with "mar"
has more followers than the first row. Then the keyboard: Down highlights,
Enter chooses.

Every wait is for a condition in the page: a MutationObserver in the page
resolves an asynchronous WebDriver script as soon as the condition holds.

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
import urllib.parse
import urllib.request

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"  # W3C web element identifier
KEY_DOWN = "\ue015"
KEY_ENTER = "\ue007"
PREFIX = "mar"
TRIE = "users"


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

    def script_async(self, js, *args, timeout=30):
        return self.s("POST", "/execute/async", {"script": js, "args": list(args)}, timeout=timeout)

    def wait_in_page(self, what, condition, timeout=10.0):
        """Waits until the JavaScript expression `condition` is truthy in the
        page, and returns its value.

        The page re-checks it on every DOM change (a MutationObserver), so
        the wait ends as soon as the page renders what is awaited; past the
        deadline the test fails, naming `what`.
        """
        self.s("POST", "/timeouts", {"script": int(timeout * 1000) + 1000})
        js = """
            var done = arguments[arguments.length - 1];
            var cond = new Function("return (" + arguments[0] + ");");
            var limit = arguments[1];
            var observer = null, timer = null;
            function finish(v) {
              if (observer) observer.disconnect();
              if (timer) clearTimeout(timer);
              done(v);
            }
            function check() {
              var v;
              try { v = cond(); } catch (e) { v = null; }
              if (v) { finish({ ok: v }); return true; }
              return false;
            }
            if (!check()) {
              observer = new MutationObserver(check);
              observer.observe(document.documentElement,
                { subtree: true, childList: true, attributes: true, characterData: true });
              timer = setTimeout(function () { finish({ timeout: true }); }, limit);
            }
        """
        try:
            result = self.script_async(js, condition, int(timeout * 1000), timeout=timeout + 30)
        except WebDriverError as e:
            raise TestFailure("waiting for %s: %s" % (what, e))
        if not result or "ok" not in result:
            raise TestFailure("timed out after %.0fs waiting for %s" % (timeout, what))
        return result["ok"]

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


def api_suggest(base, params):
    """The server's own answer, straight from the API."""
    origin = urllib.parse.urlsplit(base)
    url = "%s://%s/v1/tries/%s/suggest?%s" % (origin.scheme, origin.netloc, TRIE,
                                              urllib.parse.urlencode(params))
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read().decode("utf-8"))["entries"]


# What the list shows once it has rendered the answer for PREFIX: per row its
# key, score, person id and visible parts (null until then).
ROWS_FOR_PREFIX = """
  (function () {
    var list = document.getElementById("suggestions");
    if (list.getAttribute("data-query") !== %s) return null;
    var rows = list.querySelectorAll(".suggestion");
    if (!rows.length) return null;
    return Array.prototype.map.call(rows, function (li) {
      var part = function (c) { var e = li.querySelector("." + c); return e ? e.textContent : null; };
      var mark = li.querySelector("mark");
      return { key: li.getAttribute("data-key"), score: li.getAttribute("data-score"),
               id: li.getAttribute("data-id"), name: part("name"), username: part("username"),
               followers: part("followers"), mark: mark ? mark.textContent : null,
               text: li.textContent };
    });
  })()
""" % json.dumps(PREFIX)


def run_checks(wd, args):
    wd.get(args.url)
    ok("opened %s" % args.url)

    q = wd.find("#q")
    focused = wd.script("return document.activeElement && document.activeElement.id;")
    check(focused == "q", "#q is not focused on load (activeElement id=%r)" % focused)
    ok("#q exists and has focus")

    wd.send_keys(q, PREFIX)
    ok("typed %r into #q" % PREFIX)

    # The page tags the list with the query it rendered, so answers for "m"
    # or "ma" don't count.
    rows = wd.wait_in_page("the suggestions for %r" % PREFIX, ROWS_FOR_PREFIX, timeout=10)
    check(len(rows) >= 2, "only %d row(s) for %r" % (len(rows), PREFIX))

    # Each row is a person, shown by name: not a raw key and JSON value.
    for i, row in enumerate(rows):
        check(row["name"] and row["username"] and row["id"],
              "row %d is not shown as a person: %r" % (i, row["text"]))
        check("{" not in row["text"] and '"' not in row["text"],
              "row %d shows raw JSON: %r" % (i, row["text"]))
        check(re.search(r"\d(\.\d)?[kMB]? followers?$", row["followers"] or ""),
              "row %d shows no follower count: %r" % (i, row["followers"]))
        words = row["name"].lower().split() + [row["username"].lstrip("@")]
        check(any(w.startswith(PREFIX) for w in words),
              "row %d: neither name nor username starts with %r: %r" % (i, PREFIX, row["text"]))
        check(row["key"].lower().startswith(PREFIX) and row["key"].lower() in words,
              "row %d: its key %r is not one of its words %r" % (i, row["key"], words))
        check(row["mark"] is not None and row["mark"].lower() == PREFIX,
              "row %d marks %r, expected %r" % (i, row["mark"], PREFIX))
    ok("%d people shown by name: %s" % (len(rows), "; ".join(
        "%s %s, %s" % (r["name"], r["username"], r["followers"]) for r in rows[:4])))

    scores = [float(r["score"]) for r in rows]
    check(all(a >= b for a, b in zip(scores, scores[1:])),
          "rows are not in non-increasing follower order: %r" % scores)
    ids = [r["id"] for r in rows]
    check(len(set(ids)) == len(ids), "a person is shown more than once: ids %r" % ids)
    ok("followers non-increasing (%s), each person once" % ", ".join("%g" % x for x in scores))

    # The same people, in the same order, as the server's ranked answer; and
    # the top is the most followed: no entry the key order lists first has
    # more followers.
    ranked = api_suggest(args.url, {"q": PREFIX, "limit": 10, "order": "score", "dedupe": "value",
                                    "fuzzy": "auto"})
    check([str(e["value"]["id"]) for e in ranked] == ids,
          "the page's people %r are not the API's %r" % (ids, [e["value"]["id"] for e in ranked]))
    by_key = api_suggest(args.url, {"q": PREFIX, "limit": 1000, "order": "key"})
    best = max(e["score"] for e in by_key)
    check(scores[0] >= best,
          "first row has %g followers, but an entry for %r has %g" % (scores[0], PREFIX, best))
    ok("the API's order=score&dedupe=value answer; top beats all %d key-ordered entries (max %g)"
       % (len(by_key), best))

    wd.send_keys(q, KEY_DOWN)
    first = wd.find("#suggestions .suggestion")
    classes = (wd.attribute(first, "class") or "").split()
    check("active" in classes, "first row not active after ArrowDown (class=%r)" % classes)
    check(wd.attribute(first, "aria-selected") == "true",
          "first row lacks aria-selected=true after ArrowDown")
    ok("ArrowDown highlights the first row")

    wd.send_keys(q, KEY_ENTER)
    name = rows[0]["name"]
    selected = wd.wait_in_page(
        "#selected to name %r" % name,
        "(function (t) { return t.indexOf(%s) >= 0 && t; })(document.getElementById('selected').textContent)"
        % json.dumps(name))
    check("followers" in selected, "#selected lacks the followers: %r" % selected)
    ok("Enter chose it: %s" % selected)

    latency = wd.text(wd.find("#latency"))
    check(re.search(r"\d", latency or ""), "#latency has no digits: %r" % latency)
    ok("latency shown: %s" % latency)

    stats = wd.wait_in_page(
        "#stats to contain 'keys'",
        "(function (t) { return t.indexOf('keys') >= 0 && t; })(document.getElementById('stats').textContent)")
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
