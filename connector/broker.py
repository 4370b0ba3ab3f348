"""The embedded broker: kombu's filesystem transport, made safe for two processes.

kombu creates a message file and then writes into it. A worker polling in between
moves the still-empty file, fails to decode it and stops for good ("Unrecoverable
error: JSONDecodeError"). Here a message is written under a name no queue matches
and renamed into place, so a consumer only ever sees whole messages. Only the
development default uses this; production runs on Redis.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class AtomicChannel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # "partial-<uuid>" has no ".<queue>.msg" part, so _get never picks it up.
        partial = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from exc


class AtomicFilesystemTransport(filesystem.Transport):
    Channel = AtomicChannel
