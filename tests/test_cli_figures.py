"""The filters, features and demo commands: in a subprocess as a user runs them (without a
display, writing real image files), and in-process through kernelkit.cli.main for the options."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import kernelkit
from kernelkit import _figure_commands
from kernelkit.cli import main
from kernelkit.models import demo_digits, demo_model_path

DPI = 150  # filters and features write figures at 150 dpi
DEMO_DPI = 120


def run_kernelkit(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(
        [sys.executable, "-m", "kernelkit", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def no_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def png_size(path):
    from PIL import Image

    with Image.open(path) as png:
        assert png.format == "PNG"
        return png.size


def pixel_size(fig, dpi=DPI):
    width, height = fig.get_size_inches() * dpi
    return round(width), round(height)


def test_filters_writes_the_figure_plot_filters_draws(tmp_path):
    out = tmp_path / "filters.png"
    done = run_kernelkit("filters", demo_model_path(), "--mode", "gray", "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}"
    assert png_size(out) == pixel_size(kernelkit.plot_filters(demo_model_path(), mode="gray"))


@pytest.fixture
def big_layers(tmp_path):
    """An .npz file with PyTorch's names: conv2 64x32x3x3 and conv3 128x64x3x3 (OIHW)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "big.npz"
    arrays = {
        "conv2.weight": rng.normal(size=(64, 32, 3, 3)).astype(np.float32),
        "conv2.bias": np.zeros(64, np.float32),
        "conv3.weight": rng.normal(size=(128, 64, 3, 3)).astype(np.float32),
        "conv3.bias": np.zeros(128, np.float32),
    }
    np.savez(path, **arrays)
    return path


@pytest.fixture
def drawn_figures(monkeypatch):
    """The figures the filters command draws, as it draws them."""
    figures = []

    def recording(*args, **kwargs):
        fig, note = kernelkit.plotting.filters_figure(*args, **kwargs)
        figures.append(fig)
        return fig, note

    monkeypatch.setattr(_figure_commands, "filters_figure", recording)
    return figures


def grid_data(fig):
    return np.ma.getdata(fig.axes[0].images[0].get_array())


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (
            ["--layer", "conv2", "--channel", "mean", "--ncols", "8", "--max-filters", "16"],
            {"layer": "conv2", "channel": "mean", "ncols": 8, "max_filters": 16},
        ),
        (["--layer", "conv2", "--channel", "3"], {"layer": "conv2", "channel": 3}),
        (
            ["--layer", "conv3", "--max-channels", "4", "--max-filters", "10"],
            {"layer": "conv3", "max_channels": 4, "max_filters": 10},
        ),
        (
            ["--mode", "gray", "--normalize", "per_filter"],
            {"mode": "gray", "normalize": "per_filter"},
        ),
    ],
)
def test_filters_options_reach_plot_filters(
    tmp_path, no_display, big_layers, drawn_figures, args, kwargs
):
    out = tmp_path / "filters.png"
    assert main(["filters", str(big_layers), *args, "-o", str(out)]) == 0
    expected = kernelkit.plot_filters(big_layers, **kwargs)
    (fig,) = drawn_figures
    np.testing.assert_array_equal(grid_data(fig), grid_data(expected))
    assert fig.axes[0].get_title() == expected.axes[0].get_title()
    assert png_size(out) == pixel_size(expected)


