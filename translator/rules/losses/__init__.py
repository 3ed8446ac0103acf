"""Loss rules: loss modules (``nn.CrossEntropyLoss``, ``nn.BCEWithLogitsLoss``, ...) and the functional losses
that had no rule yet, with PyTorch's exact reductions (issue 17, losses).  The functional
cross-entropy and regression losses live in ``tensor_ops`` (T051, T050); their modules here share
their code."""
