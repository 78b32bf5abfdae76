"""``audiokit report``: the page's numbers against the files themselves.

A generated dataset with known durations, rates and channels (two class folders, one
clipped file, one silent, one stereo, one long) and sample_data/ are reported; the HTML is
parsed and its counts, its images and its outliers are checked against values computed
here independently (soundfile headers, the inspect measurements and the documented rule
redone with numpy). Markdown mode, the no-replace contract, ``--update`` and a headless
Chromium rendering (skipped without Chromium) are tested through the CLI.
"""

from __future__ import annotations

import base64
import io
import json
import math
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from click.testing import CliRunner
from PIL import Image

from audiokit import __version__, generate
from audiokit.cli import cli
from audiokit.inspection import inspect_file
from audiokit.report import figures, summary
from audiokit.report.collect import table_path
from audiokit.report.markdown import code, esc, files_dir

# --------------------------------------------------------------------------- the HTML, parsed


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts + [c.text for c in self.children]).strip()

    def walk(self) -> list[Node]:
        out = [self]
        for c in self.children:
            out += c.walk()
        return out

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.attrs.get("class", "").split())
        ]

    def by_id(self, ident: str) -> Node:
        found = [n for n in self.walk() if n.attrs.get("id") == ident]
        assert len(found) == 1, (ident, len(found))
        return found[0]


VOID = {"meta", "img", "br", "hr", "link", "input"}


class TreeBuilder(HTMLParser):
    """A strict little DOM: every non-void element must be closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root
        self.attr_values: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.attr_values += [(tag, k, v) for k, v in a.items()]
        node = Node(tag, a, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag: str) -> None:
        assert self.cur.tag == tag, f"</{tag}> closes <{self.cur.tag}>"
        assert self.cur.parent is not None
        self.cur = self.cur.parent

    def handle_data(self, data: str) -> None:
        self.cur.parts.append(data)


def parse(text: str) -> tuple[Node, TreeBuilder]:
    b = TreeBuilder()
    b.feed(text)
    b.close()
    assert b.cur is b.root, "unclosed elements"
    return b.root, b


def table_rows(table: Node) -> list[list[str]]:
    return [[c.text for c in tr.children if c.tag in ("td", "th")] for tr in table.find_all("tr")]


def counts(root: Node, ident: str) -> dict[str, int]:
    t = root.by_id(ident)
    return {
        tr.find_all("td", "key")[0].text: int(tr.find_all("td", "count")[0].text)
        for tr in t.find_all("tr")
        if tr.find_all("td", "key")
    }


def overview(root: Node) -> dict[str, str]:
    return {r[0]: r[1] for r in table_rows(root.by_id("overview"))}


def png_of(src: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    im = Image.open(io.BytesIO(base64.b64decode(src[len(prefix) :])))
    im.load()
    return im


# --------------------------------------------------------------------------- data


def invoke(*args: str, input: bytes | None = None) -> Any:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, list(args), input=input, catch_exceptions=False)


def write(path: Path, y: np.ndarray, sr: int) -> float:
    """Write (channels, n) float samples as PCM_16; return the duration in seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.T, sr, subtype="PCM_16")
    return y.shape[-1] / sr


def make_dataset(root: Path) -> dict[str, Any]:
    """20 files in dog/ and cat/: durations known, 3 at 22050 Hz, one stereo, one clipped
    (a sine driven to twice full scale, then clipped), one digital silence, one 6 s long."""
    durations: dict[str, float] = {}
    rates: dict[str, int] = {}
    for i in range(10):
        sr = 16000
        p = root / "dog" / f"dog_{i:02d}.wav"
        y = generate.tone(220.0 * (1 + i / 10), sr, 1.0 + 0.05 * i, amplitude=0.5)
        if i == 3:
            p = p.with_name("stereo.wav")
            y = generate.tone(330.0, sr, 1.2, amplitude=0.5, channels=2)
        if i == 5:
            p = p.with_name("clipped.wav")
            y = np.clip(generate.tone(440.0, sr, 1.1, amplitude=1.0) * 2.0, -1.0, 1.0)
        durations[str(p)] = write(p, y, sr)
        rates[str(p)] = sr
    for i in range(10):
        sr = 22050 if i < 3 else 16000
        p = root / "cat" / f"cat_{i:02d}.wav"
        y = generate.tone(300.0 + 40 * i, sr, 1.0 + 0.04 * i, amplitude=0.3)
        if i == 4:
            p = p.with_name("silent.wav")
            y = generate.silence(sr, 1.0)
        if i == 7:
            p = p.with_name("long.wav")
            y = generate.tone(500.0, sr, 6.0, amplitude=0.3)
        durations[str(p)] = write(p, y, sr)
        rates[str(p)] = sr
    return {"root": root, "durations": durations, "rates": rates}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_dataset(tmp_path_factory.mktemp("data") / "set")


