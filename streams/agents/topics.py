"""Put lost topics back while the faust worker runs (a broker that restarts without its
storage loses them; the embedded one keeps everything in memory).

aiokafka reports no client errors to riskstream, so the faust engine checks on a timer
what the fast engine checks on client errors (:class:`~streams.admin.BrokerWatch`); the
check runs in the watch's thread, off the event loop.
"""

from __future__ import annotations

from streams.admin import BrokerWatch
from streams.app import app, settings

TOPIC_CHECK_S = 2.0

watch = BrokerWatch(settings, "scorer")


@app.timer(interval=TOPIC_CHECK_S)
async def keep_topics() -> None:
    watch.start().suspect()
