#!/usr/bin/env python3
"""A hostile OpenAI-compatible engine for tests: every POST streams CHUNKS content chunks
(server-sent events) whatever max_tokens the request asked for, then [DONE].

Usage: runaway_engine.py CHUNKS   (listens on 127.0.0.1, prints "listening http://HOST:PORT")
"""
import http.server
import sys

CHUNKS = int(sys.argv[1])
EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        batch = EVENT * 1000
        for _ in range(CHUNKS // 1000):
            self.wfile.write(batch)
        self.wfile.write(EVENT * (CHUNKS % 1000))
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
