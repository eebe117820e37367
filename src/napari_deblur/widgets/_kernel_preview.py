"""A small live picture of a blur kernel (a Qt label showing a scaled, normalized pixmap).

A napari layer would clutter the viewer with every parameter change; a label next to the fields updates
instantly. 3D kernels show their xy and xz maximum projections side by side.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import QLabel

PREVIEW_SIZE = 200  # pixels on screen for the kernel's longer side, whatever its size


def kernel_picture(kernel: np.ndarray) -> np.ndarray:
    """An 8-bit picture of ``kernel``: the plane itself, or xy | xz maximum projections for 3D."""
    k = np.asarray(kernel, dtype=np.float32)
    if k.ndim == 3:
        xy, xz = k.max(axis=0), k.max(axis=1)
        gap = np.zeros((max(xy.shape[0], xz.shape[0]), 1), np.float32)
        pad = [np.pad(p, ((0, gap.shape[0] - p.shape[0]), (0, 0))) for p in (xy, xz)]
        k = np.hstack([pad[0], gap, pad[1]])
    peak = float(k.max()) or 1.0
    return np.ascontiguousarray(np.round(255 * np.clip(k / peak, 0, 1)).astype(np.uint8))


class KernelPreview(QLabel):
    """Shows the kernel (nearest-neighbour scaled, so single pixels stay visible) and its size."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(PREVIEW_SIZE)
        self._image: QImage | None = None

    def show_kernel(self, kernel: np.ndarray | None, message: str = "") -> None:
        if kernel is None:
            self.clear()
            self.setText(message)
            return
        picture = kernel_picture(kernel)
        h, w = picture.shape
        # Keep a reference: QImage does not own the numpy buffer.
        self._image = QImage(picture.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        pixmap = QPixmap.fromImage(self._image)
        self.setPixmap(pixmap.scaled(PREVIEW_SIZE, PREVIEW_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.FastTransformation))
        self.setToolTip(f"kernel {'x'.join(map(str, np.shape(kernel)))}")
