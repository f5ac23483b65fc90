"""What the terminal's colours mean for the picture, said once when the app starts."""

from __future__ import annotations

FULL_COLOUR = "truecolor"
ADVICE_SECONDS = 20.0


def colour_advice(color_system: str | None) -> str | None:
    """Advice for a terminal that shows fewer than 16 million colours (None when it does).

    Textual reads ``COLORTERM`` to decide: tmux and screen report 256 colours unless it
    says ``truecolor``, and in 256 colours faint roots on soil come out as the soil.
    """
    if color_system == FULL_COLOUR:
        return None
    shown = f"{color_system} colours" if color_system else "no colours"
    return (
        f"this terminal shows {shown}: thin roots may look faint. If it can do better "
        "(most can, tmux included), start rptui with COLORTERM=truecolor"
    )
