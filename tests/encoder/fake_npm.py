"""A tiny npm registry on loopback for the evaluation-library tests: hand-made tarballs,
version documents with their real checksums, and a count of what was downloaded."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw


def tarball(files: dict[str, bytes]) -> bytes:
    """A .tgz holding ``files`` (names as npm packs them: ``package/...``)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def png(colour: tuple[int, int, int], shape: int, size: int = 32) -> bytes:
    """An RGBA drawing on transparency: ``shape`` picks the figure, ``colour`` the ink."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    box = (4 + shape, 4, size - 4, size - 4 - shape)
    (draw.ellipse if shape % 2 else draw.rectangle)(box, fill=(*colour, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def svg(colour: str, shape: int) -> bytes:
    figure = (f'<circle cx="36" cy="36" r="{20 + shape}" fill="{colour}"/>' if shape % 2 else
              f'<rect x="{10 + shape}" y="12" width="48" height="40" fill="{colour}"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 72 72">{figure}'
            "</svg>").encode()


@dataclass
class FakeRegistry:
    """Packages by name -> {version: tarball bytes}; ``tamper`` serves other bytes than the
    checksum says; ``shasum_only`` gives sha1 instead of sha512 integrity."""

    packages: dict[str, dict[str, bytes]] = field(default_factory=dict)
    tamper: set[str] = field(default_factory=set)
    shasum_only: set[str] = field(default_factory=set)
    downloads: Counter = field(default_factory=Counter)
    url: str = ""

    def add(self, name: str, version: str, files: dict[str, bytes]) -> None:
        self.packages.setdefault(name, {})[version] = tarball(files)

    def document(self, name: str, version: str) -> dict:
        data = self.packages[name][version]
        file_name = f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        dist = {"tarball": f"{self.url}/tarballs/{name}/{version}/{file_name}"}
        if name in self.shasum_only:
            dist["shasum"] = hashlib.sha1(data).hexdigest()  # noqa: S324 (npm's format)
        else:
            dist["integrity"] = sri_sha512(data)
        return {"name": name, "version": version, "license": "MIT", "dist": dist}


def _handler(registry: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet test output
            pass

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            from urllib.parse import unquote

            path = unquote(self.path)
            if path.startswith("/tarballs/"):
                rest = path[len("/tarballs/"):]
                name, version = rest.rsplit("/", 1)[0].rsplit("/", 1)
                data = registry.packages.get(name, {}).get(version)
                if data is None:
                    self.send_error(404)
                    return
                registry.downloads[name] += 1
                self._send(data + b"x" if name in registry.tamper else data,
                           "application/octet-stream")
                return
            name, _, version = path.lstrip("/").rpartition("/")
            if version not in registry.packages.get(name, {}):
                self.send_error(404)
                return
            self._send(json.dumps(registry.document(name, version)).encode(),
                       "application/json")

    return Handler


@contextmanager
def serving(registry: FakeRegistry) -> Iterator[FakeRegistry]:
    """Serves ``registry`` on 127.0.0.1 (a free port) for the ``with`` block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
    registry.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
