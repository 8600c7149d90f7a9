"""Undo/redo for the annotation session: every edit is a command of box changes that can be
applied forwards or backwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from latte.core.formats import box_from_dict, box_to_dict
from squeezeseg.boxes import Box3D


@dataclass(frozen=True)
class BoxChange:
    """One box slot changing from ``before`` to ``after`` (None = absent)."""

    frame: int
    box_id: int
    before: Box3D | None
    after: Box3D | None


@dataclass(frozen=True)
class Command:
    """A user operation: its name (``op``: create, move, resize, rotate, relabel, accept, delete,
    import, ...) and the box changes it makes."""

    op: str
    changes: tuple[BoxChange, ...]
    time: float = 0.0

    def inverse_changes(self) -> tuple[BoxChange, ...]:
        return tuple(BoxChange(c.frame, c.box_id, c.after, c.before) for c in reversed(self.changes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "time": self.time,
            "changes": [
                {
                    "frame": c.frame,
                    "box_id": c.box_id,
                    "before": None if c.before is None else box_to_dict(c.before),
                    "after": None if c.after is None else box_to_dict(c.after),
                }
                for c in self.changes
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "history") -> Command:
        changes = []
        for i, c in enumerate(d["changes"]):
            w = f"{where}.changes[{i}]"
            changes.append(
                BoxChange(
                    int(c["frame"]),
                    int(c["box_id"]),
                    None if c["before"] is None else box_from_dict(c["before"], w + ".before", None),
                    None if c["after"] is None else box_from_dict(c["after"], w + ".after", None),
                )
            )
        return cls(str(d["op"]), tuple(changes), float(d.get("time", 0.0)))


@dataclass
class CommandStack:
    """Done and undone commands; a new command clears the redo side."""

    done: list[Command] = field(default_factory=list)
    undone: list[Command] = field(default_factory=list)
    limit: int = 1000

    @property
    def can_undo(self) -> bool:
        return bool(self.done)

    @property
    def can_redo(self) -> bool:
        return bool(self.undone)

    def push(self, cmd: Command) -> None:
        self.done.append(cmd)
        del self.done[: max(0, len(self.done) - self.limit)]
        self.undone.clear()

    def pop_undo(self) -> Command:
        cmd = self.done.pop()
        self.undone.append(cmd)
        return cmd

    def pop_redo(self) -> Command:
        cmd = self.undone.pop()
        self.done.append(cmd)
        return cmd

    def to_dict(self) -> dict[str, Any]:
        return {"done": [c.to_dict() for c in self.done], "undone": [c.to_dict() for c in self.undone]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CommandStack:
        return cls(
            [Command.from_dict(c, f"done[{i}]") for i, c in enumerate(d.get("done", []))],
            [Command.from_dict(c, f"undone[{i}]") for i, c in enumerate(d.get("undone", []))],
        )
