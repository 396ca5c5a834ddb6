"""npm package tarballs fetched over HTTPS, verified and cached (pure, no Django).

The evaluation library is built from openly licensed emoji artwork published on the npm
registry. A tarball is looked up in the registry's version document (``GET
{registry}/{name}/{version}``), downloaded from its ``dist.tarball`` URL, checked against
``dist.integrity`` (Subresource Integrity, sha512) or else ``dist.shasum`` (sha1), and kept in a
cache folder with that checksum beside it, so a second build downloads no tarball (and works
offline: without the registry the recorded checksum is used). A cached file is verified again
before use: a truncated or altered file never becomes an input.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGISTRY = "https://registry.npmjs.org"
TIMEOUT_S = 120  # per request; the largest tarball (EmojiOne 2.2.7) is ~95 MB
CHUNK = 1 << 20  # bytes read per network read while downloading


class NpmError(ValueError):
    """A package that cannot be fetched or fails its checksum; the message names it."""


@dataclass(frozen=True)
class NpmPackage:
    """One pinned version of an npm package."""

    name: str  # e.g. "emoji-datasource-google" or "@svgmoji/blob"
    version: str  # exact version, never a range: the library must be reproducible

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def file_name(self) -> str:
        """Cache file name: ``@scope/name`` becomes ``scope-name``."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


@dataclass(frozen=True)
class FetchedPackage:
    """A verified tarball on disk and what the registry said about it."""

    package: NpmPackage
    path: Path
    integrity: str  # the checksum it was verified against ("sha512-..." or "sha1-<hex>")
    licence: str  # the ``license`` field of the version document ("" when absent)
    from_cache: bool


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 (https/file)
        chunks = []
        while chunk := response.read(CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)


def version_document(package: NpmPackage, registry: str = REGISTRY) -> dict[str, Any]:
    """The registry's JSON for one version (name, license, dist.tarball, dist.integrity)."""
    url = f"{registry.rstrip('/')}/{urllib.parse.quote(package.name, safe='@')}/{package.version}"
    try:
        return json.loads(_get(url))
    except (OSError, ValueError) as e:
        raise NpmError(f"{package.spec}: registry lookup {url} failed ({e})") from e


def expected_checksum(dist: dict[str, Any]) -> str:
    """``sha512-<base64>`` from ``dist.integrity`` if present, else ``sha1-<hex>`` from shasum."""
    for token in str(dist.get("integrity", "")).split():
        if token.startswith("sha512-"):
            return token
    if dist.get("shasum"):
        return f"sha1-{dist['shasum']}"
    raise NpmError("the registry gave neither dist.integrity (sha512) nor dist.shasum")


def checksum_matches(data: bytes, expected: str) -> bool:
    """Whether ``data`` has the ``sha512-<base64>`` or ``sha1-<hex>`` checksum."""
    kind, _, value = expected.partition("-")
    if kind == "sha512":
        return base64.b64encode(hashlib.sha512(data).digest()).decode() == value
    if kind == "sha1":
        return hashlib.sha1(data).hexdigest() == value.lower()  # noqa: S324 (npm's own shasum)
    return False


def _cached(path: Path, expected: str) -> bool:
    return path.is_file() and checksum_matches(path.read_bytes(), expected)


def tarball_fetch(
    package: NpmPackage, *, cache_dir: str | Path, registry: str = REGISTRY,
) -> FetchedPackage:
    """The package's tarball, verified, from the cache or else downloaded into it.

    The checksum comes from the registry's version document; only when the registry cannot be
    reached is the one recorded at download time (``<file>.integrity``) used for a cached file.
    A cached file that does not match is fetched again. Raises :class:`NpmError` naming the
    package when the download fails or does not match its checksum (nothing is cached then).
    """
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / package.file_name
    recorded = path.with_name(path.name + ".integrity")
    try:
        document = version_document(package, registry)
    except NpmError:
        if recorded.is_file():
            offline = json.loads(recorded.read_text())
            if _cached(path, offline["integrity"]):
                return FetchedPackage(package, path, offline["integrity"], offline["licence"],
                                      from_cache=True)
        raise
    dist = document.get("dist") or {}
    try:
        expected = expected_checksum(dist)
    except NpmError as e:
        raise NpmError(f"{package.spec}: {e}") from e
    licence = str(document.get("license") or "")
    if _cached(path, expected):
        return FetchedPackage(package, path, expected, licence, from_cache=True)
    url = dist.get("tarball")
    if not url:
        raise NpmError(f"{package.spec}: the registry gave no dist.tarball URL")
    try:
        data = _get(url)
    except OSError as e:
        raise NpmError(f"{package.spec}: download of {url} failed ({e})") from e
    if not checksum_matches(data, expected):
        raise NpmError(f"{package.spec}: {url} does not match its registry checksum "
                       f"{expected[:20]}...; not cached")
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)  # atomic: a killed build never leaves half a tarball under the name
    recorded.write_text(json.dumps({"integrity": expected, "licence": licence}))
    return FetchedPackage(package, path, expected, licence, from_cache=False)
