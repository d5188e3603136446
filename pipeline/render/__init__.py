"""Card rendering: pure layout, font fallback, drawing and encoding.

The runner calls `render_card`; everything else here is internal to the renderer.
"""

from pipeline.render.card import RenderedCard, render_card

__all__ = ["RenderedCard", "render_card"]
