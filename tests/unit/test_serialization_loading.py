"""Stored data is only data: loading imports nothing, looks nothing up, and runs no class's code.

Each crafted document is loaded twice: straight through the serializer, and as a workflow's
data row written by hand into a SQLite store and read by the provider.
"""

from __future__ import annotations

import enum
import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from liteflow.core import (
    InvalidArgumentError,
    SerializationError,
    SqlitePersistenceProvider,
    WorkflowInstance,
    register_type,
)
from liteflow.core.registry import WorkflowRegistry
from liteflow.core.serialization import JsonSerializer, PickleSerializer
from tests.support import load_crafted_data

JSON = JsonSerializer()
Load = Callable[[Any], Any]


@pytest.fixture(params=["serializer", "sqlite-row"])
def load(request: pytest.FixtureRequest, tmp_path: Path) -> Load:
    if request.param == "serializer":
        return JSON.from_document
    return lambda document: load_crafted_data(tmp_path / "crafted.db", json.dumps(document))


def _object(class_name: str, **state: Any) -> dict[str, Any]:
    return {"$type": "object", "class": class_name, "state": state}


# ------------------------------------------------------------------ modules nobody imported


@pytest.fixture
def trap_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A module on sys.path that leaves a file behind if anything imports it."""
    name = f"lf_trap_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{name}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n\n\nclass Payload:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield name, marker
    sys.modules.pop(name, None)


@pytest.mark.parametrize("tag", ["object", "dataclass", "namedtuple", "enum"])
def test_a_stored_type_never_imports_the_module_it_names(
    load: Load, trap_module: tuple[str, Path], tag: str
) -> None:
    name, marker = trap_module
    document: dict[str, Any] = {"$type": tag, "class": f"{name}:Payload"}
    document.update({"enum": {"value": 1}, "namedtuple": {"items": []}}.get(tag, {"state": {}}))
    with pytest.raises(
        SerializationError, match=rf"stored type '{name}:Payload' cannot be loaded: .*not a known type"
    ):
        load([document])
    assert name not in sys.modules
    assert not marker.exists()


@pytest.mark.parametrize("module", ["antigravity", "this"])
def test_modules_with_import_side_effects_are_named_but_never_imported(load: Load, module: str) -> None:
    assert module not in sys.modules
    with pytest.raises(SerializationError, match=rf"'{module}:\w+' cannot be loaded: it is not a known type"):
        load(_object(f"{module}:Anything"))
    assert module not in sys.modules


GADGETS = [
    "os:_wrap_close",
    "threading:Thread",
    "tempfile:TemporaryDirectory",
    "tempfile:_TemporaryFileCloser",
    "logging:FileHandler",
    "mailbox:Maildir",
    "subprocess:Popen",
    "liteflow.core.host:WorkflowHost",
    "liteflow.core.sqlite:SqlitePersistenceProvider",
    "liteflow.core.registry:WorkflowRegistry",
    "builtins:eval",
    "os:system",
]


@pytest.mark.parametrize("target", GADGETS)
def test_standard_library_and_liteflow_classes_are_never_known(
    load: Load, target: str, known_package: ModuleType
) -> None:
    # A workflow is registered (known_package), yet neither its stdlib nor LiteFlow's classes become known.
    with pytest.raises(SerializationError, match=rf"'{target}' cannot be loaded: it is not a known type"):
        load({"wrapped": _object(target, path="/tmp/x", name="/tmp/x")})


def test_the_class_of_a_stored_type_is_found_only_once_made_known(
    load: Load, trap_module: tuple[str, Path]
) -> None:
    name, marker = trap_module
    module = __import__(name)  # the application imports it itself ...
    marker.unlink()
    with pytest.raises(SerializationError, match="not a known type"):
        load(_object(f"{name}:Payload", n=1))
    register_type(module.Payload)  # ... and makes it known
    loaded = load(_object(f"{name}:Payload", n=1))
    assert type(loaded) is module.Payload and loaded.n == 1
    assert not marker.exists()


# ------------------------------------------------------------------ the packages of registered workflows

APP_FILES = {
    "__init__.py": "",
    "flows.py": """
        from liteflow.core import StepBody, Workflow


        class Noop(StepBody):
            def run(self, context):
                return None


        class AppFlow(Workflow):
            def build(self, builder):  # LiteFlow's own WaitFor step never makes LiteFlow known
                builder.start_with(Noop).wait_for("go", "key")
    """,
    "models.py": """
        from threading import Thread


        class Order:
            pass


        class Outer:
            class Inner:
                pass
    """,
    "lazy.py": """
        CALLS = []


        def __getattr__(name):
            CALLS.append(name)
            raise AttributeError(name)
    """,
    "unimported.py": """
        import pathlib

        pathlib.Path(__file__).with_name("imported.txt").write_text("imported")


        class Late:
            pass
    """,
    "hooks.py": """
        CALLS = []


        class RecordingMeta(type):
            def __getattribute__(cls, name):
                CALLS.append(f"meta.__getattribute__({name})")
                return super().__getattribute__(name)

            def __call__(cls, *args, **kwargs):
                CALLS.append("meta.__call__")
                return super().__call__(*args, **kwargs)

            def __instancecheck__(cls, instance):
                CALLS.append("meta.__instancecheck__")
                return super().__instancecheck__(instance)

            def __subclasscheck__(cls, subclass):
                CALLS.append("meta.__subclasscheck__")
                return super().__subclasscheck__(subclass)

            def __eq__(cls, other):
                CALLS.append("meta.__eq__")
                return super().__eq__(other)

            def __hash__(cls):
                CALLS.append("meta.__hash__")
                return super().__hash__()


        class Recorder(metaclass=RecordingMeta):
            def __new__(cls, *args, **kwargs):
                CALLS.append("__new__")
                return super().__new__(cls)

            def __init__(self, *args, **kwargs):
                CALLS.append("__init__")

            def __setstate__(self, state):
                CALLS.append("__setstate__")

            def __setattr__(self, name, value):
                CALLS.append("__setattr__")
                super().__setattr__(name, value)

            def __getattribute__(self, name):
                CALLS.append(f"__getattribute__({name})")
                return super().__getattribute__(name)

            def __getattr__(self, name):
                CALLS.append(f"__getattr__({name})")
                raise AttributeError(name)

            def __hash__(self):
                CALLS.append("__hash__")
                return 0

            def __eq__(self, other):
                CALLS.append("__eq__")
                return True

            def __repr__(self):
                CALLS.append("__repr__")
                return "Recorder()"

            def __reduce__(self):
                CALLS.append("__reduce__")
                return (Recorder, ())


        class SlottedRecorder(Recorder):
            __slots__ = ("value",)
    """,
}


@pytest.fixture(scope="module")
def known_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """An application package with a registered workflow: its imported modules' classes are known."""
    root = tmp_path_factory.mktemp("app")
    name = f"lf_app_{uuid.uuid4().hex[:8]}"
    (root / name).mkdir()
    for file, text in APP_FILES.items():
        (root / name / file).write_text(textwrap.dedent(text))
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        patch.setattr(sys, "dont_write_bytecode", True)
        package = __import__(f"{name}.flows").flows
        for module in ("models", "lazy", "hooks"):
            __import__(f"{name}.{module}")
        WorkflowRegistry().register_workflow(package.AppFlow())
        yield sys.modules[name]
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]


