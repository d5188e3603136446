"""Without raqm (Pillow's basic layout engine), a script that needs shaping is one clear
error naming libraqm, never a traceback; other cards still render. Switched off with
QUOTECAST_TEXT_LAYOUT=basic, the way a machine without libraqm/libfribidi behaves."""

from __future__ import annotations

from tests.conftest import Project

OFF = {"QUOTECAST_TEXT_LAYOUT": "basic"}
NEEDS_RAQM = {
    "arabic": "العلم نور",
    "hebrew": "שלום עולם",
    "hindi": "सत्यमेव जयते",
}


def _items(p: Project) -> None:
    for slug, quote in NEEDS_RAQM.items():
        p.add_item(f"{slug}.toml", f'quote = "{quote}"\nauthor = "Someone"\n')
    p.add_item("latin.toml", 'quote = "Plain words travel far."\nauthor = "Someone"\n')


def test_render_names_libraqm_for_each_complex_script_and_renders_the_rest(
    bare_project: Project,
) -> None:
    _items(bare_project)
    r = bare_project.run("render", "--format", "square", env=OFF)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(NEEDS_RAQM), r.stderr
    for slug in NEEDS_RAQM:
        (line,) = [e for e in errors if e.startswith(f"error: {slug} ")]
        assert "libraqm" in line and "QUOTECAST_TEXT_LAYOUT=basic" in line, line
    assert (bare_project.var / "preview" / "latin-square.png").is_file()
    assert not (bare_project.var / "preview" / "hebrew-square.png").exists()


def test_check_reports_it_per_file_and_the_same_items_render_with_raqm(
    bare_project: Project,
) -> None:
    _items(bare_project)
    r = bare_project.run("check", env=OFF)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    for slug in NEEDS_RAQM:
        assert f"{slug}.toml: quote (square):" in r.stdout and "libraqm" in r.stdout
    assert "ok  latin" in r.stdout

    r = bare_project.run("render", "--format", "square")  # raqm on: all four render
    assert r.returncode == 0, r.stderr
    assert len(list((bare_project.var / "preview").glob("*-square.png"))) == 4
