"""``python -m napari_deblur.cli``: the ``napari-deblur`` command."""

import sys

from napari_deblur.cli import main

sys.exit(main())
