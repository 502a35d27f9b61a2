"""Papers → vectors: the ``Embedder`` interface and its registry (embedder), the
backends (torch, onnx, static), tokenizing and length buckets, models derived once into
the model cache (ONNX export, int8 quantization, distillation), the quality guard that
lets ``auto`` choose, the embedding cache, and embedding on Ray.

May import: the core modules only. It knows texts and vectors, never papers on disk.
"""
