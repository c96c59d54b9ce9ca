"""Requests whose event ids never repeat, made from templates at the cost of one join.

The processor stores an event id once, so a pipeline benchmark that reused
bodies would measure deduplication, not storing. A template is a complete
HTTP request cut at every event id's last 12 hex digits and at every
`player_id`; filling it is `b"".join` over a list whose fill slots are
replaced by two extended-slice assignments, a few microseconds for a
29 KB request. An event id is the template's own random prefix (distinct
per event, checked) plus a 12-hex suffix from (phase, load process,
request number), so ids are unique over a run as long as no (phase,
process, number) repeats. The first player comes from a pool and picks the
template; with `events_per_player` N, every N events of the request go to
the next player of the pool that shares the template (what a mobile SDK's
flush of one player looks like, many players per request), so a player
keeps one segment and one event mix, as a real one does.

A marker request carries one event whose player id is new (`m` + phase +
marker number): its row in `players` appears when the batch holding it
commits, which is what the freshness measurement polls for.
"""

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec

from apps.bench.bodies import body
from apps.bench.loadgen import build_request

ID_FILL: Final = 12
"""Hex digits of an event id replaced per request (its last group)."""
PLAYER_FILL: Final = 12
"""Characters of every `player_id` (fixed width, so Content-Length never changes)."""
_ID_HOLE: Final = "0" * ID_FILL
_PLAYER_HOLE: Final = "~" * PLAYER_FILL
MAX_SEQ: Final = 16**8
MAX_MARKER: Final = 10**9


def id_suffix(phase: int, process: int, seq: int) -> bytes:
    """The 12 hex digits that make a request's event ids unique: phase, process, number."""
    if not (0 <= phase < 256 and 0 <= process < 256 and 0 <= seq < MAX_SEQ):
        raise ValueError(f"phase {phase}, process {process}, seq {seq} out of range")
    return b"%02x%02x%08x" % (phase, process, seq)


def player_fill(player: int) -> bytes:
    return b"p%011d" % player


def marker_id(phase: int, number: int) -> str:
    """The player id of marker `number` in `phase`; sorts in marker order within a phase."""
    if not (0 <= phase < 256 and 0 <= number < MAX_MARKER):
        raise ValueError(f"marker {number} of phase {phase} out of range")
    return f"m{phase:02x}{number:09d}"


def marker_bounds(phase: int) -> tuple[str, str]:
    """[low, high) of the marker ids of `phase` in `players.player_id` (C collation)."""
    return f"m{phase:02x}", f"m{phase:02x}~"


@dataclass(frozen=True, slots=True)
class Template:
    """A request cut into chunks; fill slots alternate event id, player, event id, player..."""

    parts: tuple[bytes, ...]
    """chunk, id, chunk, player, chunk, ..., chunk (fill slots hold placeholders)."""
    events: int


def make_template(events: list[dict[str, Any]], sent_at: str, head: bytes) -> Template:
    """Cut `head` (with `{length}` for the Content-Length) + the encoded body at the fills.

    Each event's id keeps its first 24 characters (they must differ between
    events); its last 12 and the whole `player_id` become fill slots.
    """
    for ev in events:
        ev["event_id"] = str(ev["event_id"])[: 36 - ID_FILL] + _ID_HOLE
        ev["player_id"] = _PLAYER_HOLE
    data = msgspec.json.encode({"events": events, "sent_at": sent_at})
    request = head.replace(b"{length}", b"%d" % len(data)) + data
    player_key = b'"player_id":"'
    parts: list[bytes] = []
    at = 0
    for ev in events:
        id_start = request.index(ev["event_id"].encode(), at) + 36 - ID_FILL
        player_start = request.index(player_key, id_start) + len(player_key)
        for start, width in ((id_start, ID_FILL), (player_start, PLAYER_FILL)):
            parts += [request[at:start], request[start : start + width]]
            at = start + width
    parts.append(request[at:])
    return Template(tuple(parts), len(events))


@dataclass(frozen=True, slots=True)
class UniqueRequests:
    """Picklable source of requests for the load generator (see `apps/bench/loadgen.py`)."""

    templates: tuple[Template, ...]
    phase: int
    players: int
    marker_every: int = 0
    """Open loop: every Nth request (by global slot) carries a marker; 0 for none."""
    events_per_player: int = 0
    """Consecutive events of one player in a request; 0: the whole request is one player's."""

    def __post_init__(self) -> None:
        per_template = self.players // len(self.templates)
        n = self.templates[0].events
        groups = -(-n // self.events_per_player) if self.events_per_player else 1
        if groups > max(per_template, 1):
            raise ValueError(
                f"{groups} players per request, but only {per_template} players share each "
                f"template: raise players to at least {groups * len(self.templates)}"
            )

    def _players(self, first: int, n: int) -> list[bytes]:
        """The player of each of a request's `n` events (fill slots), starting at `first`.

        A player always takes the same slice of its template (the player's index among
        those sharing the template, modulo the slices), so a player's events never come
        earlier than its first one, as in a stream where offline play is rare."""
        k = self.events_per_player
        if not k or k >= n:
            return [player_fill(first)] * n
        count = len(self.templates)
        slices = -(-n // k)
        usable = (self.players // count) // slices * slices
        base, block = first % count, (first // count) % usable // slices * slices
        return [player_fill(base + count * (block + i // k)) for i in range(n)]

    def request(self, process: int, seq: int, slot: int | None = None) -> tuple[bytes, str | None]:
        """Request number `seq` of load process `process`, and its marker id if it has one.

        `slot` is the open loop's global request number (markers are chosen by it).
        """
        player = (seq * 7919 + process * 104729) % self.players
        template = self.templates[player % len(self.templates)]
        parts = list(template.parts)
        n = template.events
        parts[1::4] = [id_suffix(self.phase, process, seq)] * n
        parts[3::4] = self._players(player, n)
        marker = None
        if self.marker_every and slot is not None and slot % self.marker_every == 0:
            marker = marker_id(self.phase, slot // self.marker_every)
            parts[-2] = marker.encode()
        return b"".join(parts), marker


def unique_requests(
    *,
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    templates: int,
    events: int,
    phase: int,
    players: int,
    now: datetime,
    marker_every: int = 0,
    seed: int = 1,
    events_per_player: int = 0,
) -> UniqueRequests:
    """Templates from `bodies.body` (one player's session each) with every id prefix distinct."""
    rng = random.Random(seed)
    head = build_request(host=host, port=port, path=path, body=b"", headers=headers)
    head = head.replace(b"Content-Length: 0", b"Content-Length: {length}")
    built: list[Template] = []
    prefixes: set[str] = set()
    for _ in range(templates):
        envelope = msgspec.json.decode(body(rng, events=events, now=now))
        for ev in envelope["events"]:
            # Fresh random prefixes: the body's own ids come from the same seeded stream.
            ev["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            prefixes.add(ev["event_id"][: 36 - ID_FILL])
        built.append(make_template(envelope["events"], envelope["sent_at"], head))
    if len(prefixes) != templates * events:
        raise AssertionError("two template events share an id prefix; pick another seed")
    return UniqueRequests(tuple(built), phase, players, marker_every, events_per_player)


def body_of(request: bytes) -> bytes:
    """The body of a complete request (for checks)."""
    return request.partition(b"\r\n\r\n")[2]


def event_ids(requests: Sequence[bytes]) -> list[str]:
    """Every event id in these requests (for checks)."""
    ids: list[str] = []
    for request in requests:
        ids += [ev["event_id"] for ev in msgspec.json.decode(body_of(request))["events"]]
    return ids
