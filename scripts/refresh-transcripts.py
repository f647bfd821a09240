#!/usr/bin/env python3
"""Reruns the console transcripts of a section of docs/api.md against a
fresh server and writes their real output back.

Usage: scripts/refresh-transcripts.py BINARY "## 7. Tries" ["## 8. Stacks"]

Starts `BINARY serve` on a free port with an empty data directory, then runs
every `$ curl ...` line of the ```console blocks between the two headings
(the second defaults to the next `## ` heading), in order, with TA set to
the server's URL, and replaces the lines after each command with what it
printed. Lines of other commands are left as they are.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    binary, start = sys.argv[1], sys.argv[2]
    end = sys.argv[3] if len(sys.argv) > 3 else None
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "api.md")
    lines = open(path, encoding="utf-8").read().split("\n")
    first = lines.index(start)
    last = len(lines)
    for i in range(first + 1, len(lines)):
        if (end is None and lines[i].startswith("## ")) or lines[i] == end:
            last = i
            break
    port = free_port()
    data = tempfile.mkdtemp()
    server = subprocess.Popen(
        [binary, "serve", "--addr", "127.0.0.1:%d" % port, "--data-dir", data],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ta = "http://127.0.0.1:%d" % port
    for _ in range(100):
        try:
            urllib.request.urlopen(ta + "/healthz")
            break
        except OSError:
            time.sleep(0.1)
    out = lines[:first]
    i = first
    in_console = False
    try:
        while i < last:
            line = lines[i]
            out.append(line)
            i += 1
            if line.startswith("```console"):
                in_console = True
                continue
            if line.startswith("```"):
                in_console = False
                continue
            if in_console and line.startswith("$ curl"):
                res = subprocess.run(["bash", "-c", line[2:]], capture_output=True, text=True,
                                     env=dict(os.environ, TA=ta))
                printed = res.stdout.rstrip("\n").replace("\r", "")
                if printed:
                    out.extend(printed.split("\n"))
                while i < last and not lines[i].startswith("$ ") and not lines[i].startswith("```"):
                    i += 1
    finally:
        server.terminate()
        server.wait()
    out.extend(lines[last:])
    open(path, "w", encoding="utf-8").write("\n".join(out))


if __name__ == "__main__":
    main()
