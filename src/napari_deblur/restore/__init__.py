"""How an array gets deblurred: engine, tiling, axes, intensities, PSF preparation, classical methods."""
