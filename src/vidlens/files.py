"""How vidlens writes a file: owner-only, and atomically (a temp file beside it, then one rename).

Every derived file (timeline, report, keyframes, thumbnails, embeddings, mask and clip videos, library
files, models) can show or describe what is in a video, so it is created owner-only; and a reader, a crash
or a full disk must see either the old file or the whole new one. :func:`replacing` is that rule for any
writer (FFmpeg, NumPy, FAISS, SQLite, our own bytes); :func:`write_bytes_atomic` and
:func:`write_text_atomic` are the short forms for data already in memory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Mode of every file vidlens derives from a video (timeline, report, keyframes, thumbnails, embeddings, mask
#: and clip videos, library files): owner read/write only, because each can show or describe what is in it.
PRIVATE_FILE_MODE = 0o600
#: Mode of the folders vidlens creates for them (their names tell, e.g., how many face tracks there were).
PRIVATE_DIR_MODE = 0o700


def make_private(path: str | Path) -> Path:
    """Give a file :data:`PRIVATE_FILE_MODE`: for a file another program created (a model, a SQLite copy)."""
    os.chmod(path, PRIVATE_FILE_MODE)
    return Path(path)


@contextmanager
def replacing(path: Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a fresh hidden temp path beside ``path`` for a writer to fill; on a clean exit it becomes ``path``.

    The temp file exists (empty, :data:`PRIVATE_FILE_MODE`) before the writer opens it, so the data is never
    readable by others, even for a moment; ``suffix`` keeps the extension writers that guess a format from
    the name need (FFmpeg's muxers, ``np.savez``). On any exception, Ctrl-C included, the temp file is
    removed and ``path`` is left as it was. A folder that has to be created is made owner-only too.
    """
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        make_private(tmp)  # a writer that recreated the file (unlink + create) gets the mode back
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` through :func:`replacing`; ``fsync`` flushes it to disk before the rename
    (the vault does, before it deletes the plaintext the new file replaces)."""
    with replacing(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`replacing`."""
    return write_bytes_atomic(path, text.encode("utf-8"))
