# Copyright (c) mmdensekd contributors. All rights reserved.
"""Command-line entry points that report user errors in one line."""
from typing import Any, Callable, Tuple, Type

#: Errors a user can fix (a bad file, path, key or value): one line naming
#: them instead of a traceback; ``--debug`` shows the traceback.
USER_ERRORS: Tuple[Type[BaseException], ...] = (ValueError, OSError, KeyError)


def run_cli(func: Callable[[Any], Any], arg: Any, name: str, debug: bool = False,
            errors: Tuple[Type[BaseException], ...] = USER_ERRORS) -> Any:
    """Call ``func(arg)``; an error of ``errors`` exits with one line.

    Args:
        func (callable): The tool's work.
        arg: Its argument (parsed arguments or argv).
        name (str): The tool named in the message, e.g. ``'tools/train.py'``.
        debug (bool): Re-raise instead (the tools' ``--debug`` flag).
        errors (tuple): The error types reported in one line.

    Raises:
        SystemExit: ``'<name>: error: <Type>: <message> (--debug shows the traceback)'``.
    """
    try:
        return func(arg)
    except errors as err:
        if debug:
            raise
        msg = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        if 'Original Traceback' in msg:  # re-raised from a DataLoader worker
            msg = msg.strip().splitlines()[-1].split(': ', 1)[-1]
        raise SystemExit(f'{name}: error: {type(err).__name__}: {msg} (--debug shows the '
                         'traceback)') from None
