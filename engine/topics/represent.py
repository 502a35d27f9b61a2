"""What the topic stage clusters: the embedding joined with a lexical view.

Dense sentence embeddings blur neighbouring fields (cs.AI / cs.LG, astro-ph
subfields); the words a paper uses ("quasar", "magnetar", "treewidth") separate them.
The hybrid vector is ``[embedding, 0.7 · LSA]``, both unit-normalized, then renormalized,
where LSA is a 100-d truncated SVD of unigram TF-IDF. On the 24-category evaluation set
this lifts k-means(24) from V=0.629 to 0.645 and our graph clustering to V≈0.67
(benchmarks/topics.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LSA_DIMS = 100
LSA_WEIGHT = 0.7
SVD_SAMPLE = 20_000  # the SVD is fitted on at most this many papers, then applied to all


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def lexical(texts: Sequence[str], seed: int) -> np.ndarray | None:
    """Unit-norm LSA vectors of unigram TF-IDF (None when the corpus is too small)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < 10:
        return None
    try:
        tfidf = TfidfVectorizer(
            sublinear_tf=True, min_df=2, max_df=0.5, stop_words="english", dtype=np.float32
        ).fit_transform(texts)
    except ValueError:  # no term survives min_df / max_df
        return None
    dims = min(LSA_DIMS, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
    if dims < 2:
        return None
    sample = np.arange(tfidf.shape[0])
    if len(sample) > SVD_SAMPLE:
        sample = np.random.default_rng(seed).choice(len(sample), SVD_SAMPLE, replace=False)
    svd = TruncatedSVD(dims, random_state=seed).fit(tfidf[np.sort(sample)])
    return unit_rows(svd.transform(tfidf))


def hybrid(vectors: np.ndarray, texts: Sequence[str], seed: int) -> np.ndarray:
    """The vectors the topic stage clusters (the embeddings alone for tiny corpora)."""
    words = lexical(texts, seed)
    if words is None:
        return unit_rows(vectors)
    return unit_rows(np.hstack([unit_rows(vectors), LSA_WEIGHT * words]))
