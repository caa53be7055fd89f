"""A stand-in for the proxy's stats socket, for the tests of every package (the core's, the
benchmark's, the scripts'): it listens on 127.0.0.1 or on a unix socket in a temporary folder and
answers each connection with reply(command bytes) -> bytes. Standard library only."""

import os
import socket
import tempfile
import threading
import time


class FakeStatsServer:
    """Answers each connection with reply(command bytes) -> bytes, sent in the given pieces; records
    what it read and whether the client half-closed (an EOF after the command)."""

    def __init__(self, family, reply, pieces=1, delay=0.0):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_UNIX:
            self.dir = tempfile.mkdtemp(prefix="spcore-test-")
            self.addr = ("unix", os.path.join(self.dir, "stats.sock"))
            self.sock.bind(self.addr[1])
        else:
            self.sock.bind(("127.0.0.1", 0))
            self.addr = ("127.0.0.1", self.sock.getsockname()[1])
        self.sock.listen(8)
        self.reply, self.pieces, self.delay = reply, pieces, delay
        self.got, self.eof = [], []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while True:  # the client half-closes after its command: read to EOF
                        chunk = conn.recv(4096)
                        if not chunk:
                            self.eof.append(True)
                            break
                        data += chunk
                except socket.timeout:
                    self.eof.append(False)
                self.got.append(data)
                out = self.reply(data)
                n = max(1, len(out) // self.pieces + 1)
                for i in range(0, len(out), n):
                    time.sleep(self.delay)
                    try:
                        conn.sendall(out[i:i + n])
                    except OSError:
                        break

    def close(self):
        self.sock.close()
