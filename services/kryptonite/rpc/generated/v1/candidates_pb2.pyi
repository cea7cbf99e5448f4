from kryptonite.rpc.generated.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SourceQuota(_message.Message):
    __slots__ = ("source", "limit")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    source: _common_pb2.CandidateSource
    limit: int
    def __init__(self, source: _Optional[_Union[_common_pb2.CandidateSource, str]] = ..., limit: _Optional[int] = ...) -> None: ...

class GetCandidatesRequest(_message.Message):
    __slots__ = ("user_id", "recent_movie_ids", "list_movie_ids", "limit", "sources", "exclude_movie_ids")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    RECENT_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    LIST_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    recent_movie_ids: _containers.RepeatedScalarFieldContainer[int]
    list_movie_ids: _containers.RepeatedScalarFieldContainer[int]
    limit: int
    sources: _containers.RepeatedCompositeFieldContainer[SourceQuota]
    exclude_movie_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, user_id: _Optional[int] = ..., recent_movie_ids: _Optional[_Iterable[int]] = ..., list_movie_ids: _Optional[_Iterable[int]] = ..., limit: _Optional[int] = ..., sources: _Optional[_Iterable[_Union[SourceQuota, _Mapping]]] = ..., exclude_movie_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class GetCandidatesResponse(_message.Message):
    __slots__ = ("candidates", "model_version", "cold_start")
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    COLD_START_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[_common_pb2.ScoredMovie]
    model_version: str
    cold_start: bool
    def __init__(self, candidates: _Optional[_Iterable[_Union[_common_pb2.ScoredMovie, _Mapping]]] = ..., model_version: _Optional[str] = ..., cold_start: _Optional[bool] = ...) -> None: ...
