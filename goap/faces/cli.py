"""The ``goap`` command line.

Exit codes: 0 success (plan found, goal reached), 1 failed or escalated run (or lint errors
for ``validate``), 2 invalid input, 3 no plan exists, 4 the run waits for an approval
(``goap run --no-wait``), 130 interrupted. Bad input never shows
a traceback: it is one message naming the file, the line and the fix.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import cache, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from goap.faces import documents
from goap.loading.catalog import Catalog, CatalogError, load_catalog
from goap.loading.logic import LogicError
from goap.loading.secrets import MASKER
from goap.planning.planner import PlanOptions, plan
from goap.planning.registry import OptionError
from goap.running.errors import RunError
from goap.running.resources import DEFAULT_JOBS
from state.model import StateError, StateTypeError, json_safe, quoted

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Goal-oriented action planning for ML pipelines.",
)
state_app = typer.Typer(no_args_is_help=True, help="Read and edit the persisted world state.")
app.add_typer(state_app, name="state")


@cache
def console(stderr: bool = False) -> Console:
    """rich's console, imported on first use: ``--json`` output never loads rich. Into a pipe
    or a file, lines are not wrapped at 80 columns: a script's grep must find a message whole,
    not split where a long path pushed it past the width."""
    from rich.console import Console

    made = Console(stderr=stderr, highlight=False)
    made.soft_wrap = not made.is_terminal
    return made


def escape(text: str) -> str:
    """Text from a catalog or a run, shown as written inside rich markup (``[x]`` kept)."""
    from rich.markup import escape

    return escape(text)


def out() -> Console:
    return console()


def err() -> Console:
    return console(stderr=True)


class Usage(Exception):
    """Invalid input: printed as one message, exit code 2."""


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every kind of bad input into a clear message and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (CatalogError, StateError, RunError, Usage, LogicError, StateTypeError) as exc:
            fail(str(exc), json_mode=kwargs.get("json_out", False))
        except BrokenPipeError:  # `goap logs ... | head`: the reader left, nothing is wrong
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except OSError as exc:  # the environment: a full disk, a folder we may not write
            where = f"{exc.filename}: " if exc.filename else ""
            fail(
                f"{where}{exc.strerror or exc}; goap stopped, and what it had written is "
                f"whole (every file is replaced atomically): fix this, then run again",
                json_mode=kwargs.get("json_out", False),
            )

    return wrapper


def _print_json(document: Any, indent: int | None = None, flush: bool = False) -> None:
    """Every JSON document goap prints: valid JSON always (NaN never), masked on the way out."""
    text = json.dumps(json_safe(document), default=str, indent=indent, allow_nan=False)
    print(text, flush=flush)


def fail(message: str, json_mode: bool = False, code: int = 2) -> None:
    if json_mode:
        _print_json({"error": message, "exit_code": code})
    err().print(f"[red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
StateOpt = Annotated[
    Path | None,
    typer.Option("--state", help="State file (default: next to the catalog, <name>_state.json)."),
]
FileArg = Annotated[Path, typer.Argument(help="The YAML catalog.")]
MaxExpansionsOpt = Annotated[int, typer.Option(help="Planning gives up after this many nodes.")]
PlanTimeoutOpt = Annotated[float, typer.Option(help="Planning gives up after this many seconds.")]


def _catalog(path: Path) -> Catalog:
    return load_catalog(path)


def _state_path(catalog: Catalog, state: Path | None) -> Path:
    from state.files import default_state_path

    return state or default_state_path(catalog.path)


def _world(catalog: Catalog, state: Path | None) -> dict[str, Any]:
    """The persisted world of ``--state``, or the catalog's initial state."""
    if state is None:
        return catalog.initial
    from goap.running.record import read_world

    return read_world(catalog, state)


def _options(heuristic: str, search: str, max_expansions: int, timeout: float) -> PlanOptions:
    try:
        return PlanOptions(
            heuristic=heuristic, search=search, max_expansions=max_expansions, timeout=timeout
        )
    except OptionError as exc:
        raise Usage(f"--{exc.option} {exc.value!r}: use one of {', '.join(exc.allowed)}") from None


