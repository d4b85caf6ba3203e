"""The graph IR: one set of frozen records (`dsl.record`, dataclass-like) for all three syntaxes.

Every element carries a `span` pointing into the text it came from (the `.graph`
file, or the YAML / TOML file, including positions inside expression strings).
Spans are metadata: `strip_spans` gives the comparable content of a spec.

Plain slotted records rather than validated models: the front-ends build them from text
they have already checked, so validation would only cost time (most of `graphc`'s start-up
and a third of parsing) and memory; records rather than dataclasses, which cost a fifth of
`graphc check` to define.
"""

from __future__ import annotations

from .record import Record, field, record, replace

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any, Literal, TypeVar

    _M = TypeVar("_M", bound="_Model")
    BinaryOperator = Literal["+", "-", "*", "/", "//", "%", "**"]
    CompareOperator = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"]
    AssignOperator = Literal["=", "+=", "-=", "*=", "/=", "//=", "%="]

__all__ = (
    "Assign",
    "Attribute",
    "BinOp",
    "BoolOp",
    "Branch",
    "Call",
    "Comment",
    "Compare",
    "Comprehension",
    "ComprehensionFor",
    "Constant",
    "Deadline",
    "DictExpr",
    "ErrorBranch",
    "Expr",
    "ExprStmt",
    "FString",
    "FanOut",
    "FieldSpec",
    "FormattedValue",
    "GraphSpec",
    "IfExp",
    "ImportName",
    "ImportSpec",
    "Keyword",
    "ListExpr",
    "LiteralType",
    "Name",
    "NamedType",
    "NodeSpec",
    "RetryPolicy",
    "ScheduleSpec",
    "SetExpr",
    "Sleep",
    "Slice",
    "Span",
    "Statement",
    "Subscript",
    "Timeout",
    "Transition",
    "TupleExpr",
    "TypeExpr",
    "TypeSpec",
    "UnaryOp",
    "UnionType",
    "UseSpec",
    "normalized_branches",
    "strip_spans",
)


@record
class _Model(Record):
    def model_copy(self: _M, *, update: dict[str, Any] | None = None) -> _M:
        """A copy with some fields replaced (the name pydantic gives it)."""
        return replace(self, **(update or {}))

    def model_dump(self) -> dict[str, Any]:
        """The element as plain data: dicts, lists and values, fields in declaration order."""
        return {name: _dump(getattr(self, name)) for name, _ in self.__record_fields__}


def _dump(value: Any) -> Any:
    if isinstance(value, _Model):
        return value.model_dump()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


