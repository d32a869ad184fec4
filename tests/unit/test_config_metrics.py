"""``[metrics] listen``: read, checked with one-line errors, in the template and the summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from plotman_tui.config import ConfigError, parse_config, render_template, summarize
from plotman_tui.config.schema import ListenAddress, parse_listen

SOURCE = Path("/etc/plotman-tui/plotman.toml")
BASE = '[logging]\nplots = "/l"\n[directories]\ntmp = ["/t"]\n[plotting]\ntype = "chia"\n'


def read(metrics: str) -> object:
    return parse_config(BASE + "[metrics]\n" + metrics, SOURCE, check_dirs=False).metrics


def problem(metrics: str) -> str:
    with pytest.raises(ConfigError) as caught:
        read(metrics)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_metrics_are_off_unless_listen_is_set() -> None:
    config = parse_config(BASE, SOURCE, check_dirs=False)
    assert config.metrics.listen is None and config.metrics.address is None
    assert "metrics:   not served" in summarize(config)


@pytest.mark.parametrize(
    ("written", "host", "port", "shown"),
    [
        ("9750", "127.0.0.1", 9750, "127.0.0.1:9750"),
        ("127.0.0.1:9750", "127.0.0.1", 9750, "127.0.0.1:9750"),
        (" 0.0.0.0:80 ", "0.0.0.0", 80, "0.0.0.0:80"),
        ("farm-01.lan:65535", "farm-01.lan", 65535, "farm-01.lan:65535"),
        ("bücher.lan:9750", "bücher.lan", 9750, "bücher.lan:9750"),
        ("[fe80::1%eth0]:9750", "fe80::1%eth0", 9750, "[fe80::1%eth0]:9750"),
        ("[::1]:9750", "::1", 9750, "[::1]:9750"),
    ],
)
def test_listen_forms(written: str, host: str, port: int, shown: str) -> None:
    metrics = read(f'listen = "{written}"')
    assert metrics.address == ListenAddress(host, port)  # type: ignore[attr-defined]
    assert metrics.listen == shown  # type: ignore[attr-defined]
    config = parse_config(BASE + f'[metrics]\nlisten = "{written}"\n', SOURCE, check_dirs=False)
    assert f"served on http://{shown}/metrics" in summarize(config)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ('listen = "0"', "the port must be a number from 1 to 65535"),
        ('listen = "65536"', "the port must be a number from 1 to 65535"),
        ('listen = "127.0.0.1:"', "the port must be a number from 1 to 65535"),
        ('listen = "127.0.0.1:http"', "the port must be a number from 1 to 65535"),
        ('listen = ":9750"', "not a host name or address"),
        ('listen = "a b:9750"', "not a host name or address"),
        ('listen = "farm..lan:9750"', "not a host name or address"),
        ('listen = "farm\\u0000:9750"', "not a host name or address"),
        ('listen = "[::1]"', "the port must be a number from 1 to 65535"),
        ('listen = "::1:9750"', "write an IPv6 address in brackets"),
        ('listen = ""', "must not be empty"),
        ("listen = 9750", 'expected a "[HOST:]PORT" string'),
        ('listn = "9750"', 'unknown key (did you mean "listen"?)'),
    ],
)
def test_bad_listen_is_one_line_naming_the_key_and_line(written: str, said: str) -> None:
    message = problem(written + "\n")
    assert said in message
    assert message.startswith(f"{SOURCE}:8: metrics.")


def test_parse_listen_refuses_what_a_socket_could_not_bind_or_prometheus_find() -> None:
    for text in ("", "x:0", "1:2:3", "[::1]9750", "host:99999999", "h\n:1"):
        with pytest.raises(ValueError):
            parse_listen(text)


def test_template_has_the_metrics_table_commented_out_and_it_loads() -> None:
    text = render_template()
    assert "[metrics]\n# Serve http://HOST:PORT/metrics" in text
    assert '# listen = "127.0.0.1:9750"' in text
    # Archiving's long commented target examples stay at the end.
    assert text.index("[metrics]") < text.index("[archiving]")
    active = text.replace('# listen = "127.0.0.1:9750"', 'listen = "127.0.0.1:9750"')
    config = parse_config(active, SOURCE, check_dirs=False)
    assert config.metrics.address == ListenAddress("127.0.0.1", 9750)
    assert render_template({"metrics.listen": "9100"}).count('\nlisten = "9100"\n') == 1
