"""Early-help outcomes for children, driven only by what the extracts show.

The true chance that a child has an early-help outcome in a six-month window is a logistic
function of things the feature pipeline can see in the 12 months before the window starts:
the child's own indicator events (Operation Encompass notifications, missing reports,
anti-social behaviour warnings, persistent absence, exclusions, children's services
contacts), the same indicators for the adults of the household (domestic abuse, arrears,
homelessness, parental mental-health contacts, substance misuse), whether anything
happened in the last three months, household make-up (lone parent, three or more
children), the child's age and the visible IMD decile — plus a small personal latent term.
Ethnicity, sex and disability do not enter; deprivation carries their real correlation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.catalogue import INDICATORS

#: Log-odds per log(1 + count) of each indicator for the child and for the household adults.
CHILD_WEIGHTS: dict[str, float] = {
    "domestic_abuse": 1.4,
    "missing": 1.5,
    "youth_asb": 0.8,
    "school_absence": 0.8,
    "exclusion": 0.9,
    "social_care_contact": 1.3,
}
HOUSEHOLD_WEIGHTS: dict[str, float] = {
    "domestic_abuse": 0.9,
    "arrears": 0.4,
    "homelessness": 0.6,
    "parental_mental_health": 0.5,
    "substance_misuse": 0.8,
}
INTERCEPT = -4.65
RECENT = 0.5  # any child or household indicator in the last three months
LONE_PARENT = 0.45
LARGE_FAMILY = 0.25  # three or more children in the household
UNDER_FIVE = 0.2
TEENAGER = 0.15
DEPRIVATION = 0.9  # times (10 − decile) / 9; a blank decile counts as 0.5
LATENT_SD = 0.2

OUTCOME_SHARES = (0.72, 0.19, 0.09)  # early_help_assessment, child_in_need, child_protection_plan

_CHILD_W = np.array([CHILD_WEIGHTS.get(k, 0.0) for k in INDICATORS])
_HOUSEHOLD_W = np.array([HOUSEHOLD_WEIGHTS.get(k, 0.0) for k in INDICATORS])


@dataclass(frozen=True)
class WindowInputs:
    """What is visible about each person at a window's start (its snapshot)."""

    child: np.ndarray  # (n,) bool: aged 0–17 at the snapshot
    age: np.ndarray  # (n,) int, whole years at the snapshot
    counts_12m: np.ndarray  # (n, n_indicators) own indicator events in the 12 months before
    household_adult_counts_12m: np.ndarray  # (n, n_indicators) summed over household adults
    recent: np.ndarray  # (n,) bool: any own or household-adult indicator in the last 3 months
    lone_parent: np.ndarray  # (n,) bool: exactly one adult and at least one child at home
    large_family: np.ndarray  # (n,) bool: three or more children at home
    imd_decile: np.ndarray  # (n,) float, nan where blank in the extract


def outcome_probability(inputs: WindowInputs, latent: np.ndarray) -> np.ndarray:
    """(n,) float64 chance of an outcome in the window; nan for people who are not children."""
    deprivation = np.where(np.isnan(inputs.imd_decile), 0.5, (10 - inputs.imd_decile) / 9)
    logit = (
        INTERCEPT
        + np.log1p(inputs.counts_12m) @ _CHILD_W
        + np.log1p(inputs.household_adult_counts_12m) @ _HOUSEHOLD_W
        + RECENT * inputs.recent
        + LONE_PARENT * inputs.lone_parent
        + LARGE_FAMILY * inputs.large_family
        + UNDER_FIVE * (inputs.age < 5)
        + TEENAGER * (inputs.age >= 11)
        + DEPRIVATION * deprivation
        + latent
    )
    p = 1 / (1 + np.exp(-logit))
    return np.where(inputs.child, p, np.nan)
