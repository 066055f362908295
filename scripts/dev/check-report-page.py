#!/usr/bin/env python3
"""Loads a report page in headless Chromium through the DevTools protocol (over a pipe, no port)
and prints what a test needs to judge it, as one JSON object:

  requests        every request the page made (URLs), the page's own file:// load included
  console_errors  console messages of level error/warning, CSP violations and exceptions
  elements        how many <script>, <img>, <iframe>, <object>, <link> elements the DOM holds
  text_has        for each --text STRING: whether the page's visible text contains it
  screenshot      the PNG written for --screenshot ID (the element with that id), if asked

Usage: check-report-page.py PAGE.html [--screenshot ID OUT.png] [--width PX] [--text STRING]...
Needs `chromium` (Debian's package; scripts/test.sh installs it). Used by tests/report_browser.rs.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    args = sys.argv[1:]
    page = os.path.abspath(args.pop(0))
    shot, width, texts = None, 1100, []
    while args:
        flag = args.pop(0)
        if flag == "--screenshot":
            shot = (args.pop(0), args.pop(0))
        elif flag == "--width":
            width = int(args.pop(0))
        elif flag == "--text":
            texts.append(args.pop(0))
        else:
            sys.exit(f"unknown flag {flag}")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    profile = tempfile.mkdtemp(prefix="report-chromium-")

    def child_fds():
        # Copies first: a pipe's own descriptor may be 3 or 4 (and dup2 onto itself would keep
        # its close-on-exec flag).
        read_end, write_end = os.dup(to_chrome_r), os.dup(from_chrome_w)
        os.dup2(read_end, 3)
        os.dup2(write_end, 4)

    chrome = subprocess.Popen(
        [
            "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            f"--user-data-dir={profile}", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--disable-default-apps", "--hide-scrollbars", f"--window-size={width},900", "about:blank",
        ],
        preexec_fn=child_fds, close_fds=False,
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "stderr.log"), "wb"),
    )
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    writer, reader = os.fdopen(to_chrome_w, "wb", buffering=0), os.fdopen(from_chrome_r, "rb", buffering=0)
    buf, events, ids = b"", [], [0]

    def read_message(deadline):
        nonlocal buf
        while b"\0" not in buf:
            if time.time() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = reader.read(65536)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            buf += chunk
        raw, buf = buf.split(b"\0", 1)
        return json.loads(raw)

    def call(method, params=None, session=None):
        ids[0] += 1
        msg = {"id": ids[0], "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        writer.write(json.dumps(msg).encode() + b"\0")
        deadline = time.time() + 30
        while True:
            m = read_message(deadline)
            if m.get("id") == ids[0]:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            events.append(m)

    try:
        target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            call(f"{domain}.enable", session=session)
        call("Page.navigate", {"url": "file://" + page}, session=session)
        deadline = time.time() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in events):
            events.append(read_message(deadline))
        time.sleep(0.5)
        counts = call("Runtime.evaluate", {"returnByValue": True, "expression": """JSON.stringify(
            Object.fromEntries(['script','img','iframe','object','link','embed'].map(t =>
              [t, document.getElementsByTagName(t).length])))"""}, session=session)
        elements = json.loads(counts["result"]["value"])
        text = call("Runtime.evaluate", {"returnByValue": True, "expression": "document.body.innerText"},
                    session=session)["result"]["value"]
        result = {"elements": elements, "text_has": {t: t in text for t in texts}}
        if shot:
            element_id, out = shot
            rect = call("Runtime.evaluate", {"returnByValue": True, "expression": f"""(() => {{
                const r = document.getElementById({json.dumps(element_id)}).getBoundingClientRect();
                return JSON.stringify({{x: r.left + window.scrollX, y: r.top + window.scrollY,
                                        width: r.width, height: r.height}}); }})()"""}, session=session)
            clip = json.loads(rect["result"]["value"])
            clip = {k: round(v) for k, v in clip.items()}
            clip["scale"] = 1
            png = call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True},
                       session=session)["data"]
            with open(out, "wb") as f:
                f.write(base64.b64decode(png))
            result["screenshot"] = out
        # Anything still queued.
        writer.write(json.dumps({"id": 999999, "method": "Browser.getVersion"}).encode() + b"\0")
        while True:
            m = read_message(time.time() + 10)
            if m.get("id") == 999999:
                break
            events.append(m)
    finally:
        chrome.kill()
        chrome.wait()
    requests, problems = [], []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Network.requestWillBeSent":
            requests.append(p["request"]["url"])
        elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            problems.append(p["entry"].get("text", ""))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            problems.append(str(p.get("args")))
        elif method == "Runtime.exceptionThrown":
            problems.append(str(p.get("exceptionDetails")))
    result["requests"] = requests
    result["console_errors"] = problems
    print(json.dumps(result))


if __name__ == "__main__":
    main()
