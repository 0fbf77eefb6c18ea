"""Runs between repositories: remotes (the only home of dulwich), push/fetch, notes, hooks."""
