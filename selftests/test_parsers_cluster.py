"""Parsers of Helm's JSON: a release's values as `--set` paths, the repository list."""

import pytest

from fixtures.node import parsers as p

VALUES_JSON = """{"udev": {"configuration": {"enabled": true, "name": "akri-udev-video",
"discoveryDetails": {"udevRules": ["KERNEL==\\"video[0-9]*\\""]}}}}"""


def test_helm_values_as_set_paths() -> None:
    assert p.helm_values(VALUES_JSON) == {
        "udev.configuration.enabled": True,
        "udev.configuration.name": "akri-udev-video",
        "udev.configuration.discoveryDetails.udevRules[0]": 'KERNEL=="video[0-9]*"',
    }
    assert p.helm_values("null\n") == {}


def test_helm_repos() -> None:
    text = '[{"name": "akri-helm-charts", "url": "https://project-akri.github.io/akri/"}]\n'
    assert p.helm_repos(text) == {"akri-helm-charts": "https://project-akri.github.io/akri/"}
    assert p.helm_repos("") == {}


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (p.helm_values, "Error: release: not found\n"),
        (p.helm_repos, "Error: no repositories to show\n"),
    ],
)
def test_malformed_helm_output_raises_parse_error(parser, text: str) -> None:
    with pytest.raises(p.ParseError):
        parser(text)
