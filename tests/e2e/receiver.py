#!/usr/bin/python3
"""A webhook receiver for delivery tests, with its own Standard Webhooks verification.

    receiver.py --port 0 --secret whsec_... [--secret ...] --log FILE [--script SPEC]
                [--tolerance SECONDS]

Prints the bound port on the first stdout line, then serves HTTP/1.1 (keep-alive). Every POST
is verified (webhook-id, webhook-timestamp, webhook-signature: any "v1,<base64>" signature of
any secret, HMAC-SHA256 over "id.timestamp.body"; timestamp within --tolerance seconds, default
300, negative disables), logged as one JSON line {"path", "id", "ts", "valid", "type", "body",
"status_sent", "at"} and answered as the script says. SPEC: "/a=500,500,204;/b=204" — per path
a list of behaviours used in order, the last one repeated; paths without a script get 204.
Behaviours: a status ("204", "500", "410"), status:seconds for Retry-After ("429:2", "503:1"),
"hang" (never answers), "slow:MS" (204 after MS milliseconds), "reset" (TCP RST), "big" (200
with a 5 MB body), "redirect" (302 to /redirected). GET /_stats answers {"<path>": posts}.
Only the standard library is used, so the check is independent of the code under test.
"""
import argparse
import base64
import hashlib
import hmac
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_BODY = 16 << 20
BIG_BODY = 5 << 20


def parse_secret(text):
    if not text.startswith("whsec_"):
        raise argparse.ArgumentTypeError("secret must start with whsec_: %r" % text)
    try:
        return base64.b64decode(text[len("whsec_"):], validate=True)
    except ValueError as e:
        raise argparse.ArgumentTypeError("secret %r is not base64: %s" % (text, e))


def parse_script(spec):
    script = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(";"))):
        path, sep, actions = part.partition("=")
        steps = [a.strip() for a in actions.split(",") if a.strip()]
        if not sep or not path.startswith("/") or not steps:
            raise argparse.ArgumentTypeError("bad script entry %r (want /path=b1,b2)" % part)
        for step in steps:
            check_behaviour(step)
        script[path] = steps
    return script


def check_behaviour(step):
    name, _, arg = step.partition(":")
    if name in ("hang", "reset", "big", "redirect") and not arg:
        return
    if name == "slow" and arg.isdigit():
        return
    if name.isdigit() and 100 <= int(name) <= 599 and (not arg or arg.isdigit()):
        return
    raise argparse.ArgumentTypeError("unknown behaviour %r" % step)


def verify(secrets, headers, body, tolerance):
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sig = headers.get("webhook-signature")
    if not msg_id or not ts or not sig or not ts.isdigit():
        return False
    if tolerance >= 0 and abs(time.time() - int(ts)) > tolerance:
        return False
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = [base64.b64encode(hmac.new(k, signed, hashlib.sha256).digest()) for k in secrets]
    for item in sig.split(" "):
        version, _, value = item.partition(",")
        if version != "v1":
            continue
        for e in expected:
            if hmac.compare_digest(e, value.encode()):
                return True
    return False


class State:
    def __init__(self, args):
        self.secrets = args.secret
        self.script = args.script
        self.tolerance = args.tolerance
        self.log = open(args.log, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.posts = {}
        self.stop = threading.Event()

    def next_behaviour(self, path):
        """Returns the behaviour for this POST to path and counts it."""
        with self.lock:
            n = self.posts.get(path, 0)
            self.posts[path] = n + 1
            steps = self.script.get(path, ["204"])
            return steps[min(n, len(steps) - 1)]

    def write(self, record):
        line = json.dumps(record, separators=(",", ":"))
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set in main

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        if urlsplit(self.path).path == "/_stats":
            with self.state.lock:
                body = json.dumps(self.state.posts).encode()
            self.answer(200, body, [("Content-Type", "application/json")])
        else:
            self.answer(404)

    def do_POST(self):
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self.answer(413)
            return
        body = self.rfile.read(length)
        valid = verify(self.state.secrets, self.headers, body, self.state.tolerance)
        behaviour = self.state.next_behaviour(path)
        name, _, arg = behaviour.partition(":")
        try:
            event_type = json.loads(body).get("type")
        except (ValueError, AttributeError):
            event_type = None
        ts = self.headers.get("webhook-timestamp")
        sent = int(name) if name.isdigit() else (200 if name in ("big", "slow") else name)
        if name == "slow":
            sent = 204
        if name == "redirect":
            sent = 302
        self.state.write({"path": path, "id": self.headers.get("webhook-id"),
                          "ts": int(ts) if ts and ts.isdigit() else ts, "valid": valid,
                          "type": event_type, "body": body.decode("utf-8", "replace"),
                          "status_sent": sent, "at": time.time()})
        self.act(name, arg)

    def act(self, name, arg):
        if name == "hang":
            self.state.stop.wait()
            self.close_connection = True
        elif name == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif name == "slow":
            time.sleep(int(arg) / 1000.0)
            self.answer(204)
        elif name == "big":
            self.answer(200, b"x" * BIG_BODY, [("Content-Type", "text/plain")])
        elif name == "redirect":
            self.answer(302, b"", [("Location", "/redirected")])
        else:
            headers = [("Retry-After", arg)] if arg else []
            self.answer(int(name), b"", headers)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--secret", type=parse_secret, action="append", default=[])
    p.add_argument("--log", required=True)
    p.add_argument("--script", type=parse_script, default={})
    p.add_argument("--tolerance", type=int, default=300)
    args = p.parse_args()
    Handler.state = State(args)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        Handler.state.stop.set()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