@app.command("plan")
@handles_errors
def plan_cmd(
    file: FileArg,
    goal: Annotated[
        list[str] | None,
        typer.Option("--goal", help="Replace the goal: NAME=VALUE or NAME>=N (repeatable)."),
    ] = None,
    state: StateOpt = None,
    heuristic: Annotated[
        str,
        typer.Option(
            help="Admissible (optimal with astar): auto (lmcut where it beats hmax at the "
            "start, else hmax), hmax, lmcut (stronger, slower per node), blind. "
            "Inadmissible (fast, plans may cost more): hadd, hff, goal-count."
        ),
    ] = "auto",
    search: Annotated[
        str,
        typer.Option(
            help="astar (optimal with an admissible heuristic), wastar (weighted A*, weight 2: "
            "at most twice the optimal cost), greedy (fastest, no cost guarantee)."
        ),
    ] = "astar",
    max_expansions: MaxExpansionsOpt = 1_000_000,
    timeout: PlanTimeoutOpt = 60.0,
    json_out: JsonOpt = False,
) -> None:
    """Find the cheapest plan from the current (or initial) state to the goal."""
    catalog = _catalog(file)
    options = _options(heuristic, search, max_expansions, timeout)
    world = _world(catalog, state)
    result = plan(catalog, world, documents.parse_goals(catalog, goal), options=options)
    seconds = documents.journal_durations(_state_path(catalog, state))
    if json_out:
        _print_json(documents.plan_document(result, seconds))
    elif result.found:
        from goap.faces.view import plan_summary, plan_table

        if result.actions:
            out().print(plan_table(result, f"{catalog.name}: plan", out().width, seconds))
        else:
            out().print("the goal already holds: nothing to do")
        out().print(plan_summary(result, seconds))
    else:
        err().print(f"[red]{escape(result.message)}[/]")
    raise typer.Exit(0 if result.found else 3)


@app.command("run")
@handles_errors
def run_cmd(
    file: FileArg,
    state: StateOpt = None,
    resume: Annotated[bool, typer.Option(help="Continue an unfinished run.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Plan from the sensed state; run nothing.")] = False,
    workdir: Annotated[Path, typer.Option(help="Where actions run (default: here).")] = Path("."),
    max_expansions: MaxExpansionsOpt = 1_000_000,
    timeout: PlanTimeoutOpt = 60.0,
    json_out: JsonOpt = False,
    stream: Annotated[
        bool,
        typer.Option(help="With --json: one JSON line per event as it happens, then the result."),
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Steps run at once, at most (1: one by one).")
    ] = DEFAULT_JOBS,
    leave_jobs: Annotated[
        bool,
        typer.Option(help="On SIGINT/SIGTERM, leave remote jobs running (--resume reattaches)."),
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="When a step needs approval, end the run (status waiting_approval, exit 4) "
            "instead of waiting for `goap approve`.",
        ),
    ] = False,
) -> None:
    """Execute the plan, persisting the state after every step, replanning on surprises."""
    from goap.faces.view import LineView, RunView, StreamView, plan_summary, plan_table
    from goap.running.runner import Runner

    catalog = _catalog(file)
    state_path = _state_path(catalog, state)
    if not workdir.is_dir():
        raise Usage(f"--workdir {workdir}: no such directory")
    options = _options("auto", "astar", max_expansions, timeout)
    if dry_run:
        result = Runner(catalog, state_path, workdir, options=options).dry_run()
        if json_out:
            _print_json(documents.plan_document(result))
        elif result.found:
            out().print(plan_table(result, f"{catalog.name}: would run", out().width))
            out().print(plan_summary(result))
        else:
            err().print(f"[red]{escape(result.message)}[/]")
        raise typer.Exit(0 if result.found else 3)
    if stream and not json_out:
        raise Usage("--stream goes with --json: write `goap run --json --stream`")
    view_console = err()

    def runner(events: Any) -> Runner:
        return Runner(
            catalog,
            state_path,
            workdir,
            events,
            options,
            jobs=jobs,
            leave_jobs=leave_jobs,
            wait_approval=not no_wait,
        )

    if stream:
        run = runner(StreamView(lambda event: _print_json(event, flush=True))).run(resume)
    elif json_out or not view_console.is_terminal:
        run = runner(LineView(view_console)).run(resume)
    else:
        with RunView(view_console) as live:
            run = runner(live).run(resume)
    if stream:
        _print_json(documents.event_document("result", **documents.run_document(catalog, run)))
    elif json_out:
        _print_json(documents.run_document(catalog, run))
    else:
        color = "green" if run.exit_code == 0 else "yellow" if run.awaiting else "red"
        said = run.message if run.message.startswith(run.status) else f"{run.status}: {run.message}"
        err().print(f"[{color}]{escape(said)}[/]")
        err().print(f"state: {run.state_path}")
    raise typer.Exit(run.exit_code)


