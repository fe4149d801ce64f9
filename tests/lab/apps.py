#!/usr/bin/env python3
"""Application servers for the lab's payload scenario, in the server namespace:

    8080  HTTP/1.1: /ok answers 200, /bad-gateway answers 502 (as a proxy whose backend died)
    8443  the same over TLS, with the self-signed certificate given on the command line
    2222  an SSH identification string, then whatever the client sends, then close

Prints "ready" once all three listen, and runs until killed.

Usage: apps.py ADDRESS CERT KEY"""
import http.server
import socket
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - the http.server name
        code, body = (502, b"bad gateway\n") if self.path == "/bad-gateway" else (200, b"ok\n")
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_http(address, port, context=None):
    server = http.server.ThreadingHTTPServer((address, port), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def serve_banner(address, port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(16)

    def loop():
        while True:
            conn, _ = listener.accept()
            conn.settimeout(5)
            try:
                conn.sendall(b"SSH-2.0-tcpsleuth_lab\r\n")
                conn.recv(512)
            except OSError:
                pass
            conn.close()

    threading.Thread(target=loop, daemon=True).start()


def main():
    address, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    serve_http(address, 8080)
    serve_http(address, 8443, context)
    serve_banner(address, 2222)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