def test_filters_of_a_big_layer_say_what_is_shown_and_which_options_show_the_rest(
    tmp_path, big_layers
):
    out = tmp_path / "conv3.png"
    done = run_kernelkit("filters", big_layers, "--layer", "conv3", "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    wrote, shown = done.stdout.splitlines()
    assert wrote == f"wrote {out}"
    assert shown == (
        "Shown: the first 64 of 128 filters, each as the mean of its 64 input channels. To see "
        "the rest: --max-filters N (more filters), --max-channels N (the first N channels side "
        "by side), --channel K (input channel K of each filter)."
    )
    assert png_size(out) == pixel_size(kernelkit.plot_filters(big_layers, layer="conv3"))


def test_the_figure_of_the_command_names_the_command_line_options(
    tmp_path, no_display, big_layers, drawn_figures
):
    args = ["--layer", "conv2", "--max-channels", "8", "-o", str(tmp_path / "f.png")]
    assert main(["filters", str(big_layers), *args]) == 0
    (fig,) = drawn_figures
    text = " ".join(fig.get_supxlabel().split())
    assert text.startswith("Shown: every filter, with their first 8 of 32 input channels.")
    for option in ("--max-channels N", "--channel K"):
        assert option in text
    assert "max_channels=" not in text


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_filters_writes_svg_and_pdf_by_suffix(tmp_path, no_display, suffix, magic):
    out = tmp_path / f"filters{suffix}"
    assert main(["filters", str(demo_model_path()), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)


def test_without_a_display_filters_writes_filters_png_and_says_so(
    tmp_path, no_display, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(["filters", str(demo_model_path())]) == 0
    out = capsys.readouterr().out
    assert "wrote filters.png" in out
    assert "no display" in out
    assert png_size(tmp_path / "filters.png") == pixel_size(
        kernelkit.plot_filters(demo_model_path())
    )


def test_features_writes_the_feature_maps_of_an_image_file(tmp_path):
    from PIL import Image

    digit = demo_digits().images[0]
    image = tmp_path / "digit.png"
    Image.fromarray(np.uint8(np.rint(digit * 255))).save(image)
    out = tmp_path / "maps.png"
    done = run_kernelkit("features", demo_model_path(), image, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert png_size(out) == pixel_size(kernelkit.plot_feature_maps(demo_model_path(), digit))


def test_an_error_in_a_subprocess_is_one_line_without_traceback(tmp_path):
    done = run_kernelkit("filters", demo_model_path(), "--layer", "nope", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "kernelkit: error: layer: no layer named 'nope'; the layers are: image, conv1, conv2, "
        "flatten, digit\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["filters", "missing.keras", "-o", "f.png"], "missing.keras: no such file"),
        (["filters", "MODEL", "--layer", "nope", "-o", "f.png"], "the layers are: image, conv1"),
        (["filters", "MODEL", "--channel", "two", "-o", "f.png"], "--channel:"),
        (["filters", "MODEL", "--max-channels", "0", "-o", "f.png"], "max_channels:"),
        (
            ["filters", "MODEL", "--channel", "0", "--max-channels", "2", "-o", "f.png"],
            "max_channels: draws the first channels side by side",
        ),
        (["filters", "MODEL", "-o", "f.jpg"], "--output: expected a .png, .svg or .pdf file"),
        (["features", "MODEL", "not-an-image.png", "-o", "f.png"], "not a readable image"),
        (["features", "MODEL", "missing.png", "-o", "f.png"], "missing.png: no such file"),
    ],
)
def test_errors_are_one_line_on_stderr(tmp_path, monkeypatch, capsys, no_display, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-an-image.png").write_text("text")
    args = [str(demo_model_path()) if a == "MODEL" else a for a in args]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("kernelkit: error: ")
    assert message in err
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("command", ["filters", "features", "demo"])
def test_every_command_has_help_with_examples(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert f"kernelkit {command}" in capsys.readouterr().out.split("examples:")[1]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("info", "example", "layers", "filters", "features", "demo"):
        assert f"    {command} " in out


def check_demo_pictures(stdout, out):
    filters, maps = out / "filters.png", out / "feature-maps.png"
    deeper = out / "feature-maps-conv2.png"
    assert stdout.endswith(f"wrote:\n  {filters}\n  {maps}\n  {deeper}\n")
    sixteen_filters = kernelkit.plot_filters(demo_model_path())
    digit = demo_digits().images[0]
    assert png_size(filters) == pixel_size(sixteen_filters, DEMO_DPI)
    for path, layer in ((maps, "conv1"), (deeper, "conv2")):
        digit_maps = kernelkit.plot_feature_maps(demo_model_path(), digit, layer=layer)
        assert png_size(path) == pixel_size(digit_maps, DEMO_DPI)


def test_demo_writes_the_pictures_and_reports_timings(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "demo"
    done = run_kernelkit("demo", "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    check_demo_pictures(done.stdout, out)
    accuracy = f"test accuracy {demo_digits().test_accuracy:.1%} on 360 held-out digits"
    expected = [accuracy, "NumPy (sliding_window_view + einsum)", "scikit-learn", "SVC("]
    expected.append("the whole network run by kernelkit on the 360 held-out digits: ")
    for text in expected:
        assert text in done.stdout
    assert done.stdout.count("x faster") == 2


def test_demo_without_scikit_learn_skips_only_its_parts(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now fails
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    stdout = capsys.readouterr().out
    check_demo_pictures(stdout, out)
    assert "scikit-learn is not installed" in stdout
    assert "SVC(" not in stdout
    assert stdout.count("x faster") == 1


def test_a_reader_that_stops_early_is_not_an_error():
    """`kernelkit layers FILE | head -1`: the pipe closes under the command's output."""
    command = [sys.executable, "-m", "kernelkit", "layers", str(demo_model_path())]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        process.stdout.close()  # as head does after its lines: every write fails
        _, err = process.communicate(timeout=60)
    assert err.decode() == ""
    assert process.returncode == 0  # as other Unix tools end when their reader has gone


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("something inside")

    monkeypatch.setattr(_figure_commands, "_filters", broken)
    argv = ["filters", str(demo_model_path()), "-o", "x.png"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == (
        "kernelkit: error: RuntimeError: something inside (kernelkit --debug ... shows the "
        "traceback)\n"
    )
    with pytest.raises(RuntimeError, match="something inside"):
        main(["--debug", *argv])
