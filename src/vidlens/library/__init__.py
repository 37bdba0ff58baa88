"""The searchable video library: catalog (SQLite), vector indexes (FAISS), ingest and search."""
