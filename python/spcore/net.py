"""Local TCP ports: whether one accepts connections, and fresh ones for a test to listen on."""

import socket


def port_open(host, port, timeout=1.0):
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def free_ports(n, host="127.0.0.1"):
    """n TCP ports the kernel just handed out (bound together, then released)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports
