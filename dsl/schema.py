"""The YAML/TOML document form as pydantic models, for `graphc schema` (JSON Schema for editors)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ("document_schema",)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BranchDocument(_Doc):
    """One branch; branches are tried in order, the last one without `if`."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"oneOf": [{"required": ["to"]}, {"required": ["next"]}]},
    )

    if_: str | None = Field(None, alias="if", description="Condition, a graph-language expression.")
    do: list[str] = Field(default_factory=list, description="Statements run when the branch is taken.")
    to: str | None = Field(
        None,
        description="Target: `Node(args)` or `End(value)`, then `limit N tolerate M[%]` if it runs sub-graphs; "
        "or else `next`.",
    )
    label: str | None = Field(None, description="Edge label in mermaid diagrams (with `to`).")
    next: list[BranchDocument] | None = Field(
        None, description="Nested branches, tried in order when this one is taken (instead of `to`)."
    )


class RetryDocument(_Doc):
    """`retry`: attempts in all, exponential backoff with jitter, the exceptions worth another attempt."""

    attempts: int = Field(ge=1, description="Attempts in all, the first included.")
    backoff: float = Field(0, ge=0, description="Seconds before the second attempt; doubling after each.")
    max: float | None = Field(None, ge=0, description="The longest wait between attempts, in seconds.")
    catch: str | list[str] | None = Field(None, description="Exception classes to retry on (default: any).")


class ErrorDocument(_Doc):
    """An error branch: where the node goes when its body raises one of `catch`."""

    catch: str | list[str] = Field(description="Exception classes, builtin or imported.")
    as_: str | None = Field(None, alias="as", description="Name of the exception in `to` and `label`.")
    to: str = Field(description="Target: `Node(args)` or `End(value)`.")
    label: str | None = Field(None, description="Edge label in mermaid diagrams.")


_DURATION = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


class DeadlineDocument(_Doc):
    """`deadline`: where the run goes when nobody answers the wait in time."""

    within: str = Field(pattern=_DURATION, description="How long the wait lasts: `30s`, `15m`, `48h`, `7d`.")
    to: str = Field(description="Target: `Node(args)` or `End(value)`, from the node's fields, state and deps.")


class ScheduleDocument(_Doc):
    """A schedule: workers start a run of this graph on every tick."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"oneOf": [{"required": ["every"]}, {"required": ["cron"]}]},
    )

    every: str | None = Field(None, pattern=_DURATION, description="An interval: `15m`, `1h`, `1d`.")
    cron: str | None = Field(None, description='A cron expression, in UTC: "0 9 * * 1-5".')
    missed: str = Field(
        "skip",
        pattern="^(skip|once|all)$",
        description="Ticks missed while no worker was up: skip them, run once for them all, or run each.",
    )
    to: str = Field(description="The start node with its arguments: `Node(args)`, from constants.")


class NodeDocument(_Doc):
    """A node: fields, policies, error branches, statements, then branches."""

    doc: str | None = Field(None, description="Docstring, shown as the node's mermaid note.")
    fields: dict[str, str] = Field(default_factory=dict, description='Field name -> "TYPE" or "TYPE = DEFAULT".')
    waits: dict[str, str] = Field(
        default_factory=dict,
        description='Fields a value from outside the graph fills before the node runs: field name -> "TYPE".',
    )
    deadline: DeadlineDocument | None = Field(None, description="Of the wait: how long, and where the run goes then.")
    retry: int | RetryDocument | None = Field(None, description="Attempts in all, or the whole retry policy.")
    timeout: float | None = Field(None, gt=0, description="Seconds each attempt may take.")
    checkpoint: bool = Field(
        False, description="A durable run records this node in a step of its own, even when it is pure."
    )
    sleep: str | None = Field(
        None,
        pattern=r"^((\d+(\.\d+)?(ms|s|m|h|d|w))+|until .+)$",
        description="Before the node runs: a duration (`48h`), or `until EXPR` (a datetime from fields, state, deps).",
    )
    errors: list[ErrorDocument] = Field(default_factory=list, description="Error branches, first match wins.")
    do: list[str] = Field(default_factory=list, description="Statements, in order.")
    next: list[BranchDocument] = Field(description="Branches, first match wins.")


class GraphDocument(_Doc):
    """A graphc spec in its YAML / TOML form."""

    graph: str = Field(description="The graph's name.")
    doc: str | None = Field(None, description="Module docstring.")
    output: str | None = Field(None, description="Type of the run's output (End data).")
    start: str | None = Field(None, description="Default start node.")
    imports: list[str] = Field(default_factory=list, description='Lines like "from module import name as alias".')
    uses: dict[str, str] = Field(
        default_factory=dict,
        description="Other specs whose graphs transitions run as sub-graphs: name -> path relative to this file.",
    )
    schedules: dict[str, ScheduleDocument] = Field(
        default_factory=dict, description="Runs workers start on time, by schedule name."
    )
    state: dict[str, str] | str | None = Field(
        None, description='Field name -> "TYPE [= DEFAULT]" (key `class` names the class), or a dotted type.'
    )
    deps: dict[str, str] | str | None = Field(None, description="Like `state`.")
    nodes: dict[str, NodeDocument] = Field(description="Nodes by name, in order.")


def document_schema() -> dict[str, Any]:
    """The JSON Schema of the YAML/TOML form."""
    schema = GraphDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "graphc spec"
    return schema
