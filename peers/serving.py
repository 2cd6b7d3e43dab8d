"""What every peer here shares: a socketserver server on 127.0.0.1, served on a thread of
its own for the length of a `with` block."""

import threading


class Served:
    def __init__(self, server):
        # Handlers still talking when the block ends mustn't keep the test process alive.
        server.daemon_threads = True
        self.server = server
        self.port = server.server_address[1]
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
