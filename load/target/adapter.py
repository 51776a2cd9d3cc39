"""Target adapters: a deployment's HTTP calls for chakong's logical requests, from a TOML file.

An adapter file says, for each logical request (:mod:`load.target.logical`), the method,
path, query parameters, headers and JSON body to send, as templates over the request's
variables (``"/v1/cases/{case_id}"``; a string that is exactly one ``{name}`` keeps the
value's type, so ``claim_fen = "{claim_fen}"`` sends a number), which statuses mean
success, and where in the answer to find what the flows need next (``extract``: a dotted
path into the JSON, ``data.id``; a number indexes a list; a trailing ``?`` makes it
optional). Refusals (the API enforcing a
rule, not an error) are a status and a code path; correctness checks that need admin
endpoints or particular semantics are optional (``[checks]``), and are reported as
skipped when an adapter does not declare them.

``poll_control`` (optional) says how a control an agency still has is followed: how often a
client polls it (``interval_seconds``), where its status is and which words end it
(:class:`PollControlSpec`); without it every control is final when answered.

What a file cannot say goes into a small Python hook (``hook = "file.py"`` beside the
adapter), which may define either or both of::

    def before(logical: str, request: dict, variables: dict) -> dict | None: ...
    def after(logical: str, status: int, body: object, variables: dict) -> object: ...

``before`` may change the request (``method``, ``path``, ``params``, ``headers``, ``body``)
before it is sent (sign it, reshape a body, convert units; a body it turns into text is
sent as that text, as JSON); ``after`` may turn an answer
into the JSON shape the adapter's paths read. The hook's source travels inside the plan,
so remote workers need nothing beside ``plan.json`` and the fixtures.

The reference API's adapter is ``load/target/reference.toml``. Plain Python, no gevent.
"""

from __future__ import annotations

import json
import re
import tomllib
import types
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from load.target import logical as lr
from sim.errors import UserError
from sim.scenario.stages import ASSET_TYPE_NAMES

REFERENCE = Path(__file__).with_name("reference.toml")
_PLACE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ASSET_TYPES = frozenset(ASSET_TYPE_NAMES)  # the scenario's asset types, and no others


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Spec):
    """A value at ``path`` of the answer equal to ``equals``."""

    path: str
    equals: Any


class RequestSpec(_Spec):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/")
    name: str | None = Field(default=None, description="statistics name (default: the logical)")
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    body: Any = None
    ok: list[int] = Field(default=[200, 201, 202], min_length=1)
    extract: dict[str, str] = {}


class PollSpec(RequestSpec):
    """``poll_query``: when a query is answered, and where its findings are."""

    answered: Match
    findings: str = "findings"
    finding: dict[str, str] = {
        "asset_id": "asset_id",
        "asset_type": "asset_type",
        "balance_fen": "balance_fen",
        "channel": "channel",
    }
    balance_unit: Literal["fen", "yuan"] = "fen"
    asset_types: dict[str, str] = Field(
        default={}, description="the API's word for an asset type -> chakong's"
    )


class PollControlSpec(RequestSpec):
    """``poll_control``: a control's state while an agency has it, and the words that end it.

    A control's own answer is read with the same ``status`` path: absent, or one of ``done``,
    it is final at once; one of ``failed`` or ``refused``, it ended so; one of ``unknown``,
    the API stopped waiting for the agency (sent again with its key, and polled); anything
    else (``accepted``, ``processing``) means the agency has it. An adapter without
    ``poll_control`` takes every control as final when answered."""

    interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="how often a client polls a control the agency has (wall seconds); with "
        "the scenario's control latency it gives the polls the plan allows each control",
    )
    status: str = "status"
    done: list[str] = ["done"]
    failed: list[str] = ["failed"]
    refused: list[str] = ["refused"]
    unknown: list[str] = ["unknown"]


class Refusals(_Spec):
    status: list[int] = [409]
    code: str = "code"
    codes: list[str] = Field(default=[], description="documented codes (empty: any code)")


class Check(_Spec):
    method: Literal["GET", "POST"] = "GET"
    path: str = Field(pattern=r"^/")
    ok: Match


class CaseControls(_Spec):
    """Where ``read_case``'s answer lists the case's controls: after the run every case the
    flows made controls on is read, and what it lists held against what was acknowledged."""

    controls: str = "controls"  # the list
    id: str = "control_id"  # in each, as the controls' answers give it (checks.replay_id)
    status: str = "status"  # in each, in poll_control's words
    recovered_fen: str | None = Field(
        default=None,
        description="the case's money recovered, in fen (checked against the "
        "deductions acknowledged done and those whose fate is open)",
    )


