"""Training runs end to end on a CPU with tiny settings: learning, events, kill/resume, stop, the GAN, errors."""

from __future__ import annotations

import inspect
import json
import os
import signal
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import napari_deblur as nd
from napari_deblur.cli import main as cli_main
from napari_deblur.training import TrainConfig, TrainingProcess, train
from napari_deblur.training.events import to_dict
from napari_deblur.zoo.registration import card_purpose
from napari_deblur.zoo.weights import read_card
from tests.train.helpers import check_event, record, run_module, tiny

pytestmark = pytest.mark.usefixtures("model_dir", "one_thread")


def test_training_improves_psnr_and_the_model_deblurs_by_name(tmp_path, model_dir):
    # Mild random camera shake on dead leaves: 400 steps of batch 4 (about a minute on one core) must gain
    # at least 1 dB over the blurred input on the held-out validation images (measured: +1.20 dB).
    cfg = TrainConfig(model="nafnet", size="small", name="leaves", scenes="dead_leaves", blur_params={"size": 9},
                      patch=64, batch=4, steps=400, lr=4e-3, loss="charbonnier", fft_weight=0.0, val_size=4,
                      val_every=400, checkpoint_every=1000, workers=0)
    events = []
    path = train(cfg, on_event=record(events))
    assert path == (model_dir / "leaves.safetensors").resolve()
    validation = [e for e in events if e["event"] == "validation"][-1]
    gain = validation["psnr"] - validation["input_psnr"]
    print(f"validation PSNR {validation['psnr']:.2f} dB, input {validation['input_psnr']:.2f} dB, gain {gain:.2f}")
    assert gain >= 1.0
    card = read_card(path)
    assert card["family"] == "nafnet" and card["size"] == "small" and card["config"]["train_size"] == 64
    assert card["training"]["steps"] == 400 and card["training"]["config"]["lr"] == 4e-3
    assert card["metrics"]["val_psnr"] == pytest.approx(validation["psnr"])
    assert "dead_leaves" in card["training"]["data"]
    # The finished model is usable at once: as a method of its own, as the family's weights by name or by path.
    image = np.random.default_rng(0).random((80, 72)).astype(np.float32)
    as_method = nd.deblur(image, "leaves")
    by_name = nd.deblur(image, "nafnet", weights="leaves")
    by_path = nd.deblur(image, "nafnet", weights=str(path))
    assert as_method.shape == image.shape
    assert np.array_equal(as_method, by_name) and np.array_equal(by_name, by_path)
    assert all(v.dtype == torch.float32 for v in load_file(path).values())


def test_events_are_documented_json_lines(tmp_path):
    cfg = tiny(tmp_path)
    proc = run_module(cfg, "--events", "-")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]  # stdout holds nothing but events
    for event in events:
        check_event(event)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert {"step", "validation", "checkpoint"} <= set(kinds)
    assert [e["step"] for e in events if e["event"] == "step"] == list(range(1, 7))
    assert [e["step"] for e in events if e["event"] == "validation"] == [3, 6]
    assert all(os.path.isfile(e["preview"]) for e in events if e["event"] == "validation")
    run_dir = cfg.run_dir
    assert TrainConfig.load(run_dir / "config.json") == cfg
    assert [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()] == events
    assert events[-1]["model"] == str(cfg.model_path.resolve()) and cfg.model_path.is_file()


def test_preview_on_a_user_image(tmp_path):
    import imageio.v3 as iio

    rgb = (np.random.default_rng(1).random((40, 50, 3)) * 255).astype(np.uint8)
    iio.imwrite(tmp_path / "mine.png", rgb)
    events = []
    train(tiny(tmp_path, steps=3, preview_image=str(tmp_path / "mine.png")), on_event=record(events))
    validation = [e for e in events if e["event"] == "validation"]
    assert validation
    for event in validation:
        check_event(event)
        output = iio.imread(event["preview_output"])
        # The centre crop with sides a multiple of 16, deblurred channel by channel, still in [0, 1].
        assert output.shape == (32, 48, 3) and output.dtype == np.float32
        assert 0 <= output.min() and output.max() <= 1
        assert event["preview_offset"] == [4, 1]
    with pytest.raises(ValueError, match="preview_image"):
        tiny(tmp_path, preview_image=str(tmp_path / "missing.png")).validate()


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    cfg = tiny(tmp_path, steps=40, checkpoint_every=4, val_every=20)
    proc = run_module(cfg, "--events", "-")
    seen = None
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "checkpoint" and event["step"] >= 8:
            seen = event["step"]
            proc.send_signal(signal.SIGKILL)  # no chance to clean up
            break
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    assert seen is not None and proc.returncode == -signal.SIGKILL
    ckpt = cfg.run_dir / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"]  # loadable: written atomically
    assert saved >= seen

    events = []
    path = train(cfg, resume=True, on_event=record(events))
    started = events[0]
    assert started["event"] == "started" and started["step"] == saved
    first_step = next(e["step"] for e in events if e["event"] == "step")
    assert saved < first_step <= saved + 10
    assert events[-1]["event"] == "finished" and events[-1]["step"] == 40 and path.is_file()
    assert read_card(path)["training"]["steps"] == 40
    # The run folder's history keeps the killed run's events before the resumed ones.
    history = [json.loads(line)["event"] for line in (cfg.run_dir / "events.jsonl").read_text().splitlines()]
    assert history.count("started") == 2


