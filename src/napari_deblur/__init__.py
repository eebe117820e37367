"""napari-deblur: remove blur from scientific and everyday images.

The public API is napari-free, so the same calls work from scripts, the napari console and the CLI::

    import napari_deblur as nd
    sharp = nd.deblur(image, "richardson_lucy", psf=psf, iterations=30)
    blurred, kernel = nd.synthesize_blur(sharp_image, "camera_shake", seed=3, noise=0.01)
    for spec in nd.list_methods():
        print(spec.name, spec.kind, [p.name for p in spec.params])
    model = nd.train(nd.TrainConfig(model="nafnet", scenes="dead_leaves", steps=2000, name="mine"))
    print(nd.evaluate("mine", pairs="my-test-pairs"))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_deblur import zoo  # noqa: F401 - registers every network family as a method
from napari_deblur.bioimageio import export_bioimageio
from napari_deblur.params import Param
from napari_deblur.psfs import BeadPSF, estimate_kernel, optics_psf, psf_from_beads
from napari_deblur.psfs.named import request_steps
from napari_deblur.restore import classical, richardson_lucy, sparse  # noqa: F401 - register Wiener, RL, hyper-Laplacian
from napari_deblur.restore.engine import Progress, deblur_steps, drain
from napari_deblur.restore.methods import MethodSpec, get_method, list_methods
from napari_deblur.synth.kinds import list_kinds, make_kernel
from napari_deblur.synth.synthesize import blur_variants, synthesize_blur
from napari_deblur.zoo.weights import load_model

__version__ = "0.1.0"

__all__ = ["BeadPSF", "MethodSpec", "Param", "Progress", "TrainConfig", "blur_variants", "deblur", "deblur_steps",
           "estimate_kernel", "evaluate", "export_bioimageio", "get_method", "list_kinds", "list_methods",
           "load_model", "make_kernel", "optics_psf", "psf_from_beads", "synthesize_blur", "train"]


def __getattr__(name: str) -> Any:
    # Training is imported on first use: Lightning takes seconds to import and deblurring never needs it.
    if name in ("evaluate", "TrainConfig"):
        import napari_deblur.training as training

        return getattr(training, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def train(cfg: Any, *, resume: bool = False, on_event: Any = None) -> Any:
    """Train a network as ``cfg`` (a :class:`TrainConfig`) says; see :func:`napari_deblur.training.run.train`.

    Returns the saved ``.safetensors`` model, or after a graceful stop the checkpoint to resume from.
    ``on_event`` receives each typed training event (napari_deblur.training.events).
    """
    from napari_deblur.training.run import train as run_training

    return run_training(cfg, resume=resume, on_event=on_event)


def deblur(
    image: Any,
    method: str | None = None,
    *,
    psf: Any = None,
    axes: str | None = None,
    rgb: bool | None = None,
    tile_size: int | None = None,
    tile_overlap: int | None = None,
    device: str = "auto",
    output_dtype: str = "same",
    intensity_range: tuple[float, float] | None = None,
    tile_batch: int | None = None,
    **params: Any,
) -> np.ndarray:
    """Deblur an image and return an array of the same shape.

    Parameters
    ----------
    image : array-like
        2D (YX), RGB/RGBA (YXC), or any stack of planes (ZYX, TYX, CYX, TZYX, TCZYX, ...); uint8,
        uint16, other integers or float. Never modified.
    method : str, optional
        A name from :func:`list_methods`, e.g. ``"wiener"`` or ``"richardson_lucy"``. By default
        ``"richardson_lucy"`` with a PSF, and without one the blind path: the kernel estimated from the image
        (``psf="estimate"``), then ``"hyper_laplacian"``.
    psf : array-like or str, optional
        The point-spread function, 2D or 3D, any size up to the image (required by classical methods).
        It is normalized to sum 1 and centred by its centre of mass. A 3D PSF deconvolves ZYX volumes.
        ``"widefield"`` or ``"confocal"`` generates it from the optics given among the keywords (``na``,
        ``wavelength``, ``pixel_size``, ``z_step``, ``ni``, ``ns``, ...; see ``napari-deblur kinds``), 3D for
        an image with a Z axis; a pixel size that cannot fit the optics is refused with what to check.
        ``"estimate"`` estimates the blur kernel from the 2D image (grey or colour) itself, with any non-blind
        method (see :func:`estimate_kernel`; ``kernel_size``, the largest kernel side, among the keywords).
    axes : str, optional
        One letter per dimension from ``TCZYX``. Inferred for 2D images, for ``rgb=True`` (YXC), and for a
        3D image with a 3D PSF (ZYX); otherwise required.
    rgb : bool, optional
        The trailing axis of size 3/4 is colour (alpha passes through untouched).
    tile_size, tile_overlap : int, optional
        Tile edge and overlap in pixels; by default the method's own choice (whole image for classical
        methods up to 16 MP; networks 1024, smaller when free memory is short). Tiles are cut with the
        method's receptive field of context and blended with feathered weights, so no seams show.
    tile_batch : int, optional
        Tiles per model call; by default as many as the free GPU memory holds (up to 16), about a megapixel
        on a CPU.
    device : str
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    output_dtype : str
        ``"same"`` (the input's dtype; integers clipped and rounded) or ``"float32"``.
    intensity_range : (float, float), optional
        The (low, high) intensities mapped to 0 and 1 for the method; by default 8-bit images use 0..255 and
        others robust percentiles (per channel).
    **params
        The method's parameters (see ``list_methods()``), e.g. ``iterations=30`` or ``balance=0.01``.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The deblurred image, same shape as ``image``. A dask array gives a lazy dask array with the same
        chunks and dtype (see ``napari_deblur.restore.lazy``): nothing is computed until it is.
    """
    # A named PSF: "widefield"/"confocal" from the optics keywords, "estimate" from the image itself.
    return drain(request_steps(image, method, psf, axes=axes, rgb=rgb, device=device, output_dtype=output_dtype,
                               params=params, tile_size=tile_size, tile_overlap=tile_overlap,
                               intensity_range=intensity_range, tile_batch=tile_batch))[0]