class Checks(_Spec):
    reconcile: Check | None = None
    audit: Check | None = None
    over_cap_code: str | None = Field(
        default=None, description="refusal code of a provident-fund deduction over the cap"
    )
    replay_id: str | None = Field(
        default=None,
        description="answer path of the control's id; a control sent again with the same "
        "{key} must give the same id (controls must send {key})",
    )
    case_controls: CaseControls | None = None


class AdapterSpec(_Spec):
    name: str
    description: str = ""
    hook: str | None = None
    auth: dict[str, str] = Field(default={}, description="headers of a court's request")
    admin_auth: dict[str, str] = Field(default={}, description="headers of the checks' requests")
    health: Check | None = None
    refusals: Refusals = Refusals()
    checks: Checks = Checks()
    requests: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One HTTP request, ready to send."""

    logical: str
    name: str
    method: str
    url: str  # path and query string
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """An answer as the flows see it: ``ok``, ``refused`` (a documented refusal) or ``error``."""

    result: str
    label: str = ""  # refusal code or what went wrong
    values: dict[str, Any] = field(default_factory=dict)  # extracted variables
    state: str = ""  # controls and poll_control: done, failed, refused, unknown or open
    answered: bool = False  # poll_query: the query is answered
    findings: list[dict[str, Any]] = field(default_factory=list)  # poll_query, when answered
    body: Any = None


def dig(data: Any, path: str) -> Any:
    """The value at dotted ``path`` (``data.items.0.id``); ``KeyError`` when absent."""
    value = data
    for part in path.split(".") if path else ():
        if isinstance(value, list) and part.lstrip("-").isdigit():
            try:
                value = value[int(part)]
            except IndexError:
                raise KeyError(path) from None
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(path)
    return value


def _strings(tree: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(tree, str):
        yield where, tree
    elif isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from _strings(v, f"{where}.{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _strings(v, f"{where}[{i}]")


def fill(template: Any, variables: Mapping[str, Any], quote: bool = False) -> Any:
    """``template`` with every ``{name}`` replaced; a string that is one placeholder alone
    becomes the value itself (a number stays a number)."""
    if isinstance(template, str):
        whole = _PLACE.fullmatch(template)
        if whole and not quote:
            return variables[whole.group(1)]

        def sub(m: re.Match[str]) -> str:
            text = str(variables[m.group(1)])
            return urllib.parse.quote(text, safe="") if quote else text

        return _PLACE.sub(sub, template)
    if isinstance(template, Mapping):
        return {k: fill(v, variables) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, variables) for v in template]
    return template


class Adapter:
    """A loaded adapter: renders calls and reads answers. Build with :func:`load_adapter`
    (a file) or :meth:`from_json` (inside a plan)."""

    def __init__(
        self, spec: AdapterSpec, source: str, hook_source: str | None, hook_name: str | None
    ) -> None:
        self.spec = spec
        self.source = source  # where it came from, for messages
        self.requests: dict[str, RequestSpec] = {}
        for name, raw in spec.requests.items():
            model = _MODELS.get(name, RequestSpec)
            self.requests[name] = model.model_validate(raw)
        self.hook_source, self.hook_name = hook_source, hook_name
        self._before: Callable[..., Any] | None = None
        self._after: Callable[..., Any] | None = None
        if hook_source is not None:
            module = types.ModuleType(f"chakong_adapter_hook_{hook_name or 'inline'}")
            module.__file__ = hook_name or "<hook>"
            exec(compile(hook_source, hook_name or "<hook>", "exec"), module.__dict__)
            self._before = getattr(module, "before", None)
            self._after = getattr(module, "after", None)

    # ------------------------------------------------------------ plan

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "spec": self.spec.model_dump(mode="json"),
            "hook": None
            if self.hook_source is None
            else {"file": self.hook_name, "source": self.hook_source},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Adapter:
        hook = data.get("hook") or {}
        return cls(
            AdapterSpec.model_validate(data["spec"]),
            data["source"],
            hook.get("source"),
            hook.get("file"),
        )

    # ------------------------------------------------------------ what it offers

    @property
    def name(self) -> str:
        return self.spec.name

    def supports(self, logical: str) -> bool:
        return logical in self.requests

    def stat_name(self, logical: str) -> str:
        return self.requests[logical].name or logical

    @property
    def poll_control(self) -> PollControlSpec | None:
        """How controls are followed; None: every control is final when answered."""
        spec = self.requests.get(lr.POLL_CONTROL)
        return spec if isinstance(spec, PollControlSpec) else None

    def control_state(self, body: Any) -> str:
        """What a control's answer (or a poll's) says of it: done, failed, refused, unknown
        or open (the agency has it), in :mod:`load.target.logical`'s words."""
        poll = self.poll_control
        if poll is None:
            return lr.DONE
        try:
            word = dig(body, poll.status)
        except (KeyError, TypeError):
            return lr.DONE  # a control's answer with no status: decided at once
        return self.state_of(word)

    def state_of(self, word: Any) -> str:
        """A status word of the API (``poll_control``'s lists) in the flows' terms."""
        poll = self.poll_control
        if poll is None:
            return lr.DONE
        word = str(word)
        for state, words in (
            (lr.DONE, poll.done),
            (lr.FAILED, poll.failed),
            (lr.REFUSED, poll.refused),
            (lr.UNKNOWN, poll.unknown),
        ):
            if word in words:
                return state
        return lr.OPEN

    @property
    def sends_keys(self) -> bool:
        """Controls carry an idempotency key (``{key}``) somewhere."""
        return all(
            any("{key}" in text for _, text in _strings(self.requests[c].model_dump(), ""))
            for c in lr.CONTROLS
            if c in self.requests
        )

    # ------------------------------------------------------------ requests

    def call(self, logical: str, variables: Mapping[str, Any]) -> Call:
        spec = self.requests[logical]
        request: dict[str, Any] = {
            "method": spec.method,
            "path": fill(spec.path, variables, quote=True),
            "params": {k: str(fill(v, variables)) for k, v in spec.params.items()},
            "headers": {
                **{k: str(fill(v, variables)) for k, v in self.spec.auth.items()},
                **{k: str(fill(v, variables)) for k, v in spec.headers.items()},
            },
            "body": fill(spec.body, variables),
        }
        if self._before is not None:
            request = self._before(logical, request, dict(variables)) or request
        url = request["path"]
        if request.get("params"):
            url += "?" + urllib.parse.urlencode(request["params"])
        return Call(
            logical,
            self.stat_name(logical),
            request["method"],
            url,
            dict(request.get("headers") or {}),
            request.get("body"),
        )

    def admin_call(self, check: Check, variables: Mapping[str, Any]) -> Call:
        headers = {k: str(fill(v, variables)) for k, v in self.spec.admin_auth.items()}
        return Call("check", check.path, check.method, check.path, headers, None)

    # ------------------------------------------------------------ answers

    def read(
        self, logical: str, status: int, text: str | bytes | None, variables: Mapping[str, Any]
    ) -> Reply:
        """Classify an answer (status 0: none came) and take from it what the flows need."""
        if not status:
            return Reply("error", "no answer")
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        if self._after is not None:
            body = self._after(logical, status, body, dict(variables))
        spec = self.requests[logical]
        if status not in spec.ok:
            refusals = self.spec.refusals
            if status in refusals.status and isinstance(body, dict):
                try:
                    code = str(dig(body, refusals.code))
                except KeyError:
                    code = None
                if code is not None and (not refusals.codes or code in refusals.codes):
                    return Reply("refused", code, body=body)
                return Reply("error", f"{status} {code}", body=body)
            return Reply("error", str(status), body=body)
        needs_json = bool(spec.extract) or isinstance(spec, PollSpec)
        if needs_json and not isinstance(body, dict | list):
            return Reply("error", f"{status} not JSON", body=body)
        try:
            values = {var: _extract(body, path) for var, path in spec.extract.items()}
            reply = Reply("ok", values=values, body=body)
            if logical in lr.CONTROLS or logical == lr.POLL_CONTROL:
                reply.state = self.control_state(body)
            if isinstance(spec, PollSpec):
                reply.answered = _equal(dig(body, spec.answered.path), spec.answered.equals)
                if reply.answered:
                    reply.findings = [self._finding(spec, f) for f in dig(body, spec.findings)]
            return reply
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(
                "error", f"{status} unexpected body ({type(exc).__name__}: {exc})", body=body
            )

    def _finding(self, spec: PollSpec, raw: Any) -> dict[str, Any]:
        out = {k: dig(raw, p) for k, p in spec.finding.items()}
        kind = str(out.get("asset_type", ""))
        out["asset_type"] = spec.asset_types.get(kind, kind)
        balance = out.get("balance_fen") or 0
        out["balance_fen"] = round(float(balance) * (100 if spec.balance_unit == "yuan" else 1))
        return out


