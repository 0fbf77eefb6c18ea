"""The run format, its one writer (the recorder) and readers: ids, records, spool, refs."""