@app.command("validate")
@handles_errors
def validate_cmd(
    file: FileArg,
    workdir: Annotated[Path, typer.Option(help="Where actions would run (default: here).")] = Path(
        "."
    ),
    json_out: JsonOpt = False,
) -> None:
    """Lint a catalog (unreachable goals, actions that never apply, unused effects and
    variables) and run `goap run`'s preflight: every `run:` target imported and its
    arguments checked, in a child process, nothing executed."""
    from goap.planning.lint import Finding, lint

    try:
        catalog = _catalog(file)
        findings = lint(catalog) + _preflight_findings(catalog, workdir)
    except CatalogError as exc:  # every problem at once: the load's, then the intact calls'
        findings = [Finding("error", e.key or "(file)", _located(e)) for e in exc.errors]
        findings += _checked_findings(exc.calls, workdir)
    errors = [f for f in findings if f.severity == "error"]
    if json_out:
        _print_json(documents.validate_document(findings))
    else:
        for f in findings:
            color = "red" if f.severity == "error" else "yellow"
            out().print(f"[{color}]{f.severity}[/] {escape(f.where)}: {escape(f.message)}")
        out().print(
            f"{file}: {len(errors)} errors, {len(findings) - len(errors)} warnings"
            if findings
            else f"{file}: ok"
        )
    raise typer.Exit(1 if errors else 0)


def _preflight_findings(catalog: Catalog, workdir: Path) -> list[Any]:
    """What `goap run` would refuse before running anything, as validate findings."""
    from goap.planning.lint import Finding
    from goap.running.runner import calls

    findings = [
        Finding(
            "warning",
            f"actions.{a.name}",
            "has nothing to execute (no cmd or run): `goap run` refuses the catalog until it has",
        )
        for a in catalog.actions
        if a.executor is None
    ]
    observing = [
        (f"actions.{a.name}", a.executor.run, a.executor.observe)
        for a in catalog.actions
        if a.executor and a.executor.run and a.executor.observe
    ] + [
        (f"sensors.{i}", s.executor.run, s.executor.observe)
        for i, s in enumerate(catalog.sensors)
        if s.executor.run
    ]
    return findings + _checked_findings(
        calls(catalog, [a for a in catalog.actions if a.executor]), workdir, observing
    )


def _checked_findings(
    calls: list[Any], workdir: Path, observing: list[tuple[str, str, dict[str, str]]] = ()
) -> list[Any]:
    """The executor check of ``calls`` (target imported, arguments validated) as findings;
    and, for each ``observe:`` (where, target, variable -> fact), a warning for a fact its
    executor does not declare (``@facts``): that variable would never be observed."""
    from goap.planning.lint import Finding
    from goap.running.execution import ExecutionContext, checked
    from goap.running.facts import undeclared

    answer = checked(calls, ExecutionContext.create(workdir, workdir / ".goap" / "logs"))
    found = [Finding("error", where, why) for where, why in answer["problems"].items()]
    declared = answer.get("facts") or {}
    for where, target, observe in observing:
        spec = declared.get(target)
        if not spec:
            continue  # declares nothing (a user's executor may not): nothing to compare with
        unknown = set(undeclared(spec, dict.fromkeys(observe.values()), failed=True))
        for var, fact in observe.items():
            if fact in unknown:
                names = ", ".join(spec["names"] + spec["on_failure"])
                found.append(
                    Finding(
                        "warning",
                        f"{where}.observe.{var}",
                        f"{target} declares no fact {fact!r}, so {var} is never observed; "
                        f"it declares: {names}",
                    )
                )
    return found


