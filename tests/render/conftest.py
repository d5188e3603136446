"""Fixtures for the card renderer tests: the example settings and items built in memory."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw

from pipeline.config import Settings, load_settings
from pipeline.items import Item, parse_item

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "queue" / "karpathy-anthropic-pretraining.md"


def _exactly(n: int, text: str) -> str:
    """`text` cut to exactly n characters, ending with a full stop."""
    cut = text[: n - 1].rstrip()
    return cut + "." * (n - len(cut))


_LONG = _exactly(
    600,
    (
        "Innovation is not a single act of genius but a long, patient discipline of "
        "trying, measuring and trying again; "
    )
    * 6,
)

# The cases the issue lists, as (quote, author, role).
CASES: dict[str, tuple[str, str, str | None]] = {
    "one-word": ("Imagine.", "John Lennon", "Musician"),
    "long-600": (_LONG, "Anonymous", "Analyst"),
    "arabic": (
        "العلم نور والجهل ظلام، ومن طلب العلا سهر الليالي.",
        "مثل عربي",
        "حكمة قديمة",
    ),
    "hebrew": (
        "אם אין אני לי, מי לי? וכשאני לעצמי, מה אני? ואם לא עכשיו, אימתי?",
        "הלל הזקן",
        "פרקי אבות",
    ),
    "latin-cjk": (
        "AI 的未来属于开放的研究，我们一起建设 better tools for everyone。",
        "李开复",
        "投资人，创新工场",
    ),
    "emoji": (
        "Ship it 🚀 then iterate 👩🏽‍💻👍🏿 — the whole team 👨‍👩‍👧‍👦 celebrates 🎉🇬🇧",
        "Grace Hopper",
        "Computer scientist",
    ),
    "url-word": (
        "Read it at https://example.com/research/2026/quotecast-rendering-notes today",
        "Web Person",
        "Engineer",
    ),
    "thai": ("ความพยายามอยู่ที่ไหน ความสำเร็จอยู่ที่นั่น", "สุภาษิตไทย", None),
    "khmer": ("ចំណេះដឹងគឺជាទ្រព្យសម្បត្តិដែលគ្មាននរណាអាចលួចបាន", "សុភាសិតខ្មែរ", None),
    "devanagari": ("कर्म करो, फल की चिंता मत करो।", "भगवद गीता", None),
    "bengali": ("যেখানে দেখিবে ছাই, উড়াইয়া দেখ তাই, পাইলেও পাইতে পার অমূল্য রতন।", "প্রবাদ", None),
    "tamil": ("யாதும் ஊரே யாவரும் கேளிர்", "கணியன் பூங்குன்றனார்", None),
    "gujarati": ("સત્ય એ જ ઈશ્વર છે.", "મહાત્મા ગાંધી", None),
    "gurmukhi": ("ਨਾਨਕ ਨਾਮ ਚੜ੍ਹਦੀ ਕਲਾ, ਤੇਰੇ ਭਾਣੇ ਸਰਬੱਤ ਦਾ ਭਲਾ।", "ਅਰਦਾਸ", None),
    "sinhala": ("ඉවසීම ජයග්‍රහණයේ මාවතයි.", "සිංහල කියමන", None),
    "georgian": ("ვინც მეგობარს ეძებს, თავად უნდა იყოს მეგობარი.", "ქართული ანდაზა", None),
    "armenian": ("Գիտությունը լույս է, անգիտությունը՝ խավար։", "Հայկական ասացվածք", None),
    "ethiopic": ("ቀስ በቀስ እንቁላል በእግሩ ይሄዳል።", "የአማርኛ ምሳሌ", None),
    "greek": ("Ἓν οἶδα ὅτι οὐδὲν οἶδα.", "Σωκράτης", "Φιλόσοφος"),
    "korean": ("천 리 길도 한 걸음부터 시작된다.", "속담", None),
    "french": ("« Le cœur a ses raisons que la raison ne connaît point. »", "Blaise Pascal", None),
    "combining": (
        "Zoë’s café serves crème brûlée; the nai\u0308ve style: "
        "e\u0301 a\u0300 n\u0303 q\u0323\u0307",
        "Ste\u0301phane Dupré",
        "Chef de cuisine",
    ),
}


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(ROOT / "config.example.toml")


@pytest.fixture(scope="session")
def seed() -> Item:
    """The seed quote (Karpathy) exactly as it sits in queue/."""
    return parse_item(SEED, SEED.parent, ZoneInfo("UTC"), False)


def make_item(
    quote: str,
    author: str = "Ada Lovelace",
    role: str | None = "Mathematician",
    *,
    slug: str = "case",
    category: tuple[str, ...] = ("Quotes",),
    image: Path | None = None,
) -> Item:
    return Item(
        slug=slug,
        path=Path("/virtual/queue") / f"{slug}.toml",
        quote=quote,
        author=author,
        role=role,
        category=category,
        image=image,
    )


def case_item(name: str, image: Path | None = None) -> Item:
    quote, author, role = CASES[name]
    return make_item(quote, author, role, slug=name, image=image)


@pytest.fixture(scope="session")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A portrait-ish speaker photo (JPEG) to crop into a circle."""
    path = tmp_path_factory.mktemp("photo") / "face.jpg"
    im = Image.new("RGB", (600, 800), (90, 120, 160))
    d = ImageDraw.Draw(im)
    d.ellipse((150, 150, 450, 500), fill=(230, 190, 160))
    d.rectangle((100, 520, 500, 800), fill=(40, 60, 90))
    im.save(path, quality=90)
    return path


@pytest.fixture(scope="session")
def logo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PNG logo with transparency."""
    path = tmp_path_factory.mktemp("logo") / "logo.png"
    im = Image.new("RGBA", (400, 120), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle((0, 10, 100, 110), 24, fill=(242, 177, 52, 255))
    d.rectangle((130, 40, 390, 80), fill=(245, 241, 232, 255))
    im.save(path)
    return path
