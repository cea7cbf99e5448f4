"""MovieLens data sets: registry, download, parsing, synthetic generation, ingest."""
