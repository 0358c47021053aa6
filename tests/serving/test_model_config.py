"""The ModelServerConfig text-proto parser: its subset and strict errors."""

import pathlib

import pytest

from tfgnn_gfm.serving.model_config import (ModelConfigError, VersionPolicy,
                                            load_model_server_config,
                                            parse_model_server_config,
                                            single_model_config)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_documented_example_with_policies_and_labels():
  config = parse_model_server_config("""
      # TF Serving's serving_config.md example, plus variations.
      model_config_list {
        config {
          name: 'my_first_model'
          base_path: '/tmp/my_first_model/'
          model_platform: 'tensorflow'
          model_version_policy {
            specific {
              versions: 42
              versions: 43
            }
          }
          version_labels {
            key: 'stable'
            value: 42
          }
          version_labels { key: "canary", value: 43 }
        }
        config: {
          name: "second" base_path: "/m/" "second"; model_platform: "tensorflow"
          model_version_policy: { latest: { num_versions: 2 } }
        }
        config < name: "third" base_path: "/m/third"
                 model_version_policy { all {} } >
      }
  """)
  first, second, third = config.models
  assert first.name == "my_first_model"
  assert first.base_path == "/tmp/my_first_model/"
  assert first.version_policy == VersionPolicy("specific", versions=(42, 43))
  assert dict(first.version_labels) == {"stable": 42, "canary": 43}
  assert second.base_path == "/m/second"
  assert second.version_policy == VersionPolicy("latest", num_versions=2)
  assert third.version_policy.kind == "all"
  assert config.model("third") is third and config.model("x") is None


def test_version_policy_selection():
  available = {1, 2, 5, 9}
  assert VersionPolicy().select(available) == {9}
  assert VersionPolicy("latest", num_versions=2).select(available) == {5, 9}
  assert VersionPolicy("all").select(available) == available
  assert VersionPolicy("specific", versions=(2, 3)).select(available) == {2}


def test_repository_serving_config_parses():
  config = parse_model_server_config(
      (ROOT / "serving" / "models.config").read_text())
  assert [m.name for m in config.models] == [
      "gfm_retrieval", "gfm_retrieval_bf", "gfm_user_tower"]
  assert all(m.base_path == f"/models/{m.name}" for m in config.models)


@pytest.mark.parametrize("text, message", [
    ("model_config_list { config { name: 'a' base_path: '/a' }",
     "<config>:1: missing '}' to close the ModelConfigList"),
    ("model_config_list {\n config {\n  nme: 'a'\n }\n}",
     "<config>:3: unknown field 'nme' in ModelConfig"),
    ("model_config_list {\n config { name: a base_path: '/a' }\n}",
     "<config>:2: field 'name' needs a quoted string"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_version_policy { specific { versions: 'x' } } } }",
     "field 'versions' needs an integer"),
    ("model_config_list { config { name: 'a' name: 'b' base_path: '/a' } }",
     "field 'name' of ModelConfig given twice"),
    ("model_config_list {\n config { name: 'a' base_path: '/a' }\n"
     " config { name: 'a' base_path: '/b' }\n}",
     "<config>:3: Illegal to list model a multiple times in config list"),
    ("model_config_list { config { base_path: '/a' } }", "has no name"),
    ("model_config_list { config { name: 'a' } }", "'a' has no base_path"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_platform: 'pytorch' } }", "model_platform 'pytorch' is not"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_version_policy { latest {} all {} } } }", "choose one"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "version_labels { key: 'bad label' value: 1 } } }",
     "letters, digits and underscores"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "logging_config { } } }", "'logging_config' of ModelConfig is not "
     "supported"),
    ("custom_model_config { }", "is not supported"),
    ("model_config_list { }", "model_config_list has no config"),
    ("", "no model_config_list"),
    ("model_config_list { config { name: 'a' base_path: '/a' } } $",
     "<config>:1: unexpected text '$'"),
])
def test_errors_name_the_line(text, message):
  with pytest.raises(ModelConfigError) as e:
    parse_model_server_config(text)
  assert message in str(e.value)


def test_files_relative_paths_and_single_model(tmp_path):
  path = tmp_path / "m.config"
  path.write_text("model_config_list { config { name: 'a' "
                  "base_path: 'models/a' } }")
  (model,) = load_model_server_config(path).models
  assert model.base_path == str(tmp_path / "models" / "a")
  with pytest.raises(ModelConfigError, match="cannot read model config"):
    load_model_server_config(tmp_path / "missing.config")
  (single,) = single_model_config("m", "rel/path").models
  assert single.name == "m" and pathlib.Path(single.base_path).is_absolute()
