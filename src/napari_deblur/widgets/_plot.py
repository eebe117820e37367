"""The training widget's live plot: training loss per step (left axis) and validation PSNR (right axis).

One pyqtgraph plot with a second view box for PSNR, so both curves share the step axis without taking the
height of two plots in a narrow dock. Points are appended to lists and the curves redrawn at most once per
event-loop pass (several events often arrive in one poll), downsampled for long runs.
"""

from __future__ import annotations

import pyqtgraph as pg
from qtpy.QtCore import QSize, QTimer
from qtpy.QtWidgets import QVBoxLayout, QWidget

LOSS_COLOR = "#4fc3f7"
PSNR_COLOR = "#ffb74d"
PREFERRED_SIZE = (300, 200)


class TrainingPlot(QWidget):
    """Loss (left, blue line) and validation PSNR in dB (right, orange points) against the training step.

    A QWidget holding a ``pg.PlotWidget`` rather than a subclass of it: PlotWidget binds ``clear`` and other
    PlotItem methods onto each instance, which would shadow this class's own ``clear``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(180)
        self.plot_widget = pg.PlotWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.setVisible(False)  # until the first point
        self.loss_steps: list[float] = []
        self.losses: list[float] = []
        self.psnr_steps: list[float] = []
        self.psnrs: list[float] = []

        item = self.plot_widget.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss", color=LOSS_COLOR)
        item.setLabel("right", "val PSNR (dB)", color=PSNR_COLOR)
        item.showGrid(x=True, y=True, alpha=0.2)
        for side in ("left", "right"):
            item.getAxis(side).enableAutoSIPrefix(False)  # "loss (x0.001)" reads worse than 0.1
        self._loss = item.plot(pen=pg.mkPen(LOSS_COLOR, width=1.5))
        self._loss.setDownsampling(auto=True, method="mean")

        # The PSNR curve lives in its own view box (own y range) that follows the main one's x range.
        self._psnr_box = pg.ViewBox()
        item.scene().addItem(self._psnr_box)
        item.getAxis("right").linkToView(self._psnr_box)
        self._psnr_box.setXLink(item)
        self._psnr = pg.PlotDataItem(pen=pg.mkPen(PSNR_COLOR, width=1.5), symbol="o", symbolSize=5,
                                     symbolBrush=PSNR_COLOR, symbolPen=None)
        self._psnr_box.addItem(self._psnr)
        item.vb.sigResized.connect(self._sync_views)

        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(0)
        self._redraw.timeout.connect(self._update_curves)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        # pyqtgraph asks for 640 px, which would widen the dock and shrink napari's canvas; the dock decides.
        return QSize(PREFERRED_SIZE[0], PREFERRED_SIZE[1])

    def add_loss(self, step: float, loss: float) -> None:
        self.loss_steps.append(float(step))
        self.losses.append(float(loss))
        self._redraw.start()

    def add_psnr(self, step: float, psnr: float) -> None:
        self.psnr_steps.append(float(step))
        self.psnrs.append(float(psnr))
        self._redraw.start()

    def clear(self) -> None:
        for values in (self.loss_steps, self.losses, self.psnr_steps, self.psnrs):
            values.clear()
        self._update_curves()

    def _update_curves(self) -> None:
        self._loss.setData(self.loss_steps, self.losses)
        self._psnr.setData(self.psnr_steps, self.psnrs)
        # Empty axes from 0 to 1 say nothing: the plot appears with the first point.
        self.setVisible(bool(self.loss_steps or self.psnr_steps))

    def _sync_views(self) -> None:
        vb = self.plot_widget.getPlotItem().vb
        self._psnr_box.setGeometry(vb.sceneBoundingRect())
        self._psnr_box.linkedViewChanged(vb, self._psnr_box.XAxis)
