"""The shapes of the JSON documents of ``goap.faces.documents``, as pydantic models.

The MCP server publishes them as each tool's ``outputSchema`` and the library checks every
``structuredContent`` against them before it leaves, so a document that grew a field this
file does not know is an error in the tests, never a silent drift: every model forbids keys
it does not name. ``documents`` itself stays free of pydantic (``goap plan --json`` is
light); this file is imported only where schemas are wanted. The state file's document is
derived from its own model (``state.store.StateFile``), so it cannot fall behind it. The
world state is the catalog's own (``goap state schema FILE`` gives its JSON Schema); it is
an open object here, because the server re-reads the catalog on every call and its
variables may change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from state.status import Decision, StepOutcome
from state.store import JournalEntry, StateFile

World = Annotated[
    dict[str, Any],
    Field(description="The world state, dotted names nested (`goap state schema` gives it)."),
]
PlanStatus = Literal["found", "unreachable", "no_plan", "limit"]


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CmdExecutor(Shape):
    kind: Literal["cmd"]
    cmd: list[str]


class RunExecutor(Shape):
    kind: Literal["run"]
    target: str = Field(description="module:function the action calls")
    with_: dict[str, Any] = Field(alias="with", description="its arguments (`with:`)")


class ListedRunExecutor(RunExecutor):
    args_schema: dict[str, Any] | None = Field(
        description="JSON Schema of its arguments (null: not importable here)"
    )
    facts: dict[str, Any] | None = Field(description="the facts it declares (null: none)")


Executor = Annotated[CmdExecutor | RunExecutor, Field(discriminator="kind")]
ListedExecutor = Annotated[CmdExecutor | ListedRunExecutor, Field(discriminator="kind")]


class Approval(Shape):
    required: Literal[True]
    reason: str


class ActionDocument(Shape):
    name: str
    id: str | None
    skill: str | None
    description: str
    cost: float
    pre: list[str] = Field(description="preconditions, as text")
    effects: list[str]
    executor: Executor | None
    approval: Approval | None = Field(description="a person approves each start; null: none")


class ListedAction(ActionDocument):
    executor: ListedExecutor | None
    applies: bool = Field(description="whether its preconditions hold in the persisted state")
    unmet: list[str]


class Estimate(Shape):
    one_by_one_s: float
    at_once_s: float
    known_steps: int


class PlanDocument(Shape):
    """``goap plan --json``: the cheapest plan to the goal."""

    status: PlanStatus
    plan: list[str]
    ids: list[str]
    cost: float | None
    optimal: bool
    expanded: int
    generated: int
    relevant_actions: int
    seconds: float = Field(description="planning time")
    unreachable: list[str]
    message: str
    steps: list[ActionDocument]
    waves: list[list[str]] = Field(description="steps that may run at once, in order")
    estimate: Estimate | None = Field(description="from the journal's durations; null without")


class NextDocument(Shape):
    """``goap next --json``: the first step of the current optimal plan, and the plan."""

    status: PlanStatus | Literal["goal_reached"]
    next: ActionDocument | None
    plan: list[str]
    ids: list[str]
    cost: float | None
    message: str


class StepDocument(Shape):
    """``goap skill run --json``: what one action did, and the world after it."""

    action: str
    ok: bool
    outcome: StepOutcome
    exit_code: int = Field(description="0 succeeded, 1 failed, 130 interrupted")
    error: str | None
    tail: str | None = Field(description="the output's last lines when it failed")
    facts: dict[str, Any]
    seconds: float
    log: str | None = Field(description="the file its output went to")
    forced: bool
    forced_over: list[str] = Field(description="the unmet preconditions it was forced over")
    state: str = Field(description="the state file")
    world_state: World


class SkillListDocument(Shape):
    """``goap skill list --json``: every action, whether it applies, its arguments."""

    catalog: str
    state: str
    actions: list[ListedAction]


def closed(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """A Shape with the fields ``model`` writes (not its excluded ones), each always present:
    the state file's own model is the one truth of its document, not a copy of it here."""
    fields: dict[str, Any] = {
        key: (field.annotation, Field(description=field.description))
        for key, field in model.model_fields.items()
        if not field.exclude
    }
    return create_model(name, __base__=Shape, __doc__=doc, **fields)


StateDocument = closed(StateFile, "StateDocument", "``goap state show --json``: the file.")


class NoStateDocument(Shape):
    """No state file yet: the catalog's initial world."""

    status: Literal["pending"]
    world_state: World
    history: list[JournalEntry] = Field(max_length=0)
    awaiting: list[Any] = Field(max_length=0)
    approvals: list[Any] = Field(max_length=0)
    state: str = Field(description="where the state file will be")


class DecisionDocument(Shape):
    """``goap approve|deny --json``: the answer recorded."""

    action: str
    decision: Decision
    who: str
    why: str
    at: str
    queued: bool = Field(
        description="a run holds the state and takes the answer in within a second; "
        "false: it is in the state file already"
    )


class Need(Shape):
    step: int
    action: str


class Serves(Shape):
    condition: str
    for_: Literal["goal"] | Need = Field(alias="for", description="the step that needs it")


class ServingStep(Shape):
    step: int
    name: str
    id: str | None
    cost: float
    approval: str | None = Field(description="why a person approves it; null: no gate")
    serves: list[Serves]


class Closest(Shape):
    name: str
    cost: float
    unmet: list[str]
    never: list[str] = Field(description="its preconditions nothing can make true")


class Blocked(Shape):
    condition: str
    closest: list[Closest]
    writers: list[str] = Field(description="actions that change its variable at all")
    roots: list[str] = Field(description="conditions under it that no action achieves")


class ForcedPlan(Shape):
    status: PlanStatus
    plan: list[str]
    cost: float | None
    message: str


class Asked(Shape):
    name: str
    id: str | None
    cost: float
    approval: str | None
    unmet: list[str]


class AskedInPlan(Asked):
    in_plan: Literal[True]
    step: int
    serves: list[Serves]


class AskedNotInPlan(Asked):
    in_plan: Literal[False]
    never: list[str]
    cheapest_with: ForcedPlan = Field(description="the cheapest plan that runs it")
    extra_cost: float | None


class ExplainDocument(Shape):
    """``goap explain --json``: why this plan, why not an action, what blocks the goal."""

    catalog: str
    status: PlanStatus
    message: str
    plan: list[str]
    cost: float | None
    steps: list[ServingStep]
    blocked: list[Blocked] = Field(description="goal conditions no sequence of actions reaches")
    action: AskedInPlan | AskedNotInPlan | None = Field(
        None, description="present when an action was asked about"
    )


class GetStateDocument(RootModel[StateDocument | NoStateDocument]):
    """The MCP ``get_state`` tool: the state file, or the initial world before any run.

    A root union, not wrapped in ``{"result": ...}``: the document is the CLI's, as it is."""

    model_config = ConfigDict(json_schema_extra={"type": "object"})  # MCP: an object schema
