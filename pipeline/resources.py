"""Files quotecast ships: fonts with their licences, bio templates, the example config.

In a wheel they live inside the package (`pipeline/_data/`, mapped there from the
checkout's top-level `assets/fonts/` and `config.example.toml` by the build backend;
see pyproject.toml) and are found with importlib.resources. In a checkout or an
editable install that folder does not exist and the top-level sources are used, so
`assets/fonts/` stays the one place fonts are added. Everything else asks here.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_PACKAGE = "pipeline"
_CHECKOUT = Path(__file__).resolve().parent.parent  # the repository, when run from one


def _packaged(*parts: str) -> Path | None:
    """A shipped file or folder inside the installed package, as a real path."""
    node = files(_PACKAGE).joinpath("_data", *parts)
    # a wheel installed by pip is plain files; a zipped import would have no real path
    if isinstance(node, Path) and node.exists():
        return node
    return None


def fonts_dir() -> Path:
    """The folder of shipped fonts (and their OFL licence files)."""
    return _packaged("fonts") or _CHECKOUT / "assets" / "fonts"


def example_config() -> Path:
    """The complete, commented example configuration `quotecast init` copies."""
    return _packaged("config.example.toml") or _CHECKOUT / "config.example.toml"


def example_config_text() -> str:
    return example_config().read_text(encoding="utf-8")


def templates_dir() -> Path:
    """The link-in-bio page templates (ordinary package data)."""
    node = files(_PACKAGE).joinpath("templates")
    return node if isinstance(node, Path) else Path(str(node))


def font_licences() -> list[Path]:
    """The licence files shipped beside the fonts (OFL-*.txt)."""
    return sorted(fonts_dir().glob("OFL-*.txt"))


FONTS_DIR = fonts_dir()
EXAMPLE_CONFIG = example_config()
