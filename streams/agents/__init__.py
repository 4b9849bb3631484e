"""faust agents: short loops that move records between topics and call plain logic.

Each module holds one agent. Importing this package registers them on ``streams.app.app``.
"""

from streams.agents import lag, scoring, topics

__all__ = ["lag", "scoring", "topics"]
