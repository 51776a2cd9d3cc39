"""Request and response bodies: the contract, as pydantic models (and so as OpenAPI).

Requests are strict: unknown fields are refused, types are not coerced (``"100"`` is not a
number, ``true`` is not 1, ``99.5`` is not a whole number of fen), money is a whole number
of fen between 1 and :data:`MAX_FEN`, ids are positive and bounded. A JSON number with a
zero fraction (``100.0``, ``1e3``) is the integer it equals, as JSON Schema (and so the
OpenAPI contract) says; bodies are parsed with exact decimals (:mod:`load.api.body`), so
``99.99999999999999999`` is not 100. Responses are documented by the models below; the
routes write the same shapes.

The path ids and the ``Idempotency-Key`` header are typed here too (:data:`PathId`,
:data:`IdempotencyKey`): the routes declare them and the fast path validates with the same
types (:data:`path_id`, :data:`idempotency_key`), so there is one definition of each check.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter

from load.api.audit import SHARDS
from load.api.errors import REFUSALS

MAX_FEN = 10**15  # 10 trillion yuan: more than any claim, well inside 64-bit integers
MAX_ID = 2**53  # ids stay exact in every JSON client


MAX_DIGITS = 30  # a number with more digits than this is never a valid id or amount


def _integral(value: object) -> object:
    """A number with no fraction is the integer it equals (JSON Schema's view of numbers):
    a float, or a Decimal as the body parser gives them. Anything longer than
    :data:`MAX_DIGITS` digits stays as it is (and fails as not an integer): ``1e999999999``
    is never expanded."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.adjusted() < MAX_DIGITS
        and value == value.to_integral_value()
    ):
        return int(value)
    return value


Integral = BeforeValidator(_integral)


def _number(value: object) -> object:
    """A number as the body parser gives it (a Decimal) as a float; ints stay ints."""
    return float(value) if isinstance(value, Decimal) else value


_DECIMAL_ID = re.compile(f"[1-9][0-9]{{0,{len(str(MAX_ID)) - 1}}}")


def _decimal_id(value: object) -> object:
    """A path id is written in plain decimal digits: not ``1.0``, ``+1``, `` 1``, ``01``."""
    if isinstance(value, str):
        if _DECIMAL_ID.fullmatch(value) is None:
            raise ValueError(f"an id is a whole number from 1 to {MAX_ID} in plain digits")
        return int(value)
    return value


PathId = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_decimal_id)]
"""An id in a path (``/v1/queries/{query_id}``)."""
IdempotencyKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[!-~]+$"),
    Field(description="A client-chosen key (printable ASCII, no spaces) naming this control."),
]
"""The ``Idempotency-Key`` header of a control."""
path_id: TypeAdapter[int] = TypeAdapter(PathId)
idempotency_key: TypeAdapter[str] = TypeAdapter(IdempotencyKey)
Fen = Annotated[
    int, Field(ge=1, le=MAX_FEN, description="Money in fen (1 yuan = 100 fen)."), Integral
]
Id = Annotated[int, Field(ge=1, le=MAX_ID), Integral]
AssetId = Annotated[
    str,
    Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_.:-]+$", examples=["D000001-0"]),
]
DebtorId = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$", examples=["D000001"])
]
Channel = Literal["central", "local"]
Action = Literal["freeze", "renew", "unfreeze", "deduct"]
if TYPE_CHECKING:
    RefusalCode = str
