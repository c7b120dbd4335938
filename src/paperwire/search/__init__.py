"""Search: keyword (tantivy BM25), semantic (Embedder protocol, vector index), fusion, the hybrid entry point."""
