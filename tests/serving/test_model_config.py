"""ModelServerConfig files, read and written with TF Serving's protos."""

import pathlib

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tfgnn_gfm.serving.model_config import (
  ModelConfig,
  ModelConfigError,
  ModelServerConfig,
  VersionPolicy,
  load_model_server_config,
  model_server_config_text,
  parse_model_server_config,
  single_model_config,
)

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
    # Syntax, unknown and repeated fields: protobuf's parser, with position.
    ("model_config_list { config { name: 'a' base_path: '/a' }",
     '<config>:1:56: Expected "}".'),
    ("model_config_list {\n config {\n  nme: 'a'\n }\n}",
     '<config>:3:3: Message type "tensorflow.serving.ModelConfig" has no '
     'field named "nme".'),
    ("model_config_list {\n config { name: a base_path: '/a' }\n}",
     "<config>:2:17: "),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_version_policy { specific { versions: 'x' } } } }",
     "Couldn't parse integer: 'x'"),
    ("model_config_list { config { name: 'a' name: 'b' base_path: '/a' } }",
     'should not have multiple "name" fields'),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_version_policy { latest {} all {} } } }",
     'Field "all" is specified along with field "latest"'),
    ("model_config_list { config { name: 'a' base_path: '/a' } } $",
     "<config>:1:60: "),
    # What gfm serve does not serve: the file and the model.
    ("model_config_list {\n config { name: 'a' base_path: '/a' }\n"
     " config { name: 'a' base_path: '/b' }\n}",
     "<config>: Illegal to list model a multiple times in config list "
     "(configs 1 and 2)"),
    ("model_config_list { config { base_path: '/a' } }",
     "<config>: config 1: a config has no name"),
    ("model_config_list { config { name: 'a' } }",
     "<config>: model 'a': it has no base_path"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_platform: 'pytorch' } }",
     "<config>: model 'a': model_platform 'pytorch' is not supported"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_version_policy { specific { } } } }", "lists no versions"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_version_policy { specific { versions: -3 } } } }",
     "version -3 of the specific policy is negative"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "version_labels { key: 'bad label' value: 1 } } }",
     "<config>: model 'a': version label 'bad label' must be letters, "
     "digits and underscores"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "logging_config { } } }",
     "<config>: model 'a': field 'logging_config' is not supported"),
    ("model_config_list { config { name: 'a' base_path: '/a' "
     "model_type: TENSORFLOW } }", "field 'model_type'"),
    ("custom_model_config { }", "<config>: custom_model_config is not "
     "supported"),
    ("model_config_list { }", "<config>: model_config_list has no config"),
    ("", "<config>: no model_config_list"),
])
def test_errors_are_one_line_naming_the_file(text, message):
  with pytest.raises(ModelConfigError) as e:
    parse_model_server_config(text)
  assert message in str(e.value)
  assert "\n" not in str(e.value)


def test_files_relative_paths_and_single_model(tmp_path):
  path = tmp_path / "m.config"
  path.write_text("model_config_list { config { name: 'a' "
                  "base_path: 'models/a' } }")
  (model,) = load_model_server_config(path).models
  assert model.base_path == str(tmp_path / "models" / "a")
  with pytest.raises(ModelConfigError, match="cannot read model config"):
    load_model_server_config(tmp_path / "missing.config")
  path.write_text("model_config_list {\n config { nam: 'x' }\n}\n")
  with pytest.raises(ModelConfigError, match=f"^{path}:2:11: .*\"nam\""):
    load_model_server_config(path)
  (single,) = single_model_config("m", "rel/path").models
  assert single.name == "m" and pathlib.Path(single.base_path).is_absolute()


def test_written_config_is_tf_servings_text_proto_and_reads_back():
  config = ModelServerConfig((
      ModelConfig("a", "/m/a"),
      ModelConfig("b", "/m/b", version_policy=VersionPolicy("all"),
                  version_labels={"stable": 2, "canary": 3}),
      ModelConfig("c", "/m/c",
                  version_policy=VersionPolicy("specific", versions=(1, 4))),
      ModelConfig("d", "/m/d",
                  version_policy=VersionPolicy("latest", num_versions=3)),
  ))
  text = model_server_config_text(config)
  assert parse_model_server_config(text) == config
  # TF Serving's own message reads it, field by field.
  proto = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
  first, second, third, fourth = proto.model_config_list.config
  assert (first.name, first.base_path, first.model_platform) == (
      "a", "/m/a", "tensorflow")
  assert not first.HasField("model_version_policy")
  assert second.model_version_policy.WhichOneof("policy_choice") == "all"
  assert dict(second.version_labels) == {"stable": 2, "canary": 3}
  assert list(third.model_version_policy.specific.versions) == [1, 4]
  assert fourth.model_version_policy.latest.num_versions == 3
