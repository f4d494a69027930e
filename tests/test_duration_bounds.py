"""Every duration of the config has an upper bound, so none can overflow a date later: the
values that passed ``check`` and then stopped every refresh are refused with key and line."""

from __future__ import annotations

import typing
from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from attacks import attack
from budget_exporter.config.loader import parse_config
from budget_exporter.config.schema import Config, SloConfig
from budget_exporter.model.errors import ConfigError
from budget_exporter.model.fields import is_wait_setting
from budget_exporter.providers.registry import COST_PROVIDERS, INCIDENT_PROVIDERS

BASE = "providers:\n  costs: {type: csv, paths: [costs.csv]%s}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yml")
    return [str(problem) for problem in caught.value.problems]


@attack(
    "config files",
    "durations beyond their bounds (refresh_interval: 8000y and others)",
    "refused with key and line",
    found=9,
)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refresh_interval: 8000y\n" + BASE % "", "c.yml:1: refresh_interval: must be at most"),
        ("refresh_interval: 32d\n" + BASE % "", "c.yml:1: refresh_interval: must be at most 31d"),
        (
            "evaluation_interval: 2d\n" + BASE % "",
            "c.yml:1: evaluation_interval: must be at most 1d",
        ),
        (BASE % ", max_data_age: 3661d", "providers.costs.max_data_age: must be at most 3660d"),
        (BASE % ", settlement_lag: 100y", "providers.costs.settlement_lag: must be at most 3660d"),
        (
            "providers:\n  oc: {type: opencost, timeout: 2h}\n",
            "c.yml:2: providers.oc.timeout: must be at most 1h",
        ),
    ],
    ids=[
        "the refresh interval that stopped every refresh",
        "a refresh interval over a month",
        "an evaluation interval over a day",
        "a provider's data age over ten years",
        "a settlement lag of a century",
        "a request timeout of two hours",
    ],
)
def test_a_duration_beyond_its_bound_is_refused_with_key_and_line(text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in line for line in found), found


def test_the_longest_allowed_durations_are_accepted() -> None:
    config = parse_config(
        "refresh_interval: 31d\nevaluation_interval: 1d\n"
        + BASE % ", max_data_age: 3660d, settlement_lag: 3660d"
    )
    assert config.refresh_interval == timedelta(days=31)


def _duration_fields(model: type[BaseModel]) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        arguments = typing.get_args(annotation)
        if annotation is timedelta or timedelta in arguments or "timedelta" in str(annotation):
            names.append(name)
    return names


MODELS = [Config, SloConfig] + [
    provider.config_model for provider in (*COST_PROVIDERS.values(), *INCIDENT_PROVIDERS.values())
]


@attack("config files", "3661d in every duration setting of every provider", "refused", found=9)
@pytest.mark.parametrize("model", MODELS, ids=[model.__name__ for model in MODELS])
def test_every_duration_setting_of_every_model_has_an_upper_bound(model: type[BaseModel]) -> None:
    fields = _duration_fields(model)
    assert fields or model is not Config
    too_long = "3661d"
    for name in fields:
        with pytest.raises(ValidationError) as caught:
            value: object = (
                [too_long] if "tuple" in str(model.model_fields[name].annotation) else too_long
            )
            model.model_validate({name: value})
        errors = [e for e in caught.value.errors() if e["loc"][:1] == (name,)]
        assert errors, f"{model.__name__}.{name} accepts {too_long}"
        if is_wait_setting(name):
            with pytest.raises(ValidationError) as caught:
                model.model_validate({name: "61m"})
            assert [e for e in caught.value.errors() if e["loc"][:1] == (name,)], name
