"""The words of a recommendation's reason, in one table.

The services know a reason's kind and anchor movie but not titles, so they send the
generic text; the gateway, which renders titles, names the anchor ("Because you added
Alien"); the web pages read the anchor back from that text for a row's title.
"""

from __future__ import annotations

from kryptonite.rpc.generated.v1 import common_pb2

#: Text of each kind when the anchor's title is not known (what the services send).
GENERIC = {
    common_pb2.REASON_KIND_BECAUSE_WATCHED: "Because you watched a similar movie",
    common_pb2.REASON_KIND_BECAUSE_LISTED: "Because you added a similar movie to your list",
    common_pb2.REASON_KIND_POPULAR: "Popular right now",
    common_pb2.REASON_KIND_PERSONALIZED: "Picked for your taste",
    common_pb2.REASON_KIND_SIMILAR: "Similar to this movie",
}
#: Text of the kinds that name their anchor, before the anchor's title.
ANCHORED = {
    common_pb2.REASON_KIND_BECAUSE_LISTED: "Because you added ",
    common_pb2.REASON_KIND_BECAUSE_WATCHED: "Because you watched ",
    common_pb2.REASON_KIND_SIMILAR: "Similar to ",
}


def generic_text(kind: int) -> str:
    """The services' text for ``kind`` ("" for an unspecified kind)."""
    return GENERIC.get(kind, "")


def anchored_text(kind: int, anchor_title: str) -> str | None:
    """The reason naming its anchor, None for kinds that name none."""
    prefix = ANCHORED.get(kind)
    return f"{prefix}{anchor_title}" if prefix else None


def anchor_title_in(text: str) -> str | None:
    """The anchor's title in a text made by :func:`anchored_text`, else None."""
    for prefix in ANCHORED.values():
        if text.startswith(prefix) and text not in GENERIC.values():
            return text[len(prefix) :] or None
    return None
