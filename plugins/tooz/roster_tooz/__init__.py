"""Roster as a tooz backend: ``coordination.get_coordinator('roster://HOST:PORT', b'id')``.

See :mod:`roster_tooz.driver`.
"""

from roster_tooz.driver import RosterDriver

__all__ = ["RosterDriver"]