@pytest.fixture(scope="module")
def html_report(dataset: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("out") / "report.html"
    res = invoke(
        "report",
        str(dataset["root"]),
        "-o",
        str(out),
        "--label-from-parent",
        "--thumbnails",
        "6",
        "-j",
        "2",
    )
    assert res.exit_code == 0, res.output + res.stderr
    text = out.read_text(encoding="utf-8")
    root, builder = parse(text)
    return {"path": out, "text": text, "root": root, "builder": builder, "res": res}


def inspect_rows(paths: list[str]) -> list[dict[str, Any]]:
    return [inspect_file(p, loudness=True).row() for p in paths]


# --------------------------------------------------------------------------- the HTML report


def test_counts_and_totals_equal_the_files(html_report: Any, dataset: dict[str, Any]) -> None:
    root = html_report["root"]
    ov = overview(root)
    assert ov["files"] == "20"
    assert ov["failed"] == "0"
    total = sum(dataset["durations"].values())
    assert float(ov["total seconds"]) == pytest.approx(total, abs=1e-3)
    assert ov["total duration"].endswith(f"({total / 3600:.3f} h)")
    assert counts(root, "samplerates") == {"16000": 17, "22050": 3}
    assert counts(root, "channels") == {"1": 19, "2": 1}
    assert counts(root, "formats") == {"WAV": 20}
    assert counts(root, "bit-depths") == {"16": 20}
    assert counts(root, "classes") == {"cat": 10, "dog": 10}


def test_one_image_per_histogram_and_the_thumbnails(html_report: Any) -> None:
    root = html_report["root"]
    hists = root.find_all("figure", "histogram")
    assert [f.attrs["id"] for f in hists] == [f"hist-{m.key}" for m in summary.MEASURES]
    for fig in hists:
        imgs = fig.find_all("img")
        assert len(imgs) == 1
        im = png_of(imgs[0].attrs["src"])
        assert im.size[0] > 300 and im.size[1] > 150
        assert np.asarray(im.convert("L")).std() > 5  # something is drawn
    thumbs = root.find_all("figure", "thumbnail")
    assert len(thumbs) == 6
    shown = [t.find_all("figcaption")[0].text for t in thumbs]
    assert shown == sorted(shown)  # in sorted path order, spread from the first to the last
    assert shown[0].endswith("cat/cat_00.wav") and shown[-1].endswith("dog/stereo.wav")
    for t in thumbs:
        png_of(t.find_all("img")[0].attrs["src"])


def test_page_is_self_contained(html_report: Any) -> None:
    text, b = html_report["text"], html_report["builder"]
    assert "http://" not in text and "https://" not in text
    for tag, attr, value in b.attr_values:
        if attr in ("src", "href"):
            assert value.startswith("data:image/png;base64,"), (tag, attr, value[:40])
    root = html_report["root"]
    assert not root.find_all("script") and not root.find_all("link")
    assert not root.find_all("iframe") and "@import" not in text and "url(" not in text


def test_meta_names_version_command_and_date(html_report: Any) -> None:
    meta = {r[0]: r[1] for r in table_rows(html_report["root"].by_id("meta"))}
    assert meta["audiokit"] == __version__
    assert meta["command"].split()[0] == "audiokit"  # (exactly: test_command_line_is_recorded)
    assert meta["date"][:4].isdigit() and meta["date"].endswith("+00:00")


def _is_outlier(x: float, values: np.ndarray, m: summary.Measure) -> bool:
    """The documented rule, redone: beyond max(3 * 1.4826 * MAD, floor + rel*|median|)."""
    if math.isinf(x):
        return True
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return abs(x - med) > max(3 * 1.4826 * mad, m.floor + m.relative * abs(med))


def test_every_listed_outlier_is_one_and_every_one_is_listed(
    html_report: Any, dataset: dict[str, Any]
) -> None:
    root = html_report["root"]
    paths = sorted(dataset["durations"])
    rows = {r["path"]: r for r in inspect_rows(paths)}
    for m in summary.MEASURES:
        vals = np.array([rows[p][m.key] for p in paths], dtype=float)
        finite = vals[np.isfinite(vals)]
        expected = {
            p
            for p, x in zip(paths, vals, strict=True)
            if not math.isnan(x) and _is_outlier(x, finite, m)
        }
        node = root.by_id(f"outliers-{m.key}")
        listed = {r[0] for r in table_rows(node)[1:]} if node.tag == "table" else set()
        assert listed == expected, m.key
        for r in table_rows(node)[1:]:
            x = rows[r[0]][m.key]
            assert float(r[1]) == pytest.approx(x, rel=1e-3, abs=1e-9) or math.isinf(x)
    # the planted ones
    by = {m: {r[0] for r in table_rows(root.by_id(f"outliers-{m}"))[1:]} for m in ("duration",)}
    assert any(p.endswith("long.wav") for p in by["duration"])
    clipped = {r[0] for r in table_rows(root.by_id("outliers-clipped_fraction"))[1:]}
    assert [Path(p).name for p in clipped] == ["clipped.wav"]
    peak = {r[0] for r in table_rows(root.by_id("outliers-peak_dbfs"))[1:]}
    assert any(p.endswith("silent.wav") for p in peak)
    silence = {r[0] for r in table_rows(root.by_id("outliers-silent_fraction"))[1:]}
    assert [Path(p).name for p in silence] == ["silent.wav"]


# --------------------------------------------------------------------------- sample_data


AUDIO = {".wav", ".flac", ".ogg"}


def test_sample_data_report_matches_soundfile(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = invoke("report", str(sample_dir), "-o", str(out), "--thumbnails", "3", "-j", "2")
    assert res.exit_code == 0, res.stderr
    root, _ = parse(out.read_text())
    files = sorted(p for p in sample_dir.rglob("*") if p.suffix in AUDIO)
    infos = [sf.info(str(p)) for p in files]
    ov = overview(root)
    assert ov["files"] == str(len(files))
    assert float(ov["total seconds"]) == pytest.approx(sum(i.duration for i in infos), abs=2e-3)
    assert counts(root, "samplerates") == {
        str(k): v for k, v in sorted(Counter(i.samplerate for i in infos).items())
    }
    assert counts(root, "channels") == {
        str(k): v for k, v in sorted(Counter(i.channels for i in infos).items())
    }
    assert counts(root, "formats") == dict(sorted(Counter(i.format for i in infos).items()))
    assert len(root.find_all("figure", "thumbnail")) == 3
    assert not [n for n in root.walk() if n.attrs.get("id") == "classes"]  # no --label-from-parent
    clipped = {Path(r[0]).name for r in table_rows(root.by_id("outliers-clipped_fraction"))[1:]}
    assert "overdriven.wav" in clipped
    dc = {Path(r[0]).name for r in table_rows(root.by_id("outliers-dc_offset"))[1:]}
    assert "dc_offset.wav" in dc


# --------------------------------------------------------------------------- markdown


def test_markdown_writes_pngs_beside_it(dataset: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    res = invoke("report", str(dataset["root"]), "-o", str(out), "--thumbnails", "4", "-j", "2")
    assert res.exit_code == 0, res.stderr
    text = out.read_text()
    folder = files_dir(out)
    assert folder == tmp_path / "report_files"
    links = [
        line[line.index("](") + 2 : line.index(")", line.index("]("))]
        for line in text.splitlines()
        if line.startswith("![")
    ]
    hist = [link for link in links if "/hist-" in link]
    thumbs = [link for link in links if "/thumb-" in link]
    assert len(hist) == len(summary.MEASURES)
    assert len(thumbs) == 4
    for link in links:
        assert link.startswith("report_files/")
        with Image.open(tmp_path / link) as im:
            im.load()
            assert im.format == "PNG" and im.size[0] > 100
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(link).name for link in links)
    assert "| files | 20 |" in text
    assert "| 22050 | 3 | 15.0% |" in text
    assert f"| audiokit | {esc(__version__)} |" in text
    assert "http" not in text
    # temporaries and journals are gone
    assert not [p for p in tmp_path.rglob(".*")]


def test_markdown_escapes_paths() -> None:
    assert esc("a|b_c*.wav") == "a\\|b\\_c\\*\\.wav"
    assert esc("two\nlines") == "two lines"
    assert code("audiokit report 'a|b' -o `x`.md") == "`audiokit report 'a\\|b' -o 'x'.md`"


# --------------------------------------------------------------------------- outputs


def test_refuses_to_replace_without_overwrite(dataset: dict[str, Any], tmp_path: Path) -> None:
    for name in ("r.html", "r.md"):
        out = tmp_path / name
        out.write_text("mine")
        res = invoke("report", str(dataset["root"]), "-o", str(out), "-q")
        assert res.exit_code == 2
        assert "exists" in res.stderr
        assert out.read_text() == "mine"
    out = tmp_path / "r.html"
    res = invoke("report", str(dataset["root"]), "-o", str(out), "-q", "--overwrite")
    assert res.exit_code == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    # a Markdown report's picture directory counts too
    md = tmp_path / "new.md"
    (tmp_path / "new_files").mkdir()
    (tmp_path / "new_files" / "hist-duration.png").write_bytes(b"mine")
    res = invoke("report", str(dataset["root"]), "-o", str(md), "-q")
    assert res.exit_code == 2 and not md.exists()
    assert (tmp_path / "new_files" / "hist-duration.png").read_bytes() == b"mine"


def test_stdout_and_bad_outputs(dataset: dict[str, Any], tmp_path: Path) -> None:
    res = invoke("report", str(dataset["root"] / "dog"), "-o", "-", "--thumbnails", "0")
    assert res.exit_code == 0
    root, _ = parse(res.stdout)
    assert overview(root)["files"] == "10"
    assert not root.find_all("figure", "thumbnail")
    res = invoke("report", str(dataset["root"]), "-o", "-", "--update")
    assert res.exit_code == 2 and "--update needs -o FILE" in res.stderr
    res = invoke("report", str(dataset["root"]), "-o", str(tmp_path / "r.pdf"))
    assert res.exit_code == 2 and ".html or .md" in res.stderr
    res = invoke("report", str(dataset["root"]))
    assert res.exit_code == 2  # -o is required


def test_failed_files_are_listed(dataset: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "d"
    shutil.copytree(dataset["root"] / "cat", data)
    (data / "broken.wav").write_bytes(b"this is not audio at all" * 10)
    out = tmp_path / "r.html"
    res = invoke("report", str(data), "-o", str(out), "-q")
    assert res.exit_code == 1  # some inputs failed; the report is written all the same
    root, _ = parse(out.read_text())
    assert overview(root)["files"] == "10" and overview(root)["failed"] == "1"
    rows = table_rows(root.by_id("failed"))[1:]
    assert [Path(r[0]).name for r in rows] == ["broken.wav"] and rows[0][1]


def test_update_measures_only_new_files(dataset: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "d"
    shutil.copytree(dataset["root"], data)
    out = tmp_path / "r.html"
    res = invoke("report", str(data), "-o", str(out), "--update", "--thumbnails", "2")
    assert res.exit_code == 0, res.stderr
    assert "20 measured, 0 kept" in res.stderr
    sidecar = table_path(out)
    assert sidecar == tmp_path / "r.inspect.parquet" and sidecar.exists()
    first = overview(parse(out.read_text())[0])
    # a grown directory: only the new files are decoded
    write(data / "dog" / "new_a.wav", generate.tone(200.0, 16000, 2.0, amplitude=0.4), 16000)
    write(data / "cat" / "new_b.wav", generate.tone(250.0, 16000, 0.5, amplitude=0.4), 16000)
    res = invoke("report", str(data), "-o", str(out), "--update", "--thumbnails", "2")
    assert res.exit_code == 0, res.stderr
    assert "2 measured, 20 kept" in res.stderr
    root, _ = parse(out.read_text())
    ov = overview(root)
    assert ov["files"] == "22"
    grown = float(first["total seconds"]) + 2.5
    assert float(ov["total seconds"]) == pytest.approx(grown, abs=1e-3)
    # the same page as a full run's (but for the date and the command)
    full = tmp_path / "full.html"
    assert invoke("report", str(data), "-o", str(full), "--thumbnails", "2", "-q").exit_code == 0
    froot, _ = parse(full.read_text())
    for ident in ("overview", "samplerates", "channels", "outliers-duration", "outliers-peak_dbfs"):
        assert table_rows(froot.by_id(ident)) == table_rows(root.by_id(ident)), ident
    # the sidecar is an inspect table: inspect --update on it keeps every row (nothing to
    # compute: the table stays byte for byte)
    before = sidecar.read_bytes()
    res = invoke("inspect", str(data), "-o", str(sidecar), "--update", "--loudness", "-q")
    assert res.exit_code == 0
    assert sidecar.read_bytes() == before
    meta = json.loads(pq.read_schema(sidecar).metadata[b"audiokit.state"])
    assert len(meta["inputs"]) == 22


def test_command_line_is_recorded(
    dataset: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "my report.html"
    argv = ["/usr/bin/audiokit", "report", str(dataset["root"] / "cat"), "-o", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert invoke(*argv[1:], "-q", "--thumbnails", "0").exit_code == 0
    meta = {r[0]: r[1] for r in table_rows(parse(out.read_text())[0].by_id("meta"))}
    assert meta["command"] == f"audiokit report {dataset['root'] / 'cat'} -o '{out}'"
    assert meta["date"] == "2023-11-14T22:13:20+00:00"


# --------------------------------------------------------------------------- the pieces


def test_outlier_rule() -> None:
    m = summary.Measure("x", "x", "", floor=0.5)
    rows = [{"path": f"f{i}", "x": v} for i, v in enumerate([1.0, 1.1, 0.9, 1.0, 9.0, None])]
    ms = summary.summarize_measure(rows, m)
    vals = np.array([1.0, 1.1, 0.9, 1.0, 9.0])
    med = np.median(vals)
    mad = np.median(np.abs(vals - med))
    assert ms.median == med and ms.mad == pytest.approx(mad)
    assert ms.bound == pytest.approx(max(3 * 1.4826 * mad, 0.5))
    assert [o.path for o in ms.outliers] == ["f4"] and ms.outliers[0].side == "high"
    assert ms.missing == 1
    # all alike: the floor decides; -inf is always an outlier and never drawn
    rows = [{"path": "a", "x": 2.0}, {"path": "b", "x": 2.4}, {"path": "c", "x": -math.inf}]
    ms = summary.summarize_measure([*rows, {"path": "d", "x": 2.0}], m)
    assert [o.path for o in ms.outliers] == ["c"] and ms.outliers[0].side == "low"
    assert ms.non_finite == 1 and ms.values.size == 3
    # a floor of 0 flags any difference from the median (clipping among clean files)
    m0 = summary.Measure("x", "x", "")
    ms = summary.summarize_measure([{"path": "a", "x": 0.0}] * 5 + [{"path": "z", "x": 1e-6}], m0)
    assert [o.path for o in ms.outliers] == ["z"]


def test_counts_are_sorted_numerically() -> None:
    rows = [{"samplerate": r, "bit_depth": b} for r, b in [(8000, None), (44100, 16), (16000, 24)]]
    s = summary.summarize(rows)
    assert list(s.samplerates) == ["8000", "16000", "44100"]
    assert s.bit_depths == {"16": 1, "24": 1, "none": 1}
    assert s.classes is None and s.measures == ()


def test_thumbnail_sample_is_deterministic_and_spread() -> None:
    paths = [f"p{i:02d}" for i in range(20)][::-1]
    picks = figures.sample(paths, 5)
    assert picks == figures.sample(list(paths), 5)
    names = [paths[i] for i in picks]
    assert names == ["p00", "p05", "p10", "p14", "p19"]
    assert sorted(figures.sample(paths, 50)) == list(range(20))
    assert figures.sample(paths, 0) == []


# --------------------------------------------------------------------------- rendered


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed")
def test_chromium_renders_the_page(html_report: Any, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    exe = _chromium()
    assert exe is not None
    subprocess.run(
        [
            exe,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            html_report["path"].as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with Image.open(shot) as im:
        gray = np.asarray(im.convert("L"), dtype=float)
    assert gray.shape == (2000, 1200)
    assert gray.std() > 20  # text, tables and histograms, not a blank page
    # the histograms' blue bars were drawn (the images decoded)
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    blue = (rgb[..., 2] > 120) & (rgb[..., 0] < 80)
    assert blue.sum() > 2000