@record
class Span(_Model):
    """A region of a source file: 1-based line and column, end column exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def start_of(cls, file: str) -> Span:
        """The first position of a file, for problems with the file as a whole."""
        return cls(file=file, line=1, column=1, end_line=1, end_column=1)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@record
class _Located(_Model):
    span: Span


# --- expressions -------------------------------------------------------------------


@record
class Name(_Located):
    """A bare name: a local, field, `state`, `deps`, an import or a builtin."""

    kind: Literal["name"] = "name"
    id: str


@record
class Constant(_Located):
    """A literal number, string, bytes, bool or None."""

    kind: Literal["constant"] = "constant"
    value: bool | int | float | str | bytes | None


@record
class FormattedValue(_Located):
    """`{value!conversion:format_spec}` inside an f-string."""

    kind: Literal["formatted"] = "formatted"
    value: Expr
    conversion: Literal["r", "s", "a"] | None = None
    format_spec: str | None = None


@record
class FString(_Located):
    """An f-string: literal text and formatted values, in order."""

    kind: Literal["fstring"] = "fstring"
    parts: list[str | FormattedValue]


@record
class Attribute(_Located):
    """`value.attr`."""

    kind: Literal["attribute"] = "attribute"
    value: Expr
    attr: str


@record
class Slice(_Located):
    """`lower:upper:step` inside a subscript."""

    kind: Literal["slice"] = "slice"
    lower: Expr | None = None
    upper: Expr | None = None
    step: Expr | None = None


@record
class Subscript(_Located):
    """`value[index]`."""

    kind: Literal["subscript"] = "subscript"
    value: Expr
    index: Expr


@record
class Keyword(_Located):
    """`name=value` in a call."""

    name: str
    value: Expr


@record
class Call(_Located):
    """`func(args, name=value)`."""

    kind: Literal["call"] = "call"
    func: Expr
    args: list[Expr] = field(default_factory=list)
    keywords: list[Keyword] = field(default_factory=list)


@record
class BinOp(_Located):
    """`left op right` for arithmetic."""

    kind: Literal["binop"] = "binop"
    left: Expr
    op: BinaryOperator
    right: Expr


@record
class UnaryOp(_Located):
    """`-x`, `+x` or `not x`."""

    kind: Literal["unary"] = "unary"
    op: Literal["-", "+", "not"]
    operand: Expr


@record
class BoolOp(_Located):
    """`a and b and c` / `a or b`."""

    kind: Literal["boolop"] = "boolop"
    op: Literal["and", "or"]
    values: list[Expr]


@record
class Compare(_Located):
    """A comparison chain: `left op1 c1 op2 c2`."""

    kind: Literal["compare"] = "compare"
    left: Expr
    ops: list[CompareOperator]
    comparators: list[Expr]


@record
class IfExp(_Located):
    """`body if test else orelse`."""

    kind: Literal["ifexp"] = "ifexp"
    body: Expr
    test: Expr
    orelse: Expr


@record
class ListExpr(_Located):
    """`[a, b]`."""

    kind: Literal["list"] = "list"
    elts: list[Expr] = field(default_factory=list)


@record
class TupleExpr(_Located):
    """`(a, b)`."""

    kind: Literal["tuple"] = "tuple"
    elts: list[Expr] = field(default_factory=list)


@record
class SetExpr(_Located):
    """`{a, b}`."""

    kind: Literal["set"] = "set"
    elts: list[Expr]


@record
class DictExpr(_Located):
    """`{k: v}`."""

    kind: Literal["dict"] = "dict"
    keys: list[Expr] = field(default_factory=list)
    values: list[Expr] = field(default_factory=list)


@record
class ComprehensionFor(_Located):
    """`for a, b in iterable if cond ...`: one clause of a comprehension."""

    targets: list[str]
    iter: Expr
    ifs: list[Expr] = field(default_factory=list)


@record
class Comprehension(_Located):
    """`[element for ...]`, `{element for ...}`, `{element: value for ...}` or `(element for ...)`."""

    kind: Literal["comprehension"] = "comprehension"
    form: Literal["list", "set", "dict", "generator"]
    element: Expr
    value: Expr | None = None
    generators: list[ComprehensionFor]


Expr = (
    Name
    | Constant
    | FString
    | Attribute
    | Subscript
    | Slice
    | Call
    | BinOp
    | UnaryOp
    | BoolOp
    | Compare
    | IfExp
    | ListExpr
    | TupleExpr
    | SetExpr
    | DictExpr
    | Comprehension
)
"""Any expression of the spec language."""

# --- types -----------------------------------------------------------------------------


@record
class NamedType(_Located):
    """`int`, `None`, `pkg.Type`, or a generic `list[T]`, `dict[K, V]`, `tuple[T, ...]`."""

    kind: Literal["named"] = "named"
    name: str
    args: list[TypeExpr] | None = None


@record
class LiteralType(_Located):
    """`Literal["a", 1]`."""

    kind: Literal["literal"] = "literal"
    values: list[Constant]


@record
class EllipsisType(_Located):
    """`...` in `tuple[T, ...]`."""

    kind: Literal["ellipsis"] = "ellipsis"


@record
class UnionType(_Located):
    """`A | B`."""

    kind: Literal["union"] = "union"
    options: list[TypeExpr]


TypeExpr = NamedType | LiteralType | EllipsisType | UnionType
"""A type annotation."""

# --- statements, branches, nodes -----------------------------------------------------------


@record
class Assign(_Located):
    """`target = value`, `state.x += value`, optionally awaiting the value."""

    kind: Literal["assign"] = "assign"
    target: Expr
    op: AssignOperator = "="
    value: Expr
    awaited: bool = False


@record
class ExprStmt(_Located):
    """An expression evaluated for its effect, optionally awaited."""

    kind: Literal["expr"] = "expr"
    value: Expr
    awaited: bool = False


Statement = Assign | ExprStmt
"""A statement of a node body."""


@record
class FanOut(_Located):
    """`limit N tolerate M[%]` after a transition that runs sub-graphs: how many at once, how many may fail."""

    limit: int | None = None
    tolerate: int | None = None
    percent: bool = False
    """Whether `tolerate` is a percentage of the runs rather than a count."""


@record
class Transition(_Located):
    """`-> Node(args)` or `-> End(value)`, with an optional edge label.

    An argument that calls a used graph (`Summarize(text)`, or `[Fetch(u) for u in urls]`)
    runs it as a sub-graph before the target node (its join), as `fanout` says.
    """

    target: str
    target_span: Span
    args: list[Expr] = field(default_factory=list)
    keywords: list[Keyword] = field(default_factory=list)
    label: str | None = None
    fanout: FanOut | None = None

    @property
    def is_end(self) -> bool:
        """Whether this ends the run."""
        return self.target == "End"


@record
class Branch(_Located):
    """`if condition:` statements, then `-> target` or further branches (`next`).

    `condition` is None for an unconditional branch, the last of its list. A branch has a
    `to` or a non-empty `next`, never both: `next` holds the branches nested in an `if`
    block, and the branches that follow statements standing between branches (those
    statements run when the branches above were not taken: an unconditional branch
    whose `do` they are).
    """

    condition: Expr | None = None
    do: list[Statement] = field(default_factory=list)
    to: Transition | None = None
    next: list[Branch] = field(default_factory=list)

    def transitions(self) -> list[Transition]:
        """Every transition this branch may take, in source order."""
        return [self.to] if self.to is not None else [t for b in self.next for t in b.transitions()]


@record
class FieldSpec(_Located):
    """`name: TYPE [= DEFAULT]` of a node, state or deps."""

    name: str
    type: TypeExpr
    default: Expr | None = None


@record
class RetryPolicy(_Located):
    """`retry N [backoff SECONDS [max SECONDS]] [on ERRORS]`: attempts in all, exponential backoff with jitter."""

    attempts: int
    backoff: float = 0.0
    max_backoff: float | None = None
    on: list[str] = field(default_factory=list)
    """Exception classes worth another attempt; empty: any `Exception`."""


@record
class Timeout(_Located):
    """`timeout SECONDS`: the limit on each attempt of the node."""

    seconds: float


@record
class Deadline(_Located):
    """`waits (...) within DURATION -> Target(...)`: where the run goes when nobody answers in time."""

    seconds: float
    text: str
    """The duration as written (`48h`)."""
    to: Transition


@record
class Sleep(_Located):
    """`sleep DURATION` or `sleep until EXPR`: the node runs once the time has passed."""

    seconds: float | None = None
    text: str | None = None
    """The duration as written (`30m`), when it is one."""
    until: Expr | None = None
    """When the node may run (a `datetime`), computed from its fields, the state and deps."""


@record
class ErrorBranch(_Located):
    """`on ERRORS [as NAME] -> Target(...)`: where the node goes when its body raises one of `exceptions`."""

    exceptions: list[str]
    exceptions_span: Span
    name: str | None = None
    to: Transition


@record
class NodeSpec(_Located):
    """A node: fields, policies, error branches, statements, then branches tried in order."""

    name: str
    name_span: Span
    doc: str | None = None
    fields: list[FieldSpec] = field(default_factory=list)
    waits: list[FieldSpec] = field(default_factory=list)
    retry: RetryPolicy | None = None
    timeout: Timeout | None = None
    deadline: Deadline | None = None
    """Of the wait: where the run goes when nobody answers it in time."""
    sleep: Sleep | None = None
    checkpoint: bool = False
    """`checkpoint`: a durable run records this node in a step of its own, even if it is pure."""
    errors: list[ErrorBranch] = field(default_factory=list)
    do: list[Statement] = field(default_factory=list)
    next: list[Branch] = field(default_factory=list)

    def all_fields(self) -> list[FieldSpec]:
        """The fields its body can read: those transitions pass, then those it waits for."""
        return [*self.fields, *self.waits]

    def transitions(self) -> list[Transition]:
        """Every transition the node writes: its branches' (nested ones too), its error branches', its deadline's."""
        deadline = [self.deadline.to] if self.deadline is not None else []
        return [*(t for b in self.next for t in b.transitions()), *(e.to for e in self.errors), *deadline]

    def normalized(self) -> NodeSpec:
        """The canonical form, so every syntax gives one IR for one meaning.

        `do: [a]` + `{do: [b], to: X}` and `do: [a, b]` + `{to: X}` mean the same, as do
        `{do: [a], next: [{to: X}]}` and `{do: [a], to: X}`, and an unconditional branch
        without statements whose `next` is `[B, C]` and the branches `B, C` themselves:
        front-ends return the shortest form, statements as early as they can stand.
        """
        do, branches = list(self.do), normalized_branches(self.next)
        while len(branches) == 1 and branches[0].condition is None and (branches[0].do or branches[0].next):
            sole = branches[0]
            do += sole.do
            branches = sole.next or [sole.model_copy(update={"do": []})]
        if do == self.do and branches == self.next:
            return self
        return self.model_copy(update={"do": do, "next": branches})


