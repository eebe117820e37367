"""How blur is made: blur kernels and microscope PSFs, blur kinds, degradations, training mixtures, scenes.

Importing the package registers every blur kind, the training mixtures (synth/mixture.py) included.
"""

from napari_deblur.synth import kinds, mixture  # noqa: F401 - mixture registers the random_mix kinds
