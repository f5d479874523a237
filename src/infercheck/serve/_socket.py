"""The listening socket the reference endpoint serves on."""

from __future__ import annotations

import socket


def listening(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A bound TCP socket whose accepted connections send small writes at once. asyncio sets TCP_NODELAY only on
    sockets made with proto IPPROTO_TCP (uvicorn's own are not), and accepted connections inherit it from here.
    Without it a sequential request stalls up to 40 ms on Nagle and delayed ACKs, and a stream's events are held
    back, which would falsify the latency the endpoint injects."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