def normalized_branches(branches: list[Branch]) -> list[Branch]:
    """A branch list in canonical form (see `NodeSpec.normalized`), nested lists included."""
    out: list[Branch] = []
    for branch in branches:
        if branch.next:
            nested = normalized_branches(branch.next)
            if len(nested) == 1 and nested[0].condition is None:  # `if c:` + statements + `-> X`
                child = nested[0]
                branch = branch.model_copy(update={"do": [*branch.do, *child.do], "to": child.to, "next": child.next})
            else:
                branch = branch.model_copy(update={"next": nested})
        if branch.condition is None and not branch.do and branch.next:
            out += branch.next  # `else:` holding only branches: they continue the list
        else:
            out.append(branch)
    return out


@record
class TypeSpec(_Located):
    """The state or deps: an inline class (`fields`) or an existing type (`ref`)."""

    class_name: str | None = None
    fields: list[FieldSpec] | None = None
    ref: str | None = None


@record
class ImportName(_Located):
    """`name [as alias]` in an import."""

    name: str
    alias: str | None = None

    @property
    def local_name(self) -> str:
        """The name the spec uses."""
        return self.alias or self.name


@record
class ImportSpec(_Located):
    """`from module import a, b as c`."""

    module: str
    names: list[ImportName]
    module_span: Span | None = None


