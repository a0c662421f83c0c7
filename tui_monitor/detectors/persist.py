"""Save detector state to the feature store and load it back after a restart.

Format and why: models are pickled, because river and scikit-learn models
are plain picklable objects and writing their trees as JSON would mean
keeping a second serializer in step with both libraries. Unpickling runs code, so a
payload is loaded only when both hold:

* the database file is owned by the current user and neither group- nor
  world-writable (``check_trusted_file``), and
* the payload's HMAC-SHA256 matches one made with this user's model key, a
  random secret in a file only the user can read (``load_key``).

A database copied from elsewhere, or written by someone else, therefore
starts its models afresh instead of running what is inside it.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import os
import pickle
import secrets
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from tui_monitor.errors import DetectorError

if TYPE_CHECKING:
    from tui_monitor.detectors.config import DetectorConfig
    from tui_monitor.detectors.stream import StreamDetector
    from tui_monitor.store import FeatureStore

__all__ = ["check_trusted_file", "default_key_path", "load_key", "restore_detectors", "save_detectors", "sign", "unpickle_verified"]

logger = logging.getLogger(__name__)

_KEY_BYTES = 32


def default_key_path() -> Path:
    """Return the model key's default path in the user's data folder."""
    return Path(platformdirs.user_data_dir("tui-monitor")) / "model.key"


def check_trusted_file(path: Path) -> None:
    """Check that ``path`` is owned by this user and not writable by group or others.

    Raises:
        DetectorError: the file is someone else's or too open, naming the fix.
    """
    info = path.stat()
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise DetectorError(
            f"{str(path)!r} is owned by uid {info.st_uid!r}, not by you: saved models are not loaded from it; "
            "use your own --db file"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise DetectorError(
            f"{str(path)!r} is writable by group or others (mode {stat.filemode(info.st_mode)!r}): saved models "
            f"are not loaded from it; run chmod go-w {str(path)!r}"
        )


def load_key(path: Path | None = None) -> bytes:
    """Return the user's model key, creating it (mode 0600) on first use.

    A key file of the wrong length is what a crash while creating it left
    behind, so it is replaced with a new key. Models signed with the old
    content then fail their check and are trained afresh.

    Raises:
        DetectorError: the key file is not the user's or is readable by others.
    """
    path = path or default_key_path()
    if not path.exists():
        _write_key(path, is_replacing=False)
    check_trusted_file(path)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DetectorError(f"model key {str(path)!r} is readable by others; run chmod 600 {str(path)!r}")
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        logger.warning(
            "model key %s has %d bytes, not %d: it was cut short while being created; "
            "writing a new key, so saved models are trained afresh",
            path, len(key), _KEY_BYTES,
        )  # fmt: skip
        _write_key(path, is_replacing=True)
        key = path.read_bytes()
    return key


def _write_key(path: Path, *, is_replacing: bool) -> None:
    """Write a new random key to a temporary file, then move it to ``path`` in one step.

    Readers therefore see no key file or a whole one, never a partial key.
    Unless ``is_replacing``, a key another process created first is kept.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        if is_replacing:
            os.replace(temp, path)
            return
        try:
            # A hard link fails when the name exists, unlike a rename, so two
            # engines starting at once end up with the same key.
            os.link(temp, path)
        except FileExistsError:
            pass
    finally:
        temp.unlink(missing_ok=True)


def sign(payload: bytes, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``payload``."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def unpickle_verified(payload: bytes, signature: str, key: bytes) -> Any:
    """Unpickle ``payload`` only if ``signature`` is its HMAC under ``key``.

    Raises:
        DetectorError: the signature does not match (another key, or altered data).
    """
    if not hmac.compare_digest(sign(payload, key), signature or ""):
        raise DetectorError("saved model signature does not match this user's model key; the model is not loaded")
    return pickle.loads(payload)  # noqa: S301 (verified above)


def save_detectors(store: FeatureStore, detectors: dict[str, StreamDetector], key: bytes) -> int:
    """Save every detector's online state and batch model; return how many rows were written."""
    written = 0
    for stream, detector in list(detectors.items()):
        batch = detector.batch
        # A shallow copy without the batch model is pickled, and the detector is left
        # alone, because the batch trainer's thread may swap in a new model meanwhile.
        online = copy.copy(detector)
        online.batch = None
        payload = pickle.dumps(online, protocol=pickle.HIGHEST_PROTOCOL)
        metrics = {"windows_seen": detector.windows_seen}
        store.save_model(stream, "online", detector.model_version, payload, sign(payload, key), metrics)
        written += 1
        if batch is not None:
            payload = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
            store.save_model(stream, "batch", batch.version, payload, sign(payload, key), {"rows": batch.n_rows})
            written += 1
    return written


def restore_detectors(store: FeatureStore, key: bytes, config_for: Any) -> dict[str, StreamDetector]:
    """Load saved detectors whose config still matches ``config_for(stream)``.

    Rows that fail the checks are skipped with a warning; the stream then
    starts learning afresh.
    """
    from tui_monitor.detectors.batch import IsolationForestModel
    from tui_monitor.detectors.stream import StreamDetector

    try:
        check_trusted_file(store.path)
    except DetectorError as exc:
        logger.warning("%s", exc)
        return {}
    rows = store.load_models()
    detectors: dict[str, StreamDetector] = {}
    for row in sorted(rows, key=lambda r: r["kind"] != "online"):
        stream = row["stream"]
        try:
            obj = unpickle_verified(row["payload"], row["signature"], key)
        except DetectorError as exc:
            logger.warning("stream %s: saved %s model not loaded: %s", stream, row["kind"], exc)
            continue
        except Exception as exc:
            # The signature matched, so the payload is one this user saved. It still
            # fails, with any exception type, when river, scikit-learn or this code
            # changed since. The stream then learns afresh instead of stopping the start.
            logger.warning("stream %s: saved %s model not loaded: %r", stream, row["kind"], exc, exc_info=True)
            continue
        if row["kind"] == "online":
            config: DetectorConfig = config_for(stream)
            if not isinstance(obj, StreamDetector) or obj.config != config:
                logger.info("stream %s: detector settings changed since the save; learning afresh", stream)
                continue
            detectors[stream] = obj
        elif stream in detectors and isinstance(obj, IsolationForestModel):
            detectors[stream].set_batch_model(obj)
    if detectors:
        logger.info("restored detectors of %d streams from %s", len(detectors), store.path)
    return detectors
