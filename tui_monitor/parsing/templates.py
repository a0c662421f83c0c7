"""Template mining with Drain3: one miner per log stream.

Messages (headers already stripped) are masked with one alternation regex
and then clustered by Drain3's fixed-depth tree. Each cluster is a template
with a stable integer id. The miner's state serializes to bytes so the ids
survive restarts; the pipeline keeps it in the feature store.
"""

from __future__ import annotations

import base64
import logging
import zlib
from dataclasses import dataclass

import jsonpickle
from drain3.drain import Drain

from tui_monitor.errors import StoreError
from tui_monitor.parsing.masks import WILDCARD, mask_message

__all__ = ["MinerSettings", "TemplateMatch", "TemplateMiner"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MinerSettings:
    """Drain settings shared by every stream.

    Attributes:
        sim_th: share of equal tokens (0..1) a message needs to join a template.
        depth: depth of Drain's prefix tree; depth - 2 leading tokens route a message.
        max_children: children per tree node before tokens fall back to the wildcard.
        max_clusters: templates kept per stream (least recently used dropped), None for all.
        warmup_lines: messages seen before a new template counts as news.
    """

    sim_th: float = 0.5
    depth: int = 4
    max_children: int = 100
    max_clusters: int | None = 2000
    warmup_lines: int = 1000


@dataclass(frozen=True)
class TemplateMatch:
    """The template a message joined."""

    template_id: int
    template: str
    is_new: bool  # the message created the template, after warm-up


class TemplateMiner:
    """Mine templates from messages of one stream.

    Args:
        settings: Drain settings; the defaults suit every layout we measured.
        state: bytes from ``save_state`` to resume from, or None to start empty.

    Raises:
        StoreError: ``state`` cannot be decoded.
    """

    def __init__(self, settings: MinerSettings | None = None, state: bytes | None = None) -> None:
        self.settings = settings or MinerSettings()
        self.lines_seen = 0
        self._drain = self._new_drain()
        if state is not None:
            self._load(state)

    def _new_drain(self) -> Drain:
        s = self.settings
        return Drain(
            sim_th=s.sim_th,
            depth=s.depth,
            max_children=s.max_children,
            max_clusters=s.max_clusters,
            param_str=WILDCARD,
            parametrize_numeric_tokens=True,
        )

    def add(self, message: str) -> TemplateMatch:
        """Mask ``message``, add it to its template and return the match."""
        masked = mask_message(message)
        cluster, change = self._drain.add_log_message(masked)
        self.lines_seen += 1
        is_new = change == "cluster_created" and self.lines_seen > self.settings.warmup_lines
        return TemplateMatch(cluster.cluster_id, cluster.get_template(), is_new)

    def template(self, template_id: int) -> str | None:
        """Return the current text of a template, or None if unknown."""
        cluster = self._drain.id_to_cluster.get(template_id)
        return None if cluster is None else cluster.get_template()

    def templates(self) -> list[tuple[int, str, int]]:
        """Return (id, template, message count) of every template."""
        return [(c.cluster_id, c.get_template(), c.size) for c in self._drain.clusters]

    @property
    def is_warm(self) -> bool:
        """True once the miner has seen its warm-up share of messages."""
        return self.lines_seen >= self.settings.warmup_lines

    def save_state(self) -> bytes:
        """Serialize the tree, the templates and the line count to bytes."""
        payload = jsonpickle.dumps({"drain": self._drain, "lines_seen": self.lines_seen}, keys=True)
        return base64.b64encode(zlib.compress(payload.encode("utf-8")))

    def _load(self, state: bytes) -> None:
        try:
            payload = jsonpickle.loads(zlib.decompress(base64.b64decode(state)).decode("utf-8"), keys=True)
            drain = payload["drain"]
            lines_seen = int(payload["lines_seen"])
        except (ValueError, TypeError, KeyError, zlib.error, UnicodeDecodeError) as exc:
            raise StoreError(
                f"saved template miner state is unreadable ({exc}); "
                "delete the stream's row from the miner_state table to start mining afresh"
            ) from exc
        if not isinstance(drain, Drain):
            raise StoreError(
                f"saved template miner state holds {type(drain).__name__!r}, not a Drain tree; "
                "delete the stream's row from the miner_state table to start mining afresh"
            )
        fresh = self._new_drain()
        fresh.id_to_cluster = drain.id_to_cluster
        fresh.clusters_counter = drain.clusters_counter
        fresh.root_node = drain.root_node
        self._drain = fresh
        self.lines_seen = lines_seen
        logger.debug("template miner resumed with %d templates after %d lines", len(fresh.clusters), lines_seen)
