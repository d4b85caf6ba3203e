"""What a spec compiled under an allow-list may reach while it runs.

A spec loaded with an allow-list (`compiler.load(path, allowed_imports=[...])`,
`graphc ... --allow-import`, every worker) is untrusted input. Its generated module
reads attributes, writes attributes and calls values that are not named in the spec
through one `Trust`, which lets through only what the trust model names:

- plain data's own methods, from a fixed table (`str.upper`, `dict.get`; never `str.format`);
- attributes of objects and classes that the spec's own module or an allowed module
  defines — found on the instance itself or in a class of an allowed module, never
  inherited from `object`, `type` or a class of any other module — plus `args` of
  exceptions and `name`/`value` of enum members;
- public names of allowed modules, except a module outside the list (`json.decoder.re`).

Every value an attribute read yields is vetted as well: a module from outside the
allow-list, a class or function that no allowed module defines (reached through an
object rather than as a module's public name; `_json` counts as part of `json`), and
anything that is not data — a frame, code object, generator,
coroutine, traceback, cell, descriptor or method wrapper — is refused with `TrustError`.
So no chain of attributes leads from what a spec may touch to the builtins, another
module's globals or a format-string walk; `compiler.checks` refuses the names such
chains need before the spec ever runs (E140, E141).
"""

from __future__ import annotations

import builtins
import enum
import operator
import types
from collections.abc import Callable, Iterable

from .fanout import Failure

TYPE_CHECKING = False  # not `typing`'s: `graphc check` imports this module and must not pay for `typing`
if TYPE_CHECKING:
    from typing import Any

__all__ = ("INTROSPECTION_ATTRIBUTES", "SAFE_BUILTINS", "SAFE_METHODS", "Trust", "TrustError", "in_allow_list")


_HEAP_TYPE = 1 << 9
"""`Py_TPFLAGS_HEAPTYPE`: a class made at run time, whose `__module__` anyone could have set."""


class TrustError(PermissionError):
    """A spec under an allow-list reached for something the trust model does not name."""


SAFE_BUILTINS = frozenset(
    [
        "abs",
        "all",
        "any",
        "bool",
        "dict",
        "enumerate",
        "float",
        "int",
        "isinstance",
        "len",
        "list",
        "max",
        "min",
        "print",
        "range",
        "repr",
        "round",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
    ]
)
"""The builtins a spec may name (`compiler.checks` resolves exactly these)."""

_SAFE_BUILTIN_OBJECTS = {id(getattr(builtins, name)) for name in SAFE_BUILTINS} | {id(frozenset), id(bytes)}

_STR_METHODS = frozenset(
    [
        "capitalize",
        "casefold",
        "center",
        "count",
        "encode",
        "endswith",
        "expandtabs",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "translate",
        "upper",
        "zfill",
    ]
)
_NUMBER_METHODS = frozenset(["real", "imag", "conjugate", "as_integer_ratio", "is_integer"])
_INT_METHODS = _NUMBER_METHODS | frozenset(["bit_length", "bit_count", "to_bytes", "numerator", "denominator"])
_SET_METHODS = frozenset(
    ["copy", "difference", "intersection", "isdisjoint", "issubset", "issuperset", "symmetric_difference", "union"]
)
SAFE_METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    bytes: (_STR_METHODS - {"encode", "isdecimal", "isidentifier", "isnumeric", "isprintable", "casefold"})
    | {"decode", "hex"},
    int: _INT_METHODS,
    bool: _INT_METHODS,
    float: _NUMBER_METHODS | {"hex"},
    complex: frozenset(["real", "imag", "conjugate"]),
    list: frozenset(
        ["append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"]
    ),
    tuple: frozenset(["count", "index"]),
    dict: frozenset(["clear", "copy", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"]),
    set: _SET_METHODS
    | frozenset(
        [
            "add",
            "clear",
            "difference_update",
            "discard",
            "intersection_update",
            "pop",
            "remove",
            "symmetric_difference_update",
            "update",
        ]
    ),
    frozenset: _SET_METHODS,
    range: frozenset(["start", "stop", "step", "count", "index"]),
    type(None): frozenset(),
}
"""Plain data, and the attributes of each that a spec may read (methods that only compute on the value)."""

_INHERITED: dict[type, frozenset[str]] = {
    BaseException: frozenset(["args"]),
    enum.Enum: frozenset(["name", "value"]),
    Failure: frozenset(["graph", "index", "error", "message"]),  # what a join receives for a tolerated failure
}
"""Attributes a class of an allowed module may inherit from the standard library and still offer, and the
fields of the runtime's own plain data that reaches a spec."""

_INTERPRETER = (
    types.FrameType,
    types.CodeType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.TracebackType,
    types.CellType,
)
"""The interpreter's own objects: frames, code, suspended generators and coroutines, tracebacks, closure cells."""

_NOT_DATA = (
    *_INTERPRETER,
    types.MappingProxyType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    property,
    staticmethod,
    classmethod,
)
"""Values no attribute read may yield: they lead to frames, code, globals or other classes' internals."""


def _introspection_attributes() -> frozenset[str]:
    kinds = (*_INTERPRETER, type, property)
    names = {name for kind in kinds for name in dir(kind) if not name.startswith("_")}
    # method names these types share with plain data or ordinary objects prove nothing on their own
    generic = {"clear", "replace", "close", "send", "throw", "aclose", "asend", "athrow", "getter", "setter", "deleter"}
    return frozenset(names - generic | {"format", "format_map", "vformat", "get_field", "with_traceback"})


INTROSPECTION_ATTRIBUTES = _introspection_attributes()
"""Attribute names that only lead into the interpreter (frames, code, generators, coroutines,
tracebacks, cells, classes' `mro`, properties' accessors) or walk attributes from a format
string (`format`, `format_map`): `graphc check` refuses them under an allow-list (E140)."""

_AUGMENTED: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
}


