"""Vectors → topics: the kNN graph and fitting (fit), the clusterers, the
representation space, labels (c-TF-IDF phrases chosen by the model), the 2-D layout,
and the build's topic stage that ties them together (stage).

May import: the core modules and the artifact (to read the live version's topics).
Query code never imports this package: answers read stored topics through the artifact.
"""
