"""The read horizon: how far the oldest running transaction holds back readers of the log.

Readers of the global order (StreamEvents, projections, anyone following the log) stop
below the oldest transaction still running in the database server, in any database, so an
event that commits late is never skipped. The price: one transaction left open anywhere (an
idle-in-transaction session, a forgotten prepared transaction) stalls every follower,
although writes go on. This report says whether that is happening and who holds it, for the
service's periodic warning and for operators (README: "Read horizon").
"""

from dataclasses import asdict, dataclass
from typing import Any

MAX_HIDDEN_EVENTS_COUNTED = 100_000
"""Hidden events are counted up to this many: the count is a scan past the horizon."""


@dataclass(frozen=True)
class HorizonHolder:
    """The oldest transaction holding an id: the one readers wait for."""

    kind: str
    """"session" (a connection, see pid) or "prepared" (a prepared transaction, see gid)."""
    database: str | None
    role: str | None
    transaction_id: int
    """The 32-bit id pg_stat_activity.backend_xid and pg_prepared_xacts show."""
    open_seconds: float | None
    """How long it has been open (for a session: since its transaction began)."""
    pid: int | None = None
    application: str | None = None
    state: str | None = None
    """pg_stat_activity.state, e.g. "idle in transaction"."""
    gid: str | None = None


@dataclass(frozen=True)
class ReadHorizon:
    horizon_transaction_id: int
    """Readers see only events of transactions below this id (pg_snapshot_xmin)."""
    next_transaction_id: int
    hidden_events: int
    """Committed events readers cannot see yet (at most MAX_HIDDEN_EVENTS_COUNTED)."""
    holder: HorizonHolder | None
    """None when no transaction holds an id, or when its session is not visible to this
    role (grant it pg_read_all_stats to see every session)."""

    @property
    def transactions_behind(self) -> int:
        """Transaction ids assigned since the horizon's: how far it lags, in transactions."""
        return self.next_transaction_id - self.horizon_transaction_id

    @property
    def held_seconds(self) -> float:
        """How long the known holder has been open (0 if none is known)."""
        if self.holder is None or self.holder.open_seconds is None:
            return 0.0
        return self.holder.open_seconds

    def as_dict(self) -> dict[str, Any]:
        """For logs and the command line."""
        return {
            **asdict(self),
            "transactions_behind": self.transactions_behind,
            "held_seconds": round(self.held_seconds, 3),
        }
