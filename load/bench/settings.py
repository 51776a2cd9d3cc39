"""The scenario settings of the API benchmark, and of the API tests that share them."""

from __future__ import annotations

# the baseline's agencies that poll in office hours, polling around the clock instead
POLLING_AROUND_THE_CLOCK = [
    f'agencies.{a}.polling={{days="all",open="00:00",close="24:00"}}'
    for a in (
        "land_registry",
        "vehicle_admin",
        "securities_depository",
        "insurer",
        "provident_fund_centre",
    )
]
# every debtor holds a large bank deposit: 1-fen deductions never run dry; answers come
# fast (one simulated day a second, agencies polling around the clock)
BENCH_SETTINGS = [
    "api.debtors=200",
    "debtors.nothing_share=0",
    "debtors.assets.bank_deposit.hold_probability=1",
    "debtors.assets.bank_deposit.value_yuan=1000000",
    "channels.central.error_probability=0",
    *POLLING_AROUND_THE_CLOCK,
]