def _located(error: Any) -> str:
    """A load error's problem with its line and fix, for a finding."""
    line = f" (line {error.line})" if error.line else ""
    return f"{error.problem}{line}" + (f"; fix: {error.fix}" if error.fix else "")


@app.command("graph")
@handles_errors
def graph_cmd(
    file: FileArg,
    format: Annotated[str, typer.Option("--format", help="mermaid or dot")] = "mermaid",
) -> None:
    """Draw which action enables which (an edge: an effect satisfies a precondition)."""
    from goap.planning.graph import enables, to_dot, to_mermaid

    if format not in ("mermaid", "dot"):
        raise Usage(f"--format {format!r}: use mermaid or dot")
    graph = enables(_catalog(file))
    print(to_mermaid(graph) if format == "mermaid" else to_dot(graph))


# ------------------------------------------------------------------ goap export


@app.command("export")
@handles_errors
def export_cmd(
    file: FileArg,
    pddl: Annotated[
        Path, typer.Option("--pddl", help="Directory to write domain.pddl and problem.pddl to.")
    ],
    state: StateOpt = None,
    unit_costs: Annotated[
        bool,
        typer.Option(
            "--unit-costs",
            help="Write no action costs (plain STRIPS), for planners without :action-costs.",
        ),
    ] = False,
) -> None:
    """Write the catalog as a PDDL domain and problem, so classical planners can solve it."""
    from goap.planning.pddl import ExportError, export

    catalog = _catalog(file)
    world = _world(catalog, state)
    try:
        result = export(catalog, world, action_costs=False if unit_costs else None)
    except ExportError as exc:
        raise Usage(str(exc)) from None
    domain, problem = result.write(pddl)
    for note in result.notes:
        out().print(f"note: {escape(note)}")
    costs = "with :action-costs" if result.action_costs else "unit costs, plain STRIPS"
    out().print(f"wrote {domain} and {problem} ({costs})")


