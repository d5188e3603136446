"""Is a process that wrote a heartbeat still there? (status must not call a killed daemon
"running" for minutes: a heartbeat names its pid and host, and a pid that is gone on this
host settles it at once.)"""

from __future__ import annotations

import os
import socket
from typing import Any


def process_gone(info: dict[str, Any]) -> bool:
    """True when the heartbeat's process ran on this host and no longer exists."""
    pid, host = info.get("pid"), info.get("host")
    if not isinstance(pid, int) or pid <= 0 or host != socket.gethostname():
        return False  # another machine (or an old heartbeat): only its age can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by another user
        return False
    return False
