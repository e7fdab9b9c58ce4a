"""marshmallow schemas, one module per API surface."""
