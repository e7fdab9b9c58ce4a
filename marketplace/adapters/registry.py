"""The registry of adapters this broker serves, and entry point discovery."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points

from marketplace.adapters.contract import AdapterPlugin, AddonAdapter

ENTRY_POINT_GROUP = "marketplace.adapters"


class AdapterRegistry:
    """The adapters this broker serves, keyed by add-on slug."""

    def __init__(self, adapters: Iterable[AddonAdapter] = ()) -> None:
        self._adapters: dict[str, AddonAdapter] = {}
        for adapter in adapters:
            self.add(adapter)

    def add(self, adapter: AddonAdapter) -> None:
        """Register ``adapter``; a second adapter for the same slug is a programming error."""
        slug = adapter.spec.slug
        if slug in self._adapters:
            raise ValueError(f"two adapters declare the add-on {slug!r}")
        self._adapters[slug] = adapter

    def get(self, slug: str) -> AddonAdapter | None:
        """Return the adapter for ``slug``, or None."""
        return self._adapters.get(slug)

    def __iter__(self) -> Iterator[AddonAdapter]:
        return iter(self._adapters.values())

    def __len__(self) -> int:
        return len(self._adapters)

    @property
    def slugs(self) -> list[str]:
        """Registered slugs, sorted."""
        return sorted(self._adapters)


def discover_adapter_factories(enabled: Iterable[str] | None = None) -> dict[str, AdapterPlugin]:
    """Load the :class:`AdapterPlugin` objects published under the ``marketplace.adapters``
    entry point group.

    :param enabled: entry point names to keep; None keeps all.
    :raises TypeError: an entry point does not name an :class:`AdapterPlugin`.
    """
    wanted = set(enabled) if enabled is not None else None
    found: dict[str, AdapterPlugin] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if wanted is None or ep.name in wanted:
            plugin = ep.load()
            if not isinstance(plugin, AdapterPlugin):
                raise TypeError(f"entry point {ep.name!r} does not name an AdapterPlugin")
            found[ep.name] = plugin
    return found
