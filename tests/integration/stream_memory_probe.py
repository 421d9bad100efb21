"""Streams one body part from a real IMAP server in a process of its own and prints the
part's SHA-256, its size, the largest chunk and the traced memory peak as JSON.

A process of its own because tracemalloc counts every thread: in the test process, the
in-process servers of other tests would count towards the peak.

    python -m tests.integration.stream_memory_probe HOST PORT CA_FILE USER PASSWORD
        MAILBOX UID SECTION CHUNK_SIZE   (the password is read from stdin)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import tracemalloc

from mailgate.mail.imap import ImapConnection, MailClient
from mailgate.tls import upstream_context


async def _probe(argv: list[str], password: str) -> dict[str, object]:
    host, port, ca_file, user, mailbox, uid, section, chunk_size = argv
    conn = await ImapConnection.open(host, int(port), "tls", upstream_context(ca_file), timeout=10)
    await conn.login(user, password)
    client = MailClient(conn)
    digest = hashlib.sha256()
    max_chunk = total = 0
    tracemalloc.start()
    try:
        stream = await client.stream_section(mailbox, int(uid), section, chunk_size=int(chunk_size))
        size, decoded = stream.size, stream.decoded
        async for chunk in stream:
            max_chunk = max(max_chunk, len(chunk))
            total += len(chunk)
            digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await client.logout()
    return {
        "sha256": digest.hexdigest(),
        "total": total,
        "size": size,
        "decoded": decoded,
        "max_chunk": max_chunk,
        "peak": peak,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_probe(sys.argv[1:], sys.stdin.read()))))
