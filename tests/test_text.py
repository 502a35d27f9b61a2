"""The shared word list: the shipped copy of scikit-learn's stop words stays equal to it,
and lexical search no longer imports scikit-learn."""

from __future__ import annotations

import subprocess
import sys

from engine.text import content_words, english_stop_words, stop_words, without_tex


def test_the_shipped_stop_words_are_scikit_learns() -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    assert english_stop_words() == frozenset(ENGLISH_STOP_WORDS)
    assert {"the", "of", "paper", "propose"} <= stop_words()
    assert content_words("We propose a graph neural network for the molecules") == {
        "graph",
        "neural",
        "network",
        "molecules",
    }


def test_a_lexical_query_does_not_import_scikit_learn() -> None:
    code = (
        "import sys; from engine.artifact.lexical import fts_terms;"
        "assert fts_terms('graph neural networks for molecules');"
        "print('sklearn' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_maths_and_tex_commands_are_not_words() -> None:
    text = r"Modules over $\mathfrak{sl}_2$ and the \mathcal{O} category of \(U_q\) at \emph{roots}"
    assert content_words(without_tex(text)) == {"modules", "category", "roots"}
    assert without_tex(r"graded $\mathbb{Z}$ modules", gap=" the ") == "graded  the  modules"
