#!/usr/bin/env python3
"""A fixture NVIDIA DCGM exporter for the tests: a real HTTP server on 127.0.0.1 that answers
GET /metrics with recorded dcgm-exporter text (tests/fixtures/dcgm/), the given files in turn
(the last one repeated), and 404 for any other path. Prints "listening http://127.0.0.1:PORT"
once it accepts connections, then serves until killed.

Usage: dcgm_exporter.py SCRAPE1.prom [SCRAPE2.prom ...]
"""
import http.server
import sys
import threading

BODIES = [open(path, "rb").read() for path in sys.argv[1:]]
served = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        global served
        if self.path != "/metrics":
            self.send_error(404)
            return
        with lock:
            body = BODIES[min(served, len(BODIES) - 1)]
            served += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
