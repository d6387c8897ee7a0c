"""Composition roots: the hub and the transcryptor host, each wired once from `Settings`."""

from __future__ import annotations

from shugu.runtime.hub import Hub

__all__ = ["Hub"]
