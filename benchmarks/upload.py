"""Upload a 50 MB file to mailgate and print the server process's peak RSS growth.

The upload is streamed into the encrypted vault; the target (issue 4) is growth < 16 MB.

    .venv/bin/python benchmarks/upload.py [--mb 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator

from harness import EMAIL, PASSWORD, peak_growth_kb, reset_peak, running
from webclient import BrowserTab


async def _body(size: int) -> AsyncIterator[bytes]:
    chunk = os.urandom(256 * 1024)
    sent = 0
    while sent < size:
        piece = chunk[: size - sent]
        sent += len(piece)
        yield piece


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    limits = {
        "MAILGATE_LIMITS_UPLOAD_MAX_BYTES": str(size + 1),
        "MAILGATE_LIMITS_SESSION_UPLOAD_MAX_BYTES": str(2 * size),
    }
    with running(**limits) as bench:
        tab = BrowserTab(bench.url, bench.web_ssl)
        try:
            await tab.login(EMAIL, PASSWORD)
            base = reset_peak(bench.pid)
            started = time.perf_counter()
            stored = (await tab.upload(_body(size), "big.bin"))["size"]
            elapsed = time.perf_counter() - started
            growth_mb = peak_growth_kb(bench.pid, base) / 1024
        finally:
            await tab.close()
    assert stored == size, (stored, size)
    mb = size / 1024 / 1024
    verdict = "PASS" if growth_mb < 16 else "FAIL"
    print(f"upload: {mb:.0f} MiB in {elapsed * 1000:.0f} ms ({mb / elapsed:.0f} MiB/s)")
    print(f"server peak RSS growth: {growth_mb:.1f} MiB (< 16): {verdict}")
    return 0 if growth_mb < 16 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
