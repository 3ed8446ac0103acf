"""Training rules: ``torch.optim`` optimizers, ``torch.optim.lr_scheduler`` schedulers and gradient
clipping, translated to optax with torch's exact semantics.

They translate constructor calls of training scripts, not layers or calls in ``forward``: the script
translator (``translator.training``) calls them through ``translator.training.optim``. Their cases are
:class:`~translator.rules.training._common.OptimizerCase` / ``ScheduleCase`` (run by
``tests/training``), not :class:`~translator.rules.base.RuleCase`.
"""
