"""Reading a Prometheus scrape in tests: sums of the samples that match a name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One ``GET /metrics`` body, parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            sample
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def has(self, name: str, **labels: str) -> bool:
        """Whether a sample called ``name`` with ``labels`` is present."""
        return any(
            s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
            for s in self.samples
        )

    def moved(self, before: Scrape, name: str, **labels: str) -> float:
        """How much ``name`` grew since ``before``."""
        return self.value(name, **labels) - before.value(name, **labels)


def scrape(client, **headers: str) -> Scrape:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return Scrape(response.get_data(as_text=True))
