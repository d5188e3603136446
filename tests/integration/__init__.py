"""The whole pipeline (CLI / Runner + real adapters + client libraries) against the fakes."""
