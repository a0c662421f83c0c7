"""Explaining new anomaly events off the event loop, then storing and publishing the result.

``ExplanationDispatcher`` belongs to the engine. It snapshots what the
worker needs (the window, the online model, the fitted forest), hands it to
the ``ExplanationWorker`` thread, and on the event loop stores the
explanation, refines the event's kind from it and publishes
``ExplanationReady``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import pickle
from collections.abc import Callable

from tui_monitor.detectors.stream import StreamDetector
from tui_monitor.errors import ExplanationError
from tui_monitor.explain import Explanation, ExplanationRequest, ExplanationWorker, kind_for, reasons
from tui_monitor.store import EventRecord, FeatureStore, WindowRecord
from tui_monitor.updates import ExplanationReady, Update

__all__ = ["ExplanationDispatcher"]

logger = logging.getLogger(__name__)


class ExplanationDispatcher:
    """Explain events in a worker thread; store and publish each result on the event loop.

    Args:
        store: where explanations and the refined events are saved.
        publish: the engine's update callback.
        max_score: the alert threshold, passed to the explainer as the
            score a window must reach to count as anomalous.
    """

    def __init__(self, store: FeatureStore, publish: Callable[[Update], None], max_score: float) -> None:
        self._store = store
        self._publish = publish
        self._max_score = max_score
        self.worker = ExplanationWorker()
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, event: EventRecord, window: WindowRecord, detector: StreamDetector) -> None:
        """Explain ``event`` (opened by ``window``) in the worker thread.

        Without a running event loop (scripts driving ``close_windows``), the
        caller waits for the worker instead.
        """
        if event.id is None:
            # The store could not be written (locked or full): the event waits
            # in memory, and an explanation cannot be stored against it yet.
            logger.warning("event on %s not explained: the database is not being written", event.stream)
            return
        # Once the stream has a fitted IsolationForest, the worker explains it
        # with exact tree SHAP (milliseconds); until then, the online stack
        # with the model-agnostic explainer.
        batch = detector.batch
        request = ExplanationRequest(
            event_id=event.id,
            stream=event.stream,
            window_start=window.start,
            features=dict(window.features),
            db_path=self._store.path,
            model_version=detector.model_version,
            # A snapshot (~5 ms to pickle), because the live model keeps learning on the event loop.
            online_model=pickle.dumps(detector.model),
            max_score=self._max_score,
            forest=batch.estimator if batch is not None else None,
            forest_features=tuple(batch.feature_names) if batch is not None else (),
        )
        future = self.worker.submit(request)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._finish(event, future)
            return
        task = asyncio.create_task(self._await(event, future), name=f"explain:{event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await(self, event: EventRecord, future: concurrent.futures.Future[Explanation]) -> None:
        try:
            await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception:
            pass  # _finish reports it
        self._finish(event, future)

    def _finish(self, event: EventRecord, future: concurrent.futures.Future[Explanation]) -> None:
        try:
            explanation = future.result()
        except ExplanationError as exc:
            logger.warning("event %s on %s not explained: %s", event.id, event.stream, exc)
            self._publish(ExplanationReady(event, None, str(exc)))
            return
        except Exception as exc:
            logger.exception("explaining event %s on %s failed", event.id, event.stream)
            self._publish(ExplanationReady(event, None, f"explanation failed: {exc!r}"))
            return
        self._store.save_explanation(explanation.to_row())
        event.kind = kind_for(explanation, default=event.kind)
        self._store.save_event(event)
        logger.info(
            "event %s on %s explained in %.0f ms (%s): %s",
            event.id, event.stream, explanation.elapsed_ms, event.kind, "; ".join(reasons(explanation)),
        )  # fmt: skip
        self._publish(ExplanationReady(event, explanation))

    async def wait(self, timeout_s: float | None = None) -> None:
        """Wait until every requested explanation is stored (or ``timeout_s`` passes)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    async def close(self, grace_s: float) -> None:
        """Give running explanations ``grace_s`` to finish, cancel the rest and stop the worker."""
        await self.wait(timeout_s=grace_s)
        for task in list(self._tasks):
            task.cancel()
        self.worker.shutdown()