def test_classes_of_a_registered_workflows_package_load_without_registration(
    load: Load, known_package: ModuleType
) -> None:
    name = known_package.__name__
    loaded = load([_object(f"{name}.models:Order", total=3), _object(f"{name}.models:Outer.Inner")])
    assert type(loaded[0]) is known_package.models.Order and loaded[0].total == 3
    assert type(loaded[1]) is known_package.models.Outer.Inner


def test_a_package_module_nobody_imported_is_not_imported_for_a_stored_type(
    load: Load, known_package: ModuleType
) -> None:
    name = known_package.__name__
    with pytest.raises(
        SerializationError, match=rf"'{name}\.unimported:Late' cannot be loaded: it is not a known type"
    ):
        load(_object(f"{name}.unimported:Late"))
    assert f"{name}.unimported" not in sys.modules
    assert not (Path(known_package.__file__).parent / "imported.txt").exists()


def test_a_class_imported_into_a_known_module_is_not_known_by_that_module(
    load: Load, known_package: ModuleType
) -> None:
    with pytest.raises(SerializationError, match="not a known type"):
        load(_object(f"{known_package.__name__}.models:Thread"))


def test_a_modules_getattr_never_runs_for_a_stored_name(load: Load, known_package: ModuleType) -> None:
    with pytest.raises(SerializationError, match="not a known type"):
        load(_object(f"{known_package.__name__}.lazy:Ghost"))
    assert known_package.lazy.CALLS == []


