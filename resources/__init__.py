"""Files that ship with the tagger: the default model, its card, the icon."""
