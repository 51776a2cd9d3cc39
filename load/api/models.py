"""Request and response bodies: the contract, as pydantic models (and so as OpenAPI).

Requests are strict: unknown fields are refused, types are not coerced (``"100"`` is not a
number, ``true`` is not 1, ``99.5`` is not a whole number of fen), money is a whole number
of fen between 1 and :data:`MAX_FEN`, ids are positive and bounded. A JSON number with a
zero fraction (``100.0``, ``1e3``) is the integer it equals, as JSON Schema (and so the
OpenAPI contract) says. Responses are documented by the models
below; the routes write the same shapes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from load.api.errors import REFUSALS

MAX_FEN = 10**15  # 10 trillion yuan: more than any claim, well inside 64-bit integers
MAX_ID = 2**53  # ids stay exact in every JSON client


def _integral(value: object) -> object:
    """A float with no fraction is the integer it equals (JSON Schema's view of numbers)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integral = BeforeValidator(_integral)
Fen = Annotated[
    int, Field(ge=1, le=MAX_FEN, description="Money in fen (1 yuan = 100 fen)."), Integral
]
Id = Annotated[int, Field(ge=1, le=MAX_ID), Integral]
AssetId = Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_.:-]+$")]
DebtorId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")]
Channel = Literal["central", "local"]
Action = Literal["freeze", "renew", "unfreeze", "deduct"]
RefusalCode = Literal[tuple(REFUSALS)]  # type: ignore[valid-type]


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


class QueryView(BaseModel):
    query_id: int
    case_id: int
    channel: Channel
    sent_at: str = Field(description="Simulated time the query was sent.")
    status: Literal["pending", "answered"]
    findings: list[FindingView] = Field(description="Answers received so far.")


class ControlDone(BaseModel):
    control_id: int
    case_id: int
    asset_id: str
    action: Action
    outcome: Literal["frozen", "renewed", "unfrozen", "deducted"]
    amount_fen: int | None = Field(description="Money moved (None for a renewal).")
    freeze_id: int
    held_fen: int = Field(description="Held by the freeze after this control.")
    expires_at: str | None = Field(description="Simulated expiry of the freeze.")
    recovered_fen: int = Field(description="The case's recovered money after this control.")
    sim_time: str = Field(description="Simulated time of the control.")
    cap_year: int | None = Field(default=None, description="Provident fund: the cap's year.")
    cap_used_fen: int | None = Field(default=None, description="Provident fund: used this year.")


class ControlView(BaseModel):
    control_id: int
    asset_id: str
    action: Action
    outcome: str
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
    court_fen: int
    controls: int
    problem_count: int
    problems: list[str]


class AuditVerifyView(BaseModel):
    ok: bool
    entries: int
    first_bad: int | None


class Health(BaseModel):
    status: Literal["ok"]
    sim_time: str
