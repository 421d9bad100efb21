"""The example configuration (config/mailgate.example.toml), which the README points
operators to: it loads as it stands, and it names every setting mailgate reads, except the
secrets that are only taken from files and the settings only code can set."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

from mailgate.config import Config, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "mailgate.example.toml"

# Not in the example, on purpose: passwords come from *_FILE variables (named in a comment),
# the private-address allowance is for tests only, and mail domains are tables of their own.
NOT_NAMED = {
    ("store", "redis_password"),
    ("store", "sentinel_password"),
    ("proxy", "allow_private_addresses"),
    ("domains", "entries"),
}


def test_the_example_loads_without_any_environment() -> None:
    config = load_config(EXAMPLE, environ={})
    assert config.sieve.security == "starttls"
    assert config.store.backend == "memory"


def test_the_example_names_every_setting() -> None:
    # Each [section]'s text, up to the next section header.
    parts = re.split(r"^\[([a-z_]+)\]\s*$", EXAMPLE.read_text(), flags=re.M)
    blocks = dict(zip(parts[1::2], parts[2::2], strict=True))
    missing = []
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        assert section.name in blocks, f"[{section.name}] is not in the example"
        for setting in dataclasses.fields(hints[section.name]):
            if (section.name, setting.name) in NOT_NAMED:
                continue
            # Set, or shown commented out, at the start of a line of its own section.
            if not re.search(rf"^#?\s*{setting.name}\s*=", blocks[section.name], re.M):
                missing.append(f"{section.name}.{setting.name}")
    assert missing == []