else:  # the refusal codes, listed in the OpenAPI
    RefusalCode = Literal[tuple(REFUSALS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ---------------------------------------------------------------- requests


class CaseCreate(Strict):
    """Open an enforcement case against a debtor. The court is the token's, never the body's."""

    debtor_id: DebtorId
    claim_fen: Fen


class QueryCreate(Strict):
    """Ask the network what the case's debtor owns, over one channel."""

    case_id: Id
    channel: Channel


class _Control(Strict):
    case_id: Id
    asset_id: AssetId


class FreezeControl(_Control):
    """Freeze: hold up to ``amount_fen`` (default: the claim still outstanding, or the free
    balance if that is less)."""

    action: Literal["freeze"]
    amount_fen: Fen | None = None


class RenewControl(_Control):
    """Renew the case's freeze for another period, from now (before it expires)."""

    action: Literal["renew"]


class UnfreezeControl(_Control):
    """Release the case's freeze: its hold goes back to the debtor."""

    action: Literal["unfreeze"]


class DeductControl(_Control):
    """Deduct ``amount_fen`` from the case's freeze into the court's account."""

    action: Literal["deduct"]
    amount_fen: Fen


Control = FreezeControl | RenewControl | UnfreezeControl | DeductControl
ControlCreate = Annotated[Control, Field(discriminator="action")]
control_create: TypeAdapter[Control] = TypeAdapter(ControlCreate)


# ---------------------------------------------------------------- responses


class Error(BaseModel):
    code: str = Field(description="Machine-readable; see the table in the description.")
    detail: str = Field(description="What is wrong, for a person.")
    errors: list[dict[str, object]] | None = Field(
        default=None, description="Validation errors: location, message, type."
    )


class Refusal(BaseModel):
    code: RefusalCode
    detail: str
    control_id: int | None = Field(default=None, description="The refused control, recorded.")
    sim_time: str | None = None


class CaseCreated(BaseModel):
    case_id: int


class QueryCreated(BaseModel):
    query_id: int


class FindingView(BaseModel):
    asset_id: str
    asset_type: str
    agency: str
    channel: Channel
    balance_fen: int = Field(description="As the agency's record says (a stale record is off).")


AgencyStatus = Literal["accepted", "processing", "done", "unknown"]
ControlStatus = Literal["accepted", "processing", "done", "failed", "unknown", "refused"]


class AgencyAnswer(BaseModel):
    agency: str
    status: AgencyStatus = Field(
        description="accepted (not picked up yet), processing, done (answered) or unknown "
        "(fault mode: the API stopped waiting; a late answer may still arrive)."
    )


class QueryView(BaseModel):
    query_id: int
    case_id: int
    channel: Channel
    sent_at: str = Field(description="Simulated time the query was sent.")
    status: Literal["accepted", "processing", "answered"] = Field(
        description="answered once every agency has answered or been given up on."
    )
    agencies: list[AgencyAnswer]
    findings: list[FindingView] = Field(description="Answers received so far.")


class ControlDone(BaseModel):
    """A control carried out at once (``[api] controls = "instant"``, the default)."""

    control_id: int
    case_id: int
    asset_id: str
    action: Action
    status: Literal["done"]
    outcome: Literal["frozen", "waiting", "renewed", "unfrozen", "deducted"] = Field(
        description="waiting: the asset is held by earlier freezes; this one waits in line "
        "(轮候) and takes effect when they are released."
    )
    amount_fen: int | None = Field(description="Money moved (None for a renewal).")
    freeze_id: int
    held_fen: int = Field(description="Held by the freeze after this control.")
    expires_at: str | None = Field(description="Simulated expiry of the freeze.")
    recovered_fen: int = Field(description="The case's recovered money after this control.")
    sim_time: str = Field(description="Simulated time of the control.")
    cap_year: int | None = Field(default=None, description="Provident fund: the cap's year.")
    cap_used_fen: int | None = Field(default=None, description="Provident fund: used this year.")


class ControlAccepted(BaseModel):
    """A control handed to the agency (``[api] controls = "scenario"``): follow it at
    ``GET /v1/controls/{control_id}``."""

    control_id: int
    case_id: int
    asset_id: str
    action: Action
    status: Literal["accepted"]
    amount_fen: int | None = Field(description="Money reserved for it (None: none).")
    freeze_id: int | None
    sim_time: str = Field(description="Simulated time the control was made.")


class ControlState(BaseModel):
    """A control as it stands (``GET /v1/controls/{control_id}``)."""

    control_id: int
    case_id: int
    asset_id: str
    action: Action
    status: ControlStatus
    outcome: str | None = Field(
        description="Once done: frozen, waiting, renewed, unfrozen, deducted; once failed: "
        "the agency's reason (agency_failed, freeze_expired, not_frozen); once refused: the "
        "refusal's code; None while it is not known."
    )
    amount_fen: int | None = Field(description="Money it moved, once done.")
    freeze_id: int | None
    held_fen: int | None = Field(description="What its freeze holds now.")
    expires_at: str | None = Field(description="Its freeze's expiry now, while it holds.")
    sim_time: str = Field(description="Simulated time the control was made.")


class ControlView(BaseModel):
    control_id: int
    asset_id: str
    action: Action
    status: ControlStatus
    outcome: str | None
    amount_fen: int | None
    freeze_id: int | None
    sim_time: str


class CaseView(BaseModel):
    case_id: int
    court_id: str
    debtor_id: str
    claim_fen: int
    recovered_fen: int
    created_at: str
    queries: list[int]
    controls: list[ControlView]


class ReconcileView(BaseModel):
    ok: bool
    initial_total_fen: int
    debtor_fen: int
    frozen_fen: int
    pending_fen: int = Field(description="With agencies, on its way (controls = scenario).")
    court_fen: int
    other_fen: int = Field(description="Taken by other authorities ahead of waiting freezes.")
    controls: int
    journal_entries: int
    problem_count: int
    problems: list[str]


class Checkpoint(BaseModel):
    """The audit chains' heads, signed with the audit key: keep it, send it back to verify."""

    model_config = ConfigDict(extra="forbid", strict=True)

    version: Literal[1]
    at_utc: str = Field(max_length=40)
    heads: dict[
        str,
        list[
            Annotated[int, Field(ge=0, le=MAX_ID), Integral] | Annotated[str, Field(max_length=64)]
        ],
    ] = Field(
        max_length=SHARDS,
        description="Chain (shard) -> [number of its last entry, that entry's MAC].",
    )
    signature: str = Field(max_length=128)


class AuditVerifyView(BaseModel):
    ok: bool
    entries: int
    refused: int = Field(description="Refused requests the log counts (401, 403, 404).")
    first_bad: str | None = Field(description="CHAIN:ENTRY of the first entry that fails.")
    sealed: int = Field(description="Entries the checkpoint seals (all verified).")
    unsealed: int = Field(description="Entries written after it (verified, not yet sealed).")
    checkpoint: str = Field(description="When the checkpoint held against was made, or none.")
    problem_count: int
    problems: list[str]


class ClockAdvance(Strict):
    """Move the simulated clock forward (every worker at once; kept across restarts)."""

    days: Annotated[float, Field(gt=0, le=3650, allow_inf_nan=False), BeforeValidator(_number)]


class ClockView(BaseModel):
    sim_time: str
    offset_days: float


class Health(BaseModel):
    status: Literal["ok"]
    sim_time: str
