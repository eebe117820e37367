"""The training dock's *Estimate time*: a few real steps of the dock's settings timed off the UI thread
(training/estimate.py), and how long the run would take, shown before Start.

On a CPU the dock offers a run of about half an hour (:func:`~napari_deblur.training.estimate.default_steps`);
once the pace on this machine is measured, an untouched default is set to the steps that fit half an hour at
that pace, so a slower or faster CPU gets the same half hour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from magicgui.widgets import Label, PushButton, SpinBox, Widget

from napari_deblur.training.config import TrainConfig
from napari_deblur.training.estimate import CPU_BUDGET_S, Estimate, default_steps, format_duration, steps_within
from napari_deblur.widgets._run import start


class EstimateBox:
    """The *Estimate time* button and the line that shows the estimate.

    Parameters
    ----------
    config : callable
        The dock's TrainConfig (may raise ``ValueError`` for a setting to fix, reported through ``on_error``).
    steps : SpinBox
        The dock's steps: the estimate follows it without a new measurement.
    pace_fields : iterable of Widget
        The fields that change the pace (model, size, batch, patch, data, blur): a change makes the estimate
        stale.
    on_error : callable
        Shows an error to the user.
    """

    def __init__(self, config: Callable[[], TrainConfig], steps: SpinBox, pace_fields: Iterable[Widget],
                 on_error: Callable[[BaseException], None]) -> None:
        self.config, self.steps, self.on_error = config, steps, on_error
        self.button = PushButton(text="Estimate time", tooltip="Time a few training steps of these settings on the "
                                 "device training would use (seconds), and show how long the run would take.")
        self.text = Label(value="")
        self.estimate: Estimate | None = None
        self.default_steps = default_steps()  # the steps offered while the user has not chosen any
        self._worker = None
        self._asked = 0  # counts the estimates asked for and the changes since: only the latest answer is shown
        self.button.clicked.connect(self.run)
        steps.changed.connect(self._on_steps)
        for field in pace_fields:
            field.changed.connect(self.stale)

    def fields(self) -> list[Any]:
        return [self.button, self.text]

    def stale(self, *_args: Any) -> None:
        """The settings' pace changed: the last estimate (or the one being made) no longer holds."""
        self._asked += 1
        self.estimate, self.text.value = None, ""

    def _on_steps(self, steps: int) -> None:
        if self.estimate is not None:
            self.estimate = self.estimate.for_steps(steps)
            self.text.value = self.estimate.text()

    def run(self) -> None:
        """Time the dock's settings in a worker thread (inline in tests) and show the estimate."""
        try:
            cfg = self.config()
        except (ValueError, TypeError, OSError) as err:
            self.on_error(err)
            return
        if not cfg.source:
            # Layer sources become files only at Start; their samples are crops like any others', so dead leaves
            # (blurred on the fly: a little slower than cropping pairs) stand in for the data's share of the time.
            cfg = cfg.replace(scenes="dead_leaves")

        def steps() -> Iterator[None]:
            from napari_deblur.training.estimate import estimate_time

            yield None
            return estimate_time(cfg)

        def finished() -> None:
            self.button.enabled, self._worker = True, None

        self._asked += 1
        asked = self._asked

        def answered(estimate: Estimate) -> None:
            if asked == self._asked:
                self.show(estimate)

        self.button.enabled = False
        self.estimate, self.text.value = None, "Timing a few training steps..."
        self._worker = start(steps, on_yield=lambda _e: None, on_return=answered, on_error=self._failed,
                             on_finish=finished)

    def show(self, estimate: Estimate) -> None:
        """Show ``estimate``; on a CPU, an untouched default becomes the steps of about half an hour at its pace."""
        note = ""
        if estimate.device == "cpu" and self.steps.value == self.default_steps:
            fitted = steps_within(CPU_BUDGET_S, estimate.seconds_per_step)
            if fitted != self.steps.value:
                note = f" (steps set for about {format_duration(CPU_BUDGET_S)} on this CPU)"
            self.default_steps = self.steps.value = min(fitted, self.steps.max)
        self.estimate = estimate.for_steps(self.steps.value)
        self.text.value = self.estimate.text() + note

    def _failed(self, err: BaseException) -> None:
        self.text.value = ""
        self.on_error(err)
