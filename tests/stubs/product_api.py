#!/usr/bin/python3
"""An upstream API stub for cache tests: GET /products/<id> answers the file DIR/<id>.json.

    product_api.py --port 0 --record FILE --dir DIR [--port-file F] [--host H]

Prints the bound port on the first stdout line (and writes it to --port-file, atomically).
GET /products/<id> reads DIR/<id>.json when the request arrives and answers it (200,
application/json; 404 when there is no such file), so a test changes the API's answer by
rewriting the file. When DIR/<id>.hold exists at that moment, the answer (as read on arrival)
is held back until DIR/<id>.release appears (at most 30 s): a slow upstream call that began
before a change and ends after it, on the test's signal instead of a timer. Each request is
appended to FILE as one JSON line when it arrives: {"method", "path", "tenant" (X-Tenant),
"held", "at"}. PUT /products/<id> is a change of the API's data: its body becomes
DIR/<id>.json (replaced atomically) and is answered, 200. Other paths: 404. SIGTERM stops it.
Standard library only.
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stub_common import Record, arg_parser, serve

HOLD_MAX_S = 30


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    dir = None
    record = None

    def log_message(self, fmt, *args):  # quiet: the record file is the log
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def product(self):
        """The path and the product id of the request ("" when it names none)."""
        path = self.path.split("?", 1)[0]
        pid = path[len("/products/"):] if path.startswith("/products/") else ""
        return path, "" if "/" in pid or pid.startswith(".") else pid

    def do_PUT(self):
        path, pid = self.product()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not pid:
            self.answer(404, b'{"error":"not found"}')
            return
        base = os.path.join(self.dir, pid)
        with open(base + ".tmp", "wb") as f:
            f.write(body)
        os.rename(base + ".tmp", base + ".json")
        self.record.write({"method": "PUT", "path": path, "tenant": self.headers.get("X-Tenant"),
                           "held": False, "at": time.time()})
        self.answer(200, body)

    def do_GET(self):
        path, pid = self.product()
        if not pid:
            self.answer(404, b'{"error":"not found"}')
            return
        base = os.path.join(self.dir, pid)
        held = os.path.exists(base + ".hold")
        try:
            with open(base + ".json", "rb") as f:
                body = f.read()
        except FileNotFoundError:
            body = None
        self.record.write({"method": self.command, "path": path,
                           "tenant": self.headers.get("X-Tenant"), "held": held,
                           "at": time.time()})
        deadline = time.time() + HOLD_MAX_S
        while held and not os.path.exists(base + ".release") and time.time() < deadline:
            time.sleep(0.02)
        if body is None:
            self.answer(404, b'{"error":"no such product"}')
        else:
            self.answer(200, body)

    do_HEAD = do_GET

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main():
    p = arg_parser(__doc__)
    p.add_argument("--dir", required=True)
    args = p.parse_args()
    Handler.dir = args.dir
    Handler.record = Record(args.record)
    serve(ThreadingHTTPServer((args.host, args.port), Handler), args.port_file)


if __name__ == "__main__":
    sys.exit(main())
