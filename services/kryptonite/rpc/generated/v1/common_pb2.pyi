from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CandidateSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANDIDATE_SOURCE_UNSPECIFIED: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_MF: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_ITEM2ITEM: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_CONTENT: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_POPULAR: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_ITEM_RIDGE: _ClassVar[CandidateSource]

class ReasonKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REASON_KIND_UNSPECIFIED: _ClassVar[ReasonKind]
    REASON_KIND_BECAUSE_WATCHED: _ClassVar[ReasonKind]
    REASON_KIND_BECAUSE_LISTED: _ClassVar[ReasonKind]
    REASON_KIND_POPULAR: _ClassVar[ReasonKind]
    REASON_KIND_PERSONALIZED: _ClassVar[ReasonKind]
    REASON_KIND_SIMILAR: _ClassVar[ReasonKind]
CANDIDATE_SOURCE_UNSPECIFIED: CandidateSource
CANDIDATE_SOURCE_MF: CandidateSource
CANDIDATE_SOURCE_ITEM2ITEM: CandidateSource
CANDIDATE_SOURCE_CONTENT: CandidateSource
CANDIDATE_SOURCE_POPULAR: CandidateSource
CANDIDATE_SOURCE_ITEM_RIDGE: CandidateSource
REASON_KIND_UNSPECIFIED: ReasonKind
REASON_KIND_BECAUSE_WATCHED: ReasonKind
REASON_KIND_BECAUSE_LISTED: ReasonKind
REASON_KIND_POPULAR: ReasonKind
REASON_KIND_PERSONALIZED: ReasonKind
REASON_KIND_SIMILAR: ReasonKind

class Reason(_message.Message):
    __slots__ = ("kind", "anchor_movie_id", "text")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    kind: ReasonKind
    anchor_movie_id: int
    text: str
    def __init__(self, kind: _Optional[_Union[ReasonKind, str]] = ..., anchor_movie_id: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class ScoredMovie(_message.Message):
    __slots__ = ("movie_id", "score", "source", "reason")
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    movie_id: int
    score: float
    source: CandidateSource
    reason: Reason
    def __init__(self, movie_id: _Optional[int] = ..., score: _Optional[float] = ..., source: _Optional[_Union[CandidateSource, str]] = ..., reason: _Optional[_Union[Reason, _Mapping]] = ...) -> None: ...
