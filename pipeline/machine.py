"""What `--json` prints for check, publish and import: one documented shape per command.

(`render --json`, the layout report of each card, belongs to the renderer.)

Pure functions from a command's result to plain data; the command prints it with
`dump` and exits with the same status as without --json. Keys are only ever added.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.checks import CheckResult
    from pipeline.items import ImportReport, Problem
    from pipeline.runner import PassReport
    from pipeline.selection import Selection


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def problem(p: Problem) -> dict[str, Any]:
    return {"file": str(p.path), "line": p.line, "field": p.field, "message": p.message}


def check(result: CheckResult) -> dict[str, Any]:
    return {
        "ok": not result.problems,
        "valid_items": result.item_count,
        "items": [{"item": slug, "targets": targets} for slug, targets in result.ok_items],
        "problems": [problem(p) for p in result.problems],
    }


def publish(
    report: PassReport, dry_run: bool, selection: Selection | None = None
) -> dict[str, Any]:
    out = {
        "ok": report.ok,  # as the exit status: no post failed or unknown
        "dry_run": dry_run,
        "posted": report.count("posted"),
        "already_posted": report.already_posted,
        "outcomes": [
            {
                "item": o.slug,
                "target": o.target,
                "result": o.result,
                "url": o.url,
                "error": o.error,
                "card": str(o.card_path) if o.card_path else None,
            }
            for o in report.outcomes
        ],
        "problems": [problem(p) for p in report.problems],
    }
    if selection is not None:  # which form chose the posts, and what it left for later
        up = selection.upcoming
        out["form"] = selection.form
        out["next"] = (
            {"item": up.slug, "targets": list(up.targets), "at": up.at.isoformat(), "kind": up.kind}
            if up is not None and selection.form == "due"
            else None
        )
        out["notes"] = selection.notes()
        if not selection.picks:
            out["message"] = selection.nothing()
    return out


def import_(report: ImportReport, csv_file: Path) -> dict[str, Any]:
    return {
        "ok": not report.refused,
        "file": str(csv_file),
        "created": [str(p) for p in report.created],
        "existing": [{"row": row, "file": str(p)} for row, p in report.existing],
        "refused": [{"row": row, "message": msg} for row, msg in report.refused],
    }
