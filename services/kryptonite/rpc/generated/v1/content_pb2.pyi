from kryptonite.rpc.generated.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SimilarMoviesRequest(_message.Message):
    __slots__ = ("movie_id", "limit")
    MOVIE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    movie_id: int
    limit: int
    def __init__(self, movie_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class SimilarMoviesResponse(_message.Message):
    __slots__ = ("movies", "model_version")
    MOVIES_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    movies: _containers.RepeatedCompositeFieldContainer[_common_pb2.ScoredMovie]
    model_version: str
    def __init__(self, movies: _Optional[_Iterable[_Union[_common_pb2.ScoredMovie, _Mapping]]] = ..., model_version: _Optional[str] = ...) -> None: ...

class RecommendForMoviesRequest(_message.Message):
    __slots__ = ("movie_ids", "limit", "exclude_movie_ids")
    MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    movie_ids: _containers.RepeatedScalarFieldContainer[int]
    limit: int
    exclude_movie_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, movie_ids: _Optional[_Iterable[int]] = ..., limit: _Optional[int] = ..., exclude_movie_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class RecommendForMoviesResponse(_message.Message):
    __slots__ = ("movies", "model_version", "unknown_movie_ids")
    MOVIES_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_MOVIE_IDS_FIELD_NUMBER: _ClassVar[int]
    movies: _containers.RepeatedCompositeFieldContainer[_common_pb2.ScoredMovie]
    model_version: str
    unknown_movie_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, movies: _Optional[_Iterable[_Union[_common_pb2.ScoredMovie, _Mapping]]] = ..., model_version: _Optional[str] = ..., unknown_movie_ids: _Optional[_Iterable[int]] = ...) -> None: ...
