"""Frames rendered in the background: the epoch shown first, the same frames as rendering them in the
page, and a job for a window no page shows any more stopped."""

import threading

import ttv_core
from helpers import VIEW_CONFIG, wait_for
from ttv_core.app import framejob
from ttv_core.app.framejob import frame_job, render_order
from ttv_core.draw.frames import FrameStyle
from ttv_core.evaluate.predictions import prediction_history
from ttv_core.run.frames import cached_frame, epoch_frame
from ttv_core.run.visualize import Visualization


def test_frames_render_from_the_epoch_shown_outward():
    assert render_order([1, 2, 3, 4, 5, 6], 3) == [3, 4, 2, 5, 1, 6]
    assert render_order([1, 2, 3], 9) == [3, 2, 1]  # an epoch without a map: from the last one


def test_a_frame_job_renders_what_the_page_would(mapped_run, registry):
    dynamics = ttv_core.load_dynamics(mapped_run)
    fitted = Visualization(dynamics, "proxy", VIEW_CONFIG).fit(compute=False)  # the session cache's maps
    style = FrameStyle(colour_by="prediction", radius=3)
    assert all(cached_frame(fitted, epoch, style) is None for epoch in fitted.results_)
    job = wait_for(frame_job(registry, fitted, style, first=2), timeout=120)
    assert job.status == "done" and list(job.ready) == [2, 3, 1, 4] and all(job.ready.values())
    assert frame_job(registry, fitted, style, first=4) is job, "the same frames are one job, whoever asks"
    predictions = {split: prediction_history(dynamics, split) for split in ("train", "test")}
    for epoch in fitted.results_:
        rendered = cached_frame(fitted, epoch, style)
        assert rendered is not None and rendered == epoch_frame(fitted, epoch, predictions, style)


def test_frames_of_an_older_window_are_stopped(mapped_run, registry, monkeypatch):
    release = threading.Event()
    render = framejob.frame_with_predictions
    monkeypatch.setattr(framejob, "frame_with_predictions", lambda *args: release.wait(10) and render(*args))
    dynamics = ttv_core.load_dynamics(mapped_run)
    style = FrameStyle(radius=4)
    early = Visualization(dynamics, "proxy", VIEW_CONFIG).fit([1, 2], compute=False)
    old = frame_job(registry, early, style, first=2)
    whole = Visualization(dynamics, "proxy", VIEW_CONFIG).fit(compute=False)  # training went on: more epochs
    new = frame_job(registry, whole, style, first=4)
    release.set()
    assert wait_for(old).status == "stopped" and sum(old.ready.values()) <= 1
    assert wait_for(new, timeout=120).status == "done" and all(new.ready.values())
