"""genre-tagger: write a genre into every audio file of a library."""

__version__ = "0.1.0"