def in_allow_list(allowed: Iterable[str], module: str) -> bool:
    """Whether an allow-list admits `module`: one of its modules or their submodules (`_json` counts as `json`)."""
    plain = module.lstrip("_")
    return any(name == a or name.startswith(a + ".") for a in allowed for name in (module, plain))


class Trust:
    """The attribute reads, writes and calls of one spec module under an allow-list.

    Args:
        allowed: The modules (and their submodules) the spec may use.
        own_module: The generated module's `__name__`: its classes are the spec's own.
    """

    __slots__ = ("_allowed", "_own")

    def __init__(self, allowed: Iterable[str], own_module: str) -> None:
        self._allowed = tuple(allowed)
        self._own = own_module

    # ---- what is vouched for --------------------------------------------------------------------

    def allows_module(self, name: object) -> bool:
        """Whether a module of this name is one the spec may use (`_json` counts as `json`)."""
        if not isinstance(name, str):
            return False
        return name == self._own or in_allow_list(self._allowed, name)

    def _own_or_allowed_class(self, cls: type) -> bool:
        module = cls.__dict__.get("__module__")
        if module is None and not cls.__flags__ & _HEAP_TYPE:  # a C type (`datetime`): its module is in its fixed name
            module = cls.__module__
        return self.allows_module(module)

    def _vet(self, value: Any, what: str, *, public_name: bool = False) -> Any:
        """`value` if a spec may hold it; else TrustError naming `what` reached it.

        A `public_name` of an allowed module may be any value but a module outside the list or
        something that is not data: `from os import getcwd` is `os`'s even though `posix` defines it.
        """
        if isinstance(value, _NOT_DATA):
            raise TrustError(f"{what} is a {type(value).__name__}, which a spec under an allow-list cannot use")
        if isinstance(value, types.ModuleType):
            if not self.allows_module(value.__name__):
                raise TrustError(f"{what} is the module `{value.__name__}`, which is not in the allow-list")
            return value
        if public_name:
            return value
        if isinstance(value, type):
            if id(value) in _SAFE_BUILTIN_OBJECTS or self._own_or_allowed_class(value):
                return value
            raise TrustError(f"{what} is the class `{_qualified(value)}`, from outside the allow-list")
        if callable(value) and not self._callable_allowed(value):
            raise TrustError(f"{what} is `{_qualified(value)}`, a callable from outside the allow-list")
        return value

    def _callable_allowed(self, value: Any) -> bool:
        if isinstance(value, types.FunctionType):
            return self.allows_module(value.__module__)
        if isinstance(value, types.MethodType):
            return self._instance_allowed(value.__self__) and self._callable_allowed(value.__func__)
        if isinstance(value, types.BuiltinFunctionType):
            owner = value.__self__
            if owner is None or isinstance(owner, types.ModuleType):
                return id(value) in _SAFE_BUILTIN_OBJECTS or self.allows_module(value.__module__)
            if type(owner) in SAFE_METHODS:
                return value.__name__ in SAFE_METHODS[type(owner)]
            return self._instance_allowed(owner)
        return self._own_or_allowed_class(type(value))  # an object with `__call__`

    def _instance_allowed(self, obj: Any) -> bool:
        cls = obj if isinstance(obj, type) else type(obj)
        return self._own_or_allowed_class(cls)

    # ---- what generated code calls ----------------------------------------------------------------

    def attr(self, obj: Any, name: str) -> Any:
        """`obj.name`, if the trust model names it."""
        if name.startswith("_"):
            raise TrustError(f"attribute `{name}` starts with `_`")
        kind = type(obj)
        methods = SAFE_METHODS.get(kind)
        if methods is not None:
            if name not in methods:
                raise TrustError(f"`{kind.__name__}.{name}` is not one of the methods a spec may use on plain data")
            return getattr(obj, name)
        if isinstance(obj, types.ModuleType):
            if not self.allows_module(obj.__name__):
                raise TrustError(f"the module `{obj.__name__}` is not in the allow-list")
            value = vars(obj)[name] if name in vars(obj) else getattr(obj, name)  # else as Python reports it
            return self._vet(value, f"`{obj.__name__}.{name}`", public_name=True)
        if isinstance(obj, type):
            owner = self._defining_class(obj, name)
            if owner is None or not self._own_or_allowed_class(owner) or not self._own_or_allowed_class(obj):
                raise TrustError(f"`{_qualified(obj)}.{name}` is not defined by a class the allow-list names")
            return self._vet(getattr(obj, name), f"`{_qualified(obj)}.{name}`")
        if isinstance(obj, _NOT_DATA) or (callable(obj) and not self._own_or_allowed_class(kind)):
            raise TrustError(f"a spec under an allow-list cannot read attributes of a {kind.__name__}")
        if not self._own_or_allowed_class(kind) and not self._inherited(kind, name):
            raise TrustError(f"`{_qualified(kind)}` objects come from outside the allow-list: `.{name}` is refused")
        instance_dict = getattr(obj, "__dict__", None)
        if not (isinstance(instance_dict, dict) and name in instance_dict):
            owner = self._defining_class(kind, name, "__getattr__")
            if owner is None or not (self._own_or_allowed_class(owner) or self._inherited(owner, name)):
                raise TrustError(f"`{_qualified(kind)}.{name}` is not defined by a class the allow-list names")
        return self._vet(getattr(obj, name), f"`{_qualified(kind)}.{name}`")

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        """`obj.name = value`, on an object (not a module or class) of the spec's or an allowed module."""
        if name.startswith("_") or isinstance(obj, (type, types.ModuleType)) or not self._instance_allowed(obj):
            raise TrustError(f"a spec under an allow-list cannot set `.{name}` on a {type(obj).__name__}")
        setattr(obj, name, value)

    def augment(self, obj: Any, name: str, op: str, value: Any) -> None:
        """`obj.name op= value` (`+=`, `-=`, ...), read and written under the same rules."""
        self.setattr(obj, name, _AUGMENTED[op](self.attr(obj, name), value))

    def call(self, value: Any) -> Any:
        """`value` if a spec may call it: a value the spec did not name is vetted before it runs."""
        if callable(value) and (isinstance(value, type) or not self._callable_allowed(value)):
            self._vet(value, "the called value")
        return value

    def check_imports(self, module: str, names: dict[str, Any]) -> None:
        """At load: every name the spec imports from an allowed `module` is that module's own (no re-export)."""
        for local, value in names.items():
            self._vet(value, f"`{local}` (imported from `{module}`)", public_name=True)

    @staticmethod
    def _defining_class(cls: type, name: str, fallback: str | None = None) -> type | None:
        """The class in `cls`'s MRO that defines `name` (or, failing that, `fallback`)."""
        for wanted in (name, fallback):
            if wanted is None:
                continue
            for klass in cls.__mro__:
                if wanted in klass.__dict__:
                    return klass
        return None

    @staticmethod
    def _inherited(cls: type, name: str) -> bool:
        return any(issubclass(cls, base) and name in names for base, names in _INHERITED.items())


def _qualified(value: Any) -> str:
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or type(value).__name__
    return f"{module}.{name}" if isinstance(module, str) and module != "builtins" else str(name)
