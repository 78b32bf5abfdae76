"""What to do with outputs that already exist: one policy for every command."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Existing(str, Enum):
    """The rule for an output that already exists.

    ``REFUSE`` (the default) never replaces it: a table output is refused before any
    work, a per-file output fails that input. ``OVERWRITE`` replaces it once the new
    output is complete. ``SKIP`` leaves inputs whose outputs exist alone (per-file
    outputs). ``UPDATE`` does only the new work: tables keep the rows of unchanged
    inputs, per-file outputs are re-made when older than their input (make's rule).
    """

    REFUSE = "refuse"
    OVERWRITE = "overwrite"
    SKIP = "skip"
    UPDATE = "update"


@dataclass(frozen=True)
class OutputOptions:
    """How a run treats its outputs.

    Attributes
    ----------
    existing : Existing
    prune : bool
        With ``UPDATE``: drop table rows of inputs that no longer exist.
    wait : float
        Seconds to wait for another run's lock on an output (0: fail at once).
    """

    existing: Existing = Existing.REFUSE
    prune: bool = False
    wait: float = 0.0

    @property
    def replace(self) -> bool:
        """Whether a finished output may replace an existing file."""
        return self.existing in (Existing.OVERWRITE, Existing.UPDATE)


#: Said wherever an existing output is refused.
EXISTS_HINT = "exists (use --overwrite to replace it, --update or --skip-existing)"
TABLE_EXISTS_HINT = "exists (use --overwrite to replace it, or --update to add the new inputs)"
