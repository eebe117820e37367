"""The BioImage Model Zoo (bioimage.io, model spec 0.5): our models out as packages (export.py), and packages of
image-to-image models in, run through our engine (run.py). Both need the optional extra
``napari-deblur[bioimageio]`` (bioimageio.spec and bioimageio.core), imported only when used."""

from napari_deblur.bioimageio import run  # noqa: F401 - a package's path works as a method name from now on
from napari_deblur.bioimageio.export import export_bioimageio, export_steps, run_bioimageio_test

__all__ = ["export_bioimageio", "export_steps", "run_bioimageio_test"]
