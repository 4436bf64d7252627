#!/usr/bin/env python3
"""An upstream API for cache-proxy tests: counts calls per method and path, and answers in ways
the query string asks for. Standard library only.

GET  /products/ID, /customers/ID, anything     200 JSON: the path, the item's version, the
                                               call number, and the request headers the
                                               proxy forwarded (tenant, accept, x-forwarded-*)
     ?sleep=S        answer after S seconds      ?status=N   answer with status N
     ?size=N         a body of N bytes           ?cc=VALUE   Cache-Control: VALUE
     ?cookie=1       Set-Cookie on the answer
PUT/PATCH/POST/DELETE /ANY                     bumps the item's version, answers 200
                                               (?status=N: N, nothing bumped)
GET  /_calls          {"GET /products/1": 3, ...}  the calls so far (not counted)
POST /_down           every later answer is 503 until POST /_up
Every call is recorded as a JSON line (method, path, headers) in --record."""
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stub_common import Record, arg_parser, serve

lock = threading.Lock()
calls = {}
versions = {}
state = {"down": False}
record = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "keep-alive, X-Hop")
        self.send_header("X-Hop", "must not reach the client")
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def control(self, path):
        if path == "/_calls":
            with lock:
                self.send(200, json.dumps(calls).encode())
        elif path in ("/_down", "/_up"):
            state["down"] = path == "/_down"
            self.send(200, b"{}")
        else:
            return False
        return True

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path.startswith("/_") and self.control(url.path):
            return
        key = "%s %s" % ("GET" if self.command == "HEAD" else self.command, url.path)
        with lock:
            calls[key] = calls.get(key, 0) + 1
            n = calls[key]
            write = self.command in ("PUT", "PATCH", "POST", "DELETE")
            if write and "status" not in q:
                versions[url.path] = versions.get(url.path, 1) + 1
            version = versions.get(url.path, 1)
        record.write({"method": self.command, "path": self.path, "body": body.decode(errors="replace"),
                      "headers": {k.lower(): v for k, v in self.headers.items()}})
        if "sleep" in q:
            time.sleep(float(q["sleep"]))
        if state["down"]:
            return self.send(503, b'{"error":"down"}')
        extra = []
        if "cc" in q:
            extra.append(("Cache-Control", q["cc"]))
        if q.get("cookie"):
            extra.append(("Set-Cookie", "session=s%d" % n))
        status = int(q.get("status", 200))
        if "size" in q:
            return self.send(status, b"x" * int(q["size"]), "application/octet-stream", extra)
        h = self.headers
        doc = {"path": url.path, "query": url.query, "version": version, "call": n,
               "tenant": h.get("X-Tenant"), "accept": h.get("Accept"),
               "lang": h.get("Accept-Language"), "xff": h.get("X-Forwarded-For"),
               "xfh": h.get("X-Forwarded-Host"), "hop": h.get("X-Hop"),
               "connection": h.get("Connection"), "encoding": h.get("Accept-Encoding")}
        self.send(status, json.dumps(doc).encode(), extra=extra)

    do_GET = do_HEAD = do_PUT = do_PATCH = do_POST = do_DELETE = handle_any


def main():
    global record
    args = arg_parser(__doc__).parse_args()
    record = Record(args.record)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    serve(server, args.port_file)


if __name__ == "__main__":
    main()
