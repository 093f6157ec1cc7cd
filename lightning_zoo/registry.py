"""The zoo's models and experiment cards, found by importing every module of every family package.

Nothing is listed by hand: a model file that defines a ``ZooModule`` subclass registers it under its ``model_name``,
and a module-level ``CARDS`` tuple adds its experiments.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

import lightning_zoo
from lightning_zoo.cards import Card


@cache
def family_modules() -> tuple[ModuleType, ...]:
    """Every module of every family package (``lightning_zoo/<family>/``), imported."""
    modules = []
    for package in pkgutil.iter_modules(lightning_zoo.__path__, "lightning_zoo."):
        if not package.ispkg:
            continue
        root = importlib.import_module(package.name)
        modules.append(root)
        for module in pkgutil.walk_packages(root.__path__, package.name + "."):
            modules.append(importlib.import_module(module.name))
    return tuple(modules)


def import_models() -> None:
    family_modules()


def cards() -> list[Card]:
    """Every experiment card: family by family (in the order the families' modules are found), then by name."""
    found: list[Card] = []
    for module in family_modules():
        found += list(module.__dict__.get("CARDS", ()))
    families = list(dict.fromkeys(card.family for card in found))
    found.sort(key=lambda c: (families.index(c.family), c.name))
    names = [card.name for card in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two cards share the name(s) {', '.join(duplicates)}")
    return found


def card(name: str) -> Card:
    for candidate in cards():
        if candidate.name == name:
            return candidate
    raise KeyError(f"no card named {name!r}; the zoo has {', '.join(c.name for c in cards())}")
