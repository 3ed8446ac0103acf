"""Teaching pages (issue 18): PyTorch beside its Flax translation, line by line.

* :func:`explain_source` / :func:`explain_file` -> :class:`Explained`: the two files paired by the
  rewriter's line map, with rule codes and diagnostics per line.
* :func:`explain_page` -> one self-contained offline HTML page (``torch2flax explain -o``).
* ``terminal.print_two_columns`` -> the same, as two columns on a terminal (``torch2flax explain``).
* ``catalogue_page.write_catalogue`` -> the rule catalogue as a searchable page (``rules --html``).
* ``plots.training_plot_svg`` / ``plots.layer_profile_svg`` -> matplotlib plots as inline SVG.
"""

from translator.explain.mapping import Explained, explain_file, explain_source
from translator.explain.page import explain_page, write_page

__all__ = ["Explained", "explain_file", "explain_page", "explain_source", "write_page"]