@record
class UseSpec(_Located):
    """`use NAME from "PATH"`: another spec's graph, which transitions run as a sub-graph."""

    name: str
    name_span: Span
    path: str
    path_span: Span


@record
class ScheduleSpec(_Located):
    """`schedule NAME every DURATION | cron "EXPR" [missed skip|once|all] -> Start(args)`: runs started on time."""

    name: str
    name_span: Span
    every: float | None = None
    every_text: str | None = None
    cron: str | None = None
    cron_span: Span | None = None
    missed: Literal["skip", "once", "all"] = "skip"
    """What a tick missed while no worker was up becomes: nothing, one run for them all, a run each."""
    to: Transition


@record
class Comment(_Located):
    """A `#` comment of a `.graph` file, kept so `fmt` can put it back."""

    text: str
    own_line: bool


@record
class GraphSpec(_Located):
    """A whole spec: the IR every front-end produces and the compiler consumes."""

    name: str
    name_span: Span
    doc: str | None = None
    output: TypeExpr | None = None
    start: str | None = None
    start_span: Span | None = None
    imports: list[ImportSpec] = field(default_factory=list)
    uses: list[UseSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    state: TypeSpec | None = None
    deps: TypeSpec | None = None
    nodes: list[NodeSpec] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)


def strip_spans(model: _Model, *, comments: bool = False) -> Any:
    """The content of an IR element as plain data, without spans (and comments unless asked)."""
    return _strip(model.model_dump(), comments)


def _strip(value: Any, comments: bool) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip(v, comments) for k, v in value.items() if not k.endswith("span") and (comments or k != "comments")
        }
    if isinstance(value, list):
        return [_strip(v, comments) for v in value]
    return value
