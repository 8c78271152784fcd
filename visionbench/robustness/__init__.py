"""Robustness: adversarial attacks and common corruptions on any classifier, with honesty checks.

``options`` parses a robustness task's options into a :class:`~visionbench.robustness.options.Plan`;
``attacks`` runs FGSM / PGD (torchattacks), AutoAttack and Square (pyautoattack) on a model's
differentiable ``forward_pixels``; ``corruptions`` applies the ImageNet-C grid (imagecorruptions);
``engine`` drives a run chunk by chunk (resumable); ``summary`` turns the stored per-sample flags
into metrics, honesty flags and artifacts; ``grid`` runs the corruption grid on any task kind.
"""
