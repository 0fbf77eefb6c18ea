"""The git layer, the only home of pygit2: repository, history, transfer, snapshot, packs."""
