"""Settings are declared once (issue 25): ``infercheck run``'s options, the plugin's options and ini keys, the
configuration file's keys and compare's per-target options all come from ``_settings``."""

from __future__ import annotations

import re

from infercheck import _compare, _config, _settings
from infercheck.cli import run as run_command

from .support import infercheck


def test_every_option_of_run_is_a_setting_of_the_table_and_reads_its_environment():
    options = {p.name: p for p in run_command.params}
    declared = {s.param or s.name: s for s in _settings.where(_settings.RUN)}
    assert set(options) == set(declared) | {"keyword", "verbose", "exitfirst", "config"}
    for name, setting in declared.items():
        assert options[name].opts == [setting.flag]
        assert list(options[name].envvar) == list(setting.envvars)
        assert options[name].help == setting.help


def test_the_plugin_offers_every_plugin_setting_and_its_environment(pytester):
    result = pytester.runpytest_inprocess("--help")  # the plugin loads by its entry point (pytest11)
    text = re.sub(r"\s+", " ", result.stdout.str())
    for setting in _settings.where(_settings.PLUGIN):
        assert f"--infercheck-{setting.flag[2:]}" in text
        assert f"infercheck_{setting.name} " in text  # the ini key
        assert f"env: {', '.join(setting.envvars)}" in text
    assert "--infercheck-junit" not in text  # pytest writes JUnit by its own option


def test_the_file_and_the_targets_take_the_keys_the_table_allows_them():
    assert list(_config.RUN_KEYS) == [s.name for s in _settings.where(_settings.FILE)]
    assert list(_config.TARGET_KEYS) == [s.name for s in _settings.where(_settings.TARGET)]
    assert "fault" not in _config.RUN_KEYS and "seed" not in _config.TARGET_KEYS


def test_compare_passes_each_target_setting_as_its_option_and_the_key_by_the_environment(monkeypatch, tmp_path):
    values = {"base_url": "http://10.0.0.9/v1", "api": "openai", "task": None, "load_wait": 3, "api_key": "sk-t-12345678",
              "model": "m", "concurrency": 2, "timeout": 9, "max_body": "1MiB", "max_events": 50, "max_retries": 1,
              "breaker": 2, "ca_bundle": "ca.pem", "insecure": True, "profile": "vllm", "max_requests": 40,
              "max_tokens": 500, "max_examples": 4, "fault": ["a", "b"]}
    assert set(values) == {s.name for s in _settings.where(_settings.TARGET)}
    monkeypatch.setenv("HF_TOKEN", "hf-elsewhere")
    args, env = _compare.command(_compare.Target("t", values), tmp_path / "t.json", 5)
    for setting in _settings.where(_settings.TARGET):
        value = values[setting.name]
        if setting.name == "api_key":
            assert setting.flag not in args and env["INFERCHECK_API_KEY"] == value
        elif value is None:
            assert setting.flag not in args
        elif setting.kind is _settings.BOOLEAN:
            assert setting.flag in args
        elif setting.kind is _settings.STRINGS:
            assert args.count(setting.flag) == 2 and args[args.index(setting.flag) + 1] == "a"
        else:
            assert args[args.index(setting.flag) + 1] == str(value)
    assert not {"HF_TOKEN", "OPENAI_API_KEY"} & set(env)  # every key variable the table lists is kept out


def test_a_setting_is_read_the_same_way_by_every_front_end(tmp_path):
    """`--concurrency` reads INFERCHECK_CONCURRENCY as every other option does (it did not, before the table), and a
    bad value is one clear line and exit 2, from the command and from the file alike."""
    proc = infercheck("run", env={"INFERCHECK_CONCURRENCY": "0"})
    assert proc.returncode == 2 and "--concurrency" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "infercheck.toml").write_text("concurrency = 0\n")
    proc = infercheck("--config", str(tmp_path / "infercheck.toml"), "run")
    assert proc.returncode == 2 and "concurrency: expected a positive integer, not 0" in proc.stderr
    assert _settings.SETTINGS["concurrency"].parse("3") == 3
    for text, says in (("0", "must be positive"), ("x", "must be a number")):
        try:
            _settings.SETTINGS["concurrency"].parse(text)
        except ValueError as exc:
            assert says in str(exc)
        else:
            raise AssertionError(f"{text!r} was read as a concurrency")
