"""Procedural sharp scenes: make blurred/sharp training pairs without a photo collection.

``dead_leaves`` follows the occlusion model of Matheron as studied by Lee, Mumford & Huang, "Occlusion models
for natural images" (IJCV 2001) and used to train restoration networks by Achddou et al., "Synthetic images
as a regularity prior for image restoration neural networks" (SSVM 2021): random shapes with power-law
radii hide each other, which reproduces the scale invariance (1/f^2 power spectrum) of natural images.
``fluorescence`` draws sparse microscopy-like structures (spots, filaments, membranes) on a dim background.

Everything is vectorized over shapes (no Python loop per shape) so that batches can be made on the fly.
"""

from __future__ import annotations

import numpy as np

from napari_deblur.synth.dead_leaves import dead_leaves
from napari_deblur.synth.fluorescence import fluorescence

__all__ = ["KINDS", "dead_leaves", "fluorescence", "random_scene"]

KINDS = ("dead_leaves", "fluorescence")


def random_scene(shape: tuple[int, ...], kind: str, *, seed: int | np.random.Generator | None = None,
                 color: bool = False) -> np.ndarray:
    """A random sharp scene of ``kind`` ("dead_leaves" or "fluorescence") with default settings.

    Parameters
    ----------
    shape : tuple of int
        (H, W) for dead leaves; (Y, X) or (Z, Y, X) for fluorescence.
    kind : str
        One of ``KINDS``.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same scene.
    color : bool
        RGB output (dead leaves only; fluorescence scenes are single-channel).

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1].
    """
    if kind == "dead_leaves":
        return dead_leaves(shape, seed=seed, color=color)
    if kind == "fluorescence":
        if color:
            raise ValueError("random_scene: fluorescence scenes are single-channel; pass color=False.")
        return fluorescence(shape, seed=seed)
    raise ValueError(f"random_scene: kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}.")
