"""Every keyboard shortcut of the app in one table: the window binds them and the help dialog lists
them, so the two can never disagree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    """``action`` names a controller/window method; ``arg`` is passed to it when not None."""

    action: str
    keys: tuple[str, ...]
    text: str
    arg: object = None


NUDGE_M = 0.1
NUDGE_FAST_M = 0.5
ROTATE_DEG = 2.0
ROTATE_FAST_DEG = 15.0
RESIZE_M = 0.1

SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("next_frame", ("D", "PgDown"), "next frame (tracked proposals appear)"),
    Shortcut("prev_frame", ("A", "PgUp"), "previous frame"),
    Shortcut("next_box", ("Tab", "N"), "select the next box"),
    Shortcut("prev_box", ("Shift+Tab", "Shift+N"), "select the previous box"),
    Shortcut("deselect", ("Esc",), "clear the selection"),
    *(Shortcut("set_class", (str(i),), f"class {i} of the class list for the selected box", i - 1)
      for i in range(1, 10)),
    Shortcut("rotate", ("Q",), f"rotate the selected box {ROTATE_DEG:g}° left", ROTATE_DEG),
    Shortcut("rotate", ("E",), f"rotate the selected box {ROTATE_DEG:g}° right", -ROTATE_DEG),
    Shortcut("rotate", ("Shift+Q",), f"rotate {ROTATE_FAST_DEG:g}° left", ROTATE_FAST_DEG),
    Shortcut("rotate", ("Shift+E",), f"rotate {ROTATE_FAST_DEG:g}° right", -ROTATE_FAST_DEG),
    Shortcut("flip", ("R",), "turn the selected box around (heading +180°)"),
    Shortcut("nudge", ("Up",), f"move the selected box {NUDGE_M:g} m forward (up on screen)", (NUDGE_M, 0.0)),
    Shortcut("nudge", ("Down",), f"move it {NUDGE_M:g} m back", (-NUDGE_M, 0.0)),
    Shortcut("nudge", ("Left",), f"move it {NUDGE_M:g} m left", (0.0, NUDGE_M)),
    Shortcut("nudge", ("Right",), f"move it {NUDGE_M:g} m right", (0.0, -NUDGE_M)),
    Shortcut("nudge", ("Shift+Up",), f"move it {NUDGE_FAST_M:g} m forward", (NUDGE_FAST_M, 0.0)),
    Shortcut("nudge", ("Shift+Down",), f"move it {NUDGE_FAST_M:g} m back", (-NUDGE_FAST_M, 0.0)),
    Shortcut("nudge", ("Shift+Left",), f"move it {NUDGE_FAST_M:g} m left", (0.0, NUDGE_FAST_M)),
    Shortcut("nudge", ("Shift+Right",), f"move it {NUDGE_FAST_M:g} m right", (0.0, -NUDGE_FAST_M)),
    Shortcut("resize", ("Ctrl+Up",), f"make the selected box {RESIZE_M:g} m longer", (0, RESIZE_M)),
    Shortcut("resize", ("Ctrl+Down",), f"make it {RESIZE_M:g} m shorter", (0, -RESIZE_M)),
    Shortcut("resize", ("Ctrl+Right",), f"make it {RESIZE_M:g} m wider", (1, RESIZE_M)),
    Shortcut("resize", ("Ctrl+Left",), f"make it {RESIZE_M:g} m narrower", (1, -RESIZE_M)),
    Shortcut("resize", ("Ctrl+Shift+Up",), f"make it {RESIZE_M:g} m taller (bottom stays)", (2, RESIZE_M)),
    Shortcut("resize", ("Ctrl+Shift+Down",), f"make it {RESIZE_M:g} m lower", (2, -RESIZE_M)),
    Shortcut("lift", ("Alt+Up",), f"move it {NUDGE_M:g} m up", NUDGE_M),
    Shortcut("lift", ("Alt+Down",), f"move it {NUDGE_M:g} m down", -NUDGE_M),
    Shortcut("refit", ("G",), "refit the selected box to its points (one-click fit again)"),
    Shortcut("interpolate_track", ("I",), "interpolate the selected box's track between its keyframes"),
    Shortcut("interpolate_track", ("Shift+I",), "... and fit each interpolated box to its points", True),
    Shortcut("apply_class_to_track", ("T",), "give the selected box's class to its whole track"),
    Shortcut("apply_size_to_track", ("Shift+T",), "give the selected box's size to its whole track"),
    Shortcut("delete_box", ("Del", "Backspace"), "delete the selected box"),
    Shortcut("accept_proposals", ("Return", "Enter"), "accept all proposals (tracker / pre-labels)"),
    Shortcut("accept_selected", ("Space",), "accept the selected proposal"),
    Shortcut("undo", ("Ctrl+Z",), "undo"),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo"),
    Shortcut("cycle_colors", ("C",), "colour points by height / intensity / pre-label"),
    Shortcut("point_size", ("+", "="), "larger points (all views)", 1),
    Shortcut("point_size", ("-",), "smaller points", -1),
    Shortcut("focus_selected", ("F",), "centre the views on the selected box"),
    Shortcut("prelabel", ("P",), "pre-label this frame with the model"),
    Shortcut("save", ("Ctrl+S",), "save labels now (autosave also runs after every change)"),
    Shortcut("open", ("Ctrl+O",), "open a sequence"),
    Shortcut("help", ("F1", "?"), "this help"),
    Shortcut("quit", ("Ctrl+Q",), "quit"),
)


def hint(action: str, arg: object = None) -> str:
    """The first key of ``action`` (with ``arg``, when given) for a menu entry, "" when it has none."""
    for sc in SHORTCUTS:
        if sc.action == action and (arg is None or sc.arg == arg):
            return sc.keys[0]
    return ""
