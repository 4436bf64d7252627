"""What the test stubs share: the JSON-lines record file, the port file and the serve loop that
SIGTERM ends cleanly. Standard library only."""
import argparse
import json
import os
import signal
import sys
import threading


class Record:
    """An append-only JSON-lines file, one flushed line per write, safe between threads."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, rec):
        line = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()


def arg_parser(doc):
    """An argparse parser with the options every stub takes: --port, --host, --record,
    --port-file."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--record", required=True)
    p.add_argument("--port-file")
    return p


def serve(server, port_file):
    """Announces the bound port (stdout line, and port_file written atomically), then serves
    until SIGTERM or Ctrl-C."""
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = server.server_address[1]
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, port_file)
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
