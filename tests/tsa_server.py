"""A real RFC 3161 timestamp authority for tests: OpenSSL's `openssl ts -reply` behind a
small HTTP server. Run as a process: `python tests/tsa_server.py FOLDER PORT`, where
FOLDER holds the `tsa.cnf` that tests/tsa.py writes. Each POST body (a TimeStampReq) is
answered with the TimeStampResp that `openssl ts -reply` makes for it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    folder, port = Path(sys.argv[1]), int(sys.argv[2])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with tempfile.TemporaryDirectory() as work:
                (Path(work) / "q.tsq").write_bytes(query)
                done = subprocess.run(
                    [
                        "openssl",
                        "ts",
                        "-reply",
                        "-config",
                        str(folder / "tsa.cnf"),
                        "-queryfile",
                        f"{work}/q.tsq",
                        "-out",
                        f"{work}/r.tsr",
                    ],
                    capture_output=True,
                    check=False,
                )
                if done.returncode != 0:
                    self.send_error(500, done.stderr.decode(errors="replace")[:200])
                    return
                answer = (Path(work) / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
