#!/usr/bin/python3
"""A minimal SMTP server for workflow tests: accepts every message and records it.

    smtp_sink.py --port 0 --record FILE [--port-file F] [--host H] [--fail-first N]
                 [--reject ADDRESS ...]

Prints the bound port on the first stdout line (and writes it to --port-file, atomically).
Speaks EHLO/HELO, MAIL FROM, RCPT TO, DATA (dot-unstuffed), RSET, NOOP and QUIT; no AUTH, no
STARTTLS. Each accepted message is appended to FILE as one JSON line, flushed at once:
{"from", "to" (the RCPT addresses), "message_id", "subject" (RFC 2047 decoded), "header_from",
"header_to", "cc", "date", "text", "html" (null when absent), "content_type", "raw_size", "repeat" (true when
that Message-ID was accepted before), "at"}. --fail-first N answers 451 to the first N DATA
commands (a temporary failure: the client should retry); --reject answers 550 to RCPT TO of
that address (a permanent one). SIGTERM stops the server cleanly.
"""
import email
import email.policy
import socketserver
import sys
import threading
import time

from stub_common import Record, arg_parser, serve

MAX_LINE = 64 * 1024
MAX_MESSAGE = 16 << 20


class State:
    def __init__(self, args):
        self.record = Record(args.record)
        self.fail_left = args.fail_first
        self.reject = set(args.reject)
        self.seen = set()
        self.lock = threading.Lock()

    def take_failure(self):
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return True
            return False

    def first_time(self, message_id):
        with self.lock:
            if message_id in self.seen:
                return False
            self.seen.add(message_id)
            return True


def header(msg, name):
    value = msg.get(name)
    return str(value) if value is not None else None


def part_text(msg, subtype):
    part = msg.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else None


def address(arg):
    """The address inside "FROM:<a@b> SIZE=1" → "a@b"."""
    _, _, rest = arg.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1:].split(">", 1)[0]
    return rest.split(" ", 1)[0]


class Handler(socketserver.StreamRequestHandler):
    state = None  # set in main

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(MAX_LINE)
        if not line:
            raise EOFError
        return line

    def handle(self):
        self.reset()
        self.reply("220 smtp-sink ESMTP")
        try:
            while self.command(self.readline().rstrip(b"\r\n").decode("utf-8", "replace")):
                pass
        except (EOFError, ConnectionError):
            pass

    def reset(self):
        self.sender, self.rcpts = None, []

    def command(self, line):
        """Answers one command; returns False after QUIT."""
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            self.reply("250-smtp-sink\r\n250-8BITMIME\r\n250 SIZE %d" % MAX_MESSAGE)
        elif verb == "HELO":
            self.reply("250 smtp-sink")
        elif verb == "MAIL" and arg.upper().startswith("FROM:"):
            self.reset()
            self.sender = address(arg)
            self.reply("250 OK")
        elif verb == "RCPT" and arg.upper().startswith("TO:"):
            if self.sender is None:
                self.reply("503 MAIL first")
            elif address(arg) in self.state.reject:
                self.reply("550 5.1.1 mailbox unavailable")
            else:
                self.rcpts.append(address(arg))
                self.reply("250 OK")
        elif verb == "DATA":
            self.data()
        elif verb in ("RSET", "NOOP"):
            if verb == "RSET":
                self.reset()
            self.reply("250 OK")
        elif verb == "QUIT":
            self.reply("221 bye")
            return False
        else:
            self.reply("502 command not implemented")
        return True

    def data(self):
        if self.sender is None or not self.rcpts:
            self.reply("503 MAIL and RCPT first")
            return
        if self.state.take_failure():
            self.reply("451 4.3.0 try again later")
            return
        self.reply("354 end with <CRLF>.<CRLF>")
        raw, size = [], 0
        while True:
            line = self.readline()
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size <= MAX_MESSAGE:
                raw.append(line)
        if size > MAX_MESSAGE:
            self.reply("552 message too big")
        else:
            self.store(b"".join(raw))
            self.reply("250 OK queued")
        self.reset()

    def store(self, raw):
        # SMTP lines end in CRLF; the parser keeps them in bodies, the records use "\n"
        msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        message_id = header(msg, "Message-ID")
        self.state.record.write({
            "from": self.sender, "to": self.rcpts, "message_id": message_id,
            "subject": header(msg, "Subject"), "header_from": header(msg, "From"),
            "header_to": header(msg, "To"), "cc": header(msg, "Cc"), "date": header(msg, "Date"),
            "text": part_text(msg, "plain"), "html": part_text(msg, "html"),
            "content_type": msg.get_content_type(),
            "raw_size": len(raw), "repeat": not self.state.first_time(message_id),
            "at": time.time()})


def main():
    p = arg_parser(__doc__)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--reject", action="append", default=[])
    args = p.parse_args()
    Handler.state = State(args)
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    serve(socketserver.ThreadingTCPServer((args.host, args.port), Handler), args.port_file)


if __name__ == "__main__":
    sys.exit(main())