@pytest.mark.parametrize("how", ["stop_file", "sigterm"])
def test_graceful_stop_keeps_a_checkpoint(tmp_path, how):
    cfg = tiny(tmp_path, steps=100000, checkpoint_every=100000, val_every=100000)
    process = TrainingProcess(cfg)
    process.start()
    events: list[dict] = []
    deadline = time.monotonic() + 120
    while not any(e["event"] == "step" and e["step"] >= 3 for e in events) and time.monotonic() < deadline:
        events += map(to_dict, process.poll())
        time.sleep(0.1)
    assert process.running, events
    if how == "stop_file":
        process.stop(timeout=60)
    else:
        os.kill(process.pid, signal.SIGTERM)
    assert process.wait(60) == 0
    events += map(to_dict, process.poll())
    for event in events:
        check_event(event)
    stopped = events[-1]
    assert stopped["event"] == "stopped", events
    assert stopped["checkpoint"] == str((cfg.run_dir / "last.ckpt").resolve())
    assert torch.load(stopped["checkpoint"], map_location="cpu", weights_only=False)["global_step"] == stopped["step"]
    # The weights reached are a model too, listed with how far they trained; resuming goes on from the checkpoint.
    assert stopped["model"] == str(cfg.model_path.resolve()) and cfg.model_path.is_file()
    card = read_card(cfg.model_path)
    assert card["training"]["steps"] == stopped["step"]
    assert card_purpose(card) == f"Trained nafnet (small), {stopped['step']} of 100000 steps, stopped"
    assert process.poll() == [] and not process.running


def test_gan_trains_both_stages_and_saves_the_ema_generator(tmp_path, monkeypatch):
    import napari_deblur.training.run as run

    modules = []

    def capture(cfg):
        module = make_module(cfg)
        modules.append((module, {k: v.clone() for k, v in module.disc.state_dict().items()}))
        return module

    make_module = run.make_module
    monkeypatch.setattr(run, "make_module", capture)
    # With DeblurGAN's perceptual (VGG feature) term, from a local weights file laid out as torchvision's.
    from napari_deblur.training.perceptual import vgg19_to_relu3_3

    vgg = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in vgg19_to_relu3_3().state_dict().items()}, vgg)
    cfg = tiny(tmp_path, model="deblurgan", steps=8, gan_pretrain=0.5, val_every=8, checkpoint_every=100,
               vgg_weights=str(vgg))
    events = []
    path = train(cfg, on_event=record(events))
    module, disc_before = modules[0]
    assert module.perceptual is not None
    # One global step per batch although each adversarial step updates two networks.
    assert [e["step"] for e in events if e["event"] == "step"][-1] == 8 == events[-1]["step"]
    assert module.pretrain_steps == 4
    assert any(not torch.equal(disc_before[k], v) for k, v in module.disc.state_dict().items())  # stage 2 ran
    saved = load_file(path)
    ema, raw = module.ema.state_dict(), module.net.state_dict()
    assert saved.keys() == ema.keys()
    assert all(torch.equal(saved[k], ema[k].cpu()) for k in saved)
    assert any(not torch.equal(saved[k], raw[k].cpu()) for k in saved)
    assert nd.deblur(np.full((40, 40), 0.5, np.float32), "deblurgan", weights=str(path)).shape == (40, 40)


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "'steps' must be >= 1"),
    ({"model": "unet9000"}, "Unknown model"),
    ({"scenes": "", "sharp": "EMPTY"}, "No images"),
    ({"out": "FILE/model.safetensors"}, "is a file"),
])
def test_bad_config_fails_before_training(tmp_path, change, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a folder")
    change = {k: v.replace("EMPTY", str(tmp_path / "empty")).replace("FILE", str(tmp_path / "file"))
              if isinstance(v, str) else v for k, v in change.items()}
    cfg = tiny(tmp_path, **change)
    events = []
    with pytest.raises(ValueError, match=message):
        train(cfg, on_event=record(events))
    assert [e["event"] for e in events] == ["error"] and message in events[0]["message"]
    check_event(events[0])
    assert not (tmp_path / "out").exists()  # nothing was written


def test_module_entry_point_reports_errors(tmp_path):
    proc = run_module(tiny(tmp_path, steps=-3), "--events", "-")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1
    (event,) = [json.loads(line) for line in out.splitlines()]
    assert event["event"] == "error" and "'steps' must be >= 1" in event["message"]


def test_a_run_folder_in_use_is_refused(tmp_path):
    """A second training with the same output while the first runs would wipe its history: refused, naming the
    process; the folder's events and config are left as they were."""
    from napari_deblur.training.run import _run_lock

    cfg = tiny(tmp_path)
    cfg.run_dir.mkdir(parents=True)
    (cfg.run_dir / "events.jsonl").write_text('{"event": "started"}\n')
    with _run_lock(cfg.run_dir), pytest.raises(ValueError, match=r"in use by a running training \(pid \d+"):
        train(cfg)
    assert (cfg.run_dir / "events.jsonl").read_text() == '{"event": "started"}\n'
    train(cfg.replace(steps=2, val_every=2))  # free again once the first has finished


def test_resume_needs_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="Nothing to resume"):
        train(tiny(tmp_path), resume=True)


