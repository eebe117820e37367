"""How blur is made: blur kernels (and, later, microscope PSFs, degradations and procedural scenes)."""
