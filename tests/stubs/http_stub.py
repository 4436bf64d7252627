#!/usr/bin/python3
"""An HTTP API stub for workflow tests: records every request, answers as told.

    http_stub.py --port 0 --record FILE [--port-file F] [--host H] [--dedup]
                 [--fail PATH=STATUS:COUNT[:RETRY_AFTER] ...] [--respond PATH=STATUS:BODY ...]
                 [--sleep PATH=SECONDS ...]

Prints the bound port on the first stdout line (and writes it to --port-file, atomically), then
serves HTTP/1.1 with keep-alive on every method. Each request is appended to FILE as one JSON
line, flushed at once: {"method", "path", "query", "headers" (names in lower case), "body" (JSON
when it parses, else text, null when empty), "idempotency_key", "status" (what was answered),
"repeat", "client_port" (the same on a kept-alive connection), "at" (unix seconds)}.

PATH is exact, or a prefix when it ends with "*" ("/api/tickets/*"); the first match wins.
  --fail /api/x=503:2       the first 2 requests to /api/x get 503 (the third part, when given,
                            is sent as Retry-After: "503:2:5", or an HTTP date)
  --respond /api/p=201:{"id":"p_1"}
                            the answer to /api/p; BODY is JSON (sent as application/json) or
                            text (text/plain), or @FILE for a file's contents
  --sleep /slow=2.5         waits that long before answering
  --dedup                   a request whose Idempotency-Key was answered before (other than by
                            --fail) gets that same answer again and is recorded "repeat": true,
                            like Stripe's idempotent requests
Paths without --respond get 200 {"ok":true}. SIGTERM stops the server cleanly. Standard library
only, so what it records is independent of the code under test.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from stub_common import Record, arg_parser, serve

MAX_BODY = 16 << 20


def path_arg(text):
    path, sep, rest = text.partition("=")
    if not sep or not path.startswith("/") or not rest:
        raise argparse.ArgumentTypeError("want /path=VALUE, got %r" % text)
    return path, rest


def status_arg(text):
    if not text.isdigit() or not 100 <= int(text) <= 599:
        raise argparse.ArgumentTypeError("bad HTTP status %r" % text)
    return int(text)


def fail_arg(text):
    path, rest = path_arg(text)
    parts = rest.split(":", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise argparse.ArgumentTypeError("want /path=STATUS:COUNT[:RETRY_AFTER], got %r" % text)
    return path, [status_arg(parts[0]), int(parts[1]), parts[2] if len(parts) > 2 else None]


def respond_arg(text):
    path, rest = path_arg(text)
    status, sep, body = rest.partition(":")
    if body.startswith("@"):
        with open(body[1:], "rb") as f:
            raw = f.read()
    else:
        raw = body.encode()
    try:
        json.loads(raw)
        ctype = "application/json"
    except ValueError:
        ctype = "text/plain; charset=utf-8"
    return path, (status_arg(status), raw, ctype)


def sleep_arg(text):
    path, rest = path_arg(text)
    try:
        return path, float(rest)
    except ValueError:
        raise argparse.ArgumentTypeError("want /path=SECONDS, got %r" % text)


def lookup(table, path):
    for pattern, value in table:
        if pattern == path or (pattern.endswith("*") and path.startswith(pattern[:-1])):
            return value
    return None


class State:
    def __init__(self, args):
        self.fail = args.fail
        self.respond = args.respond
        self.sleep = args.sleep
        self.dedup = args.dedup
        self.answers = {}  # Idempotency-Key -> (status, body, ctype)
        self.record = Record(args.record)
        self.lock = threading.Lock()

    def decide(self, path, key):
        """Returns (status, body, ctype, headers, repeat) for one request, counting --fail."""
        with self.lock:
            if self.dedup and key and key in self.answers:
                return self.answers[key] + ([], True)
            fail = lookup(self.fail, path)
            if fail and fail[1] > 0:
                fail[1] -= 1
                headers = [("Retry-After", fail[2])] if fail[2] else []
                body = json.dumps({"error": "stub failure %d" % fail[0]}).encode()
                return fail[0], body, "application/json", headers, False
            answer = lookup(self.respond, path) or (200, b'{"ok":true}', "application/json")
            if self.dedup and key:
                self.answers[key] = answer
            return answer + ([], False)


def parse_body(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set in main

    def log_message(self, fmt, *args):  # quiet: the record file is the log
        pass

    def handle_any(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self.send_error(413)
            return
        raw = self.rfile.read(length)
        key = self.headers.get("Idempotency-Key")
        pause = lookup(self.state.sleep, url.path)
        if pause:
            time.sleep(pause)
        status, body, ctype, extra, repeat = self.state.decide(url.path, key)
        self.state.record.write({
            "method": self.command, "path": url.path, "query": url.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": parse_body(raw), "idempotency_key": key, "status": status,
            "repeat": repeat, "client_port": self.client_address[1], "at": time.time()})
        self.send_response(status)
        for name, value in extra + [("Content-Type", ctype)]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main():
    p = arg_parser(__doc__)
    p.add_argument("--dedup", action="store_true")
    p.add_argument("--fail", type=fail_arg, action="append", default=[])
    p.add_argument("--respond", type=respond_arg, action="append", default=[])
    p.add_argument("--sleep", type=sleep_arg, action="append", default=[])
    args = p.parse_args()
    Handler.state = State(args)
    serve(ThreadingHTTPServer((args.host, args.port), Handler), args.port_file)


if __name__ == "__main__":
    sys.exit(main())
