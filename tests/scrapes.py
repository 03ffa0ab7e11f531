"""Reading a Prometheus endpoint the way Prometheus does: the text it serves, and one sample."""

import urllib.request


def scrape(port: int) -> str:
    """What GET /metrics on 127.0.0.1:`port` serves."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        return str(response.read().decode())


def sample(scraped: str, name: str, label: str = "") -> float | None:
    """The value of the first sample of metric `name` whose labels hold `label` (e.g.
    'projection="member_stages"'); None if there is none."""
    for line in scraped.splitlines():
        if line.startswith((name + "{", name + " ")) and label in line:
            return float(line.rsplit(" ", 1)[1])
    return None
