"""Allow ``python -m tui_monitor``."""

from __future__ import annotations

from tui_monitor.cli import main

raise SystemExit(main())