_MODELS: dict[str, type[RequestSpec]] = {lr.POLL_QUERY: PollSpec, lr.POLL_CONTROL: PollControlSpec}


def _extract(body: Any, path: str) -> Any:
    """``dig``, except that a path ending in ``?`` is optional (absent: ``None``)."""
    if path.endswith("?"):
        try:
            return dig(body, path[:-1])
        except (KeyError, TypeError):
            return None
    return dig(body, path)


def _equal(value: Any, expected: Any) -> bool:
    return value == expected or (isinstance(expected, str) and str(value) == expected)


# ---------------------------------------------------------------- loading


def _problems(err: ValidationError, where: str) -> list[str]:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        lines.append(f"{where}: {loc}: {e['msg']}")
    return lines


def _check_templates(adapter: Adapter, where: str) -> None:
    problems = []
    for name in adapter.spec.requests:
        if name not in lr.LOGICAL:
            problems.append(
                f"{where}: requests.{name}: not a logical request (one of {', '.join(lr.LOGICAL)})"
            )
    missing = [n for n in lr.REQUIRED if n not in adapter.spec.requests]
    if missing:
        problems.append(f"{where}: requests: needs {', '.join(missing)}")
    for name, spec in adapter.requests.items():
        allowed = lr.COMMON_VARS | lr.VARS.get(name, frozenset())
        parts = spec.model_dump(include={"path", "params", "headers", "body"})
        strings = [*_strings(parts, f"requests.{name}"), *_strings(adapter.spec.auth, "auth")]
        for at, text in strings:
            for var in _PLACE.findall(text):
                if var not in allowed:
                    problems.append(
                        f"{where}: {at}: unknown variable {{{var}}} (known here: "
                        f"{', '.join(sorted(allowed))})"
                    )
    for at, text in _strings(adapter.spec.admin_auth, "admin_auth"):
        for var in _PLACE.findall(text):
            if var != "admin_token":
                problems.append(f"{where}: {at}: unknown variable {{{var}}} (known: admin_token)")
    poll = adapter.requests.get(lr.POLL_QUERY)
    if isinstance(poll, PollSpec):
        if "asset_id" not in poll.finding:
            problems.append(f"{where}: requests.poll_query.finding: needs asset_id")
        for word, kind in poll.asset_types.items():
            if kind not in _ASSET_TYPES:
                types_ = ", ".join(sorted(_ASSET_TYPES))
                problems.append(
                    f"{where}: requests.poll_query.asset_types.{word}: '{kind}' is "
                    f"not an asset type ({types_})"
                )
    checks = adapter.spec.checks
    if checks.replay_id is not None and not adapter.sends_keys:
        problems.append(f"{where}: checks.replay_id: the controls send no {{key}}")
    if checks.case_controls is not None:
        if lr.READ_CASE not in adapter.requests:
            problems.append(f"{where}: checks.case_controls: needs requests.read_case")
        if checks.replay_id is None:
            problems.append(
                f"{where}: checks.case_controls: needs checks.replay_id (the control's id)"
            )
    if adapter.poll_control is not None and not any(c in adapter.requests for c in lr.CONTROLS):
        problems.append(f"{where}: requests.poll_control: the adapter has no control to poll")
    if problems:
        raise UserError(problems)


def load_adapter(path: str | Path | None = None) -> Adapter:
    """The adapter in ``path`` (default: the reference API's), checked: bad files raise
    :class:`UserError` with one line per problem, naming the file and the field."""
    file = Path(path) if path is not None else REFERENCE
    where = f"--adapter {file}" if path is not None else f"adapter {file.name}"
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{where}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{where}: not valid TOML ({exc})") from None
    try:
        spec = AdapterSpec.model_validate(raw)
    except ValidationError as err:
        raise UserError(_problems(err, where)) from None
    hook_source = hook_name = None
    if spec.hook is not None:
        hook_file = (file.parent / spec.hook).resolve()
        try:
            hook_source = hook_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{where}: hook: cannot read {hook_file} ({exc.strerror})") from None
        hook_name = hook_file.name
    try:
        adapter = Adapter(spec, str(file), hook_source, hook_name)
    except ValidationError as err:
        raise UserError(_problems(err, where)) from None
    except Exception as exc:  # the hook's own code failed to load
        raise UserError(f"{where}: hook {hook_name}: {type(exc).__name__}: {exc}") from None
    _check_templates(adapter, where)
    return adapter
