"""Start Ralph 5.1 (file backend) under uvicorn, with writes that append.

Ralph's file LRS backend writes statements with operation type CREATE, which fails as
soon as its statements file exists, so every POST after the first gets 500. This
launcher makes the backend append, the behaviour an operator would configure, and is
run with Ralph's own interpreter: ``RALPH_VENV/bin/python bench/ralph_launcher.py PORT``.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

_write = FSLRSBackend.write


def _append(
    self: Any,
    data: Any,
    target: Any = None,
    chunk_size: Any = None,
    ignore_errors: bool = False,
    operation_type: Any = None,
) -> int:
    return _write(self, data, target, chunk_size, ignore_errors, BaseOperationType.APPEND)


FSLRSBackend.write = _append  # type: ignore[method-assign]

if __name__ == "__main__":
    uvicorn.run("ralph.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
