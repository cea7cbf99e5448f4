from kryptonite.rpc.generated.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RankModel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RANK_MODEL_UNSPECIFIED: _ClassVar[RankModel]
    RANK_MODEL_STAGE_TWO: _ClassVar[RankModel]
    RANK_MODEL_NEUMF: _ClassVar[RankModel]
RANK_MODEL_UNSPECIFIED: RankModel
RANK_MODEL_STAGE_TWO: RankModel
RANK_MODEL_NEUMF: RankModel

class RankCandidate(_message.Message):
    __slots__ = ("movie_id", "retrieval_score", "source")
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_SCORE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    movie_id: int
    retrieval_score: float
    source: _common_pb2.CandidateSource
    def __init__(self, movie_id: _Optional[int] = ..., retrieval_score: _Optional[float] = ..., source: _Optional[_Union[_common_pb2.CandidateSource, str]] = ...) -> None: ...

class RankRequest(_message.Message):
    __slots__ = ("user_id", "candidates", "limit", "diversity", "recent_movie_ids", "list_movie_ids", "low_rated_movie_ids", "model")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    RECENT_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    LIST_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    LOW_RATED_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    candidates: _containers.RepeatedCompositeFieldContainer[RankCandidate]
    limit: int
    diversity: float
    recent_movie_ids: _containers.RepeatedScalarFieldContainer[int]
    list_movie_ids: _containers.RepeatedScalarFieldContainer[int]
    low_rated_movie_ids: _containers.RepeatedScalarFieldContainer[int]
    model: RankModel
    def __init__(self, user_id: _Optional[int] = ..., candidates: _Optional[_Iterable[_Union[RankCandidate, _Mapping]]] = ..., limit: _Optional[int] = ..., diversity: _Optional[float] = ..., recent_movie_ids: _Optional[_Iterable[int]] = ..., list_movie_ids: _Optional[_Iterable[int]] = ..., low_rated_movie_ids: _Optional[_Iterable[int]] = ..., model: _Optional[_Union[RankModel, str]] = ...) -> None: ...

class RankResponse(_message.Message):
    __slots__ = ("items", "model_version", "fallback", "fallback_reason")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_common_pb2.ScoredMovie]
    model_version: str
    fallback: bool
    fallback_reason: str
    def __init__(self, items: _Optional[_Iterable[_Union[_common_pb2.ScoredMovie, _Mapping]]] = ..., model_version: _Optional[str] = ..., fallback: _Optional[bool] = ..., fallback_reason: _Optional[str] = ...) -> None: ...
