"""quotecast: queued quotes → branded cards → posts that go out exactly once."""

__version__ = "0.1.0"
