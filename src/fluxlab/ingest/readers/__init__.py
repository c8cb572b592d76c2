"""Readers: each turns one input format into a stream of `ReadChunk`s (batches + rejects)."""

from fluxlab.ingest.readers.base import ReadChunk, ReaderError

__all__ = ["ReadChunk", "ReaderError"]