@app.command("import")
@handles_errors
def import_cmd(
    pddl: Annotated[
        tuple[Path, Path], typer.Option("--pddl", help="The PDDL domain and problem files.")
    ],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Catalog to write.")] = None,
    unit_costs: Annotated[bool, typer.Option("--unit-costs", help="Ignore action costs.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Ground a STRIPS PDDL task into a catalog (printed, or written with -o)."""
    from goap.faces.importing import run_import

    run_import(*pddl, output, unit_costs, json_out)


# ------------------------------------------------------------------ goap state ...


def _load_state(file: Path, state: Path | None) -> tuple[Catalog, Path, Any]:
    from state.store import load_state

    catalog = _catalog(file)
    path = _state_path(catalog, state)
    return catalog, path, load_state(path, catalog.schema, catalog.name)


@state_app.command("show")
@handles_errors
def state_show(file: FileArg, state: StateOpt = None, json_out: JsonOpt = False) -> None:
    """Print the state file: run status, progress and the world state."""
    catalog, path, data = _load_state(file, state)
    if json_out:
        print(data.to_json())  # the file's own document, as `documents.state_document` gives
        return
    from rich.table import Table

    out().print(
        f"[bold]{path}[/]  {data.deployment_id}  status: {data.status}  "
        f"last action: {data.last_action or '-'}"
    )
    out().print(f"completed: {', '.join(data.actions_completed) or '-'}")
    out().print(f"pending: {', '.join(data.actions_pending) or '-'}")
    for failure in data.failures:
        out().print(
            f"[red]failed[/] {escape(failure.action)} (after {failure.attempts} attempts, "
            f"{failure.at}): {escape(failure.error)}"
        )
    for request in data.awaiting:
        why = f" ({request.reason})" if request.reason else ""
        out().print(
            f"[yellow]awaiting approval[/] {escape(request.action)}{escape(why)} since "
            f"{request.requested_at}: goap approve {escape(str(file))} {escape(request.action)}"
        )
    for d in data.approvals:
        said = f": {d.why}" if d.why else ""
        out().print(f"{d.decision} {escape(d.action)} by {escape(d.who)} at {d.at}{escape(said)}")
    if data.report:
        out().print(f"[bold]report[/]: {escape(data.report)}")
    table = Table("variable", "type", "value", header_style="bold")
    for name, value in data.world.items():
        table.add_row(name, catalog.schema[name].type, json.dumps(value))
    out().print(table)


@state_app.command("get")
@handles_errors
def state_get(file: FileArg, key: str, state: StateOpt = None) -> None:
    """Print one variable (or a group, as JSON)."""
    catalog, _, data = _load_state(file, state)
    world = data.world
    if key in world:
        _print_json(world[key])
        return
    group = {k[len(key) + 1 :]: v for k, v in world.items() if k.startswith(key + ".")}
    if not group:
        raise Usage(f"unknown state variable or group {key!r}; see `goap state show {file}`")
    _print_json(catalog.schema.nest(world)[key] if "." not in key else group)


@state_app.command("set")
@handles_errors
def state_set(file: FileArg, key: str, value: str, state: StateOpt = None) -> None:
    """Set one variable; the value must fit its type (and a finite, 64-bit number)."""
    from state.store import StateLock, load_state, save_state

    catalog = _catalog(file)
    path = _state_path(catalog, state)
    if key not in catalog.schema:
        raise Usage(f"unknown state variable {quoted(key)}; see `goap state schema {file}`")
    parsed = catalog.schema[key].parse(value)
    with StateLock(path):
        # lenient: a value that does not fit (the reason to call this) must not block it
        data = load_state(path, catalog.schema, catalog.name, lenient=True)
        data.world[key] = parsed
        save_state(path, data)
    for name, problem in data.invalid.items():
        if name != key:
            err().print(f"note: {escape(problem)}; {name} was reset to its default")
    _print_json({key: parsed})


@state_app.command("reset")
@handles_errors
def state_reset(file: FileArg, state: StateOpt = None) -> None:
    """Start over: the catalog's initial state, an empty journal (the old file is kept as a
    numbered .bak, whatever it holds)."""
    from state.files import backup
    from state.store import StateLock, new_state, save_state

    catalog = _catalog(file)
    path = _state_path(catalog, state)
    with StateLock(path):
        kept = backup(path)  # a copy of the file itself, never of a link's target
        save_state(path, new_state(catalog.name, catalog.schema))
    print(f"reset {path}" + (f" (the old file is {kept})" if kept else ""))


@state_app.command("schema")
@handles_errors
def state_schema(file: FileArg) -> None:
    """JSON Schema of the catalog's world state."""
    catalog = _catalog(file)
    _print_json(catalog.schema.json_schema(f"{catalog.name} world_state"), indent=2)


@app.command("logs")
@handles_errors
def logs_cmd(
    file: FileArg,
    action: Annotated[str | None, typer.Argument(help="Print this action's newest log.")] = None,
    state: StateOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The logs of the state file's newest run, or print an action's newest log."""
    from goap.running.record import run_logs

    catalog = _catalog(file)
    path = _state_path(catalog, state)
    logs = run_logs(path)
    if action is not None:
        if action not in {a.name for a in catalog.actions}:
            raise Usage(f"unknown action {quoted(action)}; see `goap skill list {file}`")
        logs = [log for log in logs if log.name.endswith(f"-{action}.log")][-1:]
        if not logs:
            raise Usage(f"no log of {action} yet for {path}; run it with `goap run {file}`")
        text = logs[0].read_text(encoding="utf-8", errors="replace")
        if json_out:
            _print_json({"action": action, "path": str(logs[0]), "text": text})
        else:
            sys.stdout.write(text)
        return
    if json_out:
        _print_json({"logs": [{"path": str(p), "bytes": p.stat().st_size} for p in logs]})
        return
    if not logs:
        out().print(f"no logs yet for {path}")
    for log in logs:
        print(f"{log}  ({log.stat().st_size} bytes)")


@app.command("init")
@handles_errors
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="The repository (default: here).")] = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Write goap.yaml (a commented catalog of the checks, git and CI steps found) and
    goap.toml (backends; pushes go to goap's own remote) into an existing repository.
    Never overwrites: exit 2 and nothing written when either file exists."""
    from goap.faces.scaffold import init

    report = init(directory)
    if json_out:
        _print_json(report.document())
    else:
        print("\n".join(report.lines()))


# ------------------------------------------------------------------ approvals, explain

ActionArg = Annotated[str, typer.Argument(help="The action's name.")]
WhoOpt = Annotated[str | None, typer.Option("--as", help="Who answers (default: the user name).")]
WhyOpt = Annotated[str, typer.Option("--why", help="Why, for the journal.")]


def _answer(
    file: Path,
    action: str,
    approve: bool,
    state: Path | None,
    who: str | None,
    why: str,
    json_out: bool,
) -> None:
    import getpass

    from goap.running.approval import answer

    catalog = _catalog(file)
    if who is None:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
    decision = answer(catalog.path, _state_path(catalog, state), action, approve, who, why)
    if json_out:
        _print_json(decision)
        return
    where = (
        "the running goap takes it in within a second"
        if decision["queued"]
        else f"continue the run with `goap run {file} --resume`"
    )
    out().print(f"{decision['decision']} {escape(action)} as {escape(decision['who'])}: {where}")


@app.command("approve")
@handles_errors
def approve_cmd(
    file: FileArg,
    action: ActionArg,
    state: StateOpt = None,
    who: WhoOpt = None,
    why: WhyOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Approve the action a run waits for (who, when and why go to the journal)."""
    _answer(file, action, True, state, who, why, json_out)


@app.command("deny")
@handles_errors
def deny_cmd(
    file: FileArg,
    action: ActionArg,
    state: StateOpt = None,
    who: WhoOpt = None,
    why: WhyOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Deny it: the run plans around the action for the rest of the run (a later
    `goap approve` lifts the denial), or ends naming the denial when no route is left."""
    _answer(file, action, False, state, who, why, json_out)


@app.command("explain")
@handles_errors
def explain_cmd(
    file: FileArg,
    action: Annotated[
        str | None, typer.Argument(help="Why not this action (or what it serves).")
    ] = None,
    state: StateOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Why this plan: what each step serves; with ACTION, why it is not in the plan (its
    unmet preconditions, the cheapest plan that uses it); for an unreachable goal, which
    conditions block it and which actions come closest."""
    from goap.planning.explain import ExplainError, explain

    catalog = _catalog(file)
    try:
        document = explain(catalog, _world(catalog, state), action)
    except ExplainError as exc:
        raise Usage(str(exc)) from None
    if json_out:
        _print_json(document)
        return
    from goap.faces.view import explanation_lines

    for line in explanation_lines(document):
        out().print(escape(line), soft_wrap=True)


# ------------------------------------------------------------------ agents: skills, next, mcp

skill_app = typer.Typer(no_args_is_help=True, help="Drive single actions, as an agent would.")
app.add_typer(skill_app, name="skill")
WorkdirOpt = Annotated[Path, typer.Option(help="Where actions run (default: here).")]


@skill_app.command("list")
@handles_errors
def skill_list(
    file: FileArg,
    state: StateOpt = None,
    workdir: WorkdirOpt = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Every action with its skill group, cost, needs, effects, arguments, and if it applies."""
    from goap.faces.skills import list_actions

    catalog = _catalog(file)
    listing = list_actions(catalog, _state_path(catalog, state), workdir)
    if json_out:
        _print_json(listing)
        return
    from goap.faces.view import actions_table

    rows = [
        {**item, "id": item["id"] or "", "skill": item["skill"] or ""}
        for item in listing["actions"]
    ]
    out().print(actions_table(rows, width=out().width))


@skill_app.command("run")
@handles_errors
def skill_run(
    file: FileArg,
    action: Annotated[str, typer.Argument(help="The action's name.")],
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg", help="Override an argument of `with:`: KEY=VALUE (YAML value; repeatable)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Run even if its preconditions do not hold (recorded in the journal)."),
    ] = False,
    state: StateOpt = None,
    workdir: WorkdirOpt = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Run exactly one action against the persisted state (exit codes as `goap run`)."""
    from goap.faces.skills import parse_args, run_action

    catalog = _catalog(file)
    if not workdir.is_dir():
        raise Usage(f"--workdir {workdir}: no such directory")
    result = run_action(
        catalog, _state_path(catalog, state), workdir, action, parse_args(arg or []), force
    )
    if json_out:
        _print_json(result)
    else:
        color = "green" if result["ok"] else "red"
        err().print(
            f"[{color}]{result['action']} {result['outcome']}[/] "
            f"({result['seconds']:.1f}s){': ' + escape(result['error']) if result['error'] else ''}"
        )
        if result["tail"]:
            err().print(result["tail"], markup=False)
    raise typer.Exit(result["exit_code"])


@skill_app.command("export")
@handles_errors
def skill_export(
    file: FileArg,
    dir: Annotated[Path, typer.Option("--dir", help="Where to write <skill>/SKILL.md.")],
    workdir: WorkdirOpt = Path("."),
) -> None:
    """Write one SKILL.md per skill group, for agent harnesses that load skill folders."""
    from goap.faces.skills import export_skills, list_actions

    catalog = _catalog(file)
    listing = list_actions(catalog, _state_path(catalog, None), workdir)
    for path in export_skills(catalog, listing, dir):
        print(path)


@app.command("next")
@handles_errors
def next_cmd(file: FileArg, state: StateOpt = None, json_out: JsonOpt = False) -> None:
    """The next action of the current optimal plan from the persisted state."""
    from goap.faces.skills import next_action

    catalog = _catalog(file)
    result = next_action(catalog, _state_path(catalog, state))
    if json_out:
        _print_json(result)
    elif result["next"]:
        step = result["next"]
        out().print(
            f"next: {step['id'] or ''} {step['name']} (skill {step['skill'] or '-'}, "
            f"cost {step['cost']:g})"
        )
        out().print(f"then: {' -> '.join(result['ids'][1:]) or 'goal'}")
    else:
        out().print(result["message"])
    raise typer.Exit(3 if result["status"] not in ("found", "goal_reached") else 0)


@app.command("mcp")
@handles_errors
def mcp_cmd(
    file: FileArg,
    state: StateOpt = None,
    workdir: WorkdirOpt = Path("."),
    approvals: Annotated[
        bool,
        typer.Option(
            "--approvals",
            help="Also offer approve and deny: the agent may answer approval gates (give it "
            "only to an agent that relays a person's decisions).",
        ),
    ] = False,
) -> None:
    """Serve the catalog's actions as MCP tools over stdio."""
    try:
        import mcp  # noqa: F401 - first, so a missing install names mcp, not what it pulls in

        from goap.faces.mcp_server import serve
    except ModuleNotFoundError as exc:
        raise Usage(f"goap mcp needs the module {exc.name!r}; {_install(exc, 'goap')}") from None

    catalog = _catalog(file)
    serve(catalog.path, _state_path(catalog, state), workdir.resolve(), approvals)


# ------------------------------------------------------------------ commands from other packages

COMMANDS = "goap.commands"  # entry-point group: packages above the engine add commands here


def builtin_commands() -> set[str]:
    names = {info.name or info.callback.__name__ for info in app.registered_commands}
    return names | {info.name for info in app.registered_groups}


def add_plugin_commands() -> None:
    """Register the commands other installed packages declare (``goap demo`` comes from
    ``demo``). Only called when the command asked for is not built in, so ``goap plan``
    never pays for scanning the installed distributions."""
    from importlib.metadata import entry_points

    taken = builtin_commands()
    for point in entry_points(group=COMMANDS):
        if point.name in taken:
            continue
        taken.add(point.name)
        try:
            command = point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break goap
            command = _unavailable(point.name, point.value, exc)
        app.command(point.name)(command)


def _install(exc: ModuleNotFoundError, importer: str) -> str:
    from goap.running.extras import install_hint

    return install_hint(exc.name or "", importer) or "install it"


def _unavailable(name: str, value: str, exc: Exception) -> Callable[..., None]:
    def command() -> None:
        hint = f"; {_install(exc, value)}" if isinstance(exc, ModuleNotFoundError) else ""
        fail(f"goap {name} cannot load ({value}): {type(exc).__name__}: {exc}{hint}")

    command.__doc__ = f"(cannot load: {exc})"
    return command


class Masked:
    """stdout or stderr with every secret masked: the CLI's one boundary for what it prints."""

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(MASKER(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, fileno...
        return getattr(self.stream, name)


def main() -> None:
    sys.stdout, sys.stderr = Masked(sys.stdout), Masked(sys.stderr)
    first = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if first is None or first not in builtin_commands():
        add_plugin_commands()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
