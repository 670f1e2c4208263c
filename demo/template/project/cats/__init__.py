"""tiny-cats: cat-breed classification and generation."""
