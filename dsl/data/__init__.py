"""The data syntaxes: YAML (`yaml_syntax`) and TOML (`toml_syntax`) over one document reader (`shared`)."""

TYPE_CLASS_KEY = "class"
"""The key that names the state or deps class in a YAML/TOML spec."""
