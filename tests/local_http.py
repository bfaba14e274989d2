"""A throwaway HTTP server on 127.0.0.1 for the download tests (no test touches the network): subclasses build
their request handler and call ``_serve``; ``close`` first lets go of any handler still waiting (``_release``)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable
from typing import Any


class LocalHTTPServer:
    url: str

    def _serve(self, handler: Callable[..., Any]) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def _release(self) -> None:
        """Wake handlers that wait on purpose (stalls, trickles); nothing by default."""

    def close(self) -> None:
        self._release()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
