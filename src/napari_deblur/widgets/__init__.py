"""What a napari user sees. The only package that imports napari or Qt."""