def _recorder_documents(name: str) -> dict[str, Any]:
    recorder = _object(f"{name}.hooks:Recorder", value=1)
    slotted = _object(f"{name}.hooks:SlottedRecorder", value=2)
    return {
        "plain": [recorder, slotted],
        "shared": [recorder, {"$type": "ref", "id": 1}],
        "in-a-set": {"$type": "set", "items": [recorder]},
        "as-a-dict-key": {"$type": "dict", "items": [[recorder, 1]]},
        "stored-as-another-kind": {"$type": "namedtuple", "class": f"{name}.hooks:Recorder", "items": []},
        "as-an-enum-value": {"$type": "enum", "class": f"{__name__}:Recorded", "value": recorder},
    }


@pytest.mark.parametrize(
    "case", ["plain", "shared", "in-a-set", "as-a-dict-key", "stored-as-another-kind", "as-an-enum-value"]
)
def test_loading_runs_none_of_a_known_classs_own_code(
    load: Load, known_package: ModuleType, case: str
) -> None:
    hooks = known_package.hooks
    document = _recorder_documents(known_package.__name__)[case]
    hooks.CALLS.clear()
    try:
        loaded = load(document)
    except SerializationError as error:
        message = str(error)
        assert "Recorder()" not in message
        loaded = None
    assert hooks.CALLS == []
    if case == "plain":
        assert [type(item).__name__ for item in loaded] == ["Recorder", "SlottedRecorder"]
        assert object.__getattribute__(loaded[0], "__dict__") == {"value": 1}
    if case == "shared":
        assert loaded[0] is loaded[1]


def test_sets_and_dict_keys_of_user_objects_are_refused_when_stored(known_package: ModuleType) -> None:
    hooks = known_package.hooks
    recorder = hooks.Recorder()
    for value, what in (({recorder}, "set item"), ({recorder: 1}, "dict key")):
        hooks.CALLS.clear()
        with pytest.raises(
            SerializationError, match=rf"{what} of type 'Recorder' at data: sets and dict keys"
        ):
            JSON.to_document(value, "data")
        assert "__hash__" not in hooks.CALLS and "__eq__" not in hooks.CALLS


# ------------------------------------------------------------------ enums


class Recorded(enum.Enum):
    ONE = 1
    TWO = 2

    @classmethod
    def _missing_(cls, value: object) -> Any:
        ENUM_CALLS.append("_missing_")
        return cls.ONE


class Perms(enum.Flag):
    READ = 1
    WRITE = 2

    @classmethod
    def _missing_(cls, value: object) -> Any:
        ENUM_CALLS.append("_missing_")
        return super()._missing_(value)


class Plainflag(enum.Flag):
    READ = 1
    WRITE = 2


ENUM_CALLS: list[str] = []
for _enum in (Recorded, Perms, Plainflag):
    register_type(_enum)


def _enum_document(cls: type, value: Any) -> dict[str, Any]:
    return {"$type": "enum", "class": f"{__name__}:{cls.__qualname__}", "value": value}


def test_an_enum_value_no_member_has_is_refused_without_calling_missing(load: Load) -> None:
    ENUM_CALLS.clear()
    with pytest.raises(
        SerializationError, match=r"Recorded' cannot be loaded: it has no member with value 7"
    ):
        load(_enum_document(Recorded, 7))
    assert ENUM_CALLS == []
    assert load(_enum_document(Recorded, 2)) is Recorded.TWO


def test_flag_composites_are_made_by_the_enum_module_only(load: Load) -> None:
    assert load(_enum_document(Plainflag, 3)) is Plainflag.READ | Plainflag.WRITE
    ENUM_CALLS.clear()
    with pytest.raises(SerializationError, match="no member with value 3"):
        load(_enum_document(Perms, 3))
    assert ENUM_CALLS == []


def test_a_composite_of_a_flag_with_its_own_missing_is_refused_when_stored() -> None:
    with pytest.raises(SerializationError, match="overrides how its composite values are made"):
        JSON.to_document(Perms.READ | Perms.WRITE)
    assert JSON.from_document(JSON.to_document(Perms.WRITE)) is Perms.WRITE


