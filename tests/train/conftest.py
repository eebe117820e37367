"""Fixtures of the training tests: a temporary user model folder, one torch thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    """User models go to a temporary folder (subprocesses inherit the variable)."""
    folder = tmp_path / "models"
    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(folder))
    return folder


@pytest.fixture
def one_thread(monkeypatch):
    """One torch thread here and in training subprocesses: on shared, busy CPU cores two threads spin-wait for
    each other and ran 5-10x slower than one."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