def test_cli_train_prints_events(tmp_path, capsys):
    out = tmp_path / "cli" / "X.safetensors"
    code = cli_main(["train", "--model", "nafnet", "--size", "small", "--scenes", "dead_leaves", "--steps", "5",
                     "--patch", "32", "--batch", "2", "--out", str(out), "--events", "-", "--val-size", "2",
                     "--workers", "0", "--blur-size", "9"])
    assert code == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for event in events:
        check_event(event)
    assert events[-1]["event"] == "finished" and out.is_file()
    saved = TrainConfig.load(out.with_suffix(".run") / "config.json")
    assert saved.steps == 5 and saved.blur_params == {"size": 9} and saved.workers == 0


def test_cli_train_human_readable_and_errors(tmp_path, capsys):
    out = tmp_path / "cli" / "Y.safetensors"
    assert cli_main(["train", "--scenes", "dead_leaves", "--steps", "2", "--patch", "32", "--batch", "2",
                     "--out", str(out), "--val-size", "1", "--workers", "0", "--blur-size", "9"]) == 0
    text = capsys.readouterr().out
    assert "finished at step 2" in text and "validation at step 2" in text
    assert cli_main(["train", "--scenes", "dead_leaves", "--steps", "0", "--out", str(out)]) == 2
    assert "'steps' must be >= 1, got 0. Training steps" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--blur-radius do\\(es\\) not apply to blur kind 'camera_shake'"):
        cli_main(["train", "--scenes", "dead_leaves", "--blur-radius", "3", "--out", str(out)])


def test_public_api_trains_and_evaluates(tmp_path, model_dir):
    # nd.train is a plain function (DESIGN's public API); the training package is napari_deblur.training.
    cfg = nd.TrainConfig(**{**tiny(tmp_path, steps=2).to_dict(), "out": "", "name": "api"})
    path = nd.train(cfg)
    assert path == (model_dir / "api.safetensors").resolve()
    assert nd.TrainConfig is TrainConfig and inspect.isfunction(nd.train)
    sharp = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    kernel = np.zeros((5, 5), np.float32)
    kernel[2] = 0.2  # a horizontal 5-pixel motion
    result = nd.evaluate("api", sharp=[sharp], kernels=[kernel], sigma=0.0)
    assert result["count"] == 1 and result["protocol"] == "synthetic"
    assert all(np.isfinite(result["mean"][k]) for k in ("psnr", "ssim", "input_psnr", "input_ssim"))


def test_a_denoiser_trains_on_its_noise_level_and_serves_pnp_and_denoise(tmp_path, model_dir):
    """The drunet family trains through the same machinery: blur kind "none", unclipped noise, the sample's sigma
    as the network's second input; the saved model is what pnp and denoise take as weights."""
    from napari_deblur.training.data import make_datasets

    cfg = tiny(tmp_path, model="drunet", scenes="natural", blur="none", blur_params={}, noise=0.2, steps=3,
               name="my-denoiser", out="")
    train_set, _ = make_datasets(cfg)
    samples = [train_set[i] for i in range(24)]
    residual = np.concatenate([(s["blurred"] - s["sharp"]).numpy().ravel() for s in samples])
    assert all(0 <= float(s["sigma"]) <= 0.2 for s in samples)
    assert residual.min() < -0.05 or residual.max() > 0.05
    assert min(float(s["blurred"].min()) for s in samples) < 0  # unclipped: the data step's values, as they are
    path = train(cfg)
    assert read_card(path)["family"] == "drunet" and path == (model_dir / "my-denoiser.safetensors").resolve()
    image = np.random.default_rng(0).random((40, 48)).astype(np.float32)
    assert nd.deblur(image, "denoise", weights="my-denoiser").shape == image.shape
    assert nd.deblur(image, "pnp", psf=np.ones((3, 3)), weights=str(path), iterations=2).shape == image.shape
    assert "my-denoiser" not in {m.name for m in nd.list_methods()}  # a denoiser is no deblurring method itself
