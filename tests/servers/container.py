"""podman for the container test: the engine set up as these machines need it, a base image
made here from Debian's packages (no registry is reachable), and the Dockerfile built on it.

On these machines podman runs only with the `runc` runtime and an empty `default_ulimits`
list (crun's setrlimit is refused), so every call gets a private ``containers.conf``. The
base image is tagged with a digest of its recipe and made only when that tag is missing:
once per machine, not per run. podman's layer cache does the rest: the dependency layer is
rebuilt only when pyproject.toml changes. The build reaches PyPI on the host's network (no
bridge, no NAT); behind the TLS-inspecting egress proxy, pip gets the host's CA bundle as
the build secret ``pip_ca``, which never lands in a layer."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["BASE_PACKAGES", "IMAGE", "Podman"]

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/mailgate:test"

# What the Dockerfile needs from its base: python3 with venv (and ensurepip's wheels),
# groupadd/useradd, and CA certificates for pip at build time.
BASE_PACKAGES = ("passwd", "python3", "python3-venv", "ca-certificates")
_MMDEBSTRAP = [
    "mmdebstrap",
    "--variant=essential",
    # merged /usr the bookworm way (usr-is-merged), not usrmerge, which pulls in perl.
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    "--include=" + ",".join(BASE_PACKAGES),
    "--dpkgopt=force-unsafe-io",  # a throwaway tree: no fsync per file
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "bookworm",
]
# What `podman import` sets, as the official Python images do.
_IMPORT_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
]
_CONTAINERS_CONF = '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n'
_DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")


def _ca_bundle() -> str | None:
    for candidate in (os.environ.get("PIP_CERT"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


class Podman:
    """The podman CLI with this machine's settings; everything it starts is named."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mailgate-podman-"))
        conf = self.root / "containers.conf"
        conf.write_text(_CONTAINERS_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    @staticmethod
    def available() -> bool:
        return shutil.which("podman") is not None

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"podman {' '.join(args[:2])} failed ({result.returncode}):\n"
                f"{result.stderr[-4000:]}\n{result.stdout[-2000:]}"
            )
        return result

    def exists(self, image: str) -> bool:
        return self("image", "exists", image, check=False).returncode == 0

    def inspect(self, ref: str, kind: str = "container") -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(self(kind, "inspect", ref).stdout)
        return data[0]

    def image_size(self, image: str) -> int:
        return int(self.inspect(image, "image")["Size"])

    # -- the base image ------------------------------------------------------------------

    @staticmethod
    def base_recipe() -> list[str]:
        """mmdebstrap's command line: apt's own Debian sources (with the security updates),
        or Debian's mirror where the host has none in the deb822 format."""
        if _DEBIAN_SOURCES.is_file():
            mirror = str(_DEBIAN_SOURCES)
        elif Path("/etc/apt/sources.list").is_file():
            mirror = "/etc/apt/sources.list"
        else:
            mirror = "http://deb.debian.org/debian"
        return [*_MMDEBSTRAP, "OUTPUT", mirror]

    def base_tag(self) -> str:
        recipe = json.dumps([*_MMDEBSTRAP, *_IMPORT_CHANGES]).encode()
        return f"localhost/mailgate-base:bookworm-{hashlib.sha256(recipe).hexdigest()[:12]}"

    def base_image(self) -> tuple[str, float]:
        """The base image's tag, and the seconds it took to make (0 when it existed)."""
        tag = self.base_tag()
        if self.exists(tag):
            return tag, 0.0
        if shutil.which("mmdebstrap") is None:
            raise RuntimeError(
                f"{tag} is not there and mmdebstrap is not installed to make it "
                "(apt-get install mmdebstrap; .ci/run installs it)"
            )
        started = time.monotonic()
        tarball = self.root / "base.tar"
        argv = [str(tarball) if a == "OUTPUT" else a for a in self.base_recipe()]
        made = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900
        )
        if made.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed:\n{made.stderr[-4000:]}")
        changes = [arg for change in _IMPORT_CHANGES for arg in ("--change", change)]
        self("import", *changes, str(tarball), tag, timeout=300)
        tarball.unlink()
        return tag, time.monotonic() - started

    # -- the application image -----------------------------------------------------------

    def build(self, tag: str, base: str) -> float:
        """Build the Dockerfile on `base` (docker format, so HEALTHCHECK is kept)."""
        started = time.monotonic()
        args = [
            "build",
            "--format=docker",  # the OCI format has no HEALTHCHECK
            "--pull=never",
            "--network=host",
            f"--build-arg=BASE_IMAGE={base}",
            f"--tag={tag}",
        ]
        bundle = _ca_bundle()
        if bundle:
            args.append(f"--secret=id=pip_ca,src={bundle}")
        self(*args, str(self._context()), timeout=900)
        return time.monotonic() - started

    def _context(self) -> Path:
        """A still copy of what the build may use (the Dockerfile, .dockerignore and what
        it lets in), so that files the project's tools write meanwhile (.ci/run installs
        and lints while this builds) cannot change under the build."""
        context = self.root / "context"
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir()
        for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, context / name)
        shutil.copytree(
            ROOT / "mailgate",
            context / "mailgate",
            ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"),
        )
        return context

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def prepare() -> int:
    """Make the base image and build the image ahead of the test (.ci/run runs this file in the
    background while the project installs); prints what it made and how long it took."""
    if not Podman.available():
        print("podman is not installed")
        return 1
    engine = Podman()
    try:
        base, base_seconds = engine.base_image()
        made = f"made in {base_seconds:.0f} s" if base_seconds else "cached"
        print(f"{base}: {engine.image_size(base) / 1e6:.0f} MB, {made}")
        seconds = engine.build(IMAGE, base)
        print(f"{IMAGE}: {engine.image_size(IMAGE) / 1e6:.0f} MB, built in {seconds:.0f} s")
    finally:
        engine.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(prepare())
