"""Credentials: recognising tokens in text, hiding them from output, reading them from env.

Executors never take a token as an argument: a token comes only from the environment variable
an argument names, and no token value may reach facts, exception messages or log tails.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from goap.executor import ActionFailed
from goap.loading.secrets import MASK, scrub, secret_values


@dataclass(frozen=True)
class SecretPattern:
    """A kind of secret and the regular expression that finds it (group 1 = the secret part)."""

    kind: str
    regex: re.Pattern[str]


SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,})")),
    SecretPattern("GitHub fine-grained token", re.compile(r"\b(github_pat_[A-Za-z0-9_]{30,})")),
    SecretPattern("Hugging Face token", re.compile(r"\b(hf_[A-Za-z0-9]{30,})")),
    SecretPattern("AWS access key id", re.compile(r"\b((?:AKIA|ASIA)[0-9A-Z]{16})\b")),
    SecretPattern("private key", re.compile(r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)")),
    SecretPattern("password in URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]{3,})@")),
    SecretPattern(
        "token assignment",
        re.compile(
            r"(?i)\b[a-z0-9_]*(?:token|secret|password|passwd|api_key|apikey|access_key)\b"
            r"[\"']?\s*[:=]\s*[\"']?([^\s\"'$<>{}()\[\],;`]{20,})"
        ),
    ),
)


@dataclass(frozen=True)
class SecretFinding:
    """Where a secret was seen: line number (1-based) and kind, never the value."""

    line: int
    kind: str


def find_secrets(text: str) -> list[SecretFinding]:
    """Lines of ``text`` holding something shaped like a credential (first kind per line)."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern in SECRET_PATTERNS:
            if pattern.regex.search(line):
                findings.append(SecretFinding(line=number, kind=pattern.kind))
                break
    return findings


def redact(text: str, values: Iterable[str] = ()) -> str:
    """``text`` with the given values, secret-named env values and credential shapes masked.

    Env values are found as the engine finds them (goap.loading.secrets): both mask the same.
    """
    hidden = {*secret_values(), *(value for value in values if value)}
    text = scrub(text, sorted(hidden, key=len, reverse=True))
    for pattern in SECRET_PATTERNS:
        text = pattern.regex.sub(lambda m: m.group(0).replace(m.group(1), MASK), text)
    return text


def token_from_env(variable: str, purpose: str) -> str:
    """The token held by environment variable ``variable``; fails naming the variable if unset."""
    token = os.environ.get(variable, "").strip()
    if not token:
        raise ActionFailed(
            f"environment variable {variable} is not set; export a token for {purpose} "
            f"in {variable} (or name another variable in the config's token_env)",
            facts={"token_env": variable, "token_present": False},
        )
    return token
