"""``genretagger``: genres heard in the audio, offline, for a beets library.

Enable it with ``plugins: genretagger`` in beets' config.yaml; ``beet genretag
[QUERY]`` then classifies the matched items with genre-tagger's engine and sets
their genre in the database and in the files. With ``genretagger: {auto: yes}``
newly imported items are tagged during ``beet import``.
"""

from __future__ import annotations

import optparse
from typing import Any

from beets import ui
from beets.importer import ImportSession, ImportTask
from beets.library import Library
from beets.plugins import BeetsPlugin

from beetsplug.genretagger.options import DEFAULTS, TagOptions, read_options


class GenreTaggerPlugin(BeetsPlugin):
    """The ``genretag`` command and the optional import stage."""

    def __init__(self) -> None:
        super().__init__()
        self.config.add(DEFAULTS)
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]

    def commands(self) -> list[ui.Subcommand]:
        command = ui.Subcommand("genretag", help="set genres heard in the audio (offline)")
        _add_options(command.parser)
        command.func = self.genretag
        return [command]

    def genretag(self, lib: Library, opts: optparse.Values, args: list[str]) -> None:
        """``beet genretag [options] [QUERY]``."""
        # The engine (NumPy, the decoders, the network) is imported only when genres are wanted:
        # every ``beet`` command loads the plugin, and those imports take about half a second.
        from beetsplug.genretagger import run

        if opts.undo:
            if args:
                raise ui.UserError("genretagger: --undo takes no query: it undoes the whole last run")
            run.undo_last_run(lib, self.options(), self._log)
            return
        options = self.options(pretend=bool(opts.pretend), force=opts.force, model=opts.model,
                               min_confidence=opts.min_confidence)
        items = list(lib.items(args))
        if not items:
            ui.print_("genretag: no items matched")
        run.tag_items(lib, items, options, self._log)

    def imported(self, session: ImportSession, task: ImportTask) -> None:
        """Import stage: tag the items the task has just added to the library."""
        from beetsplug.genretagger import run

        run.tag_items(session.lib, task.imported_items(), self.options(), self._log)

    def options(self, pretend: bool = False, **overrides: Any) -> TagOptions:
        """Settings in force: command-line ``overrides`` (None: not given) over beets' config."""
        return read_options(self.config, ui.should_write(), pretend, **overrides)


def _add_options(parser: optparse.OptionParser) -> None:
    parser.add_option("-p", "--pretend", action="store_true",
                      help="show the genres that would change (old -> new); change nothing")
    parser.add_option("-f", "--force", action="store_true", default=None,
                      help="replace genres that are there (default: fill empty ones only)")
    parser.add_option("-F", "--no-force", dest="force", action="store_false",
                      help="fill empty genres only, whatever the config's force says")
    parser.add_option("--model", metavar="NAME",
                      help="model name (see tagger-train list) or model folder (default: the shipped one)")
    parser.add_option("--min-confidence", type="float", metavar="P",
                      help="leave items whose genre is less likely than P (0-1) alone (default: the model's)")
    parser.add_option("--undo", action="store_true",
                      help="put back the genres the last genretag run changed, in the files and the database")