# ------------------------------------------------------------------ register_type


@dataclass
class Renamed:
    n: int


def test_register_type_stores_a_class_under_the_name_given() -> None:
    register_type(Renamed, name="shop.Renamed")
    document = JSON.to_document(Renamed(4))
    assert document == {"$type": "dataclass", "class": "shop.Renamed", "state": {"n": 4}}
    assert JSON.from_document(document) == Renamed(4)


@register_type
@dataclass
class Decorated:
    n: int


def test_register_type_returns_the_class_so_it_works_as_a_decorator() -> None:
    assert JSON.from_document(JSON.to_document(Decorated(2))) == Decorated(2)


def test_a_class_defined_inside_a_function_is_known_once_registered_with_a_name() -> None:
    class Local:
        pass

    with pytest.raises(InvalidArgumentError, match=r"defined inside a function.*pass a name"):
        register_type(Local)
    with pytest.raises(SerializationError, match="defined inside a function"):
        JSON.to_document(Local())
    register_type(Local, name=f"{__name__}.Local")
    assert type(JSON.from_document(JSON.to_document(Local()))) is Local


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((42,), "expects a class"),
        ((dict,), "cannot store its instances"),
        ((Renamed, ""), "name must be a non-empty string"),
        ((Renamed, "other.Renamed"), "already registered as 'shop.Renamed'"),
    ],
)
def test_register_type_refuses_what_it_could_not_honour(arguments: tuple[Any, ...], message: str) -> None:
    register_type(Renamed, name="shop.Renamed")
    with pytest.raises(InvalidArgumentError, match=message):
        register_type(*arguments)


def test_two_classes_cannot_share_a_stored_name() -> None:
    register_type(Renamed, name="shop.Renamed")

    class Other:
        pass

    with pytest.raises(InvalidArgumentError, match=r"'shop\.Renamed' is already registered"):
        register_type(Other, name="shop.Renamed")


# ------------------------------------------------------------------ which serializer wrote it


def test_the_json_serializer_refuses_a_pickle_payload(load: Load) -> None:
    payload = PickleSerializer().to_document({"a": 1})
    with pytest.raises(SerializationError, match="written by PickleSerializer"):
        load(payload)


def test_the_pickle_serializer_refuses_a_json_payload() -> None:
    for document in (JSON.to_document({"a": 1}), JSON.to_document([1]), "text", {"$pickle": 1}):
        with pytest.raises(SerializationError, match="not written by PickleSerializer"):
            PickleSerializer().from_document(document)


def test_a_store_written_with_pickle_is_refused_by_a_json_provider(tmp_path: Path) -> None:
    database = tmp_path / "pickled.db"
    writer = SqlitePersistenceProvider(database, serializer=PickleSerializer())
    instance = WorkflowInstance()
    instance.data = {"a": 1}
    workflow_id = writer.create_workflow(instance)
    writer.close()
    reader = SqlitePersistenceProvider(database)
    try:
        with pytest.raises(SerializationError, match=rf"data of workflow '{workflow_id}'.*PickleSerializer"):
            reader.get_workflow_instance(workflow_id)
    finally:
        reader.close()


# ------------------------------------------------------------------ documents of earlier versions


def test_documents_in_the_earlier_format_still_load_when_their_class_is_known(load: Load) -> None:
    earlier = {
        "when": {"$type": "datetime", "value": "2026-10-25T02:30:00+01:00", "zone": "Europe/Paris"},
        "color": _enum_document(Recorded, 1),
        "flags": _enum_document(Plainflag, 3),
        "renamed": {"$type": "dataclass", "class": "shop.Renamed", "state": {"n": 1}},
        "keys": {"$type": "dict", "items": [[1, "one"], [{"$type": "tuple", "items": [1, 2]}, "pair"]]},
        "big": {"$type": "int", "value": str(2**70)},
    }
    register_type(Renamed, name="shop.Renamed")
    loaded = load(earlier)
    assert loaded["when"].fold == 1 and loaded["when"].utcoffset().total_seconds() == 3600  # the later 02:30
    assert loaded["color"] is Recorded.ONE
    assert loaded["flags"] is Plainflag.READ | Plainflag.WRITE
    assert loaded["renamed"] == Renamed(1)
    assert loaded["keys"] == {1: "one", (1, 2): "pair"}
    assert loaded["big"] == 2**70
