"""``python -m agentos``: the same as the ``agentos`` command."""

from agentos.cli.main import main

main()
