"""Queue files: every kind of bad input gets one clear message; good files still load."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.items import ItemError, load_queue, parse_item, slugify
from tests.conftest import Project

LONDON = ZoneInfo("Europe/London")


def problems(project: Project) -> list[str]:
    return [str(p) for p in load_queue(project.queue, LONDON).problems]


def test_example_queue_is_valid_and_holds_the_seed_quote(project: Project) -> None:
    scan = load_queue(project.queue, LONDON)
    assert scan.problems == []
    assert len(scan.items) >= 3
    seed = scan.by_slug()["karpathy-anthropic-pretraining"]
    assert seed.author == "Andrej Karpathy"
    assert seed.role == "Former Tesla AI head, one of OpenAI’s founding members"
    assert "[Anthropic]" in seed.quote
    assert seed.category == ("Quotes", "SMPostStory", "Link from bio")
    assert seed.body.startswith("The frontier of large language models")
    lovelace = scan.by_slug()["lovelace-analytical-engine"]  # YAML front matter
    assert lovelace.theme == "light" and lovelace.tags == ("computing", "history of science")


def test_toml_md_and_yaml_md_items(bare_project: Project) -> None:
    bare_project.add_item(
        "a.toml", 'quote = "Q1"\nauthor = "A"\npublish_at = 2026-12-01T09:00:00\n'
    )
    bare_project.add_item("b.md", '+++\nquote = "Q2"\nauthor = "B"\n+++\nBody *text*.\n')
    bare_project.add_item("c.md", "---\nquote: Q3\nauthor: C\ntags: [x, y]\n---\n")
    scan = load_queue(bare_project.queue, LONDON)
    assert scan.problems == []
    items = scan.by_slug()
    assert items["a"].publish_at == datetime(2026, 12, 1, 9, tzinfo=LONDON)  # naive = schedule tz
    assert items["b"].body == "Body *text*."
    assert items["c"].tags == ("x", "y")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.toml", 'quote = "unterminated\nauthor = "A"\n', "broken.toml:1: invalid TOML"),
        ("broken.md", "---\nquote: [unclosed\nauthor: A\n---\n", "broken.md:3: invalid YAML"),
        ("noauthor.toml", 'quote = "Q"\n', "noauthor.toml: author: required field is missing"),
        (
            "typo.toml",
            'quote = "Q"\nauthor = "A"\nauthr = "B"\n',
            "typo.toml:3: authr: unknown field; check the spelling",
        ),
        ("empty.toml", 'quote = ""\nauthor = "A"\n', "empty.toml:1: quote: must not be empty"),
        (
            "js.toml",
            'quote = "Q"\nauthor = "A"\nlink = "javascript:alert(1)"\n',
            "js.toml:3: link: only http and https links are accepted",
        ),
        (
            "escape.toml",
            'quote = "Q"\nauthor = "A"\nimage = "../../etc/passwd"\n',
            "escape.toml:3: image: '../../etc/passwd' is outside the queue folder",
        ),
        (
            "bidi.toml",
            'quote = "evil \u202e txt"\nauthor = "A"\n',
            "bidi.toml:1: quote: contains the invisible control character U+202E",
        ),
        ("nofront.md", "just text\n", "nofront.md:1: Markdown queue files start with front matter"),
        ("Bad Name.toml", 'quote = "Q"\nauthor = "A"\n', "file name must be a slug"),
        ("notes.txt", "hello", "notes.txt: not a queue file; use .toml or .md"),
    ],
)
def test_bad_file_gets_one_clear_message(
    bare_project: Project, name: str, content: str, expected: str
) -> None:
    path = bare_project.add_item(name, content)
    before = path.read_bytes()
    found = problems(bare_project)
    assert len(found) == 1, found
    assert expected in found[0]
    assert str(bare_project.queue) in found[0]
    assert path.read_bytes() == before  # never rewritten


def test_non_utf8_file(bare_project: Project) -> None:
    bare_project.add_item("latin1.toml", 'quote = "caf\xe9"\nauthor = "A"\n'.encode("latin-1"))
    (msg,) = problems(bare_project)
    assert "latin1.toml:1: not valid UTF-8 text; save the file as UTF-8" in msg


def test_ten_megabyte_file_is_refused_without_reading_it(bare_project: Project) -> None:
    bare_project.add_item("huge.toml", 'quote = "' + "x" * 10_000_000 + '"\nauthor = "A"\n')
    (msg,) = problems(bare_project)
    assert "huge.toml: file is 10.0 MB; queue files are limited to 256 KB" in msg


def test_decompression_bomb_image_is_refused(bare_project: Project) -> None:
    from PIL import Image

    Image.new("1", (9000, 9000)).save(bare_project.queue / "bomb.png")  # 81 MP, tiny file
    bare_project.add_item("p.toml", 'quote = "Q"\nauthor = "A"\nimage = "bomb.png"\n')
    (msg,) = problems(bare_project)
    assert "p.toml:3: image: 'bomb.png' has too many pixels" in msg


def test_unicode_is_normalised(bare_project: Project) -> None:
    path = bare_project.add_item("n.toml", 'quote = "Cafe\u0301"\nauthor = "A"\n')
    item = parse_item(path, bare_project.queue, LONDON)
    assert item.quote == "Caf\u00e9"


def test_bad_file_never_stops_good_ones(project: Project) -> None:
    project.add_item("zz-broken.toml", "quote = \n")
    r = project.cli("publish", "--now", "--all", "--yes")
    assert r.exit_code == 0, r.output
    assert "zz-broken.toml" in r.output
    assert "published 6 posts" in r.output
    assert (project.queue / "zz-broken.toml").read_text() == "quote = \n"


def test_check_lists_problems_and_exits_1(project: Project) -> None:
    project.add_item("bad.toml", 'quote = "Q"\nauthor = "A"\nlink = "ftp://x"\n')
    r = project.run("check")
    assert r.returncode == 1
    assert "bad.toml:3: link: only http and https links are accepted" in r.stdout
    assert "1 problem" in r.stdout
    r = project.run("check")  # nothing was moved
    assert (project.queue / "bad.toml").exists()


def test_check_passes_on_examples(project: Project) -> None:
    r = project.run("check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "config and 3 queue items OK" in r.stdout


def test_add_writes_a_valid_unique_file(bare_project: Project) -> None:
    args = ["add", "--quote", "Less is more.", "--author", "Mies", "--tag", "design"]
    r1 = bare_project.cli(*args)
    r2 = bare_project.cli(*args)
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    files = sorted(p.name for p in bare_project.queue.iterdir())
    assert files == ["mies-less-is-more.toml", "mies-less-is-more-2.toml"][::-1] or files == [
        "mies-less-is-more-2.toml",
        "mies-less-is-more.toml",
    ]
    scan = load_queue(bare_project.queue, LONDON)
    assert scan.problems == [] and scan.items[0].tags == ("design",)


def test_add_refuses_bad_input_without_writing(bare_project: Project) -> None:
    r = bare_project.cli("add", "--quote", "Q", "--author", "A", "--link", "javascript:x")
    assert r.exit_code == 1
    assert "--link: only http and https links are accepted" in r.output
    assert list(bare_project.queue.iterdir()) == []


def test_csv_import_is_idempotent_and_reports_bad_rows(bare_project: Project) -> None:
    csv = bare_project.root / "quotes.csv"
    csv.write_text(
        "quote,author,role,link,tags\n"
        "Stay hungry.,Steve Jobs,Apple,https://example.com/a,tech;life\n"
        ",Nobody,,,\n"
        'Simple is good.,Dieter Rams,Designer,"javascript:alert(1)",\n'
        "Make it work.,Kent Beck,,,\n",
        encoding="utf-8",
    )
    r = bare_project.cli("import", str(csv))
    assert r.exit_code == 1  # some rows refused
    assert "row 3: refused: quote: must not be empty" in r.output or "row 3: refused" in r.output
    assert "row 4: refused: link: only http and https" in r.output
    assert "2 created, 0 already queued, 2 refused" in r.output
    created = sorted(p.name for p in bare_project.queue.iterdir())
    assert len(created) == 2
    r = bare_project.cli("import", str(csv))
    assert "0 created, 2 already queued, 2 refused" in r.output
    assert sorted(p.name for p in bare_project.queue.iterdir()) == created
    jobs = load_queue(bare_project.queue, LONDON).by_slug()
    assert any(i.tags == ("tech", "life") for i in jobs.values())


def test_slugify() -> None:
    assert slugify("Andrej Karpathy – I think the next few") == "andrej-karpathy-i-think-the-next"
    assert slugify("«»") == "item"


def test_item_error_lists_every_problem(bare_project: Project) -> None:
    path = bare_project.add_item("two.toml", 'quote = ""\nauthr = "A"\n')
    with pytest.raises(ItemError) as err:
        parse_item(path, bare_project.queue, LONDON)
    fields = {p.field for p in err.value.problems}
    assert fields == {"quote", "author", "authr"}


def test_duplicate_slug_across_extensions(bare_project: Project) -> None:
    bare_project.add_item("same.toml", 'quote = "Q"\nauthor = "A"\n')
    bare_project.add_item("same.md", '+++\nquote = "Q"\nauthor = "A"\n+++\n')
    scan = load_queue(bare_project.queue, LONDON)
    assert scan.items == []
    assert "same slug as same.md" in str(scan.problems[0])


def test_image_inside_queue_is_accepted(bare_project: Project, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(bare_project.queue / "face.png")
    path = bare_project.add_item("p.toml", 'quote = "Q"\nauthor = "A"\nimage = "face.png"\n')
    assert parse_item(path, bare_project.queue, LONDON).image == (bare_project.queue / "face.png")
